"""Counting Redis outages: one outage is from the first failed call to the next one that works.
The lead hooks a metric and an alert on the callbacks; the log line is written here.

At an outage's first failure the idle connections pooled by the clients the monitor watches are
closed: a connection the outage broke while nobody used it would otherwise fail on its first use
after Redis is back, and count a second outage (redis-py does not notice a reset socket before
it writes). A connection in use fails by itself and redis-py closes it. Each client reconnects
on its next call."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from acd.clock import Clock, SystemClock
from acd.eventlog.logfields import log_event

log = logging.getLogger(__name__)

OnDown = Callable[[str, BaseException], None]
OnUp = Callable[[float], None]


class OutageMonitor:
    """Shared by every Redis object of a node (log, lease, snapshots, live state), so one outage is
    counted once however many calls fail during it."""

    def __init__(self, on_down: OnDown | None = None, on_up: OnUp | None = None, clock: Clock | None = None) -> None:
        self.on_down = on_down
        self.on_up = on_up
        self.clock = clock or SystemClock()
        self.outages = 0
        self.failures = 0
        self.pool_resets = 0
        self._down_since: float | None = None
        self._clients: list[Any] = []  # redis.asyncio.Redis: their pools are reset when an outage starts
        self._resetting: asyncio.Task[None] | None = None

    def watch(self, client: Any) -> None:
        """Close ``client``'s idle pooled connections when an outage starts (once per client)."""
        if all(c is not client for c in self._clients):
            self._clients.append(client)

    @property
    def down(self) -> bool:
        return self._down_since is not None

    def failed(self, op: str, exc: BaseException) -> None:
        self.failures += 1
        if self._down_since is not None:
            return
        self._down_since = self.clock.monotonic()
        self.outages += 1
        log_event(log, logging.WARNING, "eventlog.redis.down", op=op, error=type(exc).__name__, outages=self.outages)
        self._reset_pools()
        if self.on_down is not None:
            self.on_down(op, exc)

    def succeeded(self) -> None:
        if self._down_since is None:
            return
        lasted = self.clock.monotonic() - self._down_since
        self._down_since = None
        log_event(log, logging.WARNING, "eventlog.redis.up", after_s=round(lasted, 3), failed_calls=self.failures)
        if self.on_up is not None:
            self.on_up(lasted)

    async def pools_reset(self) -> None:
        """Wait for the pool reset in flight, if any (a clean stop, tests)."""
        if self._resetting is not None:
            await asyncio.gather(self._resetting, return_exceptions=True)

    def _reset_pools(self) -> None:
        if not self._clients or (self._resetting is not None and not self._resetting.done()):
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop (a synchronous caller): nothing is pooled then
            return
        self._resetting = loop.create_task(self._disconnect_all(), name="eventlog-redis-pool-reset")

    async def _disconnect_all(self) -> None:
        """The idle connections (one in use is another task's, and fails by itself)."""
        async def one(client: Any) -> None:
            await client.connection_pool.disconnect(inuse_connections=False)

        try:
            async with asyncio.timeout(2.0):
                results = await asyncio.gather(*(one(c) for c in self._clients), return_exceptions=True)
        except TimeoutError:
            results = [TimeoutError()]
        self.pool_resets += 1
        failed = [type(r).__name__ for r in results if isinstance(r, BaseException)]
        if failed:  # a socket that would not close cleanly is closed anyway: redis-py drops it
            log_event(log, logging.INFO, "eventlog.redis.pool_reset_errors", errors=",".join(failed))
