"""The interface. Every operation is atomic; the holder id fences stale writers: a node that was
killed mid-offer cannot confirm or release an offer that is no longer the agent's."""

from __future__ import annotations

from typing import Protocol


class LiveStore(Protocol):
    async def reserve(self, agent_id: str, offer_id: str, node_id: str, ttl_s: float) -> bool:
        """Hold the agent for this offer, only if nothing holds it. Expires after ``ttl_s`` so a
        dead node's reservation frees itself."""

    async def confirm(self, agent_id: str, offer_id: str, call_id: str) -> bool:
        """The offer was answered: the agent now holds the call (no expiry). Only the holder may."""

    async def release(self, agent_id: str, holder_id: str) -> bool:
        """Free the agent, only if ``holder_id`` (offer or call id) still holds it."""

    async def holder(self, agent_id: str) -> str | None: ...

    async def claim(self, call_id: str, offer_id: str, ttl_s: float) -> bool:
        """The first agent leg to claim a caller wins; any other leg gets False (a second
        Bridge() would steal the caller)."""

    async def close(self) -> None: ...
