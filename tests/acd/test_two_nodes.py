"""Two engine nodes on one Redis log in front of one (simulated) Asterisk. Node A leads; node B
follows the log with a hot copy. Node A is killed with SIGKILL while the agent it chose is
ringing: B takes the lease over with the offer in its copy, the caller's broken session comes
back to B through [acd-fallback]'s resume and the FastAGI failover address, and the agent's
answer is claimed through B: the call is answered once, by the agent that rang, nobody rung twice."""

from __future__ import annotations

import asyncio
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path


from acd.app import run_engine
from acd.settings import load_settings
from acd.sim import AgentBehaviour, CallerScript, SimPbx
from tests.acd.conftest import drop_redis_keys, wait_until
from tests.tcpproxy import TcpProxy

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def node_config(base: Path, node: str, ami_port: int, agi_port: int, prefix: str) -> Path:
    conf = base / node
    conf.mkdir()
    shutil.copy(ROOT / "config" / "desk.yaml", conf / "desk.yaml")
    (conf / "queues.yaml").write_text("queues:\n  - {name: general, skills: {general: 1}, ring_timeout_s: 8, wrapup_s: 1, moh_slice_s: 1, announce_position: false, announce_ewt: false}\n")
    (conf / "agents.yaml").write_text(textwrap.dedent("""\
        agents:
          - {id: agent1, name: One, endpoint: PJSIP/agent1, skills: {general: 1}, auto_ready: true}
          - {id: agent2, name: Two, endpoint: PJSIP/agent2, skills: {general: 1}, auto_ready: true}
        """))
    (conf / "engine.yaml").write_text(textwrap.dedent(f"""\
        engine: {{node_id: {node}}}
        pbx:
          mode: asterisk
          ami: {{host: 127.0.0.1, port: {ami_port}, username: acd, secret: secret}}
          agi: {{host: 127.0.0.1, port: {agi_port}}}
        live_state: {{backend: redis, key_prefix: '{prefix}'}}
        database: {{url: 'sqlite+aiosqlite:///{conf}/acd.sqlite3', spool_dir: '{conf}/spool'}}
        flows: {{directory: ''}}
        http: {{port: 0}}
        """))
    return conf


async def port_open(port: int) -> bool:
    try:
        _, w = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        return False
    w.close()
    return True


async def test_a_node_killed_mid_offer_the_call_is_answered_once(tmp_path):
    prefix = f"acdtest:{uuid.uuid4().hex}"
    port_a, port_b = free_port(), free_port()
    agi_address = await TcpProxy("127.0.0.1", port_a, ("127.0.0.1", port_b)).start()
    pbx = SimPbx("127.0.0.1", agi_address.port, users={"acd": "secret"}, agents={
        "agent1": AgentBehaviour(answer_after_s=4.0, talk_s=30), "agent2": AgentBehaviour(answer_after_s=0.3, talk_s=30)})
    pbx.sound_seconds = lambda name: 0.2
    await pbx.start()
    node_a = subprocess.Popen([sys.executable, "-m", "acd", "serve", "--config", str(node_config(tmp_path, "node-a", pbx.ami_port, port_a, prefix))],
                              cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=open(tmp_path / "node-a.log", "w"))
    try:
        for _ in range(200):
            if await port_open(port_a) and "engine.started" in (tmp_path / "node-a.log").read_text():
                break
            await asyncio.sleep(0.1)
        else:
            raise AssertionError("node A did not start:\n" + (tmp_path / "node-a.log").read_text()[-3000:])
        settings_b = load_settings(node_config(tmp_path, "node-b", pbx.ami_port, port_b, prefix), environ={})
        async with run_engine(settings_b) as node_b:
            call = await pbx.place_call(CallerScript(caller_id="+447700900321", hangup_after_bridge_s=8))
            await wait_until(lambda: pbx.agent_offers.get("PJSIP/agent1") == 1, 15)  # node A rings agent1
            assert node_b.core.calls[call.uniqueid].node == "node-a"  # B's hot copy: the call is on node A's session
            assert node_b.acd.replica is not None and not node_b.acd.replica.leading
            node_a.send_signal(signal.SIGKILL)  # mid-offer
            node_a.wait(10)

            await wait_until(lambda: call.outcome.connected, 20)
            # B took the lease over with the offer A made still in its hot copy: agent1's answer
            # is claimed through B, and nobody else is rung
            assert call.outcome.agent == "PJSIP/agent1"
            assert node_b.acd.replica.leading and node_b.acd.replica.takeovers == 1
            bridge_enters = [e for e in pbx.events_named("BridgeEnter")]
            agent_enters = [e.get("Channel", "") for e in bridge_enters if e.get("Channel", "").startswith("PJSIP/agent")]
            assert len(agent_enters) == 1 and agent_enters[0].startswith("PJSIP/agent1-")
            assert [e.get("Channel") for e in bridge_enters if e.get("Uniqueid") == call.uniqueid] == [call.channel.name]
            await wait_until(lambda: node_b.core.connected == {call.uniqueid: "agent1"}, 5)
            kinds = [e["kind"] for e in node_b.calllog.timeline(call.uniqueid)]
            # B's timeline: what it applied from A's log entries (the caller queued, A's decision),
            # then its own resume of the caller's session, then the call connected through B
            assert kinds.index("queue_enter") < kinds.index("routing_decision") < kinds.index("resumed") < kinds.index("connected"), kinds
            assert pbx.agent_offers == {"PJSIP/agent1": 1}  # never rung twice, agent2 never rung
            call.hangup()
            await call.finished(10)
    finally:
        if node_a.poll() is None:
            node_a.kill()
        await pbx.stop()
        await agi_address.stop()
        await drop_redis_keys(prefix)
