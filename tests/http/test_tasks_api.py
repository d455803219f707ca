"""Tasks over the API of a running engine (simulated PBX, SQLite store): role rules (an agent
sees its own and its queues' tasks, gives tasks to itself or its queues), a task from wrap-up
on the call's customer with the caller's number, changes with history, the supervisors'
overdue list, and the push stream's task events."""

from __future__ import annotations

import aiohttp
import pytest

from acd.routing.model import AgentState
from acd.sim import AgentBehaviour, CallerScript
from tests.conftest import wait_until
from tests.http.conftest import Api, users_yaml

QUEUES = """
queues:
  - {name: general, skills: {general: 1}, ring_timeout_s: 2.0, wrapup_s: 120, moh_slice_s: 2, announce_position: false}
  - {name: billing, skills: {billing: 1}, ring_timeout_s: 2.0, wrapup_s: 120, moh_slice_s: 2, announce_position: false}
"""


@pytest.fixture
async def tapi(make_engine, tmp_path):
    (tmp_path / "users.yaml").write_text(users_yaml())
    engine = await make_engine(n_agents=2, queues=QUEUES)
    async with aiohttp.ClientSession() as session:
        yield Api(engine, session)


async def test_role_rules_lists_and_changes(tapi):
    engine = tapi.engine
    cid = await engine.customers.create_customer(name="Ada Lovelace", by="test")
    status, body = await tapi.call("POST", "/api/v1/tasks", "agent1", json={"type": "follow_up", "customer_id": cid, "due": "+1h"})
    assert status == 201 and body["owner"] == {"kind": "agent", "id": "agent1"} and body["source"] == "api"
    own = body["task_id"]
    status, body = await tapi.call("POST", "/api/v1/tasks", "agent1", json={"type": "case", "owner_agent": "agent2"})
    assert status == 403  # only a supervisor gives a task to another agent
    status, body = await tapi.call("POST", "/api/v1/tasks", "agent1", json={"type": "case", "owner_queue": "billing"})
    assert status == 403  # agent1 does not serve billing
    status, body = await tapi.call("POST", "/api/v1/tasks", "agent1", json={"type": "case", "owner_queue": "general", "due": "+2h"})
    assert status == 201
    queued = body["task_id"]
    status, body = await tapi.call("POST", "/api/v1/tasks", "sup", json={"type": "callback", "owner_agent": "agent2",
                                                                         "due": engine.clock.now() - 600, "priority": "high"})
    assert status == 201
    theirs = body["task_id"]
    for bad, field in (({"type": "nope"}, "type"), ({"type": "case", "owner_queue": "general", "due": "soon"}, "due"),
                       ({"type": "case", "x": 1}, "x"), ({"type": "case"}, "owner_agent"),
                       ({"type": "case", "owner_queue": "nowhere"}, "owner_queue"),
                       ({"type": "case", "owner_queue": "general", "priority": "max"}, "priority")):
        status, body = await tapi.call("POST", "/api/v1/tasks", "sup", json=bad)
        assert status == 422 and body["field"] == field, bad

    status, body = await tapi.call("GET", "/api/v1/tasks", "agent1")
    assert [t["task_id"] for t in body["tasks"]] == [own, queued]  # its own and its queue's, soonest due first
    status, body = await tapi.call("GET", "/api/v1/tasks?mine=1", "agent1")
    assert [t["task_id"] for t in body["tasks"]] == [own]
    assert (await tapi.call("GET", f"/api/v1/tasks/{theirs}", "agent1"))[0] == 404  # not confirmed to exist
    assert (await tapi.call("GET", "/api/v1/tasks?owner_agent=agent2", "agent1"))[0] == 403
    status, body = await tapi.call("GET", "/api/v1/tasks?overdue=1", "sup")
    assert [t["task_id"] for t in body["tasks"]] == [theirs] and body["tasks"][0]["overdue"] is True

    status, body = await tapi.call("POST", f"/api/v1/tasks/{queued}/complete", "agent2", json={"note": "sorted"})
    assert status == 200 and body["status"] == "done"  # agent2 serves general too
    assert (await tapi.call("POST", f"/api/v1/tasks/{queued}/cancel", "agent2"))[0] == 409  # done: cannot cancel
    assert (await tapi.call("POST", f"/api/v1/tasks/{queued}/escalate", "sup"))[0] == 404  # not a change the API offers
    status, body = await tapi.call("PATCH", f"/api/v1/tasks/{own}", "sup", json={"owner_queue": "billing", "priority": "urgent"})
    assert status == 200 and body["owner"] == {"kind": "queue", "id": "billing"} and body["priority"] == "urgent"
    assert (await tapi.call("GET", f"/api/v1/tasks/{own}", "agent1"))[0] == 404  # no longer agent1's
    status, body = await tapi.call("GET", f"/api/v1/tasks/{own}", "sup")
    assert [h["kind"] for h in body["history"]] == ["created", "reassign"]
    assert body["history"][1]["owner"] == ["agent:agent1", "queue:billing"]
    status, body = await tapi.call("GET", f"/api/v1/customers/{cid}/timeline", "sup")
    assert [t["task_id"] for t in body["tasks"]] == [own]
    status, spec = await tapi.call("GET", "/openapi.json")
    assert spec["paths"]["/api/v1/tasks"]["get"]["x-acd-role"] == "agent_own"


async def test_a_task_from_wrapup_goes_on_the_calls_customer_and_is_pushed(tapi):
    engine = tapi.engine
    engine.acd.set_not_ready("agent2", "break")
    engine.pbx.agents["agent1"] = AgentBehaviour(answer_after_s=0.2, talk_s=0.5)
    cid = await engine.customers.create_customer(name="Grace Hopper", phones=["+447700900123"], by="test")
    seen: list[tuple[str, dict]] = []
    engine.listeners.append(lambda kind, data: seen.append((kind, data)) if kind.startswith("task_") else None)
    call = await engine.pbx.place_call(CallerScript(caller_id="+447700900123"))
    await wait_until(lambda: engine.core.agents["agent1"].state == AgentState.WRAP_UP, 20)
    assert (await tapi.call("POST", "/api/v1/agents/agent1/link", "agent1", json={"customer_id": cid}))[0] == 200
    status, work = await tapi.call("GET", "/api/v1/agents/agent1/work", "agent1")
    assert work["call"]["open_tasks"] == []  # the screen-pop's open tasks of the customer: none yet
    status, body = await tapi.call("POST", "/api/v1/agents/agent1/wrapup", "agent1", json={
        "disposition": "resolved", "task": {"type": "callback", "due": "soon"}})
    assert status == 422 and body["field"] == "due"
    assert engine.core.agents["agent1"].state == AgentState.WRAP_UP  # nothing lost: still in wrap-up
    status, body = await tapi.call("POST", "/api/v1/agents/agent1/wrapup", "agent1", json={
        "disposition": "resolved", "task": {"type": "callback", "title": "Call back Tuesday", "due": "2030-01-01T10:00:00Z"}})
    assert status == 200, body
    task = body["task"]
    assert task["call_id"] == call.uniqueid and task["source"] == "wrapup" and task["owner"] == {"kind": "agent", "id": "agent1"}
    assert task["callback_number"] == "+447700900123" and task["title"] == "Call back Tuesday"
    assert task["customer_id"] == cid
    assert [(k, d["task_id"], d["agent_id"]) for k, d in seen] == [("task_created", task["task_id"], "agent1")]
    engine.pbx.agents["agent1"] = AgentBehaviour(answer_after_s=0.2, talk_s=30)
    await engine.pbx.place_call(CallerScript(caller_id="+447700900123"))
    await wait_until(lambda: engine.core.agents["agent1"].state == AgentState.ON_CALL, 20)
    assert (await tapi.call("POST", "/api/v1/agents/agent1/link", "agent1", json={"customer_id": cid}))[0] == 200
    status, work = await tapi.call("GET", "/api/v1/agents/agent1/work", "agent1")
    assert [t["title"] for t in work["call"]["open_tasks"]] == ["Call back Tuesday"]  # the next call shows the promise


async def test_an_agents_stream_carries_its_queues_tasks_not_other_queues(tapi):
    from tests.http.conftest import TOKENS
    from tests.http.test_events import read_events

    headers = {"Authorization": f"Bearer {TOKENS['agent1']}"}
    async with tapi.session.get(f"{tapi.base}/api/v1/events", headers=headers) as r:
        assert r.status == 200
        status, billing = await tapi.call("POST", "/api/v1/tasks", "sup", json={"type": "case", "owner_queue": "billing", "title": "B"})
        assert status == 201
        status, theirs = await tapi.call("POST", "/api/v1/tasks", "sup", json={"type": "case", "owner_agent": "agent2", "title": "C"})
        assert status == 201
        status, general = await tapi.call("POST", "/api/v1/tasks", "sup", json={"type": "case", "owner_queue": "general", "title": "G"})
        assert status == 201
        status, _ = await tapi.call("POST", f"/api/v1/tasks/{general['task_id']}/complete", "agent2")
        assert status == 200
        got = await read_events(r, 2)
    # agent1 serves general, not billing: the general task's creation and completion, nothing of billing's or agent2's
    assert [(k, d["task_id"], d["owner"]["id"]) for _, k, d in got] == [
        ("task_created", general["task_id"], "general"), ("task_complete", general["task_id"], "general")]


async def test_a_task_reassigned_away_is_pushed_to_its_old_owner_too(tapi):
    from tests.http.conftest import TOKENS
    from tests.http.test_events import read_events

    headers = {"Authorization": f"Bearer {TOKENS['agent1']}"}
    async with tapi.session.get(f"{tapi.base}/api/v1/events", headers=headers) as r:
        assert r.status == 200
        status, mine = await tapi.call("POST", "/api/v1/tasks", "sup", json={"type": "case", "owner_agent": "agent1", "title": "M"})
        assert status == 201
        status, _ = await tapi.call("PATCH", f"/api/v1/tasks/{mine['task_id']}", "sup", json={"owner_agent": "agent2"})
        assert status == 200
        status, queued = await tapi.call("POST", "/api/v1/tasks", "sup", json={"type": "case", "owner_queue": "general", "title": "G"})
        assert status == 201
        status, _ = await tapi.call("PATCH", f"/api/v1/tasks/{queued['task_id']}", "sup", json={"owner_queue": "billing"})
        assert status == 200
        got = await read_events(r, 4)
    # agent1's desk hears of both tasks leaving it (its own, and its queue's), so it drops them at once
    assert [(k, d["task_id"], d["owner"]["id"], (d.get("previous_owner") or {}).get("id")) for _, k, d in got] == [
        ("task_created", mine["task_id"], "agent1", None), ("task_changed", mine["task_id"], "agent2", "agent1"),
        ("task_created", queued["task_id"], "general", None), ("task_changed", queued["task_id"], "billing", "general")]
