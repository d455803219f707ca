"""The core's timers on the engine's clock: ``StartTimer(id, at)`` becomes a loop callback that
submits ``TimerFired(id)`` when the clock reaches ``at``; ``CancelTimer`` drops it.

The callback runs on the running loop, whose time is the clock's: the wall clock on an ordinary
loop (``SystemClock``), virtual time on ``acd.vtime.VirtualTimeLoop`` (``VirtualClock``), where
the loop jumps to the timer when nothing else is left to do, so it fires at ``at`` exactly.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from acd.clock import Clock


class TimerWheel:
    def __init__(self, clock: Clock, fire: Callable[[str], None]) -> None:
        self.clock = clock
        self._fire = fire
        self._handles: dict[str, asyncio.TimerHandle] = {}

    def start(self, timer_id: str, at: float) -> None:
        self.cancel(timer_id)
        delay = max(0.0, at - self.clock.now())
        self._handles[timer_id] = asyncio.get_running_loop().call_later(delay, self._fired, timer_id)

    def cancel(self, timer_id: str) -> None:
        handle = self._handles.pop(timer_id, None)
        if handle is not None:
            handle.cancel()

    def cancel_all(self) -> None:
        for handle in self._handles.values():
            handle.cancel()
        self._handles.clear()

    def _fired(self, timer_id: str) -> None:
        if self._handles.pop(timer_id, None) is not None:
            self._fire(timer_id)

    def __len__(self) -> int:
        return len(self._handles)
