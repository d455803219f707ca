"""A typed channel API over one FastAGI session (implements ``acd.ports.CallChannel``).

Results come back as typed values (digits as characters, not ASCII codes). Failures are distinct
exceptions: ``AgiHangup`` (the caller hung up or was bridged away: ``200 result=-1``, ``HANGUP``,
``511``), ``AgiTimeout``, ``AgiProtocolError``, ``AgiCommandError`` (510/520, EXEC of an unknown
application). After a hangup, channel commands raise ``AgiHangup`` at once (Asterisk would
answer 511), while GET/SET VARIABLE, EXEC, NOOP and the other dead-safe commands still go through.

One command at a time: each waits for its reply under a time limit. A command that times out or
is cancelled closes the session, because its late reply would otherwise be read as the answer to
the next command. The one exception is ``send_ahead`` (``ANSWER`` at a call's start): written
without waiting, its reply is read, in order, by the next command.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from enum import IntEnum
from collections.abc import Callable

from acd.agi.codec import DEAD_OK_COMMANDS, AgiEngineDecoder, AgiEnvironment, Hangup, Reply, encode_command, match_command
from acd.agi.deadline import CommandDeadline
from acd.agi.errors import AgiCommandError, AgiHangup, AgiProtocolError, AgiTimeout
from acd.logs import get_logger
from acd.ports import DigitsResult, StreamResult

log = get_logger(__name__)

# Commands Asterisk still runs on a dead channel (res_agi marks them dead-safe).
DEAD_OK = DEAD_OK_COMMANDS

# Applications whose running time is given by an argument (seconds), so EXEC can get a time
# limit of that duration plus the margin without the caller having to pass one.
_TIMED_APPS = {"musiconhold": 1, "wait": 0, "waitforsilence": 2, "waitfornoise": 2, "waitdigit": 0}


class ChannelStatus(IntEnum):
    """``CHANNEL STATUS`` result (Asterisk's ``ast_channel_state``)."""

    DOWN = 0
    RESERVED = 1
    OFFHOOK = 2
    DIALING = 3
    RING = 4
    RINGING = 5
    UP = 6
    BUSY = 7
    DIALING_OFFHOOK = 8
    PRERING = 9


@dataclass(frozen=True)
class RecordResult:
    digit: str | None  # the escape digit that ended the recording
    endpos: int
    timed_out: bool  # ended by the time limit or by silence


def _digit(code: int | None) -> str | None:
    """ASCII code of a DTMF digit (``35``) to the digit (``'#'``); ``0`` (none) to None."""
    if code is None or code <= 0:
        return None
    return chr(code)


def _refused_when_dead(name: str) -> bool:
    """Asterisk answers 511 to a known command that is not dead-safe (an unknown one gets 510)."""
    found = match_command(name.split())
    return found is not None and found[0] not in DEAD_OK


def _app_duration(application: str, args: tuple[str, ...]) -> float | None:
    index = _TIMED_APPS.get(application.lower())
    if index is None or len(args) <= index:
        return None
    try:
        return max(0.0, float(args[index]))
    except ValueError:
        return None


class AgiChannel:
    def __init__(
        self,
        env: AgiEnvironment,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        decoder: AgiEngineDecoder,
        *,
        command_timeout: float = 30.0,
        on_command: Callable[[str, float], None] | None = None,
    ) -> None:
        self.env = env
        self._reader = reader
        self._writer = writer
        self._decoder = decoder
        self._frames: list[Reply | Hangup] = []
        self.command_timeout = command_timeout
        self.hung_up = False
        self.closed = False
        self._on_command = on_command
        self._lock = asyncio.Lock()
        self._ahead: list[str] = []  # commands written by ``send_ahead`` whose replies are still to be read
        self._deadline = CommandDeadline()

    @property
    def call_id(self) -> str:
        return self.env.uniqueid

    # ------------------------------------------------------------------ core
    async def command(self, name: str, *args: str, timeout: float | None = None) -> Reply:
        """Send one command and return its 200 reply.

        ``timeout`` (seconds) overrides the session's command time limit for commands that wait
        for the caller. 511 raises ``AgiHangup``; 510/520 ``AgiCommandError``. A timeout,
        cancellation, protocol error or lost connection closes the session."""
        if self.closed:
            raise AgiHangup(f"{name}: the FastAGI session is closed")
        while self._frames and isinstance(self._frames[0], Hangup):  # a notice already read
            self._frames.pop(0)
            self._mark_hangup("HANGUP")
        if self.hung_up and _refused_when_dead(name):
            raise AgiHangup(f"{name}: the caller has hung up")
        line = encode_command(name, *args)  # ValueError for a line break: our bug, before sending
        limit = self.command_timeout if timeout is None else timeout
        async with self._lock:
            if self.closed:
                raise AgiHangup(f"{name}: the FastAGI session is closed")
            started = time.perf_counter()
            # the session's one timer (acd.agi.deadline), not asyncio.timeout: half the cost of a
            # command; a cancellation from outside is never taken for the deadline's, nor lost
            self._deadline.start(limit)
            try:
                if self._ahead:
                    await self._read_ahead()
                    if self.hung_up and _refused_when_dead(name):
                        raise AgiHangup(f"{name}: the caller has hung up")
                self._decoder.expect_reply()  # a reply with none pending ends the session (AgiUnexpectedReply)
                self._writer.write(line)
                reply = await self._next_reply()
            except asyncio.CancelledError:
                ours = self._deadline.timed_out(asyncio.current_task())  # before close() resets it
                self.close()
                if ours:
                    log.warn_event("agi.command.timeout", command=name, timeout_s=limit)
                    raise AgiTimeout(f"{name}: no reply within {limit}s; session closed") from None
                raise
            except AgiProtocolError as exc:
                self.close()
                log.warn_event("agi.command.protocol_error", command=name, error=str(exc))
                raise
            except (ConnectionError, OSError) as exc:
                self.close()
                raise AgiHangup(f"{name}: connection lost ({type(exc).__name__})") from None
            finally:
                self._deadline.stop()
                if self._on_command:
                    self._on_command(name, time.perf_counter() - started)
        if reply.code == 200:
            return reply
        if reply.code == 511:
            self._mark_hangup("511")
            raise AgiHangup(f"{name}: the channel is dead (511)")
        if reply.code in (510, 520):
            log.warn_event("agi.command.refused", command=name, code=reply.code)
            raise AgiCommandError(name, reply)
        self.close()
        raise AgiProtocolError(f"{name}: unexpected reply code {reply.code}")

    def send_ahead(self, name: str, *args: str) -> None:
        """Write a command now and read its reply later: the next command first reads it (a
        hangup it reports is raised there). For ``ANSWER`` at the start of a call: the flow,
        the routing decision and the agent's Originate do not wait for Asterisk's reply. Only
        while no command is in flight (Asterisk answers in order)."""
        if self.closed or self.hung_up:
            return  # the next command reports it
        if self._lock.locked():
            raise RuntimeError(f"send_ahead({name!r}) while a command is in flight")
        line = encode_command(name, *args)
        self._decoder.expect_reply()
        self._writer.write(line)
        self._ahead.append(name)

    async def _read_ahead(self) -> None:
        """The replies to ``send_ahead``'s commands, in order: a hangup is noted, a refusal logged."""
        while self._ahead:
            name = self._ahead.pop(0)
            reply = await self._next_reply()
            if reply.code == 511 or (reply.code == 200 and reply.result_int == -1):
                self._mark_hangup(f"{name}: {reply.code}")
            elif reply.code in (510, 520):
                log.warn_event("agi.command.refused", command=name, code=reply.code)
            elif reply.code != 200:
                raise AgiProtocolError(f"{name}: unexpected reply code {reply.code}")

    async def _next_reply(self) -> Reply:
        while True:
            while self._frames:
                frame = self._frames.pop(0)
                if isinstance(frame, Hangup):
                    self._mark_hangup("HANGUP")
                    continue
                return frame
            data = await self._reader.read(65536)
            if not data:
                self._mark_hangup("eof")
                raise ConnectionResetError("Asterisk closed the FastAGI connection")
            try:
                frames = self._decoder.feed(data)
            except AgiProtocolError as exc:
                self._absorb_hangups(exc.frames)
                raise
            for decoded in frames:
                if isinstance(decoded, AgiEnvironment):
                    raise AgiProtocolError("a second environment block")
                self._frames.append(decoded)

    def take_early_frames(self, frames: list[AgiEnvironment | Reply | Hangup]) -> None:
        """Frames read together with the environment block (the server hands them over)."""
        for frame in frames:
            if isinstance(frame, AgiEnvironment):
                raise AgiProtocolError("a second environment block")
            self._frames.append(frame)

    def _absorb_hangups(self, frames: list[AgiEnvironment | Reply | Hangup]) -> None:
        if any(isinstance(f, Hangup) for f in frames):
            self._mark_hangup("HANGUP")

    def _mark_hangup(self, how: str) -> None:
        if not self.hung_up:
            self.hung_up = True
            log.event("agi.channel.hung_up", channel=self.env.channel, signal=how)

    def _check_hangup(self, name: str, reply: Reply) -> Reply:
        if reply.result_int == -1:
            self._mark_hangup("result=-1")
            raise AgiHangup(f"{name}: the caller hung up or was bridged away (result=-1)")
        return reply

    def close(self) -> None:
        """The engine closes the socket itself: Asterisk never does after a hangup."""
        if not self.closed:
            self.closed = True
            self._deadline.close()
            self._writer.close()

    def _wait_limit(self, wait_ms: int | None, timeout: float | None) -> float:
        """Time limit of a command that waits for the caller: its own wait plus the margin."""
        if timeout is not None:
            return timeout
        return self.command_timeout + max(wait_ms or 0, 0) / 1000

    # ------------------------------------------------------------------ typed API
    async def answer(self) -> None:
        self._check_hangup("ANSWER", await self.command("ANSWER"))

    def answer_ahead(self) -> None:
        """``ANSWER`` without waiting for its reply (``send_ahead``): the next command reads it."""
        self.send_ahead("ANSWER")

    async def stream_file(self, filename: str, escape_digits: str = "", offset: int = 0, *, timeout: float | None = None) -> StreamResult:
        """Play a prompt; a pressed escape digit stops it. ``timeout`` for prompts longer than
        the command time limit."""
        args = [filename, escape_digits] + ([str(offset)] if offset else [])
        reply = await self.command("STREAM FILE", *args, timeout=timeout)
        if reply.result_int == -1 and await self._alive_after_failed_play():
            log.warn_event("agi.prompt.missing", channel=self.env.channel, prompt=filename)
            return StreamResult(None, reply.endpos if reply.endpos is not None else offset)
        reply = self._check_hangup("STREAM FILE", reply)
        return StreamResult(_digit(reply.result_int), reply.endpos or 0)

    async def _alive_after_failed_play(self) -> bool:
        """STREAM FILE's ``200 result=-1`` is the caller gone (hung up, bridged away: ``HANGUP``
        follows) or a file Asterisk cannot open (res_agi: ``result=-1 endpos=<offset>``, the channel
        alive; seen on Asterisk 22.10.1 with a flow's prompt not installed). ``CHANNEL STATUS``
        tells them apart: refused on a dead channel (511, or at once after ``HANGUP``)."""
        if self.hung_up or self.closed:
            return False
        try:
            status = await self.command("CHANNEL STATUS")
        except AgiHangup:
            return False
        return status.result_int is not None and status.result_int >= 0

    async def get_data(self, filename: str, timeout_ms: int | None = None, max_digits: int | None = None, *, timeout: float | None = None) -> DigitsResult:
        """Play ``filename`` and collect up to ``max_digits`` digits (``#`` ends early).
        ``timeout_ms`` is Asterisk's wait for each digit."""
        args = [filename]
        if timeout_ms is not None or max_digits is not None:
            args.append(str(timeout_ms if timeout_ms is not None else 0))  # 0: Asterisk's default
        if max_digits is not None:
            args.append(str(max_digits))
        per_digit = max(timeout_ms or 0, 0)
        limit = timeout if timeout is not None else self.command_timeout + per_digit / 1000 * max(1, max_digits or 1)
        reply = self._check_hangup("GET DATA", await self.command("GET DATA", *args, timeout=limit))
        return DigitsResult(reply.result or "", reply.data == "timeout")

    async def wait_for_digit(self, timeout_ms: int, *, timeout: float | None = None) -> str | None:
        """One digit, or None when ``timeout_ms`` passes. ``-1`` (wait forever) needs ``timeout=``."""
        if timeout_ms < 0 and timeout is None:
            raise ValueError("wait_for_digit(-1) waits forever: give timeout= (seconds) as the limit")
        reply = await self.command("WAIT FOR DIGIT", str(timeout_ms), timeout=self._wait_limit(timeout_ms, timeout))
        return _digit(self._check_hangup("WAIT FOR DIGIT", reply).result_int)

    async def say_digits(self, digits: str, escape_digits: str = "", *, timeout: float | None = None) -> str | None:
        return _digit(self._check_hangup("SAY DIGITS", await self.command("SAY DIGITS", digits, escape_digits, timeout=timeout)).result_int)

    async def say_number(self, number: int, escape_digits: str = "", *, timeout: float | None = None) -> str | None:
        reply = await self.command("SAY NUMBER", str(int(number)), escape_digits, timeout=timeout)
        return _digit(self._check_hangup("SAY NUMBER", reply).result_int)

    async def say_date(self, epoch_seconds: int, escape_digits: str = "", *, timeout: float | None = None) -> str | None:
        reply = await self.command("SAY DATE", str(int(epoch_seconds)), escape_digits, timeout=timeout)
        return _digit(self._check_hangup("SAY DATE", reply).result_int)

    async def get_variable(self, name: str) -> str | None:
        """A channel variable's value, or None if it is not set (works after a hangup)."""
        reply = await self.command("GET VARIABLE", name)
        return reply.data if reply.result == "1" else None

    async def get_full_variable(self, expression: str, channel: str | None = None) -> str | None:
        """Evaluate a dialplan expression such as ``${CHANNEL}`` (works after a hangup)."""
        reply = await self.command("GET FULL VARIABLE", expression, *([channel] if channel else []))
        return reply.data if reply.result == "1" else None

    async def set_variable(self, name: str, value: str) -> None:
        await self.command("SET VARIABLE", name, value)

    async def exec(self, application: str, *args: str, timeout: float | None = None) -> int:
        """Run a dialplan application and return what it returns. Asterisk's EXEC takes the
        application and ONE options string: ``args`` are joined with ','. ``-1`` (the caller hung
        up or was bridged away) raises ``AgiHangup``; ``-2`` (no such application)
        ``AgiCommandError``. For MusicOnHold/Wait the time limit is the duration argument plus
        the margin unless ``timeout`` is given."""
        if timeout is None:
            duration = _app_duration(application, args)
            if duration is not None:
                timeout = duration + self.command_timeout
        options = ",".join(args)
        reply = await self.command("EXEC", application, *([options] if args else []), timeout=timeout)
        self._check_hangup("EXEC", reply)
        if reply.result_int == -2:
            raise AgiCommandError(f"EXEC {application}", reply)
        return reply.result_int or 0

    async def record_file(self, filename: str, fmt: str = "wav", escape_digits: str = "#", timeout_ms: int = 60000,
                          beep: bool = True, silence_s: int | None = None, *, timeout: float | None = None) -> RecordResult:
        """Record until an escape digit, ``timeout_ms`` (-1: no limit, then give ``timeout=``)
        or ``silence_s`` seconds of silence."""
        if timeout_ms < 0 and timeout is None:
            raise ValueError("record_file without a time limit: give timeout= (seconds)")
        args = [filename, fmt, escape_digits, str(timeout_ms)]
        if beep:
            args.append("beep")
        if silence_s:
            args.append(f"s={int(silence_s)}")
        reply = self._check_hangup("RECORD FILE", await self.command("RECORD FILE", *args, timeout=self._wait_limit(timeout_ms, timeout)))
        return RecordResult(_digit(reply.result_int), reply.endpos or 0, reply.data == "timeout")

    async def channel_status(self) -> ChannelStatus | int:
        code = (await self.command("CHANNEL STATUS")).result_int or 0
        try:
            return ChannelStatus(code)
        except ValueError:
            return code

    async def noop(self) -> None:
        await self.command("NOOP")

    async def hangup(self) -> None:
        """Hang the caller up (``200 result=1``; Asterisk then sends ``HANGUP``). Idempotent."""
        if self.hung_up or self.closed:
            self.hung_up = True
            return
        try:
            await self.command("HANGUP")
        except AgiHangup:
            pass
        self.hung_up = True
