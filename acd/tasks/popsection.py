"""The screen-pop's open tasks of the caller's customer (an ``AgentDesk`` section), soonest due
first, so the agent sees the promised call back or the open case at once."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from acd.store import tasks as store_tasks

if TYPE_CHECKING:
    from acd.routing.model import CallEntry
    from acd.store.sql import SqlStore

POP_TASKS = 5


class OpenTasksSection:
    __name__ = "open_tasks"

    def __init__(self, store: SqlStore) -> None:
        self.store = store

    async def __call__(self, entry: CallEntry, customer: dict[str, Any] | None) -> dict[str, Any]:
        if customer is None:
            return {"open_tasks": []}
        found = await store_tasks.list_tasks(self.store, store_tasks.TaskQuery(
            customer_id=customer["customer_id"], limit=POP_TASKS))
        return {"open_tasks": [{k: t[k] for k in ("task_id", "type", "title", "due_at", "priority", "overdue", "owner")}
                               for t in found]}
