"""Simulated time for the PBX: a view of the engine's clock, ``time_scale`` times slower.

The PBX reads ``monotonic`` (the engine clock's, so ``acd.vtime.VirtualClock`` on a virtual-time
loop, ``time.monotonic`` otherwise) and sleeps with ``asyncio.sleep``, which runs on the same
loop's time. ``time_scale=0.1`` plays a 2 s prompt in 0.2 s of loop time. The scale may change
while the PBX runs (a test can slow everything down); ``now()`` stays continuous across the change.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable


class SimTime:
    def __init__(self, scale: float = 1.0, monotonic: Callable[[], float] = time.monotonic) -> None:
        if scale <= 0:
            raise ValueError("time_scale must be > 0")
        self._monotonic = monotonic
        self._scale = scale
        self._real0 = monotonic()
        self._sim0 = 0.0

    @property
    def scale(self) -> float:
        return self._scale

    @scale.setter
    def scale(self, value: float) -> None:
        if value <= 0:
            raise ValueError("time_scale must be > 0")
        self._sim0 = self.now()
        self._real0 = self._monotonic()
        self._scale = value

    def now(self) -> float:
        """Simulated seconds since the PBX was created."""
        return self._sim0 + (self._monotonic() - self._real0) / self._scale

    def real(self, sim_seconds: float) -> float:
        """Loop seconds for ``sim_seconds`` of simulated time."""
        return max(0.0, sim_seconds) * self._scale

    async def sleep(self, sim_seconds: float) -> None:
        await asyncio.sleep(self.real(sim_seconds))
