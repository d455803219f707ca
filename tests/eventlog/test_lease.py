"""The leader lease: exclusive, renewed only by its holder, taken over after expiry by exactly one
of many campaigners, and its tokens only grow (even when Redis lost its counter)."""

from __future__ import annotations

import asyncio

import pytest

from acd.eventlog import FencingToken, StaleLeader
from acd.eventlog.redis_lease import RedisLeaderLease
from acd.eventlog.redisconn import LogKeys, connect


async def test_acquire_is_exclusive(backend):
    token = await backend.lease.acquire("node-a")
    assert token == FencingToken(1, "node-a")
    _, other = backend.another_node()
    assert await other.acquire("node-b") is None
    assert await other.current() == token
    await backend.lease.check(token)


async def test_only_the_holder_renews_and_releases(backend):
    token = await backend.lease.acquire("node-a")
    forged = FencingToken(token.value, "node-b")
    assert not await backend.lease.renew(forged)
    assert not await backend.lease.release(forged)
    assert await backend.lease.renew(token)
    assert await backend.lease.release(token)
    assert await backend.lease.current() is None
    assert not await backend.lease.renew(token)  # released is released
    with pytest.raises(StaleLeader):
        await backend.lease.check(token)


async def test_the_same_node_reacquiring_gets_a_fresh_token(backend):
    """A node that lost its lease locally (a Redis blip) takes it back without waiting for the TTL;
    what it issued under the old token stays refused."""
    first = await backend.lease.acquire("node-a")
    second = await backend.lease.acquire("node-a")
    assert second.value > first.value
    with pytest.raises(StaleLeader):
        await backend.lease.check(first)
    assert not await backend.lease.renew(first)


async def test_renewal_keeps_the_lease_past_its_first_ttl(backend):
    token = await backend.lease.acquire("node-a", ttl_s=0.3)
    assert await backend.lease.renew(token, ttl_s=30)
    await backend.expire(0.6)
    assert await backend.lease.current() == token


async def test_after_expiry_exactly_one_of_many_campaigners_wins(backend):
    old = await backend.lease.acquire("node-0", ttl_s=0.2)
    await backend.expire(0.5)
    leases = [backend.another_node()[1] for _ in range(5)]
    tokens = await asyncio.gather(*(leases[i % 5].acquire(f"node-{i}") for i in range(1, 41)))
    winners = [t for t in tokens if t is not None]
    assert len(winners) == 1
    assert winners[0].value > old.value
    assert await backend.lease.current() == winners[0]
    assert not await backend.lease.renew(old)


async def test_many_campaigners_on_a_free_lease_one_leader(backend):
    leases = [backend.another_node()[1] for _ in range(4)]
    tokens = await asyncio.gather(*(leases[i % 4].acquire(f"node-{i}") for i in range(50)))
    assert sum(t is not None for t in tokens) == 1


async def test_a_token_is_above_what_the_campaigner_saw(backend):
    """``at_least``: the highest epoch in the campaigner's hot copy; the new token is above it."""
    token = await backend.lease.acquire("node-a")
    await backend.log.fenced_append(token, {"n": 1})
    await backend.lease.release(token)
    nxt = await backend.lease.acquire("node-b", at_least=41)
    assert nxt.value == 42  # above what the caller saw in its hot copy


async def test_a_failover_that_lost_the_counter_does_not_reuse_tokens(redis_prefix):
    """An async replica promoted by Sentinel may lack the last writes: the lease and its counter
    are gone. The token still goes up: above the log's last epoch the new master has, and above
    what the campaigner saw in its own hot copy (``at_least``)."""
    client = connect()
    lease = RedisLeaderLease(client, redis_prefix)
    keys = LogKeys(redis_prefix)
    try:
        for _ in range(5):
            await lease.release(await lease.acquire("node-a"))
        await client.hset(keys.meta, mapping={"epoch": 5, "seq": 3})
        await client.delete(keys.lease, keys.counter)  # what the failover lost
        assert (await lease.acquire("node-b")).value == 6
        await client.delete(keys.lease, keys.counter, keys.meta)  # lost the log's last epoch too
        assert (await lease.acquire("node-c", at_least=9)).value == 10
    finally:
        await client.aclose()
