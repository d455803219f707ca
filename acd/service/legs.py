"""The agent's leg, as the service carries out the core's offer commands: the reservation in the
live store, the agent's ``Originate`` (with our ``ChannelId``, the offer id), its cancel, the
answered leg's FastAGI ``claim`` (one leg per caller reaches ``Bridge()``), the releases and
confirmations of the reservation, and the call's MixMonitor. No ACD policy lives here: the core
decides who is rung and when; this module only does it.

With the in-process store (one node) the reservation answers at once, so the Originate is
written inside the ``submit`` that made the routing decision (``ring_at_once``); with the shared
store the reservation is a round trip, made by the ring task (``ring``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from acd import events as rec
from acd.agi.channel import AgiChannel
from acd.ami import AmiError, AmiLinkLost
from acd.ami.actions import OriginateRequest, hangup, mix_monitor, originate, originate_now
from acd.ami.frames import Response
from acd.livestate import MemoryLiveStore
from acd.logs import bind_call, get_logger
from acd.routing import inputs as ev
from acd.routing.commands import CancelLeg, ConfirmAgent, Ring
from acd.routing.model import Offer
from acd.deadline import within

if TYPE_CHECKING:
    from acd.service.acd import AcdService

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
class RingStart:
    """A reservation made at once, and the Originate already written when it succeeded."""

    reserved: bool = False
    not_leader: bool = False
    store_error: Exception | None = None
    ami_error: AmiError | None = None
    reply: Coroutine[Any, Any, Response] | None = None  # the written Originate's response, to await


def _log_store_error(what: str, exc: Exception) -> None:
    log.warn_event("acd.store.unavailable", op=what, error=type(exc).__name__)


CLAIM_TTL_S = 3600.0


class AgentLegs:
    """Rings, cancels and claims agent legs for one ``AcdService``, and keeps the live store's
    reservations in step with the core's offers."""

    def __init__(self, acd: AcdService) -> None:
        self.acd = acd
        self.claims: dict[str, asyncio.Future[bool]] = {}  # offer id -> the core's answer to its claim
        # How long the live store keeps a caller's claim: longer than any leg can still answer. One
        # claim a call stays that long (bench/soak.py shortens it, as it does the other bounded caches).
        self.claim_ttl_s = CLAIM_TTL_S

    # ------------------------------------------------------------------ ringing
    def ring_command(self, command: Ring) -> None:
        """Carry out ``Ring``: the reservation and the Originate at once when the store allows,
        the rest (or all of it, with the shared store) in the offer's task."""
        start = self.ring_at_once(command)
        task = self.acd._spawn(self.ring(command, start), f"acd-offer-{command.offer.offer_id}")
        reply = start.reply if start is not None else None
        if reply is not None:
            task.add_done_callback(lambda _t: reply.close())  # a task cancelled before it ran never awaited it

    def originate_request(self, command: Ring) -> OriginateRequest:
        """The agent's Originate: into ``[acd-connect]`` (or ``[acd-callback]``, dialling the
        customer's number), with the offer id as its ChannelId."""
        acd = self.acd
        offer, callback = command.offer, command.callback_number
        return OriginateRequest(
            channel=offer.endpoint, context=acd.callback_context if callback else acd.connect_context,
            exten=_dialable(callback) if callback else "s", priority=1,
            channel_id=offer.offer_id, timeout_ms=int(offer.ring_timeout_s * 1000),
            caller_id=f'"{"Callback " if callback else ""}{_cid_text(offer.queue)}" <{_cid_text(command.caller_number, 40)}>',
            variables={"ACD_CALLER": offer.call_id, "ACD_OFFER": offer.offer_id, "ACD_QUEUE": offer.queue,
                       "ACD_BRIDGE_OPTS": self.bridge_options(offer.queue, callback)},
        )

    def bridge_options(self, queue: str, callback: str | None) -> str:
        """``[acd-connect]``'s Bridge() options: ``x`` hangs the caller up with the agent; a queue
        with a post-call survey continues the caller in ``[acd-survey]`` instead (``F()``)."""
        q = self.acd.core.queues.get(queue)
        return SURVEY_BRIDGE_OPTS if q is not None and q.survey and not callback else "x"

    @property
    def store_now(self) -> MemoryLiveStore:
        """The in-process store, whose operations answer at once."""
        store = self.acd.store
        assert isinstance(store, MemoryLiveStore)
        return store

    def ring_at_once(self, command: Ring) -> RingStart | None:
        """With the in-process store (one node) the reservation answers at once, so the
        agent's Originate is written here, in the step of the event loop that made the routing
        decision, before anything else that step does. None: the shared store's reservation is
        a round trip, made by the ring task (``ring``)."""
        acd = self.acd
        if not isinstance(acd.store, MemoryLiveStore):
            return None
        offer = command.offer
        try:
            reserved = acd.store.reserve_now(offer.agent_id, offer.offer_id, acd.node_id, offer.ring_timeout_s + 10, token=acd.token)
        except Exception as exc:  # noqa: BLE001 - a stale fencing token: fail closed, as reserve does
            return RingStart(store_error=exc)
        if not reserved:
            return RingStart(reserved=False)
        if not acd.may_act():
            return RingStart(reserved=True, not_leader=True)
        try:
            return RingStart(reserved=True, reply=originate_now(acd.ami, self.originate_request(command)))
        except AmiError as exc:  # the link is down: nothing was sent
            return RingStart(reserved=True, ami_error=exc)

    async def ring(self, command: Ring, start: RingStart | None = None) -> None:
        """The offer's task: reserve (unless done at once), send or await the Originate, record
        that the agent rang, and hang the leg up if the offer was withdrawn meanwhile."""
        acd, offer = self.acd, command.offer
        with bind_call(offer.call_id):
            if start is None:
                if not await self.reserve(offer):
                    return
                start = RingStart(reserved=True, not_leader=not acd.may_act())  # the lease may have lapsed meanwhile
            elif not self.reserved(offer, start):
                return
            if start.not_leader:
                log.warn_event("acd.offer.not_leader", offer=offer.offer_id, agent=offer.agent_id)
                return
            try:
                if start.ami_error is not None:
                    raise start.ami_error
                await (start.reply if start.reply is not None else originate(acd.ami, self.originate_request(command)))
            except AmiLinkLost:
                # It may or may not have reached Asterisk: never re-sent; the re-sync after the
                # reconnect finds the leg by its ChannelId or fails the offer.
                log.warn_event("acd.offer.link_lost", offer=offer.offer_id, agent=offer.agent_id)
                return
            except AmiError as exc:
                log.warn_event("acd.offer.originate_failed", offer=offer.offer_id, agent=offer.agent_id, error=str(exc))
                acd.submit(ev.OfferFailed(acd.now(), offer.offer_id, ev.FailCause.ORIGINATE_ERROR))
                return
            acd.recorder.event(offer.call_id, rec.OfferRang(agent=offer.agent_id, offer=offer.offer_id, ring_timeout_s=offer.ring_timeout_s))
            acd.emit(rec.OfferRang.kind, {"agent_id": offer.agent_id, "call_id": offer.call_id, "queue": offer.queue, "customer_id": command.customer_id})
            if offer.offer_id not in acd.core.offers and offer.call_id not in acd.core.connected:
                await self.hangup_leg(offer.offer_id, offer.agent_id)  # withdrawn while the Originate was in flight

    def reserved(self, offer: Offer, start: RingStart) -> bool:
        """What ``reserve`` does with the outcome of a reservation made at once."""
        acd = self.acd
        if start.store_error is not None:
            _log_store_error("reserve", start.store_error)
            acd.telemetry.state_repair("store_unavailable")
            acd.submit(ev.OfferFailed(acd.now(), offer.offer_id, ev.FailCause.ORIGINATE_ERROR))
            return False
        if not start.reserved:
            log.event("acd.offer.agent_busy_elsewhere", agent=offer.agent_id, offer=offer.offer_id)
            acd.submit(ev.OfferFailed(acd.now(), offer.offer_id, ev.FailCause.NOT_RESERVED))
        return start.reserved

    async def reserve(self, offer: Offer) -> bool:
        """The shared reservation, fail closed: a store that cannot answer rings nobody, and
        routing pauses until it answers again."""
        acd = self.acd
        try:
            # asyncio.timeout, not wait_for: no task of its own, so a store that answers without
            # waiting (the in-process one) lets the Originate go out in this same step of the loop
            async with asyncio.timeout(2.0):
                ok = await acd.store.reserve(offer.agent_id, offer.offer_id, acd.node_id, offer.ring_timeout_s + 10, token=acd.token)
        except Exception as exc:  # noqa: BLE001 - an outage of the store is an outcome here: fail closed
            _log_store_error("reserve", exc)
            acd.telemetry.state_repair("store_unavailable")
            acd.submit(ev.OfferFailed(acd.now(), offer.offer_id, ev.FailCause.ORIGINATE_ERROR))
            return False
        if not ok:
            log.event("acd.offer.agent_busy_elsewhere", agent=offer.agent_id, offer=offer.offer_id)
            acd.submit(ev.OfferFailed(acd.now(), offer.offer_id, ev.FailCause.NOT_RESERVED))
        return ok

    # ------------------------------------------------------------------ cancelling
    def cancel_command(self, command: CancelLeg) -> None:
        """Carry out ``CancelLeg`` in a task of its own (``stop`` waits for these, bounded)."""
        self.acd._spawn(self.cancel_leg(command), f"acd-cancel-{command.offer_id}")

    async def cancel_leg(self, command: CancelLeg) -> None:
        self.release(command.agent_id, command.offer_id)
        await self.hangup_leg(command.offer_id, command.agent_id)

    async def hangup_leg(self, offer_id: str, agent_id: str) -> None:
        acd = self.acd
        if not acd.may_act():
            log.warn_event("acd.offer.not_leader", offer=offer_id, agent=agent_id)
            return
        try:
            await hangup(acd.ami, offer_id, cause=16)
            acd.telemetry.agent_offer("cancelled")
            log.event("acd.offer.cancelled", offer=offer_id, agent=agent_id)
        except AmiError as exc:
            log.warn_event("acd.offer.cancel_failed", offer=offer_id, error=str(exc))

    # ------------------------------------------------------------------ the reservation in the live store
    def release(self, agent_id: str, holder: str) -> None:
        """Free the agent in the live store: at once in process (so a reservation the core issues
        after it finds the agent free), else by a task, still ahead of the reservations after it."""
        acd = self.acd
        token = acd.token
        if isinstance(acd.store, MemoryLiveStore):
            self._store_now(lambda: self.store_now.release_now(agent_id, holder, token=token), "release")
        else:
            self.store_op(lambda: acd.store.release(agent_id, holder, token=token), "release")

    def confirm(self, command: ConfirmAgent) -> None:
        """The agent's reservation becomes the call's (connected): at once in process, else by a task."""
        acd = self.acd
        token = acd.token
        if isinstance(acd.store, MemoryLiveStore):
            self._store_now(lambda: self.store_now.confirm_now(command.agent_id, command.offer_id, command.call_id, token=token), "confirm")
        else:
            self.store_op(lambda: acd.store.confirm(command.agent_id, command.offer_id, command.call_id, token=token), "confirm")

    @staticmethod
    def _store_now(op: Callable[[], Any], what: str) -> None:
        try:
            op()
        except Exception as exc:  # noqa: BLE001 - a stale fencing token: logged, as store_op does
            _log_store_error(what, exc)

    def store_op(self, op: Callable[[], Any], what: str) -> None:
        """Run a store operation in a task, bounded; an outage is logged (the reservation
        expires by itself)."""
        async def run() -> None:
            try:
                async with asyncio.timeout(5.0):  # like reserve: no task of its own, so a release
                    await op()  # spawned before a reservation is also carried out before it
            except Exception as exc:  # noqa: BLE001 - logged and counted; the reservation expires by itself
                _log_store_error(what, exc)
        self.acd._spawn(run(), f"acd-store-{what}")

    # ------------------------------------------------------------------ the answered leg's claim
    def answer_claim(self, offer_id: str, won: bool) -> None:
        """The core's answer to a claim (``AnswerClaim``) reaches the FastAGI session waiting on it."""
        future = self.claims.pop(offer_id, None)
        if future is not None and not future.done():
            future.set_result(won)

    async def handle_claim(self, channel: AgiChannel) -> None:
        """The answered agent leg asks whether it may bridge: the core says, then the shared
        claim (one leg per caller) confirms; sets ``ACD_CLAIM`` to ``ok`` or ``lost``."""
        acd = self.acd
        offer_id = channel.env.uniqueid
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self.claims[offer_id] = future
        acd.submit(ev.ClaimAsked(acd.now(), offer_id, acd.node_id))
        if not future.done() and acd.replica is not None:  # the answer comes back through the log
            try:
                await within(asyncio.shield(future), 3.0)
            except TimeoutError:
                log.warn_event("acd.offer.claim_unanswered", offer=offer_id)
        won = future.result() if future.done() else False
        self.claims.pop(offer_id, None)
        if won:
            offer = acd.core.offers.get(offer_id)
            entry = acd.core.calls.get(offer.call_id) if offer else None
            if offer is not None and entry is not None:
                # one leg per caller may reach the bridge; a callback is claimed afresh on each attempt
                key = f"{offer.call_id}:callback-{entry.callback_attempts}" if entry.callback_number else offer.call_id
                try:
                    won = await within(acd.store.claim(key, offer_id, self.claim_ttl_s, token=acd.token), 2.0)
                except Exception as exc:  # noqa: BLE001 - fail closed: no bridge without the shared claim
                    _log_store_error("claim", exc)
                    won = False
        await channel.set_variable("ACD_CLAIM", "ok" if won else "lost")
        log.event("acd.offer.claim", offer=offer_id, won=won)

    # ------------------------------------------------------------------ the call's recording
    def start_recording(self, call_id: str, channel: str) -> None:
        """Carry out ``StartRecording`` (when calls are recorded) in a task of its own."""
        if self.acd.record_calls:
            self.acd._spawn(self.record(call_id, channel), f"acd-record-{call_id}")

    async def record(self, call_id: str, channel: str) -> None:
        acd = self.acd
        path = f"{acd.recordings_dir}/{call_id}.wav"
        try:
            await mix_monitor(acd.ami, channel, path)
            acd.recorder.event(call_id, rec.RecordingStarted(file=path))
        except AmiError as exc:
            log.warn_event("acd.recording.failed", call_id=call_id, error=str(exc))
