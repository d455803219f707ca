"""In-process live state (one engine node)."""

from __future__ import annotations

from acd.clock import Clock, SystemClock


class MemoryLiveStore:
    def __init__(self, clock: Clock | None = None) -> None:
        self.clock = clock or SystemClock()
        self._agents: dict[str, tuple[str, float | None]] = {}  # agent -> (holder, expires_at)
        self._claims: dict[str, tuple[str, float]] = {}

    def _holder(self, agent_id: str) -> str | None:
        held = self._agents.get(agent_id)
        if held is None:
            return None
        holder, expires = held
        if expires is not None and self.clock.monotonic() >= expires:
            del self._agents[agent_id]
            return None
        return holder

    async def reserve(self, agent_id: str, offer_id: str, node_id: str, ttl_s: float) -> bool:
        if self._holder(agent_id) is not None:
            return False
        self._agents[agent_id] = (offer_id, self.clock.monotonic() + ttl_s)
        return True

    async def confirm(self, agent_id: str, offer_id: str, call_id: str) -> bool:
        if self._holder(agent_id) != offer_id:
            return False
        self._agents[agent_id] = (call_id, None)
        return True

    async def release(self, agent_id: str, holder_id: str) -> bool:
        if self._holder(agent_id) != holder_id:
            return False
        del self._agents[agent_id]
        return True

    async def holder(self, agent_id: str) -> str | None:
        return self._holder(agent_id)

    async def claim(self, call_id: str, offer_id: str, ttl_s: float) -> bool:
        now = self.clock.monotonic()
        current = self._claims.get(call_id)
        if current is not None and current[1] > now:
            return current[0] == offer_id
        self._claims[call_id] = (offer_id, now + ttl_s)
        return True

    async def close(self) -> None:
        return None
