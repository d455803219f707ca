"""In-process log, snapshots and lease: one engine node (the default), and the reference the Redis
backends are tested against (same contract suite)."""

from __future__ import annotations

import asyncio
import bisect
import json
import math
from typing import Any

from acd.clock import Clock, SystemClock
from acd.eventlog.errors import StaleLeader
from acd.eventlog.types import Entry, FencingToken, LogPosition, Record, decode_record, encode_record


class MemoryLeaderLease:
    """The lease on one node. ``MemoryLeaderLease.single_node()`` never expires: the only node is
    always leader, with token 1. With a finite TTL on a ``FakeClock`` it behaves like the Redis lease
    (tests of heartbeats and takeover in virtual time)."""

    def __init__(self, clock: Clock | None = None, ttl_s: float = 2.0) -> None:
        self.clock = clock or SystemClock()
        self.ttl_s = ttl_s
        self._counter = 0
        self._held: tuple[FencingToken, float] | None = None  # (token, expires at, monotonic)
        self.log_epoch = 0  # the attached log's last epoch, so a new token is always above it

    @classmethod
    def single_node(cls) -> MemoryLeaderLease:
        return cls(ttl_s=math.inf)

    def _live(self) -> FencingToken | None:
        if self._held is None:
            return None
        token, expires = self._held
        if self.clock.monotonic() >= expires:
            self._held = None
            return None
        return token

    async def acquire(self, node_id: str, ttl_s: float | None = None, at_least: int = 0) -> FencingToken | None:
        return self.acquire_now(node_id, ttl_s, at_least)

    def acquire_now(self, node_id: str, ttl_s: float | None = None, at_least: int = 0) -> FencingToken | None:
        """``acquire`` without a suspension point (the single node's synchronous path)."""
        held = self._live()
        if held is not None and held.node_id != node_id:
            return None
        self._counter = max(self._counter, at_least, self.log_epoch) + 1
        token = FencingToken(self._counter, node_id)
        self._held = (token, self.clock.monotonic() + (self.ttl_s if ttl_s is None else ttl_s))
        return token

    async def renew(self, token: FencingToken, ttl_s: float | None = None) -> bool:
        if self._live() != token:
            return False
        self._held = (token, self.clock.monotonic() + (self.ttl_s if ttl_s is None else ttl_s))
        return True

    async def release(self, token: FencingToken) -> bool:
        if self._live() != token:
            return False
        self._held = None
        return True

    async def current(self) -> FencingToken | None:
        return self._live()

    def check_now(self, token: FencingToken, op: str) -> None:
        held = self._live()
        if held != token:
            raise StaleLeader(op, token.value, held.encode() if held else None)

    async def check(self, token: FencingToken) -> None:
        self.check_now(token, "check")


class MemoryEventLog:
    """The log in a list. Records are stored encoded, as in Redis, so a reader never shares (or
    mutates) the writer's dict."""

    def __init__(self, lease: MemoryLeaderLease | None = None) -> None:
        self.lease = lease or MemoryLeaderLease.single_node()
        self._positions: list[LogPosition] = []
        self._payloads: list[tuple[bytes, bytes]] = []
        self._last: LogPosition | None = None
        self._grown = asyncio.Event()

    def _write(self, epoch: int, records: list[Record]) -> list[LogPosition]:
        encoded = [encode_record(record) for record in records]  # a bad record: nothing written
        last = self._last
        seq = last.seq if last is not None and last.epoch == epoch else 0
        positions = [LogPosition(epoch, seq + i) for i in range(1, len(encoded) + 1)]
        if not positions:
            return []
        self._positions.extend(positions)
        self._payloads.extend(encoded)
        self._last = positions[-1]
        self.lease.log_epoch = max(self.lease.log_epoch, epoch)
        self._grown.set()
        self._grown = asyncio.Event()
        return positions

    def _fence(self, token: FencingToken) -> None:
        self.lease.check_now(token, "fenced_append")
        if self._last is not None and self._last.epoch > token.value:
            raise StaleLeader("fenced_append", token.value, f"epoch {self._last.epoch} in the log")

    async def append(self, record: Record) -> LogPosition:
        (pos,) = self._write(self._last.epoch if self._last else 0, [record])
        return pos

    async def fenced_append(self, token: FencingToken, record: Record) -> LogPosition:
        self._fence(token)
        (pos,) = self._write(token.value, [record])
        return pos

    async def append_many(self, records: list[Record]) -> list[LogPosition]:
        return self._write(self._last.epoch if self._last else 0, records)

    async def fenced_append_many(self, token: FencingToken, records: list[Record]) -> list[LogPosition]:
        return self.write_fenced(token, records)

    def write_fenced(self, token: FencingToken, records: list[Record]) -> list[LogPosition]:
        """``fenced_append_many`` without a suspension point: the single node appends and
        handles an input in one step."""
        self._fence(token)
        return self._write(token.value, records)

    async def read(self, after: LogPosition | None = None, limit: int = 1000) -> list[Entry]:
        return self.read_now(after, limit)

    def read_now(self, after: LogPosition | None = None, limit: int = 1000) -> list[Entry]:
        """``read`` without a suspension point (the single node's synchronous journal)."""
        start = 0 if after is None else bisect.bisect_right(self._positions, after)
        stop = min(len(self._positions), start + max(0, limit))
        return [Entry(self._positions[i], decode_record(*self._payloads[i])) for i in range(start, stop)]

    async def tail(self, after: LogPosition | None, timeout_s: float, limit: int = 1000) -> list[Entry]:
        entries = await self.read(after, limit)
        if entries or timeout_s <= 0:
            return entries
        grown = self._grown
        try:
            async with asyncio.timeout(timeout_s):
                await grown.wait()
        except TimeoutError:
            return []
        return await self.read(after, limit)

    async def last_position(self) -> LogPosition | None:
        return self._last

    async def trim(self, before: LogPosition) -> int:
        return self.trim_now(before)

    def trim_now(self, before: LogPosition) -> int:
        cut = bisect.bisect_left(self._positions, before)
        del self._positions[:cut]
        del self._payloads[:cut]
        return cut

    async def close(self) -> None:
        return None


class MemorySnapshotStore:
    def __init__(self) -> None:
        self._latest: tuple[LogPosition, dict[str, Any]] | None = None

    async def save(self, position: LogPosition, state: dict[str, Any]) -> bool:
        if self._latest is not None and self._latest[0] >= position:
            return False
        self._latest = (position, _json_copy(state))
        return True

    async def latest(self) -> tuple[LogPosition, dict[str, Any]] | None:
        if self._latest is None:
            return None
        return self._latest[0], _json_copy(self._latest[1])


def _json_copy(state: dict[str, Any]) -> dict[str, Any]:
    """What the Redis store gives back (tuples become lists); a state that is not JSON fails here
    as it would there."""
    copied: dict[str, Any] = json.loads(json.dumps(state))
    return copied
