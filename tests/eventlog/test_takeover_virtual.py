"""Heartbeat and takeover in virtual time: in-process log and lease on a FakeClock, every sleep of
the heartbeat and the campaign driven by the test, so the takeover time is measured exactly."""

from __future__ import annotations

import pytest

from acd.clock import FakeClock
from acd.eventlog import Follower, Heartbeat, MemoryEventLog, MemoryLeaderLease, StaleLeader, VirtualSleeper
from acd.livestate.memory import MemoryLiveStore

TTL = 2.0
CAMPAIGN = 0.25


class Node:
    def __init__(self, name: str, log, lease, clock, sleeper) -> None:
        self.applied: list = []
        self.leads: list[tuple[float, int]] = []  # (virtual time, epoch) of each election
        self.losses: list[str] = []
        self.follower = Follower(
            log, lease, name, self.applied.append, sleeper=sleeper, clock=clock, campaign_every_s=CAMPAIGN,
            on_leader=lambda t: self.leads.append((clock.monotonic(), t.value)),
            on_lost=lambda t, reason: self.losses.append(reason),
        )


@pytest.fixture
def world():
    clock = FakeClock()
    sleeper = VirtualSleeper(clock)
    lease = MemoryLeaderLease(clock, ttl_s=TTL)
    log = MemoryEventLog(lease)
    return clock, sleeper, lease, log


async def start_pair(world):
    clock, sleeper, lease, log = world
    a, b = Node("a", log, lease, clock, sleeper), Node("b", log, lease, clock, sleeper)
    a.follower.start()
    await sleeper.advance(0)
    b.follower.start()
    await sleeper.advance(0)
    assert a.follower.is_leader and not b.follower.is_leader
    return a, b


async def test_the_heartbeat_keeps_the_lease_for_many_ttls(world):
    clock, sleeper, lease, log = world
    a, b = await start_pair(world)
    try:
        await sleeper.advance(10 * TTL)
        assert a.follower.is_leader and not b.follower.is_leader
        assert a.follower.heartbeat.renewals >= 29  # every ttl/3
        assert b.leads == [] and a.losses == []
    finally:
        await a.follower.stop()
        await b.follower.stop()


async def test_takeover_after_the_leader_dies_within_ttl_plus_one_campaign(world):
    clock, sleeper, lease, log = world
    a, b = await start_pair(world)
    try:
        old = a.follower.token
        for i in range(20):
            await log.fenced_append(old, {"n": i})
        await sleeper.advance(1.0)  # mid-way between two renewals
        await a.follower.stop(release=False)  # SIGKILL: no release, the lease lapses by itself
        died = clock.monotonic()
        for _ in range(400):
            if b.follower.is_leader:
                break
            await sleeper.advance(0.01)
        takeover = clock.monotonic() - died
        assert b.follower.is_leader
        # not before the dead node's lease ran out (it renewed at most ttl/3 before dying) ...
        assert takeover >= TTL * 2 / 3 - 1e-9
        # ... and at most one campaign interval after it did; the target is 3 s
        assert takeover <= TTL + CAMPAIGN + 0.02
        assert takeover <= 3.0
        new = b.follower.token
        assert new.value > old.value
        assert [e.record for e in b.applied] == [{"n": i} for i in range(20)]  # caught up before leading
        with pytest.raises(StaleLeader):
            await log.fenced_append(old, {"n": "from the dead"})
        assert (await log.fenced_append(new, {"n": 20})).epoch == new.value
    finally:
        await b.follower.stop()


async def test_a_paused_leader_wakes_up_refused_and_follows(world):
    """SIGSTOP past the lease, then SIGCONT: the paused node's sleeps did not run while the clock
    moved; on waking its local check already says not leader, its token is refused by the log and
    by the live state, and it becomes a follower of the new leader."""
    clock, sleeper, lease, log = world
    store = MemoryLiveStore(clock, lease)
    a, b = await start_pair(world)
    old = a.follower.token
    assert await store.reserve("agent-1", "offer-1", "a", 30, token=old)
    try:
        clock.advance(3 * TTL)  # nothing ran: the whole process was stopped
        assert not a.follower.is_leader  # no Redis needed to know it
        await sleeper.advance(CAMPAIGN * 2)  # SIGCONT: due sleeps fire, b's campaign among them
        assert b.follower.is_leader and not a.follower.is_leader
        assert a.losses and "expired" in a.losses[0]
        with pytest.raises(StaleLeader):
            await log.fenced_append(old, {"ring": "agent-2"})
        with pytest.raises(StaleLeader):
            await store.reserve("agent-2", "offer-2", "a", 30, token=old)
        with pytest.raises(StaleLeader):
            await store.release("agent-1", "offer-1", token=old)
        new = b.follower.token
        pos = await log.fenced_append(new, {"ring": "agent-3"})
        assert await a.follower.wait_applied(pos, 5)  # the woken node keeps its hot copy
        await sleeper.advance(5 * TTL)
        assert b.follower.is_leader and len(a.leads) == 1  # it does not take the lease back
    finally:
        await a.follower.stop()
        await b.follower.stop()


async def test_a_stopped_heartbeat_releases_so_the_next_leader_need_not_wait(world):
    clock, sleeper, lease, log = world
    a, b = await start_pair(world)
    try:
        await a.follower.stop(release=True)
        await sleeper.advance(CAMPAIGN)
        assert b.follower.is_leader  # within one campaign interval, not a TTL
    finally:
        await b.follower.stop()


async def test_a_refused_renewal_ends_leadership(world):
    clock, sleeper, lease, log = world
    token = await lease.acquire("a")
    lost = []
    heartbeat = Heartbeat(lease, token, sleeper=sleeper, clock=clock, on_lost=lambda t, reason: lost.append(reason))
    heartbeat.start()
    try:
        await sleeper.advance(TTL)
        assert heartbeat.holds_lease()
        await lease.acquire("a")  # the same node re-acquired elsewhere (a restart): this token is old
        await sleeper.advance(TTL / 3)
        assert heartbeat.lost.is_set() and lost == ["taken by another node"]
        assert not heartbeat.holds_lease()
    finally:
        await heartbeat.stop(release=False)


async def test_single_node_lease_is_always_leader_with_token_1():
    lease = MemoryLeaderLease.single_node()
    log = MemoryEventLog(lease)
    applied: list = []
    node = Follower(log, lease, "only", applied.append)
    node.start()
    try:
        await node.leader.wait()
        assert node.token.value == 1 and node.is_leader
        pos = await log.fenced_append(node.token, {"n": 1})
        assert await node.wait_applied(pos, 5)
    finally:
        await node.stop()
