"""Fenced live state, both stores: an operation that carries the router's fencing token is checked
against the current lease in the same atomic step; a stale token changes nothing."""

import uuid

import pytest

from acd.clock import FakeClock
from acd.eventlog import FencingToken, MemoryLeaderLease, StaleLeader
from acd.eventlog.redis_lease import RedisLeaderLease
from acd.eventlog.redisconn import connect
from acd.livestate.memory import MemoryLiveStore
from acd.livestate.redis import RedisLiveStore


@pytest.fixture(params=["memory", "redis"])
async def fenced(request):
    """(store, lease) sharing one lease: the memory pair on a FakeClock, or both on real Redis."""
    if request.param == "memory":
        clock = FakeClock()
        lease = MemoryLeaderLease(clock, ttl_s=30)
        yield MemoryLiveStore(clock, lease), lease
        return
    prefix = f"acdtest:{uuid.uuid4().hex}"
    store = RedisLiveStore(prefix=prefix)
    await store.redis.ping()
    client = connect()
    yield store, RedisLeaderLease(client, prefix, ttl_s=30)
    keys = [k async for k in store.redis.scan_iter(f"{prefix}:*")]
    if keys:
        await store.redis.delete(*keys)
    await store.close()
    await client.aclose()


async def test_the_current_token_works_like_no_token(fenced):
    store, lease = fenced
    token = await lease.acquire("node-a")
    assert await store.reserve("a1", "offer-1", "node-a", 30, token=token)
    assert not await store.reserve("a1", "offer-2", "node-a", 30, token=token)  # still exclusive
    assert await store.claim("call-1", "offer-1", 60, token=token)
    assert await store.confirm("a1", "offer-1", "call-1", token=token)
    assert await store.release("a1", "call-1", token=token)
    assert await store.holder("a1") is None


async def test_a_stale_token_is_refused_and_changes_nothing(fenced):
    store, lease = fenced
    old = await lease.acquire("node-a")
    assert await store.reserve("a1", "offer-1", "node-a", 30, token=old)
    assert await lease.release(old)
    new = await lease.acquire("node-b")
    for attempt in (
        store.reserve("a2", "offer-2", "node-a", 30, token=old),
        store.confirm("a1", "offer-1", "call-1", token=old),
        store.release("a1", "offer-1", token=old),
        store.claim("call-1", "offer-1", 60, token=old),
    ):
        with pytest.raises(StaleLeader) as refused:
            await attempt
        assert refused.value.epoch == old.value
    assert await store.holder("a1") == "offer-1"  # untouched
    assert await store.holder("a2") is None
    assert await store.claim("call-1", "offer-9", 60, token=new)  # the stale claim did not land
    assert await store.release("a1", "offer-1", token=new)  # the new leader cleans up


async def test_no_lease_at_all_refuses_every_token(fenced):
    store, lease = fenced
    with pytest.raises(StaleLeader):
        await store.reserve("a1", "offer-1", "node-a", 30, token=FencingToken(1, "node-a"))
    assert await store.reserve("a1", "offer-1", "node-a", 30)  # unfenced calls are as before


async def test_a_token_of_another_node_with_the_same_value_is_refused(fenced):
    store, lease = fenced
    token = await lease.acquire("node-a")
    with pytest.raises(StaleLeader):
        await store.reserve("a1", "offer-1", "node-b", 30, token=FencingToken(token.value, "node-b"))


async def test_memory_store_without_a_lease_rejects_a_token_as_a_programming_error():
    store = MemoryLiveStore(FakeClock())
    with pytest.raises(ValueError, match="no lease"):
        await store.reserve("a1", "offer-1", "node-a", 30, token=FencingToken(1, "node-a"))
