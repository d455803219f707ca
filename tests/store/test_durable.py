"""No call record is lost: not while the database is down, not when the process is killed between
the end of a call and its write, not when a spool line is torn or garbled."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import textwrap
import uuid

import asyncpg
import pytest

from acd import events
from acd.clock import FakeClock
from acd.store.durable import DurableRecorder
from acd.store.records import Outcome
from acd.store.sql import NotFound, SqlStore
from tests.store.conftest import PG_DSN, PG_URL
from tests.tcpproxy import TcpProxy


def record_answered_call(rec: DurableRecorder, call_id: str, ani: str = "+442079460000") -> None:
    rec.event(call_id, events.CallStarted(ani=ani, dnis="0800", uniqueid=call_id, linkedid=call_id))
    rec.event(call_id, events.QueueEntered(queue="support", priority=0))
    rec.event(call_id, events.Connected(agent="agent1", queue="support", waited_s=4.0))
    rec.event(call_id, events.IvrEnded(outcome="answered"))
    rec.event(call_id, events.Ended(agent="agent1", talk_s=61.0))


async def wait_for(pred, timeout=10.0):
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not await pred():
        assert loop.time() < end, "condition not met in time"
        await asyncio.sleep(0.05)


async def test_events_reach_the_database_in_order(store, tmp_path, clock):
    rec = DurableRecorder(tmp_path / "spool", store, clock)
    rec.start()
    try:
        for i in range(3):
            record_answered_call(rec, f"call-{i}")
            clock.advance(1)
        await asyncio.wait_for(rec.drain(), 10)
        for i in range(3):
            interaction = await store.interaction(f"call-{i}")
            assert interaction.outcome is Outcome.ANSWERED and interaction.talk_s == 61.0
        assert [e["kind"] for e in await store.timeline("call-0")] == ["call_start", "queue_enter", "connected", "ivr_end", "ended"]
    finally:
        await rec.close()
    assert rec.backlog_bytes() == 0
    assert not [p for p in (tmp_path / "spool").glob("*.jsonl") if p.stat().st_size and p.name != "rejected.jsonl"][1:]


@pytest.fixture
async def pg_database():
    """A PostgreSQL database of its own, reached through a proxy the test can cut."""
    name = "acd_outage_" + uuid.uuid4().hex[:8]
    admin = await asyncpg.connect(PG_DSN, timeout=5)
    await admin.execute(f'CREATE DATABASE "{name}"')
    proxy = await TcpProxy("127.0.0.1", 5432).start()
    yield PG_URL.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}").rsplit("/", 1)[0] + f"/{name}", proxy
    await proxy.stop()
    await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    await admin.close()


async def test_a_database_outage_loses_nothing(pg_database, tmp_path):
    url, proxy = pg_database
    clock = FakeClock(1_700_000_000.0)
    store = await SqlStore(url, clock=clock).open()
    rec = DurableRecorder(tmp_path / "spool", store, clock, retry_max_s=0.2)
    rec.start()
    try:
        record_answered_call(rec, "before")
        await asyncio.wait_for(rec.drain(), 10)
        proxy.cut()
        for i in range(20):  # calls go on while the database is unreachable
            record_answered_call(rec, f"during-{i}")
            clock.advance(5)
        await asyncio.sleep(0.5)
        assert rec.backlog_bytes() > 0  # held in the spool, not dropped
        proxy.restore()
        await asyncio.wait_for(rec.drain(), 20)
        for i in range(20):
            assert (await store.interaction(f"during-{i}")).outcome is Outcome.ANSWERED
        started = [r.started_at for r in await store.interactions_between(0, 2e9)]
        assert started == sorted(started) and len(started) == 21
    finally:
        await rec.close()
        await store.close()


KILLED_WRITER = textwrap.dedent("""
    import os, signal, sys
    sys.path.insert(0, sys.argv[3])
    from acd.clock import SystemClock
    from acd.store.durable import DurableRecorder
    from tests.store.test_durable import record_answered_call
    rec = DurableRecorder(sys.argv[1], None, SystemClock())  # the writer never gets to run
    record_answered_call(rec, sys.argv[2])
    rec._file.write(b'{"uid": "torn", "call_id": "')  # killed in the middle of the next line
    os.kill(os.getpid(), signal.SIGKILL)
""")


async def test_killed_between_the_end_of_a_call_and_its_write(store, tmp_path, clock):
    spool = tmp_path / "spool"
    call_id = "killed-" + uuid.uuid4().hex[:6]
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    proc = subprocess.run([sys.executable, "-c", KILLED_WRITER, str(spool), call_id, root], timeout=60)
    assert proc.returncode == -signal.SIGKILL
    with pytest.raises(NotFound):
        await store.interaction(call_id)
    rec = DurableRecorder(spool, store, clock)  # the next start replays the spool
    rec.start()
    try:
        await asyncio.wait_for(rec.drain(), 10)
        interaction = await store.interaction(call_id)
        assert interaction.outcome is Outcome.ANSWERED and interaction.agent == "agent1" and interaction.talk_s == 61.0
    finally:
        await rec.close()
    rejected = [json.loads(line) for line in (spool / "rejected.jsonl").read_text().splitlines()]
    assert [r["reason"] for r in rejected] == ["torn last line"] and rejected[0]["line"].startswith('{"uid": "torn"')


async def test_a_garbled_line_is_kept_aside_and_the_rest_goes_on(store, tmp_path, clock):
    spool = tmp_path / "spool"
    first = DurableRecorder(spool, None, clock)
    record_answered_call(first, "a")
    first._file.write(b"this is not json\n")
    record_answered_call(first, "b")
    await first.close()
    rec = DurableRecorder(spool, store, clock)
    rec.start()
    try:
        await asyncio.wait_for(rec.drain(), 10)
        assert (await store.interaction("a")).outcome is Outcome.ANSWERED
        assert (await store.interaction("b")).outcome is Outcome.ANSWERED
    finally:
        await rec.close()
    assert "this is not json" in (spool / "rejected.jsonl").read_text()


async def test_a_secret_in_event_data_is_spooled_masked(tmp_path, clock):
    from acd.secrets import Secret

    rec = DurableRecorder(tmp_path / "spool", None, clock)
    rec.event("c", events.FlowStep(step="pin", inputs={"pin": Secret("4321")}))
    await rec.close()
    text = "".join(p.read_text() for p in (tmp_path / "spool").glob("*.jsonl"))
    assert "4321" not in text and "***" in text


async def test_events_after_close_are_spooled_for_the_next_start(store, tmp_path, clock):
    """Calls still ending while the engine shuts down: their events land in the spool, not in an
    exception, and the next start writes them."""
    spool = tmp_path / "spool"
    first = DurableRecorder(spool, None, clock)
    await first.close()
    record_answered_call(first, "late")
    rec = DurableRecorder(spool, store, clock)
    rec.start()
    try:
        await asyncio.wait_for(rec.drain(), 10)
        assert (await store.interaction("late")).outcome is Outcome.ANSWERED
    finally:
        await rec.close()
