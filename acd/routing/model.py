"""Value objects of the ACD: agents, queues, call entries, offers."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum


class CallState(str, Enum):
    """A call's life in the ACD, from joining a queue to the end of its wrap-up."""

    QUEUED = "queued"
    OFFERED = "offered"  # an agent is reserved / ringing for it
    CALLBACK = "callback"  # the caller hung up to be called back; the place is kept
    CALLBACK_OFFERED = "callback_offered"
    CONNECTED = "connected"
    WRAP_UP = "wrap_up"
    ENDED = "ended"


class AgentState(str, Enum):
    LOGGED_OUT = "logged_out"
    READY = "ready"
    RESERVED = "reserved"  # chosen for a call, not yet ringing
    RINGING = "ringing"
    ON_CALL = "on_call"
    WRAP_UP = "wrap_up"
    NOT_READY = "not_ready"


@dataclass(frozen=True)
class RelaxStep:
    """After ``after_s`` seconds of waiting, accept agents with at least ``min_proficiency`` in
    the required skills, or (``team``) any agent of that team whatever their skills.
    Re-evaluated live at every routing pass, never frozen when the call joins."""

    after_s: float
    min_proficiency: int = 1
    team: str | None = None


@dataclass(frozen=True)
class QueueConfig:
    name: str
    skills: dict[str, int] = field(default_factory=dict)  # required skill -> minimum proficiency
    strategy: str = "longest_idle"  # longest_idle | most_skilled | round_robin
    service_level_s: float = 20.0
    service_level_goal: float = 0.8  # share of calls to answer within service_level_s
    short_abandon_s: float = 5.0  # abandons quicker than this are not held against the queue
    ring_timeout_s: float = 15.0
    wrapup_s: float = 10.0
    max_wait_s: float = 600.0
    max_length: int = 100
    moh_class: str = "default"
    moh_slice_s: float = 20.0
    announce_position: bool = True
    priority_aging_s: float = 60.0  # one priority level gained per this many seconds waited
    relax: tuple[RelaxStep, ...] = ()
    announce_ewt: bool = True
    default_handle_s: float = 180.0  # handle time assumed for EWT until calls have been measured
    survey: str | None = None  # a flow (ivr_flows/) the caller stays on the line for when the agent hangs up
    overflow_to: str | None = None  # another queue
    overflow_after_s: float | None = None  # move the call there after this long
    overflow_if_no_agents: bool = False  # ... or at once when no agent who could take it is logged in
    overflow_if_ewt_s: float | None = None  # ... or when the estimated wait passes this
    join_empty: bool = True  # False: a call does not join while nobody who could take it is logged in
    leave_when_empty: bool = False  # True: waiting calls leave when the last agent who could take them logs out
    sticky_s: float = 0.0  # hold a known customer's call for their last agent / account owner this long
    vip_priority: int = 5  # priority a VIP caller gets at least
    disposition_required: bool = False  # wrap-up ends only with a disposition, not when its time runs out
    callback_key: str | None = None  # offered between music slices: press it to hang up and be called back
    callback_after_s: float = 0.0  # ... once the caller has waited this long
    callback_retry_s: float = 120.0  # a callback the customer did not answer is tried again after this
    callback_attempts: int = 3  # ... at most this many times
    record: bool = True  # record connected calls (MixMonitor from the bridge on)


@dataclass(frozen=True)
class AgentConfig:
    id: str
    name: str
    endpoint: str  # e.g. PJSIP/agent1
    skills: dict[str, int] = field(default_factory=dict)
    languages: tuple[str, ...] = ("en",)
    team: str = "default"
    auto_ready: bool = False  # log in ready at start (demo and unattended desks)


@dataclass
class Agent:
    config: AgentConfig
    state: AgentState = AgentState.LOGGED_OUT
    state_since: float = 0.0
    reason: str | None = None
    idle_since: float = 0.0
    call_id: str | None = None
    offer_id: str | None = None
    time_in_state: dict[str, float] = field(default_factory=dict)
    calls_handled: int = 0

    @property
    def id(self) -> str:
        return self.config.id


@dataclass
class CallEntry:
    call_id: str  # the caller's Asterisk uniqueid
    queue: str
    caller_channel: str
    enqueued_at: float
    priority: int = 0
    caller_number: str = ""
    skills: dict[str, int] = field(default_factory=dict)  # extra requirements from the flow
    language: str | None = None
    offer_id: str | None = None  # set while an agent is reserved/ringing for it
    refused_by: set[str] = field(default_factory=set)  # agents that RONA'd on this call
    preferred_agent: str | None = None  # sticky routing: the customer's last agent or owner
    sticky_s: float = 0.0  # ... who alone may take the call for this long, if logged in
    announced_ewt_s: float | None = None
    preferred_skills: dict[str, int] = field(default_factory=dict)  # score higher, never filter
    customer_id: str | None = None  # for the screen-pop and the record
    verification: str = "none"  # none | identified | verified: travels to the agent's screen
    locked: bool = False  # verification locked in the IVR: the agent must check the caller
    vip: bool = False
    attributes: dict[str, object] = field(default_factory=dict)  # from the flow: reason, intent...
    callback_number: str | None = None  # the caller hung up for a callback: their place is kept
    callback_attempts: int = 0
    not_before: float = 0.0  # a callback the customer did not answer waits until then to be retried
    node: str = ""  # the engine node holding the caller's FastAGI session
    state: CallState = CallState.QUEUED
    resumed: bool = False  # back from [acd-fallback] with its original arrival time


@dataclass
class LiveCall:
    """A connected call, from the bridge to the end of its wrap-up (the screen-pop's data)."""

    entry: CallEntry
    agent_id: str
    offer_id: str
    answered_at: float
    channel: str = ""
    hold_since: float | None = None
    held_s: float = 0.0
    ended_at: float | None = None
    talk_s: float = 0.0
    wrapup_timer: str | None = None


@dataclass(frozen=True)
class Offer:
    offer_id: str  # also the agent leg's ChannelId
    call_id: str
    agent_id: str
    endpoint: str
    queue: str
    ring_timeout_s: float
    created_at: float


@dataclass(frozen=True)
class Decision:
    """A routing decision, kept with the call's record and explainable later."""

    call_id: str
    agent_id: str
    offer_id: str
    queue: str
    at: float
    waited_s: float
    candidates: int
    min_proficiency: int
    strategy: str
    required: dict[str, int] = field(default_factory=dict)  # skill -> minimum asked (before relaxation)
    relax_step: int | None = None  # index into the queue's relax steps in force, None = base rule
    language: str | None = None
    sticky_agent: str | None = None  # the agent the call was held for, if any
    preferred: dict[str, int] = field(default_factory=dict)
    scores: tuple[tuple[str, float], ...] = ()  # (agent, strategy score) of the best candidates, best first
