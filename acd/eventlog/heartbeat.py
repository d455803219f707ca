"""Keeping the lease: renew every ttl/3, counted from each renewal's start, each renewal bounded
by the time the lease is still ours (a renewal slowed by a busy event loop or a loaded machine
may take up to that long, not just ttl/3); the first renewal that is refused, cannot reach Redis
or is still unanswered when the lease would lapse ends leadership (fail closed) and says so
through ``lost`` and the ``on_lost`` callback."""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Callable

from acd.clock import Clock, SystemClock
from acd.eventlog.base import LeaderLease
from acd.eventlog.errors import Unavailable
from acd.eventlog.timing import STOP_TIMEOUT_S, RealSleeper, Sleeper, raise_if_cancelled, stop_tasks
from acd.eventlog.types import FencingToken
from acd.eventlog.logfields import log_event

log = logging.getLogger(__name__)


class Heartbeat:
    def __init__(
        self, lease: LeaderLease, token: FencingToken, ttl_s: float | None = None, *, sleeper: Sleeper | None = None,
        clock: Clock | None = None, on_lost: Callable[[FencingToken, str], None] | None = None,
    ) -> None:
        self.lease = lease
        self.token = token
        self.ttl_s = lease.ttl_s if ttl_s is None else ttl_s
        self.interval_s = self.ttl_s / 3
        self.sleeper = sleeper or RealSleeper()
        self.clock = clock or SystemClock()
        self.on_lost = on_lost
        self.lost = asyncio.Event()
        self.reason: str | None = None
        self.renewals = 0
        # The lease is ours until at least this monotonic time, counted from *before* the last
        # renewal was sent (its round trip only shortens what we may claim).
        self._valid_until = self.clock.monotonic() + self.ttl_s
        self._task: asyncio.Task[None] | None = None

    def start(self) -> asyncio.Task[None]:
        if self._task is not None:
            raise RuntimeError("the heartbeat is already running")
        self._task = asyncio.create_task(self._run(), name=f"lease-heartbeat-{self.token.node_id}-{self.token.value}")
        return self._task

    @property
    def valid_until(self) -> float:
        """The monotonic time (on ``clock``) until which the lease is ours at the least."""
        return self._valid_until

    def holds_lease(self) -> bool:
        """A local, Redis-free answer for the hot path: False once lost or once the TTL passed
        since the last successful renewal began (a paused process wakes up not leader)."""
        return not self.lost.is_set() and self.clock.monotonic() < self._valid_until

    def _lose(self, reason: str) -> None:
        if self.lost.is_set():
            return
        self.reason = reason
        self.lost.set()
        log_event(log, logging.WARNING, "eventlog.lease.lost", node=self.token.node_id, epoch=self.token.value, reason=reason)
        if self.on_lost is not None:
            self.on_lost(self.token, reason)

    async def _run(self) -> None:
        if not math.isfinite(self.ttl_s):  # the single-node lease never expires: nothing to renew
            await self.lost.wait()
            return
        next_at = self.clock.monotonic() + self.interval_s
        while True:
            # every ttl/3 from the last renewal's *start*: a slow answer does not push the next
            # renewal later and later until one is left too little time to come back
            await self.sleeper.sleep(max(0.0, next_at - self.clock.monotonic()))
            if self.clock.monotonic() >= self._valid_until:
                self._lose("expired before it could be renewed")  # e.g. the process was paused
                return
            sent_at = self.clock.monotonic()
            next_at = sent_at + self.interval_s
            try:
                async with asyncio.timeout(self._valid_until - sent_at):  # past it we hold nothing anyway
                    renewed = await self.lease.renew(self.token, self.ttl_s)
            except (Unavailable, TimeoutError) as exc:
                raise_if_cancelled()
                self._lose(f"redis unavailable ({type(exc).__name__})")
                return
            raise_if_cancelled()
            if not renewed:
                self._lose("taken by another node")
                return
            self.renewals += 1
            self._valid_until = sent_at + self.ttl_s

    async def stop(self, release: bool = True) -> None:
        """Stop renewing; with ``release`` give the lease up at once (a clean shutdown), so a
        follower need not wait for the TTL."""
        if self._task is not None:
            self._task.cancel()
            await stop_tasks([self._task], STOP_TIMEOUT_S, f"lease-heartbeat-{self.token.node_id}")
            self._task = None
        was_ours = not self.lost.is_set()
        self._lose("stopped")
        if release and was_ours:
            try:
                async with asyncio.timeout(self.interval_s):
                    await self.lease.release(self.token)
            except (Unavailable, TimeoutError):
                log_event(log, logging.WARNING, "eventlog.lease.release_failed", node=self.token.node_id, epoch=self.token.value)
