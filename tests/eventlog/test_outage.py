"""Redis cut between the node and the real server (a TCP proxy the test drops), then restored:
appends and reservations fail with typed errors, the lease is given up (fail closed), the outage
is counted once, and the node takes the lease back by itself when Redis returns."""

from __future__ import annotations

import asyncio

import pytest

from acd.eventlog import Backoff, Follower, LogUnavailable, OutageMonitor, StaleLeader
from acd.eventlog.redis_lease import RedisLeaderLease
from acd.eventlog.redis_log import RedisEventLog
from acd.eventlog.redisconn import connect
from acd.livestate import StoreUnavailable
from acd.livestate.redis import RedisLiveStore
from tests.eventlog.helpers import until
from tests.tcpproxy import TcpProxy


@pytest.fixture
async def proxy():
    p = await TcpProxy("127.0.0.1", 6379).start()
    yield p
    await p.stop()


async def test_outage_fails_closed_then_resumes_by_itself(proxy, redis_prefix):
    downs: list[str] = []
    ups: list[float] = []
    monitor = OutageMonitor(on_down=lambda op, exc: downs.append(op), on_up=ups.append)
    url = f"redis://127.0.0.1:{proxy.port}/0"
    client = connect(url, timeout_s=0.5)
    log = RedisEventLog(client, redis_prefix, timeout_s=0.5, monitor=monitor)
    lease = RedisLeaderLease(client, redis_prefix, ttl_s=1.5, timeout_s=0.5, monitor=monitor)
    store = RedisLiveStore(url, redis_prefix, timeout_s=0.5, monitor=monitor)
    applied: list = []
    lost: list[str] = []
    node = Follower(
        log, lease, "node-1", applied.append, campaign_every_s=0.05, tail_timeout_s=0.2, backoff=Backoff(0.02, 0.2),
        on_lost=lambda token, reason: lost.append(reason),
    )
    node.start()
    try:
        await until(lambda: node.is_leader)
        first = node.token
        await log.fenced_append(first, {"n": 0})
        assert await store.reserve("a1", "offer-1", "node-1", 30, token=first)

        proxy.cut()
        with pytest.raises(LogUnavailable):
            await log.fenced_append(first, {"n": 1})
        with pytest.raises(LogUnavailable):
            await log.append({"n": 1})
        with pytest.raises(StoreUnavailable):
            await store.reserve("a2", "offer-2", "node-1", 30, token=first)
        await until(lambda: not node.is_leader)  # the next renewal fails: leadership is given up
        assert lost and "unavailable" in lost[0]
        assert monitor.down and monitor.outages == 1
        assert len(downs) == 1 and monitor.failures >= 3  # many failed calls, one outage

        proxy.restore()
        await until(lambda: node.is_leader)  # nobody restarted anything
        second = node.token
        assert second.value > first.value
        with pytest.raises(StaleLeader):  # what the node held before the outage is void
            await log.fenced_append(first, {"n": "stale"})
        with pytest.raises(StaleLeader):
            await store.release("a1", "offer-1", token=first)
        pos = await log.fenced_append(second, {"n": 2})
        assert await node.wait_applied(pos, 10)
        assert [e.record["n"] for e in applied] == [0, 2]
        assert await store.release("a1", "offer-1", token=second)
        assert not monitor.down and len(ups) == 1 and monitor.outages == 1
    finally:
        await node.stop()
        await store.close()
        await client.aclose()


async def test_connections_idle_through_an_outage_do_not_count_a_second_one(proxy, redis_prefix):
    """Several connections pooled, idle when Redis is cut: the outage's first failure closes
    them, so after the restore none fails on its first use (each used to count an outage)."""
    monitor = OutageMonitor()
    client = connect(f"redis://127.0.0.1:{proxy.port}/0", timeout_s=0.5)
    log = RedisEventLog(client, redis_prefix, timeout_s=0.5, monitor=monitor)
    try:
        await asyncio.gather(*(log.last_position() for _ in range(4)))  # four connections, then idle
        assert len(client.connection_pool._available_connections) == 4
        proxy.cut()
        with pytest.raises(LogUnavailable):
            await log.last_position()
        await monitor.pools_reset()
        proxy.restore()
        await asyncio.gather(*(log.last_position() for _ in range(4)))  # the same four at once
        assert monitor.outages == 1 and not monitor.down and monitor.pool_resets == 1
    finally:
        await client.aclose()
