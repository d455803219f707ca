"""Waiting, injectable: the heartbeat, the campaign and the reconnect backoff sleep through a
``Sleeper``, so tests drive them in virtual time on a ``FakeClock`` (no wall-clock races)."""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
from collections.abc import Iterable
from typing import Any, Protocol

from acd.clock import FakeClock
from acd.eventlog.logfields import log_event

log = logging.getLogger(__name__)

STOP_TIMEOUT_S = 5.0  # how long a stop waits for its cancelled tasks to end


def raise_if_cancelled() -> None:
    """Re-raise a cancellation that a library swallowed. redis-py (8.1, Python 3.11) turns a
    cancel that lands during a blocking read into an empty reply; the task's ``cancelling()``
    count still says it was asked to stop. Loops call this after each such await."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError()


async def stop_tasks(tasks: Iterable[asyncio.Task[Any]], timeout_s: float, owner: str) -> bool:
    """Wait (bounded) for cancelled ``tasks`` to end, so a stop never hangs on a task whose
    cancellation a library swallowed: the ones still running after ``timeout_s`` are named in
    ``eventlog.stop.tasks_left`` and left behind. True if every task ended."""
    pending = [t for t in tasks if not t.done()]
    if not pending:
        return True
    done, left = await asyncio.wait(pending, timeout=timeout_s)
    for task in done:  # retrieved, as gather(return_exceptions=True) did: a stop reports no task's error
        if not task.cancelled():
            task.exception()
    if left:
        log_event(log, logging.ERROR, "eventlog.stop.tasks_left", owner=owner, tasks=sorted(t.get_name() for t in left))
    return not left


class Sleeper(Protocol):
    async def sleep(self, seconds: float) -> None: ...


class RealSleeper:
    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


class VirtualSleeper:
    """Sleeps that end only when the test advances the clock. ``advance`` steps from one wake-up
    to the next, letting the woken tasks run (they only touch in-process objects) before moving on."""

    def __init__(self, clock: FakeClock, settle_rounds: int = 50) -> None:
        self.clock = clock
        self.settle_rounds = settle_rounds
        self._order = itertools.count()
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []

    async def sleep(self, seconds: float) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self.clock.monotonic() + max(0.0, seconds), next(self._order), future))
        await future

    async def settle(self) -> None:
        for _ in range(self.settle_rounds):
            await asyncio.sleep(0)

    async def advance(self, seconds: float) -> None:
        target = self.clock.monotonic() + seconds
        await self.settle()
        while self._sleepers and self._sleepers[0][0] <= target:
            wake_at, _, future = heapq.heappop(self._sleepers)
            self.clock.advance(max(0.0, wake_at - self.clock.monotonic()))
            if not future.done():
                future.set_result(None)
            await self.settle()
        self.clock.advance(max(0.0, target - self.clock.monotonic()))
        await self.settle()


class Backoff:
    """Reconnect delays: ``first_s``, doubling, at most ``max_s``; ``reset`` after a success."""

    def __init__(self, first_s: float = 0.05, max_s: float = 2.0) -> None:
        self.first_s = first_s
        self.max_s = max_s
        self._next = first_s

    def next_delay(self) -> float:
        delay = self._next
        self._next = min(self.max_s, self._next * 2)
        return delay

    def reset(self) -> None:
        self._next = self.first_s
