"""Two engine nodes on one Redis log in front of one simulated Asterisk: node A (a process)
leads, node B (in this process) follows the log with a hot copy.

- Desks and wallboards connected to the follower get live pushes: an agent's event stream on B
  sees the offer and the call, derived from the entries B applies, while only A writes the
  record (B's store holds nothing of the call: exactly once).
- A callback booked on A survives A's SIGKILL: B, once it leads, rings the agent and then the
  customer, once each.

Waits are polls with generous bounds, never sleeps that hope."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import aiohttp

from acd.app import run_engine
from acd.secrets import Secret, hash_secret
from acd.settings import load_settings
from acd.sim import AgentBehaviour, CallerScript, SimPbx
from tests.acd.conftest import drop_redis_keys, wait_until
from tests.acd.test_two_nodes import free_port, port_open
from tests.tcpproxy import TcpProxy

ROOT = Path(__file__).resolve().parents[2]
AGENT_TOKEN = f"agent1.{uuid.uuid4().hex}"
SUPERVISOR_TOKEN = f"sup1.{uuid.uuid4().hex}"
NUMBER = "+447700900777"
QUEUES = (
    "queues:\n  - {name: general, skills: {general: 1}, ring_timeout_s: 10, wrapup_s: 1, moh_slice_s: 1, announce_position: false,"
    " announce_ewt: false, callback_key: '1', callback_after_s: 0, callback_retry_s: 300, callback_attempts: 1}\n"
)


def node_config(base: Path, node: str, ami_port: int, agi_port: int, http_port: int, prefix: str, auto_ready: bool) -> Path:
    conf = base / node
    conf.mkdir()
    shutil.copy(ROOT / "config" / "desk.yaml", conf / "desk.yaml")
    (conf / "queues.yaml").write_text(QUEUES)
    (conf / "agents.yaml").write_text(
        f"agents:\n  - {{id: agent1, name: One, endpoint: PJSIP/agent1, skills: {{general: 1}}, auto_ready: {str(auto_ready).lower()}}}\n")
    (conf / "users.yaml").write_text(
        f"users:\n  - {{id: agent1, name: One, role: agent, agent_id: agent1, token_hash: '{hash_secret(Secret(AGENT_TOKEN))}'}}\n"
        f"  - {{id: sup1, name: Sam, role: supervisor, token_hash: '{hash_secret(Secret(SUPERVISOR_TOKEN))}'}}\n")
    (conf / "engine.yaml").write_text(textwrap.dedent(f"""\
        engine: {{node_id: {node}}}
        pbx:
          mode: asterisk
          ami: {{host: 127.0.0.1, port: {ami_port}, username: acd, secret: secret}}
          agi: {{host: 127.0.0.1, port: {agi_port}}}
        live_state: {{backend: redis, key_prefix: '{prefix}', lease_ttl_s: 2.0}}
        database: {{url: 'sqlite+aiosqlite:///{conf}/acd.sqlite3', spool_dir: '{conf}/spool'}}
        flows: {{directory: ''}}
        http: {{port: {http_port}}}
        """))
    return conf


@contextlib.asynccontextmanager
async def two_nodes(tmp_path: Path, pbx: SimPbx, *, auto_ready: bool):
    """A leads (a process: it can be killed), B follows (in this process: its core, store and
    streams are at hand). Yields (A's process, A's config dir, B's engine)."""
    prefix = f"acdtest:{uuid.uuid4().hex}"
    port_a, port_b = free_port(), free_port()
    proxy = await TcpProxy("127.0.0.1", port_a, ("127.0.0.1", port_b)).start()  # the FastAGI address fails over
    pbx.agi_port = proxy.port
    conf_a = node_config(tmp_path, "node-a", pbx.ami_port, port_a, free_port(), prefix, auto_ready)
    log_a = tmp_path / "node-a.log"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}  # this checkout's code, not whichever the venv has installed
    node_a = subprocess.Popen([sys.executable, "-m", "acd", "serve", "--config", str(conf_a)], cwd=tmp_path, env=env,
                              stdout=subprocess.DEVNULL, stderr=open(log_a, "w"))
    try:
        for _ in range(300):
            if await port_open(port_a) and "engine.started" in log_a.read_text():
                break
            if node_a.poll() is not None:
                break
            await asyncio.sleep(0.1)
        else:
            raise AssertionError("node A did not start:\n" + log_a.read_text()[-3000:])
        settings_b = load_settings(node_config(tmp_path, "node-b", pbx.ami_port, port_b, 0, prefix, auto_ready), environ={})
        async with run_engine(settings_b) as node_b:
            await wait_until(lambda: node_b.acd.replica is not None and node_b.acd.journal.position is not None, 10)
            assert not node_b.acd.replica.leading
            yield node_a, conf_a, node_b
    finally:
        if node_a.poll() is None:
            node_a.kill()
            node_a.wait(10)
        await proxy.stop()
        await drop_redis_keys(prefix)


async def read_stream(http: aiohttp.ClientSession, url: str, into: list[tuple[str, dict]]) -> None:
    """Collect (kind, data) from a text/event-stream until cancelled."""
    async with http.get(url, timeout=aiohttp.ClientTimeout(total=None, sock_read=None)) as resp:
        assert resp.status == 200, resp.status
        kind = None
        async for raw in resp.content:
            line = raw.decode().rstrip("\n")
            if line.startswith("event: "):
                kind = line[len("event: "):]
            elif line.startswith("data: ") and kind is not None:
                into.append((kind, json.loads(line[len("data: "):])))
                kind = None


def interactions_in(db: Path, call_id: str) -> int:
    with contextlib.closing(sqlite3.connect(db)) as conn:
        return conn.execute("SELECT COUNT(*) FROM interactions WHERE call_id = ?", (call_id,)).fetchone()[0]


async def test_a_desk_and_a_wallboard_on_the_follower_see_the_offer_and_the_call(tmp_path):
    pbx = SimPbx("127.0.0.1", 1, users={"acd": "secret"}, agents={"agent1": AgentBehaviour(answer_after_s=0.5, talk_s=30)})
    pbx.sound_seconds = lambda name: 0.2
    await pbx.start()
    try:
        async with two_nodes(tmp_path, pbx, auto_ready=True) as (node_a, conf_a, node_b):
            await wait_until(lambda: node_b.core.agents["agent1"].state.value == "ready", 10)  # A logged agent1 in
            desk: list[tuple[str, dict]] = []
            board: list[tuple[str, dict]] = []
            base = f"http://127.0.0.1:{node_b.http_port}/api/v1/events?access_token="
            async with aiohttp.ClientSession() as http:
                readers = [asyncio.create_task(read_stream(http, base + AGENT_TOKEN, desk), name="test-desk-stream"),
                           asyncio.create_task(read_stream(http, base + SUPERVISOR_TOKEN, board), name="test-board-stream")]
                try:
                    await wait_until(lambda: node_b.bus.subscribers == 2, 10)
                    call = await pbx.place_call(CallerScript(caller_id="+447700900321", hangup_after_bridge_s=1.0))
                    await call.finished(30)
                    assert call.outcome.connected and pbx.agent_offers == {"PJSIP/agent1": 1}
                    await wait_until(lambda: ("wrapup_done", "agent1") in [(k, d.get("agent_id")) for k, d in desk], 15)
                finally:
                    for reader in readers:
                        reader.cancel()
                    await asyncio.gather(*readers, return_exceptions=True)
            assert node_b.acd.replica is not None and not node_b.acd.replica.leading  # B followed all along
            states = [d["state"] for k, d in desk if k == "agent_state"]
            assert states[:4] == ["reserved", "ringing", "on_call", "wrap_up"], desk  # the offer, then the call, live
            kinds = [k for k, _ in desk]
            assert kinds.index("connected") < kinds.index("ended") < kinds.index("wrapup_done")
            assert all(d.get("agent_id") in ("agent1", None) for _, d in desk)  # an agent's stream: its own events
            waiting = [d["waiting"] for k, d in board if k == "queue" and d["queue"] == "general"]
            assert waiting[:2] == [1, 0], board  # the wallboard saw the caller join and leave the queue
            # exactly once: the leader wrote the record; the follower's store has nothing of it
            await wait_until(lambda: interactions_in(conf_a / "acd.sqlite3", call.uniqueid) == 1, 15)
            assert interactions_in(Path(node_b.settings.database.url.split("///", 1)[1]), call.uniqueid) == 0
            # ... and keeps the leader's record events on its own timeline of recent calls (its desks' pops)
            kinds = [e["kind"] for e in node_b.calllog.timeline(call.uniqueid)]
            assert kinds.index("queue_enter") < kinds.index("connected") < kinds.index("ended") < kinds.index("wrapup_done"), kinds
    finally:
        await pbx.stop()


async def test_a_callback_booked_before_a_takeover_is_carried_out_by_the_new_leader(tmp_path):
    pbx = SimPbx("127.0.0.1", 1, users={"acd": "secret"}, agents={"agent1": AgentBehaviour(answer_after_s=0.5, talk_s=30)})
    pbx.sound_seconds = lambda name: 0.2
    pbx.customers[NUMBER.lstrip("+")] = AgentBehaviour(answer_after_s=0.5, talk_s=1.0)
    await pbx.start()
    try:
        async with two_nodes(tmp_path, pbx, auto_ready=False) as (node_a, _, node_b):
            node_b.acd.login("agent1", ready=False)  # through the follower: the inbox, then A's log
            await wait_until(lambda: node_b.core.agents["agent1"].state.value == "not_ready", 10)
            call = await pbx.place_call(CallerScript(caller_id=NUMBER, keys="1", think_s=0.05))  # presses during the offer
            outcome = await call.finished(30)
            assert not outcome.connected and outcome.prompts[-1] == "acd/we-will-call-you-back", outcome.prompts
            await wait_until(lambda: call.uniqueid in node_b.core.calls, 10)
            assert node_b.core.calls[call.uniqueid].callback_number == NUMBER  # booked on A, in B's hot copy
            assert pbx.agent_offers == {} and pbx.callbacks_dialled == []

            node_a.send_signal(signal.SIGKILL)
            node_a.wait(10)
            await wait_until(lambda: node_b.acd.replica.leading, 15)  # B takes the lease over
            assert call.uniqueid in node_b.core.calls  # the booked callback survived the takeover
            node_b.acd.set_ready("agent1")
            await wait_until(lambda: call.uniqueid in node_b.core.connected, 30)  # the agent first, then the customer
            assert node_b.core.connected[call.uniqueid] == "agent1"
            rung_once = {"PJSIP/agent1": 1, "PJSIP/" + NUMBER.lstrip("+"): 1}  # the agent, then the customer's leg
            assert pbx.agent_offers == rung_once and pbx.callbacks_dialled == [NUMBER.lstrip("+")]
            # the customer hangs up after a second: the call is over, and nobody was rung again
            await wait_until(lambda: call.uniqueid not in node_b.core.connected and node_b.core.agents["agent1"].state.value in ("wrap_up", "ready"), 15)
            assert pbx.agent_offers == rung_once and pbx.callbacks_dialled == [NUMBER.lstrip("+")]
            kinds = [e["kind"] for e in node_b.calllog.timeline(call.uniqueid)]
            assert kinds.index("offer") < kinds.index("connected") < kinds.index("ended"), kinds
    finally:
        await pbx.stop()


async def test_a_task_event_made_on_one_node_reaches_a_desk_on_the_other(tmp_path):
    pbx = SimPbx("127.0.0.1", 1, users={"acd": "secret"}, agents={"agent1": AgentBehaviour(answer_after_s=0.5, talk_s=30)})
    await pbx.start()
    try:
        async with two_nodes(tmp_path, pbx, auto_ready=True) as (_, conf_a, node_b):
            port_a = load_settings(conf_a, environ={}).http.port
            desk: list[tuple[str, dict]] = []
            async with aiohttp.ClientSession() as http:
                url = f"http://127.0.0.1:{node_b.http_port}/api/v1/events?access_token={AGENT_TOKEN}"
                reader = asyncio.create_task(read_stream(http, url, desk), name="test-desk-stream")
                try:
                    await wait_until(lambda: node_b.bus.subscribers == 1, 10)
                    async with http.post(f"http://127.0.0.1:{port_a}/api/v1/tasks", json={"type": "case", "owner_agent": "agent1"},
                                         headers={"Authorization": f"Bearer {SUPERVISOR_TOKEN}"},
                                         timeout=aiohttp.ClientTimeout(total=15)) as resp:
                        assert resp.status == 201, await resp.text()
                        task = await resp.json()
                    # made on A (the leader, its store), pushed to agent1's desk connected to B
                    await wait_until(lambda: ("task_created", task["task_id"]) in [(k, d.get("task_id")) for k, d in desk], 15)
                finally:
                    reader.cancel()
                    await asyncio.gather(reader, return_exceptions=True)
            assert [k for k, d in desk if d.get("task_id") == task["task_id"]] == ["task_created"]  # once, not echoed
    finally:
        await pbx.stop()
