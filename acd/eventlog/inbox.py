"""The inbox: inputs from nodes that do not lead (an API request, a caller queued on their
FastAGI server) wait here until the leader moves them into the log, fenced. A Redis Stream
(``<prefix>:inbox``); its ids are Redis's own. The log records which inbox entry it moved last,
so a new leader carries on after it: nothing is lost or moved twice across a takeover."""

from __future__ import annotations

from typing import Any

import redis.asyncio as aioredis

from acd.eventlog.outage import OutageMonitor
from acd.eventlog.redisconn import guarded
from acd.eventlog.types import decode_record, encode_record

MAX_LEN = 100_000  # an inbox nobody drains (no leader) stays bounded


class RedisInbox:
    def __init__(self, client: aioredis.Redis, prefix: str = "acd", *, timeout_s: float = 2.0, monitor: OutageMonitor | None = None) -> None:
        self.redis = client
        self.key = f"{prefix}:inbox"
        self.timeout_s = timeout_s
        self.monitor = monitor
        if monitor is not None:  # its pool is reset when an outage starts
            monitor.watch(self.redis)

    async def add(self, record: dict[str, Any]) -> str:
        kind, payload = encode_record(record)
        entry_id = await guarded(
            self.redis.xadd(self.key, {"k": kind, "v": payload}, maxlen=MAX_LEN, approximate=True), "inbox_add", self.timeout_s, self.monitor,
        )
        return entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)

    async def last_id(self) -> str | None:
        """The id of the newest entry (None when the inbox is empty)."""
        rows: Any = await guarded(self.redis.xrevrange(self.key, "+", "-", count=1), "inbox_last", self.timeout_s, self.monitor)
        if not rows:
            return None
        entry_id = rows[0][0]
        return entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)

    async def read(self, after: str | None, timeout_s: float, limit: int = 500) -> list[tuple[str, dict[str, Any]]]:
        """Entries after ``after`` (from the start when None), waiting up to ``timeout_s``."""
        since = after or "0-0"
        block_ms = max(1, int(min(timeout_s, self.timeout_s / 2) * 1000))
        reply: Any = await guarded(
            self.redis.xread({self.key: since}, count=limit, block=block_ms), "inbox_read", self.timeout_s + block_ms / 1000, self.monitor,
        )
        out: list[tuple[str, dict[str, Any]]] = []
        if not reply:
            return out
        rows: Any = next(iter(reply.values()))[0] if isinstance(reply, dict) else reply[0][1]
        for entry_id, fields in rows:
            record = decode_record(fields[b"k"], fields[b"v"])
            if isinstance(record, dict):
                out.append((entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id), record))
        return out
