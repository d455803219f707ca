"""``live_state.wait_replicas`` on a real Redis master with a real replica (``bench.redispair``: two
redis-server processes of the test's own, so the shared test server is never made a master).
An append returns once the replica holds it; with the replica stopped (SIGSTOP) the append waits,
counted and reported, and returns when it resumes; a cancel (the lease lost) ends the wait; a
leader refused by the lease does not wait at all."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from acd.eventlog.errors import StaleLeader
from acd.eventlog.redis_lease import RedisLeaderLease
from acd.eventlog.redis_log import RedisEventLog
from bench.redispair import MasterAndReplica
from tests.conftest import wait_until


@pytest.fixture
async def servers():
    async with MasterAndReplica() as pair:
        yield pair


async def test_an_append_returns_once_the_replica_holds_it_and_waits_while_it_lags(servers):
    prefix = f"t-{uuid.uuid4().hex[:8]}"
    reported: list[bool] = []
    log = RedisEventLog(servers.master, prefix, wait_replicas=1, wait_ms=20, on_replicas_behind=reported.append)
    token = await RedisLeaderLease(servers.master, prefix, ttl_s=30).acquire("node-a")
    first = await log.fenced_append(token, {"n": 1})
    assert await servers.replica.xrange(log.keys.stream) != []  # returned, so the replica holds it
    assert log.replica_shortfalls == 0 and reported == []

    servers.pause_replica()
    append = asyncio.create_task(log.fenced_append(token, {"n": 2}))
    await wait_until(lambda: log.replica_shortfalls == 1)  # the append found the replica behind
    for _ in range(10):  # the replica cannot answer while stopped: the append must still be waiting
        await asyncio.sleep(0.02)
        assert not append.done()
    assert reported == [True]
    servers.resume_replica()
    second = await asyncio.wait_for(append, 10)
    assert (second.epoch, second.seq) == (first.epoch, first.seq + 1) and reported == [True, False]
    rows = await servers.replica.xrange(log.keys.stream)
    assert [r[0].decode() for r in rows] == [str(first), str(second)]


async def test_a_cancel_ends_the_wait_and_a_refused_leader_never_waits(servers):
    prefix = f"t-{uuid.uuid4().hex[:8]}"
    reported: list[bool] = []
    log = RedisEventLog(servers.master, prefix, wait_replicas=1, wait_ms=20, on_replicas_behind=reported.append)
    lease = RedisLeaderLease(servers.master, prefix, ttl_s=30)
    old = await lease.acquire("node-a")
    await log.fenced_append(old, {"n": 1})
    servers.pause_replica()
    append = asyncio.create_task(log.fenced_append(old, {"n": 2}))
    await wait_until(lambda: reported == [True])  # the append waits for the replica
    append.cancel()  # what the pipeline's task gets when the node stops leading
    with pytest.raises(asyncio.CancelledError):
        await append
    assert reported == [True, False]  # the gauge is back to 0
    assert await lease.release(old)
    new = await lease.acquire("node-b")
    assert new is not None and new.value > old.value
    with pytest.raises(StaleLeader):  # refused by the script: nothing written, nothing to wait for
        await asyncio.wait_for(log.fenced_append(old, {"n": 3}), 5)
    assert log.replica_shortfalls == 1
