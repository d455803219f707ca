"""Tasks on the store, on SQLite and PostgreSQL: create (checked input), the lists an agent, a
queue and a supervisor read, changes through the transition table with their history,
escalation by the rules of config/tasks.yaml, call-back booking once, the customer's timeline and
erasure."""

from __future__ import annotations

import pytest

from acd.store import contacts, erasure, tasks
from acd.store.sql import NotFound
from acd.tasks.model import Change, IllegalTaskChange, InvalidTask, Owner, Priority, TaskInput
from acd.tasks.rules import DEFAULT_TYPES, EscalationRule, TaskType, escalations_due

AGENTS, QUEUES = frozenset({"agent1", "agent2"}), frozenset({"general", "escalations"})
TYPES = {**DEFAULT_TYPES, "callback": TaskType("callback", "Call back", 3600.0, Priority.NORMAL, callback=True, escalation=(
    EscalationRule(1800.0, "priority", priority=Priority.HIGH), EscalationRule(7200.0, "supervisor"),
    EscalationRule(86400.0, "queue", queue="escalations")))}


def _input(now: float, **body) -> TaskInput:
    return TaskInput.parse({"type": "callback", **body}, now=now, types=TYPES, agents=AGENTS, queues=QUEUES)


async def test_create_checks_every_field_and_lists_mine_my_queues_and_overdue(store, clock):
    now = clock.now()
    ada = await store.create_customer(name="Ada Lovelace", phones=["020 7946 0001"])
    for body, field in (({"type": "nope"}, "type"), ({"owner_agent": "agent9"}, "owner_agent"),
                        ({"owner_queue": "nowhere"}, "owner_queue"), ({}, "owner_agent"),
                        ({"owner_agent": "agent1", "due": "tuesday"}, "due"),
                        ({"owner_agent": "agent1", "priority": "huge"}, "priority"),
                        ({"owner_agent": "agent1", "callback_number": "call me"}, "callback_number")):
        with pytest.raises(InvalidTask) as bad:
            TaskInput.parse({"type": "callback", **body}, now=now, types=TYPES, agents=AGENTS, queues=QUEUES)
        assert bad.value.field == field, body
    mine = await tasks.create_task(store, _input(now, owner_agent="agent1", customer_id=ada, title="Call back Tuesday",
                                                 due="+2d", callback_number="+44 20 7946 0001"), source="wrapup", by="agent1")
    assert mine["due_at"] == now + 2 * 86400 and mine["priority"] == "normal" and mine["status"] == "open"
    queued = await tasks.create_task(store, _input(now, owner_queue="general", due=now - 60, priority="urgent"), source="api", by="sup")
    assert queued["title"] == "Call back" and queued["overdue"] is True and mine["overdue"] is False
    await tasks.create_task(store, _input(now, owner_agent="agent2"), source="flow", by="flow:survey")
    with pytest.raises(NotFound):
        await tasks.create_task(store, _input(now, owner_agent="agent1", customer_id="nobody"), source="api", by="sup")

    listed = await tasks.list_tasks(store, tasks.TaskQuery(owners=(Owner("agent", "agent1"), Owner("queue", "general"))))
    assert [t["task_id"] for t in listed] == [queued["task_id"], mine["task_id"]]  # soonest due first
    overdue = await tasks.list_tasks(store, tasks.TaskQuery(overdue=True))
    assert [t["task_id"] for t in overdue] == [queued["task_id"]] and overdue[0]["overdue"] is True
    assert [t["task_id"] for t in await tasks.list_tasks(store, tasks.TaskQuery(customer_id=ada))] == [mine["task_id"]]


async def test_changes_follow_the_transition_table_and_leave_a_history(store, clock):
    task = await tasks.create_task(store, _input(clock.now(), owner_agent="agent1"), source="api", by="agent1")
    tid = task["task_id"]
    moved = await tasks.change_task(store, tid, Change.REASSIGN, by="sup", owner=Owner("queue", "general"), priority=Priority.HIGH)
    assert moved["owner"] == {"kind": "queue", "id": "general"} and moved["priority"] == "high"
    clock.advance(10)
    done = await tasks.change_task(store, tid, Change.COMPLETE, by="agent2", note="spoke to her")
    assert done["status"] == "done" and done["closed_at"] == clock.now()
    with pytest.raises(IllegalTaskChange):
        await tasks.change_task(store, tid, Change.CANCEL, by="agent2")
    again = await tasks.change_task(store, tid, Change.REOPEN, by="sup")
    assert again["status"] == "open" and again["closed_at"] is None
    kinds = [(e["kind"], e["by"]) for e in await tasks.history(store, tid)]
    assert kinds == [("created", "agent1"), ("reassign", "sup"), ("complete", "agent2"), ("reopen", "sup")]
    with pytest.raises(NotFound):
        await tasks.change_task(store, "missing", Change.COMPLETE, by="sup")


async def test_escalation_applies_each_rule_once_in_order(store, clock):
    ada = await store.create_customer(name="Ada Lovelace")
    task = await tasks.create_task(store, _input(clock.now(), owner_agent="agent1", customer_id=ada, due="+1h"), source="api", by="agent1")
    tid = task["task_id"]

    async def run() -> dict | None:
        found = dict(await tasks.overdue_open(store, clock.now(), TYPES))
        if tid not in found:
            return None
        return await tasks.apply_escalations(store, tid, escalations_due(found[tid], TYPES, clock.now()))

    assert await run() is None  # not due yet
    clock.advance(3600 + 1800)
    first = await run()
    assert first is not None and first["priority"] == "high" and first["escalation_level"] == 1
    assert first["owner"] == {"kind": "agent", "id": "agent1"} and not first["escalated_to_supervisor"]
    assert await run() is None or (await tasks.get_task(store, tid))["escalation_level"] == 1  # nothing new yet
    clock.advance(86400)  # past both remaining rules: both apply now, in order
    last = await run()
    assert last is not None and last["escalation_level"] == 3 and last["escalated_to_supervisor"]
    assert last["owner"] == {"kind": "queue", "id": "escalations"}
    stale = escalations_due(tasks.task_state_of(last), TYPES, clock.now())
    assert stale == []
    # a state read before another node applied the rules is refused
    old = escalations_due(tasks.TaskState(tasks.Status.OPEN, "callback", task["due_at"], Priority.NORMAL, Owner("agent", "agent1"), 0),
                          TYPES, clock.now())
    assert await tasks.apply_escalations(store, tid, old) is None
    levels = [e["level"] for e in await tasks.history(store, tid) if e["kind"] == "escalated"]
    assert levels == [1, 2, 3]
    timeline = await contacts.full_timeline(store, ada)
    assert [t["task_id"] for t in timeline["tasks"]] == [tid]
    assert [p["outcome"] for p in timeline["touchpoints"] if p["channel"] == "task"] == ["created", "escalated", "escalated", "escalated"]
    # a new due time starts the rules again
    moved = await tasks.change_task(store, tid, Change.RESCHEDULE, by="sup", due_at=clock.now() + 3600)
    assert moved["escalation_level"] == 0 and not moved["escalated_to_supervisor"]


async def test_callbacks_due_are_booked_once_and_erasure_blanks_the_person(store, clock):
    ada = await store.create_customer(name="Ada Lovelace")
    task = await tasks.create_task(store, _input(clock.now(), owner_agent="agent1", customer_id=ada, due="+10m",
                                                 callback_number="+442079460001", notes="her card was 4111 1111",
                                                 title="Ring Ada Lovelace back"),
                                   source="wrapup", by="agent1")
    assert await tasks.due_callbacks(store, clock.now(), ["callback"]) == []
    clock.advance(601)
    due = await tasks.due_callbacks(store, clock.now(), ["callback"])
    assert [t["task_id"] for t in due] == [task["task_id"]]
    assert await tasks.note_callback_booked(store, task["task_id"], "cb-1", number="+442079460001", agent="agent1")
    assert not await tasks.note_callback_booked(store, task["task_id"], "cb-2", number="+442079460001", agent="agent1")
    assert await tasks.due_callbacks(store, clock.now(), ["callback"]) == []
    booked = [e for e in await tasks.history(store, task["task_id"]) if e["kind"] == "callback_booked"]
    assert booked[0]["call_id"] == "cb-1" and "+442079460001" not in str(booked)
    await tasks.change_task(store, task["task_id"], Change.RESCHEDULE, by="agent1", due_at=clock.now() + 60,
                            note="Ada asked for after 5, card 4111 1111")
    done = await erasure.erase_customer(store, ada, by="admin", reason="request 7")
    assert done["counts"]["tasks"] == 1
    left = await tasks.get_task(store, task["task_id"])
    assert left["customer_id"] is None and left["notes"] is None and left["callback_number"] is None
    assert left["title"] == "(erased)"
    history = await tasks.history(store, task["task_id"])
    assert [h["kind"] for h in history] == ["created", "callback_booked", "reschedule"]
    assert "4111" not in str(history) and "Ada" not in str(history) and "0001" not in str(history)
    assert left["type"] == "callback" and left["owner"]["id"] == "agent1"
