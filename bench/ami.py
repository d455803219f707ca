"""AMI: events per second through the codec and through the client, from a replayed recording of
a real Asterisk; the same stream through panoramisk 1.4 for the ratio. Each client's subscriber
sees every event and reads its name and one header (Uniqueid), as the engine's handlers do. panoramisk is installed
only in the benchmark's own environment (bench/.venv-panoramisk), never in the engine's."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

from acd.ami.codec import AmiClientDecoder
from bench.common import Row

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("ACD_SHARED_DIR", ROOT.parent / "shared")) / "asterisk"
PANORAMISK_VENV = ROOT / "bench" / ".venv-panoramisk"


def recorded_events() -> bytes:
    """The event frames Asterisk sent in the recorded sessions (no banner, no replies)."""
    sys.path.insert(0, str(ROOT))
    from tests.transcripts import ami_transcripts, received

    out = bytearray()
    for path in ami_transcripts():
        for frame in received(path).split(b"\r\n\r\n"):
            if frame.startswith(b"Event:"):
                out += frame + b"\r\n\r\n"
    return bytes(out)


def stream(n_events: int) -> tuple[bytes, int]:
    one = recorded_events()
    per = one.count(b"\r\n\r\n")
    reps = max(1, n_events // per)
    return one * reps, per * reps


def codec_rate(data: bytes, count: int) -> float:
    dec = AmiClientDecoder()
    dec.feed(b"Asterisk Call Manager/11.0.0\r\n")
    t0 = time.perf_counter()
    n = 0
    for i in range(0, len(data), 4096):
        n += len(dec.feed(data[i : i + 4096]))
    elapsed = time.perf_counter() - t0
    assert n == count, (n, count)
    return count / elapsed


async def serve(data: bytes) -> asyncio.Server:
    """A fake Asterisk: banner, accepts the login, then sends the whole event stream."""

    async def handle(reader, writer):
        writer.write(b"Asterisk Call Manager/11.0.0\r\n")
        buf = b""
        while b"\r\n\r\n" not in buf:
            buf += await reader.read(4096)
        action_id = [ln.split(b": ", 1)[1] for ln in buf.split(b"\r\n") if ln.lower().startswith(b"actionid:")]
        writer.write(b"Response: Success\r\n" + (b"ActionID: " + action_id[0] + b"\r\n" if action_id else b"") + b"Message: Authentication accepted\r\n\r\n")
        writer.write(data + b"Event: BenchDone\r\n\r\n")
        await writer.drain()
        try:
            await reader.read()
        except ConnectionError:
            pass
        writer.close()

    return await asyncio.start_server(handle, "127.0.0.1", 0)


ACD_PROBE = r'''
import asyncio, sys, time
from acd.ami import AmiClient
port, count = int(sys.argv[1]), int(sys.argv[2])
async def main():
    seen = 0
    done = asyncio.Event()
    def on_event(event):
        nonlocal seen
        if event.name == "BenchDone":
            done.set()
        elif event.get("Uniqueid") is not None or True:  # a subscriber reads a header, as the engine's do
            seen += 1
    ami = AmiClient("127.0.0.1", port, "acd", "x", ping_interval=3600)
    ami.subscribe("*", on_event)
    t0 = time.perf_counter()
    await ami.start()
    await asyncio.wait_for(done.wait(), 300)
    print(count / (time.perf_counter() - t0), seen)
    await ami.stop()
asyncio.run(main())
'''


async def _probe_rate(python: str, probe: str, data: bytes, count: int) -> tuple[float, int] | None:
    """Run a client in its own process (as panoramisk is), against a fake Asterisk here."""
    server = await serve(data)
    port = server.sockets[0].getsockname()[1]
    proc = await asyncio.create_subprocess_exec(python, "-c", probe, str(port), str(count), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, cwd=str(ROOT))
    out, err = await asyncio.wait_for(proc.communicate(), 600)
    server.close()
    if proc.returncode != 0:
        return None
    rate, seen = out.split()
    return float(rate), int(seen)


async def client_rate(data: bytes, count: int) -> float:
    result = await _probe_rate(sys.executable, ACD_PROBE, data, count)
    if result is None:
        raise RuntimeError("the acd client probe failed")
    rate, seen = result
    assert seen == count, (seen, count)
    return rate


PANORAMISK_PROBE = r'''
import asyncio, sys, time
from panoramisk import Manager
port, count = int(sys.argv[1]), int(sys.argv[2])
async def main():
    seen = 0
    done = asyncio.Event()
    m = Manager(host="127.0.0.1", port=port, username="acd", secret="x", ping_delay=0, reconnect_timeout=0)
    def on_event(manager, event):
        nonlocal seen
        if event.get("Event") == "BenchDone":
            done.set()
        elif event.get("Uniqueid") is not None or True:  # the same header read as ours
            seen += 1
    m.register_event("*", on_event)
    t0 = time.perf_counter()
    await m.connect()
    await asyncio.wait_for(done.wait(), 300)
    print(count / (time.perf_counter() - t0), seen)
    m.close()
asyncio.run(main())
'''


def ensure_panoramisk() -> Path | None:
    py = PANORAMISK_VENV / "bin" / "python"
    if not py.exists():
        subprocess.run([sys.executable, "-m", "venv", str(PANORAMISK_VENV)], check=True)
        r = subprocess.run([str(py), "-m", "pip", "install", "-q", "panoramisk==1.4"], capture_output=True, text=True)
        if r.returncode != 0:
            return None
    return py


async def panoramisk_rate(data: bytes, count: int) -> tuple[float, int] | None:
    py = ensure_panoramisk()
    if py is None:
        return None
    return await _probe_rate(str(py), PANORAMISK_PROBE, data, count)


def run(smoke: bool) -> list[Row]:
    data, count = stream(2_000 if smoke else 200_000)
    rows = [Row("ami", f"codec, {count:,} recorded events", {"events/s": codec_rate(data, count)})]
    runs = 1 if smoke else 3  # best of three: this machine's timing noise is larger than 2x
    ours = max(asyncio.run(client_rate(data, count)) for _ in range(runs))
    rows.append(Row("ami", f"acd client in its own process, best of {runs}", {"events/s": ours}))
    if smoke:
        rows.append(Row("ami", "panoramisk 1.4", {"status": "not run in the smoke run"}))
        return rows
    results = [asyncio.run(panoramisk_rate(data, count)) for _ in range(runs)]
    theirs = None if any(r is None for r in results) else max(results)
    if theirs is None:
        rows.append(Row("ami", "panoramisk 1.4", {"status": "could not be installed or run"}, ">= 2x panoramisk", False))
    else:
        rate, seen = theirs
        rows.append(Row("ami", f"panoramisk 1.4 in its own process, same stream, best of {runs}", {"events/s": rate, "events seen": seen, "ratio": ours / rate}, ">= 2x panoramisk", ours / rate >= 2))
    return rows
