"""The FastAGI ``ivr`` entry: every inbound call starts here.

It runs the call's flow when a flow runner is configured; without one, or when the flow fails,
the caller is never left in silence: an apology, then the fallback queue (Wazo-style "fall back
to a safe path on any failure")."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from acd import events as rec
from acd.agi.channel import AgiChannel
from acd.agi.errors import AgiError, AgiHangup
from acd.clock import Clock
from acd.logs import get_logger
from acd.ports import InteractionRecorder
from acd.routing.model import CallEntry
from acd.service.acd import AcdService
from acd.deadline import within

log = get_logger(__name__)

FlowRunner = Callable[[AgiChannel], Awaitable[str]]


class IvrEntry:
    def __init__(
        self,
        acd: AcdService,
        recorder: InteractionRecorder,
        clock: Clock,
        *,
        fallback_queue: str,
        flow_runner: FlowRunner | None = None,
        greeting: str = "welcome",
        history: Callable[[str], Awaitable[list[dict[str, Any]]]] | None = None,
    ) -> None:
        self.acd = acd
        self.recorder = recorder
        self.clock = clock
        self.fallback_queue = fallback_queue
        self.flow_runner = flow_runner
        self.greeting = greeting
        self.history = history  # the call's stored timeline (acd.store.sql.SqlStore.timeline)
        self.active: set[str] = set()  # call ids whose FastAGI session (ivr or resume) is open here

    async def __call__(self, channel: AgiChannel) -> None:
        env = channel.env
        call_id = env.uniqueid
        self.active.add(call_id)
        self.recorder.event(call_id, rec.CallStarted(ani=env.callerid, dnis=env.dnis, channel=env.channel,
                                                     uniqueid=env.uniqueid, linkedid=env.linkedid))
        outcome = "abandoned_ivr"
        try:
            # the engine answers the caller ([acd-inbound] has no Answer(): the session opens while
            # the call still rings, and Asterisk's wait for the caller's first media runs beside the
            # routing); the reply is read by the flow's first command, so a flow that queues at
            # once has its agent's Originate written before it
            channel.answer_ahead()
            if self.flow_runner is not None:
                try:
                    outcome = await self.flow_runner(channel)
                    await self._handled(channel)
                    return
                except AgiHangup:
                    raise
                except Exception as exc:
                    log.error_event("ivr.flow.failed", error=repr(exc))
                    self.recorder.event(call_id, rec.FlowRunnerFailed(error=type(exc).__name__))
                    await channel.stream_file("queue-periodic-announce")  # "all representatives are busy, please wait"
            else:
                await channel.stream_file(self.greeting)
            outcome = await self.queue(channel, self.fallback_queue)
            await self._handled(channel)
        except AgiHangup:
            pass
        except AgiError as exc:
            log.warn_event("ivr.agi_error", error=str(exc))
        finally:
            self.recorder.event(call_id, rec.IvrEnded(outcome=outcome))  # the session ends; a connected call goes on
            self.active.discard(call_id)

    @staticmethod
    async def _handled(channel: AgiChannel) -> None:
        """The engine dealt with the call and lets the dialplan go on (overflow, timeout, no
        agents): ``[acd-fallback]`` must not resume it into a queue again. A session that broke
        never gets here, so a caller whose node died is still resumed."""
        try:
            await channel.set_variable("ACD_RESUMED", "1")
        except AgiError:
            pass  # bridged away or hung up: nothing follows in the dialplan anyway

    async def resume(self, channel: AgiChannel) -> None:
        """The ``resume`` script (``[acd-fallback]``): the caller's session with an engine node
        broke (that node died, or gave up on it) and the dialplan brings the caller back once.
        The caller goes straight back into the queue it was in, with the requirements it had,
        as far as the store knows them; else into the fallback queue."""
        env = channel.env
        call_id = env.uniqueid
        self.active.add(call_id)
        self.recorder.event(call_id, rec.Resumed(channel=env.channel))
        channel.answer_ahead()  # a caller whose first session never opened (no engine) is not answered yet
        previous = await self._last_queue_entry(call_id)
        outcome = "abandoned_queue"
        try:
            queue = str(previous["queue"]) if previous and previous.get("queue") in self.acd.core.queues else self.fallback_queue
            outcome = await self.queue(
                channel, queue, priority=int(previous.get("priority") or 0) if previous else 0,
                skills=dict(previous.get("skills") or {}) if previous else None,
                language=previous.get("language") if previous else None,
                enqueued_at=float(previous["enqueued_at"]) if previous and previous.get("enqueued_at") else None,
            )
        except AgiHangup:
            pass
        except AgiError as exc:
            log.warn_event("ivr.resume.agi_error", error=str(exc))
        finally:
            self.recorder.event(call_id, rec.IvrEnded(outcome=outcome, resumed=True))
            self.active.discard(call_id)

    async def _last_queue_entry(self, call_id: str) -> dict[str, Any] | None:
        if self.history is None:
            return None
        try:
            events = await within(self.history(call_id), 2.0)
        except Exception as exc:  # noqa: BLE001 - the store is slow or down: the fallback queue will do
            log.warn_event("ivr.resume.history_unavailable", error=type(exc).__name__)
            return None
        entries = [e for e in events if isinstance(rec.from_timeline(e), rec.QueueEntered)]
        return entries[-1] if entries else None

    async def queue(self, channel: AgiChannel, queue: str, *, priority: int = 0, skills: dict[str, int] | None = None,
                    language: str | None = None, enqueued_at: float | None = None) -> str:
        """Queue the caller. A resumed caller passes its original ``enqueued_at``: it keeps the
        place it had earned before its session broke."""
        env = channel.env
        entry = CallEntry(
            call_id=env.uniqueid, queue=queue, caller_channel=env.channel,
            enqueued_at=enqueued_at if enqueued_at is not None else self.clock.now(),
            priority=priority, caller_number=env.callerid, skills=dict(skills or {}), language=language,
            resumed=enqueued_at is not None,
        )
        result = await self.acd.wait_in_queue(channel, entry)
        return {"answered": "answered", "abandoned": "abandoned_queue", "callback": "callback"}.get(result, result)
