"""Tasks as the API works them: an agent sees and works the tasks it owns and those of the queues
it serves (others are not visible: not confirmed to exist), creates them for itself or one of its
queues; a supervisor sees and assigns any. Every change is pushed on the event stream."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from acd.clock import Clock
from acd.http.users import Role, User
from acd.logs import get_logger
from acd.service.acd import AcdService
from acd.store import tasks as store_tasks
from acd.store.sql import SqlStore
from acd.tasks.model import Change, Owner, Priority, TaskInput, parse_owner, parse_time
from acd.tasks.rules import TaskType
from acd.usecases.errors import NotAllowed, NotVisible

log = get_logger(__name__)

Emit = Callable[[str, dict[str, Any]], None]


class Tasks:
    def __init__(self, store: SqlStore, acd: AcdService, clock: Clock, task_types: Callable[[], Mapping[str, TaskType]],
                 emit: Emit, *, callback_attempts: Callable[[], int] = lambda: 3) -> None:
        self.store = store
        self._acd = acd  # its core is read at each call: a reload may replace it
        self._clock = clock
        self._task_types = task_types  # config/tasks.yaml as last (re)loaded
        self._emit = emit
        self._callback_attempts = callback_attempts  # config/tasks.yaml's callback_attempts, as last (re)loaded

    def now(self) -> float:
        return self._clock.now()

    def types(self) -> Mapping[str, TaskType]:
        return self._task_types()

    def agents(self) -> frozenset[str]:
        return frozenset(self._acd.core.agents)

    def queues(self) -> frozenset[str]:
        return frozenset(self._acd.core.queues)

    def queue_names(self) -> list[str]:
        """Every queue, in config/queues.yaml's order."""
        return list(self._acd.core.queues)

    def queues_served(self, agent_id: str | None) -> tuple[str, ...]:
        """The queues whose required skills the agent has."""
        core = self._acd.core
        if not agent_id or agent_id not in core.agents:
            return ()
        skills = core.agent(agent_id).config.skills
        return tuple(name for name, q in core.queues.items() if all(skills.get(s, 0) >= level for s, level in q.skills.items()))

    def visible_owners(self, user: User) -> tuple[Owner, ...]:
        """An agent's own tasks and its queues'; empty (any) for a supervisor."""
        if user.role >= Role.SUPERVISOR:
            return ()
        return (Owner("agent", user.agent_id or "-"), *(Owner("queue", q) for q in self.queues_served(user.agent_id)))

    def check_owner_allowed(self, user: User, owner: Owner) -> None:
        if user.role < Role.SUPERVISOR and owner not in self.visible_owners(user):
            raise NotAllowed("an agent gives a task to itself or to one of its queues")

    def owner_of(self, body: Mapping[str, Any]) -> Owner:
        """``owner_agent`` or ``owner_queue`` of a request, checked against config/."""
        return parse_owner(body, agents=self.agents(), queues=self.queues(), default=None)

    def task_input(self, user: User, body: Mapping[str, Any], **defaults: Any) -> TaskInput:
        default_owner = Owner("agent", user.agent_id) if user.agent_id else None
        inp = TaskInput.parse({**defaults, **{k: v for k, v in body.items() if v not in (None, "")}}, now=self._clock.now(),
                              types=dict(self.types()), agents=self.agents(), queues=self.queues(), default_owner=default_owner)
        self.check_owner_allowed(user, inp.owner)
        return inp

    def wrapup_task_input(self, agent_id: str, user: User, body: Mapping[str, Any]) -> TaskInput:
        """The wrap-up's task, checked: on the call in wrap-up and its customer, the caller's number
        to ring back, owned by the agent unless it says otherwise."""
        entry = self._acd.wrapup_entry(agent_id)
        defaults = {"call_id": self._acd.wrapup_call(agent_id), "owner_agent": None if body.get("owner_queue") else agent_id,
                    "customer_id": entry.customer_id if entry else None, "callback_number": entry.caller_number if entry else None}
        return self.task_input(user, body, **{k: v for k, v in defaults.items() if v})

    def _published(self, kind: str, task: dict[str, Any], previous_owner: dict[str, Any] | None = None) -> None:
        """Push a task change on the event stream (an agent's stream shows its own tasks; a task
        reassigned away also reaches its ``previous_owner``, so its desk drops it at once)."""
        owner = task["owner"]
        extra = {"previous_owner": previous_owner} if previous_owner and previous_owner != owner else {}
        self._emit(kind, {"task_id": task["task_id"], "type": task["type"], "title": task["title"], "owner": owner,
                          "due_at": task["due_at"], "priority": task["priority"], "status": task["status"],
                          "customer_id": task["customer_id"], "agent_id": owner["id"] if owner["kind"] == "agent" else None,
                          **extra})

    async def create(self, inp: TaskInput, user: User, *, source: str) -> dict[str, Any]:
        task = await store_tasks.create_task(self.store, inp, source=source, by=user.id)
        self._published("task_created", task)
        log.event("task.created", task_id=task["task_id"], type=task["type"], owner=str(inp.owner), by=user.id, source=source)
        return task

    async def list(self, query: store_tasks.TaskQuery) -> list[dict[str, Any]]:
        """The tasks; a call-back task carries its ``callback`` state (attempt n of N, next try
        at, exhausted: ``acd.tasks.callbacks.callback_state``) for the desk's rows."""
        found = await store_tasks.list_tasks(self.store, query)
        types = self.types()
        callbacks = [t for t in found if t["type"] in types and types[t["type"]].callback]
        states = await store_tasks.callback_states(self.store, callbacks, attempts=self._callback_attempts())
        for task in callbacks:
            task["callback"] = states[task["task_id"]]
        return found

    async def visible(self, task_id: str, user: User) -> dict[str, Any]:
        task = await store_tasks.get_task(self.store, task_id)
        owners = self.visible_owners(user)
        if owners and Owner(task["owner"]["kind"], task["owner"]["id"]) not in owners:
            raise NotVisible(f"no task {task_id}")
        return task

    async def with_history(self, task_id: str, user: User) -> dict[str, Any]:
        task = await self.visible(task_id, user)
        task["history"] = await store_tasks.history(self.store, task["task_id"])
        return task

    async def change(self, task_id: str, change: Change, user: User, *, note: str | None = None, owner: Owner | None = None,
                     due_at: float | None = None, priority: Priority | None = None) -> dict[str, Any]:
        """Complete, cancel, reopen (``task_<change>`` pushed), reassign or reschedule (``task_changed``)."""
        before = (await store_tasks.get_task(self.store, task_id))["owner"] if change is Change.REASSIGN else None
        done = await store_tasks.change_task(self.store, task_id, change, by=user.id, owner=owner, due_at=due_at, priority=priority,
                                             note=note)
        edited = change in (Change.REASSIGN, Change.RESCHEDULE)
        self._published("task_changed" if edited else f"task_{change.value}", done, previous_owner=before)
        return done

    def due_time(self, value: Any) -> float:
        return parse_time(value, "due", now=self._clock.now())
