"""Ports the flow interpreter needs beyond ``acd.ports``: the call's context, the queue hand-off,
HTTP, callback requests and recording control. Adapters implement them; tests use in-memory ones
(``acd.flows.memory``) or a real local HTTP server."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Protocol
from collections.abc import Mapping

from acd.ports import WITHHELD_IDS, QueueRequest


@dataclass(frozen=True)
class CallContext:
    """Who is calling what: the facts a flow reads as ``call.*``."""

    call_id: str
    caller: str | None  # E.164 or dialled form; None when withheld
    dnis: str | None = None
    channel: str = ""
    language: str | None = None

    @property
    def withheld(self) -> bool:
        return self.caller is None or self.caller.strip().lower() in WITHHELD_IDS

    @classmethod
    def from_agi(cls, env: Any) -> CallContext:
        """From an ``acd.agi.codec.AgiEnvironment``."""
        caller = env.callerid or None
        return cls(
            call_id=env.uniqueid, caller=None if caller and caller.lower() in WITHHELD_IDS else caller,
            dnis=env.dnis or None, channel=env.channel, language=env.get("language") or None,
        )


# --------------------------------------------------------------------------- queue
class QueueOutcome(str, Enum):
    ANSWERED = "answered"  # connected to an agent: the flow ends
    ABANDONED = "abandoned"  # the caller hung up while waiting: the flow ends
    OVERFLOW = "overflow"  # the queue gave the call back (nobody could take it, wait limit)
    CALLBACK = "callback"  # the caller asked for a callback while waiting
    TIMEOUT = "timeout"  # the longest wait passed


class QueuePort(Protocol):
    async def enqueue(self, call: CallContext, request: QueueRequest) -> QueueOutcome | str:
        """Put the call in the ACD; returns when the call leaves the queue."""
        ...


# --------------------------------------------------------------------------- HTTP
@dataclass(frozen=True)
class HttpRequest:
    method: str
    url: str
    headers: Mapping[str, str] = field(default_factory=dict)
    json: Any = None
    body: str | None = None
    timeout_s: float = 3.0


@dataclass(frozen=True)
class HttpResponse:
    status: int
    body: bytes
    content_type: str = ""


class HttpPortError(Exception):
    """The request did not get a response: connection refused, timeout, bad URL."""


class HttpPort(Protocol):
    async def request(self, request: HttpRequest) -> HttpResponse:
        """Raises ``HttpPortError`` when no response came back in ``request.timeout_s``."""
        ...


# --------------------------------------------------------------------------- callbacks
@dataclass(frozen=True)
class CallbackRequest:
    call_id: str
    number: str
    queue: str
    requested_at: float
    customer_id: str | None = None
    language: str | None = None
    note: str = ""


class CallbackPort(Protocol):
    async def request_callback(self, request: CallbackRequest) -> str:
        """Stores the request; returns its id."""
        ...


# --------------------------------------------------------------------------- follow-up tasks
@dataclass(frozen=True)
class TaskRequest:
    """A flow's ``task:`` step, rendered: the port checks it against config/tasks.yaml."""

    call_id: str
    flow: str
    step: str
    type: str
    customer_id: str | None = None
    title: str | None = None
    queue: str | None = None
    agent: str | None = None
    due: str | None = None
    priority: str | None = None
    note: str | None = None
    number: str | None = None


class TaskRefused(Exception):
    """The port refused the task (unknown type, queue or agent; bad due time); the step's
    outcome is ``failed`` and the reason is on the record."""


class TaskPort(Protocol):
    async def create_task(self, request: TaskRequest) -> str:
        """Stores the task; returns its id (``TaskRefused`` if the request is not acceptable)."""
        ...


# --------------------------------------------------------------------------- recording
class RecordingControl(Protocol):
    """Pause/resume the call recording of one call (e.g. MixMonitor mute) while a secret is typed,
    so PIN tones never reach a recording."""

    async def mute(self) -> None: ...

    async def unmute(self) -> None: ...
