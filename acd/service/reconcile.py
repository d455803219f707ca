"""No call left open on the record after the engine lost it (issue #12.2).

A killed engine leaves its calls without an end on the record: the caller's FastAGI session
broke, ``[acd-fallback]`` took the caller on (the resume, or app_queue when no engine answered),
and nothing recorded how the call ended. Two ways close them, with an honest outcome
(``engine_lost_call``, noting the fallback when AMI showed it):

- on engine start and on every AMI (re)connect, after the re-sync's ``CoreShowChannels``: every
  interaction in the store without an end whose channel Asterisk no longer has, and that this
  engine is not handling, is closed at the time of its last event;
- while the engine runs, the dialplan's hangup handler ``UserEvent(AcdHangup)`` (sent for every
  caller channel as it is destroyed) closes a call whose session ended without a clean end here.

The core's own calls are not touched: the re-sync's ``ChannelsPresent`` repairs those.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import TYPE_CHECKING, Any

from acd import events as rec
from acd.ami import Event
from acd.logs import get_logger
from acd.deadline import within

if TYPE_CHECKING:
    from acd.service.acd import AcdService
    from acd.service.calllog import MemoryCallLog
    from acd.service.ivr import IvrEntry
    from acd.store.durable import DurableRecorder
    from acd.store.sql import SqlStore

log = get_logger(__name__)

LOST = "engine_lost_call"
FALLBACK_CONTEXT = "acd-fallback"


class Reconciler:
    def __init__(self, acd: AcdService, ivr: IvrEntry, calllog: MemoryCallLog, store: SqlStore | None,
                 records: DurableRecorder | None, *, drain_timeout_s: float = 10.0, query_timeout_s: float = 10.0,
                 keep: int = 10_000) -> None:
        self.acd = acd
        self.ivr = ivr
        self.calllog = calllog
        self.store = store
        self.records = records
        self.drain_timeout_s = drain_timeout_s
        self.query_timeout_s = query_timeout_s
        self.keep = keep
        self.fallback_seen: OrderedDict[str, None] = OrderedDict()  # callers AMI showed in [acd-fallback]'s queue
        self.closed: list[str] = []  # call ids closed here (the tests and the log read it)
        self._unsubscribe: list[Any] = []

    # ------------------------------------------------------------------ wiring
    def subscribe(self) -> None:
        ami = self.acd.ami
        self._unsubscribe.append(ami.subscribe("UserEvent", self._on_user_event))
        self._unsubscribe.append(ami.subscribe("QueueCallerJoin", self._on_queue_caller_join))
        self.acd.edge.resync_hooks.append(self._after_resync)

    def unsubscribe(self) -> None:
        for unsub in self._unsubscribe:
            unsub()
        self._unsubscribe.clear()
        if self._after_resync in self.acd.edge.resync_hooks:
            self.acd.edge.resync_hooks.remove(self._after_resync)

    # ------------------------------------------------------------------ AMI in
    def _on_queue_caller_join(self, event: Event) -> None:
        if event.get("Context") == FALLBACK_CONTEXT:
            self._note_fallback(_uniqueid(event))

    def _note_fallback(self, uid: str) -> None:
        if uid:
            self.fallback_seen[uid] = None
            self.fallback_seen.move_to_end(uid)
            while len(self.fallback_seen) > self.keep:
                self.fallback_seen.popitem(last=False)

    def _on_user_event(self, event: Event) -> None:
        if event.get("UserEvent") != "AcdHangup":
            return
        uid = _uniqueid(event)
        if not uid or self._handled_here(uid) or self._ended_here(uid):
            return
        self.acd._spawn(self._close_if_open(uid, self.acd.now(), "session ended without a clean end (AcdHangup)"),
                        f"acd-reconcile-hangup-{uid}")

    def _after_resync(self, present: frozenset[str], channels: list[Event]) -> None:
        for ch in channels:
            if ch.get("Context") == FALLBACK_CONTEXT and ch.get("Application") == "Queue":
                self._note_fallback(ch.get("Uniqueid", "") or "")
        self.acd._spawn(self.reconcile(present), "acd-reconcile")

    # ------------------------------------------------------------------ closing
    async def reconcile(self, present: frozenset[str]) -> list[str]:
        """Close every open interaction in the store whose channel is not in ``present`` and
        that this engine is not handling. Returns the call ids closed."""
        if self.store is None:
            return []
        await self._drain()
        try:
            open_calls = await within(self.store.open_interactions(), self.query_timeout_s)
        except Exception as exc:  # noqa: BLE001 - the store is down: the next (re)connect tries again
            log.warn_event("acd.reconcile.store_unavailable", error=type(exc).__name__)
            return []
        closed = []
        for call_id, last_seen in open_calls:
            if call_id in present or self._handled_here(call_id) or self._ended_here(call_id):
                continue
            self._close(call_id, last_seen, "no channel in Asterisk")
            closed.append(call_id)
        log.event("acd.reconcile.done", open=len(open_calls), closed=len(closed))
        return closed

    async def _close_if_open(self, call_id: str, at: float, reason: str) -> None:
        if self.calllog.timeline(call_id):  # this process saw the call and saw no clean end
            self._close(call_id, at, reason)
            return
        if self.store is None:
            return
        await self._drain()
        try:
            stored = await within(self.store.interaction(call_id), self.query_timeout_s)
        except Exception as exc:  # noqa: BLE001 - unknown here (NotFound) or the store is down: the next re-sync closes it
            log.event("acd.reconcile.hangup_unknown", call_id=call_id, error=type(exc).__name__)
            return
        if stored.ended_at is None and not self._handled_here(call_id):
            self._close(call_id, at, reason)

    def _close(self, call_id: str, last_seen: float, reason: str) -> None:
        fallback = call_id in self.fallback_seen
        self.calllog.event(call_id, rec.CallClosed(outcome=LOST, reason=reason, fallback=fallback, last_seen=last_seen))
        self.closed.append(call_id)
        log.warn_event("acd.reconcile.closed", call_id=call_id, outcome=LOST, reason=reason, fallback=fallback)

    async def _drain(self) -> None:
        """What the spool holds (a previous process's events among them) reaches the store first."""
        if self.records is None:
            return
        try:
            await within(self.records.drain(), self.drain_timeout_s)
        except TimeoutError:
            log.warn_event("acd.reconcile.spool_behind", backlog_bytes=self.records.backlog_bytes())

    # ------------------------------------------------------------------ what this engine holds
    def _handled_here(self, call_id: str) -> bool:
        core = self.acd.core
        return call_id in self.ivr.active or call_id in core.calls or call_id in core.live

    def _ended_here(self, call_id: str) -> bool:
        return any(isinstance(rec.from_timeline(e), (rec.IvrEnded, rec.CallClosed)) for e in self.calllog.timeline(call_id))


def _uniqueid(event: Event) -> str:
    """The channel's uniqueid. ``UserEvent(AcdHangup,Uniqueid: ...)`` repeats the header: Asterisk
    sends both (recorded as ``a|a`` in observed/*.jsonl); the first is the channel's."""
    return (event.get("Uniqueid") or "").split("|", 1)[0]
