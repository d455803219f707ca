"""Counting Redis outages: one outage is from the first failed call to the next one that works.
The lead hooks a metric and an alert on the callbacks; the log line is written here."""

from __future__ import annotations

import logging
from collections.abc import Callable

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
        self._down_since: float | None = None

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
