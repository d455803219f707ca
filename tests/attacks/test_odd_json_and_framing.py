"""Attacks (issue #13, item 9) on the running engine's HTTP side:

- odd JSON bodies (a 5,000-digit number, 100,000-deep nesting, NaN, a number past float range) on
  real routes: each a 422 naming the body, never a 500, and the engine serves on;
- framing the agent desktop (clickjacking) or running injected script in it: every page, asset,
  API answer, error and the event stream carry a strict Content-Security-Policy, frame protection,
  nosniff and a Referrer-Policy."""

from __future__ import annotations

import aiohttp
import pytest

from tests.http.conftest import TOKENS, users_yaml

ODD_BODIES = {
    "5000-digit number": b'{"seconds": ' + b"9" * 5000 + b"}",
    "100000-deep nesting": b'{"seconds": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
    "deep objects": b'{"a":' * 100_000 + b"1" + b"}" * 100_000,
    "NaN": b'{"seconds": NaN}',
    "past float range": b'{"seconds": 1e400}',
    "not UTF-8": b'{"seconds": "\xff"}',
}


@pytest.fixture
async def engine_api(make_engine, tmp_path):
    (tmp_path / "users.yaml").write_text(users_yaml())
    engine = await make_engine(n_agents=2)
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15)) as session:
        yield engine, session, f"http://127.0.0.1:{engine.http_port}"


async def test_odd_json_bodies_are_a_422_naming_the_body(engine_api):
    engine, session, base = engine_api
    auth = {"Authorization": f"Bearer {TOKENS['sup']}", "Content-Type": "application/json"}
    for name, raw in ODD_BODIES.items():
        for method, path in (("POST", "/api/v1/agents/agent1/wrapup/extend"), ("PUT", "/api/v1/agents/agent1/state")):
            async with session.request(method, base + path, data=raw, headers=auth) as r:
                body = await r.json()
                assert r.status == 422, (name, path, r.status, body)
                assert body["error"] == "invalid" and body["field"] == "body", (name, body)
    async with session.get(base + "/healthz") as r:
        assert r.status == 200  # the engine serves on
    async with session.put(base + "/api/v1/agents/agent1/state", json={"state": "not_ready", "reason": "lunch"}, headers=auth) as r:
        assert r.status == 200  # and ordinary bodies still work


EXPECTED = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


@pytest.mark.parametrize("path,token", [
    ("/agent", None), ("/wallboard", None), ("/static/agent.js", None), ("/static/style.css", None),
    ("/api/v1/me", "agent1"), ("/api/v1/me", None), ("/api/v1/nothing-here", "admin"), ("/healthz", None),
    ("/metrics", None), ("/openapi.json", None),
])
async def test_every_response_forbids_framing_and_foreign_script(engine_api, path, token):
    _, session, base = engine_api
    headers = {"Authorization": f"Bearer {TOKENS[token]}"} if token else {}
    async with session.get(base + path, headers=headers) as r:
        await r.read()
        for name, value in EXPECTED.items():
            assert r.headers.get(name) == value, (path, name, r.headers.get(name))
        csp = {d.split()[0]: d.split()[1:] for d in r.headers["Content-Security-Policy"].split("; ")}
        assert csp["script-src"] == ["'self'"] and csp["frame-ancestors"] == ["'none'"]
        assert csp["default-src"] == ["'none'"] and csp["style-src"] == ["'self'"]
        assert not any("'unsafe-inline'" in v or "'unsafe-eval'" in v for v in csp.values())


async def test_the_event_stream_carries_the_headers_too(engine_api):
    _, session, base = engine_api
    async with session.get(f"{base}/api/v1/events?access_token={TOKENS['sup']}") as r:
        assert r.status == 200 and r.headers["X-Frame-Options"] == "DENY"
        assert "frame-ancestors 'none'" in r.headers["Content-Security-Policy"]
