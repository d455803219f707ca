"""Tasks as typed values and their life as a transition table (pure: no I/O, no clock).

A task belongs to a customer (or none yet), is owned by an agent or a queue, has a type from
``config/tasks.yaml``, a due time, a priority and a status. What may happen to it in each status
is ``TRANSITIONS``; anything else is an ``IllegalTaskChange``."""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass
from typing import Any
from collections.abc import Mapping


class Status(enum.StrEnum):
    OPEN = "open"
    DONE = "done"
    CANCELLED = "cancelled"


class Priority(enum.IntEnum):
    LOW = 1
    NORMAL = 2
    HIGH = 3
    URGENT = 4

    @classmethod
    def named(cls, name: str) -> Priority:
        return cls[name.upper()]

    @property
    def label(self) -> str:
        return self.name.lower()


PRIORITIES = tuple(p.label for p in Priority)
OWNER_KINDS = ("agent", "queue")
SOURCES = ("api", "wrapup", "flow")


class Change(enum.StrEnum):
    COMPLETE = "complete"
    CANCEL = "cancel"
    REOPEN = "reopen"
    REASSIGN = "reassign"
    RESCHEDULE = "reschedule"
    ESCALATE = "escalate"
    CALLBACK_BOOKED = "callback_booked"


TRANSITIONS: dict[tuple[Status, Change], Status] = {
    (Status.OPEN, Change.COMPLETE): Status.DONE,
    (Status.OPEN, Change.CANCEL): Status.CANCELLED,
    (Status.OPEN, Change.REASSIGN): Status.OPEN,
    (Status.OPEN, Change.RESCHEDULE): Status.OPEN,
    (Status.OPEN, Change.ESCALATE): Status.OPEN,
    (Status.OPEN, Change.CALLBACK_BOOKED): Status.OPEN,
    (Status.DONE, Change.REOPEN): Status.OPEN,
    (Status.CANCELLED, Change.REOPEN): Status.OPEN,
}


class IllegalTaskChange(Exception):
    def __init__(self, status: Status, change: Change) -> None:
        super().__init__(f"a task that is {status.value} cannot {change.value.replace('_', ' ')}")
        self.status, self.change = status, change


def next_status(status: Status, change: Change) -> Status:
    try:
        return TRANSITIONS[(status, change)]
    except KeyError:
        raise IllegalTaskChange(status, change) from None


class InvalidTask(ValueError):
    """A task the edge refuses; ``field`` names the field (for the API's 422 and the forms)."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(f"{field_name}: {message}")
        self.field = field_name


@dataclass(frozen=True)
class Owner:
    kind: str  # agent | queue
    id: str

    def __str__(self) -> str:
        return f"{self.kind}:{self.id}"


@dataclass(frozen=True)
class TaskInput:
    """A new task as checked at the edge."""

    type: str
    title: str
    owner: Owner
    due_at: float
    priority: Priority = Priority.NORMAL
    customer_id: str | None = None
    call_id: str | None = None
    notes: str | None = None
    callback_number: str | None = None

    @classmethod
    def parse(cls, body: Mapping[str, Any], *, now: float, types: Mapping[str, Any], agents: frozenset[str],
              queues: frozenset[str], default_owner: Owner | None = None) -> TaskInput:
        """``types``: the configured task types (``TaskType`` by name), for the default due time."""
        kind = body.get("type")
        if not isinstance(kind, str) or kind not in types:
            raise InvalidTask("type", f"one of {', '.join(types) or '(no types in config/tasks.yaml)'}")
        title = _text(body, "title", 200) or types[kind].label
        owner = parse_owner(body, agents=agents, queues=queues, default=default_owner)
        due = parse_time(body.get("due"), "due", now=now) if body.get("due") not in (None, "") else now + types[kind].due_s
        priority = parse_priority(body.get("priority"), types[kind].priority)
        number = _text(body, "callback_number", 40)
        if number is not None and not all(c.isdigit() or c in "+ -()" for c in number):
            raise InvalidTask("callback_number", "a phone number")
        return cls(type=kind, title=title, owner=owner, due_at=due, priority=priority, customer_id=_text(body, "customer_id", 36),
                   call_id=_text(body, "call_id", 64), notes=_text(body, "notes", 4000), callback_number=number)


def parse_owner(body: Mapping[str, Any], *, agents: frozenset[str], queues: frozenset[str], default: Owner | None) -> Owner:
    agent, queue = _text(body, "owner_agent", 64), _text(body, "owner_queue", 64)
    if agent and queue:
        raise InvalidTask("owner_agent", "give an agent or a queue, not both")
    if agent:
        if agent not in agents:
            raise InvalidTask("owner_agent", f"no agent {agent!r} in the configured agents")
        return Owner("agent", agent)
    if queue:
        if queue not in queues:
            raise InvalidTask("owner_queue", f"no queue {queue!r} in the configured queues")
        return Owner("queue", queue)
    if default is None:
        raise InvalidTask("owner_agent", "an owner is required: owner_agent or owner_queue")
    return default


def parse_priority(value: Any, default: Priority = Priority.NORMAL) -> Priority:
    if value in (None, ""):
        return default
    if isinstance(value, str) and value.lower() in PRIORITIES:
        return Priority.named(value)
    raise InvalidTask("priority", f"one of {', '.join(PRIORITIES)}")


def parse_time(value: Any, field_name: str, *, now: float) -> float:
    """An epoch time, an ISO 8601 date-time (UTC unless it says otherwise), or ``+<n>[mhd]``
    from now ("+2d": the day after tomorrow at this hour)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("+") and text[1:-1].replace(".", "", 1).isdigit() and text[-1] in UNITS:
            return now + float(text[1:-1]) * UNITS[text[-1]]
        try:
            parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            pass
        else:
            return (parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)).timestamp()
    raise InvalidTask(field_name, "an epoch time, an ISO 8601 date-time or +<n>m/h/d from now")


UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def _text(body: Mapping[str, Any], name: str, limit: int) -> str | None:
    value = body.get(name)
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise InvalidTask(name, "must be text")
    if len(value) > limit:
        raise InvalidTask(name, f"longer than {limit} characters")
    return value.strip() or None
