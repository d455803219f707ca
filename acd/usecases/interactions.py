"""Interaction records: search, one call with its timeline and routing decisions, filing a call
under a customer after the fact. An agent sees only the calls it was on or offered."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from acd import events as record_events
from acd.http.users import Role, User
from acd.service.calllog import MemoryCallLog
from acd.store.records import Interaction
from acd.store.sql import SqlStore
from acd.usecases.errors import NotVisible


@dataclass(frozen=True)
class InteractionQuery:
    customer_id: str | None = None
    ani: str | None = None
    agent: str | None = None
    queue: str | None = None
    outcome: str | None = None
    start: float | None = None
    end: float | None = None
    limit: int = 100


class Interactions:
    def __init__(self, store: SqlStore, calllog: MemoryCallLog) -> None:
        self._store = store
        self._calllog = calllog

    async def search(self, query: InteractionQuery, user: User) -> list[Interaction]:
        agent = user.agent_id if user.role < Role.SUPERVISOR else query.agent  # an agent sees only its own calls
        return await self._store.search_interactions(
            customer_id=query.customer_id, ani=query.ani, agent=agent, queue=query.queue, outcome=query.outcome,
            start=query.start, end=query.end, limit=query.limit)

    async def with_timeline(self, call_id: str, user: User) -> dict[str, Any]:
        rec = await self._store.interaction(call_id)
        if user.role < Role.SUPERVISOR and user.agent_id not in {rec.agent, *(o.agent for o in rec.offers)}:
            raise NotVisible(f"no interaction {call_id}")  # not "forbidden": do not confirm it exists
        body = rec.to_dict()
        body["timeline"] = await self._store.timeline(rec.call_id)
        return body

    async def decisions(self, call_id: str) -> list[dict[str, Any]]:
        """The routing decisions of a call, from the store, or the engine's log while it runs."""
        await self._store.interaction(call_id)
        timeline = await self._store.timeline(call_id) or self._calllog.timeline(call_id)
        return [e for e in timeline if isinstance(record_events.from_timeline(e), record_events.RoutingDecision)]

    async def link(self, call_id: str, customer_id: str, user: User) -> Interaction:
        """File a call from an unknown number under a customer, after the fact."""
        await self._store.link_interaction(call_id, customer_id, by=user.id)
        return await self._store.interaction(call_id)
