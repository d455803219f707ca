"""A renewal slowed by a busy event loop (a loaded machine, CPU work between two wake-ups) keeps
the lease as long as the lease is still ours when the answer comes; one still unanswered when the
lease would lapse loses it (fail closed). And a stop whose task swallowed its cancellation ends,
bounded, instead of hanging. In virtual time: the renewals' delays are exact."""

from __future__ import annotations

import asyncio
import logging

import pytest

from acd.eventlog import Heartbeat, MemoryLeaderLease
from acd.eventlog.timing import stop_tasks
from acd.vtime import running_virtual_clock

pytestmark = pytest.mark.virtual_time

TTL = 2.0  # the engine's default lease_ttl_s: renewals every 0.667 s


class SlowLease(MemoryLeaderLease):
    """Each renewal's answer takes ``delay_s`` (the event loop or the machine was busy)."""

    def __init__(self, clock, delay_s: float) -> None:
        super().__init__(clock, ttl_s=TTL)
        self.delay_s = delay_s
        self.answered = 0

    async def renew(self, token, ttl_s=None) -> bool:
        await asyncio.sleep(self.delay_s)
        renewed = await super().renew(token, ttl_s)
        self.answered += 1
        return renewed


async def run_heartbeat(delay_s: float, for_s: float) -> tuple[Heartbeat, SlowLease, list[str]]:
    clock = running_virtual_clock()
    lease = SlowLease(clock, delay_s)
    token = await lease.acquire("b")
    lost: list[str] = []
    heartbeat = Heartbeat(lease, token, clock=clock, on_lost=lambda t, reason: lost.append(reason))
    heartbeat.start()
    await asyncio.sleep(for_s)
    return heartbeat, lease, lost


async def test_a_renewal_slower_than_a_third_of_the_ttl_keeps_the_lease():
    # 0.9 s > ttl/3: the old bound (ttl/3) gave the lease up with two thirds of the TTL left
    heartbeat, lease, lost = await run_heartbeat(0.9, 10.0)
    try:
        assert lost == [] and heartbeat.holds_lease()
        assert heartbeat.renewals >= 5 and lease.answered == heartbeat.renewals
    finally:
        await heartbeat.stop(release=False)


async def test_a_renewal_unanswered_when_the_lease_would_lapse_loses_it():
    heartbeat, lease, lost = await run_heartbeat(1.5, 5.0)  # 0.667 s sleep + 1.5 s > the 2 s TTL
    try:
        assert lost == ["redis unavailable (TimeoutError)"]
        assert not heartbeat.holds_lease() and heartbeat.renewals == 0 and lease.answered == 0
    finally:
        await heartbeat.stop(release=False)


async def test_a_stop_ends_when_a_task_swallowed_its_cancellation(caplog):
    never = asyncio.Event()

    async def swallows_cancel() -> None:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            pass  # as redis-py can: the cancel turned into a reply
        await never.wait()

    task = asyncio.create_task(swallows_cancel(), name="swallower")
    quick = asyncio.create_task(asyncio.sleep(3600), name="quick")
    await asyncio.sleep(0)
    task.cancel()
    quick.cancel()
    loop = asyncio.get_running_loop()
    started = loop.time()
    with caplog.at_level(logging.ERROR):
        assert await stop_tasks([task, quick], 5.0, "test") is False
    assert loop.time() - started == pytest.approx(5.0)
    assert quick.cancelled() and not task.done()
    assert [r.acd_fields["tasks"] for r in caplog.records if r.getMessage() == "eventlog.stop.tasks_left"] == [["swallower"]]
    task.uncancel()
    never.set()
    await task
