"""Three nodes on the real Redis: one leader, every hot copy identical, and a takeover when the
leader dies. Bounds are generous (the machine is shared); the assertions are about order."""

from __future__ import annotations

import time

import pytest

from acd.eventlog import Follower, StaleLeader
from acd.eventlog.redis_lease import RedisLeaderLease
from acd.eventlog.redis_log import RedisEventLog
from acd.eventlog.redisconn import connect
from tests.eventlog.helpers import until

TTL = 1.0


class Node:
    def __init__(self, name: str, prefix: str) -> None:
        self.client = connect()
        self.log = RedisEventLog(self.client, prefix)
        self.lease = RedisLeaderLease(self.client, prefix, ttl_s=TTL)
        self.applied: list = []
        self.applied_when_elected: list[int] = []
        self.follower = Follower(
            self.log, self.lease, name, self.applied.append, campaign_every_s=0.05, tail_timeout_s=0.5,
            on_leader=lambda token: self.applied_when_elected.append(len(self.applied)),
        )

    async def close(self, release: bool = True) -> None:
        await self.follower.stop(release=release)
        await self.client.aclose()


@pytest.fixture
async def nodes(redis_prefix):
    made = [Node(f"node-{i}", redis_prefix) for i in range(3)]
    yield made
    for n in made:
        await n.close()


async def test_one_leader_and_identical_hot_copies(nodes):
    for n in nodes:
        n.follower.start()
    await until(lambda: sum(n.follower.is_leader for n in nodes) == 1)
    leader = next(n for n in nodes if n.follower.is_leader)
    token = leader.follower.token
    for i in range(60):  # the leader's decisions and the other nodes' input events, interleaved
        writer = nodes[i % 3]
        if writer is leader:
            await writer.log.fenced_append(token, {"n": i})
        else:
            await writer.log.append({"n": i})
    last = await leader.log.last_position()
    for n in nodes:
        assert await n.follower.wait_applied(last, 15)
    copies = [[(e.position, e.record) for e in n.applied] for n in nodes]
    assert copies[0] == copies[1] == copies[2]
    assert [r["n"] for _, r in copies[0]] == list(range(60))
    assert sum(n.follower.is_leader for n in nodes) == 1


async def test_the_leader_dies_and_a_caught_up_follower_takes_over(nodes):
    for n in nodes:
        n.follower.start()
    await until(lambda: any(n.follower.is_leader for n in nodes))
    old_leader = next(n for n in nodes if n.follower.is_leader)
    old = old_leader.follower.token
    for i in range(30):
        await old_leader.log.fenced_append(old, {"n": i})
    killed_at = time.monotonic()
    await old_leader.follower.stop(release=False)  # as SIGKILL: the lease only lapses
    others = [n for n in nodes if n is not old_leader]
    await until(lambda: any(n.follower.is_leader for n in others))
    takeover_s = time.monotonic() - killed_at
    new_leader = next(n for n in others if n.follower.is_leader)
    new = new_leader.follower.token
    assert new.value > old.value
    assert new_leader.applied_when_elected[-1] >= 30  # it had the whole log before it led
    with pytest.raises(StaleLeader):
        await old_leader.log.fenced_append(old, {"n": "late"})
    pos = await new_leader.log.fenced_append(new, {"n": 30})
    assert pos.epoch == new.value and pos.seq == 1
    assert takeover_s < 15  # generous; the benchmark measures it
    assert sum(n.follower.is_leader for n in others) == 1


async def test_a_follower_ahead_of_the_log_reports_a_gap(redis_prefix):
    """A failover to an async replica that lacked the last writes: the log's end is now behind
    what a follower applied. The follower says so (its hot copy must be rebuilt)."""
    from acd.eventlog.redisconn import LogKeys

    node = Node("node-0", redis_prefix)
    gaps = []
    node.follower.on_gap = gaps.append
    node.follower.campaigns = False
    try:
        for i in range(5):
            await node.log.append({"n": i})
        node.follower.start()
        await until(lambda: len(node.applied) == 5)
        keys = LogKeys(redis_prefix)
        await node.client.delete(keys.stream)  # what the promoted replica never got ...
        await node.client.hset(keys.meta, mapping={"epoch": 0, "seq": 3})  # ... it had 3 entries
        await until(lambda: bool(gaps))
        assert "lost" in str(gaps[0]) and node.follower.gap is gaps[0]
    finally:
        await node.close()
