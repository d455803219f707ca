"""The leader lease in Redis: one key holding ``<token>:<node>`` with a TTL, and a counter that
only grows. Taking, renewing and releasing are Lua scripts (compare-and-set on the server)."""

from __future__ import annotations

import redis.asyncio as aioredis

from acd.eventlog.errors import StaleLeader
from acd.eventlog.outage import OutageMonitor
from acd.eventlog.redisconn import LogKeys, connect, guarded
from acd.eventlog.types import FencingToken

# KEYS: lease, counter, log meta. ARGV: node_id, ttl_ms, at_least.
# The new token is above the counter, above the caller's ``at_least`` (the highest epoch it saw in
# the log, which survives a failover that lost the counter) and above the log's own last epoch.
_ACQUIRE = """
local held = redis.call('GET', KEYS[1])
if held then
  local holder = string.match(held, '^%d+:(.*)$')
  if holder ~= ARGV[1] then return false end
end
local n = tonumber(redis.call('GET', KEYS[2]) or '0')
n = math.max(n, tonumber(ARGV[3]), tonumber(redis.call('HGET', KEYS[3], 'epoch') or '0')) + 1
redis.call('SET', KEYS[2], string.format('%d', n))
redis.call('SET', KEYS[1], string.format('%d', n) .. ':' .. ARGV[1], 'PX', ARGV[2])
return n
"""
# KEYS: lease. ARGV: encoded token, ttl_ms.
_RENEW = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
"""
# KEYS: lease. ARGV: encoded token.
_RELEASE = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
return 1
"""


def _ttl_ms(ttl_s: float) -> int:
    if not ttl_s > 0:
        raise ValueError(f"a lease TTL is positive, got {ttl_s}")
    return max(1, int(ttl_s * 1000))


class RedisLeaderLease:
    def __init__(
        self, client: aioredis.Redis | None = None, prefix: str = "acd", *, url: str = "redis://127.0.0.1:6379/0",
        ttl_s: float = 2.0, timeout_s: float = 2.0, monitor: OutageMonitor | None = None,
    ) -> None:
        self.redis = client if client is not None else connect(url, timeout_s)
        self._owns_client = client is None
        self.keys = LogKeys(prefix)
        self.ttl_s = ttl_s
        self.timeout_s = timeout_s
        self.monitor = monitor
        if monitor is not None:  # its pool is reset when an outage starts
            monitor.watch(self.redis)
        self._acquire = self.redis.register_script(_ACQUIRE)
        self._renew = self.redis.register_script(_RENEW)
        self._release = self.redis.register_script(_RELEASE)

    async def acquire(self, node_id: str, ttl_s: float | None = None, at_least: int = 0) -> FencingToken | None:
        if not node_id:
            raise ValueError("a node campaigns under its node_id")
        ttl = _ttl_ms(self.ttl_s if ttl_s is None else ttl_s)
        keys = [self.keys.lease, self.keys.counter, self.keys.meta]
        value = await guarded(self._acquire(keys=keys, args=[node_id, ttl, max(0, at_least)]), "lease_acquire", self.timeout_s, self.monitor)
        return None if value is None else FencingToken(int(value), node_id)

    async def renew(self, token: FencingToken, ttl_s: float | None = None) -> bool:
        ttl = _ttl_ms(self.ttl_s if ttl_s is None else ttl_s)
        return bool(await guarded(self._renew(keys=[self.keys.lease], args=[token.encode(), ttl]), "lease_renew", self.timeout_s, self.monitor))

    async def release(self, token: FencingToken) -> bool:
        return bool(await guarded(self._release(keys=[self.keys.lease], args=[token.encode()]), "lease_release", self.timeout_s, self.monitor))

    async def current(self) -> FencingToken | None:
        held = await guarded(self.redis.get(self.keys.lease), "lease_current", self.timeout_s, self.monitor)
        return None if held is None else FencingToken.decode(held)

    async def check(self, token: FencingToken) -> None:
        held = await self.current()
        if held != token:
            raise StaleLeader("check", token.value, held.encode() if held else None)

    async def close(self) -> None:
        if self._owns_client:
            await self.redis.aclose()
