"""The sign-in guard: KDF work bounded per client address, failures rate-limited (virtual time)."""

from __future__ import annotations

import asyncio
import threading

import pytest

from acd.clock import FakeClock
from acd.http.signin import SignInGuard, TooManySignIns
from tests.conftest import wait_until


async def test_one_address_holds_one_kdf_slot_and_the_others_stay_free():
    guard = SignInGuard(FakeClock(), slots=2, per_address=1, max_waiting=4)
    gate = threading.Event()
    started: list[str] = []

    def slow(who: str):
        def check():
            started.append(who)
            if who == "flood":
                gate.wait(10)
            return who
        return check

    flood = [asyncio.create_task(guard.run_kdf("10.0.0.9", slow("flood")), name=f"flood-{i}") for i in range(4)]
    await wait_until(lambda: started == ["flood"] and guard.waiting("10.0.0.9") == 4, 5)
    with pytest.raises(TooManySignIns) as refused:  # a fifth one from the same address waits for nothing
        await guard.run_kdf("10.0.0.9", slow("flood"))
    assert refused.value.retry_after_s >= 1
    # the flood holds one KDF; another client's sign-in takes the free slot at once, before any more of the flood
    assert await asyncio.wait_for(guard.run_kdf("10.0.0.1", slow("user")), 5) == "user"
    assert started == ["flood", "user"]
    gate.set()
    assert await asyncio.gather(*flood) == ["flood"] * 4
    assert started == ["flood", "user", "flood", "flood", "flood"] and guard.kdf_runs == 5


async def test_failures_lock_the_address_out_until_the_window_passes():
    clock = FakeClock()
    guard = SignInGuard(clock, max_failures=3, window_s=60)
    for _ in range(3):
        guard.refuse_if_limited("10.0.0.9")
        guard.failed("10.0.0.9")
        clock.advance(10)
    with pytest.raises(TooManySignIns) as refused:
        guard.refuse_if_limited("10.0.0.9")
    assert refused.value.retry_after_s == 30  # the first failure leaves the window 60 s after it
    with pytest.raises(TooManySignIns):
        await guard.run_kdf("10.0.0.9", lambda: "never run")
    assert guard.kdf_runs == 0
    guard.refuse_if_limited("10.0.0.1")  # another address is not held back
    clock.advance(30)
    guard.refuse_if_limited("10.0.0.9")  # the oldest failure has left the window


def test_the_address_table_stays_bounded():
    guard = SignInGuard(FakeClock(), max_addresses=100)
    for i in range(1000):
        guard.failed(f"10.1.{i // 256}.{i % 256}")
    assert len(guard._addresses) <= 101
