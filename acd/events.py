"""The one vocabulary of the call's record: a frozen, typed dataclass per event kind.

Every producer (the routing core, the FastAGI entry, the flow interpreter, the service, the HTTP
edge) builds one of these; every consumer (the durable spool, the store's fold, the queue feed,
the IVR metrics, the record observer, the reports) matches on the type. The kind string lives
here only, as each class's ``kind``: it is what the spool and the store keep beside the data.

``to_record()`` gives the data dict the spool and the store have always kept (so old spool files
and database rows still read back through ``from_record()``/``parse()``); the time is not part of
the event, the recorder stamps it. Adding a kind is one class with ``@register``.

Pure: no I/O, no clock. Secrets never go in here: a verification event carries the method, the
level reached and the outcome, never what the caller typed.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar
from collections.abc import Mapping

E = TypeVar("E", bound="CallEvent")


class UnknownEventKind(ValueError):
    """A record kind no class is registered for."""

    def __init__(self, kind: str) -> None:
        super().__init__(f"record event: unknown kind {kind!r}")
        self.kind = kind


@dataclass(frozen=True)
class CallEvent:
    """One event on a call's (or an agent's) record."""

    kind: ClassVar[str] = ""
    #: field name -> the key it has in the record (a key that is not a Python name: ``from``)
    keys: ClassVar[Mapping[str, str]] = {}
    #: fields left out of the record while they hold their default (the shape kept until now)
    omit_if_default: ClassVar[frozenset[str]] = frozenset()

    def to_record(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name in self.omit_if_default and value == _default_of(f):
                continue
            out[self.keys.get(f.name, f.name)] = value
        return out

    @classmethod
    def from_record(cls: type[E], data: Mapping[str, Any]) -> E:
        """Back from the spool or the store; missing keys take their defaults, unknown keys
        (written by a newer or older engine) are ignored."""
        values: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            key = cls.keys.get(f.name, f.name)
            if key in data:
                values[f.name] = data[key]
        return cls(**values)


def _default_of(f: dataclasses.Field[Any]) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return dataclasses.MISSING


REGISTRY: dict[str, type[CallEvent]] = {}


def register(cls: type[E]) -> type[E]:
    """Make a kind known to ``parse``; a kind registered twice is a programming error."""
    if not cls.kind:
        raise TypeError(f"{cls.__name__} has no kind")
    existing = REGISTRY.get(cls.kind)
    if existing is not None and existing is not cls:
        raise TypeError(f"kind {cls.kind!r} is already {existing.__name__}")
    REGISTRY[cls.kind] = cls
    return cls


@dataclass(frozen=True)
class Unrecognised(CallEvent):
    """A stored event of a kind this engine does not know (an older or newer engine wrote it):
    kept as it was, ignored by the fold."""

    name: str = ""
    data: Mapping[str, Any] = field(default_factory=dict)

    def to_record(self) -> dict[str, Any]:
        return dict(self.data)


def parse(kind: str, data: Mapping[str, Any], *, strict: bool = True) -> CallEvent:
    """The typed event for a stored ``kind`` and data dict (extra keys such as ``t`` ignored)."""
    cls = REGISTRY.get(kind)
    if cls is None:
        if strict:
            raise UnknownEventKind(kind)
        return Unrecognised(name=kind, data={k: v for k, v in data.items() if k not in ("kind", "t")})
    return cls.from_record(data)


def from_timeline(entry: Mapping[str, Any]) -> CallEvent:
    """A timeline entry (``{"t", "kind", **data}``, as the call log and the store give it) as
    its typed event; an unknown kind comes back as ``Unrecognised``."""
    return parse(str(entry.get("kind")), entry, strict=False)


def kind_of(event: CallEvent) -> str:
    return event.name if isinstance(event, Unrecognised) else event.kind


# ---------------------------------------------------------------------- the call and its IVR
@register
@dataclass(frozen=True)
class CallStarted(CallEvent):
    kind = "call_start"
    ani: str | None = None
    dnis: str | None = None
    channel: str | None = None
    uniqueid: str | None = None
    linkedid: str | None = None


@register
@dataclass(frozen=True)
class IvrEnded(CallEvent):
    """The caller's FastAGI session ended (a connected call goes on)."""

    kind = "ivr_end"
    omit_if_default = frozenset({"resumed"})
    outcome: str = ""
    resumed: bool = False


@register
@dataclass(frozen=True)
class Resumed(CallEvent):
    """``[acd-fallback]`` brought the caller back to the engine."""

    kind = "resumed"
    channel: str | None = None


@dataclass(frozen=True)
class _FlowStartFields(CallEvent):
    flow: str = ""
    version: str = ""
    caller: str | None = None
    dnis: str | None = None
    at: float | None = None


@dataclass(frozen=True)
class _FlowStepFields(CallEvent):
    omit_if_default = frozenset({"inputs", "error"})
    flow: str = ""
    version: str = ""
    step: str = ""
    action: str = ""
    outcome: str = ""
    started_at: float | None = None
    duration_ms: int = 0
    inputs: Mapping[str, Any] | None = None  # already masked
    error: str | None = None


@dataclass(frozen=True)
class _FlowEndFields(CallEvent):
    flow: str = ""
    version: str = ""
    outcome: str = ""
    steps: int = 0
    last_step: str | None = None
    failed: bool = False
    verification: str = "none"
    customer_id: str | None = None
    at: float | None = None


@dataclass(frozen=True)
class _FlowFailureFields(CallEvent):
    flow: str = ""
    step: str | None = None
    reason: str = ""
    fallback_queue: str | None = None


@dataclass(frozen=True)
class _FallbackFailedFields(CallEvent):
    error: str = ""


@register
@dataclass(frozen=True)
class FlowStarted(_FlowStartFields):
    kind = "flow_start"


@register
@dataclass(frozen=True)
class FlowStep(_FlowStepFields):
    kind = "flow_step"


@register
@dataclass(frozen=True)
class FlowEnded(_FlowEndFields):
    kind = "flow_end"


@register
@dataclass(frozen=True)
class FlowFailure(_FlowFailureFields):
    """A flow step failed: the caller goes to the fallback queue."""

    kind = "flow_failure"


@register
@dataclass(frozen=True)
class FlowFallbackFailed(_FallbackFailedFields):
    kind = "flow_fallback_failed"


# The post-call survey runs a flow too; its events are the same shape under ``survey_*`` kinds
# (not the call's IVR path: the fold leaves them out of it).
@register
@dataclass(frozen=True)
class SurveyStarted(_FlowStartFields):
    kind = "survey_start"


@register
@dataclass(frozen=True)
class SurveyStep(_FlowStepFields):
    kind = "survey_step"


@register
@dataclass(frozen=True)
class SurveyEnded(_FlowEndFields):
    kind = "survey_end"


@register
@dataclass(frozen=True)
class SurveyFailure(_FlowFailureFields):
    kind = "survey_failure"


@register
@dataclass(frozen=True)
class SurveyFallbackFailed(_FallbackFailedFields):
    kind = "survey_fallback_failed"


#: a flow event -> its survey twin
SURVEY_TWINS: Mapping[type[CallEvent], type[CallEvent]] = {
    FlowStarted: SurveyStarted, FlowStep: SurveyStep, FlowEnded: SurveyEnded, FlowFailure: SurveyFailure,
    FlowFallbackFailed: SurveyFallbackFailed,
}


def as_survey_event(event: CallEvent) -> CallEvent:
    """The survey flow's own event for a flow event (others unchanged)."""
    twin = SURVEY_TWINS.get(type(event))
    return event if twin is None else twin.from_record(event.to_record())


@register
@dataclass(frozen=True)
class SurveyAnswered(CallEvent):
    """The post-call survey's answers, by question (a menu step's name: ``csat``, ``resolved``)."""

    kind = "survey"
    omit_if_default = frozenset({"version", "agent", "customer_id", "queue", "reason"})
    flow: str | None = None
    version: str | None = None
    answers: Mapping[str, int | str] = field(default_factory=dict)
    completed: bool = False
    agent: str | None = None
    customer_id: str | None = None
    queue: str | None = None
    reason: str | None = None


@register
@dataclass(frozen=True)
class KnowledgeShown(CallEvent):
    """Knowledge cards shown on the screen-pop for the first time: each card's id and version."""

    kind = "knowledge_shown"
    cards: list[Mapping[str, Any]] = field(default_factory=list)


@register
@dataclass(frozen=True)
class FlowRunnerFailed(CallEvent):
    """The flow runner itself raised (the IVR entry queues the caller to the fallback queue)."""

    kind = "flow_failed"
    error: str = ""


@register
@dataclass(frozen=True)
class Identified(CallEvent):
    kind = "identified"
    customer_id: str | None = None
    method: str | None = None


@register
@dataclass(frozen=True)
class Verification(CallEvent):
    """A verify step finished: the method (``pin``, ``dob``, ...), the level the caller holds
    now and the outcome (``passed``, ``failed``, ``locked``, ``caller_hangup``, ...). Never the
    secret itself."""

    kind = "verification"
    method: str | None = None
    level: str = "none"
    outcome: str = ""
    attempts: int = 0
    customer_id: str | None = None

    @classmethod
    def from_record(cls, data: Mapping[str, Any]) -> Verification:
        event = super().from_record(data)
        if not event.outcome and data.get("result"):  # the key once planned for it
            event = dataclasses.replace(event, outcome=str(data["result"]))
        return event


@register
@dataclass(frozen=True)
class Linked(CallEvent):
    """A user linked the call to a customer (the desk's customer panel)."""

    kind = "linked"
    customer_id: str | None = None
    by: str | None = None


@register
@dataclass(frozen=True)
class CallbackRequested(CallEvent):
    kind = "callback_requested"
    omit_if_default = frozenset({"callback_id", "customer_id", "note", "in_queue"})
    queue: str | None = None
    number: str | None = None
    callback_id: str | None = None
    customer_id: str | None = None
    note: str | None = None
    in_queue: bool = False


@register
@dataclass(frozen=True)
class RecordingStarted(CallEvent):
    kind = "recording"
    file: str | None = None


@register
@dataclass(frozen=True)
class CallClosed(CallEvent):
    """The engine closed a call it could not end cleanly: it lost the caller's session (crash,
    kill, restart: ``engine_lost_call``), or the PBX went away (``pbx_lost``), or it stopped.
    ``fallback``: the AMI events showed ``[acd-fallback]`` took the caller on."""

    kind = "call_closed"
    outcome: str = ""
    reason: str = ""
    fallback: bool = False
    last_seen: float | None = None


# ---------------------------------------------------------------------- the queue
@register
@dataclass(frozen=True)
class QueueEntered(CallEvent):
    kind = "queue_enter"
    queue: str = ""
    priority: int = 0
    customer_id: str | None = None
    verification: str = "none"
    locked: bool = False
    skills: Mapping[str, int] = field(default_factory=dict)
    preferred_skills: Mapping[str, int] = field(default_factory=dict)
    language: str | None = None
    enqueued_at: float | None = None
    resumed: bool = False
    position: Any = None  # the event log's position, when there is one


@register
@dataclass(frozen=True)
class QueueResumed(CallEvent):
    kind = "queue_resumed"
    queue: str = ""
    node: str = ""


@register
@dataclass(frozen=True)
class QueueRefused(CallEvent):
    kind = "queue_refused"
    omit_if_default = frozenset({"task_id"})
    queue: str = ""
    reason: str = ""
    task_id: str | None = None


@register
@dataclass(frozen=True)
class CallbackBooked(CallEvent):
    """An outbound call-back for a follow-up task (``acd.tasks``) waits in its queue."""

    kind = "callback_booked"
    queue: str = ""
    number: str | None = None
    task_id: str | None = None
    preferred_agent: str | None = None
    customer_id: str | None = None
    enqueued_at: float | None = None


@register
@dataclass(frozen=True)
class Overflowed(CallEvent):
    kind = "overflow"
    keys = {"from_queue": "from", "to_queue": "to"}
    from_queue: str = ""
    to_queue: str | None = None
    reason: str = ""


@register
@dataclass(frozen=True)
class QueueExited(CallEvent):
    kind = "queue_exit"
    omit_if_default = frozenset({"attempts"})
    queue: str = ""
    reason: str = ""
    waited_s: float = 0.0
    service_level_s: float | None = None
    short_abandon_s: float | None = None
    attempts: int | None = None


@register
@dataclass(frozen=True)
class RoutingDecision(CallEvent):
    kind = "routing_decision"
    agent: str = ""
    offer: str = ""
    queue: str = ""
    waited_s: float = 0.0
    candidates: int = 0
    strategy: str = ""
    filters: Mapping[str, Any] = field(default_factory=dict)
    scores: list[Mapping[str, Any]] = field(default_factory=list)


# ---------------------------------------------------------------------- offers and the call
@register
@dataclass(frozen=True)
class OfferRang(CallEvent):
    """The agent leg's Originate was accepted: the agent's phone rings."""

    kind = "offer"
    agent: str = ""
    offer: str = ""
    ring_timeout_s: float | None = None


@register
@dataclass(frozen=True)
class OfferCancelled(CallEvent):
    kind = "offer_cancelled"
    agent: str = ""
    offer: str = ""
    reason: str = ""


@register
@dataclass(frozen=True)
class OfferFailed(CallEvent):
    kind = "offer_failed"
    agent: str = ""
    offer: str = ""
    reason: str = ""
    agent_at_fault: bool = False


@register
@dataclass(frozen=True)
class CallbackAttempt(CallEvent):
    kind = "callback_attempt"
    agent: str = ""
    result: str = ""
    attempt: int = 0


@register
@dataclass(frozen=True)
class Connected(CallEvent):
    kind = "connected"
    agent: str = ""
    queue: str | None = None
    waited_s: float | None = None
    service_level_s: float | None = None
    callback: bool = False


@register
@dataclass(frozen=True)
class Adopted(CallEvent):
    """Re-sync: a connected call the engine did not know of is taken on."""

    kind = "adopted"
    agent: str = ""
    channel: str = ""


@register
@dataclass(frozen=True)
class Held(CallEvent):
    kind = "hold"
    seconds: float = 0.0


@register
@dataclass(frozen=True)
class Ended(CallEvent):
    """A connected call ended. ``pbx_lost``: the PBX went away; talk time stopped at the last
    time the call was seen alive."""

    kind = "ended"
    omit_if_default = frozenset({"ended_at"})
    agent: str = ""
    talk_s: float | None = None
    hold_s: float = 0.0
    by: str | None = None
    pbx_lost: bool = False
    ended_at: float | None = None  # when the call really ended, if noticed later (the PBX died)


@register
@dataclass(frozen=True)
class WrapUpExtended(CallEvent):
    kind = "wrapup_extended"
    agent: str = ""
    seconds: float = 0.0


@register
@dataclass(frozen=True)
class WrapUpDone(CallEvent):
    kind = "wrapup_done"
    agent: str = ""
    disposition: str | None = None
    notes: str | None = None
    wrapup_s: float = 0.0
    queue: str | None = None
    talk_s: float = 0.0
    hold_s: float = 0.0


# ---------------------------------------------------------------------- agents (timeline ``agent:<id>``)
@register
@dataclass(frozen=True)
class AgentStateChanged(CallEvent):
    kind = "agent_state"
    agent: str = ""
    state: str = ""
    old: str = ""
    reason: str | None = None
    spent_s: float = 0.0
    since: float = 0.0
    by: str | None = None
    forced: bool = False
    forced_by: str | None = None


@register
@dataclass(frozen=True)
class NotReadyAfterCall(CallEvent):
    kind = "not_ready_after_call"
    agent: str = ""
    reason: str = ""
    by: str | None = None
    forced: bool = False
    forced_by: str | None = None


@register
@dataclass(frozen=True)
class Supervised(CallEvent):
    """A supervisor listened to, whispered to or barged into the agent's side of the call."""

    kind = "supervised"
    mode: str = ""
    by: str = ""
    agent: str = ""
    spy_leg: str = ""


#: kinds after which a call (or its part) is over: the spool fsyncs soon after
CLOSING: tuple[type[CallEvent], ...] = (IvrEnded, Ended, WrapUpDone, FlowEnded, CallClosed)
