"""The waiting caller's FastAGI session: music-on-hold slices with position, estimated wait and
"press 1 to be called back" between them, until the core ends the wait (``EndWait``).

The session is I/O only: joining, leaving, timeouts, overflow and callbacks are the core's
decisions, reached through events. The caller leaving is told by AMI at once (HangupRequest on
the caller's channel, see shared/asterisk/observed/caller_hangs_up_while_agent_rings.ami.jsonl),
so a ringing agent is cancelled without waiting for this session to close.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from acd.agi.channel import AgiChannel
from acd.agi.errors import AgiHangup
from acd.logs import get_logger
from acd.routing import inputs as ev
from acd.routing.model import CallEntry, QueueConfig
from acd.deadline import within

if TYPE_CHECKING:
    from acd.service.acd import AcdService

log = get_logger(__name__)


@dataclass
class Waiter:
    entry: CallEntry
    done: asyncio.Future[str] = field(default_factory=lambda: asyncio.get_running_loop().create_future())
    announced_ewt_s: float | None = None


class WaitingRoom:
    def __init__(self, acd: AcdService, *, bridge_grace_s: float = 2.0, moh_margin_s: float = 30.0) -> None:
        self.acd = acd
        self.bridge_grace_s = bridge_grace_s
        self.moh_margin_s = moh_margin_s  # how late a music slice may end before the session is declared broken
        self.waiters: dict[str, Waiter] = {}

    def end_wait(self, call_id: str, outcome: str) -> None:
        waiter = self.waiters.get(call_id)
        if waiter is None or waiter.done.done():
            return
        if outcome == "answered" and waiter.announced_ewt_s is not None:
            self.acd.telemetry.ewt_error((self.acd.now() - waiter.entry.enqueued_at) - waiter.announced_ewt_s)
        waiter.done.set_result(outcome)

    async def wait(self, channel: AgiChannel, entry: CallEntry) -> str:
        waiter = Waiter(entry)
        self.waiters[entry.call_id] = waiter
        core = self.acd.core
        try:
            self.acd.submit(queued_event(entry, self.acd.now(), self.acd.node_id))
            first = True
            while not waiter.done.done():
                q = core.queues[core.calls[entry.call_id].queue] if entry.call_id in core.calls else core.queues[entry.queue]
                if not first:
                    await self._announce(channel, waiter, q)
                    if await self._offer_callback(channel, waiter, q):
                        continue
                first = False
                if waiter.done.done():
                    break
                await channel.exec("MusicOnHold", q.moh_class, str(int(q.moh_slice_s)), timeout=q.moh_slice_s + self.moh_margin_s)
            outcome = waiter.done.result()
            if outcome == "callback":
                await self._confirm_callback(channel)
            return outcome
        except AgiHangup:
            # Bridged away (200 result=-1, then HANGUP) or the caller hung up; AMI normally told
            # the core already (BridgeEnter, HangupRequest). Else wait a moment for it.
            if not waiter.done.done():
                try:
                    await within(asyncio.shield(waiter.done), self.bridge_grace_s)
                except TimeoutError:
                    self.acd.submit(ev.CallerLeft(self.acd.now(), entry.call_id, "abandoned"))
            return waiter.done.result() if waiter.done.done() else "abandoned"
        except BaseException:
            # the session broke (timeout, protocol error, shutdown): Asterisk takes the caller
            # to acd-fallback, so the entry must not stay queued and get an agent rung for it
            if not waiter.done.done():
                self.acd.submit(ev.CallerLeft(self.acd.now(), entry.call_id, "engine_error"))
            raise
        finally:
            self.waiters.pop(entry.call_id, None)

    async def _announce(self, channel: AgiChannel, waiter: Waiter, q: QueueConfig) -> None:
        """Position and estimated wait between music slices; cut short by Bridge() when an agent
        answers (the AGI command then returns -1 and the wait ends)."""
        core, call_id = self.acd.core, waiter.entry.call_id
        if q.announce_position:
            pos = core.position(call_id)
            if pos:
                await channel.stream_file("queue-youarenext" if pos == 1 else "queue-thereare")
                if pos > 1:
                    await channel.say_number(pos)
                    await channel.stream_file("queue-callswaiting")
        if q.announce_ewt:
            ewt = core.estimated_wait(call_id)
            if ewt is not None and ewt >= 60:
                waiter.announced_ewt_s = ewt
                await channel.stream_file("queue-holdtime")
                await channel.say_number(max(1, round(ewt / 60)))
                await channel.stream_file("queue-minutes")

    async def _offer_callback(self, channel: AgiChannel, waiter: Waiter, q: QueueConfig) -> bool:
        """"Press 1 to be called back", once the caller has waited long enough and has a number
        to call; True when the core booked it (the wait then ends with ``callback``)."""
        entry = self.acd.core.calls.get(waiter.entry.call_id)
        waited = self.acd.now() - waiter.entry.enqueued_at
        if entry is None or not q.callback_key or waited < q.callback_after_s or not entry.caller_number or entry.offer_id is not None:
            return False
        result = await channel.stream_file("acd/press-1-for-a-callback", q.callback_key)
        if result.digit != q.callback_key or waiter.done.done():
            return False
        self.acd.submit(ev.CallbackAsked(self.acd.now(), entry.call_id, entry.caller_number))
        if waiter.done.done() and waiter.done.result() == "callback":
            log.event("acd.callback.booked", call_id=entry.call_id, queue=entry.queue)
            return True
        return False

    @staticmethod
    async def _confirm_callback(channel: AgiChannel) -> None:
        try:
            await channel.stream_file("acd/we-will-call-you-back")
            await channel.hangup()
        except AgiHangup:
            pass


def queued_event(entry: CallEntry, now: float, node: str) -> ev.CallQueued:
    def attr(v: object) -> str | int | float | bool:
        return v if isinstance(v, (str, int, float, bool)) else str(v)

    return ev.CallQueued(
        now, entry.call_id, entry.queue, entry.caller_channel, entry.enqueued_at, priority=entry.priority,
        caller_number=entry.caller_number, skills=tuple(sorted(entry.skills.items())),
        preferred_skills=tuple(sorted(entry.preferred_skills.items())), language=entry.language,
        preferred_agent=entry.preferred_agent, sticky_s=entry.sticky_s, customer_id=entry.customer_id,
        verification=entry.verification, locked=entry.locked, vip=entry.vip,
        attributes=tuple(sorted((k, attr(v)) for k, v in entry.attributes.items())), node=node,
        resumed=entry.resumed,
    )
