"""One engine node among several on one Redis: the leader routes, the others keep a hot copy.

Every node rebuilds its core from the last snapshot plus the log, then tails the log
(``acd.eventlog.Follower``) and campaigns for the lease. The node that holds the lease is the
only one that routes: its inputs (AMI events, timers, its own FastAGI and API requests, and the
other nodes' inputs taken from the inbox) are appended to the log with its fencing token *before*
the core handles them, so each command it carries out follows a successful ``fenced_append``; a
node whose lease lapsed is refused and issues nothing. A node that does not lead puts its inputs
in the inbox. Commands for a caller's FastAGI session (``EndWait``, ``AnswerClaim``) name the
node that holds it, and that node carries them out when it applies the entry from the log.

On winning the lease a node has already applied the whole log: it arms the core's timers,
subscribes to AMI and re-syncs with Asterisk (what happened while nobody led), then routes."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from acd.eventlog import Entry, EventLogError, FencingToken, Follower, LeaderLease, LogGap, Unavailable
from acd.eventlog.inbox import RedisInbox
from acd.eventlog.timing import STOP_TIMEOUT_S, Backoff, raise_if_cancelled, stop_tasks
from acd.logs import get_logger
from acd.routing import inputs as ev
from acd.routing.commands import AnswerClaim, Command, EndWait
from acd.routing.core import AcdCore
from acd.routing.snapshot import from_state, to_state
from acd.service.journal import Journal, record_of
from acd.deadline import within

if TYPE_CHECKING:
    from acd.service.acd import AcdService

log = get_logger(__name__)

SESSION_COMMANDS = (EndWait, AnswerClaim)


class Replica:
    def __init__(self, acd: AcdService, journal: Journal, lease: LeaderLease, inbox: RedisInbox, *, ttl_s: float | None = None) -> None:
        self.acd = acd
        self.journal = journal
        self.lease = lease
        self.inbox = inbox
        self.node_id = acd.node_id
        self.ttl_s = lease.ttl_s if ttl_s is None else ttl_s
        self.follower: Follower | None = None
        self.token: FencingToken | None = None
        self.leading = False
        self.takeovers = 0
        self.rebuilds = 0  # rebuilt from the last snapshot plus the log after finding a gap
        self.refused = 0  # batches the log refused (stale token or Redis down): nothing was issued
        self._queue: asyncio.Queue[tuple[dict[str, Any], str | None]] = asyncio.Queue()
        self._inbox_cursor: str | None = None
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._queued = 0  # inputs put in the pipeline by this node ...
        self._handled = 0  # ... and handled (or refused) by it
        self._sent: str | None = None  # the last inbox entry this node added
        self._outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()  # for the inbox, in order, kept while Redis is down
        self._sending = False
        self._progress = asyncio.Condition()
        self._held: list[dict[str, Any]] | None = None  # new inputs while a new leader empties the inbox first

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        self.acd.core.now = 0.0  # every replica starts from the same state: time comes from the entries
        self._initial = to_state(self.acd.core)  # the configured start, for a rebuild after a gap
        await self._restore()
        self._follow()
        self._tasks["outbox"] = self._spawn(self._send_outbox(), f"acd-replica-outbox-{self.node_id}")

    async def _restore(self) -> None:
        core, replayed = await self.journal.restore(from_state(self._initial))
        _adopt(self.acd.core, core)
        log.event("acd.replica.restored", node=self.node_id, at=str(self.journal.position), replayed=replayed)

    def _follow(self) -> None:
        self.follower = Follower(
            self.journal.log, self.lease, self.node_id, self._apply_tailed, after=self.journal.position, ttl_s=self.ttl_s,
            on_leader=self._on_leader, on_lost=self._on_lost, on_gap=self._on_gap,
        )
        self.follower.start()

    def _on_gap(self, gap: LogGap) -> None:
        """Entries this copy needs are gone (trimmed past it, or lost in a Redis failover): the
        copy is rebuilt from the last snapshot plus the log, and follows again."""
        self._spawn(self._rebuild_after_gap(), f"acd-replica-rebuild-{self.node_id}")

    async def _rebuild_after_gap(self) -> None:
        self._stop_leading()
        if self.follower is not None:
            await self.follower.stop(release=True)
        await self._restore()
        self.rebuilds += 1
        self._follow()

    async def stop(self) -> None:
        self._stop_leading()
        if self.follower is not None:
            await self.follower.stop(release=True)
        for task in list(self._tasks.values()):
            task.cancel()
        await stop_tasks(list(self._tasks.values()), STOP_TIMEOUT_S, f"acd-replica-{self.node_id}")
        self._tasks.clear()

    @property
    def is_leader(self) -> bool:
        """Checked locally before anything goes to Asterisk: False once the lease lapsed."""
        f = self.follower
        return self.leading and f is not None and f.is_leader

    # ------------------------------------------------------------------ inputs
    def submit(self, event: ev.AcdInput) -> None:
        """Into the log through the leader's pipeline, or into the inbox. A node that has just
        taken the lease over holds its new inputs until the inbox's pending entries are in the
        pipeline: those are older (the shared log's first entry, the configuration every replica
        takes its ids from, goes ahead of them)."""
        if not self.leading:
            self._outbox.put_nowait(record_of(event))
            return
        self._queued += 1
        genesis = isinstance(event, ev.ConfigApplied) and self.journal.position is None
        if self._held is not None and not genesis:
            self._held.append(record_of(event))
        else:
            self._queue.put_nowait((record_of(event), None))

    async def settled(self, timeout_s: float = 3.0) -> bool:
        """Wait until this node's core has applied every input this node submitted (through
        its pipeline, or the inbox and the leader); False after ``timeout_s``. The HTTP API
        answers after this, so a request's effect is visible in its reply."""
        def done() -> bool:
            if self._sending or not self._outbox.empty():
                return False
            if self.leading:
                return self._handled >= self._queued
            return self._sent is None or _stream_id(self.journal.inbox_seen) >= _stream_id(self._sent)

        try:
            async with asyncio.timeout(timeout_s):
                async with self._progress:
                    while not done():
                        try:
                            async with asyncio.timeout(0.05):  # inbox adds finish outside the condition
                                await self._progress.wait()
                        except TimeoutError:
                            pass
        except TimeoutError:
            return False
        return True

    async def _notify(self) -> None:
        async with self._progress:
            self._progress.notify_all()

    async def _send_outbox(self) -> None:
        """One input at a time, in the order submitted; while Redis is down each is retried
        (backing off), so nothing a caller or an agent did is lost."""
        backoff = Backoff(0.05, 1.0)
        while True:
            record = await self._outbox.get()
            self._sending = True
            while True:
                try:
                    self._sent = await self.inbox.add(record)
                    raise_if_cancelled()  # a stop's cancel that redis-py swallowed: else the next get() waits forever
                    backoff.reset()
                    break
                except Unavailable as exc:
                    raise_if_cancelled()
                    log.warn_event("acd.replica.inbox_unavailable", node=self.node_id, input=record.get("type"), error=type(exc).__name__)
                    await asyncio.sleep(backoff.next_delay())
            self._sending = self._outbox.qsize() > 0
            await self._notify()

    # ------------------------------------------------------------------ the leader
    def _on_leader(self, token: FencingToken) -> None:
        self.token, self.leading = token, True
        self.takeovers += 1
        self._inbox_cursor = self.journal.inbox_seen
        log.warn_event("acd.replica.leading", node=self.node_id, epoch=token.value, at=str(self.journal.position))
        self._held = []
        self._tasks["pipeline"] = self._spawn(self._pipeline(), f"acd-replica-pipeline-{self.node_id}")
        self._tasks["inbox"] = self._spawn(self._drain_inbox(), f"acd-replica-inbox-{self.node_id}")
        for timer_id, at in list(self.acd.core.timers.items()):
            self.acd.timers.start(timer_id, at)
        self.acd.edge.subscribe()
        self._spawn(self._resync(), f"acd-replica-resync-{self.node_id}")
        self.acd.on_leading()

    async def _resync(self) -> None:
        try:
            await within(self.acd.resync(), 10.0)
        except Exception as exc:  # noqa: BLE001 - AMI down: the AMI client's reconnect re-syncs again
            log.warn_event("acd.replica.resync_failed", node=self.node_id, error=type(exc).__name__)

    def _on_lost(self, token: FencingToken, reason: str) -> None:
        log.warn_event("acd.replica.not_leading", node=self.node_id, epoch=token.value, reason=reason)
        self._stop_leading()

    def _stop_leading(self) -> None:
        if not self.leading:
            return
        self.leading, self.token = False, None
        for name in ("pipeline", "inbox"):
            task = self._tasks.pop(name, None)
            if task is not None:
                task.cancel()
        self.acd.edge.unsubscribe()
        self.acd.timers.cancel_all()
        self.acd.telemetry.leader(False)
        while not self._queue.empty():  # never handled, never in the log: the inputs go to the inbox
            record, inbox_id = self._queue.get_nowait()
            if inbox_id is None:
                self._outbox.put_nowait(record)
        for record in self._held or ():
            self._outbox.put_nowait(record)
        self._held = None
        self._handled = self._queued

    async def _pipeline(self) -> None:
        """Append, then handle, then carry out: one batch at a time, in the log's order."""
        while True:
            batch = [await self._queue.get()]
            while not self._queue.empty() and len(batch) < 500:
                batch.append(self._queue.get_nowait())
            token = self.token
            if token is None or not self.is_leader:
                self.refused += 1
                return
            records = [record for record, _ in batch]
            try:
                positions = await self.journal.append_fenced(token, records)
                raise_if_cancelled()  # (as in _send_outbox: a swallowed cancel must not wait on the queue)
            except EventLogError as exc:
                raise_if_cancelled()
                self.refused += 1
                log.warn_event("acd.replica.append_refused", node=self.node_id, epoch=token.value, error=type(exc).__name__, inputs=len(batch))
                self._requeue_to_inbox(batch)
                heartbeat = self.follower.heartbeat if self.follower is not None else None
                if heartbeat is not None:  # lead no more (the campaign starts again); this task ends here
                    await heartbeat.stop(release=False)
                return
            for (position, record), (_, inbox_id) in zip(zip(positions, records, strict=True), batch, strict=True):
                commands = self.journal.apply(self.acd.core, Entry(position, record))
                self.journal.applied(position, self.acd.core, record)
                if inbox_id is None:
                    self._handled += 1
                self.acd.carry_out(commands, lead=True)
            await self._notify()

    def _requeue_to_inbox(self, batch: list[tuple[dict[str, Any], str | None]]) -> None:
        for record, inbox_id in batch:
            if inbox_id is None:  # the others are still in the inbox, after the log's cursor
                self._outbox.put_nowait(record)

    async def _drain_inbox(self) -> None:
        """Other nodes' inputs into the pipeline, in the inbox's order. On taking the lease over,
        first this node's own outbox (inputs it sent while it followed), then every entry the
        inbox holds after the log's cursor, and only then the inputs held since it leads."""
        await self._wait_outbox_sent(5.0)
        pending = await self._inbox_end()  # up to the newest entry now: others may keep adding
        while _stream_id(self._inbox_cursor) < _stream_id(pending):
            try:
                rows = await self.inbox.read(self._inbox_cursor, 0.0)
            except Unavailable:
                raise_if_cancelled()
                await asyncio.sleep(0.2)
                continue
            raise_if_cancelled()
            if not rows:
                break  # trimmed (the inbox is bounded): nothing more to wait for
            self._take_from_inbox(rows)
        held, self._held = self._held or [], None
        for record in held:
            self._queue.put_nowait((record, None))
        log.event("acd.replica.inbox_caught_up", node=self.node_id, at=self._inbox_cursor, held=len(held))
        while True:
            try:
                rows = await self.inbox.read(self._inbox_cursor, 1.0)
            except Unavailable:
                raise_if_cancelled()
                await asyncio.sleep(0.2)
                continue
            raise_if_cancelled()
            self._take_from_inbox(rows)

    async def _inbox_end(self) -> str | None:
        while True:
            try:
                return await self.inbox.last_id()
            except Unavailable:
                raise_if_cancelled()
                await asyncio.sleep(0.2)

    def _take_from_inbox(self, rows: list[tuple[str, dict[str, Any]]]) -> None:
        for inbox_id, record in rows:
            self._inbox_cursor = inbox_id
            self._queue.put_nowait((record_of(ev.decode(record), inbox_id), inbox_id))

    async def _wait_outbox_sent(self, timeout_s: float) -> None:
        """Bounded: Redis down means this node leads no more anyway."""
        try:
            async with asyncio.timeout(timeout_s):
                async with self._progress:
                    while self._sending or not self._outbox.empty():
                        try:
                            async with asyncio.timeout(0.05):
                                await self._progress.wait()
                        except TimeoutError:
                            pass
        except TimeoutError:
            log.warn_event("acd.replica.outbox_behind", node=self.node_id, pending=self._outbox.qsize())

    # ------------------------------------------------------------------ the hot copy
    def _apply_tailed(self, entry: Entry) -> None:
        if self.leading:
            return  # the leader's core is fed by its pipeline, in the same order
        position = self.journal.position
        if position is not None and entry.position <= position:
            return  # applied already (this node wrote it while it led)
        commands = self.journal.apply(self.acd.core, entry)
        self.journal.applied(entry.position, self.acd.core, entry.record, snapshot=False)
        self.acd.carry_out(commands, lead=False)
        if self._sent is not None:
            self._spawn(self._notify(), "acd-replica-progress")

    # ------------------------------------------------------------------ helpers
    def _spawn(self, coro: Any, name: str) -> asyncio.Task[None]:
        task: asyncio.Task[None] = self.acd._spawn(coro, name)
        return task


def _adopt(core: AcdCore, rebuilt: AcdCore) -> None:
    """Give ``core`` the rebuilt one's state in place: the engine, the HTTP views, the waiting
    room and the observers all hold this object."""
    state: dict[str, Any] = core.__dict__
    state.clear()
    state.update(rebuilt.__dict__)


def _stream_id(entry_id: str | None) -> tuple[int, int]:
    if not entry_id:
        return (0, 0)
    ms, _, seq = entry_id.partition("-")
    return (int(ms), int(seq or 0))


def for_this_node(command: Command, node_id: str, lead: bool) -> bool:
    """Which commands a node carries out: the leader all but other nodes' session commands; a
    node that does not lead only its own sessions' commands."""
    if isinstance(command, SESSION_COMMANDS):
        return command.node in ("", node_id) if lead else command.node == node_id
    return lead
