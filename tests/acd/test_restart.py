"""A single engine node restarted with callers in the queue (the in-process log, the default).

The new process starts beside the old one (the FastAGI address fails over from the old port to
the new, as a load balancer or a socket handed over by systemd would), then the old one is killed
with SIGKILL. Every waiting caller's session breaks, ``[acd-fallback]``'s resume brings it to the
new process, which reads the caller's queue entry from the shared record and queues it with its
original enqueue time: the callers are back in their original order, whatever order they come
back in, and are answered in that order."""

from __future__ import annotations

import asyncio
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from acd.app import run_engine
from acd.settings import load_settings
from acd.sim import AgentBehaviour, CallerScript, SimPbx
from tests.acd.conftest import wait_until
from tests.acd.test_two_nodes import free_port, port_open
from tests.tcpproxy import TcpProxy

ROOT = Path(__file__).resolve().parents[2]


def single_node_config(base: Path, name: str, ami_port: int, agi_port: int, db: Path) -> Path:
    conf = base / name
    conf.mkdir()
    shutil.copy(ROOT / "config" / "desk.yaml", conf / "desk.yaml")
    (conf / "queues.yaml").write_text("queues:\n  - {name: general, skills: {general: 1}, ring_timeout_s: 8, wrapup_s: 0, moh_slice_s: 1, announce_position: false, announce_ewt: false}\n")
    (conf / "agents.yaml").write_text("agents:\n  - {id: agent1, name: One, endpoint: PJSIP/agent1, skills: {general: 1}}\n")
    (conf / "engine.yaml").write_text(textwrap.dedent(f"""\
        engine: {{node_id: node-1}}
        pbx:
          mode: asterisk
          ami: {{host: 127.0.0.1, port: {ami_port}, username: acd, secret: secret}}
          agi: {{host: 127.0.0.1, port: {agi_port}}}
        database: {{url: 'sqlite+aiosqlite:///{db}', spool_dir: '{conf}/spool'}}
        flows: {{directory: ''}}
        http: {{port: 0}}
        """))
    return conf


async def test_a_restarted_single_node_puts_waiting_callers_back_in_their_original_place(tmp_path):
    old_port, new_port = free_port(), free_port()
    agi_address = await TcpProxy("127.0.0.1", old_port, ("127.0.0.1", new_port)).start()
    pbx = SimPbx("127.0.0.1", agi_address.port, users={"acd": "secret"}, agents={"agent1": AgentBehaviour(answer_after_s=0.2, talk_s=0.3)})
    pbx.sound_seconds = lambda name: 0.2
    await pbx.start()
    db = tmp_path / "acd.sqlite3"
    old_log = tmp_path / "old.log"
    old = subprocess.Popen([sys.executable, "-m", "acd", "serve", "--config", str(single_node_config(tmp_path, "old", pbx.ami_port, old_port, db))],
                           cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=open(old_log, "w"))
    try:
        for _ in range(300):
            if await port_open(old_port) and "engine.started" in old_log.read_text():
                break
            await asyncio.sleep(0.1)
        else:
            raise AssertionError("the old process did not start:\n" + old_log.read_text()[-3000:])
        calls = []
        for n in range(3):  # nobody is logged in: they wait, in this order
            calls.append(await pbx.place_call(CallerScript(caller_id=f"+44770090000{n}", hangup_after_bridge_s=0.5)))
            await asyncio.sleep(0.3)
        settings = load_settings(single_node_config(tmp_path, "new", pbx.ami_port, new_port, db), environ={})
        async with run_engine(settings) as new:
            async def all_entered() -> bool:
                for call in calls:
                    if not any(e.get("kind") == "queue_enter" for e in await new.customers.timeline(call.uniqueid)):
                        return False
                return True

            for _ in range(200):  # the old process has put every caller's entry on the shared record
                if await all_entered():
                    break
                await asyncio.sleep(0.05)
            else:
                raise AssertionError("the old process never recorded the callers' queue entries")
            originally = {call.uniqueid: next(e for e in await new.customers.timeline(call.uniqueid) if e.get("kind") == "queue_enter")["enqueued_at"]
                          for call in calls}
            assert not new.core.calls  # the new process knows nothing yet: its log is its own
            old.send_signal(signal.SIGKILL)
            old.wait(10)

            await wait_until(lambda: len(new.core.waiting["general"]) == 3, 20)  # every caller resumed here
            waiting = new.core.waiting["general"]
            assert [e.call_id for e in waiting] == [c.uniqueid for c in calls]  # the original order
            assert {e.call_id: e.enqueued_at for e in waiting} == originally  # and the original times
            assert all(e.resumed for e in waiting)

            new.acd.login("agent1")
            for call in calls:
                await wait_until(lambda call=call: call.outcome.connected, 20)
                assert all(not other.outcome.connected for other in calls[calls.index(call) + 1:])  # one by one, in order
                await call.finished(10)
            assert pbx.agent_offers == {"PJSIP/agent1": 3}
    finally:
        if old.poll() is None:
            old.kill()
        await pbx.stop()
        await agi_address.stop()
