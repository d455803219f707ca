"""The tasks' use cases on the store: create (from the API, a wrap-up or a flow), list (mine, my
queues', a customer's, the overdue ones), change through the model's transition table, apply
escalations and book call-backs. Every change leaves a row in ``task_events``: the task's history,
shown on the customer's timeline."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any
from collections.abc import Iterable

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from acd.store.models import CustomerRow, TaskEventRow, TaskRow
from acd.store.sql import NotFound, SqlStore
from acd.tasks.callbacks import CALL_PREFIX, CallbackCounts, RetryDecision, after_failed_callback, callback_counts, callback_state
from acd.tasks.model import Change, Owner, Priority, Status, TaskInput, next_status
from acd.tasks.rules import Escalation, TaskState

__all__ = ["Status", "TaskState"]

CALLBACK_FAILED = "callback_failed"


def task_dict(row: TaskRow, now: float | None = None) -> dict[str, Any]:
    out = {"task_id": row.task_id, "customer_id": row.customer_id, "call_id": row.call_id, "type": row.type,
           "title": row.title, "notes": row.notes, "owner": {"kind": row.owner_kind, "id": row.owner},
           "due_at": row.due_at, "priority": Priority(row.priority).label, "status": row.status, "source": row.source,
           "created_by": row.created_by, "created_at": row.created_at, "updated_at": row.updated_at, "closed_at": row.closed_at,
           "escalation_level": row.escalation_level, "escalated_to_supervisor": row.escalated_to_supervisor,
           "callback_number": row.callback_number, "callback_call_id": row.callback_call_id}
    if now is not None:
        out["overdue"] = row.status == Status.OPEN.value and row.due_at < now
    return out


def task_state(row: TaskRow) -> TaskState:
    return TaskState(Status(row.status), row.type, row.due_at, Priority(row.priority), Owner(row.owner_kind, row.owner),
                     row.escalation_level)


def task_state_of(task: dict[str, Any]) -> TaskState:
    """The escalation state of a task as ``task_dict`` gives it."""
    return TaskState(Status(task["status"]), task["type"], task["due_at"], Priority.named(task["priority"]),
                     Owner(task["owner"]["kind"], task["owner"]["id"]), task["escalation_level"])


def _event(row: TaskRow, kind: str, by: str, at: float, **data: Any) -> TaskEventRow:
    return TaskEventRow(task_id=row.task_id, at=at, kind=kind, by=by[:64], data=data)


async def create_task(store: SqlStore, task: TaskInput, *, source: str, by: str) -> dict[str, Any]:
    now = store.clock.now()
    async with store.session.begin() as s:
        customer_id = task.customer_id
        if customer_id is not None:
            customer = await s.get(CustomerRow, customer_id)
            if customer is None or customer.anonymised_at is not None:
                raise NotFound(f"no customer {customer_id}")
            customer_id = customer.merged_into or customer_id  # a task for a merged record goes to the one kept
        row = TaskRow(task_id=str(uuid.uuid4()), customer_id=customer_id, call_id=task.call_id, type=task.type, title=task.title,
                      notes=task.notes, owner_kind=task.owner.kind, owner=task.owner.id, due_at=task.due_at,
                      priority=int(task.priority), status=Status.OPEN.value, source=source, created_by=by[:64],
                      created_at=now, updated_at=now, closed_at=None, escalation_level=0, escalated_to_supervisor=False,
                      callback_number=task.callback_number, callback_call_id=None)
        s.add(row)
        await s.flush()
        s.add(_event(row, "created", by, now, source=source, owner=str(task.owner), due_at=task.due_at,
                     priority=task.priority.label, type=task.type))
    return task_dict(row, now)


async def get_task(store: SqlStore, task_id: str) -> dict[str, Any]:
    async with store.session() as s:
        row = await s.get(TaskRow, task_id)
    if row is None:
        raise NotFound(f"no task {task_id}")
    return task_dict(row, store.clock.now())


@dataclass(frozen=True)
class TaskQuery:
    owners: tuple[Owner, ...] = ()  # any of these (empty: any owner)
    customer_id: str | None = None
    statuses: tuple[str, ...] = (Status.OPEN.value,)  # empty: any status
    overdue: bool = False
    escalated: bool = False
    limit: int = 200


async def list_tasks(store: SqlStore, query: TaskQuery) -> list[dict[str, Any]]:
    """Tasks matching ``query``, soonest due first (most urgent first at the same time)."""
    now = store.clock.now()
    stmt = select(TaskRow)
    if query.owners:
        stmt = stmt.where(or_(*(and_(TaskRow.owner_kind == o.kind, TaskRow.owner == o.id) for o in query.owners)))
    if query.customer_id:
        stmt = stmt.where(TaskRow.customer_id == query.customer_id)
    if query.statuses:
        stmt = stmt.where(TaskRow.status.in_(query.statuses))
    if query.overdue:
        stmt = stmt.where(TaskRow.status == Status.OPEN.value, TaskRow.due_at < now)
    if query.escalated:
        stmt = stmt.where(TaskRow.escalated_to_supervisor.is_(True))
    stmt = stmt.order_by(TaskRow.due_at, TaskRow.priority.desc(), TaskRow.task_id).limit(query.limit)
    async with store.session() as s:
        return [task_dict(r, now) for r in (await s.scalars(stmt)).all()]


async def change_task(store: SqlStore, task_id: str, change: Change, *, by: str, owner: Owner | None = None,
                      due_at: float | None = None, priority: Priority | None = None, note: str | None = None) -> dict[str, Any]:
    """Complete, cancel, reopen, reassign or reschedule a task (the transition table decides
    whether it may); the change is in the task's history."""
    now = store.clock.now()
    async with store.session.begin() as s:
        row = await s.get(TaskRow, task_id, with_for_update=True)
        if row is None:
            raise NotFound(f"no task {task_id}")
        status = next_status(Status(row.status), change)
        data: dict[str, Any] = {"from": row.status, "to": status.value}
        if owner is not None and owner != Owner(row.owner_kind, row.owner):
            data["owner"] = [f"{row.owner_kind}:{row.owner}", str(owner)]
            row.owner_kind, row.owner = owner.kind, owner.id
        if due_at is not None and due_at != row.due_at:
            data["due_at"] = [row.due_at, due_at]
            row.due_at, row.escalation_level, row.escalated_to_supervisor = due_at, 0, False  # a new due time: rules start again
            row.callback_call_id = None
        if priority is not None and int(priority) != row.priority:
            data["priority"] = [Priority(row.priority).label, priority.label]
            row.priority = int(priority)
        if note:
            data["note"] = note[:2000]
        row.status, row.updated_at = status.value, now
        row.closed_at = now if status is not Status.OPEN else None
        s.add(_event(row, change.value, by, now, **data))
    return task_dict(row, now)


async def overdue_open(store: SqlStore, now: float, types: Iterable[str], limit: int = 500) -> list[tuple[str, TaskState]]:
    """(task id, state) of open tasks of ``types`` past their due time, oldest due first."""
    stmt = (select(TaskRow).where(TaskRow.status == Status.OPEN.value, TaskRow.due_at < now, TaskRow.type.in_(list(types)))
            .order_by(TaskRow.due_at).limit(limit))
    async with store.session() as s:
        return [(r.task_id, task_state(r)) for r in (await s.scalars(stmt)).all()]


async def fell_overdue(store: SqlStore, after: float, now: float, limit: int = 500) -> list[dict[str, Any]]:
    """Open tasks whose due time is in (``after``, ``now``]: those that fell due meanwhile."""
    stmt = (select(TaskRow).where(TaskRow.status == Status.OPEN.value, TaskRow.due_at > after, TaskRow.due_at <= now)
            .order_by(TaskRow.due_at, TaskRow.task_id).limit(limit))
    async with store.session() as s:
        return [task_dict(r, now) for r in (await s.scalars(stmt)).all()]


async def overdue_for_kiosk(store: SqlStore, limit: int = 20) -> dict[str, Any]:
    """The open tasks past their due time as a wall screen may show them: how many, and the most
    overdue first with type, queue, due time, owner, priority and whether escalated, never the
    title or the customer (a title may name a person; a kiosk shows no personal data)."""
    now = store.clock.now()
    overdue = (TaskRow.status == Status.OPEN.value, TaskRow.due_at < now)
    async with store.session() as s:
        count = await s.scalar(select(func.count()).select_from(TaskRow).where(*overdue))
        rows = (await s.scalars(select(TaskRow).where(*overdue).order_by(TaskRow.due_at, TaskRow.task_id).limit(limit))).all()
    return {"count": int(count or 0), "tasks": [
        {"task_id": r.task_id, "type": r.type, "queue": r.owner if r.owner_kind == "queue" else None,
         "owner": {"kind": r.owner_kind, "id": r.owner}, "due_at": r.due_at, "priority": Priority(r.priority).label,
         "escalated_to_supervisor": bool(r.escalated_to_supervisor)} for r in rows]}


async def apply_escalations(store: SqlStore, task_id: str, escalations: list[Escalation], *, by: str = "escalation") -> dict[str, Any] | None:
    """Apply escalations computed for the task's state; None if the task changed meanwhile (it
    is no longer open, or another node applied them first)."""
    if not escalations:
        return None
    now = store.clock.now()
    first = escalations[0].level - 1
    async with store.session.begin() as s:
        row = await s.get(TaskRow, task_id, with_for_update=True)
        if row is None or row.status != Status.OPEN.value or row.escalation_level != first:
            return None
        for e in escalations:
            s.add(_event(row, "escalated", by, now, **e.describe()))
        last = escalations[-1]
        row.owner_kind, row.owner = last.owner.kind, last.owner.id
        row.priority, row.escalation_level = int(last.priority), last.level
        row.escalated_to_supervisor = row.escalated_to_supervisor or last.to_supervisor
        row.updated_at = now
    return task_dict(row, now)


async def due_callbacks(store: SqlStore, now: float, types: Iterable[str], limit: int = 50) -> list[dict[str, Any]]:
    """Open call-back tasks now due with no call booked yet, most urgent first."""
    stmt = (select(TaskRow).where(TaskRow.status == Status.OPEN.value, TaskRow.due_at <= now, TaskRow.type.in_(list(types)),
                                  TaskRow.callback_call_id.is_(None))
            .order_by(TaskRow.priority.desc(), TaskRow.due_at).limit(limit))
    async with store.session() as s:
        return [task_dict(r, now) for r in (await s.scalars(stmt)).all()]


async def note_callback_booked(store: SqlStore, task_id: str, call_id: str, *, number: str, agent: str | None,
                               kind: str = Change.CALLBACK_BOOKED.value) -> bool:
    """Remember the outbound call booked for the task (once: False if one already was).
    ``kind="callback_unreachable"``: no number to ring; remembered the same way, so it is not
    tried at every tick (a new due time tries again)."""
    now = store.clock.now()
    async with store.session.begin() as s:
        row = await s.get(TaskRow, task_id, with_for_update=True)
        if row is None or row.status != Status.OPEN.value or row.callback_call_id is not None:
            return False
        next_status(Status(row.status), Change.CALLBACK_BOOKED)
        row.callback_call_id, row.updated_at = call_id or "-", now
        s.add(_event(row, kind, "callbacks", now, call_id=call_id or None, preferred_agent=agent,
                     number_last4=number[-4:] if number else None))
    return True


async def awaiting_callbacks(store: SqlStore, types: Iterable[str], limit: int = 200) -> list[dict[str, Any]]:
    """Open call-back tasks with a booked call whose end they have not heard of yet, the ones
    changed longest ago first."""
    stmt = (select(TaskRow).where(TaskRow.status == Status.OPEN.value, TaskRow.type.in_(list(types)),
                                  TaskRow.callback_call_id.like(f"{CALL_PREFIX}%"))
            .order_by(TaskRow.updated_at, TaskRow.task_id).limit(limit))
    async with store.session() as s:
        return [task_dict(r, store.clock.now()) for r in (await s.scalars(stmt)).all()]


async def _kinds(s: AsyncSession, task_id: str) -> list[str]:
    return list((await s.scalars(select(TaskEventRow.kind).where(TaskEventRow.task_id == task_id)
                                 .order_by(TaskEventRow.at, TaskEventRow.id))).all())


async def callback_history(store: SqlStore, task_id: str) -> CallbackCounts:
    """How many call-back calls the task has had, and how many failed since its last reset."""
    async with store.session() as s:
        return callback_counts(await _kinds(s, task_id))


async def callback_states(store: SqlStore, tasks: list[dict[str, Any]], *, attempts: int) -> dict[str, dict[str, Any]]:
    """Each call-back task's state as the desk shows it (``acd.tasks.callbacks.callback_state``),
    by task id, from one read of their histories."""
    ids = [t["task_id"] for t in tasks]
    if not ids:
        return {}
    async with store.session() as s:
        rows = (await s.execute(select(TaskEventRow.task_id, TaskEventRow.kind, TaskEventRow.data)
                                .where(TaskEventRow.task_id.in_(ids)).order_by(TaskEventRow.at, TaskEventRow.id))).all()
    events: dict[str, list[tuple[str, dict[str, Any]]]] = {i: [] for i in ids}
    for task_id, kind, data in rows:
        events[task_id].append((kind, data or {}))
    return {t["task_id"]: callback_state(events[t["task_id"]], attempts=attempts,
                                         call_booked=t["callback_call_id"] not in (None, "-"))
            for t in tasks}


async def note_callback_connected(store: SqlStore, task_id: str, call_id: str, *, agent: str | None) -> dict[str, Any] | None:
    """The task's call ``call_id`` reached the customer: on its history once (None if it already
    is, or the task moved on). The task stays open: the agent completes it."""
    now = store.clock.now()
    async with store.session.begin() as s:
        row = await s.get(TaskRow, task_id, with_for_update=True)
        if row is None or row.status != Status.OPEN.value or row.callback_call_id != call_id:
            return None
        noted = (await s.scalars(select(TaskEventRow.data).where(TaskEventRow.task_id == task_id,
                                                                 TaskEventRow.kind == "callback_connected"))).all()
        if any((d or {}).get("call_id") == call_id for d in noted):
            return None
        s.add(_event(row, "callback_connected", "callbacks", now, call_id=call_id, agent=agent))
        row.updated_at = now
    return task_dict(row, now)


async def note_callback_failed(store: SqlStore, task_id: str, call_id: str, *, reason: str, attempts: int,
                               spacing_s: float) -> tuple[dict[str, Any], RetryDecision] | None:
    """The task's call ``call_id`` ended with nobody connected: on its history with the attempt,
    then due again ``spacing_s`` from now (a new booking), or, after ``attempts`` calls, marked
    ``callback_exhausted`` and escalated to the supervisors. None if the task moved on meanwhile
    (closed, rebooked, or another node noted it first)."""
    now = store.clock.now()
    async with store.session.begin() as s:
        row = await s.get(TaskRow, task_id, with_for_update=True)
        if row is None or row.status != Status.OPEN.value or row.callback_call_id != call_id:
            return None
        failed_before = callback_counts(await _kinds(s, task_id)).failed
        decision = after_failed_callback(failed_before, attempts=attempts, spacing_s=spacing_s, now=now)
        s.add(_event(row, CALLBACK_FAILED, "callbacks", now, call_id=call_id, reason=reason, attempt=decision.attempt,
                     retry_at=decision.retry_at))
        if decision.retry_at is None:
            s.add(_event(row, "callback_exhausted", "callbacks", now, attempts=decision.attempt))
            s.add(_event(row, "escalated", "callbacks", now, to="supervisor", reason="callback_exhausted", supervisor=True,
                         level=row.escalation_level, owner=f"{row.owner_kind}:{row.owner}", priority=Priority(row.priority).label))
            row.callback_call_id, row.escalated_to_supervisor = "-", True  # "-": nothing more is booked
        else:
            row.callback_call_id, row.due_at = None, decision.retry_at
        row.updated_at = now
    return task_dict(row, now), decision


ERASED_TITLE = "(erased)"
PERSONAL_EVENT_KEYS = ("note", "number_last4")  # what a task's history may hold of the person


async def erase_tasks(s: AsyncSession, customer_ids: list[str]) -> int:
    """In the erasure's transaction: the customers' tasks keep their type, owner, times and status
    (the workload figures) and lose the title, notes, number and customer link, and their history
    the notes and number digits. The number of tasks."""
    rows = (await s.scalars(select(TaskRow).where(TaskRow.customer_id.in_(customer_ids)))).all()
    for row in rows:
        row.customer_id, row.title, row.notes, row.callback_number = None, ERASED_TITLE, None, None
    events = (await s.scalars(select(TaskEventRow).where(TaskEventRow.task_id.in_([r.task_id for r in rows])))).all() if rows else []
    for e in events:
        if any(k in (e.data or {}) for k in PERSONAL_EVENT_KEYS):
            e.data = {k: v for k, v in e.data.items() if k not in PERSONAL_EVENT_KEYS}
    return len(rows)


async def history(store: SqlStore, task_id: str) -> list[dict[str, Any]]:
    async with store.session() as s:
        rows = (await s.scalars(select(TaskEventRow).where(TaskEventRow.task_id == task_id)
                                .order_by(TaskEventRow.at, TaskEventRow.id))).all()
    return [{"at": r.at, "kind": r.kind, "by": r.by, **r.data} for r in rows]


async def customer_task_timeline(store: SqlStore, customer_id: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The customer's tasks (newest first) and every task event as a touchpoint, oldest first."""
    async with store.session() as s:
        tasks = (await s.scalars(select(TaskRow).where(TaskRow.customer_id == customer_id)
                                 .order_by(TaskRow.created_at.desc()))).all()
        events = (await s.execute(select(TaskEventRow, TaskRow.title).join(TaskRow, TaskRow.task_id == TaskEventRow.task_id)
                                  .where(TaskRow.customer_id == customer_id).order_by(TaskEventRow.at, TaskEventRow.id))).all()
    now = store.clock.now()
    points = [{"at": e.at, "channel": "task", "direction": "internal", "id": e.task_id, "summary": f"{title}: {e.kind}",
               "agent": e.by, "outcome": e.kind, "data": e.data} for e, title in events]
    return [task_dict(t, now) for t in tasks], points
