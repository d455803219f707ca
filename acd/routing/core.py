"""AcdCore: the ACD as one deterministic state machine, ``handle(event) -> list[Command]``.

Every input is a typed event (``acd.routing.inputs``) carrying its own time; the core reads no
clock and does no I/O. All ACD policy lives here: routing and reservation, RONA and its recovery,
overflow, max wait, join/leave when empty, callbacks with retries, wrap-up and its expiry,
device-state pauses, "not ready after this call", state repair after a re-sync, a clean stop.
A fresh core fed the same events reaches the same state (``acd.routing.snapshot``), which is
what the event log, the snapshots and a hot standby rely on.

Invariants (property tests): an agent holds at most one offer or call; a call has at most one
live offer; a call is never lost or duplicated; callers are served in priority, then arrival.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar, cast

from acd import events as rec
from acd.logs import get_logger
from acd.routing import inputs as ev
from acd.routing.commands import (
    AnswerClaim, CancelLeg, Command, ConfirmAgent, EndWait, Publish, Record, ReleaseAgent, Ring, StartRecording,
    StartTimer,
)
from acd.routing.errors import IllegalTransition, NotInWrapUp, QueueFull, UnknownAgent, UnknownQueue
from acd.routing.model import Agent, AgentConfig, AgentState, CallEntry, CallState, LiveCall, Offer, QueueConfig
from acd.routing.policy import CALL_TRANSITIONS, CallPolicy
from acd.routing.select import RoutingState

__all__ = ["AcdCore", "IllegalTransition", "NotInWrapUp", "QueueFull", "UnknownAgent", "UnknownQueue", "TRANSITIONS", "CALL_TRANSITIONS"]

log = get_logger(__name__)

S = AgentState
C = CallState
# Allowed transitions (h11 style: the table is the specification).
TRANSITIONS: dict[AgentState, set[AgentState]] = {
    S.LOGGED_OUT: {S.READY, S.NOT_READY},
    S.READY: {S.RESERVED, S.NOT_READY, S.LOGGED_OUT, S.ON_CALL},  # -> ON_CALL: only a re-sync adopting a call
    S.RESERVED: {S.RINGING, S.READY, S.NOT_READY, S.ON_CALL},
    S.RINGING: {S.ON_CALL, S.READY, S.NOT_READY},
    S.ON_CALL: {S.WRAP_UP},
    S.WRAP_UP: {S.READY, S.NOT_READY, S.LOGGED_OUT},
    S.NOT_READY: {S.READY, S.LOGGED_OUT, S.NOT_READY, S.ON_CALL},  # -> ON_CALL: only a re-sync adopting a call
}
# A ready agent's phone in these device states is not rung: not ready with this reason until the
# phone is NOT_INUSE again. Live, only unreachable pauses (INUSE follows every call for a moment).
DEVICE_PAUSES = {"UNAVAILABLE": "unreachable", "INVALID": "unreachable", "INUSE": "busy", "BUSY": "busy"}
# not-ready reasons the engine set by itself, lifted by a recovery timer (auto-ready desks)
RECOVERABLE = {ev.FailCause.NO_ANSWER.value, ev.FailCause.BUSY.value, ev.FailCause.NOT_RESERVED.value}


class AcdCore(CallPolicy, RoutingState):
    def __init__(
        self, queues: tuple[QueueConfig, ...] | list[QueueConfig] = (), agents: tuple[AgentConfig, ...] | list[AgentConfig] = (),
        *, id_prefix: str = "acd", rona_recover_s: float = 30.0, now: float = 0.0,
    ) -> None:
        RoutingState.__init__(self)
        self.now = now
        self.id_prefix = id_prefix
        self.rona_recover_s = rona_recover_s
        self.seq = 0  # ids of offers and timers: deterministic, so a replay issues the same ones
        self.live: dict[str, LiveCall] = {}  # connected and wrapping-up calls, by call id
        self.wrapups: dict[str, str] = {}  # agent id -> the call it wraps up
        self.after_call: dict[str, str] = {}  # agent id -> not-ready reason once its call is done
        self.after_call_by: dict[str, str] = {}  # agent id -> the supervisor who forced that pause
        self.timers: dict[str, float] = {}  # timer id -> when it fires
        self.claimed: set[str] = set()  # offers whose leg won the claim
        self.dues: list[tuple[float, str, str]] = []  # (when, call id, what): the waiting calls' deadlines
        self._out: list[Command] = []
        self._apply_config(tuple(queues), tuple(agents))

    # ------------------------------------------------------------------ the one entry point
    def handle(self, event: ev.AcdInput) -> list[Command]:
        """Apply one event; return what must be done. An event the state refuses (a stale API
        request, a duplicate from a replay) changes nothing and says so in the log."""
        self._out = []
        self.now = max(self.now, event.at)
        handler = self._HANDLERS[type(event)]
        try:
            handler(self, event)
        except (IllegalTransition, UnknownAgent, UnknownQueue, NotInWrapUp) as exc:
            log.event("acd.input.refused", input=type(event).__name__, reason=str(exc))
        self._route()
        self._arm_due_timer()
        out, self._out = self._out, []
        return out

    def validate(self, event: ev.AcdInput) -> None:
        """Raise the domain error an API request would meet, without changing anything, so the
        HTTP edge can answer 404/409 before the event goes into the log."""
        check = self._CHECKS.get(type(event))
        if check is not None:
            check(self, event)

    def next_id(self, kind: str) -> str:
        self.seq += 1
        return f"{self.id_prefix}-{kind}{self.seq}"

    def _emit(self, command: Command) -> None:
        self._out.append(command)

    def _record(self, call_id: str, event: rec.CallEvent) -> None:
        self._out.append(Record(call_id, event, self.now))

    def _start_timer(self, kind: str, ref: str, at: float) -> str:
        timer_id = f"{kind}:{ref}:{self.next_id('t')}"
        self.timers[timer_id] = at
        self._emit(StartTimer(timer_id, at))
        return timer_id

    # ------------------------------------------------------------------ config (live)
    def _apply_config(self, queues: tuple[QueueConfig, ...], agents: tuple[AgentConfig, ...]) -> None:
        for q in queues:
            old = self.queues.get(q.name)
            self.queues[q.name] = q
            self.waiting.setdefault(q.name, [])
            if old is not None and old.priority_aging_s != q.priority_aging_s:
                self.waiting[q.name].sort(key=self._order_key)
        for cfg in agents:
            agent = self.agents.get(cfg.id)
            if agent is None:
                self.agents[cfg.id] = Agent(cfg, state_since=self.now, idle_since=self.now)
            else:
                agent.config = cfg
        for agent in self.agents.values():  # a new queue or skill may change what anyone serves
            self._index_agent(agent.config)

    def _on_config(self, e: ev.ConfigApplied) -> None:
        self.rona_recover_s = e.rona_recover_s
        self.id_prefix = e.id_prefix
        self._apply_config(e.queues, e.agents)
        log.event("acd.config.applied", queues=len(e.queues), agents=len(e.agents))

    # ------------------------------------------------------------------ agents
    def agent(self, agent_id: str) -> Agent:
        try:
            return self.agents[agent_id]
        except KeyError:
            raise UnknownAgent(agent_id) from None

    def _set_state(self, agent: Agent, new: AgentState, reason: str | None = None, *, by: str | None = None, forced: bool = False) -> None:
        old = agent.state
        if new not in TRANSITIONS[old]:
            raise IllegalTransition(agent.id, old, new)
        spent = self.now - agent.state_since
        agent.time_in_state[old.value] = agent.time_in_state.get(old.value, 0.0) + spent
        agent.state, agent.state_since, agent.reason = new, self.now, reason if new == S.NOT_READY else None
        if new == S.READY:
            self._ready.add(agent.id)
            agent.idle_since = self.now
        else:
            self._ready.discard(agent.id)
        log.event("acd.agent.state", agent=agent.id, old=old.value, new=new.value, reason=reason)
        self._record(f"agent:{agent.id}", rec.AgentStateChanged(agent=agent.id, state=new.value, old=old.value, reason=agent.reason,
                     spent_s=round(spent, 3), since=self.now, by=by, forced=forced,
                     forced_by=by if forced else None))

    def _check_login(self, e: ev.AgentLogin) -> None:
        agent = self.agent(e.agent_id)
        if agent.state != S.LOGGED_OUT:
            raise IllegalTransition(agent.id, agent.state, S.READY if e.ready else S.NOT_READY)

    def _on_login(self, e: ev.AgentLogin) -> None:
        self._check_login(e)
        self._set_state(self.agents[e.agent_id], S.READY if e.ready else S.NOT_READY, None if e.ready else "login", by=e.by)

    def _check_logout(self, e: ev.AgentLogout) -> None:
        agent = self.agent(e.agent_id)
        if S.LOGGED_OUT not in TRANSITIONS[agent.state]:
            raise IllegalTransition(agent.id, agent.state, S.LOGGED_OUT)

    def _on_logout(self, e: ev.AgentLogout) -> None:
        self._check_logout(e)
        agent = self.agents[e.agent_id]
        if agent.state == S.WRAP_UP:
            self._finish_wrapup(agent, None, None, then=S.LOGGED_OUT, by=e.by, forced=e.forced)
        else:
            self._set_state(agent, S.LOGGED_OUT, by=e.by, forced=e.forced)
        self.after_call.pop(agent.id, None)
        self.after_call_by.pop(agent.id, None)
        self._leave_when_empty()

    def _check_ready(self, e: ev.AgentReady) -> None:
        agent = self.agent(e.agent_id)
        if agent.state == S.WRAP_UP:
            raise NotInWrapUp(f"agent {agent.id} is in wrap-up: finish it with a disposition")
        if agent.state in (S.RESERVED, S.RINGING, S.ON_CALL, S.LOGGED_OUT):
            raise IllegalTransition(agent.id, agent.state, S.READY)

    def _on_ready(self, e: ev.AgentReady) -> None:
        self._check_ready(e)
        self._set_state(self.agents[e.agent_id], S.READY, by=e.by)

    def _check_not_ready(self, e: ev.AgentNotReady) -> None:
        agent = self.agent(e.agent_id)
        busy = agent.state in (S.ON_CALL, S.WRAP_UP)
        if agent.state == S.LOGGED_OUT or (busy and not e.after_call):
            raise IllegalTransition(agent.id, agent.state, S.NOT_READY)

    def _on_not_ready(self, e: ev.AgentNotReady) -> None:
        """A pause with a reason. A ringing offer is withdrawn and its leg cancelled (the call
        keeps its place); on a call, ``after_call`` pauses the agent once the call is done."""
        self._check_not_ready(e)
        agent = self.agents[e.agent_id]
        if agent.state in (S.ON_CALL, S.WRAP_UP):
            self.after_call[agent.id] = e.reason
            forced = e.by is not None and e.by != agent.id
            if e.by is not None and forced:
                self.after_call_by[agent.id] = e.by
            else:
                self.after_call_by.pop(agent.id, None)
            self._record(f"agent:{agent.id}", rec.NotReadyAfterCall(agent=agent.id, reason=e.reason, by=e.by,
                         forced=forced, forced_by=e.by if forced else None))
            return
        self._withdraw_offer(agent, "agent paused")
        self._set_state(agent, S.NOT_READY, e.reason, by=e.by, forced=e.by not in (None, agent.id))

    def _withdraw_offer(self, agent: Agent, why: str) -> None:
        if agent.offer_id is None or agent.state not in (S.RESERVED, S.RINGING):
            return
        offer = self.offers.pop(agent.offer_id, None)
        agent.offer_id = agent.call_id = None
        if offer is None:
            return
        entry = self.calls.get(offer.call_id)
        if entry is not None:
            entry.offer_id = None
            self._call_state(entry, C.CALLBACK if entry.callback_number else C.QUEUED)
        self._emit(CancelLeg(offer.offer_id, offer.agent_id, offer.call_id, why))
        self._record(offer.call_id, rec.OfferCancelled(agent=offer.agent_id, offer=offer.offer_id, reason=why))

    def _agent_free(self, agent: Agent, ref: str, *, ready: bool = True, reason: str | None = None, by: str | None = None) -> AgentState:
        """The agent's offer or call is over: ready, or not ready when a pause was asked for.
        Returns the agent's new state."""
        self._emit(ReleaseAgent(agent.id, ref))
        pause = self.after_call.pop(agent.id, None)
        forced_by = self.after_call_by.pop(agent.id, None)
        if pause is not None:  # asked for during the call: by a supervisor, it is a forced pause
            self._set_state(agent, S.NOT_READY, pause, by=forced_by or by, forced=forced_by is not None)
        elif ready:
            self._set_state(agent, S.READY, by=by)
        else:
            self._set_state(agent, S.NOT_READY, reason or "after wrap-up", by=by)
        return agent.state

    # ------------------------------------------------------------------ devices
    def _on_device(self, e: ev.DeviceStateChanged) -> None:
        """A phone that drops off takes its ready agent out of routing (at a re-sync, a busy
        phone too); when it is back (NOT_INUSE), an agent paused for it is ready again."""
        agent = next((a for a in self.agents.values() if a.config.endpoint == e.endpoint), None)
        if agent is None:
            return
        pause = DEVICE_PAUSES.get(e.state)
        if agent.state == S.READY and pause is not None and (e.resync or pause == "unreachable"):
            self._set_state(agent, S.NOT_READY, pause, by="device")
            self._emit(Publish("state_repair", {"kind": "device_" + pause, "agent_id": agent.id}))
        elif e.state == "NOT_INUSE" and agent.state == S.NOT_READY and agent.reason in DEVICE_PAUSES.values():
            self._set_state(agent, S.READY, by="device")

    # ------------------------------------------------------------------ routing
    def _route(self) -> None:
        """Pair waiting calls with ready agents. The chosen agent is reserved here, before any
        leg rings, so no agent is ever offered two calls."""
        while self._ready:
            made = 0
            for entry in self._candidate_calls(self.now):
                if not self._ready:
                    break
                if entry.offer_id is not None or entry.not_before > self.now:
                    continue
                q = self.queues[entry.queue]
                waited = self.now - entry.enqueued_at
                eligible, floor = self._eligible(entry, q, waited)
                if not eligible:
                    continue
                self._offer(entry, q, self._choose(q, eligible, entry), eligible, floor, waited)
                made += 1
            if not made:
                break

    def _offer(self, entry: CallEntry, q: QueueConfig, agent: Agent, eligible: list[Agent], floor: int, waited: float) -> None:
        offer = Offer(self.next_id("o"), entry.call_id, agent.id, agent.config.endpoint, q.name, q.ring_timeout_s, self.now)
        self.offers[offer.offer_id] = offer
        entry.offer_id = offer.offer_id
        self._call_state(entry, C.CALLBACK_OFFERED if entry.callback_number else C.OFFERED)
        agent.offer_id, agent.call_id = offer.offer_id, entry.call_id
        self._set_state(agent, S.RESERVED)
        sticky = self._sticky_holder(entry)
        log.event("acd.route.decision", call=entry.call_id, agent=agent.id, offer=offer.offer_id, queue=q.name, waited_s=round(waited, 3), candidates=len(eligible))
        self._record(entry.call_id, rec.RoutingDecision(
            agent=agent.id, offer=offer.offer_id, queue=q.name, waited_s=round(waited, 3), candidates=len(eligible), strategy=q.strategy,
            filters={"required": {**q.skills, **entry.skills}, "min_proficiency": floor, "relax_step": self._relax_step(q, waited),
                     "language": entry.language, "sticky_agent": sticky, "preferred": dict(entry.preferred_skills)},
            scores=[{"agent": a, "score": sc} for a, sc in self._scores(q, eligible, agent)]))
        self._emit(Ring(offer, entry.caller_number, entry.callback_number, entry.customer_id))

    def _on_ringing(self, e: ev.LegRinging) -> None:
        offer = self.offers.get(e.offer_id)
        if offer is not None and self.agents[offer.agent_id].state == S.RESERVED:
            self._set_state(self.agents[offer.agent_id], S.RINGING)

    def claim_would_win(self, offer_id: str) -> bool:
        offer = self.offers.get(offer_id)
        entry = self.calls.get(offer.call_id) if offer else None
        return entry is not None and entry.offer_id == offer_id and offer_id not in self.claimed and entry.call_id not in self.connected

    def _on_claim(self, e: ev.ClaimAsked) -> None:
        """The answered agent leg asks to bridge: exactly one leg per call gets it."""
        won = self.claim_would_win(e.offer_id)
        if won:
            self.claimed.add(e.offer_id)
        self._emit(AnswerClaim(e.offer_id, won, e.node))

    def _on_bridged(self, e: ev.CallerBridged) -> None:
        """The caller is in the bridge with the offered agent (for a callback, the agent leg
        entered it with the customer): talk and recording start."""
        offer = self.offers.get(e.offer_id) if e.offer_id else None
        entry = self.calls.get(offer.call_id if offer else e.call_id)
        if entry is None or entry.offer_id is None or (offer is not None and entry.offer_id != offer.offer_id):
            return
        self._connect(entry, e.channel)

    def _connect(self, entry: CallEntry, channel: str) -> None:
        offer = self.offers.pop(entry.offer_id or "")
        self.claimed.discard(offer.offer_id)
        agent = self.agents[offer.agent_id]
        self._drop_waiting(entry)
        self._call_state(entry, C.CONNECTED)
        self.connected[entry.call_id] = agent.id
        agent.call_id, agent.offer_id = entry.call_id, None
        self._set_state(agent, S.ON_CALL)
        self.live[entry.call_id] = LiveCall(entry, agent.id, offer.offer_id, self.now, channel)
        waited = self.now - entry.enqueued_at
        q = self.queues[entry.queue]
        self._emit(ConfirmAgent(agent.id, offer.offer_id, entry.call_id))
        self._record(entry.call_id, rec.Connected(agent=agent.id, queue=entry.queue, waited_s=round(waited, 3),
                                                 service_level_s=q.service_level_s, callback=bool(entry.callback_number)))
        if q.record:
            # a callback has no caller channel: record on the agent leg, which carries both sides
            self._emit(StartRecording(entry.call_id, channel or (offer.offer_id if entry.callback_number else entry.call_id)))
        if not entry.callback_number:
            self._emit(EndWait(entry.call_id, "answered", entry.node))

    def _on_offer_failed(self, e: ev.OfferFailed) -> None:
        """No answer, busy, or a failure that is not the agent's: the call keeps its place at the
        head; only a real no-answer or busy makes the agent not ready (RONA)."""
        offer = self.offers.pop(e.offer_id, None)
        if offer is None:
            return
        self.claimed.discard(offer.offer_id)
        agent = self.agents[offer.agent_id]
        agent.offer_id = agent.call_id = None
        entry = self.calls.get(offer.call_id)
        if entry is not None:
            entry.offer_id = None
            self._call_state(entry, C.CALLBACK if entry.callback_number else C.QUEUED)
            if e.cause.agents_fault:
                entry.refused_by.add(agent.id)
        fault = e.cause.agents_fault
        self._record(offer.call_id, rec.OfferFailed(agent=agent.id, offer=offer.offer_id, reason=e.cause.value, agent_at_fault=fault))
        if agent.state not in (S.RESERVED, S.RINGING):
            self._emit(ReleaseAgent(agent.id, offer.offer_id))
            return
        if e.cause == ev.FailCause.NOT_RESERVED:  # held by a stale reservation: look again later
            self._emit(ReleaseAgent(agent.id, offer.offer_id))
            self._set_state(agent, S.NOT_READY, e.cause.value)
            self._start_timer("recover", agent.id, self.now + self.rona_recover_s)
            return
        freed = self._agent_free(agent, offer.offer_id, ready=not fault, reason=e.cause.value)
        if fault and agent.config.auto_ready and freed == S.NOT_READY:
            self._start_timer("recover", agent.id, self.now + self.rona_recover_s)

    def _on_timer(self, e: ev.TimerFired) -> None:
        if self.timers.pop(e.timer_id, None) is None:
            return  # cancelled or already handled (a replay, or a timer of a previous leader)
        kind, ref, _ = e.timer_id.split(":", 2)
        if kind == "wrapup":
            self._wrapup_expired(ref, e.timer_id)
        elif kind == "recover":
            agent = self.agents.get(ref)
            if agent is not None and agent.state == S.NOT_READY and agent.reason in RECOVERABLE:
                self._set_state(agent, S.READY, by="engine")
        elif kind == "due":
            self._run_dues()

    _HANDLERS: dict[type[ev.AcdInput], _Handler] = {}
    _CHECKS: dict[type[ev.AcdInput], _Handler] = {}


_Handler = Callable[[AcdCore, ev.AcdInput], None]
_E = TypeVar("_E", bound=ev.AcdInput)


def _on(kind: type[_E], handler: Callable[[AcdCore, _E], None]) -> tuple[type[ev.AcdInput], _Handler]:
    """One dispatch entry. The checker verifies that ``handler`` takes a ``kind``; ``handle`` looks
    handlers up by ``type(event)``, so a handler only ever receives its own kind and the cast is sound."""
    return kind, cast(_Handler, handler)


AcdCore._HANDLERS = dict((
    _on(ev.ConfigApplied, AcdCore._on_config), _on(ev.AgentLogin, AcdCore._on_login),
    _on(ev.AgentLogout, AcdCore._on_logout), _on(ev.AgentReady, AcdCore._on_ready),
    _on(ev.AgentNotReady, AcdCore._on_not_ready), _on(ev.CallQueued, AcdCore._on_queued),
    _on(ev.CallerLeft, AcdCore._on_caller_left), _on(ev.CallbackAsked, AcdCore._on_callback_asked),
    _on(ev.CallbackBooked, AcdCore._on_callback_booked), _on(ev.LegRinging, AcdCore._on_ringing),
    _on(ev.ClaimAsked, AcdCore._on_claim), _on(ev.CallerBridged, AcdCore._on_bridged),
    _on(ev.OfferFailed, AcdCore._on_offer_failed), _on(ev.LegHungUp, AcdCore._on_leg_hung_up),
    _on(ev.CallHungUp, AcdCore._on_hung_up), _on(ev.HoldChanged, AcdCore._on_hold),
    _on(ev.WrapUpFinished, AcdCore._on_wrapup_finished), _on(ev.WrapUpExtended, AcdCore._on_wrapup_extended),
    _on(ev.DeviceStateChanged, AcdCore._on_device), _on(ev.TimerFired, AcdCore._on_timer),
    _on(ev.AgentBridged, AcdCore._on_agent_bridged), _on(ev.ChannelsPresent, AcdCore._on_channels_present),
    _on(ev.EngineStopping, AcdCore._on_stopping),
))
AcdCore._CHECKS = dict((
    _on(ev.AgentLogin, AcdCore._check_login), _on(ev.AgentLogout, AcdCore._check_logout),
    _on(ev.AgentReady, AcdCore._check_ready), _on(ev.AgentNotReady, AcdCore._check_not_ready),
    _on(ev.WrapUpFinished, AcdCore._check_wrapup), _on(ev.WrapUpExtended, AcdCore._check_wrapup),
))
