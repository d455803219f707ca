"""The Asterisk side of a FastAGI session: the simulator connects to the engine, sends the
environment block, and executes the engine's commands against a scripted caller.

Faithful to the recordings: ``200 result=-1`` then an unsolicited ``HANGUP`` when the caller
hangs up or is bridged away (about 43 ms later), ``511`` for channel commands afterwards while
GET/SET VARIABLE, EXEC and NOOP still work, and the socket is never closed from this side.
"""

from __future__ import annotations

import asyncio
import re
from typing import TYPE_CHECKING

from acd.agi.codec import AgiAsteriskDecoder, AgiCommand, encode_environment, encode_hangup, encode_reply, encode_usage_error
from acd.logs import get_logger
from acd.sim.model import CallerScript, CallOutcome

if TYPE_CHECKING:
    from acd.sim.channels import SimChannel
    from acd.sim.pbx import SimPbx

log = get_logger(__name__)

HANGUP_NOTICE_DELAY_S = 0.043
DEAD_OK = {"GET VARIABLE", "GET FULL VARIABLE", "SET VARIABLE", "EXEC", "NOOP", "VERBOSE"}
_VAR_REF = re.compile(r"\$\{([^}]+)\}")


class _Interrupted(Exception):
    """The caller hung up or was bridged away during a command."""


class CallerKeys:
    """Feeds the script's DTMF groups to input requests (see ``CallerScript``)."""

    def __init__(self, script: CallerScript | None) -> None:
        self.groups = script.groups() if script else []
        self.current: list[str] = []
        self.think_s = script.think_s if script else 0.4
        self.inter_s = script.inter_digit_s if script else 0.15
        self.fresh = False  # the current group has not started yet

    def on_prompt(self) -> None:
        if not self.current and self.groups:
            self.current = list(self.groups.pop(0))
            self.fresh = True

    def next_delay(self) -> float | None:
        if not self.current:
            return None
        return self.think_s if self.fresh else self.inter_s

    def take(self) -> str:
        self.fresh = False
        return self.current.pop(0)


class AgiCallRunner:
    def __init__(self, pbx: "SimPbx", channel: "SimChannel", script_name: str, *, script: CallerScript | None, outcome: CallOutcome | None) -> None:
        self.pbx = pbx
        self.ch = channel
        self.script_name = script_name
        self.script = script
        self.outcome = outcome
        self.keys = CallerKeys(script)
        self.dead = False
        self.hung_up_by_engine = False
        self.transferred_to: str | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._last_audible = pbx.now()

    def _env(self) -> dict[str, str]:
        ch = self.ch
        return {
            "agi_network": "yes",
            "agi_network_script": self.script_name,
            "agi_request": f"agi://{self.pbx.agi_host}:{self.pbx.agi_port}/{self.script_name}",
            "agi_channel": ch.name,
            "agi_language": ch.language,
            "agi_type": ch.name.split("/", 1)[0],
            "agi_uniqueid": ch.uniqueid,
            "agi_version": "22.10.1",
            "agi_callerid": ch.caller_num,
            "agi_calleridname": ch.caller_name,
            "agi_callingpres": "0",
            "agi_callingani2": "0",
            "agi_callington": "0",
            "agi_callingtns": "0",
            "agi_dnid": ch.exten if self.script_name == "ivr" else "unknown",
            "agi_rdnis": "unknown",
            "agi_context": ch.context,
            "agi_extension": ch.exten,
            "agi_priority": str(ch.priority),
            "agi_enhanced": "0.0",
            "agi_accountcode": "",
            "agi_threadid": str(140000000000000 + id(ch) % 1000000),
        }

    async def run(self) -> None:
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(self.pbx.agi_host, self.pbx.agi_port), 5.0)
        except (OSError, asyncio.TimeoutError) as exc:
            log.warn_event("sim.agi.unreachable", error=repr(exc), channel=self.ch.name)
            return  # Asterisk: AGISTATUS=FAILURE, the dialplan goes on (acd-fallback)
        self._writer = writer
        self.ch.application, self.ch.app_data = "AGI", f"agi://{self.pbx.agi_host}:{self.pbx.agi_port}/{self.script_name}"
        self.pbx.event("AGIExecStart", self.ch.headers() + [("Command", "session"), ("CommandId", "0")], privilege="agi,all")
        writer.write(encode_environment(self._env()))
        decoder = AgiAsteriskDecoder()
        watcher = asyncio.ensure_future(self._watch_gone())
        try:
            while True:
                data = await reader.read(65536)
                if not data:
                    break  # the engine closed the session
                for cmd in decoder.feed(data):
                    reply = await self._execute(cmd)
                    if not writer.is_closing():
                        writer.write(reply)
        except (ConnectionError, OSError):
            pass
        finally:
            watcher.cancel()
            writer.close()
            self.ch.application = ""

    async def _watch_gone(self) -> None:
        """Send the unsolicited HANGUP when the caller goes or is bridged away while idle."""
        await self._gone()
        await self.pbx.sleep(HANGUP_NOTICE_DELAY_S)
        if not self.dead:
            self.dead = True
            if self._writer and not self._writer.is_closing():
                self._writer.write(encode_hangup())

    async def _gone(self) -> None:
        waits = [asyncio.ensure_future(self.ch.hangup_event.wait()), asyncio.ensure_future(self.ch.bridged_event.wait())]
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waits:
                w.cancel()

    def _is_gone(self) -> bool:
        return self.ch.hangup_event.is_set() or self.ch.bridged_event.is_set()

    async def _wait(self, seconds: float | None) -> bool:
        """Wait (scaled); True if interrupted by hangup/bridge."""
        if self._is_gone():
            return True
        gone = asyncio.ensure_future(self._gone())
        try:
            done, _ = await asyncio.wait({gone}, timeout=None if seconds is None else max(0.0, seconds) * self.pbx.time_scale)
        finally:
            gone.cancel()
        return bool(done)

    def _audible(self, start: float) -> None:
        if self.outcome is not None:
            gap = start - self._last_audible
            self.outcome.max_silence_s = max(self.outcome.max_silence_s, gap / max(self.pbx.time_scale, 1e-9))

    def _audible_end(self) -> None:
        self._last_audible = self.pbx.now()

    def _interrupted_reply(self, endpos: int | None = None) -> bytes:
        self.dead = True
        # the unsolicited HANGUP follows ~43 ms later (scheduled by _watch_gone -> but mark now)
        self.pbx.spawn(self._late_hangup_notice(), f"sim-agi-hangup-{self.ch.uniqueid}")
        return encode_reply(200, -1, endpos=endpos)

    async def _late_hangup_notice(self) -> None:
        await self.pbx.sleep(HANGUP_NOTICE_DELAY_S)
        if self._writer and not self._writer.is_closing():
            self._writer.write(encode_hangup())

    # ------------------------------------------------------------------ commands
    async def _execute(self, cmd: AgiCommand) -> bytes:
        if (self.dead or self._is_gone()) and cmd.name not in DEAD_OK:
            if self._is_gone() and not self.dead:
                return self._interrupted_reply()
            return encode_reply(511)
        handler = getattr(self, "_cmd_" + cmd.name.replace(" ", "_").lower(), None)
        if handler is None:
            return encode_reply(510)
        try:
            return await handler(*cmd.args)
        except TypeError:
            return encode_usage_error([f"Usage: {cmd.name} ..."])

    async def _cmd_answer(self) -> bytes:
        return encode_reply(200, 0)

    async def _cmd_noop(self, *args: str) -> bytes:
        return encode_reply(200, 0)

    async def _cmd_verbose(self, *args: str) -> bytes:
        return encode_reply(200, 1)

    async def _cmd_channel_status(self, *args: str) -> bytes:
        return encode_reply(200, int(self.ch.state))

    async def _cmd_hangup(self, *args: str) -> bytes:
        self.hung_up_by_engine = True
        self.pbx.hangup_channel(self.ch, cause=16, by="engine")
        return encode_reply(200, 1)

    def _expand(self, text: str) -> str:
        def var(m: re.Match) -> str:
            return self._variable(m.group(1)) or ""
        return _VAR_REF.sub(var, text)

    def _variable(self, name: str) -> str | None:
        ch = self.ch
        builtin = {
            "CHANNEL": ch.name, "UNIQUEID": ch.uniqueid, "CALLERID(num)": ch.caller_num,
            "CALLERID(name)": ch.caller_name, "CHANNEL(language)": ch.language, "EXTEN": ch.exten,
            "CONTEXT": ch.context, "LINKEDID": ch.linkedid, "CHANNEL(linkedid)": ch.linkedid,
        }
        if name in builtin:
            return builtin[name]
        return ch.variables.get(name)

    async def _cmd_get_variable(self, name: str) -> bytes:
        value = self._variable(name)
        return encode_reply(200, 1, data=value) if value is not None else encode_reply(200, 0)

    async def _cmd_get_full_variable(self, expr: str, *rest: str) -> bytes:
        return encode_reply(200, 1, data=self._expand(expr))

    async def _cmd_set_variable(self, name: str, value: str) -> bytes:
        if name == "CHANNEL(language)":
            self.ch.language = value
        else:
            self.ch.variables[name] = value
        return encode_reply(200, 1)

    async def _play(self, filename: str, escape: str) -> tuple[str | None, int, bool]:
        """Play a prompt; returns (digit pressed, endpos, interrupted by hangup/bridge)."""
        if self.outcome is not None:
            self.outcome.prompts.append(filename)
        self.keys.on_prompt()
        duration = self.pbx.sound_seconds(filename)
        start = self.pbx.now()
        self._audible(start)
        delay = self.keys.next_delay()
        digit = None
        if delay is not None and escape and self.keys.current[0] in escape and delay < duration:
            if await self._wait(delay):
                return None, int(8000 * delay), True
            digit = self.keys.take()
            self._sent(digit)
            played = delay
        else:
            if await self._wait(duration):
                return None, int(8000 * (self.pbx.now() - start) / self.pbx.time_scale), True
            played = duration
        self._audible_end()
        return digit, int(8000 * played), False

    def _sent(self, digit: str) -> None:
        if self.outcome is not None:
            self.outcome.digits_sent += digit
        self.pbx.event("DTMFBegin", self.ch.headers() + [("Digit", digit), ("Direction", "Received")], privilege="dtmf,all")
        self.pbx.event("DTMFEnd", self.ch.headers() + [("Digit", digit), ("DurationMs", "120"), ("Direction", "Received")], privilege="dtmf,all")

    async def _cmd_stream_file(self, filename: str, escape: str = "", offset: str = "0") -> bytes:
        digit, endpos, gone = await self._play(filename, escape)
        if gone:
            return self._interrupted_reply(endpos)
        return encode_reply(200, ord(digit) if digit else 0, endpos=endpos)

    async def _collect(self, first_timeout_s: float, max_digits: int, terminators: str = "#") -> tuple[str, bool, bool]:
        digits = ""
        timeout = first_timeout_s
        while len(digits) < max_digits:
            delay = self.keys.next_delay()
            if delay is None or delay > timeout:
                if await self._wait(timeout):
                    return digits, False, True
                return digits, True, False
            if await self._wait(delay):
                return digits, False, True
            d = self.keys.take()
            self._sent(d)
            if d in terminators:
                return digits, False, False
            digits += d
        return digits, False, False

    async def _cmd_get_data(self, filename: str, timeout_ms: str = "6000", max_digits: str = "1024") -> bytes:
        digit, endpos, gone = await self._play(filename, "0123456789*#")
        if gone:
            return self._interrupted_reply()
        digits = ""
        if digit is not None:
            if digit == "#":
                return encode_reply(200, "")
            digits = digit
        more, timed_out, gone = await self._collect(int(timeout_ms) / 1000, int(max_digits) - len(digits))
        if gone:
            return self._interrupted_reply()
        digits += more
        return encode_reply(200, digits, data="timeout" if timed_out else None)

    async def _cmd_wait_for_digit(self, timeout_ms: str) -> bytes:
        t = int(timeout_ms)
        delay = self.keys.next_delay()
        wait_s = None if t < 0 else t / 1000
        if delay is None or (wait_s is not None and delay > wait_s):
            if await self._wait(wait_s):
                return self._interrupted_reply()
            return encode_reply(200, 0)
        if await self._wait(delay):
            return self._interrupted_reply()
        d = self.keys.take()
        self._sent(d)
        return encode_reply(200, ord(d))

    async def _say(self, text: str, escape: str) -> bytes:
        if self.outcome is not None:
            self.outcome.prompts.append(f"say:{text}")
        self._audible(self.pbx.now())
        if await self._wait(0.3 * max(1, len(text))):
            return self._interrupted_reply()
        self._audible_end()
        return encode_reply(200, 0)

    async def _cmd_say_digits(self, digits: str, escape: str = "") -> bytes:
        return await self._say(digits, escape)

    async def _cmd_say_number(self, number: str, escape: str = "", *rest: str) -> bytes:
        return await self._say(number, escape)

    async def _cmd_say_alpha(self, text: str, escape: str = "") -> bytes:
        return await self._say(text, escape)

    async def _cmd_say_date(self, epoch: str, escape: str = "") -> bytes:
        return await self._say(f"date:{epoch}", escape)

    async def _cmd_record_file(self, filename: str, fmt: str, escape: str, timeout_ms: str, *rest: str) -> bytes:
        if self.outcome is not None:
            self.outcome.prompts.append(f"record:{filename}")
        seconds = min(int(timeout_ms) / 1000, 3.0)
        if await self._wait(seconds):
            return self._interrupted_reply()
        return encode_reply(200, 0, endpos=int(8000 * seconds))

    async def _cmd_exec(self, app: str, options: str = "") -> bytes:
        name = app.lower()
        options = self._expand(options)
        if self._is_gone():
            return self._interrupted_reply() if not self.dead else encode_reply(200, -1)
        if name == "musiconhold":
            parts = options.split(",")
            seconds = float(parts[1]) if len(parts) > 1 and parts[1] else None
            self.ch.in_moh = True
            self.ch.moh_class = parts[0] or "default"
            self.pbx.event("MusicOnHoldStart", self.ch.headers() + [("Class", self.ch.moh_class)])
            self._audible(self.pbx.now())
            gone = await self._wait(seconds)
            if self.ch.in_moh:
                self.ch.in_moh = False
                if not self.ch.hangup_event.is_set():
                    self.pbx.event("MusicOnHoldStop", self.ch.headers())
            if gone:
                return self._interrupted_reply()
            self._audible_end()
            return encode_reply(200, 0)
        if name == "playback":
            for f in options.split(",")[0].split("&"):
                _, _, gone = await self._play(f, "")
                if gone:
                    return self._interrupted_reply()
            return encode_reply(200, 0)
        if name == "wait":
            if await self._wait(float(options or 0)):
                return self._interrupted_reply()
            return encode_reply(200, 0)
        if name in ("dial", "goto", "voicemail", "queue"):
            self.transferred_to = f"{app}({options})"
            if self.outcome is not None:
                self.outcome.transferred_to = self.transferred_to
            return encode_reply(200, 0)
        if name in ("set", "noop", "mixmonitor", "stopmixmonitor", "answer", "userevent"):
            return encode_reply(200, 0)
        return encode_reply(200, -2)  # Asterisk: application not found
