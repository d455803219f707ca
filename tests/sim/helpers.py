"""Test helpers for the simulator: a raw AMI client that keeps every frame, a minimal FastAGI
engine, and readers for the recorded transcripts."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from collections.abc import Awaitable, Callable

from acd.agi import AgiChannel, AgiHangup, FastAgiServer
from acd.ami.codec import AmiClientDecoder, encode_action
from acd.ami.frames import Banner, Event, Response
from tests.transcripts import CONNECT, TRANSCRIPTS, read_transcript, received

# header values that must differ between two runs (times, ids, ports)
VOLATILE = {
    "Timestamp", "Uptime", "LastReload", "EventTV", "SessionID", "LocalAddress", "RemoteAddress", "SessionTV",
    "CoreStartupDate", "CoreStartupTime", "CoreReloadDate", "CoreReloadTime", "Uniqueid", "Linkedid",
    "DestUniqueid", "DestLinkedid", "BridgeUniqueid", "Channel", "DestChannel", "CommandId", "Duration", "Seconds",
    "MixMonitorID", "BridgeId", "BridgeID",
}


def normalize(data: bytes, keys: set[str] = VOLATILE) -> bytes:
    """Replace the values of volatile headers by ``*`` so two captures can be compared byte for byte."""
    def sub(m: re.Match) -> bytes:
        return m.group(1) + b": *\r\n" if m.group(1).decode() in keys else m.group(0)
    return re.sub(rb"(?m)^([A-Za-z][A-Za-z0-9-]*): [^\r\n]*\r\n", sub, data)


class RawAmi:
    """A raw AMI connection: sends bytes, keeps every decoded frame and the raw bytes received."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.frames: list[Banner | Response | Event] = []
        self.raw = b""
        self.eof = asyncio.Event()
        self._decoder = AmiClientDecoder()
        self._task: asyncio.Task | None = None
        self._changed = asyncio.Event()

    async def connect(self) -> RawAmi:
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        self._task = asyncio.create_task(self._read(), name="test-raw-ami")
        return self

    async def login(self, user: str = "acd", secret: str = "acdsecret") -> Response:
        return await self.action("Login", [("Username", user), ("Secret", secret)], action_id="login-1")

    async def _read(self) -> None:
        while True:
            data = await self.reader.read(65536)
            if not data:
                self.eof.set()
                self._changed.set()
                return
            self.raw += data
            self.frames += self._decoder.feed(data)
            self._changed.set()

    def send(self, data: bytes) -> None:
        self.writer.write(data)

    async def action(self, name: str, headers: list[tuple[str, str]] = (), action_id: str | None = None, timeout: float = 5.0) -> Response:
        aid = action_id or f"{name.lower()}-{len(self.frames)}"
        self.send(encode_action(name, [("ActionID", aid)] + list(headers)))
        return await self.wait_for(lambda f: isinstance(f, Response) and f.action_id == aid, timeout)

    async def wait_for(self, pred: Callable[[object], bool], timeout: float = 5.0):
        async def scan():
            while True:
                for f in self.frames:
                    if pred(f):
                        return f
                self._changed.clear()
                await self._changed.wait()
        return await asyncio.wait_for(scan(), timeout)

    def events(self, *names: str) -> list[Event]:
        return [f for f in self.frames if isinstance(f, Event) and (not names or f.name in names)]

    async def close(self) -> None:
        self.writer.close()
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)


class MiniEngine:
    """A minimal engine: the IVR runs ``ivr_steps`` then holds the caller in MOH slices; the claim
    script sets ACD_CLAIM=ok for the first leg per caller (or what ``claim_result`` says)."""

    def __init__(self, ivr: Callable[[AgiChannel], Awaitable[None]] | None = None, claim_result: str | None = "ok") -> None:
        self.callers: dict[str, AgiChannel] = {}
        self.claims: list[str] = []
        self.claim_result = claim_result
        self.ivr_steps = ivr
        self.bridged_away: set[str] = set()
        self.server = FastAgiServer({"ivr": self.ivr, "claim": self.claim}, port=0)

    async def ivr(self, ch: AgiChannel) -> None:
        self.callers[ch.env.uniqueid] = ch
        try:
            await ch.answer()  # as the engine does: [acd-inbound] has no Answer() of its own
            if self.ivr_steps is not None:
                await self.ivr_steps(ch)
            while True:
                await ch.exec("MusicOnHold", "default", "20")
        except AgiHangup:
            self.bridged_away.add(ch.env.uniqueid)

    async def claim(self, ch: AgiChannel) -> None:
        self.claims.append(ch.env.uniqueid)
        if self.claim_result is not None:
            await ch.set_variable("ACD_CLAIM", self.claim_result)


async def wait_until(pred: Callable[[], object], timeout: float = 5.0, step: float = 0.01) -> None:
    for _ in range(int(timeout / step)):
        if pred():
            return
        await asyncio.sleep(step)
    raise AssertionError("condition not met in time")


def recorded_events(path: Path) -> list[Event]:
    frames = AmiClientDecoder().feed(received(path))
    return [f for f in frames if isinstance(f, Event)]


def recorded_sends(path: Path) -> list[bytes]:
    return [c.data for c in read_transcript(path) if c.direction == "SEND"]


__all__ = ["CONNECT", "TRANSCRIPTS", "MiniEngine", "RawAmi", "normalize", "recorded_events", "recorded_sends", "wait_until"]
