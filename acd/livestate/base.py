"""The interface. Every operation is atomic; the holder id fences stale writers: a node that was
killed mid-offer cannot confirm or release an offer that is no longer the agent's.

With several engine nodes the router also passes its leader ``token`` (``acd.eventlog``): the
store checks it against the current lease in the same atomic step as the write, and refuses a
stale one with ``StaleLeader`` (the node lost the lease while stopped, partitioned or paused).
A store that cannot be reached raises ``StoreUnavailable``: the caller fails closed (rings no
agent without a reservation)."""

from __future__ import annotations

from typing import Protocol

from acd.eventlog.errors import Unavailable
from acd.eventlog.types import FencingToken


class StoreUnavailable(Unavailable):
    """The live-state server did not answer (down, timed out, or a demoted replica)."""


class LiveStore(Protocol):
    async def reserve(self, agent_id: str, offer_id: str, node_id: str, ttl_s: float, *, token: FencingToken | None = None) -> bool:
        """Hold the agent for this offer, only if nothing holds it. Expires after ``ttl_s`` so a
        dead node's reservation frees itself."""

    async def confirm(self, agent_id: str, offer_id: str, call_id: str, *, token: FencingToken | None = None) -> bool:
        """The offer was answered: the agent now holds the call (no expiry). Only the holder may."""

    async def release(self, agent_id: str, holder_id: str, *, token: FencingToken | None = None) -> bool:
        """Free the agent, only if ``holder_id`` (offer or call id) still holds it."""

    async def holder(self, agent_id: str) -> str | None: ...

    async def claim(self, call_id: str, offer_id: str, ttl_s: float, *, token: FencingToken | None = None) -> bool:
        """The first agent leg to claim a caller wins; any other leg gets False (a second
        Bridge() would steal the caller)."""

    async def close(self) -> None: ...
