"""The driver's side of the event log: every input to the ACD core goes into an ``EventLog``
(``acd.eventlog``) before the core handles it, with a snapshot of the core every N entries, and
a starting node rebuilds its core from the last snapshot plus the tail.

One node (the default) writes a ``MemoryEventLog`` synchronously: append, handle, carry out, in
one step. Several nodes share a Redis Stream: the leader appends with its fencing token (a node
whose lease lapsed is refused and issues nothing), followers put their inputs in an *inbox*
stream that the leader moves into the log (see ``acd.service.replica``)."""

from __future__ import annotations

import asyncio
from typing import Any

from acd.eventlog import Entry, EventLog, FencingToken, LogPosition, MemoryEventLog, MemorySnapshotStore, SnapshotStore
from acd.logs import get_logger
from acd.routing import inputs as ev
from acd.routing.core import AcdCore
from acd.routing.snapshot import from_state, to_state

log = get_logger(__name__)

INBOX_FIELD = "inbox"  # a log record moved from the inbox names the inbox entry it came from


def record_of(event: ev.AcdInput, inbox_id: str | None = None) -> dict[str, Any]:
    record = ev.encode(event)
    if inbox_id is not None:
        record = {**record, INBOX_FIELD: inbox_id}
    return record


def event_of(record: Any) -> ev.AcdInput:
    if not isinstance(record, dict):
        raise ValueError(f"an ACD log record is a JSON object, not {type(record).__name__}")
    return ev.decode({k: v for k, v in record.items() if k != INBOX_FIELD})


class Journal:
    def __init__(self, log: EventLog | None = None, snapshots: SnapshotStore | None = None, *, snapshot_every: int = 1000) -> None:
        if snapshot_every < 1:
            raise ValueError(f"snapshot_every: {snapshot_every} (at least 1)")
        self.log: EventLog = log if log is not None else MemoryEventLog()
        self.snapshots: SnapshotStore = snapshots if snapshots is not None else MemorySnapshotStore()
        self.snapshot_every = snapshot_every
        self.position: LogPosition | None = None  # the last entry the core applied
        self.since_snapshot = 0
        self.snapshots_taken = 0
        self.inbox_seen: str | None = None  # the last inbox entry the log holds (set while applying)
        self._memory_token: FencingToken | None = None
        self._saving: asyncio.Task[None] | None = None
        self._trim_to: LogPosition | None = None  # the snapshot before the last: lagging readers keep a window
        self._bound: AcdCore | None = None  # ``bind``'s window (one node, synchronous)
        self._bound_keep = 20_000
        self._bound_state: dict[str, Any] = {}
        self._bound_after: LogPosition | None = None
        self._bound_count = 0

    # ------------------------------------------------------------------ one node: synchronous
    @property
    def synchronous(self) -> bool:
        """An in-process log is written in the same step as the core handles the input."""
        return isinstance(self.log, MemoryEventLog)

    def append_now(self, event: ev.AcdInput) -> LogPosition:
        """Append to the in-process log, fenced by the single node's never-expiring lease."""
        memlog = self.log
        assert isinstance(memlog, MemoryEventLog), "append_now is the single-node path"
        if self._memory_token is None:
            self._memory_token = memlog.lease.acquire_now("local")
            if self._memory_token is None:
                raise RuntimeError("the in-process log's lease is held by another writer")
        (position,) = memlog.write_fenced(self._memory_token, [record_of(event)])
        return position

    # ------------------------------------------------------------------ one node: a bounded window
    def bind(self, core: AcdCore, keep: int = 20_000) -> None:
        """Start a window at the core's present state (``append`` / ``rebuild``): a snapshot in
        memory, the entries after it; past ``keep`` entries the snapshot moves up (memory stays
        flat). The benchmarks and the replay proofs use this synchronous form."""
        self._bound = core
        self._bound_keep = keep
        self._bound_state = to_state(core)
        self._bound_after = self.position
        self._bound_count = 0

    def append(self, event: ev.AcdInput) -> LogPosition:
        """``append_now`` inside the bound window."""
        bound = self._bound
        if bound is not None and self._bound_count >= self._bound_keep:
            self.bind(bound, self._bound_keep)
            memlog = self.log
            if isinstance(memlog, MemoryEventLog) and self._bound_after is not None:
                memlog.trim_now(self._bound_after)
        position = self.append_now(event)
        self.position = position
        if bound is not None:
            self._bound_count += 1
        return position

    def rebuild(self) -> AcdCore:
        """A fresh core from the window's snapshot plus the entries after it."""
        memlog = self.log
        if self._bound is None or not isinstance(memlog, MemoryEventLog):
            raise ValueError("the journal was never bound to a core (or its log is not in-process)")
        core = from_state(self._bound_state)
        after = self._bound_after
        while entries := memlog.read_now(after, 1000):
            for entry in entries:
                core.handle(event_of(entry.record))
                after = entry.position
        return core

    # ------------------------------------------------------------------ the shared log
    async def append_fenced(self, token: FencingToken, records: list[dict[str, Any]]) -> list[LogPosition]:
        """The leader's write: refused (``StaleLeader``) unless ``token`` is the lease's."""
        return await self.log.fenced_append_many(token, list(records))

    # ------------------------------------------------------------------ applied entries, snapshots
    def applied(self, position: LogPosition, core: AcdCore, record: Any = None, *, snapshot: bool = True) -> None:
        """The core has applied the entry at ``position``: count it towards the next snapshot
        (taken by the node that writes the log: the single node, or the leader)."""
        self.position = position
        if isinstance(record, dict) and record.get(INBOX_FIELD):
            self.inbox_seen = str(record[INBOX_FIELD])
        if not snapshot:
            return
        self.since_snapshot += 1
        if self.since_snapshot >= self.snapshot_every:
            self.since_snapshot = 0
            self._save_snapshot(position, to_state(core), self.inbox_seen)

    def _save_snapshot(self, position: LogPosition, state: dict[str, Any], inbox_seen: str | None) -> None:
        if self._saving is not None and not self._saving.done():
            return  # the previous one is still being written: the next is due in N entries anyway
        state = {**state, "_inbox_seen": inbox_seen}

        async def save() -> None:
            try:
                async with asyncio.timeout(5.0):
                    if await self.snapshots.save(position, state):
                        self.snapshots_taken += 1
                        if self._trim_to is not None:  # a reader one snapshot behind still finds its entries
                            await self.log.trim(self._trim_to)
                        self._trim_to = position
            except Exception as exc:  # noqa: BLE001 - a snapshot that failed is retried N entries later
                log.warn_event("acd.journal.snapshot_failed", at=str(position), error=type(exc).__name__)

        self._saving = asyncio.get_running_loop().create_task(save(), name=f"acd-journal-snapshot-{position}")

    async def flush(self) -> None:
        """Wait for a snapshot being written (a clean stop, tests)."""
        if self._saving is not None:
            await asyncio.gather(self._saving, return_exceptions=True)

    async def restore(self, core: AcdCore, *, batch: int = 1000) -> tuple[AcdCore, int]:
        """The core as the log says: the last snapshot (else ``core``, the configured start) plus
        every entry after it. Returns the core and how many entries were replayed."""
        async with asyncio.timeout(30.0):
            snap = await self.snapshots.latest()
            position: LogPosition | None = None
            if snap is not None:
                position, state = snap
                self.inbox_seen = state.pop("_inbox_seen", None)
                core = from_state(state)
            replayed = 0
            while entries := await self.log.read(position, batch):
                for entry in entries:
                    self.apply(core, entry)
                    position = entry.position
                    replayed += 1
        self.position = position
        self.since_snapshot = 0
        return core, replayed

    def apply(self, core: AcdCore, entry: Entry) -> list[Any]:
        """A replica's step: handle the entry's input (its commands are the caller's to filter)."""
        commands = core.handle(event_of(entry.record))
        self.position = entry.position
        if isinstance(entry.record, dict) and entry.record.get(INBOX_FIELD):
            self.inbox_seen = str(entry.record[INBOX_FIELD])
        return commands

    def rebuild_now(self, core_state: dict[str, Any], tail: list[Entry]) -> AcdCore:
        """A fresh core from a state plus entries (tests: equals the running one)."""
        core = from_state(core_state)
        for entry in tail:
            core.handle(event_of(entry.record))
        return core
