"""IVR: many concurrent calls through the real FastAGI server.

Each simulated Asterisk peer sends the environment block and answers every command at once; the
engine side runs a handler doing a fixed number of commands. Reported: commands per second, the
per-command round trip beside a raw asyncio loopback round trip measured in the same run, and the
memory each live call holds (Python heap via tracemalloc, plus RSS)."""

from __future__ import annotations

import asyncio
import gc
import resource
import time
import tracemalloc

from acd.agi import FastAgiServer
from acd.agi.codec import encode_environment
from bench.common import Row

ENV = {"agi_network": "yes", "agi_network_script": "ivr", "agi_channel": "PJSIP/caller-00000001", "agi_uniqueid": "1.1", "agi_callerid": "+441234567890"}
REPLY = b"200 result=0\n"


async def _peer(port: int, commands: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(encode_environment(ENV))
    for _ in range(commands):
        line = await reader.readline()
        if not line:
            break
        writer.write(REPLY)
    await reader.read()  # the engine closes
    writer.close()


async def raw_round_trip(n: int) -> float:
    """Seconds per line round trip on a bare asyncio loopback echo (the floor)."""

    async def echo(reader, writer):
        while await reader.readline():
            writer.write(REPLY)
        writer.close()

    server = await asyncio.start_server(echo, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    t0 = time.perf_counter()
    for _ in range(n):
        writer.write(b"NOOP\n")
        await reader.readline()
    elapsed = time.perf_counter() - t0
    writer.close()
    await writer.wait_closed()
    await asyncio.sleep(0.01)  # let the echo handler see EOF
    server.close()
    await server.wait_closed()
    return elapsed / n


async def agi_round_trip(n: int) -> float:
    """Seconds per command through AgiChannel.noop() with one session."""
    box = {}

    async def handler(ch):
        t0 = time.perf_counter()
        for _ in range(n):
            await ch.noop()
        box["t"] = (time.perf_counter() - t0) / n

    server = FastAgiServer(handler, port=0)
    await server.start()
    await _peer(server.port, n)
    await server.stop()
    return box["t"]


async def concurrent(calls: int, commands: int) -> tuple[float, int]:
    done = 0

    async def handler(ch):
        nonlocal done
        for _ in range(commands):
            await ch.noop()
        done += 1

    server = FastAgiServer(handler, port=0, max_sessions=calls + 10)
    await server.start()
    t0 = time.perf_counter()
    await asyncio.gather(*(_peer(server.port, commands) for _ in range(calls)))
    elapsed = time.perf_counter() - t0
    await server.stop()
    return calls * commands / elapsed, done


async def memory_per_call(calls: int) -> tuple[float, float]:
    """Bytes per live call: sessions held open (as a caller waiting in queue would be)."""
    release = asyncio.Event()
    started = 0

    async def handler(ch):
        nonlocal started
        started += 1
        await release.wait()

    server = FastAgiServer(handler, port=0, max_sessions=calls + 10)
    await server.start()
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    peers = []
    for _ in range(calls):
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(encode_environment(ENV))
        peers.append(writer)
    while started < calls:
        await asyncio.sleep(0.01)
    gc.collect()
    used = tracemalloc.get_traced_memory()[0] - base
    tracemalloc.stop()
    rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    release.set()
    for w in peers:
        w.close()
    await server.stop()
    # the measurement includes both ends (engine session + the peer's socket objects); the peer
    # side is part of this process only because the benchmark plays Asterisk itself
    return used / calls, (rss1 - rss0) * 1024 / calls


def run(smoke: bool) -> list[Row]:
    sizes = [20] if smoke else [100, 1000, 2000]
    rows = []
    raw = asyncio.run(raw_round_trip(200 if smoke else 5000))
    agi = asyncio.run(agi_round_trip(200 if smoke else 5000))
    ratio = agi / raw
    rows.append(Row("ivr", "per-command round trip", {"agi us": agi * 1e6, "raw asyncio us": raw * 1e6, "ratio": ratio}, "<= 1.5x raw", None if smoke else ratio <= 1.5))
    best = 0
    for n in sizes:
        rate, done = asyncio.run(concurrent(n, 10))
        ok = done == n
        best = max(best, n) if ok else best
        rows.append(Row("ivr", f"{n} concurrent calls x 10 commands", {"commands/s": rate, "completed": done}))
    rows.append(Row("ivr", "concurrent calls held (one process, one core)", {"calls": best}, ">= 2000", None if smoke else best >= 2000))
    heap, rss = asyncio.run(memory_per_call(20 if smoke else 2000))
    rows.append(Row("ivr", "memory per live call", {"heap KB": heap / 1024, "RSS KB": rss / 1024}, "<= 50 KB", None if smoke else heap / 1024 <= 50))
    return rows
