"""The simulated AMI server: banner, login, the session actions, events to every logged-in client.

Bytes as Asterisk 22.10.1 sends them (shared/asterisk/transcripts/ami_*.transcript): the
``Asterisk Call Manager/11.0.0`` banner, ``Response:`` first and ``ActionID:`` second, list
actions as ``EventList: start`` ... ``…Complete`` with ``ListItems``; a wrong secret gets
``Response: Error`` / ``Authentication failed`` after about a second, then the socket closes.
Channel actions live in ``acd.sim.ami_actions``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
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

BAD_LOGIN_DELAY_S = 1.0  # simulated seconds
ALL_CLASSES = {"system", "call", "log", "verbose", "command", "agent", "user", "config", "dtmf", "reporting", "cdr", "dialplan", "originate", "agi", "cc", "aoc", "test", "security", "message"}


def _tv(t: float) -> str:
    return dt.datetime.fromtimestamp(t, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "+0000"


class AmiSession:
    def __init__(self, server: SimAmiServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, sid: int) -> None:
        self.server = server
        self.reader = reader
        self.writer = writer
        self.sid = sid
        self.session_id = f"0x7f45{0x90001460 + sid * 0x10:08x}"
        self.authenticated = False
        self.username = ""
        self.event_classes: set[str] = set(ALL_CLASSES)
        self.started = time.time()

    @property
    def events_on(self) -> bool:
        return bool(self.event_classes)

    def wants(self, privilege: str) -> bool:
        return bool(self.event_classes.intersection(privilege.split(",")))

    def send(self, data: bytes) -> None:
        if not self.writer.is_closing():
            self.writer.write(data)

    def respond(self, action: Action, status: str, *headers: tuple[str, str]) -> None:
        """``Response: <status>``, then ``ActionID`` (if the action had one), then ``headers``."""
        pairs = [("ActionID", action.action_id)] if action.action_id is not None else []
        self.send(encode_response(status, pairs + list(headers)))

    def addresses(self) -> tuple[str, str]:
        local = self.writer.get_extra_info("sockname") or ("127.0.0.1", 5038)
        peer = self.writer.get_extra_info("peername") or ("127.0.0.1", 0)
        return f"IPV4/TCP/{local[0]}/{local[1]}", f"IPV4/TCP/{peer[0]}/{peer[1]}"


class SimAmiServer:
    def __init__(self, pbx: SimPbx, host: str, port: int, users: dict[str, str]) -> None:
        from acd.sim.ami_actions import AmiActions

        self.pbx = pbx
        self.host = host
        self._port = port
        self.users = users
        self.sessions: set[AmiSession] = set()
        self.actions = AmiActions(pbx)
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._ids = itertools.count(1)
        self.answer_pings = True  # tests turn this off to simulate a stalled Asterisk
        self.actions_seen: list[Action] = []
        self.withhold: set[str] = set()  # lower-case action names left unanswered (a stalled Asterisk)
        self._down_until = float("-inf")

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

    def drop_all(self, down_for_s: float = 0.0) -> None:
        """Cut every AMI connection (a network blip or an Asterisk restart); for ``down_for_s``
        simulated seconds after, a client that connects is cut off at once (the link stays down)."""
        for s in list(self.sessions):
            s.writer.close()
        self.sessions.clear()
        self._down_until = self.pbx.time.now() + down_for_s

    def broadcast(self, name: str, headers: list[tuple[str, str]], privilege: str = "call,all") -> None:
        data = encode_event(name, headers)
        for s in list(self.sessions):
            if s.authenticated and s.wants(privilege):
                s.send(data)

    def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.pbx.time.now() < self._down_until:
            writer.close()
            return
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

    # ------------------------------------------------------------------ session actions
    async def _handle(self, s: AmiSession, a: Action) -> bool:
        """Answer one action; False closes the session."""
        name = a.name.lower()
        if name in self.withhold:
            return True
        if name == "login":
            return await self._login(s, a)
        if name == "logoff":
            s.respond(a, "Goodbye", ("Message", "Thanks for all the fish."))
            await s.writer.drain()
            return False
        if not s.authenticated:
            s.respond(a, "Error", ("Message", "Permission denied"))
            return True
        if name == "ping":
            if self.answer_pings:
                s.respond(a, "Success", ("Ping", "Pong"), ("Timestamp", f"{self.pbx.clock.now():.6f}"))
            return True
        if name == "corestatus":
            self._core_status(s, a)
            return True
        if name == "events":
            mask = (a.get("EventMask") or "off").lower()
            s.event_classes = self._classes(mask)
            s.respond(a, "Success", ("Events", "On" if s.event_classes else "Off"))
            return True
        if name == "command":
            self._command(s, a)
            return True
        handler = getattr(self.actions, f"ami_{name}", None)
        if handler is None:
            s.respond(a, "Error", ("Message", f"Invalid/unknown command: {a.name}. Use Action: ListCommands to show available commands."))
            local, remote = s.addresses()
            s.send(encode_event("RequestBadFormat", [
                ("Privilege", "security,all"), ("EventTV", _tv(self.pbx.clock.now())), ("Severity", "Error"), ("Service", "AMI"),
                ("EventVersion", "1"), ("SessionID", s.session_id), ("LocalAddress", local), ("RemoteAddress", remote),
                ("RequestType", f"Action: {a.name}"), ("SessionTV", _tv(s.started)), ("AccountID", s.username),
            ]) if s.wants("security,all") else b"")
            return True
        await handler(s, a)
        return True

    @staticmethod
    def _classes(mask: str) -> set[str]:
        mask = mask.strip().lower()
        if mask in ("on", "yes", "true", "all", ""):
            return set(ALL_CLASSES)
        if mask in ("off", "no", "false", "none"):
            return set()
        return {c.strip() for c in mask.split(",") if c.strip() and c.strip() != "all"}

    async def _login(self, s: AmiSession, a: Action) -> bool:
        user = a.get("Username") or ""
        local, remote = s.addresses()
        if user in self.users and self.users[user] == (a.get("Secret") or ""):
            s.authenticated, s.username = True, user
            s.event_classes = self._classes(a.get("Events") or "on")
            s.respond(a, "Success", ("Message", "Authentication accepted"))
            now = self.pbx.clock.now()
            if s.wants("system,all"):
                up = str(int(self.pbx.uptime()))
                s.send(encode_event("FullyBooted", [("Privilege", "system,all"), ("Uptime", up), ("LastReload", up), ("Status", "Fully Booted")]))
            if s.wants("security,all"):
                s.send(encode_event("SuccessfulAuth", [
                    ("Privilege", "security,all"), ("EventTV", _tv(now)), ("Severity", "Informational"), ("Service", "AMI"),
                    ("EventVersion", "1"), ("AccountID", user), ("SessionID", s.session_id), ("LocalAddress", local),
                    ("RemoteAddress", remote), ("UsingPassword", "0"), ("SessionTV", _tv(now)),
                ]))
            log.event("sim.ami.login", user=user, session=s.sid)
            return True
        # Asterisk waits about a second, refuses, and closes; other sessions see InvalidPassword
        log.warn_event("sim.ami.login_refused", user=user, session=s.sid)
        await self.pbx.time.sleep(BAD_LOGIN_DELAY_S)
        self.broadcast("InvalidPassword", [
            ("Privilege", "security,all"), ("EventTV", _tv(self.pbx.clock.now())), ("Severity", "Error"), ("Service", "AMI"),
            ("EventVersion", "2"), ("AccountID", user), ("SessionID", s.session_id), ("LocalAddress", local),
            ("RemoteAddress", remote), ("SessionTV", "1970-01-01T00:00:00.000+0000"),
        ], "security,all")
        s.respond(a, "Error", ("Message", "Authentication failed"))
        await s.writer.drain()
        return False

    def _core_status(self, s: AmiSession, a: Action) -> None:
        started = dt.datetime.fromtimestamp(self.pbx.started_wall)
        day, clock = started.strftime("%Y-%m-%d"), started.strftime("%H:%M:%S")
        calls = sum(1 for c in self.pbx.channels.values() if c.kind == "caller")
        s.respond(a, "Success", ("CoreStartupDate", day), ("CoreStartupTime", clock), ("CoreReloadDate", day), ("CoreReloadTime", clock), ("CoreCurrentCalls", str(calls)), ("CoreProcessedCalls", str(self.pbx.processed_calls)))

    def _command(self, s: AmiSession, a: Action) -> None:
        cli = (a.get("Command") or "").strip()
        if cli == "core show version":
            s.respond(a, "Success", ("Message", "Command output follows"), ("Output", "Asterisk 22.10.1 built by acd-sim @ sim on a x86_64 running Linux (simulated by acd)"))
        elif cli == "core show channels":
            lines = ["Channel                                Location                  State   Application(Data)             "]
            for ch in reversed(list(self.pbx.channels.values())):
                loc = f"{ch.exten}@{ch.context}:{ch.priority}"
                app = f"{ch.application}({ch.app_data})" if ch.application else "(None)"
                lines.append(f"{ch.name:<38} {loc:<25} {ch.state.name.capitalize():<7} {app[:30]:<30}")
            n = len(self.pbx.channels)
            calls = sum(1 for c in self.pbx.channels.values() if c.kind == "caller")
            lines += [f"{n} active channel{'s' if n != 1 else ''}", f"{calls} active call{'s' if calls != 1 else ''}", f"{self.pbx.processed_calls} call{'s' if self.pbx.processed_calls != 1 else ''} processed"]
            s.respond(a, "Success", ("Message", "Command output follows"), *[("Output", line) for line in lines])
        else:
            words = " ".join(cli.split()[:2])
            s.respond(a, "Error", ("Message", "Command output follows"), ("Output", f"No such command '{cli}' (type 'core show help {words}' for other possible commands)"))
