"""A small scripted fake Asterisk Manager for the client tests (127.0.0.1, port 0).

It answers from recordings of a real Asterisk 22 where it can: ``replay(transcript)`` makes the
k-th action named N get the bytes Asterisk sent after the k-th recorded action named N (the
recorded ActionID swapped for the live one), chunk by chunk as they were read. Knobs let a test
withhold replies, stop answering Pings, refuse connections, drop every link, or push raw bytes.
"""

from __future__ import annotations

import asyncio
import re
from collections import defaultdict
from pathlib import Path
from collections.abc import Callable

from acd.ami.codec import AmiServerDecoder, encode_banner, encode_response
from acd.ami.frames import Action
from tests.transcripts import read_transcript

_ACTION_ID = re.compile(rb"ActionID: ([^\r]*)\r\n")


def recorded_replies(path: Path) -> dict[str, list[tuple[bytes, list[bytes]]]]:
    """Action name (lower case) -> [(recorded ActionID, RECV chunks that followed), ...]."""
    out: dict[str, list[tuple[bytes, list[bytes]]]] = defaultdict(list)
    current: list[bytes] | None = None
    for chunk in read_transcript(path):
        if chunk.direction == "SEND":
            name = chunk.data.split(b"\r\n", 1)[0].split(b": ", 1)[1].decode().lower()
            m = _ACTION_ID.search(chunk.data)
            current = []
            out[name].append((m.group(1) if m else b"", current))
        elif chunk.direction == "RECV" and current is not None:
            current.append(chunk.data)
    return out


class FakeSession:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.raw = bytearray()  # every byte the client sent on this connection
        self.authenticated = False

    def send(self, data: bytes) -> None:
        if not self.writer.is_closing():
            self.writer.write(data)


class FakeAmi:
    def __init__(self, *, username: str = "acd", secret: str = "acdsecret", auth_fail_delay: float = 0.05) -> None:
        self.username, self.secret = username, secret
        self.auth_fail_delay = auth_fail_delay  # Asterisk waits ~1 s before the Error, then closes
        self.banner = encode_banner()
        self.actions: list[Action] = []  # every action, all connections, in order
        self.sessions: list[FakeSession] = []
        self.connection_times: list[float] = []
        self.withhold: set[str] = set()  # action names (lower case) never answered
        self.answer_pings = True
        self.refuse = 0  # close this many new connections at once (before the banner)
        self.replies: dict[str, list[tuple[bytes, list[bytes]]]] = {}
        self._replayed: dict[str, int] = defaultdict(int)
        self.handlers: dict[str, Callable[[FakeSession, Action], None]] = {}
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task] = set()
        self.port = 0

    # ------------------------------------------------------------------ control
    async def start(self) -> FakeAmi:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        self.drop_all()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def replay(self, path: Path) -> None:
        self.replies.update(recorded_replies(path))

    def drop_all(self) -> None:
        for s in self.sessions:
            s.writer.transport.abort()
        self.sessions.clear()

    def broadcast(self, data: bytes) -> None:
        for s in self.sessions:
            if s.authenticated:
                s.send(data)

    async def broadcast_in_pieces(self, *pieces: bytes, gap: float = 0.05) -> None:
        """Each piece in its own TCP segment (written, drained, then a pause)."""
        for piece in pieces:
            for s in self.sessions:
                if s.authenticated:
                    s.send(piece)
                    await s.writer.drain()
            await asyncio.sleep(gap)

    def names(self) -> list[str]:
        return [a.name for a in self.actions]

    # ------------------------------------------------------------------ serving
    def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connection_times.append(asyncio.get_running_loop().time())
        if self.refuse > 0:
            self.refuse -= 1
            writer.transport.abort()
            return
        task = asyncio.create_task(self._serve(FakeSession(reader, writer)), name="fake-ami-session")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _serve(self, s: FakeSession) -> None:
        self.sessions.append(s)
        s.send(self.banner)
        decoder = AmiServerDecoder()
        try:
            while True:
                data = await s.reader.read(65536)
                if not data:
                    return
                s.raw += data
                for action in decoder.feed(data):
                    self.actions.append(action)
                    if not await self._answer(s, action):
                        return
        except (ConnectionError, OSError):
            pass
        finally:
            if s in self.sessions:
                self.sessions.remove(s)
            s.writer.transport.abort()

    def _respond(self, s: FakeSession, a: Action, status: str, *headers: tuple[str, str]) -> None:
        aid = [("ActionID", a.action_id)] if a.action_id is not None else []
        s.send(encode_response(status, aid + list(headers)))

    async def _answer(self, s: FakeSession, a: Action) -> bool:
        name = a.name.lower()
        if name == "login":
            if a.get("Username") == self.username and a.get("Secret") == self.secret:
                s.authenticated = True
                self._respond(s, a, "Success", ("Message", "Authentication accepted"))
                return True
            await asyncio.sleep(self.auth_fail_delay)
            self._respond(s, a, "Error", ("Message", "Authentication failed"))
            await s.writer.drain()
            return False  # Asterisk closes the socket after a failed login
        if name in self.withhold:
            return True
        if name == "logoff":
            self._respond(s, a, "Goodbye", ("Message", "Thanks for all the fish."))
            await s.writer.drain()
            return False
        if not s.authenticated:
            self._respond(s, a, "Error", ("Message", "Permission denied"))
            return True
        if name == "ping":
            if self.answer_pings:
                self._respond(s, a, "Success", ("Ping", "Pong"), ("Timestamp", "1795353993.406574"))
            return True
        if name in self.handlers:
            self.handlers[name](s, a)
            return True
        recorded = self.replies.get(name)
        if recorded:
            k = self._replayed[name] % len(recorded)
            self._replayed[name] += 1
            old_id, chunks = recorded[k]
            new_id = (a.action_id or "").encode()
            for chunk in chunks:
                s.send(chunk.replace(b"ActionID: " + old_id + b"\r\n", b"ActionID: " + new_id + b"\r\n"))
                await s.writer.drain()
            return True
        self._respond(s, a, "Success", ("Message", f"{a.name} accepted by the fake"))
        return True
