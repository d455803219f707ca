"""The event log: append-to-applied latency with a follower tailing, events/s sustained, and the
takeover time after the leader dies, in-process and on the real Redis server."""

from __future__ import annotations

import asyncio
import time
import uuid

from acd.eventlog import Entry, EventLog, FencingToken, Follower, LeaderLease, LogPosition, MemoryEventLog, MemoryLeaderLease
from acd.eventlog.redis_lease import RedisLeaderLease
from acd.eventlog.redis_log import RedisEventLog
from acd.eventlog.redisconn import connect
from bench.common import Row, percentile
from bench.redispair import MasterAndReplica

REDIS_URL = "redis://127.0.0.1:6379/0"
BATCH = 100  # events per fenced_append_many in the batched figure


def event(i: int) -> dict[str, object]:
    """About the size of a typed event's record (kind, call, time, a few fields)."""
    return {"kind": "offer_answered", "call_id": f"1795355634.{i}", "at": 1_800_000_000.0 + i,
            "data": {"agent": f"a{i % 500}", "offer": f"offer-{i}", "queue": "support", "ring_s": 4.2}}


class Applied:
    """The follower's callback: when each position was applied, and a future for the one awaited."""

    def __init__(self) -> None:
        self.at: dict[LogPosition, float] = {}
        self.waiting: dict[LogPosition, asyncio.Future[float]] = {}

    def __call__(self, entry: Entry) -> None:
        now = time.perf_counter()
        self.at[entry.position] = now
        future = self.waiting.pop(entry.position, None)
        if future is not None and not future.done():
            future.set_result(now)

    async def when(self, pos: LogPosition, timeout_s: float = 10.0) -> float:
        if pos in self.at:
            return self.at[pos]
        future: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self.waiting[pos] = future
        async with asyncio.timeout(timeout_s):
            return await future


async def measure_log(leader_log: EventLog, leader_lease: LeaderLease, follower_log: EventLog, follower_lease: LeaderLease,
                      n_latency: int, n_sustained: int) -> tuple[list[float], float, float]:
    """The leader appends (fenced) one event at a time, as the router will; a second node tails."""
    token = await leader_lease.acquire("bench-leader", ttl_s=3600)
    assert isinstance(token, FencingToken)
    applied = Applied()
    follower = Follower(follower_log, follower_lease, "bench-follower", applied, campaign=False)
    follower.start()
    try:
        latencies = []
        for i in range(n_latency):
            t0 = time.perf_counter()
            pos = await leader_log.fenced_append(token, event(i))
            latencies.append(await applied.when(pos) - t0)
        t0 = time.perf_counter()
        for i in range(n_sustained):
            pos = await leader_log.fenced_append(token, event(i))
        await applied.when(pos, 60)
        rate = n_sustained / (time.perf_counter() - t0)
        t0 = time.perf_counter()
        for j in range(0, n_sustained, BATCH):
            positions = await leader_log.fenced_append_many(token, [event(i) for i in range(j, j + BATCH)])
        await applied.when(positions[-1], 60)
        batched = n_sustained / (time.perf_counter() - t0)
    finally:
        await follower.stop()
    return latencies, rate, batched


async def measure_memory(n_latency: int, n_sustained: int) -> tuple[list[float], float, float]:
    lease = MemoryLeaderLease.single_node()
    log = MemoryEventLog(lease)
    return await measure_log(log, lease, log, lease, n_latency, n_sustained)


async def measure_redis(n_latency: int, n_sustained: int, url: str = REDIS_URL, wait_replicas: int = 0) -> tuple[list[float], float, float]:
    prefix = f"acdbench:{uuid.uuid4().hex}"
    leader_client, follower_client = connect(url), connect(url)
    try:
        return await measure_log(
            RedisEventLog(leader_client, prefix, wait_replicas=wait_replicas), RedisLeaderLease(leader_client, prefix),
            RedisEventLog(follower_client, prefix), RedisLeaderLease(follower_client, prefix), n_latency, n_sustained,
        )
    finally:
        keys = [k async for k in leader_client.scan_iter(f"{prefix}:*")]
        if keys:
            await leader_client.delete(*keys)
        await leader_client.aclose()
        await follower_client.aclose()


async def measure_takeover(ttl_s: float) -> tuple[float, float]:
    """(kill to new leader, lease lapse to new leader) in seconds: the leader stops renewing
    without releasing (as SIGKILL), a follower campaigning at its default pace (ttl/4) takes over."""
    prefix = f"acdbench:{uuid.uuid4().hex}"
    clients = [connect(REDIS_URL), connect(REDIS_URL)]
    nodes = [
        Follower(RedisEventLog(c, prefix), RedisLeaderLease(c, prefix, ttl_s=ttl_s), f"node-{i}", lambda entry: None)
        for i, c in enumerate(clients)
    ]
    try:
        nodes[0].start()
        await asyncio.wait_for(nodes[0].leader.wait(), 10)
        nodes[1].start()
        await asyncio.sleep(ttl_s * 0.5)  # somewhere between two renewals
        old = nodes[0]
        assert old.heartbeat is not None
        killed = time.monotonic()
        await old.stop(release=False)
        lapsed = old.heartbeat.valid_until  # when the dead node's lease ran out, on this clock
        await asyncio.wait_for(nodes[1].leader.wait(), 30)
        elected = time.monotonic()
        return elected - killed, elected - lapsed
    finally:
        for n in nodes:
            await n.stop()
        keys = [k async for k in clients[0].scan_iter(f"{prefix}:*")]
        if keys:
            await clients[0].delete(*keys)
        for c in clients:
            await c.aclose()


async def redis_ping_us(n: int) -> float:
    """The bare round trip of one redis-py command on this machine now: the floor under every
    Redis figure (it moves a lot on a shared VM)."""
    client = connect(REDIS_URL)
    try:
        await client.ping()
        t0 = time.perf_counter()
        for _ in range(n):
            await client.ping()
        return (time.perf_counter() - t0) / n * 1e6
    finally:
        await client.aclose()


def latency_row(where: str, latencies: list[float], rate: float, batched: float, **more: float) -> Row:
    return Row("eventlog", f"append to applied on a tailing follower, {where}", {
        "p50 ms": percentile(latencies, 50) * 1000, "p99 ms": percentile(latencies, 99) * 1000,
        "events/s one by one": rate, f"events/s in batches of {BATCH}": batched, **more,
    })


async def run_all(smoke: bool) -> list[Row]:
    n_latency, n_sustained = (200, 500) if smoke else (2_000, 10_000)
    rows = [latency_row("in-process", *await measure_memory(n_latency, n_sustained))]
    ping_us = await redis_ping_us(n_latency)
    rows.append(latency_row("through Redis", *await measure_redis(n_latency, n_sustained), **{"redis-py PING us": ping_us}))
    async with MasterAndReplica() as pair:  # live_state.wait_replicas: 1, a replica on this machine
        rows.append(latency_row("through Redis, each append WAITing for 1 replica (master and replica on this machine)",
                                *await measure_redis(n_latency, n_sustained, pair.master_url, wait_replicas=1)))
    ttl_s, trials = (0.5, 1) if smoke else (2.0, 3)
    results = [await measure_takeover(ttl_s) for _ in range(trials)]
    worst = max(k for k, _ in results)
    rows.append(Row("eventlog", f"takeover after the leader dies, lease TTL {ttl_s:g} s, real Redis, {trials} runs", {
        "kill to leader s (worst)": worst, "lapse to leader ms (worst)": max(lapse for _, lapse in results) * 1000,
    }, "<= 3 s", None if smoke else worst <= 3.0))
    return rows


def run(smoke: bool) -> list[Row]:
    return asyncio.run(run_all(smoke))
