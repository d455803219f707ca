"""Operations: /healthz (liveness) and /readyz (AMI linked, database writable, spool backlog under
its bound), the switchable access log (never the query string), and the event stream's token in
an Authorization header as well as in the URL."""

from __future__ import annotations

import asyncio
import logging
import sqlite3

import aiohttp
import pytest

from acd.http.keys import READINESS
from tests.http.conftest import TOKENS, Api, users_yaml


async def _get(api: Api, path: str):
    async with api.session.get(api.base + path, timeout=aiohttp.ClientTimeout(total=15)) as r:
        return r.status, await r.json()


async def test_healthz_and_readyz_when_everything_is_up(api):
    assert await _get(api, "/healthz") == (200, {"status": "ok"})
    status, body = await _get(api, "/readyz")
    assert status == 200 and body["status"] == "ready"
    assert body["checks"]["ami"] == {"ok": True, "detail": "linked"}
    assert body["checks"]["database"] == {"ok": True, "detail": "writable"}
    assert body["checks"]["spool"]["ok"] and body["checks"]["spool"]["max_bytes"] == 5_000_000


async def test_readyz_is_503_while_the_database_takes_no_write_and_healthz_stays_200(api, tmp_path):
    # Another connection takes the write lock. It waits (bounded) for a write the engine may have in flight, in
    # a thread: a blocking call on the event loop would stop that write from committing (a deadlock, not a test).
    holder = sqlite3.connect(tmp_path / "acd.sqlite3", timeout=30, isolation_level=None, check_same_thread=False)
    await asyncio.to_thread(holder.execute, "BEGIN IMMEDIATE")
    try:
        status, body = await _get(api, "/readyz")
        assert status == 503 and body["status"] == "not_ready"
        assert body["checks"]["database"]["ok"] is False and body["checks"]["ami"]["ok"] is True
        assert (await _get(api, "/healthz"))[0] == 200
    finally:
        await asyncio.to_thread(holder.execute, "ROLLBACK")
        holder.close()
    assert (await _get(api, "/readyz"))[0] == 200


async def test_readyz_is_503_when_the_spool_backlog_passes_its_bound(api):
    api.engine.http_app[READINESS].spool_max_bytes = -1  # any backlog (even none) is over the bound
    status, body = await _get(api, "/readyz")
    assert status == 503 and body["checks"]["spool"]["ok"] is False


async def test_readyz_is_503_without_the_ami_link(api):
    await api.engine.ami.stop()
    status, body = await _get(api, "/readyz")
    assert status == 503 and body["checks"]["ami"] == {"ok": False, "detail": "not linked"}


async def test_spool_and_database_metrics_are_exposed(api):
    async with api.session.get(api.base + "/metrics") as r:
        text = await r.text()
    assert "acd_spool_backlog_bytes " in text and "acd_database_write_failures_total 0.0" in text


@pytest.fixture
async def logged_api(make_engine, tmp_path):
    (tmp_path / "users.yaml").write_text(users_yaml())
    engine = await make_engine(n_agents=2, http_yaml="access_log: true\n")
    async with aiohttp.ClientSession() as session:
        yield Api(engine, session)


def _access(caplog) -> list[str]:
    """Each access event as one line of its fields (what the text and JSON log formats write)."""
    return [" ".join(f"{k}={v}" for k, v in r.acd_fields.items()) for r in caplog.records if r.getMessage() == "http.access"]


async def test_the_access_log_when_switched_on_never_writes_the_query_string(logged_api, caplog):
    caplog.set_level(logging.INFO)
    assert (await logged_api.call("GET", "/api/v1/me", "sup"))[0] == 200
    assert (await logged_api.call("GET", "/api/v1/agents", "agent1"))[0] == 403
    assert (await logged_api.call("GET", f"/api/v1/reasons?access_token={TOKENS['sup']}&x=1", "sup"))[0] == 200
    lines = _access(caplog)
    assert any("path=/api/v1/me " in line and "status=200" in line and "user=sup" in line for line in lines)
    assert any("path=/api/v1/agents " in line and "status=403" in line for line in lines)
    assert any("path=/api/v1/reasons " in line for line in lines)
    assert not any("t-sup" in line or "access_token" in line for line in lines)


async def test_no_access_log_unless_switched_on(api, caplog):
    caplog.set_level(logging.INFO)
    await api.call("GET", "/api/v1/me", "sup")
    assert _access(caplog) == []


async def test_the_event_stream_takes_the_token_in_an_authorization_header(api):
    headers = {"Authorization": f"Bearer {TOKENS['sup']}"}
    async with api.session.get(f"{api.base}/api/v1/events", headers=headers, timeout=aiohttp.ClientTimeout(total=10)) as r:
        assert r.status == 200 and r.content_type == "text/event-stream"
        first = await asyncio.wait_for(r.content.readline(), 5)
        assert first
    async with api.session.get(f"{api.base}/api/v1/events", headers={"Authorization": "Bearer nope.x"},
                               timeout=aiohttp.ClientTimeout(total=10)) as r:
        assert r.status == 401
