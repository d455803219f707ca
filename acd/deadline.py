"""``within(awaitable, seconds)``: the engine's one way to bound an outside wait.

It is ``asyncio.wait_for`` without Python 3.11's lost cancellation: there, a task cancelled in
the instant its awaited work finished gets the work's result from ``wait_for`` and no
``CancelledError`` (CPython gh-86296, fixed in 3.12 by rewriting ``wait_for`` on
``asyncio.timeout``). A loop stopped by ``cancel()`` then runs on, and whoever awaits its end
waits for ever: a test's teardown hung on a periodic job that way (``acd-fcr-gauge``, cancelling,
back in its sleep). ``asyncio.timeout`` counts cancellations (``Task.uncancel``), so a cancel is
never taken for the timeout's own and never dropped.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

_T = TypeVar("_T")


async def within(aw: Awaitable[_T], seconds: float | None) -> _T:
    """``await aw``, or ``TimeoutError`` after ``seconds`` (None: no limit), the awaited work
    cancelled and finished first, as ``asyncio.wait_for`` does."""
    async with asyncio.timeout(seconds):
        return await aw
