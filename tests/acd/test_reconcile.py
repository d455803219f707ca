"""Nothing left open on the record (issue #12.2), over the simulated PBX.

An engine killed (SIGKILL, a real process) while a caller waits: ``[acd-fallback]`` takes the
caller to app_queue; the engine started again on the same database and spool closes the call as
``engine_lost_call`` (at once if the channel is gone; on the caller's ``UserEvent(AcdHangup)`` if
it is still in the fallback queue, with the fallback noted). A clean stop leaves no call open, no
agent leg ringing and no agent logged in, and the spool fully written."""

from __future__ import annotations

import asyncio
import json
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from acd import events
from acd.app import run_engine
from acd.clock import SystemClock
from acd.settings import load_settings
from acd.sim import AgentBehaviour, CallerScript, SimPbx
from acd.store.durable import DurableRecorder
from acd.store.records import Outcome
from acd.store.sql import SqlStore
from tests.acd.conftest import wait_until
from tests.acd.test_two_nodes import free_port, port_open

ROOT = Path(__file__).resolve().parents[2]


def engine_config(base: Path, ami_port: int, agi_port: int) -> Path:
    conf = base / "conf"
    conf.mkdir()
    shutil.copy(ROOT / "config" / "desk.yaml", conf / "desk.yaml")
    (conf / "queues.yaml").write_text("queues:\n  - {name: general, skills: {general: 1}, ring_timeout_s: 8, wrapup_s: 1, moh_slice_s: 1, announce_position: false, announce_ewt: false}\n")
    (conf / "agents.yaml").write_text("agents:\n  - {id: agent1, name: One, endpoint: PJSIP/agent1, skills: {general: 1}}\n")  # never logged in: callers wait
    (conf / "engine.yaml").write_text(textwrap.dedent(f"""\
        pbx:
          mode: asterisk
          ami: {{host: 127.0.0.1, port: {ami_port}, username: acd, secret: secret}}
          agi: {{host: 127.0.0.1, port: {agi_port}}}
        database: {{url: 'sqlite+aiosqlite:///{base}/acd.sqlite3', spool_dir: '{base}/spool'}}
        flows: {{directory: ''}}
        http: {{port: 0}}
        """))
    return conf


def spooled(base: Path, call_id: str) -> list[str]:
    kinds = []
    for seg in sorted((base / "spool").glob("*-*.jsonl")):
        for line in seg.read_text().splitlines():
            try:
                d = json.loads(line)
            except ValueError:
                continue
            if d.get("call_id") == call_id:
                kinds.append(d["kind"])
    return kinds


async def start_killable_engine(tmp_path: Path, pbx: SimPbx, agi_port: int) -> tuple[subprocess.Popen, Path]:
    conf = engine_config(tmp_path, pbx.ami_port, agi_port)
    log = tmp_path / "engine.log"
    proc = subprocess.Popen([sys.executable, "-m", "acd", "serve", "--config", str(conf)], cwd=tmp_path,
                            stdout=subprocess.DEVNULL, stderr=open(log, "w"))
    for _ in range(300):
        if await port_open(agi_port) and "engine.started" in log.read_text():
            return proc, conf
        await asyncio.sleep(0.1)
    proc.kill()
    raise AssertionError("the engine did not start:\n" + log.read_text()[-3000:])


async def kill_while_caller_waits(tmp_path: Path, patience_s: float):
    agi_port = free_port()
    pbx = SimPbx("127.0.0.1", agi_port, users={"acd": "secret"}, agents={"agent1": AgentBehaviour(answer_after_s=0.3)})
    pbx.sound_seconds = lambda name: 0.2
    await pbx.start()
    proc, conf = await start_killable_engine(tmp_path, pbx, agi_port)
    try:
        call = await pbx.place_call(CallerScript(caller_id="+447700900555", fallback_patience_s=patience_s))
        await wait_until(lambda: events.QueueEntered.kind in spooled(tmp_path, call.uniqueid), 20)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    except BaseException:
        proc.kill()
        await pbx.stop()
        raise
    return pbx, call, conf


async def test_a_call_left_open_by_a_killed_engine_is_closed_at_the_next_start(tmp_path):
    pbx, call, conf = await kill_while_caller_waits(tmp_path, patience_s=0.5)
    try:
        outcome = await call.finished(30)  # the caller went through [acd-fallback] and hung up there
        assert outcome.fallback and not outcome.connected
        assert [e.get("Queue") for e in pbx.events_named("QueueCallerJoin") if e.get("Uniqueid") == call.uniqueid] == ["acd-fallback"]
        before = spooled(tmp_path, call.uniqueid)
        assert events.IvrEnded.kind not in before and events.CallClosed.kind not in before  # left open by the kill

        async with run_engine(load_settings(conf, environ={})) as engine:
            await wait_until(lambda: call.uniqueid in engine.reconciler.closed, 20)
            await engine.records.drain()
            rec = await engine.customers.interaction(call.uniqueid)
            stored = await engine.customers.timeline(call.uniqueid)
        assert rec.outcome is Outcome.ENGINE_LOST_CALL
        [closed] = [events.from_timeline(e) for e in stored if e["kind"] == events.CallClosed.kind]
        queued_at = next(e["t"] for e in stored if e["kind"] == events.QueueEntered.kind)
        assert closed.outcome == "engine_lost_call" and closed.last_seen is not None and closed.last_seen >= queued_at
        assert rec.ended_at == closed.last_seen  # the end is the last time the engine saw the call, not the restart
        assert [v.reason for v in rec.queues] == ["engine_lost_call"]
    finally:
        await pbx.stop()


async def test_a_caller_still_in_the_fallback_queue_is_closed_on_its_hangup(tmp_path):
    pbx, call, conf = await kill_while_caller_waits(tmp_path, patience_s=120)
    try:
        await wait_until(lambda: any(e.get("Uniqueid") == call.uniqueid for e in pbx.events_named("QueueCallerJoin")), 30)
        async with run_engine(load_settings(conf, environ={})) as engine:
            await wait_until(lambda: call.uniqueid in engine.reconciler.fallback_seen, 20)  # the re-sync saw it in app_queue
            await engine.records.drain()
            assert call.uniqueid not in engine.reconciler.closed  # its channel is still there: not closed yet
            assert (await engine.customers.interaction(call.uniqueid)).outcome is Outcome.IN_PROGRESS
            call.hangup()
            await call.finished(10)
            await wait_until(lambda: call.uniqueid in engine.reconciler.closed, 10)  # UserEvent(AcdHangup)
            await engine.records.drain()
            rec = await engine.customers.interaction(call.uniqueid)
            timeline = [events.from_timeline(e) for e in await engine.customers.timeline(call.uniqueid)]
        assert rec.outcome is Outcome.ENGINE_LOST_CALL and rec.fallback and rec.ended_at is not None
        [closed] = [e for e in timeline if isinstance(e, events.CallClosed)]
        assert closed.fallback and "AcdHangup" in closed.reason
    finally:
        await pbx.stop()


def sim_engine_settings(base: Path):
    shutil.copy(ROOT / "config" / "desk.yaml", base / "desk.yaml")
    (base / "queues.yaml").write_text("queues:\n  - {name: general, skills: {general: 1}, ring_timeout_s: 60, wrapup_s: 1, moh_slice_s: 1, announce_position: false, announce_ewt: false}\n")
    (base / "agents.yaml").write_text(textwrap.dedent("""\
        agents:
          - {id: agent1, name: One, endpoint: PJSIP/agent1, skills: {general: 1}, auto_ready: true}
          - {id: agent2, name: Two, endpoint: PJSIP/agent2, skills: {general: 1}, auto_ready: true}
        """))
    (base / "engine.yaml").write_text(
        f"http:\n  port: 0\npbx:\n  mode: sim\ndatabase:\n  url: sqlite+aiosqlite:///{base}/acd.sqlite3\n  spool_dir: {base}/spool\n"
        "flows:\n  directory: ''\n")
    return load_settings(base, environ={})


async def test_a_clean_stop_leaves_nothing_open(tmp_path):
    settings = sim_engine_settings(tmp_path)
    async with run_engine(settings) as engine:
        pbx = engine.pbx
        pbx.sound_seconds = lambda name: 0.2
        pbx.agents["agent1"] = AgentBehaviour.never_answer()
        engine.acd.set_not_ready("agent2", "break")  # one agent paused, one ringing at the stop
        ringing = await pbx.place_call(CallerScript(caller_id="+447700900111", fallback_patience_s=60))
        await wait_until(lambda: pbx.agent_offers.get("PJSIP/agent1") == 1, 15)
        waiting = await pbx.place_call(CallerScript(caller_id="+447700900222", fallback_patience_s=60))
        await wait_until(lambda: waiting.uniqueid in engine.core.calls, 15)
        [offer_id] = list(engine.core.offers)

    hangups = [dict(a.headers).get("Channel") for a in pbx.ami.actions_seen if a.name.lower() == "hangup"]
    assert offer_id in hangups  # the ringing leg was cancelled
    assert DurableRecorder(Path(settings.database.spool_dir), None, SystemClock()).backlog_bytes() == 0  # all written before exit
    store = SqlStore(settings.database.url)
    await store.open()
    try:
        assert await store.open_interactions() == []
        for call in (ringing, waiting):
            rec = await store.interaction(call.uniqueid)
            assert rec.outcome is Outcome.ENGINE_STOPPED and rec.ended_at is not None
            assert all(o.outcome != "ringing" for o in rec.offers)
        last = {span.agent: span.state for span in await store.agent_spans_between(0, 4e9)}
        assert last == {"agent1": "logged_out", "agent2": "logged_out"}
    finally:
        await store.close()
