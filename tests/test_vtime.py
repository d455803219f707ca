"""The virtual-time loop: idle time is skipped; threads, loopback sockets and other processes
(real SQLite, real Redis) take no virtual time and are never cut short by a jump."""

from __future__ import annotations

import asyncio
import socket
import threading
import time

import aiosqlite
import pytest
import redis.asyncio as aioredis

from acd.service.timers import TimerWheel
from acd.sim.timebase import SimTime
from acd.vtime import VirtualTimeLoop, running_virtual_clock

pytestmark = pytest.mark.virtual_time


async def test_ten_idle_minutes_take_no_wall_time():
    loop = asyncio.get_running_loop()
    assert isinstance(loop, VirtualTimeLoop)
    t0, wall0 = loop.time(), time.monotonic()
    await asyncio.sleep(600)
    assert loop.time() - t0 == pytest.approx(600, abs=1e-6)
    assert time.monotonic() - wall0 < 1.0


async def test_timers_fire_in_order_at_their_virtual_times():
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    fired: list[tuple[str, float]] = []
    for name, delay in (("c", 30.0), ("a", 0.5), ("b", 20.0)):
        loop.call_later(delay, lambda n=name: fired.append((n, loop.time() - t0)))
    await asyncio.sleep(31)
    assert [n for n, _ in fired] == ["a", "b", "c"]
    assert [round(t, 6) for _, t in fired] == [0.5, 20.0, 30.0]


async def test_the_clock_is_the_loops_time():
    clock = running_virtual_clock()
    assert clock is not None
    now, mono = clock.now(), clock.monotonic()
    await asyncio.sleep(42)
    assert clock.now() - now == pytest.approx(42) and clock.monotonic() - mono == pytest.approx(42)
    sim = SimTime(0.5, clock.monotonic)  # the PBX's time is a view of the same clock
    start = sim.now()
    await sim.sleep(10)  # 10 simulated seconds at scale 0.5: 5 s of loop time
    assert sim.now() - start == pytest.approx(10) and clock.monotonic() - mono == pytest.approx(47)


async def test_a_thread_takes_no_virtual_time_and_a_timeout_around_it_does_not_fire():
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    async with asyncio.timeout(0.05):  # the thread needs 0.2 s of real time
        await asyncio.to_thread(time.sleep, 0.2)
    assert loop.time() == t0


async def test_sqlite_in_its_worker_thread_is_waited_for(tmp_path):
    loop = asyncio.get_running_loop()
    async with aiosqlite.connect(tmp_path / "slow.sqlite3") as db:
        await db.create_function("slow", 0, lambda: time.sleep(0.2) or 1)
        t0 = loop.time()
        async with asyncio.timeout(0.01):
            async with db.execute("SELECT slow()") as cursor:
                assert await cursor.fetchone() == (1,)
        assert loop.time() == t0


async def test_a_loopback_conversation_in_this_process_is_never_cut_short():
    async def echo(reader, writer):
        while data := await reader.readline():
            await asyncio.sleep(5)  # the server thinks for 5 virtual seconds
            writer.write(data)
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(echo, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    for i in range(20):
        writer.write(f"line {i}\n".encode())
        async with asyncio.timeout(6):
            assert await reader.readline() == f"line {i}\n".encode()
    assert loop.time() - t0 == pytest.approx(100)
    writer.close()
    server.close()
    await server.wait_closed()


@pytest.mark.redis
async def test_another_process_is_waited_for_without_time_passing():
    loop = asyncio.get_running_loop()
    r = aioredis.from_url("redis://127.0.0.1:6379/0")
    ticks: list[float] = []

    async def ticker():
        while True:
            await asyncio.sleep(0.0001)  # a timer is always due: the loop would jump if it could
            ticks.append(loop.time())

    task = asyncio.create_task(ticker(), name="vtime-test-ticker")
    try:
        await r.ping()
        for _ in range(50):
            t0 = loop.time()
            async with asyncio.timeout(0.00005):  # shorter than one tick: fires only if time jumps
                assert await r.ping()
            assert loop.time() == t0
    finally:
        task.cancel()
        await r.aclose()


async def test_a_peer_that_never_answers_lets_time_run_at_the_real_rate():
    loop = asyncio.get_running_loop()
    loop.hold_limit_s = 0.1
    silent = socket.create_server(("127.0.0.1", 0))  # another "process": accepted, never answered
    stop = threading.Event()

    def accept():
        conn, _ = silent.accept()
        stop.wait(10)
        conn.close()

    thread = threading.Thread(target=accept, name="vtime-test-silent-peer", daemon=True)
    thread.start()
    try:
        reader, writer = await asyncio.open_connection(*silent.getsockname())
        writer.write(b"hello?\n")
        wall0 = time.monotonic()
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.3):
                await reader.readline()
        assert 0.3 <= time.monotonic() - wall0 < 3.0  # held a while, then real time passed
        writer.close()
    finally:
        stop.set()
        thread.join(5)
        silent.close()


async def test_the_cores_timers_fire_at_their_time_exactly():
    clock = running_virtual_clock()
    fired: list[tuple[str, float]] = []
    wheel = TimerWheel(clock, lambda timer_id: fired.append((timer_id, clock.now())))
    t0 = clock.now()
    wheel.start("wrapup:agent1", t0 + 30)
    wheel.start("ring:offer-1", t0 + 20)
    wheel.start("recover:agent2", t0 + 50)
    wheel.cancel("recover:agent2")
    await asyncio.sleep(60)
    assert fired == [("ring:offer-1", t0 + 20), ("wrapup:agent1", t0 + 30)] and len(wheel) == 0


async def test_a_thread_past_its_hold_limit_lets_time_run_at_the_real_rate():
    loop = asyncio.get_running_loop()
    loop.thread_hold_limit_s = 0.1  # (30 s by default: threads finish)
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.2):
            await asyncio.to_thread(time.sleep, 1.0)
