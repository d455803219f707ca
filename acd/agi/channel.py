"""A typed channel API over one FastAGI session (implements ``acd.ports.CallChannel``).

Results come back as typed values (digits as characters, not ASCII codes). Failures are distinct
exceptions: ``AgiHangup`` (the caller hung up or was bridged away), ``AgiTimeout``,
``AgiProtocolError``, ``AgiCommandError``. After a hangup, channel commands raise ``AgiHangup``
at once (Asterisk would answer 511), while GET/SET VARIABLE, EXEC and NOOP still go through.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Callable

from acd.agi.codec import AgiEngineDecoder, AgiEnvironment, Hangup, Reply, encode_command
from acd.agi.errors import AgiCommandError, AgiHangup, AgiProtocolError, AgiTimeout
from acd.logs import get_logger
from acd.ports import DigitsResult, StreamResult

log = get_logger(__name__)

# Commands Asterisk still runs on a dead channel (res_agi marks them dead-safe).
DEAD_OK = {"GET VARIABLE", "GET FULL VARIABLE", "SET VARIABLE", "EXEC", "NOOP", "VERBOSE", "DATABASE GET", "DATABASE PUT", "ASYNCAGI BREAK"}


@dataclass(frozen=True)
class RecordResult:
    digit: str | None
    endpos: int
    timed_out: bool


def _digit(code: int | None) -> str | None:
    if code is None or code <= 0:
        return None
    return chr(code)


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

    @property
    def call_id(self) -> str:
        return self.env.uniqueid

    # ------------------------------------------------------------------ core
    async def command(self, name: str, *args: str, timeout: float | None = None) -> Reply:
        """Send one command and return its reply. A timeout or cancellation closes the session:
        a late reply would otherwise be read as the answer to the next command."""
        if self.closed:
            raise AgiHangup(f"{name}: the FastAGI session is closed")
        if self.hung_up and name not in DEAD_OK:
            raise AgiHangup(f"{name}: the caller has hung up")
        async with self._lock:
            started = time.perf_counter()
            try:
                self._writer.write(encode_command(name, *args))
                # asyncio.timeout: no extra task per command (wait_for makes one in 3.11), and a
                # cancellation is never swallowed
                async with asyncio.timeout(timeout or self.command_timeout):
                    reply = await self._next_reply()
            except TimeoutError:
                self.close()
                raise AgiTimeout(f"{name}: no reply within {timeout or self.command_timeout}s; session closed") from None
            except asyncio.CancelledError:
                self.close()
                raise
            except (ConnectionError, OSError) as exc:
                self.close()
                raise AgiHangup(f"{name}: connection lost ({exc!r})") from None
            finally:
                if self._on_command:
                    self._on_command(name, time.perf_counter() - started)
        if reply.code == 511:
            self.hung_up = True
            raise AgiHangup(f"{name}: the channel is dead (511)")
        if reply.code in (510, 520):
            raise AgiCommandError(name, reply)
        if reply.code != 200:
            raise AgiProtocolError(f"{name}: unexpected reply code {reply.code}")
        return reply

    async def _next_reply(self) -> Reply:
        while True:
            while self._frames:
                frame = self._frames.pop(0)
                if isinstance(frame, Hangup):
                    self._mark_hangup()
                    continue
                return frame
            data = await self._reader.read(65536)
            if not data:
                self._mark_hangup()
                raise ConnectionResetError("Asterisk closed the FastAGI connection")
            for frame in self._decoder.feed(data):
                if isinstance(frame, AgiEnvironment):
                    raise AgiProtocolError("a second environment block")
                self._frames.append(frame)

    def _mark_hangup(self) -> None:
        if not self.hung_up:
            self.hung_up = True
            log.event("agi.hangup_notice", channel=self.env.channel)

    def _check_hangup(self, name: str, reply: Reply) -> Reply:
        if reply.result_int == -1:
            self.hung_up = True
            raise AgiHangup(f"{name}: the caller hung up or was bridged away (result=-1)")
        return reply

    def close(self) -> None:
        """The engine closes the socket itself: Asterisk never does after a hangup."""
        if not self.closed:
            self.closed = True
            self._writer.close()

    # ------------------------------------------------------------------ typed API
    async def answer(self) -> None:
        self._check_hangup("ANSWER", await self.command("ANSWER"))

    async def stream_file(self, filename: str, escape_digits: str = "", offset: int = 0, *, timeout: float | None = None) -> StreamResult:
        args = [filename, escape_digits] + ([str(offset)] if offset else [])
        reply = self._check_hangup("STREAM FILE", await self.command("STREAM FILE", *args, timeout=timeout))
        return StreamResult(_digit(reply.result_int), reply.endpos or 0)

    async def get_data(self, filename: str, timeout_ms: int | None = None, max_digits: int | None = None) -> DigitsResult:
        args = [filename]
        if timeout_ms is not None:
            args.append(str(timeout_ms))
            if max_digits is not None:
                args.append(str(max_digits))
        limit = self.command_timeout + (timeout_ms or 0) / 1000 * max(1, max_digits or 1)
        reply = self._check_hangup("GET DATA", await self.command("GET DATA", *args, timeout=limit))
        return DigitsResult(reply.result or "", reply.data == "timeout")

    async def wait_for_digit(self, timeout_ms: int) -> str | None:
        reply = await self.command("WAIT FOR DIGIT", str(timeout_ms), timeout=self.command_timeout + max(timeout_ms, 0) / 1000)
        return _digit(self._check_hangup("WAIT FOR DIGIT", reply).result_int)

    async def say_digits(self, digits: str, escape_digits: str = "") -> str | None:
        return _digit(self._check_hangup("SAY DIGITS", await self.command("SAY DIGITS", digits, escape_digits)).result_int)

    async def say_number(self, number: int, escape_digits: str = "") -> str | None:
        return _digit(self._check_hangup("SAY NUMBER", await self.command("SAY NUMBER", str(int(number)), escape_digits)).result_int)

    async def say_date(self, epoch_seconds: int, escape_digits: str = "") -> str | None:
        return _digit(self._check_hangup("SAY DATE", await self.command("SAY DATE", str(int(epoch_seconds)), escape_digits)).result_int)

    async def get_variable(self, name: str) -> str | None:
        reply = await self.command("GET VARIABLE", name)
        return reply.data if reply.result == "1" else None

    async def get_full_variable(self, expression: str) -> str | None:
        reply = await self.command("GET FULL VARIABLE", expression)
        return reply.data if reply.result == "1" else None

    async def set_variable(self, name: str, value: str) -> None:
        await self.command("SET VARIABLE", name, value)

    async def exec(self, application: str, *args: str, timeout: float | None = None) -> int:
        """Run a dialplan application. Arguments are joined with ',' into its one options string.
        ``-1`` (the caller hung up or was bridged away) raises ``AgiHangup``."""
        options = ",".join(args)
        reply = await self.command("EXEC", application, *([options] if args else []), timeout=timeout)
        return self._check_hangup("EXEC", reply).result_int or 0

    async def record_file(self, filename: str, fmt: str = "wav", escape_digits: str = "#", timeout_ms: int = 60000, beep: bool = True, silence_s: int | None = None) -> RecordResult:
        args = [filename, fmt, escape_digits, str(timeout_ms)]
        if beep:
            args.append("beep")
        if silence_s:
            args.append(f"s={silence_s}")
        reply = self._check_hangup("RECORD FILE", await self.command("RECORD FILE", *args, timeout=self.command_timeout + timeout_ms / 1000))
        return RecordResult(_digit(reply.result_int), reply.endpos or 0, reply.data == "timeout")

    async def channel_status(self) -> int:
        return (await self.command("CHANNEL STATUS")).result_int or 0

    async def noop(self) -> None:
        await self.command("NOOP")

    async def hangup(self) -> None:
        try:
            await self.command("HANGUP")
        except AgiHangup:
            pass
        self.hung_up = True
