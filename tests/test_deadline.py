"""acd.deadline.within: a bounded wait that never loses a cancellation (Python 3.11's
asyncio.wait_for does when the cancel lands in the instant the awaited work finishes)."""

from __future__ import annotations

import asyncio
import sys

import pytest

from acd.deadline import within


async def _cancel_as_the_work_finishes(bounded) -> asyncio.Task[None]:
    """A loop like the engine's periodic jobs, cancelled in the same loop turn as its awaited
    work completes; returns the task once it has had every chance to end."""
    done = asyncio.Event()

    async def work() -> int:
        await done.wait()
        return 1

    async def job() -> None:
        while True:
            await bounded(work(), 5.0)
            done.clear()
            await asyncio.Event().wait()  # the job's "sleep until the next run": only a cancel ends it

    task = asyncio.create_task(job(), name="test-job")
    await asyncio.sleep(0)  # the job waits in its work
    done.set()  # the work's wake-up is queued ...
    task.cancel()  # ... and the stop's cancel in the same instant
    for _ in range(20):  # loop turns, not time: a cancelled job ends within a few
        if task.done():
            break
        await asyncio.sleep(0)
    return task


async def test_a_cancel_in_the_instant_the_work_finishes_ends_the_loop():
    task = await _cancel_as_the_work_finishes(within)
    assert task.done() and task.cancelled()


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="wait_for keeps the cancel since Python 3.12")
async def test_asyncio_wait_for_loses_that_cancel_on_this_python():
    """Why ``within`` exists: the same loop on ``asyncio.wait_for`` runs on after its stop."""
    task = await _cancel_as_the_work_finishes(asyncio.wait_for)
    try:
        assert not task.done()
    finally:
        task.cancel()  # a second cancel finds it in its wait
        with pytest.raises(asyncio.CancelledError):
            await task


async def test_within_times_out_and_cancels_the_work():
    cancelled = asyncio.Event()

    async def slow() -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise

    with pytest.raises(TimeoutError):
        await within(slow(), 0.01)
    assert cancelled.is_set()  # finished before the TimeoutError came out, as with wait_for
    assert await within(asyncio.sleep(0, result=7), None) == 7
