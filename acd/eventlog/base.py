"""The three interfaces: the log, its snapshots, the leader lease. Each has an in-process
implementation (one node, the default) and a Redis one (several nodes)."""

from __future__ import annotations

from typing import Any, Protocol

from acd.eventlog.types import Entry, FencingToken, LogPosition, Record


class EventLog(Protocol):
    async def append(self, record: Record) -> LogPosition:
        """Append in durable order, unfenced (an input event from any node). The entry takes the
        epoch of the last entry and the next sequence number."""

    async def fenced_append(self, token: FencingToken, record: Record) -> LogPosition:
        """Append only if ``token`` is the lease's current token and no newer epoch is in the log,
        checked and written in one atomic step; else raise ``StaleLeader``."""

    async def append_many(self, records: list[Record]) -> list[LogPosition]:
        """Several records in one atomic write (one round trip), in order."""

    async def fenced_append_many(self, token: FencingToken, records: list[Record]) -> list[LogPosition]:
        """Several records under one fencing check: all are written, or (stale) none."""

    async def read(self, after: LogPosition | None = None, limit: int = 1000) -> list[Entry]:
        """Entries strictly after ``after`` (from the start when None), oldest first."""

    async def tail(self, after: LogPosition | None, timeout_s: float, limit: int = 1000) -> list[Entry]:
        """Like ``read``, but wait up to ``timeout_s`` for at least one entry; [] on timeout."""

    async def last_position(self) -> LogPosition | None: ...

    async def trim(self, before: LogPosition) -> int:
        """Drop entries older than ``before`` (kept: ``before`` itself and later). Returns how many
        went. Trim only up to a snapshot's position."""

    async def close(self) -> None: ...


class SnapshotStore(Protocol):
    async def save(self, position: LogPosition, state: dict[str, Any]) -> bool:
        """Keep ``state`` as of ``position`` (every entry up to and including it applied). An older
        snapshot than the one kept is ignored (False)."""

    async def latest(self) -> tuple[LogPosition, dict[str, Any]] | None: ...


class LeaderLease(Protocol):
    ttl_s: float

    async def acquire(self, node_id: str, ttl_s: float | None = None, at_least: int = 0) -> FencingToken | None:
        """Take the lease if nobody (or this same node) holds it: a fresh token above every token
        handed out, above ``at_least`` (the highest epoch this node saw in the log) and above the
        log's last epoch. None when another node holds it."""

    async def renew(self, token: FencingToken, ttl_s: float | None = None) -> bool:
        """Extend the lease, only if ``token`` is still the current one."""

    async def release(self, token: FencingToken) -> bool: ...

    async def current(self) -> FencingToken | None: ...

    async def check(self, token: FencingToken) -> None:
        """Raise ``StaleLeader`` unless ``token`` is the current lease's (the command path)."""
