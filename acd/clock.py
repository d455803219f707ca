"""Injected clocks: the pure core never reads time itself.

``now()`` is wall-clock epoch seconds (for records and schedules); ``monotonic()`` is for
durations and timeouts. ``FakeClock`` lets tests and replays step time by hand.
"""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float: ...

    def monotonic(self) -> float: ...


class SystemClock:
    def now(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()


class ShiftedClock(SystemClock):
    """Real time that started at ``start`` (epoch seconds): ``acd flows run --at`` plays a call at
    a chosen date and hour while timers still run in real time."""

    def __init__(self, start: float) -> None:
        self._offset = start - time.time()

    def now(self) -> float:
        return time.time() + self._offset


class FakeClock:
    """A clock that only moves when told to."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self._now = float(start)
        self._mono = 0.0

    def now(self) -> float:
        return self._now

    def monotonic(self) -> float:
        return self._mono

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("a clock never goes back")
        self._now += seconds
        self._mono += seconds
