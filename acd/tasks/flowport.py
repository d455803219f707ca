"""The flows' ``task:`` step in a running engine: the rendered request is checked like an API
request (``TaskInput.parse`` against config/tasks.yaml, the agents and queues) and stored with
``source=flow``; the task is pushed on the event stream like any other."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from collections.abc import Callable

from acd.flows.ports_extra import TaskRefused, TaskRequest
from acd.logs import get_logger
from acd.store import tasks as store_tasks
from acd.store.sql import NotFound
from acd.tasks.model import InvalidTask, Owner, TaskInput
from acd.tasks.service import task_event

if TYPE_CHECKING:
    from acd.clock import Clock
    from acd.routing.core import AcdCore
    from acd.service.liveconfig import LiveConfig
    from acd.store.sql import SqlStore

log = get_logger(__name__)


class StoreTaskPort:
    def __init__(self, store: SqlStore, core: AcdCore, clock: Clock, config: LiveConfig, *, fallback_queue: str,
                 emit: Callable[[str, dict[str, Any]], None]) -> None:
        self.store, self.core, self.clock = store, core, clock
        self.config = config  # config/tasks.yaml as last (re)loaded
        self.fallback_queue = fallback_queue  # the owner of a task the flow gives none
        self.emit = emit

    async def create_task(self, request: TaskRequest) -> str:
        body = {"type": request.type, "title": request.title, "owner_queue": request.queue, "owner_agent": request.agent,
                "due": request.due, "priority": request.priority, "notes": request.note, "customer_id": request.customer_id,
                "call_id": request.call_id, "callback_number": request.number}
        try:
            inp = TaskInput.parse({k: v for k, v in body.items() if v is not None}, now=self.clock.now(), types=self.config.task_types(),
                                  agents=frozenset(self.core.agents), queues=frozenset(self.core.queues),
                                  default_owner=Owner("queue", self.fallback_queue))
            task = await store_tasks.create_task(self.store, inp, source="flow", by=f"flow:{request.flow}"[:64])
        except (InvalidTask, NotFound) as exc:
            raise TaskRefused(str(exc)) from None
        self.emit("task_created", task_event(task))
        log.event("task.created", task_id=task["task_id"], type=task["type"], owner=str(inp.owner), by=f"flow:{request.flow}", source="flow")
        return str(task["task_id"])
