"""Waiting on a condition with a generous bound: never a fixed sleep that races the code."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable


async def until(condition: Callable[[], bool], bound_s: float = 15.0, step_s: float = 0.02) -> None:
    deadline = time.monotonic() + bound_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(step_s)
