"""Follow-up tasks in a running engine (simulated PBX, SQLite store): the runner applies the
escalation rules of config/tasks.yaml once each and pushes them live; a due call-back task becomes
an outbound call through the ACD's callback path, the owning agent rung first and then the
customer, booked once; the call lands on the customer's record."""

from __future__ import annotations

import asyncio

import pytest

from acd.routing.model import AgentState
from acd.sim import AgentBehaviour
from acd.store import contacts, tasks as store_tasks
from acd.tasks.model import Change, TaskInput
from tests.acd.conftest import wait_until
from tests.acd.test_flow_calls import stored_interaction

pytestmark = pytest.mark.virtual_time

QUEUES = """
queues:
  - {name: general, skills: {general: 1}, ring_timeout_s: 20, wrapup_s: 30, moh_slice_s: 20, announce_position: false,
     announce_ewt: false, callback_retry_s: 300, callback_attempts: 2}
  - {name: escalations, skills: {general: 1}, ring_timeout_s: 20, wrapup_s: 30, moh_slice_s: 20, announce_position: false}
"""
TASKS = """
check_every: 1h   # the tests call run_once themselves
callback_hold: 30s
callback_attempts: 2
callback_retry: 10m
types:
  callback:
    label: Call back
    due: 1d
    callback: true
  complaint:
    due: 4h
    escalation:
      - {overdue: 30m, to: priority, priority: high}
      - {overdue: 2h, to: supervisor}
      - {overdue: 1d, to: queue, queue: escalations}
"""


@pytest.fixture
async def engine(make_engine, tmp_path):
    (tmp_path / "tasks.yaml").write_text(TASKS)
    return await make_engine(n_agents=2, queues=QUEUES)


def _task(engine, **body) -> TaskInput:
    return TaskInput.parse(body, now=engine.clock.now(), types=engine.live_config.task_types(), agents=frozenset(engine.core.agents),
                           queues=frozenset(engine.core.queues))


async def test_escalations_apply_once_each_and_are_pushed(engine):
    seen: list[tuple[str, dict]] = []
    engine.listeners.append(lambda kind, data: seen.append((kind, data)) if kind.startswith("task_") else None)
    cid = await engine.customers.create_customer(name="Ada Lovelace", by="test")
    now = engine.clock.now()
    late = await store_tasks.create_task(engine.customers, _task(engine, type="complaint", owner_agent="agent1", customer_id=cid,
                                                                 due=now - 3 * 3600), source="api", by="sup")
    fresh = await store_tasks.create_task(engine.customers, _task(engine, type="complaint", owner_agent="agent2"), source="api", by="sup")
    report = await engine.tasks.run_once()
    assert report.escalated == [late["task_id"]]
    task = await store_tasks.get_task(engine.customers, late["task_id"])
    assert task["priority"] == "high" and task["escalated_to_supervisor"] and task["escalation_level"] == 2
    assert task["owner"] == {"kind": "agent", "id": "agent1"}  # the queue rule is a day away
    assert (await store_tasks.get_task(engine.customers, fresh["task_id"]))["escalation_level"] == 0
    assert [(k, d["task_id"], [e["to"] for e in d["escalations"]]) for k, d in seen] == [
        ("task_escalated", late["task_id"], ["priority", "supervisor"])]
    assert (await engine.tasks.run_once()).escalated == []  # each rule once
    timeline = await contacts.full_timeline(engine.customers, cid)
    assert [p["outcome"] for p in timeline["touchpoints"] if p["channel"] == "task"] == ["created", "escalated", "escalated"]


async def test_a_due_callback_rings_the_owner_first_then_the_customer_once(engine):
    engine.acd.set_not_ready("agent2", "break")
    engine.pbx.agents["agent1"] = AgentBehaviour(answer_after_s=3, talk_s=180)
    engine.pbx.customers["447700900321"] = AgentBehaviour(answer_after_s=8, talk_s=180)
    cid = await engine.customers.create_customer(name="Grace Hopper", phones=["+447700900321"], by="test")
    now = engine.clock.now()
    later = await store_tasks.create_task(engine.customers, _task(engine, type="callback", owner_agent="agent1", customer_id=cid),
                                          source="wrapup", by="agent1")
    due = await store_tasks.create_task(engine.customers, _task(engine, type="callback", owner_agent="agent1", customer_id=cid,
                                                                due=now - 5, title="Call back about the bill"),
                                        source="wrapup", by="agent1")
    report = await engine.tasks.run_once()
    call_id = f"cb-{due['task_id']}"
    assert report.callbacks == [call_id]  # the other is not due until tomorrow
    await wait_until(lambda: engine.pbx.callbacks_dialled == ["447700900321"], 60)  # the customer's number, from the record
    await wait_until(lambda: call_id in engine.core.connected, 60)
    assert engine.core.connected[call_id] == "agent1"
    again = await engine.tasks.run_once()
    assert again.callbacks == []  # booked once
    await wait_until(lambda: engine.core.agents["agent1"].state in (AgentState.WRAP_UP, AgentState.READY), 300)
    rec = await stored_interaction(engine, call_id)
    assert rec.customer_id == cid and rec.agent == "agent1" and rec.callback_requested and rec.queue == "general"
    await engine.records.drain()
    report = await engine.tasks.run_once()
    assert again.connected + report.connected == [call_id] and report.failed == []  # noted once, the call ended or not
    assert (await engine.tasks.run_once()).connected == []
    history = await store_tasks.history(engine.customers, due["task_id"])
    assert [h["kind"] for h in history] == ["created", "callback_booked", "callback_connected"] and history[1]["call_id"] == call_id
    assert history[2]["agent"] == "agent1" and history[2]["call_id"] == call_id
    assert (await store_tasks.get_task(engine.customers, later["task_id"]))["callback_call_id"] is None


async def test_a_callback_with_no_number_is_reported_once(engine):
    cid = await engine.customers.create_customer(name="No Phone", by="test")
    task = await store_tasks.create_task(engine.customers, _task(engine, type="callback", owner_queue="general", customer_id=cid,
                                                                 due=engine.clock.now() - 1), source="api", by="sup")
    assert (await engine.tasks.run_once()).unreachable == [task["task_id"]]
    assert (await engine.tasks.run_once()).unreachable == []
    assert engine.pbx.callbacks_dialled == []


async def test_a_callback_nobody_answers_is_booked_again_then_marked_exhausted_and_escalated(engine):
    engine.acd.set_not_ready("agent2", "break")
    engine.pbx.agents["agent1"] = AgentBehaviour(answer_after_s=2, talk_s=60)
    engine.pbx.customers["447700900444"] = AgentBehaviour(busy=True)  # the line is busy at every try
    seen: list[tuple[str, dict]] = []
    engine.listeners.append(lambda kind, data: seen.append((kind, data)) if kind.startswith("task_callback") or kind == "task_escalated" else None)
    cid = await engine.customers.create_customer(name="Busy Line", phones=["+447700900444"], by="test")
    task = await store_tasks.create_task(engine.customers, _task(engine, type="callback", owner_agent="agent1", customer_id=cid,
                                                                 due=engine.clock.now() - 5), source="wrapup", by="agent1")
    task_id = task["task_id"]
    first, second = f"cb-{task_id}", f"cb-{task_id}-2"
    assert (await engine.tasks.run_once()).callbacks == [first]
    await wait_until(lambda: first not in engine.core.calls, 900)  # the queue's own two tries, 5 minutes apart
    assert engine.pbx.callbacks_dialled == ["447700900444"] * 2
    await engine.records.drain()
    report = await engine.tasks.run_once()
    assert report.failed == [first] and report.exhausted == [] and report.callbacks == []
    after_first = await store_tasks.get_task(engine.customers, task_id)
    assert after_first["status"] == "open" and after_first["callback_call_id"] is None and not after_first["escalated_to_supervisor"]
    assert abs(after_first["due_at"] - (engine.clock.now() + 600)) < 1  # booked again callback_retry later
    assert (await engine.tasks.run_once()).failed == []  # noted once
    await asyncio.sleep(601)
    assert (await engine.tasks.run_once()).callbacks == [second]
    await wait_until(lambda: second not in engine.core.calls, 900)
    await engine.records.drain()
    report = await engine.tasks.run_once()
    assert report.failed == [second] and report.exhausted == [task_id]
    done = await store_tasks.get_task(engine.customers, task_id)
    assert done["status"] == "open" and done["escalated_to_supervisor"] and done["callback_call_id"] == "-"
    assert (await engine.tasks.run_once()).callbacks == []  # out of attempts: never booked again
    assert len(engine.pbx.callbacks_dialled) == 4
    history = await store_tasks.history(engine.customers, task_id)
    assert [h["kind"] for h in history] == ["created", "callback_booked", "callback_failed", "callback_booked", "callback_failed",
                                            "callback_exhausted", "escalated"]
    assert [(h["call_id"], h["attempt"]) for h in history if h["kind"] == "callback_failed"] == [(first, 1), (second, 2)]
    assert history[-1]["reason"] == "callback_exhausted" and history[-1]["to"] == "supervisor"
    assert [(k, d.get("attempt")) for k, d in seen] == [("task_callback_booked", None), ("task_callback_failed", 1),
                                                        ("task_callback_booked", None), ("task_callback_failed", 2),
                                                        ("task_escalated", None)]
    assert seen[-1][1]["escalations"][0]["reason"] == "callback_exhausted" and seen[-1][1]["agent_id"] == "agent1"
    timeline = await contacts.full_timeline(engine.customers, cid)
    assert "callback_exhausted" in [p["outcome"] for p in timeline["touchpoints"] if p["channel"] == "task"]
    # the agent gives it a new due time: the attempts start again, under a new call id (no record reused)
    await store_tasks.change_task(engine.customers, task_id, Change.RESCHEDULE, by="agent1", due_at=engine.clock.now() - 1)
    assert (await engine.tasks.run_once()).callbacks == [f"cb-{task_id}-3"]
    await wait_until(lambda: f"cb-{task_id}-3" not in engine.core.calls, 900)
    await engine.records.drain()
    report = await engine.tasks.run_once()
    assert report.failed == [f"cb-{task_id}-3"] and report.exhausted == []  # the first of two attempts again


async def test_tasks_that_fall_due_are_announced_once(engine):
    seen: list[tuple[str, dict]] = []
    engine.listeners.append(lambda kind, data: seen.append((kind, data)) if kind == "task_overdue" else None)
    now = engine.clock.now()
    soon = await store_tasks.create_task(engine.customers, _task(engine, type="complaint", owner_queue="general", due=now + 60),
                                         source="api", by="sup")
    await store_tasks.create_task(engine.customers, _task(engine, type="complaint", owner_queue="general", due=now + 7200),
                                  source="api", by="sup")
    assert (await engine.tasks.run_once()).overdue == []
    await asyncio.sleep(61)
    assert (await engine.tasks.run_once()).overdue == [soon["task_id"]]
    assert (await engine.tasks.run_once()).overdue == []  # once
    assert [(d["task_id"], d["owner_queue"], d["agent_id"]) for _, d in seen] == [(soon["task_id"], "general", None)]


BOOK_FLOW = """
flow: book
steps:
  look:
    lookup_caller: true
    next: book
  book:
    task: {type: callback, title: "Call back: {{ customer.name }}", queue: general, due: +2h, note: "asked in the IVR"}
    on: {ok: thanks, failed: thanks}
  thanks:
    hangup: {prompt: thanks}
"""


async def test_a_flow_task_step_stores_a_task_on_the_callers_customer(make_engine, tmp_path):
    from acd.sim import CallerScript

    flows = tmp_path / "flows"
    flows.mkdir()
    (flows / "book.yaml").write_text(BOOK_FLOW)
    (tmp_path / "tasks.yaml").write_text(TASKS)
    engine = await make_engine(n_agents=1, queues=QUEUES, engine_yaml=f"flows:\n  directory: {flows}\n  default_flow: book\n")
    cid = await engine.customers.create_customer(name="Ada Lovelace", phones=["+447700900555"], by="test")
    call = await engine.pbx.place_call(CallerScript(caller_id="+447700900555"))
    await call.finished(120)
    found = await store_tasks.list_tasks(engine.customers, store_tasks.TaskQuery(customer_id=cid))
    assert len(found) == 1, engine.calllog.timeline(call.uniqueid)
    task = found[0]
    assert task["source"] == "flow" and task["created_by"] == "flow:book" and task["title"] == "Call back: Ada Lovelace"
    assert task["owner"] == {"kind": "queue", "id": "general"} and task["call_id"] == call.uniqueid
    assert task["callback_number"] == "+447700900555" and task["notes"] == "asked in the IVR"
    assert abs(task["due_at"] - (task["created_at"] + 7200)) < 1
