"""One contract for both logs: order, positions, tail, trim, and the fenced append."""

from __future__ import annotations

import asyncio

import pytest

from acd.eventlog import LogPosition, StaleLeader
from acd.eventlog.redisconn import LogKeys


async def test_append_then_read_in_order(backend):
    log = backend.log
    assert await log.last_position() is None
    assert await log.read() == []
    records = [{"kind": "call_queued", "data": {"n": i, "name": "Zoë"}} for i in range(5)] + [b"\x00raw\xff"]
    positions = [await log.append(r) for r in records]
    assert positions == sorted(positions) and len(set(positions)) == 6
    assert positions[0] == LogPosition(0, 1)
    entries = await log.read()
    assert [e.record for e in entries] == records
    assert [e.position for e in entries] == positions
    assert await log.last_position() == positions[-1]


async def test_read_after_a_position_with_a_limit(backend):
    log = backend.log
    positions = [await log.append({"n": i}) for i in range(10)]
    page = await log.read(positions[2], limit=3)
    assert [e.record["n"] for e in page] == [3, 4, 5]
    assert await log.read(positions[-1]) == []


async def test_a_reader_gets_a_copy_not_the_writers_dict(backend):
    record = {"agents": ["a1"]}
    await backend.log.append(record)
    record["agents"].append("a2")
    (entry,) = await backend.log.read()
    assert entry.record == {"agents": ["a1"]}


async def test_tail_returns_at_once_when_entries_wait(backend):
    pos = await backend.log.append({"n": 1})
    assert [e.position for e in await backend.log.tail(None, timeout_s=30)] == [pos]


async def test_tail_wakes_on_an_append_from_another_node(backend):
    other_log, _ = backend.another_node()
    first = await backend.log.append({"n": 0})
    waiting = asyncio.create_task(backend.log.tail(first, timeout_s=30), name="test-tail")
    await asyncio.sleep(0.05)  # the tail is (most likely) blocked; either way it must see the entry
    pos = await other_log.append({"n": 1})
    entries = await asyncio.wait_for(waiting, 10)
    assert [(e.position, e.record) for e in entries] == [(pos, {"n": 1})]


async def test_tail_times_out_empty(backend):
    last = await backend.log.append({"n": 0})
    assert await backend.log.tail(last, timeout_s=0.05) == []


async def test_fenced_append_opens_an_epoch_and_appends_continue_it(backend):
    log, lease = backend.log, backend.lease
    await log.append({"n": 0})
    token = await lease.acquire("node-a")
    first = await log.fenced_append(token, {"n": 1})
    assert first == LogPosition(token.value, 1)
    assert await log.fenced_append(token, {"n": 2}) == LogPosition(token.value, 2)
    assert await log.append({"n": 3}) == LogPosition(token.value, 3)  # an input event from any node


async def test_a_stale_token_is_refused_and_writes_nothing(backend):
    log, lease = backend.log, backend.lease
    old = await lease.acquire("node-a")
    await log.fenced_append(old, {"by": "a"})
    assert await lease.release(old)
    new = await lease.acquire("node-b")
    assert new.value > old.value
    before = await log.last_position()
    with pytest.raises(StaleLeader) as refused:
        await log.fenced_append(old, {"by": "a, woken up"})
    assert refused.value.epoch == old.value
    assert await log.last_position() == before
    assert await log.fenced_append(new, {"by": "b"}) == LogPosition(new.value, 1)
    assert [e.record["by"] for e in await log.read()] == ["a", "b"]


async def test_an_expired_lease_refuses_its_token(backend):
    lease = backend.lease
    token = await lease.acquire("node-a", ttl_s=0.2)
    await backend.expire(0.5)
    with pytest.raises(StaleLeader):
        await backend.log.fenced_append(token, {"n": 1})
    assert await backend.log.read() == []


async def test_concurrent_appends_get_distinct_contiguous_positions(backend):
    other_log, _ = backend.another_node()
    positions = await asyncio.gather(*(
        (backend.log if i % 2 else other_log).append({"n": i}) for i in range(100)
    ))
    assert sorted(p.seq for p in positions) == list(range(1, 101))
    assert len({e.record["n"] for e in await backend.log.read(limit=1000)}) == 100


async def test_trim_keeps_the_given_position_and_the_counter(backend):
    log = backend.log
    positions = [await log.append({"n": i}) for i in range(10)]
    assert await log.trim(positions[6]) == 6
    assert [e.record["n"] for e in await log.read()] == [6, 7, 8, 9]
    await log.trim(LogPosition(positions[-1].epoch, positions[-1].seq + 1))
    assert await log.read() == []
    assert await log.last_position() == positions[-1]  # trimmed empty, the order goes on
    assert await log.append({"n": 10}) == LogPosition(0, 11)


async def test_the_redis_log_is_one_log_for_every_node(redis_prefix):
    from acd.eventlog.redis_log import RedisEventLog
    from acd.eventlog.redisconn import connect

    a, b = RedisEventLog(connect(), redis_prefix), RedisEventLog(connect(), redis_prefix)
    try:
        await a.append({"from": "a"})
        await b.append({"from": "b"})
        assert [e.record for e in await b.read()] == [{"from": "a"}, {"from": "b"}]
        assert await a.last_position() == await b.last_position() == LogPosition(0, 2)
        # the stream ids are the positions: any Redis tool reads the log in the same order
        ids = [entry_id for entry_id, _ in await a.redis.xrange(LogKeys(redis_prefix).stream)]
        assert ids == [b"0-1", b"0-2"]
    finally:
        await a.close()
        await b.close()


async def test_append_many_is_one_ordered_write(backend):
    log, lease = backend.log, backend.lease
    assert await log.append_many([]) == []
    first = await log.append_many([{"n": 0}, b"one", {"n": 2}])
    assert first == [LogPosition(0, 1), LogPosition(0, 2), LogPosition(0, 3)]
    token = await lease.acquire("node-a")
    batch = await log.fenced_append_many(token, [{"n": i} for i in range(3, 103)])
    assert batch[0] == LogPosition(token.value, 1) and batch[-1] == LogPosition(token.value, 100)
    assert [e.record for e in await log.read(limit=10_000)] == [{"n": 0}, b"one", {"n": 2}] + [{"n": i} for i in range(3, 103)]


async def test_a_stale_batch_writes_none_of_its_records(backend):
    log, lease = backend.log, backend.lease
    old = await lease.acquire("node-a")
    await lease.acquire("node-a")  # re-acquired: ``old`` is stale
    with pytest.raises(StaleLeader):
        await log.fenced_append_many(old, [{"n": i} for i in range(10)])
    assert await log.read() == [] and await log.last_position() is None


async def test_follow_yields_every_entry_in_order_as_it_arrives(backend):
    from acd.eventlog import follow

    other_log, _ = backend.another_node()
    await backend.log.append({"n": 0})
    seen = []

    async def consume():
        async for entry in follow(backend.log, poll_timeout_s=0.2):
            seen.append(entry.record["n"])
            if len(seen) == 5:
                return

    task = asyncio.create_task(consume(), name="test-follow")
    for i in range(1, 5):
        await other_log.append({"n": i})
    await asyncio.wait_for(task, 10)
    assert seen == [0, 1, 2, 3, 4]
