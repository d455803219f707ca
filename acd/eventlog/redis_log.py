"""The log on a Redis Stream, and its snapshots. Ids are explicit, ``<epoch>-<seq>``, written by one
Lua script that also keeps the last position in a hash; the fenced append checks the lease in that
same script, so a stale leader can never slip an entry in between a check and a write.

Redis replicates asynchronously: a Sentinel failover may promote a replica that lacks the last
entries the old master acknowledged. With ``wait_replicas`` set, an append returns only once that
many replicas hold it (``WAIT``, sent in the same pipeline as the script, so on the connection
that wrote), so the leader never acts on an input a failover could lose. Replicas that lag past
``wait_ms`` hold the append (and with it the routing: fail closed) until they catch up, the append
is cancelled (the lease lost) or Redis fails."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from typing import Any

import redis.asyncio as aioredis

from acd.eventlog.errors import StaleLeader
from acd.eventlog.logfields import log_event
from acd.eventlog.outage import OutageMonitor
from acd.eventlog.timing import raise_if_cancelled
from acd.eventlog.redisconn import LogKeys, connect, guarded
from acd.eventlog.types import Entry, FencingToken, LogPosition, Record, decode_record, encode_record

# KEYS: stream, meta, lease. ARGV: fenced ('1'/'0'), token (encoded), token value, then one
# (kind, payload) pair per record. All records or none: returns {1, epoch, first seq, last seq}
# or, refused, {0, current lease value or '', last epoch}.
_APPEND = """
local epoch = tonumber(redis.call('HGET', KEYS[2], 'epoch') or '0')
local seq = tonumber(redis.call('HGET', KEYS[2], 'seq') or '0')
if ARGV[1] == '1' then
  local current = redis.call('GET', KEYS[3])
  local value = tonumber(ARGV[3])
  if current ~= ARGV[2] or value < epoch then return {0, current or '', epoch} end
  if value > epoch then epoch = value; seq = 0 end
end
local first = seq + 1
for i = 4, #ARGV, 2 do
  seq = seq + 1
  redis.call('XADD', KEYS[1], string.format('%d-%d', epoch, seq), ARGV[i], ARGV[i + 1])
end
redis.call('HSET', KEYS[2], 'epoch', string.format('%d', epoch), 'seq', string.format('%d', seq))
return {1, epoch, first, seq}
"""

# KEYS: snapshot hash. ARGV: position text, epoch, seq, state JSON. Keeps only a newer snapshot.
_SAVE_SNAPSHOT = """
local current = redis.call('HGET', KEYS[1], 'pos')
if current then
  local ce, cs = string.match(current, '^(%d+)-(%d+)$')
  ce = tonumber(ce); cs = tonumber(cs)
  local ne, ns = tonumber(ARGV[2]), tonumber(ARGV[3])
  if ce > ne or (ce == ne and cs >= ns) then return 0 end
end
redis.call('HSET', KEYS[1], 'pos', ARGV[1], 'state', ARGV[4])
return 1
"""


log = logging.getLogger(__name__)


def _fields_of(entry_fields: Any) -> tuple[bytes, bytes]:
    fields: dict[bytes, bytes] = dict(entry_fields)
    ((kind, payload),) = fields.items()
    return kind, payload


class RedisEventLog:
    def __init__(
        self, client: aioredis.Redis | None = None, prefix: str = "acd", *, url: str = "redis://127.0.0.1:6379/0",
        timeout_s: float = 2.0, monitor: OutageMonitor | None = None, wait_replicas: int = 0, wait_ms: int = 100,
        on_replicas_behind: Callable[[bool], None] | None = None,
    ) -> None:
        self.redis = client if client is not None else connect(url, timeout_s)
        self._owns_client = client is None
        self.keys = LogKeys(prefix)
        self.timeout_s = timeout_s
        self.monitor = monitor
        if monitor is not None:  # its pool is reset when an outage starts
            monitor.watch(self.redis)
        self._append = self.redis.register_script(_APPEND)
        self.wait_replicas = wait_replicas
        self.wait_ms = wait_ms
        self.on_replicas_behind = on_replicas_behind  # True while an append waits for lagging replicas, then False
        self.replica_shortfalls = 0  # appends that had to wait past wait_ms

    async def _write(self, records: list[Record], token: FencingToken | None, op: str) -> list[LogPosition]:
        if not records:
            return []
        args: list[bytes | str | int] = ["1" if token else "0", token.encode() if token else "", token.value if token else 0]
        for record in records:
            args.extend(encode_record(record))
        keys = [self.keys.stream, self.keys.meta, self.keys.lease]
        if self.wait_replicas <= 0:
            reply = await guarded(self._append(keys=keys, args=args), op, self.timeout_s, self.monitor)
        else:  # one round trip, one connection: WAIT counts the writes of the connection it is sent on
            pipe = self.redis.pipeline(transaction=False)
            await self._append(keys=keys, args=args, client=pipe)  # queued (awaiting a pipeline only returns it)
            pipe.wait(self.wait_replicas, self.wait_ms)
            reply, acked = await guarded(pipe.execute(), op, self.timeout_s + self.wait_ms / 1000, self.monitor)
        if int(reply[0]) == 1:
            epoch, first, last = int(reply[1]), int(reply[2]), int(reply[3])
            if self.wait_replicas > 0 and int(acked) < self.wait_replicas:
                await self._until_replicated(op, int(acked))
            return [LogPosition(epoch, seq) for seq in range(first, last + 1)]
        assert token is not None  # only a fenced append is ever refused
        current = reply[1].decode() if reply[1] else None
        raise StaleLeader(op, token.value, current or f"epoch {int(reply[2])} in the log")

    async def _until_replicated(self, op: str, acked: int) -> None:
        """The append is on the master, on fewer replicas than asked: ask again until enough hold
        it. Each try writes a probe and WAITs in one pipeline (on whichever pooled connection):
        replication keeps the master's order, so a replica that holds the probe holds the append."""
        self.replica_shortfalls += 1
        started = time.monotonic()
        log_event(log, logging.WARNING, "eventlog.redis.replicas_behind", op=op, acked=acked, wanted=self.wait_replicas)
        if self.on_replicas_behind is not None:
            self.on_replicas_behind(True)
        try:
            while acked < self.wait_replicas:
                pipe = self.redis.pipeline(transaction=False)
                pipe.incr(self.keys.replica_probe)
                pipe.wait(self.wait_replicas, self.wait_ms)
                _, replied = await guarded(pipe.execute(), "replica_wait", self.timeout_s + self.wait_ms / 1000, self.monitor)
                raise_if_cancelled()  # redis-py may turn a cancel (the lease lost) into a reply: never wait on
                acked = int(replied)
        finally:
            if self.on_replicas_behind is not None:
                self.on_replicas_behind(False)
        log_event(log, logging.WARNING, "eventlog.redis.replicas_caught_up", op=op, after_s=round(time.monotonic() - started, 3))

    async def append(self, record: Record) -> LogPosition:
        (pos,) = await self._write([record], None, "append")
        return pos

    async def fenced_append(self, token: FencingToken, record: Record) -> LogPosition:
        (pos,) = await self._write([record], token, "fenced_append")
        return pos

    async def append_many(self, records: list[Record]) -> list[LogPosition]:
        return await self._write(records, None, "append")

    async def fenced_append_many(self, token: FencingToken, records: list[Record]) -> list[LogPosition]:
        return await self._write(records, token, "fenced_append")

    async def read(self, after: LogPosition | None = None, limit: int = 1000) -> list[Entry]:
        low = "-" if after is None else f"({after}"
        rows = await guarded(self.redis.xrange(self.keys.stream, min=low, max="+", count=max(1, limit)), "read", self.timeout_s, self.monitor)
        return _entries(rows or [])

    async def tail(self, after: LogPosition | None, timeout_s: float, limit: int = 1000) -> list[Entry]:
        """XREAD BLOCK (it answers at once when entries wait: one round trip), in slices shorter
        than the socket timeout so a long wait is not mistaken for a dead server."""
        if timeout_s <= 0:
            return await self.read(after, limit)
        block_ms = max(1, int(min(timeout_s, self.timeout_s / 2) * 1000))
        remaining_ms = max(1, int(timeout_s * 1000))
        since = "0-0" if after is None else str(after)
        while remaining_ms > 0:
            wait_ms = min(block_ms, remaining_ms)
            reply = await guarded(
                self.redis.xread({self.keys.stream: since}, count=max(1, limit), block=wait_ms), "tail", self.timeout_s + wait_ms / 1000, self.monitor,
            )
            rows = _stream_rows(reply)
            if rows:
                return _entries(rows)
            remaining_ms -= wait_ms
        return []

    async def last_position(self) -> LogPosition | None:
        epoch, seq = await guarded(self.redis.hmget(self.keys.meta, ["epoch", "seq"]), "last_position", self.timeout_s, self.monitor)
        if epoch is None or seq is None:
            return None
        return LogPosition(int(epoch), int(seq))

    async def trim(self, before: LogPosition) -> int:
        dropped = await guarded(self.redis.xtrim(self.keys.stream, minid=str(before), approximate=False), "trim", self.timeout_s, self.monitor)
        return int(dropped)

    async def close(self) -> None:
        if self._owns_client:
            await self.redis.aclose()


def _entries(rows: Any) -> list[Entry]:
    return [Entry(LogPosition.parse(entry_id), decode_record(*_fields_of(fields))) for entry_id, fields in rows]


def _stream_rows(reply: Any) -> list[Any]:
    """XREAD's reply for one stream, in RESP2 (a list of [name, rows]) or RESP3 (a dict)."""
    if not reply:
        return []
    if isinstance(reply, dict):
        ((rows,),) = reply.values()
        return list(rows)
    ((_, rows),) = reply
    return list(rows)


class RedisSnapshotStore:
    def __init__(
        self, client: aioredis.Redis | None = None, prefix: str = "acd", *, url: str = "redis://127.0.0.1:6379/0",
        timeout_s: float = 2.0, monitor: OutageMonitor | None = None,
    ) -> None:
        self.redis = client if client is not None else connect(url, timeout_s)
        self._owns_client = client is None
        self.keys = LogKeys(prefix)
        self.timeout_s = timeout_s
        self.monitor = monitor
        if monitor is not None:  # its pool is reset when an outage starts
            monitor.watch(self.redis)
        self._save = self.redis.register_script(_SAVE_SNAPSHOT)

    async def save(self, position: LogPosition, state: dict[str, Any]) -> bool:
        body = json.dumps(state, separators=(",", ":"), ensure_ascii=False)
        args: list[str | int] = [str(position), position.epoch, position.seq, body]
        return bool(await guarded(self._save(keys=[self.keys.snapshot], args=args), "snapshot_save", self.timeout_s, self.monitor))

    async def latest(self) -> tuple[LogPosition, dict[str, Any]] | None:
        pos, body = await guarded(self.redis.hmget(self.keys.snapshot, ["pos", "state"]), "snapshot_latest", self.timeout_s, self.monitor)
        if pos is None or body is None:
            return None
        state: dict[str, Any] = json.loads(body)
        return LogPosition.parse(pos), state

    async def close(self) -> None:
        if self._owns_client:
            await self.redis.aclose()
