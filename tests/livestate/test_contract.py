"""One contract, two stores: in-process and Redis (the real server on 127.0.0.1:6379)."""

import asyncio
import uuid

import pytest

from acd.clock import FakeClock
from acd.livestate.memory import MemoryLiveStore
from acd.livestate.redis import RedisLiveStore


@pytest.fixture(params=["memory", "redis"])
async def store(request):
    if request.param == "memory":
        s = MemoryLiveStore(FakeClock())
        s.expire = lambda seconds: s.clock.advance(seconds)
        yield s
        return
    prefix = f"acdtest:{uuid.uuid4().hex}"
    s = RedisLiveStore(prefix=prefix)
    await s.redis.ping()  # Redis down: the test fails, it is never skipped

    async def expire(seconds):
        await asyncio.sleep(seconds)

    s.expire = expire
    yield s
    keys = [k async for k in s.redis.scan_iter(f"{prefix}:*")]
    if keys:
        await s.redis.delete(*keys)
    await s.close()


async def advance(store, seconds):
    result = store.expire(seconds)
    if asyncio.iscoroutine(result):
        await result


async def test_reserve_is_exclusive_and_fenced(store):
    assert await store.reserve("a1", "offer-1", "node-1", 30)
    assert not await store.reserve("a1", "offer-2", "node-2", 30)
    assert await store.holder("a1") == "offer-1"
    assert not await store.confirm("a1", "offer-2", "call-9")  # a stale or foreign offer
    assert not await store.release("a1", "offer-2")
    assert await store.confirm("a1", "offer-1", "call-1")
    assert await store.holder("a1") == "call-1"
    assert not await store.release("a1", "offer-1")
    assert await store.release("a1", "call-1")
    assert await store.holder("a1") is None


async def test_a_dead_nodes_reservation_expires(store):
    assert await store.reserve("a1", "offer-1", "node-1", 0.2)
    await advance(store, 0.3)
    assert await store.holder("a1") is None
    assert await store.reserve("a1", "offer-2", "node-2", 30)
    assert not await store.confirm("a1", "offer-1", "call-1")  # the dead node cannot commit


async def test_a_confirmed_call_does_not_expire(store):
    assert await store.reserve("a1", "offer-1", "node-1", 0.2)
    assert await store.confirm("a1", "offer-1", "call-1")
    await advance(store, 0.3)
    assert await store.holder("a1") == "call-1"


async def test_only_one_leg_claims_a_caller(store):
    assert await store.claim("call-1", "offer-1", 60)
    assert await store.claim("call-1", "offer-1", 60)  # the same leg asking again
    assert not await store.claim("call-1", "offer-2", 60)


async def test_concurrent_reservations_one_winner(store):
    results = await asyncio.gather(*(store.reserve("a1", f"offer-{i}", f"node-{i % 3}", 30) for i in range(50)))
    assert sum(results) == 1


async def test_two_stores_on_one_redis_share_the_truth():
    prefix = f"acdtest:{uuid.uuid4().hex}"
    node_a, node_b = RedisLiveStore(prefix=prefix), RedisLiveStore(prefix=prefix)
    try:
        outcomes = await asyncio.gather(node_a.reserve("a1", "offer-a", "node-a", 30), node_b.reserve("a1", "offer-b", "node-b", 30))
        assert sorted(outcomes) == [False, True]
        assert await node_a.claim("c1", "offer-a", 60) != await node_b.claim("c1", "offer-b", 60)
    finally:
        keys = [k async for k in node_a.redis.scan_iter(f"{prefix}:*")]
        if keys:
            await node_a.redis.delete(*keys)
        await node_a.close()
        await node_b.close()
