"""Contract details of the API not covered elsewhere: the 500 body for an unexpected error
(request bodies never logged), tokens and their hashes never in the logs, keepalives on a quiet
stream, and open streams of a revoked token."""

from __future__ import annotations

import asyncio
import json
import logging

import aiohttp
from aiohttp import web

from acd.http.errors import error_middleware
from tests.conftest import wait_until
from tests.http.conftest import TOKENS


def logged(caplog) -> list[str]:
    """Each captured log line as its event name and its fields (before any masking)."""
    return [f"{r.getMessage()} {getattr(r, 'acd_fields', {})!r} {r.args!r}" for r in caplog.records]


async def events_until(response, want, timeout: float = 15.0) -> list[tuple[int, str, dict]]:
    """Read the stream until ``want(kind, data)``; every event read so far, in order."""
    out, event = [], {}

    async def run():
        async for raw in response.content:
            line = raw.decode().rstrip("\n")
            if line.startswith(":"):
                continue
            if line:
                key, _, value = line.partition(": ")
                event[key] = value
                continue
            if "data" in event and event.get("event") != "hello":
                out.append((int(event.get("id", -1)), event["event"], json.loads(event["data"])))
                if want(out[-1][1], out[-1][2]):
                    return
            event.clear()

    await asyncio.wait_for(run(), timeout)
    return out


async def test_an_unexpected_error_is_a_500_without_the_request_body_in_the_log(caplog):
    caplog.set_level(logging.DEBUG)

    async def broken(request: web.Request) -> web.Response:
        body = await request.json()
        raise RuntimeError(f"cannot handle {body['card']}")

    app = web.Application(middlewares=[error_middleware])
    app.router.add_post("/broken", broken)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    try:
        async with aiohttp.ClientSession() as session:
            async with session.post(f"http://127.0.0.1:{port}/broken", json={"card": "4111111111111111"},
                                    timeout=aiohttp.ClientTimeout(total=10)) as r:
                assert r.status == 500 and await r.json() == {"error": "internal", "detail": "internal error"}
    finally:
        await runner.cleanup()
    messages = logged(caplog)
    assert any("http.internal_error" in m and "RuntimeError" in m for m in messages)
    assert not [m for m in messages if "4111111111111111" in m]


async def test_tokens_and_their_hashes_never_reach_the_log(api, caplog):
    caplog.set_level(logging.DEBUG)
    hashes = [e.token_hash for e in api.engine.users.entries.values()]
    for who, path in (("agent1", "/api/v1/me"), ("agent1", "/api/v1/agents"), ("sup", "/api/v1/agents")):
        assert (await api.call("GET", path, who))[0] in (200, 403)
    status, body = await api.call("GET", "/api/v1/me", raw_token="t-guessed-wrong")
    assert status == 401 and "t-guessed-wrong" not in json.dumps(body)
    messages = "\n".join(logged(caplog))
    for secret in [*TOKENS.values(), "t-guessed-wrong", *hashes, *(h.split("$")[-1] for h in hashes)]:
        assert secret not in messages


async def test_a_quiet_stream_stays_open_through_keepalives(api, monkeypatch):
    import acd.http.stream as stream_module

    monkeypatch.setattr(stream_module, "KEEPALIVE_S", 0.05)
    engine = api.engine
    async with api.session.get(f"{api.base}/api/v1/events?access_token={TOKENS['sup']}") as r:
        keepalives = 0
        while keepalives < 3:  # several quiet spells on the same connection
            line = await asyncio.wait_for(r.content.readline(), 10)
            assert line, "the stream ended on a quiet spell"
            keepalives += line.startswith(b": keepalive")
        assert engine.bus.subscribers == 1
        engine.acd.set_not_ready("agent1", "lunch")
        [(_, kind, data)] = await events_until(r, lambda kind, data: kind == "agent_state")
    assert (kind, data["agent_id"]) == ("agent_state", "agent1")


async def test_a_revoked_token_ends_its_open_stream_at_the_next_users_reload(api, tmp_path):
    from acd.secrets import Secret, hash_secret

    engine = api.engine
    async with api.session.get(f"{api.base}/api/v1/events?access_token={TOKENS['agent1']}") as agent, \
            api.session.get(f"{api.base}/api/v1/events?access_token={TOKENS['sup']}") as sup:
        await wait_until(lambda: engine.bus.subscribers == 2, 5)
        text = (tmp_path / "users.yaml").read_text()
        line = next(l for l in text.splitlines() if "id: agent1" in l)
        new_hash = hash_secret(Secret("agent1.t-agent1-new"), n=2**10)
        (tmp_path / "users.yaml").write_text(text.replace(line, line.split("token_hash: '")[0] + f"token_hash: '{new_hash}', agent_id: agent1}}"))
        status, body = await api.call("POST", "/api/v1/config/reload", "admin")
        assert status == 200, body
        engine.acd.set_not_ready("agent1", "lunch")
        rest = await asyncio.wait_for(agent.content.read(), 10)  # the stream ends: nothing more for the old token
        assert b"event: agent_state" not in rest
        [(_, kind, _)] = await events_until(sup, lambda kind, data: kind == "agent_state")  # the supervisor's goes on
    async with api.session.get(f"{api.base}/api/v1/events?access_token={TOKENS['agent1']}") as again:
        assert again.status == 401
    async with api.session.get(f"{api.base}/api/v1/events?access_token=agent1.t-agent1-new") as fresh:
        assert fresh.status == 200
