"""Redis plumbing shared by the log, the snapshots and the lease: key names, the client, and one
guard that puts a timeout on every call and turns connection failures into ``LogUnavailable``."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import TypeVar

import redis.asyncio as aioredis
from redis import exceptions as rexc
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from acd.eventlog.errors import LogUnavailable, Unavailable
from acd.eventlog.outage import OutageMonitor

T = TypeVar("T")

# A replica promoted or demoted under us answers READONLY / LOADING / MASTERDOWN: as good as down.
UNAVAILABLE_ERRORS: tuple[type[BaseException], ...] = (
    rexc.ConnectionError, rexc.TimeoutError, rexc.ReadOnlyError, rexc.BusyLoadingError, rexc.MasterDownError,
    OSError, TimeoutError,
)


@dataclass(frozen=True, slots=True)
class LogKeys:
    """Every key under one prefix, so the log, the lease and the live state's fenced scripts agree
    on where the lease is."""

    prefix: str

    @property
    def stream(self) -> str:
        return f"{self.prefix}:log"

    @property
    def meta(self) -> str:
        """Hash ``epoch``, ``seq``: the last position written (kept apart from the stream so a trim
        to empty never loses it)."""
        return f"{self.prefix}:log:meta"

    @property
    def lease(self) -> str:
        return f"{self.prefix}:lease"

    @property
    def counter(self) -> str:
        return f"{self.prefix}:lease:counter"

    @property
    def snapshot(self) -> str:
        return f"{self.prefix}:snapshot"

    @property
    def replica_probe(self) -> str:
        """Written to ask again whether the replicas caught up (``RedisEventLog``'s replica wait)."""
        return f"{self.prefix}:log:replica-probe"


def lease_key(prefix: str) -> str:
    """The lease key for a prefix (the live state's fenced scripts read it)."""
    return LogKeys(prefix).lease


def connect(url: str = "redis://127.0.0.1:6379/0", timeout_s: float = 2.0) -> aioredis.Redis:
    """A client that fails fast: no retries inside redis-py (our loops back off), a socket timeout
    on every connect and read."""
    return aioredis.from_url(
        url, decode_responses=False, socket_timeout=timeout_s, socket_connect_timeout=timeout_s, retry=Retry(NoBackoff(), 0),
    )


async def guarded(call: Awaitable[T], op: str, timeout_s: float, monitor: OutageMonitor | None, error: type[Unavailable] = LogUnavailable) -> T:
    """Await one Redis call with a timeout; an unreachable or demoted server is ``error``.
    Anything else (a script error, a wrong type) is a programming error and propagates."""
    try:
        async with asyncio.timeout(timeout_s):  # (wait_for in 3.11 can swallow a cancellation)
            result = await call
    except UNAVAILABLE_ERRORS as exc:
        if monitor is not None:
            monitor.failed(op, exc)
        raise error(op, exc) from exc
    if monitor is not None:
        monitor.succeeded()
    return result
