"""The push stream: sequence numbers, resume after a disconnect with no gap and no repeat, a
reset when the client is too far behind, a slow client dropped without holding up the engine,
and agents seeing only their own events."""

from __future__ import annotations

import asyncio
import json

import pytest

from acd.http.events import EventBus, Reset
from tests.http.conftest import TOKENS


async def read_events(response, count: int, timeout: float = 10.0) -> list[tuple[int, str, dict]]:
    out, event = [], {}
    async def run():
        async for raw in response.content:
            line = raw.decode().rstrip("\n")
            if not line:
                if "id" in event and event.get("event") == "hello":
                    pass  # where the stream starts: not a state change
                elif "id" in event:
                    out.append((int(event["id"]), event["event"], json.loads(event["data"])))
                    if len(out) == count:
                        return
                elif event.get("event") == "reset":
                    out.append((-1, "reset", json.loads(event["data"])))
                    return
                event.clear()
                continue
            if line.startswith(":"):
                continue
            key, _, value = line.partition(": ")
            event[key] = value
    await asyncio.wait_for(run(), timeout)
    return out


async def test_bus_backlog_and_reset():
    bus = EventBus(retain=3)
    for i in range(5):
        bus.publish("x", {"i": i})
    assert [e.seq for e in bus.backlog(2)] == [3, 4, 5]
    with pytest.raises(Reset):
        bus.backlog(1)
    assert bus.backlog(5) == []


async def test_a_slow_subscriber_is_dropped_not_waited_for():
    bus = EventBus(queue_size=3)
    stream = bus.subscribe(None).__aiter__()
    first = asyncio.ensure_future(stream.__anext__())
    await asyncio.sleep(0)
    for i in range(10):
        bus.publish("x", {"i": i})  # never blocks
    assert (await first).seq == 1
    rest = [e.seq async for e in stream]
    assert rest == [2, 3] and bus.subscribers == 0  # what was queued (the queue held 3), then the end


async def test_resume_after_a_disconnect_without_gaps(api):
    engine, base = api.engine, api.base
    headers = {"Authorization": f"Bearer {TOKENS['sup']}"}
    async with api.session.get(f"{base}/api/v1/events", headers=headers) as r:
        assert r.status == 200 and r.content_type == "text/event-stream"
        engine.acd.set_not_ready("agent1", "lunch")
        engine.acd.set_ready("agent1")
        got = await read_events(r, 2)
    assert [(k, d["agent_id"], d["state"]) for _, k, d in got] == [("agent_state", "agent1", "not_ready"), ("agent_state", "agent1", "ready")]
    last = got[-1][0]
    # while disconnected
    engine.acd.set_not_ready("agent2", "break")
    engine.acd.set_ready("agent2")
    async with api.session.get(f"{base}/api/v1/events", headers={**headers, "Last-Event-ID": str(last)}) as r:
        resumed = await read_events(r, 2)
        engine.acd.set_not_ready("agent1", "training")
        live = await read_events(r, 1)
    seqs = [s for s, _, _ in got + resumed + live]
    assert seqs == list(range(seqs[0], seqs[0] + 5))  # strictly consecutive: nothing lost, nothing twice
    assert [d["state"] for _, _, d in resumed] == ["not_ready", "ready"] and live[0][2]["reason"] == "training"


async def test_too_far_behind_gets_a_reset(api):
    api.engine.bus.retain = 2
    api.engine.bus._log = __import__("collections").deque(api.engine.bus._log, maxlen=2)
    for _ in range(3):
        api.engine.acd.set_not_ready("agent1", "lunch")
        api.engine.acd.set_ready("agent1")
    async with api.session.get(f"{api.base}/api/v1/events?after=1&access_token={TOKENS['sup']}") as r:
        [(seq, kind, data)] = await read_events(r, 1)
    assert kind == "reset" and data["seq"] == api.engine.bus.seq


async def test_an_agent_sees_only_its_own_events(api):
    async with api.session.get(f"{api.base}/api/v1/events?access_token={TOKENS['agent2']}") as r:
        api.engine.acd.set_not_ready("agent1", "lunch")  # not agent2's business
        api.engine.acd.set_not_ready("agent2", "break")
        [(_, kind, data)] = await read_events(r, 1)
    assert (kind, data["agent_id"], data["reason"]) == ("agent_state", "agent2", "break")
    async with api.session.get(f"{api.base}/api/v1/events?access_token=wrong") as r:
        assert r.status == 401
    async with api.session.get(f"{api.base}/api/v1/me?access_token={TOKENS['agent2']}") as r:
        assert r.status == 401  # only the stream takes a token in the query
