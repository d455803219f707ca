"""The tasks' clockwork in a running engine: a tracked periodic task that, every
``check_every``, applies the escalation rules due (``acd.tasks.rules.escalations_due``, pure) and
turns due call-back tasks into outbound calls through the ACD's callback path
(``AcdService.book_callback``): the owning agent is rung first, its leg then dials the customer.
A booked call that ended with nobody connected is booked again later, or escalated when out of
attempts (``acd.tasks.callbacks``); a task that fell overdue since the last tick is announced.

Every escalation, booking and failed call is in the task's history (the customer's timeline) and
pushed on the event stream (``task_escalated``, ``task_callback_booked``, ``task_callback_connected``,
``task_callback_failed``, ``task_overdue``). The time is the engine's clock;
``run_once`` is what the loop calls, and what tests call with a fake clock."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from collections.abc import Callable

from sqlalchemy.exc import DBAPIError

from acd.clock import Clock
from acd.logs import get_logger
from acd.periodic import PeriodicJob
from acd.store import tasks as store_tasks
from acd.store.sql import NotFound, SqlStore
from acd.tasks.callbacks import booked_call_result, callback_call_id
from acd.tasks.rules import TaskConfig, escalations_due

if TYPE_CHECKING:
    from acd.service.acd import AcdService
    from acd.service.liveconfig import LiveConfig

log = get_logger(__name__)

RUN_TIMEOUT_S = 60.0
DOWN = (DBAPIError, OSError, TimeoutError)  # the database away: tried again at the next tick


@dataclass
class TickReport:
    escalated: list[str] = field(default_factory=list)  # task ids
    callbacks: list[str] = field(default_factory=list)  # call ids booked
    unreachable: list[str] = field(default_factory=list)  # call-back tasks with no number to ring
    connected: list[str] = field(default_factory=list)  # call ids of booked call-backs that reached the customer
    failed: list[str] = field(default_factory=list)  # call ids of booked call-backs that ended with nobody connected
    exhausted: list[str] = field(default_factory=list)  # call-back tasks out of attempts (escalated)
    overdue: list[str] = field(default_factory=list)  # tasks that fell overdue since the last tick


class TaskRunner:
    def __init__(self, store: SqlStore, acd: AcdService, clock: Clock, live: LiveConfig, *, fallback_queue: str,
                 emit: Callable[[str, dict[str, Any]], None]) -> None:
        self.store, self.acd, self.clock, self._live = store, acd, clock, live
        self.fallback_queue = fallback_queue
        self.emit = emit
        self._job = PeriodicJob("acd-tasks-escalation", self.run_once, lambda: self.config.check_every_s,
                                timeout_s=RUN_TIMEOUT_S, outside_errors=DOWN, failed_event="tasks.tick_failed",
                                run_first=False)
        self.start, self.stop = self._job.start, self._job.stop
        self._connected: set[str] = set()  # booked call-backs seen connected (no need to look again)
        self._overdue_after: float | None = None  # tasks due after this and before now fell overdue since the last tick

    @property
    def config(self) -> TaskConfig:
        """config/tasks.yaml as last (re)loaded."""
        return self._live.tasks

    async def run_once(self) -> TickReport:
        report = TickReport()
        await self._announce_overdue(report)
        await self._escalate(report)
        await self._follow_booked_callbacks(report)
        await self._book_callbacks(report)
        return report

    # ------------------------------------------------------------------ overdue
    async def _announce_overdue(self, report: TickReport) -> None:
        """``task_overdue`` once for each open task that fell due since the last tick (the first
        tick looks one period back), so the desks and the wallboard show it without polling."""
        now = self.clock.now()
        after = self._overdue_after if self._overdue_after is not None else now - self.config.check_every_s
        for task in await store_tasks.fell_overdue(self.store, after, now):
            report.overdue.append(task["task_id"])
            self._publish("task_overdue", task)
        self._overdue_after = now

    # ------------------------------------------------------------------ escalation
    async def _escalate(self, report: TickReport) -> None:
        types = self.config.types
        with_rules = [name for name, t in types.items() if t.escalation]
        if not with_rules:
            return
        now = self.clock.now()
        for task_id, state in await store_tasks.overdue_open(self.store, now, with_rules):
            due = escalations_due(state, types, now)
            if not due:
                continue
            task = await store_tasks.apply_escalations(self.store, task_id, due)
            if task is None:
                continue  # changed meanwhile (closed, or another node escalated it)
            report.escalated.append(task_id)
            last = due[-1]
            log.event("task.escalated", task_id=task_id, type=task["type"], level=last.level, to=last.rule.to, owner=str(last.owner))
            self._publish("task_escalated", task, escalations=[e.describe() for e in due])

    # ------------------------------------------------------------------ call-backs
    async def _follow_booked_callbacks(self, report: TickReport) -> None:
        """What became of the booked call-backs (as the stored records say): connected is noted
        on the task's history once; ended with nobody connected is booked again later, or, out of
        attempts, marked exhausted and escalated."""
        kinds = [name for name, t in self.config.types.items() if t.callback]
        if not kinds:
            return
        for task in await store_tasks.awaiting_callbacks(self.store, kinds):
            call_id = task["callback_call_id"]
            if call_id in self._connected:
                continue
            with contextlib.suppress(NotFound):
                result = booked_call_result(await self.store.interaction(call_id))
                if result is None:
                    continue
                if result.connected:
                    await self._callback_connected(task, call_id, result.agent, report)
                    continue
                await self._callback_failed(task, call_id, result.reason or "failed", report)

    async def _callback_connected(self, task: dict[str, Any], call_id: str, agent: str | None, report: TickReport) -> None:
        if len(self._connected) > 50_000:
            self._connected.clear()
        self._connected.add(call_id)
        changed = await store_tasks.note_callback_connected(self.store, task["task_id"], call_id, agent=agent)
        if changed is not None:  # (None: already on the record, e.g. before a restart)
            report.connected.append(call_id)
            log.event("task.callback_connected", task_id=task["task_id"], call_id=call_id, agent=agent)
            self._publish("task_callback_connected", changed, call_id=call_id, connected_agent=agent)

    async def _callback_failed(self, task: dict[str, Any], call_id: str, reason: str, report: TickReport) -> None:
        noted = await store_tasks.note_callback_failed(self.store, task["task_id"], call_id, reason=reason,
                                                       attempts=self.config.callback_attempts, spacing_s=self.config.callback_retry_s)
        if noted is None:
            return  # moved on meanwhile
        changed, decision = noted
        report.failed.append(call_id)
        log.warn_event("task.callback_failed", task_id=task["task_id"], call_id=call_id, reason=reason, attempt=decision.attempt,
                       retry_at=decision.retry_at)
        self._publish("task_callback_failed", changed, call_id=call_id, reason=reason, attempt=decision.attempt, retry_at=decision.retry_at)
        if decision.exhausted:
            report.exhausted.append(task["task_id"])
            log.warn_event("task.callback_exhausted", task_id=task["task_id"], attempts=decision.attempt)
            self._publish("task_escalated", changed, escalations=[{"to": "supervisor", "reason": "callback_exhausted",
                                                                   "attempts": decision.attempt, "supervisor": True}])

    async def _book_callbacks(self, report: TickReport) -> None:
        kinds = [name for name, t in self.config.types.items() if t.callback]
        if not kinds or self.acd is None:
            return
        for task in await store_tasks.due_callbacks(self.store, self.clock.now(), kinds):
            number = task["callback_number"] or await self._customer_phone(task["customer_id"])
            if not number:
                if await store_tasks.note_callback_booked(self.store, task["task_id"], "", number="", agent=None, kind="callback_unreachable"):
                    report.unreachable.append(task["task_id"])
                    log.warn_event("task.callback_unreachable", task_id=task["task_id"])
                    self._publish("task_callback_unreachable", task)
                continue
            booked = (await store_tasks.callback_history(self.store, task["task_id"])).booked
            call_id = callback_call_id(task["task_id"], booked + 1)
            owner = task["owner"]
            agent = owner["id"] if owner["kind"] == "agent" else None
            if not await store_tasks.note_callback_booked(self.store, task["task_id"], call_id, number=number, agent=agent):
                continue  # booked meanwhile by another node
            queue = await self._queue_for(task)
            self.acd.book_callback(call_id, queue, number, preferred_agent=agent, sticky_s=self.config.callback_hold_s if agent else 0.0,
                                   customer_id=task["customer_id"], priority=task_priority(task), task_id=task["task_id"])
            report.callbacks.append(call_id)
            log.event("task.callback_booked", task_id=task["task_id"], call_id=call_id, queue=queue, preferred_agent=agent)
            self._publish("task_callback_booked", task, call_id=call_id, queue=queue)

    async def _customer_phone(self, customer_id: str | None) -> str | None:
        if not customer_id:
            return None
        try:
            customer = await self.store.get_customer(customer_id)
        except NotFound:
            return None
        phones = customer.get("phones") or []
        return phones[0] if phones else None

    async def _queue_for(self, task: dict[str, Any]) -> str:
        """The owning queue; for an agent's task, the queue of the call it came from; else the
        flows' fallback queue."""
        if task["owner"]["kind"] == "queue" and task["owner"]["id"] in self.acd.core.queues:
            return str(task["owner"]["id"])
        if task["call_id"]:
            with contextlib.suppress(NotFound):
                rec = await self.store.interaction(task["call_id"])
                if rec.queue in self.acd.core.queues:
                    return str(rec.queue)
        return self.fallback_queue

    def _publish(self, kind: str, task: dict[str, Any], **extra: Any) -> None:
        self.emit(kind, task_event(task, **extra))


def task_audience(core: Any, kind: str, data: dict[str, Any]) -> frozenset[str]:
    """The agents whose streams carry a task event beside its owner's: for a task a queue owns,
    the agents with the queue's required skills (they see and work the queue's tasks)."""
    owner = data.get("owner") if kind.startswith("task_") else None
    if not isinstance(owner, dict) or owner.get("kind") != "queue" or owner.get("id") not in core.queues:
        return frozenset()
    needed = core.queues[owner["id"]].skills
    return frozenset(a.id for a in core.agents.values() if all(a.config.skills.get(s, 0) >= level for s, level in needed.items()))


def task_event(task: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """A task change as pushed on the event stream: ``agent_id`` (an agent-owned task) or
    ``owner_queue`` (a queue's: ``task_audience``) say which agents' streams carry it beside the
    supervisors'."""
    owner = task["owner"]
    return {"task_id": task["task_id"], "type": task["type"], "title": task["title"], "owner": owner,
            "due_at": task["due_at"], "priority": task["priority"], "status": task["status"],
            "customer_id": task["customer_id"], "escalated_to_supervisor": task["escalated_to_supervisor"],
            "agent_id": owner["id"] if owner["kind"] == "agent" else None,
            "owner_queue": owner["id"] if owner["kind"] == "queue" else None, **extra}


def task_priority(task: dict[str, Any]) -> int:
    """The call's queue priority for a task's priority: urgent call-backs go first."""
    return {"low": 0, "normal": 0, "high": 1, "urgent": 2}.get(task["priority"], 0)
