"""In-process live state (one engine node)."""

from __future__ import annotations

from acd.clock import Clock, SystemClock
from acd.eventlog.memory import MemoryLeaderLease
from acd.eventlog.types import FencingToken


class MemoryLiveStore:
    def __init__(self, clock: Clock | None = None, lease: MemoryLeaderLease | None = None) -> None:
        self.clock = clock or SystemClock()
        self.lease = lease  # checked when an operation carries a fencing token
        self._agents: dict[str, tuple[str, float | None]] = {}  # agent -> (holder, expires_at)
        self._claims: dict[str, tuple[str, float]] = {}
        self._claims_swept = 64  # claims left after the last sweep of expired ones

    def _fence(self, token: FencingToken | None, op: str) -> None:
        if token is None:
            return
        if self.lease is None:
            raise ValueError(f"{op}: a fencing token was given but this store has no lease to check it against")
        self.lease.check_now(token, op)

    def _holder(self, agent_id: str) -> str | None:
        held = self._agents.get(agent_id)
        if held is None:
            return None
        holder, expires = held
        if expires is not None and self.clock.monotonic() >= expires:
            del self._agents[agent_id]
            return None
        return holder

    # The reservation, its confirmation and its release answer at once in process: the ``*_now``
    # forms let the ring path write the agent's Originate in the same step of the event loop as the
    # routing decision (acd.service.legs), in the order the core issued them.
    def reserve_now(self, agent_id: str, offer_id: str, node_id: str, ttl_s: float, *, token: FencingToken | None = None) -> bool:
        self._fence(token, "reserve")
        if self._holder(agent_id) is not None:
            return False
        self._agents[agent_id] = (offer_id, self.clock.monotonic() + ttl_s)
        return True

    def confirm_now(self, agent_id: str, offer_id: str, call_id: str, *, token: FencingToken | None = None) -> bool:
        self._fence(token, "confirm")
        if self._holder(agent_id) != offer_id:
            return False
        self._agents[agent_id] = (call_id, None)
        return True

    def release_now(self, agent_id: str, holder_id: str, *, token: FencingToken | None = None) -> bool:
        self._fence(token, "release")
        if self._holder(agent_id) != holder_id:
            return False
        del self._agents[agent_id]
        return True

    async def reserve(self, agent_id: str, offer_id: str, node_id: str, ttl_s: float, *, token: FencingToken | None = None) -> bool:
        return self.reserve_now(agent_id, offer_id, node_id, ttl_s, token=token)

    async def confirm(self, agent_id: str, offer_id: str, call_id: str, *, token: FencingToken | None = None) -> bool:
        return self.confirm_now(agent_id, offer_id, call_id, token=token)

    async def release(self, agent_id: str, holder_id: str, *, token: FencingToken | None = None) -> bool:
        return self.release_now(agent_id, holder_id, token=token)

    async def holder(self, agent_id: str) -> str | None:
        return self._holder(agent_id)

    async def claim(self, call_id: str, offer_id: str, ttl_s: float, *, token: FencingToken | None = None) -> bool:
        self._fence(token, "claim")
        now = self.clock.monotonic()
        current = self._claims.get(call_id)
        if current is not None and current[1] > now:
            return current[0] == offer_id
        self._claims[call_id] = (offer_id, now + ttl_s)
        if len(self._claims) > 2 * self._claims_swept:
            self._sweep_claims(now)
        return True

    def _sweep_claims(self, now: float) -> None:
        """Drop expired claims (one per answered call: without this the dict grew forever, found
        by bench/soak.py). Amortised: a sweep whenever the dict has doubled since the last one."""
        self._claims = {k: v for k, v in self._claims.items() if v[1] > now}
        self._claims_swept = max(64, len(self._claims))

    async def close(self) -> None:
        return None
