"""The simulated AMI server: login, the actions the engine uses, events to every logged-in client."""

from __future__ import annotations

import asyncio
import itertools
import time
from typing import TYPE_CHECKING

from acd.ami.codec import AmiServerDecoder, encode_banner, encode_event, encode_response
from acd.ami.errors import AmiProtocolError
from acd.ami.frames import Action
from acd.logs import get_logger

if TYPE_CHECKING:
    from acd.sim.pbx import SimPbx

log = get_logger(__name__)


class AmiSession:
    def __init__(self, server: "SimAmiServer", reader: asyncio.StreamReader, writer: asyncio.StreamWriter, sid: int) -> None:
        self.server = server
        self.reader = reader
        self.writer = writer
        self.sid = sid
        self.authenticated = False
        self.events_on = True

    def send(self, data: bytes) -> None:
        if not self.writer.is_closing():
            self.writer.write(data)

    def respond(self, action: Action, status: str, *headers: tuple[str, str]) -> None:
        pairs = [("ActionID", action.action_id)] if action.action_id is not None else []
        self.send(encode_response(status, pairs + list(headers)))


class SimAmiServer:
    def __init__(self, pbx: "SimPbx", host: str, port: int, users: dict[str, str]) -> None:
        self.pbx = pbx
        self.host = host
        self._port = port
        self.users = users
        self.sessions: set[AmiSession] = set()
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task] = set()
        self._ids = itertools.count(1)
        self.answer_pings = True  # tests turn this off to simulate a stalled Asterisk
        self.actions_seen: list[Action] = []
        self.withhold: set[str] = set()  # action names left unanswered (tests: a stalled Asterisk)

    @property
    def port(self) -> int:
        return self._server.sockets[0].getsockname()[1] if self._server else self._port

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, self.host, self._port)

    async def stop(self) -> None:
        if self._server:
            self._server.close()
        self.drop_all()
        for t in list(self._tasks):
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server:
            await self._server.wait_closed()

    def drop_all(self) -> None:
        """Cut every AMI connection (a network blip or an Asterisk restart)."""
        for s in list(self.sessions):
            s.writer.close()
        self.sessions.clear()

    def broadcast(self, name: str, headers: list[tuple[str, str]]) -> None:
        data = encode_event(name, headers)
        for s in list(self.sessions):
            if s.authenticated and s.events_on:
                s.send(data)

    def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        session = AmiSession(self, reader, writer, next(self._ids))
        task = asyncio.create_task(self._run(session), name=f"sim-ami-{session.sid}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, session: AmiSession) -> None:
        self.sessions.add(session)
        session.send(encode_banner())
        decoder = AmiServerDecoder()
        try:
            while True:
                data = await session.reader.read(65536)
                if not data:
                    break
                try:
                    actions = decoder.feed(data)
                except AmiProtocolError:
                    session.send(encode_response("Error", [("Message", "Missing action in request")]))
                    continue
                for action in actions:
                    self.actions_seen.append(action)
                    if not await self._handle(session, action):
                        return
        except (ConnectionError, OSError):
            pass
        finally:
            self.sessions.discard(session)
            session.writer.close()

    async def _handle(self, s: AmiSession, a: Action) -> bool:
        name = a.name.lower()
        if name in self.withhold:
            return True
        if name == "login":
            if self.users.get(a.get("Username", "")) == a.get("Secret"):
                s.authenticated = True
                s.events_on = (a.get("Events", "on") or "on").lower() not in ("off", "no")
                s.respond(a, "Success", ("Message", "Authentication accepted"))
                if s.events_on:
                    s.send(encode_event("FullyBooted", [("Privilege", "system,all"), ("Uptime", str(int(self.pbx.uptime()))), ("LastReload", str(int(self.pbx.uptime()))), ("Status", "Fully Booted")]))
                return True
            await asyncio.sleep(1.0 * self.pbx.time_scale)  # Asterisk waits ~1 s, then refuses and closes
            s.respond(a, "Error", ("Message", "Authentication failed"))
            await s.writer.drain()
            return False
        if not s.authenticated:
            s.respond(a, "Error", ("Message", "Permission denied"))
            return True
        if name == "logoff":
            s.respond(a, "Goodbye", ("Message", "Thanks for all the fish."))
            await s.writer.drain()
            return False
        if name == "ping":
            if self.answer_pings:
                s.respond(a, "Success", ("Ping", "Pong"), ("Timestamp", f"{time.time():.6f}"))
            return True
        if name == "corestatus":
            s.respond(a, "Success", ("CoreStartupDate", "2026-11-22"), ("CoreStartupTime", "13:26:30"), ("CoreReloadDate", "2026-11-22"), ("CoreReloadTime", "13:26:30"), ("CoreCurrentCalls", str(len(self.pbx.channels))), ("CoreProcessedCalls", str(self.pbx.processed_calls)))
            return True
        if name == "command":
            cli = a.get("Command", "")
            if cli == "core show version":
                s.respond(a, "Success", ("Message", "Command output follows"), ("Output", "Asterisk 22.10.1 (simulated by acd)"))
            else:
                s.respond(a, "Error", ("Message", "Command output follows"), ("Output", f"No such command '{cli}' (type 'core show help {cli}' for other possible commands)"))
            return True
        handler = getattr(self.pbx, f"ami_{name}", None)
        if handler is None:
            s.respond(a, "Error", ("Message", "Invalid/unknown command"))
            return True
        await handler(s, a)
        return True
