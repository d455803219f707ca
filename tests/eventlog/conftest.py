"""Every contract test runs twice: in-process (on a FakeClock) and on the real Redis server, each
Redis test under its own key prefix, deleted afterwards."""

from __future__ import annotations

import asyncio
import os
import uuid
from dataclasses import dataclass, field

import pytest
import redis.asyncio as aioredis

from acd.clock import FakeClock
from acd.eventlog import MemoryEventLog, MemoryLeaderLease, MemorySnapshotStore
from acd.eventlog.redis_lease import RedisLeaderLease
from acd.eventlog.redis_log import RedisEventLog, RedisSnapshotStore
from acd.eventlog.redisconn import connect

REDIS_URL = os.environ.get("ACD_TEST_REDIS", "redis://127.0.0.1:6379/0")


@dataclass
class Backend:
    name: str
    log: object
    lease: object
    snapshots: object
    prefix: str = ""
    clock: FakeClock | None = None
    clients: list[aioredis.Redis] = field(default_factory=list)

    async def expire(self, seconds: float) -> None:
        """Let ``seconds`` pass: virtual time in memory, real time on Redis (tests only wait past
        an expiry this way, never race one)."""
        if self.clock is not None:
            self.clock.advance(seconds)
        else:
            await asyncio.sleep(seconds)

    def another_node(self) -> tuple[object, object]:
        """(log, lease) as a second engine node sees them: the same objects in memory, a separate
        connection to the same keys on Redis."""
        if self.clock is not None:
            return self.log, self.lease
        client = connect(REDIS_URL)
        self.clients.append(client)
        return RedisEventLog(client, self.prefix), RedisLeaderLease(client, self.prefix, ttl_s=30)


async def drop_prefix(client: aioredis.Redis, prefix: str) -> None:
    keys = [k async for k in client.scan_iter(f"{prefix}:*")]
    if keys:
        await client.delete(*keys)


@pytest.fixture(params=["memory", "redis"])
async def backend(request):
    if request.param == "memory":
        clock = FakeClock()
        lease = MemoryLeaderLease(clock, ttl_s=30)
        yield Backend("memory", MemoryEventLog(lease), lease, MemorySnapshotStore(), clock=clock)
        return
    prefix = f"acdtest:{uuid.uuid4().hex}"
    client = connect(REDIS_URL)
    await client.ping()  # Redis down: the test fails, it is never skipped
    b = Backend("redis", RedisEventLog(client, prefix), RedisLeaderLease(client, prefix, ttl_s=30), RedisSnapshotStore(client, prefix), prefix=prefix, clients=[client])
    yield b
    await drop_prefix(client, prefix)
    for c in b.clients:
        await c.aclose()


@pytest.fixture
async def redis_prefix():
    """A fresh prefix on the real Redis, and a client to clean it up."""
    prefix = f"acdtest:{uuid.uuid4().hex}"
    client = connect(REDIS_URL)
    await client.ping()
    yield prefix
    await drop_prefix(client, prefix)
    await client.aclose()
