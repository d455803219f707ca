"""The ACD service: a thin driver around the pure core (``acd.routing.core.AcdCore``).

Inputs from AMI, FastAGI, HTTP and the timer wheel become typed events (``acd.routing.inputs``),
are appended to the event log, then handled by the core; the commands it returns are carried
out here: Originate and Hangup over AMI, the waiting caller's FastAGI session, MixMonitor, the
shared reservations, the record and the push stream. No ACD policy lives in this module.

As measured on Asterisk 22 (shared/asterisk/connect/FINDINGS.md §9): the caller waits inside its
FastAGI session; the agent is rung by an async ``Originate`` with our ``ChannelId`` (the offer
id); the answered leg's FastAGI ``claim`` lets one leg per caller reach ``Bridge()``; the caller's
``BridgeEnter`` is the connected signal.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass

from acd import events as rec
from acd.agi.channel import AgiChannel
from acd.ami import AmiClient, AmiError, AmiLinkLost
from acd.ami.actions import OriginateRequest, hangup, mix_monitor, originate, originate_now
from acd.ami.frames import Response
from acd.clock import Clock
from acd.eventlog import FencingToken
from acd.livestate import LiveStore, MemoryLiveStore
from acd.logs import bind_call, get_logger
from acd.ports import InteractionRecorder
from acd.routing import inputs as ev
from acd.routing.commands import (
    AnswerClaim, CancelLeg, CancelTimer, Command, ConfirmAgent, EndWait, Publish, Record, ReleaseAgent, Ring,
    StartRecording, StartTimer,
)
from acd.routing.config import DeskCatalogue
from acd.routing.core import AcdCore, IllegalTransition, NotInWrapUp  # noqa: F401 - re-exported for the HTTP errors
from acd.routing.model import AgentConfig, AgentState, CallEntry, Offer, QueueConfig
from acd.service.amiedge import AmiEdge
from acd.service.journal import Journal
from acd.service.replica import Replica, for_this_node
from acd.service.observers import RecordObserver
from acd.service.timers import TimerWheel
from acd.service.waiting import WaitingRoom
from acd.telemetry import Telemetry

log = get_logger(__name__)


SURVEY_BRIDGE_OPTS = "F(acd-survey^s^1)"  # the bridged caller goes on at [acd-survey] s,1 when the agent leaves


def _dialable(number: str) -> str:
    """The extension for ``[acd-callback]``: digits only (E.164's + dropped), so the dialplan's
    ``_X.`` pattern matches and the trunk gets a plain number."""
    return "".join(ch for ch in number if ch.isdigit())


def _cid_text(value: str, limit: int = 80) -> str:
    """Caller-id text safe for an AMI header: no control characters, no quotes, bounded."""
    return "".join(ch for ch in value if ch.isprintable() and ch not in '"<>')[:limit]


@dataclass(frozen=True)
class _RingStart:
    """A reservation made at once, and the Originate already written when it succeeded."""

    reserved: bool = False
    not_leader: bool = False
    store_error: Exception | None = None
    ami_error: AmiError | None = None
    reply: Coroutine[Any, Any, Response] | None = None  # the written Originate's response, to await


class InvalidChoice(ValueError):
    """A reason or disposition that is not in the desk catalogue (``config/desk.yaml``)."""

    def __init__(self, field_name: str, value: str, codes: Sequence[str] = ()) -> None:
        message = f"{field_name}: {value!r} is not in the catalogue"
        if codes:  # a label typed for its code ('Lunch' for lunch) is the likely slip
            import difflib

            close = [c for c in codes if c.lower() == value.lower()] or difflib.get_close_matches(value.lower(), list(codes), n=1)
            message += " of config/desk.yaml" + (f" (did you mean {close[0]!r}?)" if close else f" (one of {', '.join(codes)})")
        super().__init__(message)
        self.field = field_name
        self.value = value


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
        rona_recover_s: float = 30.0,
        bridge_grace_s: float = 2.0,
        moh_margin_s: float = 30.0,
        store: LiveStore | None = None,
        node_id: str = "node-1",
        catalogue: DeskCatalogue | None = None,
        emit: Callable[[str, dict[str, Any]], None] | None = None,
        journal: Journal | None = None,
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
        self.store: LiveStore = store or MemoryLiveStore(clock)
        self.node_id = node_id
        self.catalogue = catalogue or DeskCatalogue()
        self.emit = emit or (lambda kind, data: None)  # push to the live stream (HTTP API)
        self.journal = journal or Journal()
        self.core.rona_recover_s = rona_recover_s  # before the first event: the journal starts here
        self.timers = TimerWheel(clock, self._timer_fired)
        self.observer = RecordObserver(core, telemetry, self.emit)
        # record observers that only push to the live stream (the wallboards' queue feed): fed by
        # the recorder on the node that writes the record, by ``carry_out`` on the others
        self.feeds: list[InteractionRecorder] = []
        self.room = WaitingRoom(self, bridge_grace_s=bridge_grace_s, moh_margin_s=moh_margin_s)
        self.edge = AmiEdge(self)
        self._claims: dict[str, asyncio.Future[bool]] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self.routing_paused = False
        self.replica: Replica | None = None  # set by ``share_log``: several nodes on one Redis log

    # ------------------------------------------------------------------ the one way in
    def submit(self, event: ev.AcdInput) -> list[Command]:
        """Append the event to the log, let the core handle it, carry out what it says. With a
        shared log the input goes to the leader's pipeline (or the inbox) and [] comes back: the
        commands follow once the log holds the input."""
        if self.replica is not None:
            self.replica.submit(event)
            return []
        position = self.journal.append_now(event)
        started = time.perf_counter()
        commands = self.core.handle(event)
        if any(isinstance(c, Ring) for c in commands):
            self.telemetry.routing_decision(time.perf_counter() - started)
        self.journal.applied(position, self.core)
        self.carry_out(commands, lead=True)
        return commands

    def _timer_fired(self, timer_id: str) -> None:
        self.submit(ev.TimerFired(self.clock.now(), timer_id))

    async def settled(self, timeout_s: float = 3.0) -> bool:
        """Every input this node submitted has been applied to its core (at once on one node)."""
        return True if self.replica is None else await self.replica.settled(timeout_s)

    def share_log(self, replica: Replica) -> None:
        """Run as one node of several (``acd.service.replica``); before ``start``."""
        self.replica = replica

    def carry_out(self, commands: list[Command], *, lead: bool) -> None:
        """The commands that act (the agent's Originate first of all) before the records and
        pushes of the same input, each kind in the order the core issued it: the ring path does
        not wait for the timeline, the log lines and the spool writes of its routing decision."""
        acts = [c for c in commands if not isinstance(c, (Record, Publish))]
        if len(acts) < len(commands):
            commands = acts + [c for c in commands if isinstance(c, (Record, Publish))]
        for command in commands:
            if for_this_node(command, self.node_id, lead):
                self._execute(command)
            elif isinstance(command, (Record, Publish)):
                self._push(command)

    def _push(self, command: Record | Publish) -> None:
        """A node that does not lead tells its own desks and wallboards what the entry it applied
        means, from the same commands the leader carried out; the leader alone writes the record
        (and counts it on Prometheus), so each record is written once."""
        if isinstance(command, Publish):
            self.observer.publish(command, count=False)
            return
        self.observer.push(command)
        for feed in self.feeds:
            feed.event(command.call_id, command.event)

    @property
    def token(self) -> FencingToken | None:
        """The leader's fencing token for the shared store (None on a single node)."""
        return self.replica.token if self.replica is not None else None

    def may_act(self) -> bool:
        """Whether this node may send anything to Asterisk now: a single node always; with a
        shared log only while it holds the lease (checked locally: a paused node wakes up not
        leader)."""
        return self.replica is None or self.replica.is_leader

    def now(self) -> float:
        return self.clock.now()

    @property
    def moh_margin_s(self) -> float:
        """How late a music slice may end before the caller's session is declared broken."""
        return self.room.moh_margin_s

    @moh_margin_s.setter
    def moh_margin_s(self, seconds: float) -> None:
        self.room.moh_margin_s = seconds

    @property
    def rona_recover_s(self) -> float:
        return self.core.rona_recover_s

    @rona_recover_s.setter
    def rona_recover_s(self, seconds: float) -> None:
        self.apply_config((), (), rona_recover_s=seconds)

    def _execute(self, command: Command) -> None:
        if isinstance(command, Record):
            self.recorder.event(command.call_id, command.event)
            self.observer.record(command)
        elif isinstance(command, Ring):
            start = self._ring_at_once(command)
            task = self._spawn(self._ring(command, start), f"acd-offer-{command.offer.offer_id}")
            reply = start.reply if start is not None else None
            if reply is not None:
                task.add_done_callback(lambda _t: reply.close())  # a task cancelled before it ran never awaited it
        elif isinstance(command, CancelLeg):
            self._spawn(self._cancel_leg(command), f"acd-cancel-{command.offer_id}")
        elif isinstance(command, EndWait):
            self.room.end_wait(command.call_id, command.outcome)
        elif isinstance(command, AnswerClaim):
            future = self._claims.pop(command.offer_id, None)
            if future is not None and not future.done():
                future.set_result(command.won)
        elif isinstance(command, StartTimer):
            self.timers.start(command.timer_id, command.at)
        elif isinstance(command, CancelTimer):
            self.timers.cancel(command.timer_id)
        elif isinstance(command, StartRecording):
            if self.record_calls:
                self._spawn(self._record(command.call_id, command.channel), f"acd-record-{command.call_id}")
        elif isinstance(command, ReleaseAgent):
            self._release(command.agent_id, command.ref)
        elif isinstance(command, ConfirmAgent):
            token = self.token
            if isinstance(self.store, MemoryLiveStore):
                self._store_now(lambda: self.store_now.confirm_now(command.agent_id, command.offer_id, command.call_id, token=token), "confirm")
            else:
                self._store_op(lambda: self.store.confirm(command.agent_id, command.offer_id, command.call_id, token=token), "confirm")
        elif isinstance(command, Publish):
            self.observer.publish(command)
        else:  # a command this driver does not know is a programming error, never an outcome
            raise TypeError(f"no driver for {type(command).__name__}")

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        for q in self.core.queues.values():
            self.telemetry.set_queue_targets(q.name, q.service_level_s, q.service_level_goal)
        self.telemetry.add_scrape_hook(self.publish)
        if self.replica is not None:
            await self.replica.start()  # the core from the log; AMI and routing once it leads
            return
        self.edge.subscribe()
        self.on_leading()

    def on_leading(self) -> None:
        """This node routes from now on (at start, or on taking the lease over)."""
        self.telemetry.leader(True)
        if self.replica is not None and self.journal.position is None:
            # an empty shared log starts with the configuration: every replica takes its ids from it
            self.submit(ev.ConfigApplied(self.now(), tuple(self.core.queues.values()), tuple(a.config for a in self.core.agents.values()),
                                         rona_recover_s=self.core.rona_recover_s, id_prefix=self.core.id_prefix))
        for agent in list(self.core.agents.values()):
            if agent.config.auto_ready and agent.state == AgentState.LOGGED_OUT:
                self.submit(ev.AgentLogin(self.now(), agent.id, by="auto_ready"))

    async def stop(self) -> None:
        """A clean stop: ringing legs are cancelled (and waited for, bounded), calls closed on
        the record, agents logged out; then every task of this service ends. One node of several
        hands the lease over instead: the calls and agents carry on with the next leader."""
        if self.replica is not None:
            await self.replica.stop()
            await self._end_tasks()
            return
        self.edge.unsubscribe()
        self.submit(ev.EngineStopping(self.now()))
        cancels = [t for t in self._tasks if t.get_name().startswith("acd-cancel-")]
        if cancels:
            await asyncio.wait(cancels, timeout=2.0)
        await self._end_tasks()

    async def _end_tasks(self) -> None:
        self.timers.cancel_all()
        tasks = list(self._tasks)
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _spawn(self, coro: Any, name: str) -> asyncio.Task[Any]:
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # ------------------------------------------------------------------ ringing and cancelling
    def _originate_request(self, command: Ring) -> OriginateRequest:
        offer, callback = command.offer, command.callback_number
        return OriginateRequest(
            channel=offer.endpoint, context=self.callback_context if callback else self.connect_context,
            exten=_dialable(callback) if callback else "s", priority=1,
            channel_id=offer.offer_id, timeout_ms=int(offer.ring_timeout_s * 1000),
            caller_id=f'"{"Callback " if callback else ""}{_cid_text(offer.queue)}" <{_cid_text(command.caller_number, 40)}>',
            variables={"ACD_CALLER": offer.call_id, "ACD_OFFER": offer.offer_id, "ACD_QUEUE": offer.queue,
                       "ACD_BRIDGE_OPTS": self._bridge_options(offer.queue, callback)},
        )

    @property
    def store_now(self) -> MemoryLiveStore:
        assert isinstance(self.store, MemoryLiveStore)
        return self.store

    def _ring_at_once(self, command: Ring) -> _RingStart | None:
        """With the in-process store (one node) the reservation answers at once, so the
        agent's Originate is written here, in the step of the event loop that made the routing
        decision, before anything else that step does. None: the shared store's reservation is
        a round trip, made by the ring task (``_ring``)."""
        if not isinstance(self.store, MemoryLiveStore):
            return None
        offer = command.offer
        try:
            reserved = self.store.reserve_now(offer.agent_id, offer.offer_id, self.node_id, offer.ring_timeout_s + 10, token=self.token)
        except Exception as exc:  # noqa: BLE001 - a stale fencing token: fail closed, as _reserve does
            return _RingStart(store_error=exc)
        if not reserved:
            return _RingStart(reserved=False)
        if not self.may_act():
            return _RingStart(reserved=True, not_leader=True)
        try:
            return _RingStart(reserved=True, reply=originate_now(self.ami, self._originate_request(command)))
        except AmiError as exc:  # the link is down: nothing was sent
            return _RingStart(reserved=True, ami_error=exc)

    async def _ring(self, command: Ring, start: _RingStart | None = None) -> None:
        offer = command.offer
        with bind_call(offer.call_id):
            if start is None:
                if not await self._reserve(offer):
                    return
                start = _RingStart(reserved=True, not_leader=not self.may_act())  # the lease may have lapsed meanwhile
            elif not self._reserved(offer, start):
                return
            if start.not_leader:
                log.warn_event("acd.offer.not_leader", offer=offer.offer_id, agent=offer.agent_id)
                return
            try:
                if start.ami_error is not None:
                    raise start.ami_error
                await (start.reply if start.reply is not None else originate(self.ami, self._originate_request(command)))
            except AmiLinkLost:
                # It may or may not have reached Asterisk: never re-sent; the re-sync after the
                # reconnect finds the leg by its ChannelId or fails the offer.
                log.warn_event("acd.offer.link_lost", offer=offer.offer_id, agent=offer.agent_id)
                return
            except AmiError as exc:
                log.warn_event("acd.offer.originate_failed", offer=offer.offer_id, agent=offer.agent_id, error=str(exc))
                self.submit(ev.OfferFailed(self.now(), offer.offer_id, ev.FailCause.ORIGINATE_ERROR))
                return
            self.recorder.event(offer.call_id, rec.OfferRang(agent=offer.agent_id, offer=offer.offer_id, ring_timeout_s=offer.ring_timeout_s))
            self.emit(rec.OfferRang.kind, {"agent_id": offer.agent_id, "call_id": offer.call_id, "queue": offer.queue, "customer_id": command.customer_id})
            if offer.offer_id not in self.core.offers and offer.call_id not in self.core.connected:
                await self._hangup_leg(offer.offer_id, offer.agent_id)  # withdrawn while the Originate was in flight

    def _bridge_options(self, queue: str, callback: str | None) -> str:
        """``[acd-connect]``'s Bridge() options: ``x`` hangs the caller up with the agent; a queue
        with a post-call survey continues the caller in ``[acd-survey]`` instead (``F()``)."""
        q = self.core.queues.get(queue)
        return SURVEY_BRIDGE_OPTS if q is not None and q.survey and not callback else "x"

    def _reserved(self, offer: Offer, start: _RingStart) -> bool:
        """What ``_reserve`` does with the outcome of a reservation made at once."""
        if start.store_error is not None:
            log.warn_event("acd.store.unavailable", op="reserve", error=type(start.store_error).__name__)
            self.telemetry.state_repair("store_unavailable")
            self.submit(ev.OfferFailed(self.now(), offer.offer_id, ev.FailCause.ORIGINATE_ERROR))
            return False
        if not start.reserved:
            log.event("acd.offer.agent_busy_elsewhere", agent=offer.agent_id, offer=offer.offer_id)
            self.submit(ev.OfferFailed(self.now(), offer.offer_id, ev.FailCause.NOT_RESERVED))
        return start.reserved

    async def _reserve(self, offer: Offer) -> bool:
        """The shared reservation, fail closed: a store that cannot answer rings nobody, and
        routing pauses until it answers again."""
        try:
            # asyncio.timeout, not wait_for: no task of its own, so a store that answers without
            # waiting (the in-process one) lets the Originate go out in this same step of the loop
            async with asyncio.timeout(2.0):
                ok = await self.store.reserve(offer.agent_id, offer.offer_id, self.node_id, offer.ring_timeout_s + 10, token=self.token)
        except Exception as exc:  # noqa: BLE001 - an outage of the store is an outcome here: fail closed
            log.warn_event("acd.store.unavailable", op="reserve", error=type(exc).__name__)
            self.telemetry.state_repair("store_unavailable")
            self.submit(ev.OfferFailed(self.now(), offer.offer_id, ev.FailCause.ORIGINATE_ERROR))
            return False
        if not ok:
            log.event("acd.offer.agent_busy_elsewhere", agent=offer.agent_id, offer=offer.offer_id)
            self.submit(ev.OfferFailed(self.now(), offer.offer_id, ev.FailCause.NOT_RESERVED))
        return ok

    async def _cancel_leg(self, command: CancelLeg) -> None:
        self._release(command.agent_id, command.offer_id)
        await self._hangup_leg(command.offer_id, command.agent_id)

    def _release(self, agent_id: str, holder: str) -> None:
        """Free the agent in the live store: at once in process (so a reservation the core issues
        after it finds the agent free), else by a task, still ahead of the reservations after it."""
        token = self.token
        if isinstance(self.store, MemoryLiveStore):
            self._store_now(lambda: self.store_now.release_now(agent_id, holder, token=token), "release")
        else:
            self._store_op(lambda: self.store.release(agent_id, holder, token=token), "release")

    @staticmethod
    def _store_now(op: Callable[[], Any], what: str) -> None:
        try:
            op()
        except Exception as exc:  # noqa: BLE001 - a stale fencing token: logged, as _store_op does
            log.warn_event("acd.store.unavailable", op=what, error=type(exc).__name__)

    async def _hangup_leg(self, offer_id: str, agent_id: str) -> None:
        if not self.may_act():
            log.warn_event("acd.offer.not_leader", offer=offer_id, agent=agent_id)
            return
        try:
            await hangup(self.ami, offer_id, cause=16)
            self.telemetry.agent_offer("cancelled")
            log.event("acd.offer.cancelled", offer=offer_id, agent=agent_id)
        except AmiError as exc:
            log.warn_event("acd.offer.cancel_failed", offer=offer_id, error=str(exc))

    def _store_op(self, op: Callable[[], Any], what: str) -> None:
        async def run() -> None:
            try:
                async with asyncio.timeout(5.0):  # like _reserve: no task of its own, so a release
                    await op()  # spawned before a reservation is also carried out before it
            except Exception as exc:  # noqa: BLE001 - logged and counted; the reservation expires by itself
                log.warn_event("acd.store.unavailable", op=what, error=type(exc).__name__)
        self._spawn(run(), f"acd-store-{what}")

    async def _record(self, call_id: str, channel: str) -> None:
        path = f"{self.recordings_dir}/{call_id}.wav"
        try:
            await mix_monitor(self.ami, channel, path)
            self.recorder.event(call_id, rec.RecordingStarted(file=path))
        except AmiError as exc:
            log.warn_event("acd.recording.failed", call_id=call_id, error=str(exc))

    # ------------------------------------------------------------------ FastAGI: the caller, the agent leg
    async def wait_in_queue(self, channel: AgiChannel, entry: CallEntry) -> str:
        """Hold the caller in music and announcements until the core ends the wait: returns
        ``answered``, ``abandoned``, ``timeout``, ``full``, ``empty`` or ``callback``."""
        return await self.room.wait(channel, entry)

    async def handle_claim(self, channel: AgiChannel) -> None:
        offer_id = channel.env.uniqueid
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._claims[offer_id] = future
        self.submit(ev.ClaimAsked(self.now(), offer_id, self.node_id))
        if not future.done() and self.replica is not None:  # the answer comes back through the log
            try:
                await asyncio.wait_for(asyncio.shield(future), 3.0)
            except TimeoutError:
                log.warn_event("acd.offer.claim_unanswered", offer=offer_id)
        won = future.result() if future.done() else False
        self._claims.pop(offer_id, None)
        if won:
            offer = self.core.offers.get(offer_id)
            entry = self.core.calls.get(offer.call_id) if offer else None
            if offer is not None and entry is not None:
                # one leg per caller may reach the bridge; a callback is claimed afresh on each attempt
                key = f"{offer.call_id}:callback-{entry.callback_attempts}" if entry.callback_number else offer.call_id
                try:
                    won = await asyncio.wait_for(self.store.claim(key, offer_id, 3600, token=self.token), 2.0)
                except Exception as exc:  # noqa: BLE001 - fail closed: no bridge without the shared claim
                    log.warn_event("acd.store.unavailable", op="claim", error=type(exc).__name__)
                    won = False
        await channel.set_variable("ACD_CLAIM", "ok" if won else "lost")
        log.event("acd.offer.claim", offer=offer_id, won=won)

    # ------------------------------------------------------------------ the agent's desk
    def _desk(self, event: ev.AcdInput) -> None:
        self.core.validate(event)
        self.submit(event)

    def login(self, agent_id: str, ready: bool = True, *, by: str | None = None) -> None:
        self._desk(ev.AgentLogin(self.now(), agent_id, ready, by=by))

    def logout(self, agent_id: str, *, by: str | None = None) -> None:
        """Only from ready, not ready or wrap-up: a call in progress (or ringing) finishes first."""
        self._desk(ev.AgentLogout(self.now(), agent_id, by=by, forced=by not in (None, agent_id)))

    def set_ready(self, agent_id: str, *, by: str | None = None) -> None:
        self._desk(ev.AgentReady(self.now(), agent_id, by=by))

    def set_not_ready(self, agent_id: str, reason: str, *, by: str | None = None, after_call: bool = False) -> None:
        """A pause with a reason from the catalogue. A ringing offer is withdrawn and its leg
        cancelled; with ``after_call`` an agent on a call is paused when it is done."""
        if self.catalogue.reason(reason) is None:
            raise InvalidChoice("reason", reason, [r.code for r in self.catalogue.not_ready_reasons])
        self._desk(ev.AgentNotReady(self.now(), agent_id, reason, by=by, after_call=after_call))

    def set_not_ready_after_call(self, agent_id: str, reason: str, *, by: str | None = None) -> None:
        self.set_not_ready(agent_id, reason, by=by, after_call=True)

    def finish_wrapup(self, agent_id: str, disposition: str, notes: str | None = None, *, ready: bool = True) -> str:
        """The agent gives the call its disposition (and notes); returns the call id."""
        if self.catalogue.disposition(disposition) is None:
            raise InvalidChoice("disposition", disposition, [d.code for d in self.catalogue.dispositions])
        call_id = self.core.wrapups.get(self.core.agent(agent_id).id)
        self._desk(ev.WrapUpFinished(self.now(), agent_id, disposition, (notes or "").strip()[:2000] or None, ready))
        assert call_id is not None  # validate() refused an agent not in wrap-up
        return call_id

    def extend_wrapup(self, agent_id: str, seconds: float) -> None:
        """More after-call work time: the timer restarts with ``seconds`` left."""
        if not 0 < seconds <= 3600:
            raise InvalidChoice("seconds", str(seconds))
        self._desk(ev.WrapUpExtended(self.now(), agent_id, seconds))

    def book_callback(self, call_id: str, queue: str, number: str, *, preferred_agent: str | None = None, sticky_s: float = 0.0,
                      customer_id: str | None = None, priority: int = 0, task_id: str | None = None) -> None:
        """An outbound call-back nobody waits on the line for (a follow-up task fell due): it
        joins ``queue`` as a callback; ``preferred_agent`` alone is rung for ``sticky_s``, then
        anyone; the agent's leg then dials ``number`` (the core's policy decides, in acd.routing)."""
        self.submit(ev.CallbackBooked(self.now(), call_id, queue, number, preferred_agent, sticky_s, customer_id, priority, task_id))

    def wrapup_call(self, agent_id: str) -> str | None:
        return self.core.wrapups.get(agent_id)

    def wrapup_entry(self, agent_id: str) -> CallEntry | None:
        call_id = self.core.wrapups.get(agent_id)
        live = self.core.live.get(call_id or "")
        return live.entry if live else None

    @property
    def connected_entries(self) -> dict[str, CallEntry]:
        """Connected calls' entries, by call id (the screen-pop)."""
        return {cid: live.entry for cid, live in self.core.live.items() if live.ended_at is None}

    def apply_config(self, queues: Sequence[QueueConfig], agents: Sequence[AgentConfig], *, rona_recover_s: float | None = None) -> list[Command]:
        """Queues and agents changed in ``config/`` (or by the API): applied live through the
        log; calls in flight keep their place."""
        recover = self.core.rona_recover_s if rona_recover_s is None else rona_recover_s
        out = self.submit(ev.ConfigApplied(self.now(), tuple(queues), tuple(agents), rona_recover_s=recover, id_prefix=self.core.id_prefix))
        for q in queues:
            self.telemetry.set_queue_targets(q.name, q.service_level_s, q.service_level_goal)
        return out

    # ------------------------------------------------------------------ views
    def live(self) -> dict[str, Any]:
        """The live state for the wallboard and the API."""
        snap = self.core.snapshot(self.now())
        for name, q in snap["queues"].items():
            day = self.telemetry.queue_today(name)
            q.update(answered=day.answered, abandoned=day.abandoned, service_level=day.service_level("answered"), asa_s=day.asa_s, aht_s=day.aht_s)
        return snap

    def publish(self, telemetry: Telemetry) -> None:
        """Scrape hook: queue and agent gauges from the live state."""
        snap = self.core.snapshot(self.now())
        counts: dict[str, int] = {}
        for agent in snap["agents"].values():
            counts[agent["state"]] = counts.get(agent["state"], 0) + 1
        telemetry.set_agent_states(counts)
        for name, q in snap["queues"].items():
            logged_in = sum(1 for a in self.core.agents.values() if a.state.value != "logged_out" and self.core.can_serve(a, name))
            available = sum(1 for a in self.core.agents.values() if a.state.value == "ready" and self.core.can_serve(a, name))
            telemetry.set_queue_snapshot(name, q["waiting"], q["longest_wait_s"], logged_in, available)

    async def resync(self) -> int:
        return await self.edge.resync()
