"""The ACD service: drives ``AcdCore`` over AMI and FastAGI, as measured on Asterisk 22
(shared/asterisk/connect/FINDINGS.md §9):

- the caller waits inside its FastAGI session: music-on-hold slices and announcements;
- the chosen agent is reserved in the core, then rung by an async ``Originate`` with our own
  ``ChannelId`` (the offer id) and ``Timeout`` = the ring time, into ``acd-connect``;
- the agent leg's FastAGI ``claim`` lets exactly one leg per caller reach ``Bridge()``;
- the caller's ``BridgeEnter`` is the connected signal; recording starts then (MixMonitor);
- ``OriginateResponse`` Failure: RONA (3) / busy (5) -> agent not ready, call keeps its place;
- the caller hangs up while the agent rings -> AMI ``Hangup`` of our ChannelId;
- on every AMI (re)connect, a CoreShowChannels snapshot repairs the live state.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from acd.agi.channel import AgiChannel
from acd.agi.errors import AgiHangup
from acd.ami import AmiClient, AmiError, AmiLinkLost, Event
from acd.ami.actions import (
    OriginateRequest, bridge_list, core_show_channels, device_state_list, hangup, mix_monitor, originate, status,
)
from acd.clock import Clock
from acd.livestate import LiveStore, MemoryLiveStore
from acd.logs import bind_call, get_logger
from acd.ports import InteractionRecorder
from acd.routing.config import DeskCatalogue
from acd.routing.core import AcdCore, IllegalTransition, QueueFull
from acd.routing.model import AgentState, CallEntry, Offer
from acd.telemetry import Telemetry

log = get_logger(__name__)

# A ready agent's phone in these device states is not rung: not ready with this reason until the
# phone is NOT_INUSE again. Live, only unreachable pauses (INUSE follows every call for a moment).
DEVICE_PAUSES = {"UNAVAILABLE": "unreachable", "INVALID": "unreachable", "INUSE": "busy", "BUSY": "busy"}
FAILURE_REASONS = {"3": "no answer", "5": "busy", "8": "congestion", "1": "unreachable", "0": "cancelled"}


def _dialable(number: str) -> str:
    """The extension for ``[acd-callback]``: digits only (E.164's + dropped), so the dialplan's
    ``_X.`` pattern matches and the trunk gets a plain number."""
    return "".join(ch for ch in number if ch.isdigit())


def decision_record(decision) -> dict:
    """A routing decision as kept on the call's record: candidates, filters, scores, step, choice."""
    return {
        "agent": decision.agent_id, "offer": decision.offer_id, "queue": decision.queue,
        "waited_s": round(decision.waited_s, 3), "candidates": decision.candidates, "strategy": decision.strategy,
        "filters": {"required": decision.required, "min_proficiency": decision.min_proficiency,
                    "relax_step": decision.relax_step, "language": decision.language, "sticky_agent": decision.sticky_agent,
                    "preferred": decision.preferred},
        "scores": [{"agent": a, "score": sc} for a, sc in decision.scores],
    }


class InvalidChoice(ValueError):
    """A reason or disposition that is not in the desk catalogue (``config/desk.yaml``)."""

    def __init__(self, field_name: str, value: str) -> None:
        super().__init__(f"{field_name}: {value!r} is not in the catalogue")
        self.field = field_name
        self.value = value


class NotInWrapUp(RuntimeError):
    """Wrap-up can only be finished by an agent in wrap-up."""


@dataclass
class _WrapUp:
    call_id: str
    queue: str
    talk_s: float
    started: float
    task: asyncio.Task | None = None
    hold_s: float = 0.0
    entry: CallEntry | None = None  # the call's entry, for the screen-pop during wrap-up


@dataclass
class _Waiter:
    entry: CallEntry
    connected: asyncio.Event = field(default_factory=asyncio.Event)
    gone: asyncio.Event = field(default_factory=asyncio.Event)
    answered_at: float | None = None


class AcdService:
    def __init__(
        self,
        core: AcdCore,
        ami: AmiClient,
        recorder: InteractionRecorder,
        telemetry: Telemetry,
        clock: Clock,
        *,
        connect_context: str = "acd-connect",
        callback_context: str = "acd-callback",
        recordings_dir: str = "/var/spool/asterisk/monitor",
        record_calls: bool = True,
        tick_s: float = 1.0,
        rona_recover_s: float = 30.0,
        bridge_grace_s: float = 2.0,
        moh_margin_s: float = 30.0,
        store: LiveStore | None = None,
        node_id: str = "node-1",
        catalogue: DeskCatalogue | None = None,
        emit=None,
    ) -> None:
        self.core = core
        self.ami = ami
        self.recorder = recorder
        self.telemetry = telemetry
        self.clock = clock
        self.connect_context = connect_context
        self.callback_context = callback_context
        self.recordings_dir = recordings_dir.rstrip("/")
        self.record_calls = record_calls
        self.tick_s = tick_s
        self.rona_recover_s = rona_recover_s
        self.bridge_grace_s = bridge_grace_s
        self.moh_margin_s = moh_margin_s  # how late a music slice may end before the session is declared broken
        self.store: LiveStore = store or MemoryLiveStore(clock)
        self.node_id = node_id
        self.catalogue = catalogue or DeskCatalogue()
        self.emit = emit or (lambda kind, data: None)  # push to the live stream (HTTP API)
        self.connected_entries: dict[str, CallEntry] = {}  # call id -> entry, while connected (screen-pop)
        self._wrapups: dict[str, _WrapUp] = {}
        self._on_hold_since: dict[str, float] = {}  # connected call id -> when its hold began
        self._held: dict[str, float] = {}  # connected call id -> seconds on hold so far
        self._waiters: dict[str, _Waiter] = {}
        self._talk_started: dict[str, tuple[float, str]] = {}
        self._kick = asyncio.Event()
        self._tasks: set[asyncio.Task] = set()
        self._loop_task: asyncio.Task | None = None
        self._unsubscribe: list = []

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        for name, handler in (
            ("BridgeEnter", self._on_bridge_enter),
            ("OriginateResponse", self._on_originate_response),
            ("Hangup", self._on_hangup),
            ("Newchannel", self._on_newchannel),
            ("DeviceStateChange", self._on_device_state),
            ("Hold", self._on_hold),
            ("Unhold", self._on_unhold),
        ):
            self._unsubscribe.append(self.ami.subscribe(name, handler))
        self.ami.on_link(self._on_link)
        for q in self.core.queues.values():
            self.telemetry.set_queue_targets(q.name, q.service_level_s, q.service_level_goal)
        self.telemetry.add_scrape_hook(self.publish)
        for agent in self.core.agents.values():
            if agent.config.auto_ready and agent.state == AgentState.LOGGED_OUT:
                self.core.login(agent.id)
        self._loop_task = asyncio.create_task(self._route_loop(), name="acd-route-loop")

    async def stop(self) -> None:
        for unsub in self._unsubscribe:
            unsub()
        tasks = list(self._tasks) + ([self._loop_task] if self._loop_task else [])
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _spawn(self, coro, name: str) -> asyncio.Task:
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def kick(self) -> None:
        self._kick.set()

    # ------------------------------------------------------------------ routing loop
    async def _route_loop(self) -> None:
        while True:
            # asyncio.timeout, not wait_for: in 3.11 wait_for can swallow a cancellation that
            # lands as the kick fires, and stop() would then wait for this loop forever.
            try:
                async with asyncio.timeout(self.tick_s):
                    await self._kick.wait()
            except TimeoutError:
                pass
            self._kick.clear()
            started = time.perf_counter()
            try:
                decisions = self.core.route()
            except Exception as exc:  # never let one bad pass stop routing
                log.error_event("acd.route.failed", error=repr(exc))
                continue
            self.telemetry.routing_decision(time.perf_counter() - started)
            for offer, decision in decisions:
                self.recorder.event(offer.call_id, "routing_decision", decision_record(decision))
                self._spawn(self._ring(offer), f"acd-offer-{offer.offer_id}")

    async def _ring(self, offer: Offer) -> None:
        entry = self.core.calls.get(offer.call_id)
        caller_number = entry.caller_number if entry else ""
        callback = entry.callback_number if entry else None
        req = OriginateRequest(
            channel=offer.endpoint, context=self.callback_context if callback else self.connect_context,
            exten=_dialable(callback) if callback else "s", priority=1,
            channel_id=offer.offer_id, timeout_ms=int(offer.ring_timeout_s * 1000),
            caller_id=f'"{"Callback " if callback else ""}{offer.queue}" <{caller_number}>',
            variables={"ACD_CALLER": offer.call_id, "ACD_OFFER": offer.offer_id, "ACD_QUEUE": offer.queue},
        )
        with bind_call(offer.call_id):
            if offer.offer_id not in self.core.offers:
                return  # the caller left before we rang anyone
            if not await self._reserve_in_store(offer):
                return
            try:
                await originate(self.ami, req)
                self.recorder.event(offer.call_id, "offer", {"agent": offer.agent_id, "offer": offer.offer_id, "ring_timeout_s": offer.ring_timeout_s})
                self.emit("offer", {"agent_id": offer.agent_id, "call_id": offer.call_id, "queue": offer.queue,
                                    "customer_id": entry.customer_id if entry else None})
                if offer.offer_id not in self.core.offers and offer.call_id not in self.core.connected:
                    # withdrawn while the Originate was in flight: no phantom ring
                    await self._cancel_leg(offer)
            except AmiLinkLost:
                # It may or may not have reached Asterisk: never re-sent; the re-sync after the
                # reconnect finds the leg by its ChannelId or fails the offer.
                log.warn_event("acd.offer.link_lost", offer=offer.offer_id, agent=offer.agent_id)
            except AmiError as exc:
                log.warn_event("acd.offer.originate_failed", offer=offer.offer_id, agent=offer.agent_id, error=str(exc))
                self.core.offer_failed(offer.offer_id, "pbx unavailable", agent_at_fault=False)
                self.telemetry.agent_offer("failed")
                self.kick()

    async def _reserve_in_store(self, offer: Offer) -> bool:
        """The shared reservation: with several engine nodes on one Redis, only one may ring an
        agent. A store outage does not stop calls on this node (its own core already holds the
        agent); it is logged and counted."""
        try:
            ok = await self.store.reserve(offer.agent_id, offer.offer_id, self.node_id, offer.ring_timeout_s + 10)
        except Exception as exc:
            log.warn_event("acd.store.unavailable", op="reserve", error=repr(exc))
            self.telemetry.state_repair("store_unavailable")
            return True
        if not ok:
            log.event("acd.offer.agent_busy_elsewhere", agent=offer.agent_id, offer=offer.offer_id)
            self.recorder.event(offer.call_id, "offer_failed", {"agent": offer.agent_id, "offer": offer.offer_id, "reason": "busy on another node"})
            self.core.offer_failed(offer.offer_id, "busy on another node")
            self._spawn(self._recover(offer.agent_id, until_free=True), f"acd-recheck-{offer.agent_id}")
            self.kick()
        return ok

    def _store_op(self, coro, what: str) -> None:
        async def run():
            try:
                await coro
            except Exception as exc:
                log.warn_event("acd.store.unavailable", op=what, error=repr(exc))
        self._spawn(run(), f"acd-store-{what}")

    # ------------------------------------------------------------------ the caller's wait (FastAGI)
    async def wait_in_queue(self, channel: AgiChannel, entry: CallEntry) -> str:
        """Hold the caller in music and announcements until an agent is bridged in.

        Returns ``answered``, ``abandoned``, ``timeout`` (max wait: the flow overflows) or
        ``full`` (the queue is at its maximum length)."""
        q = self.core.queues[entry.queue]
        if not q.join_empty and self.core.agents_who_could_serve(q.name) == 0:
            self.recorder.event(entry.call_id, "queue_refused", {"queue": q.name, "reason": "no agents logged in"})
            return "empty"  # the flow's overflow route takes the caller
        try:
            self.core.call_arrived(entry)
        except QueueFull:
            return "full"
        waiter = _Waiter(entry)
        self._waiters[entry.call_id] = waiter
        self.telemetry.call_offered(entry.queue)
        self.recorder.event(entry.call_id, "queue_enter", {
            "queue": entry.queue, "priority": entry.priority, "customer_id": entry.customer_id,
            "verification": entry.verification, "locked": entry.locked,
            "skills": entry.skills, "preferred_skills": entry.preferred_skills, "language": entry.language,
        })
        self.kick()
        try:
            first = True
            while True:
                if waiter.connected.is_set():
                    return "answered"
                q = self.core.queues[entry.queue]  # overflow may have moved the call
                waited = self.clock.now() - entry.enqueued_at
                if waited >= q.max_wait_s:
                    self._leave(entry, "timeout")
                    return "timeout"
                if q.leave_when_empty and entry.offer_id is None and self.core.agents_who_could_serve(q.name) == 0:
                    self._leave(entry, "empty")
                    return "empty"
                self._maybe_overflow(entry, q, waited)
                if not first:
                    await self._announce(channel, entry, q)
                    if await self._offer_callback(channel, entry, q, waited):
                        return "callback"
                first = False
                await channel.exec("MusicOnHold", q.moh_class, str(int(q.moh_slice_s)), timeout=q.moh_slice_s + self.moh_margin_s)
        except AgiHangup:
            # Bridged away (200 result=-1, then HANGUP) or the caller hung up: AMI tells which.
            try:
                async with asyncio.timeout(self.bridge_grace_s):
                    await self._either(waiter)
            except TimeoutError:
                pass
            if waiter.connected.is_set():
                return "answered"
            self._abandon(entry.call_id)
            return "abandoned"
        except BaseException:
            # the session broke (timeout, protocol error, shutdown): Asterisk takes the caller
            # to acd-fallback, so the entry must not stay queued and get an agent rung for it
            if entry.call_id in self.core.calls:
                self._leave(entry, "engine_error")
            raise
        finally:
            self._waiters.pop(entry.call_id, None)

    def _maybe_overflow(self, entry: CallEntry, q, waited: float) -> None:
        if not q.overflow_to or entry.offer_id is not None:
            return
        reason = None
        if q.overflow_if_no_agents and self.core.agents_who_could_serve(q.name) == 0:
            reason = "no agents"
        elif q.overflow_after_s is not None and waited >= q.overflow_after_s:
            reason = "wait"
        elif q.overflow_if_ewt_s is not None:
            ewt = self.core.estimated_wait(entry.call_id)
            if ewt is not None and ewt > q.overflow_if_ewt_s:
                reason = "estimated wait"
        if reason is not None:
            withdrawn = self.core.move(entry.call_id, q.overflow_to)
            if withdrawn is not None:
                self._spawn(self._cancel_leg(withdrawn), f"acd-cancel-{withdrawn.offer_id}")
            self.recorder.event(entry.call_id, "overflow", {"from": q.name, "to": q.overflow_to, "reason": reason})
            self.kick()

    async def _announce(self, channel: AgiChannel, entry: CallEntry, q) -> None:
        """Position and estimated wait between music slices; cut short by Bridge() when an agent
        answers (the AGI command then returns -1 and the wait ends)."""
        if q.announce_position:
            pos = self.core.position(entry.call_id)
            if pos:
                await channel.stream_file("queue-youarenext" if pos == 1 else "queue-thereare")
                if pos > 1:
                    await channel.say_number(pos)
                    await channel.stream_file("queue-callswaiting")
        if q.announce_ewt:
            ewt = self.core.estimated_wait(entry.call_id)
            if ewt is not None and ewt >= 60:
                minutes = max(1, round(ewt / 60))
                entry.announced_ewt_s = ewt
                await channel.stream_file("queue-holdtime")
                await channel.say_number(minutes)
                await channel.stream_file("queue-minutes")

    async def _offer_callback(self, channel: AgiChannel, entry: CallEntry, q, waited: float) -> bool:
        """"Press 1 to be called back": the caller keeps the place, hangs up, and is dialled once
        an agent is reserved for the call. Only for callers with a number to call."""
        if not q.callback_key or waited < q.callback_after_s or not entry.caller_number or entry.offer_id is not None:
            return False
        result = await channel.stream_file("acd/press-1-for-a-callback", q.callback_key)
        if result.digit != q.callback_key or entry.offer_id is not None or self.core.to_callback(entry.call_id, entry.caller_number) is None:
            return False
        self.recorder.event(entry.call_id, "callback_requested", {"queue": entry.queue, "number": entry.caller_number, "in_queue": True})
        log.event("acd.callback.booked", call_id=entry.call_id, queue=entry.queue)
        try:
            await channel.stream_file("acd/we-will-call-you-back")
            await channel.hangup()
        except AgiHangup:
            pass
        return True

    @staticmethod
    async def _either(waiter: _Waiter) -> None:
        tasks = [asyncio.ensure_future(waiter.connected.wait()), asyncio.ensure_future(waiter.gone.wait())]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for t in tasks:
                t.cancel()

    def _leave(self, entry: CallEntry, why: str) -> None:
        offer = self.core.call_abandoned(entry.call_id)
        if offer is not None:
            self._spawn(self._cancel_leg(offer), f"acd-cancel-{offer.offer_id}")
        self.recorder.event(entry.call_id, "queue_exit", {"queue": entry.queue, "reason": why})

    def _abandon(self, call_id: str) -> None:
        entry = self.core.calls.get(call_id)
        if entry is None:
            return
        waited = self.clock.now() - entry.enqueued_at
        self._leave(entry, "abandoned")
        q = self.core.queues[entry.queue]
        self.telemetry.call_abandoned(entry.queue, waited, q.service_level_s, q.short_abandon_s)
        waiter = self._waiters.get(call_id)
        if waiter:
            waiter.gone.set()
        self.kick()

    async def _cancel_leg(self, offer: Offer) -> None:
        """The caller left while the agent rang: cancel the agent leg by our ChannelId."""
        self._store_op(self.store.release(offer.agent_id, offer.offer_id), "release")
        try:
            await hangup(self.ami, offer.offer_id, cause=16)
            self.telemetry.agent_offer("cancelled")
            log.event("acd.offer.cancelled", offer=offer.offer_id, agent=offer.agent_id)
        except AmiError as exc:
            log.warn_event("acd.offer.cancel_failed", offer=offer.offer_id, error=str(exc))

    # ------------------------------------------------------------------ the agent leg's claim (FastAGI)
    async def handle_claim(self, channel: AgiChannel) -> None:
        offer_id = channel.env.uniqueid
        won = self.core.claim(offer_id)
        if won:
            offer = self.core.offers[offer_id]
            entry = self.core.calls.get(offer.call_id)
            # one leg per caller may reach the bridge; a callback is claimed afresh on each attempt
            key = f"{offer.call_id}:callback-{entry.callback_attempts}" if entry is not None and entry.callback_number else offer.call_id
            try:
                won = await self.store.claim(key, offer_id, 3600)
            except Exception as exc:
                log.warn_event("acd.store.unavailable", op="claim", error=repr(exc))
        await channel.set_variable("ACD_CLAIM", "ok" if won else "lost")
        log.event("acd.offer.claim", offer=offer_id, won=won)

    # ------------------------------------------------------------------ AMI events
    def _on_newchannel(self, event: Event) -> None:
        uid = event.get("Uniqueid", "")
        if uid in self.core.offers:
            self.core.offer_ringing(uid)

    def _on_bridge_enter(self, event: Event) -> None:
        uid = event.get("Uniqueid", "")
        offer = self.core.offers.get(uid)
        if offer is not None:  # an agent leg: for a callback, it enters the bridge with the customer
            entry = self.core.calls.get(offer.call_id)
            if entry is not None and entry.callback_number:
                self._connected(offer.call_id, "")
            return
        self._connected(uid, event.get("Channel", ""))

    @staticmethod
    def _caller_channel(channels: list[Event], uniqueid: str) -> str:
        return next((c.get("Channel", "") for c in channels if c.get("Uniqueid") == uniqueid), uniqueid)

    def _connected(self, uid: str, channel: str) -> None:
        """The caller is in the bridge with the offered agent: talk and recording start."""
        entry = self.core.calls.get(uid)
        if entry is None or entry.offer_id is None:
            return
        offer = self.core.offer_answered(entry.offer_id)
        if offer is None:
            return
        now = self.clock.now()
        waited = now - entry.enqueued_at
        q = self.core.queues[entry.queue]
        self.telemetry.call_answered(entry.queue, waited, q.service_level_s)
        if entry.announced_ewt_s is not None:
            self.telemetry.ewt_error(waited - entry.announced_ewt_s)
        self.telemetry.agent_offer("answered")
        self._talk_started[uid] = (now, entry.queue)
        self.connected_entries[uid] = entry
        self.emit("connected", {"agent_id": offer.agent_id, "call_id": uid, "queue": entry.queue})
        self._store_op(self.store.confirm(offer.agent_id, offer.offer_id, uid), "confirm")
        self.recorder.event(uid, "connected", {"agent": offer.agent_id, "queue": entry.queue, "waited_s": round(waited, 3)})
        waiter = self._waiters.get(uid)
        if waiter:
            waiter.answered_at = now
            waiter.connected.set()
        if self.record_calls:
            # a callback has no caller channel: record on the agent leg, which carries both sides
            target = channel or (offer.offer_id if entry.callback_number else uid)
            self._spawn(self._record(uid, target), f"acd-record-{uid}")
        self.kick()

    async def _record(self, call_id: str, channel: str) -> None:
        path = f"{self.recordings_dir}/{call_id}.wav"
        try:
            await mix_monitor(self.ami, channel, path)
            self.recorder.event(call_id, "recording", {"file": path})
        except AmiError as exc:
            log.warn_event("acd.recording.failed", call_id=call_id, error=str(exc))

    def _on_originate_response(self, event: Event) -> None:
        if event.get("Response") != "Failure":
            return
        offer_id = event.get("Uniqueid", "")
        offer = self.core.offers.get(offer_id)
        if offer is None:
            return
        reason = FAILURE_REASONS.get(event.get("Reason", ""), "unreachable")
        self.core.offer_failed(offer_id, reason)
        self._store_op(self.store.release(offer.agent_id, offer_id), "release")
        self.telemetry.agent_offer("rona" if reason == "no answer" else reason.replace(" ", "_"))
        self.recorder.event(offer.call_id, "offer_failed", {"agent": offer.agent_id, "offer": offer_id, "reason": reason})
        agent = self.core.agents[offer.agent_id]
        if agent.config.auto_ready:
            self._spawn(self._recover(offer.agent_id), f"acd-recover-{offer.agent_id}")
        self.kick()

    async def _recover(self, agent_id: str, until_free: bool = False) -> None:
        await asyncio.sleep(self.rona_recover_s)
        while until_free:
            try:
                if await self.store.holder(agent_id) is None:
                    break
            except Exception:
                break
            await asyncio.sleep(self.rona_recover_s)
        agent = self.core.agents[agent_id]
        if agent.state == AgentState.NOT_READY:
            self.core.set_ready(agent_id)
            self.kick()

    def _on_hangup(self, event: Event) -> None:
        uid = event.get("Uniqueid", "")
        if uid in self.core.calls:
            if self.core.calls[uid].callback_number:
                return  # the caller hung up for a callback: the place is kept
            self._abandon(uid)
            return
        offer = self.core.offers.get(uid)
        if offer is not None:
            entry = self.core.calls.get(offer.call_id)
            if entry is not None and entry.callback_number:
                self._callback_not_answered(offer, entry)
                return
        if uid in self.core.connected:
            self._end_call(uid, by="caller")
            return
        # the agent leg of a connected call hung up: end that call too
        for call_id, agent_id in list(self.core.connected.items()):
            agent = self.core.agents[agent_id]
            if agent.call_id == call_id and event.get("Channel", "").startswith(agent.config.endpoint + "-"):
                self._end_call(call_id, by="agent")

    def _callback_not_answered(self, offer: Offer, entry: CallEntry) -> None:
        """The agent leg of a callback ended before the customer was in the bridge (no answer,
        busy, or the agent hung up): try again later, or give up after the queue's attempts."""
        q = self.core.queues[entry.queue]
        self._store_op(self.store.release(offer.agent_id, offer.offer_id), "release")
        self.recorder.event(entry.call_id, "callback_attempt", {"agent": offer.agent_id, "result": "not answered", "attempt": entry.callback_attempts + 1})
        given_up = self.core.callback_not_answered(offer.offer_id, q.callback_retry_s, q.callback_attempts)
        if given_up is not None:
            self.recorder.event(entry.call_id, "queue_exit", {"queue": entry.queue, "reason": "callback_failed"})
            log.warn_event("acd.callback.given_up", call_id=entry.call_id, attempts=given_up.callback_attempts)
        self.kick()

    def _end_call(self, call_id: str, by: str | None = None) -> None:
        """The connected call ended (``by``: who hung up first, caller or agent, when known)."""
        agent_id = self.core.call_ended(call_id)
        if agent_id is None:
            return
        ended_entry = self.connected_entries.pop(call_id, None)
        self._store_op(self.store.release(agent_id, call_id), "release")
        started, queue = self._talk_started.pop(call_id, (self.clock.now(), ""))
        held_since = self._on_hold_since.pop(call_id, None)
        if held_since is not None:  # the call ended on hold
            self._held[call_id] = self._held.get(call_id, 0.0) + self.clock.now() - held_since
            self.recorder.event(call_id, "hold", {"seconds": round(self.clock.now() - held_since, 3)})
        hold = self._held.pop(call_id, 0.0)
        talk = max(0.0, self.clock.now() - started - hold)
        self.recorder.event(call_id, "ended", {"agent": agent_id, "talk_s": round(talk, 3), "hold_s": round(hold, 3), "by": by})
        self.emit("ended", {"agent_id": agent_id, "call_id": call_id})
        q = self.core.queues.get(queue)
        wrap = _WrapUp(call_id, queue, talk, self.clock.now(), hold_s=hold, entry=ended_entry)
        self._wrapups[agent_id] = wrap
        wrap.task = self._spawn(self._wrapup_timer(agent_id, q.wrapup_s if q else 0.0), f"acd-wrapup-{agent_id}")

    async def _wrapup_timer(self, agent_id: str, seconds: float) -> None:
        """The wrap-up time allowed; when it runs out without a disposition the agent is made
        ready anyway (the call is recorded without one), unless the queue requires a
        disposition: then the wrap-up is only marked overdue."""
        await asyncio.sleep(seconds)
        wrap = self._wrapups.get(agent_id)
        q = self.core.queues.get(wrap.queue) if wrap else None
        if q is not None and q.disposition_required:
            log.warn_event("acd.wrapup.overdue", agent=agent_id, call_id=wrap.call_id)
            self.emit("wrapup_overdue", {"agent_id": agent_id, "call_id": wrap.call_id})
            return
        self._complete_wrapup(agent_id, None, None, ready=True)

    def extend_wrapup(self, agent_id: str, seconds: float) -> None:
        """More after-call work time: the timer restarts with ``seconds`` left."""
        wrap = self._wrapups.get(agent_id)
        if wrap is None:
            raise NotInWrapUp(f"agent {agent_id} is not in wrap-up")
        if not 0 < seconds <= 3600:
            raise InvalidChoice("seconds", str(seconds))
        if wrap.task is not None:
            wrap.task.cancel()
        wrap.task = self._spawn(self._wrapup_timer(agent_id, seconds), f"acd-wrapup-{agent_id}")
        self.recorder.event(wrap.call_id, "wrapup_extended", {"agent": agent_id, "seconds": seconds})

    def _complete_wrapup(self, agent_id: str, disposition: str | None, notes: str | None, *, ready: bool) -> None:
        wrap = self._wrapups.pop(agent_id, None)
        if wrap is None:
            return
        if wrap.task is not None and wrap.task is not asyncio.current_task():
            wrap.task.cancel()
        spent = self.clock.now() - wrap.started
        self.recorder.event(wrap.call_id, "wrapup_done", {"agent": agent_id, "disposition": disposition, "notes": notes, "wrapup_s": round(spent, 3)})
        self.core.wrapup_done(agent_id, ready=ready)
        if wrap.queue:
            self.telemetry.call_completed(wrap.queue, wrap.talk_s, wrap.hold_s, spent)
            self.core.record_handle_time(wrap.queue, wrap.talk_s + wrap.hold_s + spent)
        self.emit("wrapup_done", {"agent_id": agent_id, "call_id": wrap.call_id, "disposition": disposition})
        self.kick()

    # ------------------------------------------------------------------ the agent's desk
    def login(self, agent_id: str, ready: bool = True) -> None:
        agent = self.core.agent(agent_id)
        if agent.state != AgentState.LOGGED_OUT:
            raise IllegalTransition(agent_id, agent.state, AgentState.READY if ready else AgentState.NOT_READY)
        self.core.login(agent_id, ready)
        self.kick()

    def logout(self, agent_id: str) -> None:
        """Only from ready or not ready: a call in progress (or ringing) finishes first."""
        self.core.logout(agent_id)
        self.kick()

    def set_ready(self, agent_id: str) -> None:
        agent = self.core.agent(agent_id)
        if agent.state == AgentState.WRAP_UP:
            raise NotInWrapUp(f"agent {agent_id} is in wrap-up: finish it with a disposition")
        self.core.set_ready(agent_id)
        self.kick()

    def set_not_ready(self, agent_id: str, reason: str) -> None:
        """An agent's own (or a supervisor's forced) pause, with a reason from the catalogue. A
        ringing offer is withdrawn and its leg cancelled; the call keeps its place."""
        if self.catalogue.reason(reason) is None:
            raise InvalidChoice("reason", reason)
        agent = self.core.agent(agent_id)
        if agent.state in (AgentState.ON_CALL, AgentState.LOGGED_OUT, AgentState.WRAP_UP):
            raise IllegalTransition(agent_id, agent.state, AgentState.NOT_READY)
        withdrawn = self.core.set_not_ready(agent_id, reason)
        if withdrawn is not None:
            self._spawn(self._cancel_leg(withdrawn), f"acd-cancel-{withdrawn.offer_id}")
        self.kick()

    def finish_wrapup(self, agent_id: str, disposition: str, notes: str | None = None, *, ready: bool = True) -> str:
        """The agent gives the call its disposition (and notes); returns the call id."""
        if self.catalogue.disposition(disposition) is None:
            raise InvalidChoice("disposition", disposition)
        wrap = self._wrapups.get(agent_id)
        if wrap is None or self.core.agent(agent_id).state != AgentState.WRAP_UP:
            raise NotInWrapUp(f"agent {agent_id} is not in wrap-up")
        call_id = wrap.call_id
        self._complete_wrapup(agent_id, disposition, (notes or "").strip()[:2000] or None, ready=ready)
        return call_id

    def wrapup_call(self, agent_id: str) -> str | None:
        wrap = self._wrapups.get(agent_id)
        return wrap.call_id if wrap else None

    def wrapup_entry(self, agent_id: str) -> CallEntry | None:
        wrap = self._wrapups.get(agent_id)
        return wrap.entry if wrap else None

    def live(self) -> dict:
        """The live state for the wallboard and the API."""
        snap = self.core.snapshot()
        for name, q in snap["queues"].items():
            day = self.telemetry.queue_today(name)
            q.update(answered=day.answered, abandoned=day.abandoned, service_level=day.service_level("answered"), asa_s=day.asa_s, aht_s=day.aht_s)
        return snap

    def publish(self, telemetry: Telemetry) -> None:
        """Scrape hook: queue and agent gauges from the live state."""
        snap = self.core.snapshot()
        counts: dict[str, int] = {}
        for agent in snap["agents"].values():
            counts[agent["state"]] = counts.get(agent["state"], 0) + 1
        telemetry.set_agent_states(counts)
        for name, q in snap["queues"].items():
            logged_in = sum(1 for a in self.core.agents.values() if a.state.value != "logged_out" and self.core.can_serve(a, name))
            available = sum(1 for a in self.core.agents.values() if a.state.value == "ready" and self.core.can_serve(a, name))
            telemetry.set_queue_snapshot(name, q["waiting"], q["longest_wait_s"], logged_in, available)

    # ------------------------------------------------------------------ re-sync on (re)connect
    def _agent_of_channel(self, channel: str):
        for agent in self.core.agents.values():
            if channel.startswith(agent.config.endpoint + "-"):
                return agent
        return None

    async def _repair_bridged_agents(self, channels: list[Event], bridge_ids: set[str]) -> int:
        """An agent leg in a live bridge whose agent the engine holds free: a connect the engine
        missed (BridgeEnter lost with the link) or a call from before a restart. The leg's
        ``ACD_CALLER`` (read with Status) names the caller; the agent is marked on that call."""
        repairs = 0
        for ch in channels:
            bridge = ch.get("BridgeId", "")
            if not bridge or bridge not in bridge_ids:
                continue
            agent = self._agent_of_channel(ch.get("Channel", ""))
            if agent is None or agent.state not in (AgentState.READY, AgentState.NOT_READY, AgentState.RESERVED, AgentState.RINGING):
                continue  # on a call or in wrap-up: the engine knows
            try:
                detail = await status(self.ami, ch.get("Channel", ""), ["ACD_CALLER"])
                caller = next((v.split("=", 1)[1] for e in detail.events for v in e.headers.get_all("Variable") if v.startswith("ACD_CALLER=")), "")
            except AmiError as exc:
                log.warn_event("acd.resync.status_failed", channel=ch.get("Channel"), error=str(exc))
                continue
            if not caller:
                continue
            if agent.offer_id is not None:  # it was ringing for this very call: the normal path
                entry = self.core.calls.get(caller)
                if entry is not None and entry.offer_id == agent.offer_id:
                    self._connected(caller, self._caller_channel(channels, caller))
                    self.telemetry.state_repair("missed_connect")
                    repairs += 1
                continue
            if self.core.adopt_connected(agent.id, caller):
                self._talk_started[caller] = (self.clock.now(), "")
                self.recorder.event(caller, "adopted", {"agent": agent.id, "channel": ch.get("Channel")})
                self.telemetry.state_repair("adopted_call")
                repairs += 1
        return repairs

    def _repair_devices(self, states: dict[str, str]) -> int:
        """A ready agent whose phone is unreachable (or busy with a call of its own) would be rung
        for nothing: not ready, with the reason, until the phone is back."""
        repairs = 0
        for agent in self.core.agents.values():
            state = states.get(agent.config.endpoint, "")
            if agent.state != AgentState.READY or not state:
                continue
            reason = DEVICE_PAUSES.get(state)
            if reason is None:
                continue
            self.core.set_not_ready(agent.id, reason)
            self.telemetry.state_repair("device_" + reason)
            repairs += 1
        return repairs

    def _connected_call_of(self, event: Event) -> str | None:
        """The connected call a channel event is about: the caller's, or its agent's leg."""
        uid = event.get("Uniqueid", "")
        if uid in self.core.connected:
            return uid
        agent = self._agent_of_channel(event.get("Channel", ""))
        if agent is not None and agent.call_id in self.core.connected:
            return agent.call_id
        return None

    def _on_hold(self, event: Event) -> None:
        call_id = self._connected_call_of(event)
        if call_id is not None and call_id not in self._on_hold_since:
            self._on_hold_since[call_id] = self.clock.now()

    def _on_unhold(self, event: Event) -> None:
        call_id = self._connected_call_of(event)
        started = self._on_hold_since.pop(call_id, None) if call_id else None
        if started is not None:
            seconds = self.clock.now() - started
            self._held[call_id] = self._held.get(call_id, 0.0) + seconds
            self.recorder.event(call_id, "hold", {"seconds": round(seconds, 3)})

    def _on_device_state(self, event: Event) -> None:
        """A phone that drops off (unregistered) takes its ready agent out of routing; when it is
        back (NOT_INUSE), an agent the engine paused for it is ready again."""
        device, state = event.get("Device", ""), event.get("State", "")
        agent = next((a for a in self.core.agents.values() if a.config.endpoint == device), None)
        if agent is None:
            return
        if DEVICE_PAUSES.get(state) == "unreachable" and agent.state == AgentState.READY:
            self.core.set_not_ready(agent.id, "unreachable")
        elif state == "NOT_INUSE" and agent.state == AgentState.NOT_READY and agent.reason in DEVICE_PAUSES.values():
            self.core.set_ready(agent.id)
            self.kick()

    async def _on_link(self, up: bool) -> None:
        self.telemetry.ami_link(up)
        if not up:
            return
        if self.ami.reconnects:
            self.telemetry.ami_reconnect()
        await self.resync()

    async def resync(self) -> int:
        """Compare the live state with Asterisk (CoreShowChannels, BridgeList, Status of unknown
        agent legs, DeviceStateList) and repair what differs; each repair is counted by kind."""
        try:
            listing = await core_show_channels(self.ami)
            bridges = await bridge_list(self.ami)
            devices = await device_state_list(self.ami)
        except AmiError as exc:
            log.warn_event("acd.resync.failed", error=str(exc))
            return 0
        present = {e.get("Uniqueid", "") for e in listing.events}
        repairs = await self._repair_bridged_agents(listing.events, {e.get("BridgeUniqueid", "") for e in bridges.events})
        repairs += self._repair_devices({e.get("Device", ""): e.get("State", "") for e in devices.events})
        for offer_id, offer in list(self.core.offers.items()):
            if offer_id not in present and self.clock.now() - offer.created_at > 1.0:
                self.core.offer_failed(offer_id, "lost in reconnect", agent_at_fault=False)
                self.telemetry.state_repair("offer")
                repairs += 1
        for call_id in list(self.core.connected):
            if call_id not in present:
                self._end_call(call_id)
                self.telemetry.state_repair("connected_call")
                repairs += 1
        for call_id, entry in list(self.core.calls.items()):
            if call_id not in present and not entry.callback_number:
                self._abandon(call_id)
                self.telemetry.state_repair("waiting_call")
                repairs += 1
        log.event("acd.resync.done", channels=len(present), bridges=len(bridges.events), repairs=repairs)
        self.kick()
        return repairs
