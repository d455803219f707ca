"""The ACD core's inputs: frozen, typed events, each with the time it happened (``at``).

Every input is appended to the event log before the core handles it, so a fresh core fed the same
log reaches the same state and issues the same commands. Nothing here reads a clock: the edge
(AMI, FastAGI, HTTP, the timer wheel) stamps each event once.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum
from typing import Any

from acd.routing.model import AgentConfig, QueueConfig


class FailCause(str, Enum):
    """Why an agent leg did not reach the caller. Only a real ring-no-answer or a busy phone is
    the agent's fault (issue #12: a PBX shutdown answers ``Reason: 0``)."""

    NO_ANSWER = "no answer"  # OriginateResponse Reason 3
    BUSY = "busy"  # Reason 5
    CONGESTION = "congestion"  # Reason 8
    HUNG_UP = "hung up"  # Reason 1: the leg was hung up before it was answered
    PBX = "pbx failure"  # Reason 0: no channel at all (shutdown, no such endpoint)
    ORIGINATE_ERROR = "originate refused"  # the AMI action itself failed
    LINK_LOST = "lost in reconnect"  # the AMI link dropped; the re-sync found no leg
    NOT_RESERVED = "busy on another node"  # the shared reservation (fenced) said no

    @property
    def agents_fault(self) -> bool:
        return self in (FailCause.NO_ANSWER, FailCause.BUSY)

    @classmethod
    def from_originate_reason(cls, reason: str) -> FailCause:
        return {"3": cls.NO_ANSWER, "5": cls.BUSY, "8": cls.CONGESTION, "1": cls.HUNG_UP}.get(reason, cls.PBX)


@dataclass(frozen=True)
class AcdInput:
    at: float


@dataclass(frozen=True)
class ConfigApplied(AcdInput):
    """Queues and agents as configured now: added ones appear, changed ones change in place
    (waiting calls keep their place), removed agents are logged out once free."""

    queues: tuple[QueueConfig, ...] = ()
    agents: tuple[AgentConfig, ...] = ()
    rona_recover_s: float = 30.0
    id_prefix: str = "acd"  # offer ids are ``{prefix}-{n}``: unique per log, deterministic in replay


@dataclass(frozen=True)
class AgentLogin(AcdInput):
    agent_id: str
    ready: bool = True
    by: str | None = None


@dataclass(frozen=True)
class AgentLogout(AcdInput):
    agent_id: str
    by: str | None = None
    forced: bool = False


@dataclass(frozen=True)
class AgentReady(AcdInput):
    agent_id: str
    by: str | None = None


@dataclass(frozen=True)
class AgentNotReady(AcdInput):
    """A pause with a reason. ``after_call``: an agent on a call or in wrap-up goes not ready
    when it ends instead of ready (a supervisor's "not ready after this call")."""

    agent_id: str
    reason: str
    by: str | None = None
    after_call: bool = False


@dataclass(frozen=True)
class CallQueued(AcdInput):
    """A caller joins a queue. ``enqueued_at`` is when the caller first joined: a resumed caller
    (its node died, ``[acd-fallback]`` brought it back) keeps its original place."""

    call_id: str
    queue: str
    caller_channel: str
    enqueued_at: float
    priority: int = 0
    caller_number: str = ""
    skills: tuple[tuple[str, int], ...] = ()
    preferred_skills: tuple[tuple[str, int], ...] = ()
    language: str | None = None
    preferred_agent: str | None = None
    sticky_s: float = 0.0
    customer_id: str | None = None
    verification: str = "none"
    locked: bool = False
    vip: bool = False
    attributes: tuple[tuple[str, str | int | float | bool], ...] = ()
    node: str = ""  # the engine node holding the caller's FastAGI session
    resumed: bool = False  # back from [acd-fallback]: offered once already, not counted again


@dataclass(frozen=True)
class CallerLeft(AcdInput):
    """The caller is gone from the queue: hung up (``abandoned``, from AMI HangupRequest or the
    FastAGI session), or its session broke (``engine_error``)."""

    call_id: str
    reason: str = "abandoned"


@dataclass(frozen=True)
class CallbackAsked(AcdInput):
    call_id: str
    number: str


@dataclass(frozen=True)
class CallbackBooked(AcdInput):
    """A call-back nobody is waiting on the line for (a follow-up task fell due): it joins the
    queue as a callback, reserved for ``preferred_agent`` for ``sticky_s``; the agent's leg rings
    first, then the customer's number, as for a caller who asked for a callback."""

    call_id: str
    queue: str
    number: str
    preferred_agent: str | None = None
    sticky_s: float = 0.0
    customer_id: str | None = None
    priority: int = 0
    task_id: str | None = None


@dataclass(frozen=True)
class LegRinging(AcdInput):
    offer_id: str


@dataclass(frozen=True)
class ClaimAsked(AcdInput):
    """The answered agent leg asks whether it may bridge the caller (FastAGI ``claim``)."""

    offer_id: str
    node: str = ""


@dataclass(frozen=True)
class CallerBridged(AcdInput):
    """The caller entered the bridge (its BridgeEnter); for a callback, the agent leg's."""

    call_id: str
    channel: str = ""
    offer_id: str | None = None


@dataclass(frozen=True)
class OfferFailed(AcdInput):
    offer_id: str
    cause: FailCause = FailCause.NO_ANSWER


@dataclass(frozen=True)
class LegHungUp(AcdInput):
    """An agent leg hung up before the bridge (for a callback: the customer never answered)."""

    offer_id: str


@dataclass(frozen=True)
class CallHungUp(AcdInput):
    """A connected call ended. ``last_seen`` is the last time the call was seen alive when the
    end was only noticed later (the PBX died): talk time stops there, not at the re-sync."""

    call_id: str
    by: str | None = None
    last_seen: float | None = None
    pbx_lost: bool = False


@dataclass(frozen=True)
class HoldChanged(AcdInput):
    call_id: str
    on_hold: bool


@dataclass(frozen=True)
class WrapUpFinished(AcdInput):
    agent_id: str
    disposition: str | None = None
    notes: str | None = None
    ready: bool = True


@dataclass(frozen=True)
class WrapUpExtended(AcdInput):
    agent_id: str
    seconds: float


@dataclass(frozen=True)
class DeviceStateChanged(AcdInput):
    endpoint: str
    state: str
    resync: bool = False  # from DeviceStateList: busy phones pause too


@dataclass(frozen=True)
class TimerFired(AcdInput):
    timer_id: str


@dataclass(frozen=True)
class AgentBridged(AcdInput):
    """Re-sync: Asterisk shows this agent in a bridge with ``call_id`` (its leg's ACD_CALLER)."""

    agent_id: str
    call_id: str
    caller_channel: str = ""


@dataclass(frozen=True)
class ChannelsPresent(AcdInput):
    """Re-sync: the uniqueids Asterisk has now. Offers, connected calls and waiting callers
    that are not there are repaired; ``last_seen`` maps a call to the last time it was seen."""

    uniqueids: frozenset[str] = frozenset()
    last_seen: tuple[tuple[str, float], ...] = ()
    grace_s: float = 1.0  # an offer younger than this may not have a channel yet
    # the offers and calls the core held when the listing was asked for: only they are judged (an
    # offer made while the listing was in flight, e.g. for an input queued during an outage and
    # stamped then, has no channel in it yet). None: all (entries written before this field).
    known: frozenset[str] | None = None


@dataclass(frozen=True)
class EngineStopping(AcdInput):
    """A clean stop: ringing legs are cancelled and every agent is logged out."""


INPUT_TYPES: tuple[type[AcdInput], ...] = (
    ConfigApplied, AgentLogin, AgentLogout, AgentReady, AgentNotReady, CallQueued, CallerLeft,
    CallbackAsked, CallbackBooked, LegRinging, ClaimAsked, CallerBridged, OfferFailed, LegHungUp, CallHungUp,
    HoldChanged, WrapUpFinished, WrapUpExtended, DeviceStateChanged, TimerFired, AgentBridged,
    ChannelsPresent, EngineStopping,
)


# ---------------------------------------------------------------------- the log's form
_BY_NAME: dict[str, type[AcdInput]] = {cls.__name__: cls for cls in INPUT_TYPES}


def encode(event: AcdInput) -> dict[str, object]:
    """An input as JSON data for the event log: ``{"type": ClassName, ...fields}``."""
    import dataclasses

    out: dict[str, object] = {"type": type(event).__name__}
    for f in dataclasses.fields(event):
        value = getattr(event, f.name)
        if isinstance(value, FailCause):
            value = value.value
        elif isinstance(value, frozenset):
            value = sorted(value)
        elif f.name in ("queues", "agents"):
            value = [dataclasses.asdict(v) for v in value]
        out[f.name] = value
    return out


def decode(data: dict[str, object]) -> AcdInput:
    """Back from the log. A record of no known type is a ``ValueError`` naming it."""
    from acd.routing.snapshot import _agent_config, _queue

    fields = dict(data)
    name = fields.pop("type", None)
    cls = _BY_NAME.get(str(name))
    if cls is None:
        raise ValueError(f"event log: unknown input type {name!r}")
    if "cause" in fields:
        fields["cause"] = FailCause(fields["cause"])
    if cls is ChannelsPresent:
        fields["uniqueids"] = frozenset(_array(fields, "uniqueids"))
        if fields.get("known") is not None:
            fields["known"] = frozenset(_array(fields, "known"))
        fields["last_seen"] = tuple(tuple(x) for x in _array(fields, "last_seen"))
    if cls is ConfigApplied:
        fields["queues"] = tuple(_queue(q) for q in _array(fields, "queues"))
        fields["agents"] = tuple(_agent_config(a) for a in _array(fields, "agents"))
    for key in ("skills", "preferred_skills", "attributes"):
        if key in fields:
            fields[key] = tuple(tuple(x) for x in _array(fields, key))
    return cls(**fields)  # type: ignore[arg-type]  # the fields encode() wrote, each checked by the dataclass


def _array(fields: dict[str, object], key: str) -> Iterable[Any]:
    """A field the log holds as a JSON array (absent: empty); its items are checked by the
    constructor they go to."""
    value = fields.get(key, ())
    if not isinstance(value, Iterable):
        raise TypeError(f"event log: {key} is {type(value).__name__}, not an array")
    return value
