"""The replicated log on real Redis, with engine nodes in this process (their cores at hand).

- A node that takes the lease over moves the inbox's pending entries into the log, in their
  order, before any input of its own (its auto-ready logins at the takeover).
- A follower that finds a gap in the log (the stream trimmed past its position) rebuilds from
  the last snapshot plus the log, and ends with the leader's state."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from pathlib import Path


from acd.app import run_engine
from acd.eventlog.redis_lease import RedisLeaderLease
from acd.eventlog.redis_log import RedisEventLog, RedisSnapshotStore
from acd.eventlog.redisconn import connect
from acd.routing.snapshot import to_state
from acd.settings import load_settings
from acd.sim import SimPbx
from tests.acd.conftest import wait_until
from tests.acd.test_follower_nodes import node_config
from tests.acd.test_two_nodes import free_port

AGENTS = "".join(
    f"  - {{id: agent{i}, name: A{i}, endpoint: PJSIP/agent{i}, skills: {{general: 1}}, auto_ready: {'true' if i == 5 else 'false'}}}\n"
    for i in range(1, 6))


def configure(base: Path, node: str, pbx: SimPbx, prefix: str, *, snapshot_every: int = 1000) -> Path:
    conf = node_config(base, node, pbx.ami_port, free_port(), 0, prefix, auto_ready=False)
    (conf / "agents.yaml").write_text("agents:\n" + AGENTS)
    engine_yaml = (conf / "engine.yaml").read_text()
    (conf / "engine.yaml").write_text(engine_yaml.replace("lease_ttl_s: 2.0}", f"lease_ttl_s: 2.0, snapshot_every: {snapshot_every}}}"))
    return conf


@contextlib.asynccontextmanager
async def redis_prefix():
    prefix = f"acdtest:{uuid.uuid4().hex}"
    client = connect()
    try:
        yield prefix, client
    finally:
        keys = [k async for k in client.scan_iter(f"{prefix}*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()


@contextlib.asynccontextmanager
async def sim_pbx():
    pbx = SimPbx("127.0.0.1", 1, users={"acd": "secret"})
    pbx.sound_seconds = lambda name: 0.2
    await pbx.start()
    try:
        yield pbx
    finally:
        await pbx.stop()


def records(entries) -> list[tuple[str, str | None, str | None]]:
    return [(e.record["type"], e.record.get("agent_id"), e.record.get("inbox")) for e in entries]


async def test_a_new_leader_moves_the_pending_inbox_into_the_log_before_its_own_inputs(tmp_path):
    async with redis_prefix() as (prefix, client), sim_pbx() as pbx:
        ghost = RedisLeaderLease(client, prefix, ttl_s=30)
        token = await ghost.acquire("ghost", 30)  # a leader that drains nothing (it is about to die)
        assert token is not None
        async with run_engine(load_settings(configure(tmp_path, "node-b", pbx, prefix), environ={})) as node:
            replica = node.acd.replica
            assert replica is not None and not replica.leading
            for i in range(1, 5):  # through this node's outbox into the inbox, in this order
                node.acd.login(f"agent{i}", ready=i % 2 == 1)
            for _ in range(200):  # bounded poll: the outbox sends one input at a time
                if await client.xlen(f"{prefix}:inbox") == 4:
                    break
                await asyncio.sleep(0.05)
            assert await client.xlen(f"{prefix}:inbox") == 4
            inbox_ids = [entry_id.decode() for entry_id, _ in await client.xrange(f"{prefix}:inbox")]

            await ghost.release(token)  # the leader is gone: this node takes over
            await wait_until(lambda: replica.leading, 10)
            await wait_until(lambda: all(a.state.value != "logged_out" for a in node.core.agents.values()), 10)

            log = await RedisEventLog(client, prefix).read(None, 100)
            got = records(log)
            assert got[0][0] == "ConfigApplied"  # the shared log's first entry: every replica's ids
            # the inbox's entries, in the inbox's order, then the new leader's own input (agent5's
            # auto-ready login, submitted at the takeover, before the inbox was read)
            assert got[1:6] == [("AgentLogin", f"agent{i}", inbox_ids[i - 1]) for i in range(1, 5)] + [("AgentLogin", "agent5", None)], got
            assert [node.core.agents[f"agent{i}"].state.value for i in range(1, 6)] == ["ready", "not_ready", "ready", "not_ready", "ready"]


async def test_a_follower_that_finds_a_gap_rebuilds_from_the_snapshot_and_matches_the_leader(tmp_path):
    async with redis_prefix() as (prefix, client), sim_pbx() as pbx:
        async with run_engine(load_settings(configure(tmp_path, "node-a", pbx, prefix, snapshot_every=5), environ={})) as a:
            await wait_until(lambda: a.acd.replica.leading and a.core.agents["agent5"].state.value == "ready", 10)
            async with run_engine(load_settings(configure(tmp_path, "node-b", pbx, prefix, snapshot_every=5), environ={})) as b:
                follower = b.acd.replica
                await wait_until(lambda: b.acd.journal.position == a.acd.journal.position, 10)
                behind = b.acd.journal.position
                await follower.follower.stop()  # B stops reading (a long pause) ...
                for n in range(12):  # ... while A goes on: logins, pauses and readies, snapshots every 5
                    agent = f"agent{1 + n % 4}"
                    state = a.core.agents[agent].state.value
                    if state == "logged_out":
                        a.acd.login(agent)
                    elif state == "ready":
                        a.acd.set_not_ready(agent, "break")
                    else:
                        a.acd.set_ready(agent)
                    assert await a.acd.settled(5.0)
                await a.acd.journal.flush()
                snapshot = await RedisSnapshotStore(client, prefix).latest()
                assert snapshot is not None and snapshot[0] > behind
                await client.xtrim(f"{prefix}:log", minid=str(snapshot[0]), approximate=False)  # trimmed past B
                first = (await RedisEventLog(client, prefix).read(None, 1))[0].position
                assert first.seq > behind.seq + 1 or first.epoch > behind.epoch
                a.acd.set_not_ready("agent5", "lunch")  # one more entry after the trim
                rebuilds = follower.rebuilds

                follower.follower.start()  # B reads on from where it was: the entries it needs are gone
                await wait_until(lambda: follower.rebuilds == rebuilds + 1, 10)
                await wait_until(lambda: b.acd.journal.position == a.acd.journal.position, 10)
                assert not follower.leading and a.acd.replica.leading
                assert to_state(b.core) == to_state(a.core)  # the follower's state is the leader's
                assert b.core.agents["agent5"].reason == "lunch"
