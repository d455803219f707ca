"""Live state in Redis, for several engine nodes. Each operation is one Lua script, so it is
atomic on the server; keys live under a configurable prefix. An operation that carries a fencing
token checks it against the leader lease key inside the same script (-1: refused as stale)."""

from __future__ import annotations

import redis.asyncio as aioredis
from redis.commands.core import AsyncScript

from acd.eventlog.errors import StaleLeader
from acd.eventlog.outage import OutageMonitor
from acd.eventlog.redisconn import guarded, lease_key
from acd.eventlog.types import FencingToken
from acd.livestate.base import StoreUnavailable

# Every script: KEYS[2] = the lease key, ARGV[1] = the encoded fencing token or '' (unfenced).
_FENCE = """
if ARGV[1] ~= '' and redis.call('GET', KEYS[2]) ~= ARGV[1] then return -1 end
"""
# KEYS[1] = agent key; ARGV = token, offer_id, node_id, ttl_ms
_RESERVE = _FENCE + """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[4])
redis.call('SET', KEYS[1] .. ':node', ARGV[3], 'PX', ARGV[4])
return 1
"""
# KEYS[1] = agent key; ARGV = token, offer_id, call_id
_CONFIRM = _FENCE + """
if redis.call('GET', KEYS[1]) ~= ARGV[2] then return 0 end
redis.call('SET', KEYS[1], ARGV[3])
redis.call('PERSIST', KEYS[1] .. ':node')
return 1
"""
# KEYS[1] = agent key; ARGV = token, holder
_RELEASE = _FENCE + """
if redis.call('GET', KEYS[1]) ~= ARGV[2] then return 0 end
redis.call('DEL', KEYS[1], KEYS[1] .. ':node')
return 1
"""
# KEYS[1] = claim key; ARGV = token, offer_id, ttl_ms
_CLAIM = _FENCE + """
local current = redis.call('GET', KEYS[1])
if current then
  if current == ARGV[2] then return 1 else return 0 end
end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1
"""


class RedisLiveStore:
    def __init__(
        self, url: str = "redis://127.0.0.1:6379/0", prefix: str = "acd", *, client: aioredis.Redis | None = None, timeout_s: float = 2.0,
        lease_prefix: str | None = None, monitor: OutageMonitor | None = None,
    ) -> None:
        self.redis = client or aioredis.from_url(url, decode_responses=True, socket_timeout=timeout_s, socket_connect_timeout=timeout_s)
        self.prefix = prefix
        self.timeout_s = timeout_s
        self.monitor = monitor
        if monitor is not None:  # its pool is reset when an outage starts
            monitor.watch(self.redis)
        # The lease written by acd.eventlog's RedisLeaderLease under ``lease_prefix`` (default: ours).
        self.lease_key = lease_key(prefix if lease_prefix is None else lease_prefix)
        self._reserve = self.redis.register_script(_RESERVE)
        self._confirm = self.redis.register_script(_CONFIRM)
        self._release = self.redis.register_script(_RELEASE)
        self._claim = self.redis.register_script(_CLAIM)

    def _agent(self, agent_id: str) -> str:
        return f"{self.prefix}:agent:{agent_id}:holder"

    async def _run(self, script: AsyncScript, op: str, key: str, token: FencingToken | None, *args: str | int) -> bool:
        encoded = token.encode() if token is not None else ""
        result = int(await guarded(script(keys=[key, self.lease_key], args=[encoded, *args]), op, self.timeout_s, self.monitor, StoreUnavailable))
        if result == -1:
            assert token is not None  # an unfenced call is never refused as stale
            current = await guarded(self.redis.get(self.lease_key), op, self.timeout_s, self.monitor, StoreUnavailable)
            raise StaleLeader(op, token.value, _text(current))
        return result == 1

    async def reserve(self, agent_id: str, offer_id: str, node_id: str, ttl_s: float, *, token: FencingToken | None = None) -> bool:
        return await self._run(self._reserve, "reserve", self._agent(agent_id), token, offer_id, node_id, max(1, int(ttl_s * 1000)))

    async def confirm(self, agent_id: str, offer_id: str, call_id: str, *, token: FencingToken | None = None) -> bool:
        return await self._run(self._confirm, "confirm", self._agent(agent_id), token, offer_id, call_id)

    async def release(self, agent_id: str, holder_id: str, *, token: FencingToken | None = None) -> bool:
        return await self._run(self._release, "release", self._agent(agent_id), token, holder_id)

    async def holder(self, agent_id: str) -> str | None:
        held = await guarded(self.redis.get(self._agent(agent_id)), "holder", self.timeout_s, self.monitor, StoreUnavailable)
        return _text(held)

    async def claim(self, call_id: str, offer_id: str, ttl_s: float, *, token: FencingToken | None = None) -> bool:
        key = f"{self.prefix}:call:{call_id}:claim"
        return await self._run(self._claim, "claim", key, token, offer_id, max(1, int(ttl_s * 1000)))

    async def close(self) -> None:
        await self.redis.aclose()


def _text(value: bytes | str | None) -> str | None:
    return value.decode() if isinstance(value, bytes) else value
