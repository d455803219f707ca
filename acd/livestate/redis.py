"""Live state in Redis, for several engine nodes. Each operation is one Lua script, so it is
atomic on the server; keys live under a configurable prefix."""

from __future__ import annotations

import redis.asyncio as aioredis

# KEYS[1] = agent key; ARGV = offer_id, node_id, ttl_ms
_RESERVE = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3])
redis.call('SET', KEYS[1] .. ':node', ARGV[2], 'PX', ARGV[3])
return 1
"""
# KEYS[1] = agent key; ARGV = offer_id, call_id
_CONFIRM = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2])
redis.call('PERSIST', KEYS[1] .. ':node')
return 1
"""
# KEYS[1] = agent key; ARGV = holder
_RELEASE = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1], KEYS[1] .. ':node')
return 1
"""
# KEYS[1] = claim key; ARGV = offer_id, ttl_ms
_CLAIM = """
local current = redis.call('GET', KEYS[1])
if current then
  if current == ARGV[1] then return 1 else return 0 end
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
"""


class RedisLiveStore:
    def __init__(self, url: str = "redis://127.0.0.1:6379/0", prefix: str = "acd", *, client: aioredis.Redis | None = None, timeout_s: float = 2.0) -> None:
        self.redis = client or aioredis.from_url(url, decode_responses=True, socket_timeout=timeout_s, socket_connect_timeout=timeout_s)
        self.prefix = prefix
        self._reserve = self.redis.register_script(_RESERVE)
        self._confirm = self.redis.register_script(_CONFIRM)
        self._release = self.redis.register_script(_RELEASE)
        self._claim = self.redis.register_script(_CLAIM)

    def _agent(self, agent_id: str) -> str:
        return f"{self.prefix}:agent:{agent_id}:holder"

    async def reserve(self, agent_id: str, offer_id: str, node_id: str, ttl_s: float) -> bool:
        return bool(await self._reserve(keys=[self._agent(agent_id)], args=[offer_id, node_id, max(1, int(ttl_s * 1000))]))

    async def confirm(self, agent_id: str, offer_id: str, call_id: str) -> bool:
        return bool(await self._confirm(keys=[self._agent(agent_id)], args=[offer_id, call_id]))

    async def release(self, agent_id: str, holder_id: str) -> bool:
        return bool(await self._release(keys=[self._agent(agent_id)], args=[holder_id]))

    async def holder(self, agent_id: str) -> str | None:
        return await self.redis.get(self._agent(agent_id))

    async def claim(self, call_id: str, offer_id: str, ttl_s: float) -> bool:
        return bool(await self._claim(keys=[f"{self.prefix}:call:{call_id}:claim"], args=[offer_id, max(1, int(ttl_s * 1000))]))

    async def close(self) -> None:
        await self.redis.aclose()
