"""Task types and their escalation rules (``config/tasks.yaml``), and which escalations are due
for a task at a given time (pure).

```yaml
types:
  callback:
    label: Call back
    due: 1d            # default due time from creation
    priority: normal
    callback: true     # due: an outbound call through the ACD, the owning agent first
    escalation:
      - {overdue: 30m, to: priority, priority: high}
      - {overdue: 2h, to: supervisor}
      - {overdue: 1d, to: queue, queue: escalations}
```

The rules of a type apply in order, each once: a task remembers how many it has had
(``escalation_level``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from acd.settings import ConfigError
from acd.tasks.model import PRIORITIES, Owner, Priority, Status
from acd.yamlsrc import YamlError, load_yaml, where

TARGETS = ("supervisor", "queue", "priority")
TOP_KEYS = ("types", "check_every", "callback_hold", "callback_attempts", "callback_retry")
UNIT_S = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


@dataclass(frozen=True)
class EscalationRule:
    overdue_s: float
    to: str  # supervisor | queue | priority
    queue: str | None = None
    priority: Priority | None = None  # None with to=priority: one step up


@dataclass(frozen=True)
class TaskType:
    name: str
    label: str
    due_s: float = 86400.0
    priority: Priority = Priority.NORMAL
    callback: bool = False
    escalation: tuple[EscalationRule, ...] = ()


DEFAULT_TYPES = {
    "callback": TaskType("callback", "Call back", 86400.0, Priority.NORMAL, callback=True),
    "follow_up": TaskType("follow_up", "Follow up", 2 * 86400.0),
    "case": TaskType("case", "Case", 5 * 86400.0),
}


@dataclass(frozen=True)
class TaskState:
    """What escalation needs to know of a task."""

    status: Status
    type: str
    due_at: float
    priority: Priority
    owner: Owner
    escalation_level: int = 0


@dataclass(frozen=True)
class Escalation:
    """One rule applied: the task's new owner, priority and escalation flag."""

    level: int  # the task's escalation_level after this one
    rule: EscalationRule
    overdue_s: float
    owner: Owner
    priority: Priority
    to_supervisor: bool

    def describe(self) -> dict[str, Any]:
        return {"level": self.level, "to": self.rule.to, "overdue_s": round(self.overdue_s, 1),
                "owner": str(self.owner), "priority": self.priority.label, "supervisor": self.to_supervisor}


def escalations_due(task: TaskState, types: dict[str, TaskType], now: float) -> list[Escalation]:
    """The rules of the task's type not yet applied whose overdue time has passed, in order, each
    with the owner and priority it leaves the task with."""
    kind = types.get(task.type)
    if task.status is not Status.OPEN or kind is None or now <= task.due_at:
        return []
    overdue = now - task.due_at
    owner, priority, out = task.owner, task.priority, []
    supervisor = False
    for level, rule in enumerate(kind.escalation[task.escalation_level:], start=task.escalation_level + 1):
        if overdue < rule.overdue_s:
            break
        if rule.to == "queue" and rule.queue:
            owner = Owner("queue", rule.queue)
        elif rule.to == "priority":
            priority = rule.priority or Priority(min(priority + 1, Priority.URGENT))
        supervisor = supervisor or rule.to == "supervisor"
        out.append(Escalation(level, rule, overdue, owner, priority, supervisor))
    return out


# --------------------------------------------------------------------------- loading
def parse_duration(value: Any) -> float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0:
        return float(value)
    if isinstance(value, str) and len(value) > 1 and value[-1] in UNIT_S:
        try:
            number = float(value[:-1])
        except ValueError:
            return None
        return number * UNIT_S[value[-1]] if number >= 0 else None
    return None


@dataclass(frozen=True)
class TaskConfig:
    """``config/tasks.yaml``: the types, how often escalations and due call-backs are checked
    (``check_every``), and how long a due call-back waits for its owning agent alone before any
    agent of the queue may take it (``callback_hold``); a call-back whose call ended with nobody
    connected is booked again ``callback_retry`` later, at most ``callback_attempts`` calls in all,
    then marked exhausted and escalated to the supervisors (``acd.tasks.callbacks``)."""

    types: dict[str, TaskType] = field(default_factory=lambda: dict(DEFAULT_TYPES))
    check_every_s: float = 30.0
    callback_hold_s: float = 120.0
    callback_attempts: int = 3
    callback_retry_s: float = 3600.0


def load_task_types(path: Path, queues: frozenset[str]) -> dict[str, TaskType]:
    return load_task_config(path, queues).types


def load_task_config(path: Path, queues: frozenset[str]) -> TaskConfig:
    """The config in ``path`` (the defaults when it does not exist). Every problem is reported
    together, each with file, line and key (``ConfigError``)."""
    if not path.exists():
        return TaskConfig()
    try:
        doc = load_yaml(path)
    except YamlError as exc:
        raise ConfigError([str(exc)]) from None
    file = str(path)
    if not isinstance(doc, dict) or not isinstance(doc.get("types"), dict):
        raise ConfigError([f"{where(doc, 'types', file)}: types: required, a mapping of task types"])
    problems: list[str] = []
    for key in doc:
        if key not in TOP_KEYS:
            problems.append(f"{where(doc, key, file)}: {key}: unknown key ({', '.join(TOP_KEYS)})")
    every = parse_duration(doc.get("check_every", 30))
    if every is None or every < 1:
        problems.append(f"{where(doc, 'check_every', file)}: check_every: a duration of at least 1s")
    hold = parse_duration(doc.get("callback_hold", "2m"))
    if hold is None:
        problems.append(f"{where(doc, 'callback_hold', file)}: callback_hold: a duration such as 2m")
    attempts = doc.get("callback_attempts", 3)
    if not isinstance(attempts, int) or isinstance(attempts, bool) or not 1 <= attempts <= 20:
        problems.append(f"{where(doc, 'callback_attempts', file)}: callback_attempts: a whole number from 1 to 20")
    retry = parse_duration(doc.get("callback_retry", "1h"))
    if retry is None or retry < 60:
        problems.append(f"{where(doc, 'callback_retry', file)}: callback_retry: a duration of at least 1m, such as 1h")
    types = _types(doc, file, queues, problems)
    if problems:
        raise ConfigError(problems)
    return TaskConfig(types, float(every or 30.0), float(hold or 0.0), int(attempts), float(retry or 3600.0))


def _types(doc: dict[str, Any], file: str, queues: frozenset[str], problems: list[str]) -> dict[str, TaskType]:
    out: dict[str, TaskType] = {}
    for name, node in doc["types"].items():
        at = f"types.{name}"
        if not isinstance(node, dict):
            problems.append(f"{where(doc['types'], name, file)}: {at}: expected a mapping")
            continue
        kind = _task_type(str(name), node, at, file, queues, problems)
        if kind is not None:
            out[str(name)] = kind
    return out


def _task_type(name: str, node: dict[str, Any], at: str, file: str, queues: frozenset[str], problems: list[str]) -> TaskType | None:
    before = len(problems)
    for key in node:
        if key not in ("label", "due", "priority", "callback", "escalation"):
            problems.append(f"{where(node, key, file)}: {at}.{key}: unknown key")
    due = parse_duration(node.get("due", "1d"))
    if due is None:
        problems.append(f"{where(node, 'due', file)}: {at}.due: a duration such as 30m, 4h, 2d")
    priority = _priority(node, "priority", at, file, problems) or Priority.NORMAL
    callback = node.get("callback", False)
    if not isinstance(callback, bool):
        problems.append(f"{where(node, 'callback', file)}: {at}.callback: true or false")
    rules = node.get("escalation", [])
    if not isinstance(rules, list):
        problems.append(f"{where(node, 'escalation', file)}: {at}.escalation: expected a list")
        rules = []
    escalation = [_rule(r, f"{at}.escalation[{i}]", file, queues, problems) for i, r in enumerate(rules)]
    steps = [r.overdue_s for r in escalation if r is not None]
    if steps != sorted(steps):
        problems.append(f"{where(node, 'escalation', file)}: {at}.escalation: the rules must be in order of overdue time")
    if len(problems) > before:
        return None
    label = node.get("label") or name.replace("_", " ").capitalize()
    return TaskType(name, str(label), float(due or 0.0), priority, bool(callback), tuple(r for r in escalation if r is not None))


def _priority(node: dict[str, Any], key: str, at: str, file: str, problems: list[str]) -> Priority | None:
    value = node.get(key)
    if value is None:
        return None
    if isinstance(value, str) and value.lower() in PRIORITIES:
        return Priority.named(value)
    problems.append(f"{where(node, key, file)}: {at}.{key}: one of {', '.join(PRIORITIES)}")
    return None


def _rule(node: Any, at: str, file: str, queues: frozenset[str], problems: list[str]) -> EscalationRule | None:
    if not isinstance(node, dict):
        problems.append(f"{where(node, default_file=file)}: {at}: expected a mapping")
        return None
    before = len(problems)
    for key in node:
        if key not in ("overdue", "to", "queue", "priority"):
            problems.append(f"{where(node, key, file)}: {at}.{key}: unknown key")
    overdue = parse_duration(node.get("overdue"))
    if overdue is None:
        problems.append(f"{where(node, 'overdue', file)}: {at}.overdue: required, a duration such as 30m, 4h, 2d")
    to = node.get("to")
    if to not in TARGETS:
        problems.append(f"{where(node, 'to', file)}: {at}.to: one of {', '.join(TARGETS)}")
    queue = node.get("queue")
    if to == "queue" and (not isinstance(queue, str) or queue not in queues):
        problems.append(f"{where(node, 'queue', file)}: {at}.queue: a queue from queues.yaml (got {queue!r})")
    priority = _priority(node, "priority", at, file, problems)
    if len(problems) > before:
        return None
    return EscalationRule(float(overdue or 0.0), str(to), queue if to == "queue" else None, priority)
