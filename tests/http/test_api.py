"""The HTTP API over a running engine: every route's role rule, the error bodies, agents driving
their own state and wrap-up, supervisors forcing state, admins reloading flows and config."""

from __future__ import annotations

import datetime as dt
import logging

import pytest

from acd.http.api import ROUTES
from acd.routing.model import AgentState
from acd.sim import AgentBehaviour, CallerScript
from tests.conftest import wait_until

# route -> the status each caller gets: none (no token), agent1 (about itself where the route
# names an agent), agent2 (about agent1: someone else), sup, admin
ROLE_TABLE = [
    ("GET", "/api/v1/me", {"none": 401, "agent1": 200, "sup": 200, "admin": 200}),
    ("GET", "/api/v1/reasons", {"none": 401, "agent1": 200, "sup": 200, "admin": 200}),
    ("GET", "/api/v1/dispositions", {"none": 401, "agent1": 200, "sup": 200, "admin": 200}),
    ("GET", "/api/v1/agents", {"none": 401, "agent1": 403, "sup": 200, "admin": 200}),
    ("GET", "/api/v1/agents/agent1", {"none": 401, "agent1": 200, "agent2": 403, "sup": 200, "admin": 200}),
    ("GET", "/api/v1/agents/agent1/work", {"none": 401, "agent1": 200, "agent2": 403, "sup": 200, "admin": 200}),
    ("POST", "/api/v1/agents/agent1/wrapup", {"none": 401, "agent2": 403}),
    ("PUT", "/api/v1/agents/agent1/state", {"none": 401, "agent2": 403}),
    ("POST", "/api/v1/agents/agent1/login", {"none": 401, "agent2": 403}),
    ("POST", "/api/v1/agents/agent1/logout", {"none": 401, "agent2": 403}),
    ("POST", "/api/v1/agents/agent1/wrapup/extend", {"none": 401, "agent2": 403}),
    ("GET", "/api/v1/queues", {"none": 401, "agent1": 403, "sup": 200, "admin": 200}),
    ("GET", "/api/v1/live", {"none": 401, "agent1": 403, "sup": 200, "admin": 200}),
    ("GET", "/api/v1/interactions", {"none": 401, "agent1": 200, "sup": 200, "admin": 200}),
    ("GET", "/api/v1/interactions/nope", {"none": 401, "agent1": 404, "sup": 404}),
    ("GET", "/api/v1/interactions/nope/decisions", {"none": 401, "agent1": 403, "sup": 404}),
    ("GET", "/api/v1/customers/nope/timeline", {"none": 401, "agent1": 403, "sup": 404}),
    ("POST", "/api/v1/interactions/nope/link", {"none": 401, "agent1": 403, "sup": 422}),
    ("POST", "/api/v1/customers/nope/unlock", {"none": 401, "agent1": 403, "sup": 404}),
    ("GET", "/api/v1/reports", {"none": 401, "agent1": 403, "sup": 200, "admin": 200}),
    ("GET", "/api/v1/flows", {"none": 401, "agent1": 403, "sup": 403, "admin": 409}),  # 409: flows are off in this engine
    ("POST", "/api/v1/flows/validate", {"none": 401, "agent1": 403, "sup": 403}),
    ("POST", "/api/v1/flows/reload", {"none": 401, "agent1": 403, "sup": 403, "admin": 409}),
    ("POST", "/api/v1/config/reload", {"none": 401, "agent1": 403, "sup": 403, "admin": 200}),
    ("GET", "/openapi.json", {"none": 200}),
    # customer 360 (acd/http/customers.py)
    ("GET", "/api/v1/customers?q=ab", {"none": 401, "agent1": 200, "sup": 200, "admin": 200}),
    ("POST", "/api/v1/customers", {"none": 401, "agent1": 422, "sup": 422}),  # 422: no name
    ("GET", "/api/v1/customers/nope", {"none": 401, "agent1": 404, "sup": 404}),
    ("PATCH", "/api/v1/customers/nope", {"none": 401, "agent1": 422}),  # 422: no body
    ("GET", "/api/v1/customers/nope/revisions", {"none": 401, "agent1": 404, "sup": 404}),
    ("GET", "/api/v1/customers/nope/export", {"none": 401, "agent1": 403, "sup": 404}),
    ("GET", "/api/v1/customers/nope/access", {"none": 401, "agent1": 403, "sup": 200}),
    ("POST", "/api/v1/customers/nope/contact-points", {"none": 401, "agent1": 422}),
    ("DELETE", "/api/v1/customers/nope/contact-points/phone/+447700900000", {"none": 401, "agent1": 404}),
    ("PUT", "/api/v1/customers/nope/contact-points/phone/+447700900000/preferred", {"none": 401, "agent1": 404}),
    ("POST", "/api/v1/customers/nope/contacts", {"none": 401, "agent1": 422, "sup": 422}),
    ("GET", "/api/v1/customers/nope/contacts", {"none": 401, "agent1": 404, "sup": 404}),
    ("GET", "/api/v1/customers/nope/duplicates", {"none": 401, "agent1": 403, "sup": 404}),
    ("POST", "/api/v1/customers/nope/merge", {"none": 401, "agent1": 403, "sup": 422}),
    ("GET", "/api/v1/customers/nope/merges", {"none": 401, "agent1": 403, "sup": 200}),
    ("POST", "/api/v1/merges/nope/undo", {"none": 401, "agent1": 403, "sup": 404}),
    ("GET", "/api/v1/quality/customers", {"none": 401, "agent1": 403, "sup": 200, "admin": 200}),
    ("POST", "/api/v1/customers/nope/erase", {"none": 401, "agent1": 403, "sup": 403, "admin": 422}),
    ("POST", "/api/v1/agents/agent1/link", {"none": 401, "agent2": 403, "agent1": 422, "sup": 422}),
    ("POST", "/api/v1/webhooks/contacts", {"none": 404, "agent1": 404}),  # 404: the webhook is off (no token configured)
    # supervisors (acd/http/supervise.py); the kiosk role is refused everything else (test_wallboard.py)
    ("GET", "/api/v1/wallboard", {"none": 401, "agent1": 403, "sup": 200, "admin": 200, "kiosk": 200}),
    ("POST", "/api/v1/agents/agent1/spy", {"none": 401, "agent1": 403, "agent2": 403, "kiosk": 403, "sup": 422}),  # 422: no mode
    ("GET", "/api/v1/reports/quality", {"none": 401, "agent1": 403, "sup": 200}),
    # tasks (acd/http/tasks.py)
    ("GET", "/api/v1/task-types", {"none": 401, "agent1": 200, "sup": 200}),
    ("GET", "/api/v1/tasks", {"none": 401, "agent1": 200, "sup": 200}),
    ("GET", "/api/v1/tasks?owner_agent=agent2", {"none": 401, "agent1": 403, "sup": 200}),
    ("POST", "/api/v1/tasks", {"none": 401, "agent1": 422, "sup": 422}),  # 422: no body
    ("GET", "/api/v1/tasks/nope", {"none": 401, "agent1": 404, "sup": 404}),
    ("PATCH", "/api/v1/tasks/nope", {"none": 401, "agent1": 404, "sup": 404}),
    ("POST", "/api/v1/tasks/nope/complete", {"none": 401, "agent1": 404, "sup": 404}),
]


def test_the_role_table_covers_every_route():
    import re

    def covers(route, method, path):
        pattern = re.sub(r"\{[^}]+\}", "[^/]+", route.path)
        return method == route.method and re.fullmatch(pattern, path.split("?")[0])

    missing = [(r.method, r.path) for r in ROUTES
               if r.path != "/api/v1/events" and not any(covers(r, m, p) for m, p, _ in ROLE_TABLE)]
    assert not missing


async def test_every_route_enforces_its_role_rule(api):
    for method, path, expected in ROLE_TABLE:
        for who, status in expected.items():
            got, body = await api.call(method, path, None if who == "none" else who, json={} if method in ("POST", "PUT") else None)
            assert got == status, (method, path, who, got, body)
            if status >= 400:
                assert set(body) >= {"error", "detail"}, body


async def test_bad_tokens_and_undeclared_methods(api):
    assert (await api.call("GET", "/api/v1/me", raw_token="not-a-token"))[0] == 401
    assert (await api.call("GET", "/api/v1/me", raw_token=""))[0] == 401
    status, body = await api.call("DELETE", "/api/v1/agents/agent1", "admin")
    assert status == 405
    status, body = await api.call("GET", "/api/v1/nothing-here", "admin")
    assert status == 404 and body["error"] == "not_found"


async def test_an_agent_sets_its_state_and_a_supervisor_forces_it(api, caplog):
    caplog.set_level(logging.INFO)
    status, body = await api.call("PUT", "/api/v1/agents/agent1/state", "agent1", json={"state": "not_ready", "reason": "lunch"})
    assert status == 200 and (body["state"], body["reason"]) == ("not_ready", "lunch")
    status, body = await api.call("PUT", "/api/v1/agents/agent1/state", "agent1", json={"state": "not_ready"})
    assert status == 422 and body["field"] == "reason"
    status, body = await api.call("PUT", "/api/v1/agents/agent1/state", "agent1", json={"state": "not_ready", "reason": "nap"})
    assert status == 422 and body["field"] == "reason"
    status, body = await api.call("PUT", "/api/v1/agents/agent1/state", "agent1", json={"state": "not_ready", "reason": "Lunch"})
    assert status == 422 and "did you mean 'lunch'" in body["detail"] and "config/desk.yaml" in body["detail"]  # a label for its code
    status, body = await api.call("PUT", "/api/v1/agents/agent1/state", "agent1", json={"state": "asleep"})
    assert status == 422 and body["field"] == "state"
    status, body = await api.call("PUT", "/api/v1/agents/agent1/state", "agent1", json={"state": "ready", "mood": "good"})
    assert status == 422 and body["field"] == "mood"
    status, body = await api.call("PUT", "/api/v1/agents/agent1/state", "sup", json={"state": "ready"})
    assert status == 200 and body["state"] == "ready"
    assert any("http.agent.state_forced" in r.getMessage() for r in caplog.records)
    status, body = await api.call("POST", "/api/v1/agents/agent1/login", "agent1")
    assert status == 409 and body["error"] == "conflict"  # already logged in
    assert (await api.call("POST", "/api/v1/agents/agent1/logout", "agent1"))[1]["state"] == "logged_out"
    assert (await api.call("POST", "/api/v1/agents/agent1/login", "agent1"))[1]["state"] == "ready"
    status, body = await api.call("GET", "/api/v1/agents/nobody", "sup")
    assert status == 404
    status, body = await api.call("POST", "/api/v1/agents/agent1/wrapup", "agent1", json={"disposition": "resolved"})
    assert status == 409  # not in wrap-up


async def test_a_call_through_the_api_screen_pop_wrap_up_and_the_record(api):
    engine = api.engine
    engine.acd.set_not_ready("agent2", "break")
    engine.pbx.agents["agent1"] = AgentBehaviour(answer_after_s=0.3, talk_s=1.0)
    engine.acd.apply_config((__import__("dataclasses").replace(engine.core.queues["general"], wrapup_s=60),), ())
    call = await engine.pbx.place_call(CallerScript(caller_id="+447700900400"))
    await wait_until(lambda: engine.core.agents["agent1"].state == AgentState.ON_CALL, 15)
    status, work = await api.call("GET", "/api/v1/agents/agent1/work", "agent1")
    assert status == 200 and work["call"]["call_id"] == call.uniqueid and work["call"]["ani"] == "+447700900400"
    # /live is /queues and /agents in one: lists of objects with their id field, the call under call_id
    status, now = await api.call("GET", "/api/v1/live", "sup")
    _, agents = await api.call("GET", "/api/v1/agents", "sup")
    assert status == 200 and [q["queue"] for q in now["queues"]] == ["general"]
    assert [a["agent_id"] for a in now["agents"]] == [a["agent_id"] for a in agents["agents"]] == ["agent1", "agent2"]
    assert now["agents"][0]["call_id"] == call.uniqueid and set(now["agents"][0]) == set(agents["agents"][0])
    await wait_until(lambda: engine.core.agents["agent1"].state == AgentState.WRAP_UP, 15)
    status, body = await api.call("POST", "/api/v1/agents/agent1/wrapup", "agent1", json={"disposition": "resolved", "notes": "sorted"})
    assert status == 200 and body["state"] == "ready"
    await engine.records.drain()
    status, body = await api.call("GET", f"/api/v1/interactions/{call.uniqueid}", "agent1")
    assert status == 200 and body["disposition"] == "resolved" and body["notes"] == "sorted"
    assert [e["kind"] for e in body["timeline"]][0] == "call_start"
    assert (await api.call("GET", f"/api/v1/interactions/{call.uniqueid}", "agent2"))[0] == 404  # not agent2's call
    status, body = await api.call("GET", "/api/v1/interactions", "agent2")
    assert status == 200 and body["interactions"] == []  # an agent sees only its own calls
    status, body = await api.call("GET", "/api/v1/interactions?agent=agent1", "agent2")
    assert body["interactions"] == []  # ... even when it asks for someone else's
    status, body = await api.call("GET", "/api/v1/interactions", "sup")
    assert [i["call_id"] for i in body["interactions"]] == [call.uniqueid]
    status, body = await api.call("GET", f"/api/v1/interactions/{call.uniqueid}/decisions", "sup")
    assert status == 200 and body["decisions"][0]["agent"] == "agent1" and body["decisions"][0]["scores"]
    status, body = await api.call("GET", "/api/v1/queues", "sup")
    assert [(q["queue"], q["answered"]) for q in body["queues"]] == [("general", 1)]  # a list, as /agents is
    # the caller was unknown: a supervisor files the call under a new customer
    cid = await engine.customers.create_customer(name="Walk-in Caller", by="test")
    status, body = await api.call("POST", f"/api/v1/interactions/{call.uniqueid}/link", "sup", json={"customer_id": cid})
    assert status == 200 and body["customer_id"] == cid
    status, body = await api.call("GET", f"/api/v1/customers/{cid}/timeline", "sup")
    assert [i["call_id"] for i in body["interactions"]] == [call.uniqueid]
    assert body["revisions"][-1]["field"] == "interaction_linked" and body["revisions"][-1]["by"] == "sup"


async def test_config_reload_applies_queue_options_and_refuses_bad_files(api, tmp_path):
    text = (tmp_path / "queues.yaml").read_text()
    (tmp_path / "queues.yaml").write_text(text.replace("ring_timeout_s: 1.0", "ring_timeout_s: 7"))
    status, body = await api.call("POST", "/api/v1/config/reload", "admin")
    assert status == 200 and "queue general" in body["applied"] and body["needs_restart"] == []
    assert api.engine.core.queues["general"].ring_timeout_s == 7
    (tmp_path / "queues.yaml").write_text(text.replace("ring_timeout_s: 1.0", "ring_timeout_s: soon"))
    status, body = await api.call("POST", "/api/v1/config/reload", "admin")
    assert status == 422 and not body["ok"] and "queues.yaml" in body["errors"][0] and "ring_timeout_s" in body["errors"][0]
    assert api.engine.core.queues["general"].ring_timeout_s == 7  # the old settings keep serving


async def test_openapi_lists_every_route(api):
    status, spec = await api.call("GET", "/openapi.json")
    assert status == 200 and spec["openapi"].startswith("3.1")
    for r in ROUTES:
        op = spec["paths"][r.path][r.method.lower()]
        assert op["x-acd-role"] == r.rule and op["summary"]
        assert ("requestBody" in op) == (r.body is not None)


@pytest.fixture
async def flows_api(make_engine, tmp_path):
    import shutil

    import aiohttp

    from tests.http.conftest import Api, users_yaml

    flows = tmp_path / "flows"
    shutil.copytree(__import__("pathlib").Path(__file__).resolve().parents[2] / "ivr_flows", flows, ignore=shutil.ignore_patterns("testdata"))
    (tmp_path / "users.yaml").write_text(users_yaml())
    engine = await make_engine(n_agents=2, engine_yaml=f"flows:\n  directory: {flows}\n  default_flow: demo_line\n")
    async with aiohttp.ClientSession() as session:
        yield Api(engine, session), flows


async def test_admins_validate_and_reload_flows(flows_api):
    api, flows = flows_api
    status, body = await api.call("GET", "/api/v1/flows", "admin")
    assert status == 200 and {"main", "demo_line", "verify_caller"} <= {f["name"] for f in body["flows"]} and body["errors"] == []
    bad = "flow: broken\nsteps:\n  start:\n    play: {prompt: hello}\n    next: nowhere\n"
    status, body = await api.call("POST", "/api/v1/flows/validate", "admin", json={"yaml": bad, "file": "broken.yaml"})
    assert status == 200 and not body["ok"]
    assert body["errors"][0]["file"] == "broken.yaml" and body["errors"][0]["line"] == 5 and "nowhere" in body["errors"][0]["message"]
    good = (flows / "demo_line.yaml").read_text()
    assert (await api.call("POST", "/api/v1/flows/validate", "admin", json={"yaml": good}))[1] == {"ok": True, "errors": []}
    version = api.engine.flows.current.get("demo_line").version
    (flows / "demo_line.yaml").write_text(good.replace("next: identify", "next: nowhere"))
    status, body = await api.call("POST", "/api/v1/flows/reload", "admin")
    assert status == 200 and body["refused"][0]["file"].endswith("demo_line.yaml")
    assert api.engine.flows.current.get("demo_line").version == version  # the old version keeps serving
    (flows / "demo_line.yaml").write_text(good.replace("description: Demo line", "description: Demo line (edited)"))
    status, body = await api.call("POST", "/api/v1/flows/reload", "admin")
    assert body["loaded"] == ["demo_line"] and body["refused"] == []


async def test_every_read_of_a_customer_is_audited_with_the_call_it_was_for(flows_api):
    from acd.secrets import Secret

    api, _ = flows_api
    engine = api.engine
    cid = await engine.customers.create_customer(name="Chloé Martin", phones=["+447700900103"], by="test")
    await engine.customers.set_secret(cid, "pin", Secret("8642"), by="test")
    status, body = await api.call("GET", f"/api/v1/customers/{cid}?reason=task%20T-9", "agent1")
    assert status == 200 and "hash" not in body and "scrypt" not in str(body)
    engine.acd.set_not_ready("agent2", "break")
    engine.pbx.agents["agent1"] = AgentBehaviour(answer_after_s=0.2, talk_s=30)
    await engine.pbx.place_call(CallerScript(caller_id="+447700900103", dnis="5551234", keys="8642#,1"))
    await wait_until(lambda: engine.core.agents["agent1"].state == AgentState.ON_CALL, 20)
    status, body = await api.call("GET", f"/api/v1/customers/{cid}", "agent1")
    assert status == 200 and body["name"] == "Chloé Martin" and body["phones"] == ["+447700900103"]
    status, work = await api.call("GET", "/api/v1/agents/agent1/work", "agent1")
    assert work["call"]["customer"]["customer_id"] == cid and work["call"]["verification"]["level"] == "verified"
    status, body = await api.call("GET", f"/api/v1/customers/{cid}/timeline", "sup")
    assert status == 200 and body["customer"]["name"] == "Chloé Martin"
    call_id = work["call"]["call_id"]
    status, body = await api.call("GET", f"/api/v1/customers/{cid}/access", "sup")
    reads = [(a["who"], a["action"], a["reason"]) for a in reversed(body["access"])]
    assert reads == [("agent1", "record", "task T-9"), ("agent1", "record", f"call {call_id}"),
                     ("agent1", "screen_pop", f"call {call_id}"), ("sup", "timeline", None)]


async def test_a_supervisor_lifts_a_verification_lock(api):
    from acd.secrets import Secret
    from acd.store.verification import SqlVerification

    engine = api.engine
    cid = await engine.customers.create_customer(name="Locked Out", by="test")
    await engine.customers.set_secret(cid, "pin", Secret("2468"), by="test")
    verifier = SqlVerification(engine.customers, engine.clock)
    for pin in ("1", "2", "3"):
        await verifier.verify_pin(cid, Secret(pin), "+447700900999", "c")
    assert await verifier.is_locked(cid, None)
    status, body = await api.call("POST", f"/api/v1/customers/{cid}/unlock", "sup")
    assert status == 200 and body["unlocked"]
    assert not await verifier.is_locked(cid, None)
    assert (await engine.customers.attempts(customer_id=cid))[-1]["method"] == "unlock:sup"


async def test_reports_from_the_records_with_occupancy_from_agent_states(api):
    engine = api.engine
    engine.acd.set_not_ready("agent2", "break")
    engine.pbx.agents["agent1"] = AgentBehaviour(answer_after_s=0.2, talk_s=1.0)
    start = engine.clock.now() - 60
    calls = [await engine.pbx.place_call(CallerScript(caller_id=f"+44770090050{i}")) for i in range(2)]
    for c in calls:
        await c.finished(20)
    await wait_until(lambda: engine.core.agents["agent1"].state == AgentState.READY and not engine.core.calls, 15)
    await engine.records.drain()
    end = engine.clock.now() + 1
    status, body = await api.call("GET", f"/api/v1/reports?interval=day&by=queue&from={start}&to={end}", "sup")
    assert status == 200
    general = [r for r in body["rows"] if r["queue"] == "general"]
    assert sum(r["offered"] for r in general) == 2 and sum(r["answered"] for r in general) == 2
    status, body = await api.call("GET", f"/api/v1/reports?interval=day&by=agent&from={start}&to={end}", "sup")
    [a1] = [r for r in body["rows"] if r["agent"] == "agent1"]
    assert a1["answered"] == 2 and a1["logged_in_s"] > 0 and 0 < a1["occupancy"] <= 1
    status, text = await api.call("GET", f"/api/v1/reports?by=queue_log&from={start}&to={end}", "sup")
    assert status == 200 and text.count("|ENTERQUEUE|") == 2 and text.count("|CONNECT|") == 2
    assert (await api.call("GET", "/api/v1/reports?interval=7", "sup"))[1]["field"] == "interval"


async def test_reports_default_to_the_same_period_as_the_cli(api):
    """Without from/to the API reports today, midnight to midnight in tz, as `acd report` does."""
    import argparse
    import zoneinfo

    from acd.reports.cli import resolve_range

    now = api.engine.clock.now()
    for tz in ("UTC", "Europe/Paris"):
        status, body = await api.call("GET", f"/api/v1/reports?tz={tz}", "sup")
        assert status == 200
        cli = resolve_range(argparse.Namespace(start=None, end=None, tz=tz), now=now)
        start, end = dt.datetime.fromisoformat(body["from"]), dt.datetime.fromisoformat(body["to"])
        assert (start.timestamp(), end.timestamp()) == (cli.start, cli.end)
        midnight = dt.datetime.fromtimestamp(now, zoneinfo.ZoneInfo(tz)).replace(hour=0, minute=0, second=0, microsecond=0)
        assert body["from"] == midnight.isoformat()  # ISO 8601 in the zone asked for, with its offset
