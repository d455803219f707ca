"""The call side of the ACD core: joining, leaving, overflow and max wait, callbacks, the end of a
connected call, wrap-up and its expiry, re-sync repairs and a clean stop.

A mixin of ``AcdCore`` (``acd.routing.core``): it works on the same state and emits through the
same outbox, so every rule here is replayed from the event log like the rest.
"""

from __future__ import annotations

import heapq
from typing import TYPE_CHECKING

from acd import events as rec
from acd.routing import inputs as ev
from acd.routing.commands import CancelLeg, CancelTimer, EndWait, Publish, ReleaseAgent, StartTimer
from acd.routing.errors import NotInWrapUp
from acd.routing.model import Agent, AgentState, CallEntry, CallState, LiveCall, QueueConfig

if TYPE_CHECKING:
    from acd.routing.commands import Command
    from acd.routing.select import RoutingState

    class _Core(RoutingState):
        """What this mixin uses of ``AcdCore`` (declared for the type checker only; at run time the
        mixin's base is ``object`` and ``AcdCore`` supplies all of it). mypy checks that ``AcdCore``'s
        definitions match these."""

        id_prefix: str
        rona_recover_s: float
        live: dict[str, LiveCall]
        wrapups: dict[str, str]
        after_call: dict[str, str]
        after_call_by: dict[str, str]
        timers: dict[str, float]
        claimed: set[str]
        dues: list[tuple[float, str, str]]

        def next_id(self, kind: str) -> str: ...
        def _emit(self, command: Command) -> None: ...
        def _record(self, call_id: str, event: rec.CallEvent) -> None: ...
        def _start_timer(self, kind: str, ref: str, at: float) -> str: ...
        def agent(self, agent_id: str) -> Agent: ...
        def _set_state(self, agent: Agent, new: AgentState, reason: str | None = None, *, by: str | None = None,
                       forced: bool = False) -> None: ...
        def _withdraw_offer(self, agent: Agent, why: str) -> None: ...
        def _agent_free(self, agent: Agent, ref: str, *, ready: bool = True, reason: str | None = None,
                        by: str | None = None) -> AgentState: ...
        def _connect(self, entry: CallEntry, channel: str) -> None: ...
        def _on_offer_failed(self, e: ev.OfferFailed) -> None: ...
else:
    _Core = object

S = AgentState
C = CallState
DUES_SLACK = 8  # the deadlines heap is compacted when it outgrows the waiting calls this many times
# A call's allowed transitions (the table is the specification, like the agent's in core.py).
CALL_TRANSITIONS: dict[CallState, set[CallState]] = {
    C.QUEUED: {C.OFFERED, C.CALLBACK, C.CONNECTED, C.ENDED},
    C.OFFERED: {C.QUEUED, C.CONNECTED, C.ENDED},
    C.CALLBACK: {C.CALLBACK_OFFERED, C.ENDED},
    C.CALLBACK_OFFERED: {C.CALLBACK, C.CONNECTED, C.ENDED},
    C.CONNECTED: {C.WRAP_UP},
    C.WRAP_UP: {C.ENDED},
    C.ENDED: set(),
}


class CallPolicy(_Core):
    due_timer: tuple[str, float] | None = None

    # ------------------------------------------------------------------ the call's state
    def _call_state(self, entry: CallEntry, new: CallState) -> None:
        if new == entry.state:
            return
        if new not in CALL_TRANSITIONS[entry.state]:
            raise AssertionError(f"call {entry.call_id}: {entry.state.value} -> {new.value} is not allowed")
        entry.state = new

    def _drop_waiting(self, entry: CallEntry) -> None:
        self.calls.pop(entry.call_id, None)
        waiting = self.waiting.get(entry.queue, [])
        if entry in waiting:
            waiting.remove(entry)

    # ------------------------------------------------------------------ joining and leaving
    def _on_queued(self, e: ev.CallQueued) -> None:
        existing = self.calls.get(e.call_id)
        if existing is not None:  # resumed while its entry still waits: the new session takes it over
            existing.node, existing.caller_channel = e.node, e.caller_channel or existing.caller_channel
            self._record(e.call_id, rec.QueueResumed(queue=existing.queue, node=e.node))
            return
        if e.call_id in self.live:
            return
        q = self.queues.get(e.queue)
        if q is None:
            self._record(e.call_id, rec.QueueRefused(queue=e.queue, reason="unknown queue"))
            self._emit(EndWait(e.call_id, "unknown_queue", e.node))
            return
        if not q.join_empty and self.agents_who_could_serve(q.name) == 0:
            self._record(e.call_id, rec.QueueRefused(queue=q.name, reason="no agents logged in"))
            self._emit(EndWait(e.call_id, "empty", e.node))
            return
        if len(self.waiting[q.name]) >= q.max_length:
            self._record(e.call_id, rec.QueueRefused(queue=q.name, reason="full"))
            self._emit(EndWait(e.call_id, "full", e.node))
            return
        entry = CallEntry(
            e.call_id, q.name, e.caller_channel, e.enqueued_at, priority=e.priority, caller_number=e.caller_number,
            skills=dict(e.skills), language=e.language, preferred_agent=e.preferred_agent, sticky_s=e.sticky_s,
            preferred_skills=dict(e.preferred_skills), customer_id=e.customer_id, verification=e.verification,
            locked=e.locked, vip=e.vip, attributes=dict(e.attributes), node=e.node, resumed=e.resumed,
        )
        self.calls[entry.call_id] = entry
        self._insert(entry)
        log_position = self.position(entry.call_id)
        self._record(entry.call_id, rec.QueueEntered(
            queue=q.name, priority=entry.priority, customer_id=entry.customer_id, verification=entry.verification, locked=entry.locked,
            skills=entry.skills, preferred_skills=entry.preferred_skills, language=entry.language, enqueued_at=entry.enqueued_at,
            resumed=e.resumed, position=log_position))
        self._push_dues(entry, q)
        self._maybe_overflow(entry)

    def _push_dues(self, entry: CallEntry, q: QueueConfig) -> None:
        """The moments this call's treatment may change: max wait, overflow, relaxation steps,
        the end of its sticky hold, the next estimated-wait check."""
        dues = [(entry.enqueued_at + q.max_wait_s, "max_wait")]
        if q.overflow_to and q.overflow_after_s is not None:
            dues.append((entry.enqueued_at + q.overflow_after_s, "overflow"))
        if q.overflow_to and q.overflow_if_ewt_s is not None:
            dues.append((self.now + q.moh_slice_s, "ewt"))
        dues += [(entry.enqueued_at + step.after_s, "route") for step in q.relax]
        if entry.sticky_s > 0:
            dues.append((entry.enqueued_at + entry.sticky_s, "route"))
        for at, what in dues:
            heapq.heappush(self.dues, (at, entry.call_id, what))
        if len(self.dues) > DUES_SLACK * (len(self.calls) + DUES_SLACK):
            self._compact_dues()

    def _compact_dues(self) -> None:
        """Drop the deadlines of calls that no longer wait. Each call leaves up to four behind when
        it is answered or leaves, and they would stay until their time came (the max wait, 600 s by
        default): at 15 calls a second, 9,000 dead entries, each in every snapshot (found by
        bench/soak.py). Decided by the state alone, so a core rebuilt from a snapshot compacts at
        the same input as the one that wrote it."""
        self.dues = [due for due in self.dues if due[1] in self.calls]
        heapq.heapify(self.dues)

    def _arm_due_timer(self) -> None:
        if not self.dues:
            return
        top = self.dues[0][0]
        if self.due_timer is not None and self.due_timer[1] <= top:
            return
        if self.due_timer is not None:
            self.timers.pop(self.due_timer[0], None)
            self._emit(CancelTimer(self.due_timer[0]))
        timer_id = f"due:q:{self.next_id('t')}"
        self.timers[timer_id] = top
        self.due_timer = (timer_id, top)
        self._emit(StartTimer(timer_id, top))

    def _run_dues(self) -> None:
        self.due_timer = None
        while self.dues and self.dues[0][0] <= self.now:
            _, call_id, what = heapq.heappop(self.dues)
            entry = self.calls.get(call_id)
            if entry is None or entry.state not in (C.QUEUED, C.OFFERED):
                continue  # gone, connected, or waiting for a callback: no deadline applies
            q = self.queues[entry.queue]
            if what == "max_wait":
                if self.now - entry.enqueued_at >= q.max_wait_s:
                    self._leave(entry, "timeout", "timeout")
                else:  # overflowed into a queue with a longer max wait
                    heapq.heappush(self.dues, (entry.enqueued_at + q.max_wait_s, call_id, "max_wait"))
            elif what in ("overflow", "ewt"):
                self._maybe_overflow(entry)
                if what == "ewt" and entry.call_id in self.calls and self.queues[entry.queue].overflow_if_ewt_s is not None:
                    heapq.heappush(self.dues, (self.now + self.queues[entry.queue].moh_slice_s, call_id, "ewt"))

    def _maybe_overflow(self, entry: CallEntry) -> None:
        q = self.queues[entry.queue]
        if not q.overflow_to or entry.offer_id is not None or q.overflow_to not in self.queues:
            return
        waited = self.now - entry.enqueued_at
        reason = None
        if q.overflow_if_no_agents and self.agents_who_could_serve(q.name) == 0:
            reason = "no agents"
        elif q.overflow_after_s is not None and waited >= q.overflow_after_s:
            reason = "wait"
        elif q.overflow_if_ewt_s is not None:
            ewt = self.estimated_wait(entry.call_id)
            if ewt is not None and ewt > q.overflow_if_ewt_s:
                reason = "estimated wait"
        if reason is None:
            return
        self.waiting[entry.queue].remove(entry)
        entry.queue = q.overflow_to
        self._insert(entry)  # the original arrival time: the place is earned
        self._record(entry.call_id, rec.Overflowed(from_queue=q.name, to_queue=q.overflow_to, reason=reason))
        self._push_dues(entry, self.queues[entry.queue])

    def _leave(self, entry: CallEntry, reason: str, outcome: str) -> None:
        """The caller leaves the queue without an agent; a ringing offer is cancelled."""
        if entry.offer_id is not None:
            offer = self.offers.pop(entry.offer_id, None)
            entry.offer_id = None
            if offer is not None:
                self.claimed.discard(offer.offer_id)
                agent = self.agents[offer.agent_id]
                agent.offer_id = agent.call_id = None
                self._emit(CancelLeg(offer.offer_id, offer.agent_id, offer.call_id, reason))
                self._record(entry.call_id, rec.OfferCancelled(agent=agent.id, offer=offer.offer_id, reason=reason))
                if agent.state in (S.RESERVED, S.RINGING):
                    self._agent_free(agent, offer.offer_id)
        self._drop_waiting(entry)
        self._call_state(entry, C.ENDED)
        q = self.queues.get(entry.queue)
        self._record(entry.call_id, rec.QueueExited(queue=entry.queue, reason=reason, waited_s=round(self.now - entry.enqueued_at, 3),
                                                   service_level_s=q.service_level_s if q else None,
                                                   short_abandon_s=q.short_abandon_s if q else None))
        self._emit(EndWait(entry.call_id, outcome, entry.node))

    def _leave_when_empty(self) -> None:
        for name, q in self.queues.items():
            if q.leave_when_empty and self.waiting[name] and self.agents_who_could_serve(name) == 0:
                for entry in list(self.waiting[name]):
                    if entry.state == C.QUEUED:
                        self._leave(entry, "empty", "empty")

    def _on_caller_left(self, e: ev.CallerLeft) -> None:
        entry = self.calls.get(e.call_id)
        if entry is None or entry.state in (C.CALLBACK, C.CALLBACK_OFFERED):
            return  # already gone, or hung up for a callback: the place is kept
        self._leave(entry, e.reason, "abandoned" if e.reason == "abandoned" else e.reason)

    # ------------------------------------------------------------------ callbacks
    def _on_callback_asked(self, e: ev.CallbackAsked) -> None:
        """The caller keeps the place, hangs up, and is dialled once an agent is reserved."""
        entry = self.calls.get(e.call_id)
        if entry is None or entry.state != C.QUEUED or not e.number:
            return
        entry.callback_number, entry.caller_channel = e.number, ""
        self._call_state(entry, C.CALLBACK)
        self._record(entry.call_id, rec.CallbackRequested(queue=entry.queue, number=e.number, in_queue=True))
        self._emit(EndWait(entry.call_id, "callback", entry.node))

    def _on_callback_booked(self, e: ev.CallbackBooked) -> None:
        """A booked call-back (a task fell due) waits in its queue as a callback from the start."""
        q = self.queues.get(e.queue)
        if e.call_id in self.calls or e.call_id in self.live or not e.number:
            return
        if q is None:
            self._record(e.call_id, rec.QueueRefused(queue=e.queue, reason="unknown queue", task_id=e.task_id))
            return
        entry = CallEntry(e.call_id, q.name, "", e.at, priority=e.priority, caller_number=e.number,
                          preferred_agent=e.preferred_agent, sticky_s=e.sticky_s, customer_id=e.customer_id,
                          attributes={"task_id": e.task_id} if e.task_id else {})
        entry.callback_number = e.number
        self._call_state(entry, C.CALLBACK)
        self.calls[entry.call_id] = entry
        self._insert(entry)
        self._record(entry.call_id, rec.CallbackBooked(queue=q.name, number=e.number, task_id=e.task_id,
                                                       preferred_agent=e.preferred_agent, customer_id=e.customer_id,
                                                       enqueued_at=entry.enqueued_at))
        if entry.sticky_s > 0:
            heapq.heappush(self.dues, (entry.enqueued_at + entry.sticky_s, entry.call_id, "route"))

    def _on_leg_hung_up(self, e: ev.LegHungUp) -> None:
        """An agent leg ended before the bridge. For a callback the customer did not answer (not
        the agent's fault): tried again later, or given up after the queue's attempts."""
        offer = self.offers.get(e.offer_id)
        if offer is None:
            return
        entry = self.calls.get(offer.call_id)
        if entry is None or not entry.callback_number:
            self._on_offer_failed(ev.OfferFailed(self.now, e.offer_id, ev.FailCause.HUNG_UP))
            return
        self.offers.pop(e.offer_id)
        self.claimed.discard(e.offer_id)
        agent = self.agents[offer.agent_id]
        agent.offer_id = agent.call_id = None
        entry.offer_id = None
        entry.callback_attempts += 1
        self._call_state(entry, C.CALLBACK)
        self._record(entry.call_id, rec.CallbackAttempt(agent=agent.id, result="not answered", attempt=entry.callback_attempts))
        if agent.state in (S.RESERVED, S.RINGING):
            self._agent_free(agent, e.offer_id)
        else:
            self._emit(ReleaseAgent(agent.id, e.offer_id))
        q = self.queues[entry.queue]
        if entry.callback_attempts >= q.callback_attempts:
            self._drop_waiting(entry)
            self._call_state(entry, C.ENDED)
            self._record(entry.call_id, rec.QueueExited(queue=entry.queue, reason="callback_failed",
                                                       waited_s=round(self.now - entry.enqueued_at, 3), attempts=entry.callback_attempts))
            return
        entry.not_before = self.now + q.callback_retry_s
        heapq.heappush(self.dues, (entry.not_before, entry.call_id, "route"))

    # ------------------------------------------------------------------ the end of a call, wrap-up
    def _on_hung_up(self, e: ev.CallHungUp) -> None:
        live = self.live.get(e.call_id)
        if live is None or live.ended_at is not None:
            return
        agent = self.agents[live.agent_id]
        end = max(live.answered_at, min(self.now, e.last_seen) if e.last_seen is not None else self.now)
        if live.hold_since is not None:  # the call ended on hold
            seconds = max(0.0, end - live.hold_since)
            live.held_s += seconds
            live.hold_since = None
            self._record(e.call_id, rec.Held(seconds=round(seconds, 3)))
        live.ended_at, live.talk_s = end, max(0.0, end - live.answered_at - live.held_s)
        self.connected.pop(e.call_id, None)
        agent.call_id = None
        agent.calls_handled += 1
        self._call_state(live.entry, C.WRAP_UP)
        self._set_state(agent, S.WRAP_UP)
        self.wrapups[agent.id] = e.call_id
        self._record(e.call_id, rec.Ended(agent=agent.id, talk_s=round(live.talk_s, 3), hold_s=round(live.held_s, 3), by=e.by,
                                         pbx_lost=e.pbx_lost, ended_at=end if end < self.now else None))
        q = self.queues.get(live.entry.queue)
        live.wrapup_timer = self._start_timer("wrapup", agent.id, self.now + (q.wrapup_s if q else 0.0))

    def _on_hold(self, e: ev.HoldChanged) -> None:
        live = self.live.get(e.call_id)
        if live is None or live.ended_at is not None:
            return
        if e.on_hold and live.hold_since is None:
            live.hold_since = self.now
        elif not e.on_hold and live.hold_since is not None:
            seconds = self.now - live.hold_since
            live.held_s += seconds
            live.hold_since = None
            self._record(e.call_id, rec.Held(seconds=round(seconds, 3)))

    def _check_wrapup(self, e: ev.WrapUpFinished | ev.WrapUpExtended) -> None:
        agent = self.agent(e.agent_id)
        if agent.state != S.WRAP_UP or agent.id not in self.wrapups:
            raise NotInWrapUp(f"agent {agent.id} is not in wrap-up")

    def _on_wrapup_finished(self, e: ev.WrapUpFinished) -> None:
        self._check_wrapup(e)
        self._finish_wrapup(self.agents[e.agent_id], e.disposition, e.notes, then=S.READY if e.ready else S.NOT_READY, by=e.agent_id)

    def _on_wrapup_extended(self, e: ev.WrapUpExtended) -> None:
        self._check_wrapup(e)
        live = self.live[self.wrapups[e.agent_id]]
        self._cancel_wrapup_timer(live)
        live.wrapup_timer = self._start_timer("wrapup", e.agent_id, self.now + max(0.0, e.seconds))
        self._record(live.entry.call_id, rec.WrapUpExtended(agent=e.agent_id, seconds=e.seconds))

    def _cancel_wrapup_timer(self, live: LiveCall) -> None:
        if live.wrapup_timer is not None:
            self.timers.pop(live.wrapup_timer, None)
            self._emit(CancelTimer(live.wrapup_timer))
            live.wrapup_timer = None

    def _wrapup_expired(self, agent_id: str, timer_id: str) -> None:
        """The wrap-up time ran out without a disposition: the agent is made ready (the call is
        recorded without one), unless the queue requires a disposition: then only overdue."""
        call_id = self.wrapups.get(agent_id)
        live = self.live.get(call_id or "")
        if live is None or live.wrapup_timer != timer_id:
            return
        live.wrapup_timer = None
        q = self.queues.get(live.entry.queue)
        if q is not None and q.disposition_required:
            self._emit(Publish("wrapup_overdue", {"agent_id": agent_id, "call_id": live.entry.call_id}))
            return
        self._finish_wrapup(self.agents[agent_id], None, None, then=S.READY, by="timer")

    def _finish_wrapup(self, agent: Agent, disposition: str | None, notes: str | None, *, then: AgentState, by: str | None,
                       forced: bool = False) -> None:
        call_id = self.wrapups.pop(agent.id)
        live = self.live.pop(call_id)
        self._cancel_wrapup_timer(live)
        spent = self.now - (live.ended_at if live.ended_at is not None else self.now)
        queue = live.entry.queue
        self._record(call_id, rec.WrapUpDone(agent=agent.id, disposition=disposition, notes=notes, wrapup_s=round(spent, 3),
                                             queue=queue, talk_s=round(live.talk_s, 3), hold_s=round(live.held_s, 3)))
        if queue in self.queues:
            self._record_handle_time(queue, live.talk_s + live.held_s + spent)
        self._call_state(live.entry, C.ENDED)
        if then == S.LOGGED_OUT:
            self._emit(ReleaseAgent(agent.id, call_id))
            self.after_call.pop(agent.id, None)
            self.after_call_by.pop(agent.id, None)
            self._set_state(agent, S.LOGGED_OUT, by=by, forced=forced)
        else:
            self._agent_free(agent, call_id, ready=then == S.READY, by=by)

    # ------------------------------------------------------------------ re-sync repairs, stop
    def _on_agent_bridged(self, e: ev.AgentBridged) -> None:
        """Asterisk shows the agent bridged on a call: a connect missed while AMI was down, or a
        call from before a restart, adopted so the agent is never offered a second call."""
        agent = self.agents.get(e.agent_id)
        if agent is None or agent.state in (S.ON_CALL, S.WRAP_UP) or e.call_id in self.connected:
            return
        entry = self.calls.get(e.call_id)
        if agent.offer_id is not None and entry is not None and entry.offer_id == agent.offer_id:
            self._connect(entry, e.caller_channel)
            self._emit(Publish("state_repair", {"kind": "missed_connect", "agent_id": agent.id}))
            return
        if agent.state not in (S.READY, S.NOT_READY):
            return
        if entry is not None:  # it was waiting (perhaps ringing someone else): it is taken
            if entry.offer_id is not None:
                other = self.agents[self.offers[entry.offer_id].agent_id]
                self._withdraw_offer(other, "adopted elsewhere")
                self._agent_free(other, "adopted")
            self._drop_waiting(entry)
            entry.state = C.CONNECTED
        else:
            entry = CallEntry(e.call_id, "", e.caller_channel, self.now, state=C.CONNECTED)
        self.connected[e.call_id] = agent.id
        agent.call_id = e.call_id
        self._set_state(agent, S.ON_CALL, by="resync")
        self.live[e.call_id] = LiveCall(entry, agent.id, "", self.now, e.caller_channel)
        self._record(e.call_id, rec.Adopted(agent=agent.id, channel=e.caller_channel))
        self._emit(Publish("state_repair", {"kind": "adopted_call", "agent_id": agent.id}))

    def _on_channels_present(self, e: ev.ChannelsPresent) -> None:
        """What Asterisk no longer has is over: offers failed (not the agent's fault), connected
        calls ended where they were last seen (the PBX lost them), waiting callers gone."""
        seen = dict(e.last_seen)
        known = e.known
        for offer_id, offer in list(self.offers.items()):
            if known is not None and offer_id not in known:
                continue  # made while the listing was in flight: its channel may not be in it
            if offer_id not in e.uniqueids and self.now - offer.created_at > e.grace_s:
                self._on_offer_failed(ev.OfferFailed(self.now, offer_id, ev.FailCause.LINK_LOST))
                self._emit(Publish("state_repair", {"kind": "offer", "agent_id": offer.agent_id}))
        for call_id in list(self.connected):
            live = self.live[call_id]
            key = live.offer_id if live.entry.callback_number else call_id
            if key not in e.uniqueids and (known is None or call_id in known):
                self._on_hung_up(ev.CallHungUp(self.now, call_id, last_seen=seen.get(call_id), pbx_lost=True))
                self._emit(Publish("state_repair", {"kind": "connected_call", "agent_id": live.agent_id}))
        for call_id, entry in list(self.calls.items()):
            if call_id not in e.uniqueids and entry.state in (C.QUEUED, C.OFFERED) and (known is None or call_id in known):
                # gone without the engine hearing how (no HangupRequest, no session end): the PBX lost it
                self._leave(entry, "pbx_lost", "abandoned")
                self._emit(Publish("state_repair", {"kind": "waiting_call", "agent_id": None}))

    def _on_stopping(self, e: ev.EngineStopping) -> None:
        """A clean stop leaves no leg ringing, no call open and no agent logged in."""
        for entry in list(self.calls.values()):
            if entry.state in (C.QUEUED, C.OFFERED):
                self._leave(entry, "engine_stopped", "engine_error")
        for agent in self.agents.values():
            if agent.state in (S.RESERVED, S.RINGING):
                self._withdraw_offer(agent, "engine stopping")
                self._agent_free(agent, "stop")
        for call_id in list(self.connected):
            self._on_hung_up(ev.CallHungUp(self.now, call_id, by="engine_stop"))
        for agent in self.agents.values():
            if agent.state == S.WRAP_UP:
                self._finish_wrapup(agent, None, None, then=S.LOGGED_OUT, by="engine_stop")
            elif agent.state in (S.READY, S.NOT_READY):
                self._set_state(agent, S.LOGGED_OUT, by="engine_stop")
        self.after_call.clear()
        self.after_call_by.clear()
