"""The OpenAPI 3.1 document drives a small generic client: every route of the spec is called on a
running engine (simulated PBX, SQLite store), with its path parameters filled from a customer and
a finished call, and every response is checked against the schema the spec gives for its status.
A route without a response schema, an untyped or undescribed query parameter, or a response that
does not match its schema fails the test."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from pathlib import Path

import jsonschema
import pytest

from acd.http.api import ROUTES
from acd.http.times import is_time_key
from acd.secrets import Secret, hash_secret
from acd.sim import AgentBehaviour, CallerScript
from tests.conftest import wait_until

DUMP = os.environ.get("ACD_OPENAPI_DUMP")  # a file: write every response there (to review the schemas)

# Bodies that make each write route succeed (by operationId); the order of CALLS runs them sensibly.
BODIES = {
    "agent_state": {"state": "not_ready", "reason": "break"},
    "agent_wrapup": {"disposition": "resolved", "ready": True},
    "agent_wrapup_extend": {"seconds": 5},
    "interaction_link": {"customer_id": "{customer_id}"},
    "customer_unlock": {},
    "flows_validate": {"yaml": "flow: x\nsteps:\n  a:\n    hangup: true\n"},
    "customer_create": {"name": "Grace Hopper", "phones": ["+447700900777"]},
    "customer_edit": {"segment": "gold", "reason": "test"},
    "contact_point_add": {"kind": "email", "value": "ada@example.org"},
    "contact_log": {"channel": "email", "summary": "asked for a statement"},
    "customer_merge": {"merged_id": "{other_id}"},
    "customer_erase": {"reason": "the person asked"},
    "agent_link_call": {"customer_id": "{customer_id}"},
    "task_create": {"type": "follow_up", "owner_queue": "general", "title": "another"},
    "task_edit": {"note": "moved", "priority": "high"},
    "task_change": {"note": "done"},
    "webhook_contact": {"channel": "sms", "customer_id": "{customer_id}", "summary": "hello"},
    "agent_spy": {"mode": "listen"},  # 409 here: the agent is on no call and the admin has no phone
}
QUERIES = {"customer_search": "?q=Ada", "reports": "?interval=day&by=queue&tz=Europe/London"}
# writes that depend on the state the previous ones leave: in this order, after every read
ORDER = ("task_edit", "task_change", "agent_wrapup_extend", "agent_link_call", "agent_wrapup", "agent_state", "agent_logout", "agent_login",
         "contact_point_remove", "customer_merge", "merge_undo", "customer_erase")


def _fill(value, ids):
    if isinstance(value, str):
        return re.sub(r"\{(\w+)\}", lambda m: ids.get(m.group(1), m.group(0)), value)
    if isinstance(value, dict):
        return {k: _fill(v, ids) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, ids) for v in value]
    return value


def _schema_for(spec: dict, op: dict, status: int, content_type: str) -> dict | None:
    response = op["responses"].get(str(status))
    if response is None:
        return None
    if "$ref" in response:
        response = spec["components"]["responses"][response["$ref"].rsplit("/", 1)[1]]
    content = response.get("content", {})
    media = content.get(content_type) or next(iter(content.values()), None)
    return None if media is None else media.get("schema")


def _time_problems(body, where: str = "") -> list[str]:
    """Epoch numbers left in a response, and time fields that are not ISO 8601 with an offset."""
    problems = []
    if isinstance(body, dict):
        for key, value in body.items():
            at = f"{where}/{key}"
            if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 1e9:
                problems.append(f"{at}: {value} looks like epoch seconds")
            elif is_time_key(key) and isinstance(value, str):
                try:
                    parsed = dt.datetime.fromisoformat(value)
                except ValueError:
                    parsed = None
                if parsed is None or parsed.utcoffset() is None:
                    problems.append(f"{at}: {value!r} is not ISO 8601 with an offset")
            else:
                problems += _time_problems(value, at)
    elif isinstance(body, list):
        for i, value in enumerate(body):
            problems += _time_problems(value, f"{where}[{i}]")
    return problems


def test_the_spec_marks_exactly_the_time_fields_as_date_time():
    """The serialiser converts a field by its name; the spec says date-time for exactly those."""
    from acd.http import openapi_doc

    wrong = []

    def walk(node, where):
        if isinstance(node, dict):
            for key, prop in node.get("properties", {}).items():
                if isinstance(prop, dict) and is_time_key(key) != (prop.get("format") == "date-time"):
                    wrong.append(f"{where}/{key}: {prop}")
            for key, value in node.items():
                walk(value, f"{where}/{key}")
        elif isinstance(node, list):
            for value in node:
                walk(value, where)

    walk(openapi_doc._data(), "")
    assert not wrong, "\n".join(wrong[:10])


def test_every_operation_documents_its_responses_and_parameters(openapi_spec):
    spec = openapi_spec
    assert spec["openapi"] == "3.1.0"
    problems = []
    for path, methods in spec["paths"].items():
        for method, op in methods.items():
            name = f"{method.upper()} {path}"
            ok = op["responses"].get("200") or op["responses"].get("201") or op["responses"].get("202")
            media = next(iter((ok or {}).get("content", {}).values()), {})
            if not media.get("schema"):
                problems.append(f"{name}: no response schema")
            for p in op.get("parameters", []):
                if p["in"] == "query" and (not p.get("description") or not p.get("schema", {}).get("type")):
                    problems.append(f"{name}: query parameter {p['name']} has no type or description")
    assert not problems, "\n".join(problems)
    for schema in spec["components"]["schemas"].values():
        jsonschema.Draft202012Validator.check_schema(schema)
    # the schemas constrain: a wrong shape is refused (the list of /queues, the agent's fields)
    queues = spec["paths"]["/api/v1/queues"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert not jsonschema.Draft202012Validator(queues).is_valid({"queues": {"general": {}}})
    agent = {"$ref": "#/components/schemas/Agent", "components": spec["components"]}
    assert not jsonschema.Draft202012Validator(agent).is_valid({"agent_id": "a1"})


WEBHOOK_TOKEN = "webhook.test-token"


@pytest.fixture
async def api(make_engine, tmp_path):
    """The API of tests/http/conftest.py, with flows on and the contacts webhook open."""
    import aiohttp

    from tests.http.conftest import Api, users_yaml

    (tmp_path / "users.yaml").write_text(users_yaml())
    flows = tmp_path / "flows"
    flows.mkdir()
    (flows / "main.yaml").write_text("flow: main\nsteps:\n  q:\n    queue: {name: general}\n    next: bye\n  bye:\n    hangup: true\n")
    from tests.conftest import QUEUES

    engine = await make_engine(n_agents=2, queues=QUEUES.replace("wrapup_s: 0.3", "wrapup_s: 120"), engine_yaml=f"flows:\n  directory: {flows}\n  default_flow: main\n"
                                                      f"customers:\n  webhook_token_hash: '{hash_secret(Secret(WEBHOOK_TOKEN), n=2**10)}'\n")
    async with aiohttp.ClientSession() as session:
        yield Api(engine, session)


@pytest.fixture
async def openapi_spec(api):
    status, spec = await api.call("GET", "/openapi.json")
    assert status == 200
    return spec


@pytest.fixture
async def world(api):
    """A customer, a duplicate of them, and a finished call linked to the first."""
    engine = api.engine
    engine.pbx.agents["agent1"] = AgentBehaviour(answer_after_s=0.1, talk_s=0.3)
    engine.pbx.agents["agent2"] = AgentBehaviour(answer_after_s=0.1, talk_s=0.3)
    cid = await engine.customers.create_customer(name="Ada Lovelace", phones=["+447700900123"], account_number="1001", by="test")
    other = await engine.customers.create_customer(name="Ada Lovelace", phones=["+447700900124"], by="test")
    call = await engine.pbx.place_call(CallerScript(caller_id="+447700900123"))
    await call.finished(20)
    await wait_until(lambda: not engine.core.calls, 15)
    await engine.records.drain()
    ids = {"customer_id": cid, "other_id": other, "call_id": call.uniqueid, "agent_id": "agent1",
           "kind": "phone", "value": "+447700900123", "merge_id": "none", "change": "complete", "task_id": "none"}
    if any(r.path == "/api/v1/tasks" for r in ROUTES):
        status, task = await api.call("POST", "/api/v1/tasks", "admin", json={"type": "follow_up", "owner_queue": "general",
                                                                              "customer_id": cid, "title": "call back"})
        assert status == 201, task
        ids["task_id"] = str((task.get("task") or task).get("task_id"))
    return ids


async def test_a_client_driven_by_the_spec_calls_every_route_and_gets_what_it_says(api, openapi_spec, world):
    spec = openapi_spec
    ops = [(path, method, op) for path, methods in spec["paths"].items() for method, op in methods.items()]
    ops.sort(key=lambda t: (t[1] != "get", t[2]["operationId"] in ORDER and ORDER.index(t[2]["operationId"]) + 1))
    seen, failures, dump = set(), [], []
    for path, method, op in ops:
        name = op["operationId"]
        if op["responses"].get("200", {}).get("content", {}).get("text/event-stream") is not None:
            continue  # the event stream is checked by tests/http/test_events.py
        who = {"public": None, "webhook_token": None}.get(op.get("x-acd-role", ""), "admin")
        url = _fill(path, world) + QUERIES.get(name, "")
        body = _fill(BODIES.get(name), world) if method in ("post", "put", "patch") else None
        if method in ("post", "put", "patch") and body is None:
            body = {}
        token = WEBHOOK_TOKEN if op.get("x-acd-role") == "webhook_token" else None
        status, got = await api.call(method.upper(), url, who, json=body, raw_token=token or None)
        if name == "customer_merge" and status == 200 and isinstance(got, dict):
            world["merge_id"] = str(got.get("merge_id", world["merge_id"]))
        seen.add(name)
        dump.append({"op": name, "method": method, "path": path, "status": status, "body": got})
        content_type = "application/json" if isinstance(got, (dict, list)) else "text/plain"
        schema = _schema_for(spec, op, status, content_type)
        if schema is None:
            failures.append(f"{method.upper()} {path}: status {status} is not documented ({str(got)[:200]})")
            continue
        if content_type != "application/json":
            continue
        resolver_doc = {**schema, "components": spec["components"]}  # "#/components/schemas/..." resolves here
        errors = sorted(jsonschema.Draft202012Validator(resolver_doc).iter_errors(got), key=lambda e: list(e.absolute_path))
        for e in errors[:3]:
            failures.append(f"{method.upper()} {path} {status}: {'/'.join(map(str, e.absolute_path))}: {e.message[:200]}")
        if name != "_openapi":
            failures += [f"{method.upper()} {path}: {problem}" for problem in _time_problems(got)]
    if DUMP:
        Path(DUMP).write_text(json.dumps(dump, indent=1, default=str))
    assert len(seen) >= 45
    assert not failures, "\n".join(failures)
