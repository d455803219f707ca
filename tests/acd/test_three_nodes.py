"""Three engine nodes as processes on one Redis log, in front of one simulated Asterisk.

Node A leads (it routes); B and C follow the log with a hot copy and campaign for the lease. The
router is killed with SIGKILL while an agent rings, while a call is connected and during wrap-up,
or stopped with SIGSTOP past its lease and then continued. Each time a follower takes over within
3 s (lease TTL 2 s), the waiting callers are answered in their original order, the one agent is
never rung twice for a call nor while busy, every call is connected once, and an agent paused
through a follower's API is paused on every node. The waits are polls with bounds, never sleeps
that hope."""

from __future__ import annotations

import asyncio
import json
import shutil
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import pytest
import redis.asyncio as aioredis

from acd.eventlog.timing import raise_if_cancelled
from acd.secrets import Secret, hash_secret
from acd.sim import AgentBehaviour, CallerScript, SimPbx
from tests.acd.conftest import wait_until
from tests.acd.test_two_nodes import free_port, port_open
from tests.tcpproxy import TcpProxy

ROOT = Path(__file__).resolve().parents[2]
SUPERVISOR = f"sup1.{uuid.uuid4().hex}"  # not the public demo token: the nodes face a "real" PBX
TAKEOVER_S = 3.0


def _users_yaml() -> str:
    return f"users:\n  - {{id: sup1, name: Sam Supervisor, role: supervisor, token_hash: '{hash_secret(Secret(SUPERVISOR))}'}}\n"


@dataclass
class Node:
    name: str
    agi_port: int
    http_port: int
    conf: Path
    log: Path
    proc: subprocess.Popen | None = None

    def text(self) -> str:
        return self.log.read_text() if self.log.exists() else ""


@dataclass
class Cluster:
    base: Path
    pbx: SimPbx
    prefix: str
    wrapup_s: float
    nodes: dict[str, Node] = field(default_factory=dict)
    proxy: TcpProxy | None = None
    redis: aioredis.Redis = field(default_factory=lambda: aioredis.from_url("redis://127.0.0.1:6379/0"))
    queued: set[str] = field(default_factory=set)  # callers whose CallQueued is in the shared log

    async def watch_log(self) -> None:
        """Read the shared log as it grows (before any trim) and note every caller queued. redis-py
        can turn a cancel that lands during its read into an empty reply (``raise_if_cancelled``
        says so): the teardown's cancel was lost that way once and the loop ran on, so it checks."""
        last = "0-0"
        while True:
            rows = await self.redis.xrange(f"{self.prefix}:log", min=f"({last}" if last != "0-0" else "-", max="+")
            raise_if_cancelled()
            for entry_id, fields in rows:
                last = entry_id.decode()
                payload = fields.get(b"j")  # one field: the record's kind, then its JSON
                if payload is not None:
                    record = json.loads(payload)
                    if record.get("type") == "CallQueued":
                        self.queued.add(record["call_id"])
            await asyncio.sleep(0.02)

    def configure(self, name: str) -> Node:
        conf = self.base / name
        conf.mkdir()
        shutil.copy(ROOT / "config" / "desk.yaml", conf / "desk.yaml")
        (conf / "users.yaml").write_text(_users_yaml())
        (conf / "queues.yaml").write_text(
            f"queues:\n  - {{name: general, skills: {{general: 1}}, ring_timeout_s: 10, wrapup_s: {self.wrapup_s}, moh_slice_s: 1,"
            " announce_position: false, announce_ewt: false}\n")
        (conf / "agents.yaml").write_text(textwrap.dedent("""\
            agents:
              - {id: agent1, name: One, endpoint: PJSIP/agent1, skills: {general: 1}, auto_ready: true}
              - {id: agent2, name: Two, endpoint: PJSIP/agent2, skills: {general: 1}}
            """))
        node = Node(name, free_port(), free_port(), conf, self.base / f"{name}.log")
        (conf / "engine.yaml").write_text(textwrap.dedent(f"""\
            engine: {{node_id: {name}}}
            pbx:
              mode: asterisk
              ami: {{host: 127.0.0.1, port: {self.pbx.ami_port}, username: acd, secret: secret}}
              agi: {{host: 127.0.0.1, port: {node.agi_port}}}
            live_state: {{backend: redis, key_prefix: '{self.prefix}', lease_ttl_s: 2.0, snapshot_every: 10}}
            database: {{url: 'sqlite+aiosqlite:///{conf}/acd.sqlite3', spool_dir: '{conf}/spool'}}
            flows: {{directory: ''}}
            http: {{port: {node.http_port}}}
            """))
        self.nodes[name] = node
        return node

    async def start(self, name: str) -> Node:
        node = self.nodes[name]
        node.proc = subprocess.Popen([sys.executable, "-m", "acd", "serve", "--config", str(node.conf)], cwd=self.base,
                                     stdout=subprocess.DEVNULL, stderr=open(node.log, "w"))
        for _ in range(300):
            if await port_open(node.agi_port) and "engine.started" in node.text():
                return node
            if node.proc.poll() is not None:
                break
            await asyncio.sleep(0.1)
        raise AssertionError(f"{name} did not start:\n" + node.text()[-3000:])

    async def leader(self) -> str | None:
        value = await self.redis.get(f"{self.prefix}:lease")
        return value.decode().partition(":")[2] if value else None

    async def wait_leader(self, other_than: str | None = None, bound_s: float = 15.0) -> tuple[str, float]:
        started = time.monotonic()
        while time.monotonic() - started < bound_s:
            holder = await self.leader()
            if holder is not None and holder != other_than:
                return holder, time.monotonic() - started
            await asyncio.sleep(0.02)
        raise AssertionError(f"no node other than {other_than} took the lease in {bound_s} s")

    async def api(self, name: str, method: str, path: str, body: dict | None = None) -> dict:
        url = f"http://127.0.0.1:{self.nodes[name].http_port}{path}"
        async with aiohttp.ClientSession() as http:
            async with http.request(method, url, json=body, headers={"Authorization": f"Bearer {SUPERVISOR}"},
                                    timeout=aiohttp.ClientTimeout(total=10)) as resp:
                text = await resp.text()
                assert resp.status == 200, (resp.status, text)
                return json.loads(text)

    async def agent_state(self, name: str, agent_id: str) -> str:
        return (await self.api(name, "GET", f"/api/v1/agents/{agent_id}"))["state"]

    async def close(self) -> None:
        for node in self.nodes.values():
            if node.proc is not None and node.proc.poll() is None:
                node.proc.send_signal(signal.SIGCONT)
                node.proc.kill()
                node.proc.wait(10)
        keys = [k async for k in self.redis.scan_iter(f"{self.prefix}*")]
        if keys:
            await self.redis.delete(*keys)
        await self.redis.aclose()


@pytest.fixture
async def cluster(tmp_path, request):
    wrapup_s = getattr(request, "param", 1)
    pbx = SimPbx("127.0.0.1", 1, users={"acd": "secret"}, agents={
        "agent1": AgentBehaviour(answer_after_s=0.3, talk_s=1.0), "agent2": AgentBehaviour(answer_after_s=0.3, talk_s=1.0)})
    pbx.sound_seconds = lambda name: 0.2
    await pbx.start()
    c = Cluster(tmp_path, pbx, f"acdtest:{uuid.uuid4().hex}", wrapup_s)
    for name in ("node-a", "node-b", "node-c"):
        c.configure(name)
    a, b, cc = (c.nodes[n] for n in ("node-a", "node-b", "node-c"))
    c.proxy = await TcpProxy("127.0.0.1", a.agi_port, ("127.0.0.1", b.agi_port), ("127.0.0.1", cc.agi_port)).start()
    pbx.agi_port = c.proxy.port
    watcher = asyncio.create_task(c.watch_log(), name="test-watch-log")
    try:
        await c.start("node-a")
        assert (await c.wait_leader())[0] == "node-a"
        await c.start("node-b")
        await c.start("node-c")
        for name in c.nodes:  # auto-ready on the leader, seen by every node
            for _ in range(100):
                if await c.agent_state(name, "agent1") == "ready":
                    break
                await asyncio.sleep(0.05)
            else:
                raise AssertionError(f"{name} never saw agent1 ready")
        yield c
    finally:
        watcher.cancel()
        await asyncio.wait([watcher], timeout=5)  # bounded: the teardown never hangs on the watcher
        await c.close()
        await c.proxy.stop()
        await pbx.stop()


async def place_three(c: Cluster, first: AgentBehaviour) -> list:
    c.pbx.agents["agent1"] = AgentBehaviour(answer_after_s=0.3, talk_s=1.0, next_calls=[first])
    calls = []
    for n in range(3):
        calls.append(await c.pbx.place_call(CallerScript(caller_id=f"+44770090010{n}", hangup_after_bridge_s=None)))
        await asyncio.sleep(0.2)  # distinct arrival times: the order to keep
    # every caller is in the queue (in the log) before anything is killed: a caller whose session
    # breaks before it ever reached the queue may find no engine for its resume, and goes to
    # the dialplan's plain fallback queue, which is Asterisk's business, not the takeover's
    await wait_until(lambda: {call.uniqueid for call in calls} <= c.queued, 10)
    return calls


async def answered_in_order(c: Cluster, calls: list, bound_s: float = 40.0) -> None:
    """Every call connected, in arrival order, each after the previous one ended (one agent,
    never rung while busy)."""
    for call in calls:
        await wait_until(lambda call=call: call.outcome.connected, bound_s)  # noqa: B023
        await call.finished(bound_s)
    for before, after in zip(calls, calls[1:], strict=False):
        assert before.outcome.bridged_at < after.outcome.bridged_at, "a caller was overtaken"
        assert before.outcome.ended <= after.outcome.bridged_at, "the agent was connected while busy"
    assert c.pbx.agent_offers == {"PJSIP/agent1": 3}, c.pbx.agent_offers  # one ring per call, nobody twice
    for call in calls:
        assert call.outcome.agent == "PJSIP/agent1"
        bridged = [e for e in c.pbx.events_named("BridgeEnter") if e.get("Uniqueid") == call.uniqueid]
        assert len(bridged) == 1  # connected exactly once


async def pause_through_followers(c: Cluster) -> None:
    """agent2 logs in through B and is paused through C: every node, the leader too, sees it."""
    await c.api("node-b", "POST", "/api/v1/agents/agent2/login")
    await c.api("node-c", "PUT", "/api/v1/agents/agent2/state", {"state": "not_ready", "reason": "break"})
    for name in c.nodes:
        for _ in range(100):
            if await c.agent_state(name, "agent2") == "not_ready":
                break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError(f"agent2's pause is not seen on {name}")


async def test_router_killed_while_the_agent_rings(cluster):
    c = cluster
    await pause_through_followers(c)
    calls = await place_three(c, AgentBehaviour(answer_after_s=4.0, talk_s=1.0))
    await wait_until(lambda: c.pbx.agent_offers.get("PJSIP/agent1") == 1, 15)
    c.nodes["node-a"].proc.send_signal(signal.SIGKILL)
    leader, took = await c.wait_leader(other_than="node-a")
    print(f"takeover {took:.2f} s")
    assert took <= TAKEOVER_S, took
    agent2 = await c.api(leader, "GET", "/api/v1/agents/agent2")
    assert (agent2["state"], agent2["reason"]) == ("not_ready", "break")  # the not-ready reason survived
    await answered_in_order(c, calls)
    assert "PJSIP/agent2" not in c.pbx.agent_offers


async def test_router_killed_while_a_call_is_connected(cluster):
    c = cluster
    calls = await place_three(c, AgentBehaviour(answer_after_s=0.3, talk_s=3.0))
    await wait_until(lambda: calls[0].outcome.connected, 15)
    c.nodes["node-a"].proc.send_signal(signal.SIGKILL)
    leader, took = await c.wait_leader(other_than="node-a")
    print(f"takeover {took:.2f} s")
    assert took <= TAKEOVER_S, took
    await answered_in_order(c, calls)


WRAPUP_S = 6


@pytest.mark.parametrize("cluster", [WRAPUP_S], indirect=True)
async def test_router_killed_during_wrap_up(cluster):
    c = cluster
    calls = await place_three(c, AgentBehaviour(answer_after_s=0.3, talk_s=0.5))
    await wait_until(lambda: calls[0].done.is_set(), 15)
    for _ in range(100):
        if await c.agent_state("node-b", "agent1") == "wrap_up":
            break
        await asyncio.sleep(0.05)
    else:
        raise AssertionError("agent1 never went into wrap-up")
    c.nodes["node-a"].proc.send_signal(signal.SIGKILL)
    leader, took = await c.wait_leader(other_than="node-a")
    print(f"takeover {took:.2f} s")
    assert took <= TAKEOVER_S, took
    assert await c.agent_state(leader, "agent1") == "wrap_up"  # the wrap-up survived ...
    await answered_in_order(c, calls)
    # ... and ended when it was due (its timer re-armed on the new leader, not restarted)
    assert calls[1].outcome.bridged_at - calls[0].outcome.ended >= WRAPUP_S - 0.5


@pytest.mark.parametrize("cluster", [3], indirect=True)
async def test_router_stopped_past_its_lease_issues_nothing_when_it_wakes(cluster):
    c = cluster
    a, b, cc = (c.nodes[n] for n in ("node-a", "node-b", "node-c"))
    calls = await place_three(c, AgentBehaviour(answer_after_s=0.3, talk_s=0.5))
    await wait_until(lambda: calls[0].done.is_set(), 15)  # agent1 in wrap-up: node A holds the wrap-up timer
    c.proxy.targets = [("127.0.0.1", b.agi_port), ("127.0.0.1", cc.agi_port)]  # the balancer's health check drops A
    a.proc.send_signal(signal.SIGSTOP)
    leader, took = await c.wait_leader(other_than="node-a")
    print(f"takeover {took:.2f} s")
    assert took <= TAKEOVER_S, took
    await wait_until(lambda: calls[1].outcome.connected, 20)  # the new leader routes
    a.proc.send_signal(signal.SIGCONT)  # A wakes with its wrap-up timer overdue and its lease gone
    for _ in range(200):
        if "acd.replica.not_leading" in a.text():
            break
        await asyncio.sleep(0.05)
    else:
        raise AssertionError("node A never noticed that it lost the lease:\n" + a.text()[-2000:])
    await answered_in_order(c, calls)
    assert "acd.offer" not in a.text().split("acd.replica.not_leading", 1)[1].replace("acd.offer.not_leader", "")
