"""The Asterisk side of a FastAGI session: the simulator connects to the engine, sends the
environment block, and executes the engine's commands against the (scripted) channel.

Faithful to the recordings (shared/asterisk/transcripts/agi_session_*.txt and
connect/exp2_fastagi_bridged_away):
- the 22-line environment block, then one reply per command, each ending in ``\\n``;
- when the caller hangs up, the pending command gets ``200 result=-1`` and an unsolicited
  ``HANGUP`` follows about 1 ms later; when Bridge() pulls the caller away (masquerade) or after
  the AGI ``HANGUP`` command it follows about 43 ms later;
- from then on channel commands get ``511 Command Not Permitted on a dead channel or intercept
  routine`` while GET/SET VARIABLE, EXEC and NOOP still work; after a bridge the session belongs
  to ``Surrogate/<channel>`` with a new uniqueid and produces no AMI events;
- Asterisk never closes the socket itself (unless AGIEXITONHANGUP=yes): the engine must.
"""

from __future__ import annotations

import asyncio
import random
import re
from typing import TYPE_CHECKING, Any

from acd.agi.codec import DEAD_OK_COMMANDS, AgiAsteriskDecoder, AgiCommand, encode_environment, encode_hangup, encode_reply, encode_usage_error
from acd.logs import get_logger
from acd.sim.keys import ALL_KEYS
from acd.sim.model import CallOutcome, ChannelState

if TYPE_CHECKING:
    from acd.sim.channels import SimChannel
    from acd.sim.pbx import SimPbx

log = get_logger(__name__)

CONNECT_TIMEOUT_S = 5.0  # wall seconds
HANGUP_NOTICE_S = 0.001  # caller hung up: HANGUP follows the -1 almost at once
DEAD_NOTICE_S = 0.043  # bridged away (masquerade) or AGI HANGUP: ~43 ms later
DEFAULT_GET_DATA_TIMEOUT_MS = 6000
DEAD_OK = DEAD_OK_COMMANDS  # res_agi's list: the codec's
RESULT_TEXT = {200: "Success", 510: "Invalid or unknown command", 511: "Command Not Permitted on a dead channel or intercept routine", 520: "Usage"}

# Minimum number of arguments after the command words; fewer -> 520 usage.
MIN_ARGS = {
    "STREAM FILE": 2, "CONTROL STREAM FILE": 2, "GET DATA": 1, "GET OPTION": 2, "WAIT FOR DIGIT": 1,
    "SAY DIGITS": 2, "SAY NUMBER": 2, "SAY ALPHA": 2, "SAY DATE": 2, "SAY TIME": 2, "SAY DATETIME": 2,
    "GET VARIABLE": 1, "GET FULL VARIABLE": 1, "SET VARIABLE": 2, "EXEC": 1, "RECORD FILE": 4,
    "VERBOSE": 1, "SET MUSIC": 1, "SET CALLERID": 1, "SET CONTEXT": 1, "SET EXTENSION": 1,
    "SET PRIORITY": 1, "DATABASE GET": 2, "DATABASE PUT": 3, "DATABASE DEL": 2, "DATABASE DELTREE": 1,
    "SAY PHONETIC": 2, "SET AUTOHANGUP": 1,
}
# The description paragraphs Asterisk prints in a 520 (only GET DATA is recorded).
USAGE = {
    "GET DATA": ["Stream the given <replaceable>file</replaceable>, and receive DTMF data.", "Returns the digits received from the channel at the other end."],
    "STREAM FILE": ["Send the given file, allowing playback to be interrupted by the given digits, if any.", "Use double quotes for the digits if you wish none to be permitted. If offset is provided then the audio will seek to sample offset before play starts."],
    "WAIT FOR DIGIT": ["Waits up to <replaceable>timeout</replaceable> milliseconds for channel to receive a DTMF digit. Returns <literal>-1</literal> on channel failure, <literal>0</literal> if no digit is received in the timeout, or the numerical value of the ascii of the digit if one is received. Use -1 for the <replaceable>timeout</replaceable> value if you desire the call to block indefinitely."],
    "SET VARIABLE": ["Sets a variable to the current channel."],
    "GET VARIABLE": ["Returns <literal>0</literal> if <replaceable>variablename</replaceable> is not set. Returns <literal>1</literal> if <replaceable>variablename</replaceable> is set and returns the variable in parentheses."],
    "EXEC": ["Executes <replaceable>application</replaceable> with given <replaceable>options</replaceable>."],
}
_VAR_REF = re.compile(r"\$\{([^{}]+)\}")
_SAY_SECONDS_PER_SOUND = 0.8


class _Dead(Exception):
    """Raised inside a command when the channel went away (hangup or bridged away)."""


class AgiSession:
    def __init__(self, pbx: SimPbx, channel: SimChannel, script_name: str, outcome: CallOutcome | None) -> None:
        self.pbx = pbx
        self.ch = channel
        self.script_name = script_name
        self.outcome = outcome
        self.request = f"agi://{pbx.agi_host}:{pbx.agi_port}/{script_name}"
        self.surrogate_name: str | None = None
        self.surrogate_uid: str | None = None
        self.hangup_by_command = False
        self.exit_on_hangup = False
        self.commands = 0
        self._writer: asyncio.StreamWriter | None = None
        self._reply_done = asyncio.Event()
        self._reply_done.set()
        self._hangup_written = asyncio.Event()
        self._closed = False

    # ------------------------------------------------------------------ lifecycle
    def environment(self) -> dict[str, str]:
        ch = self.ch
        return {
            "agi_network": "yes",
            "agi_network_script": self.script_name,
            "agi_request": self.request,
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
            "agi_dnid": ch.dnid or "unknown",
            "agi_rdnis": "unknown",
            "agi_context": ch.context,
            "agi_extension": ch.exten,
            "agi_priority": str(ch.priority),
            "agi_enhanced": "0.0",
            "agi_accountcode": "",
            "agi_threadid": str(139900000000000 + random.randrange(10**9)),
        }

    async def run(self) -> str:
        """Run the session until the engine closes it. Returns AGISTATUS: ``SUCCESS``,
        ``FAILURE`` (engine unreachable), ``HANGUP`` (the channel hung up) or ``YANKED``
        (Bridge() pulled the channel away; the session belonged to its Surrogate)."""
        try:
            async with asyncio.timeout(CONNECT_TIMEOUT_S):  # no extra task: a connection made as
                reader, writer = await asyncio.open_connection(self.pbx.agi_host, self.pbx.agi_port)  # we are cancelled is not leaked
        except (OSError, TimeoutError) as exc:
            log.warn_event("sim.agi.unreachable", channel=self.ch.name, script=self.script_name, error=type(exc).__name__)
            return "FAILURE"
        self._writer = writer
        self.exit_on_hangup = self.ch.variables.get("AGIEXITONHANGUP", "").lower() in ("yes", "true", "1", "on")
        self.ch.agi = self
        self.pbx.agi_sessions.add(self)
        if self.outcome is not None:
            self.outcome.agi_sessions += 1
        writer.write(encode_environment(self.environment()))
        watcher = self.pbx.spawn(self._watch(), f"sim-agi-watch-{self.ch.uniqueid}")
        decoder = AgiAsteriskDecoder()
        try:
            while not self._closed:
                data = await reader.read(65536)
                if not data:
                    break  # the engine closed the session
                for cmd in decoder.feed(data):
                    reply = await self._handle(cmd)
                    self._write(reply)
        except (ConnectionError, OSError):
            pass
        finally:
            watcher.cancel()
            self.close()
            if self.ch.agi is self:
                self.ch.agi = None
            self.pbx.agi_sessions.discard(self)
        if self.surrogate_name is not None:
            return "YANKED"
        return "HANGUP" if self.ch.gone.is_set() else "SUCCESS"

    def close(self) -> None:
        self._closed = True
        if self._writer is not None and not self._writer.is_closing():
            self._writer.close()

    def _write(self, data: bytes) -> None:
        if self._writer is not None and not self._writer.is_closing():
            self._writer.write(data)

    def yank(self, surrogate_uid: str) -> None:
        """Bridge() masqueraded the channel: this session now drives ``Surrogate/<name>``."""
        self.surrogate_name = f"Surrogate/{self.ch.name}"
        self.surrogate_uid = surrogate_uid
        self._vars = dict(self.ch.variables)

    def _dead(self) -> bool:
        return self.surrogate_name is not None or self.ch.gone.is_set() or self.ch.async_goto.is_set()

    def _interrupts(self) -> set[asyncio.Future[Any]]:
        return {asyncio.ensure_future(e.wait()) for e in (self.ch.gone, self.ch.yanked, self.ch.async_goto)}

    async def _watch(self) -> None:
        """Send the unsolicited HANGUP once the channel is gone or bridged away, after the reply
        of the command that was running at that moment."""
        waits = self._interrupts()
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waits:
                w.cancel()
        await self._reply_done.wait()
        slow = self.ch.yanked.is_set() or self.ch.async_goto.is_set() or self.hangup_by_command
        if not self.exit_on_hangup:  # recorded: with AGIEXITONHANGUP the HANGUPs come at once
            await self.pbx.time.sleep(DEAD_NOTICE_S if slow else HANGUP_NOTICE_S)
        self._write(encode_hangup())
        self._hangup_written.set()
        if self.exit_on_hangup:  # AGIEXITONHANGUP=yes: a second HANGUP, then Asterisk closes
            self._write(encode_hangup())
            self.close()

    # ------------------------------------------------------------------ commands
    async def _handle(self, cmd: AgiCommand) -> bytes:
        self.commands += 1
        dead_at_start = self._dead()
        visible = self.surrogate_name is None  # a Surrogate's commands never show on AMI
        command_id = str(random.randrange(10**8, 2**31))
        if visible:
            self.pbx.emit("AGIExecStart", self.ch.headers() + [("CommandId", command_id), ("Command", cmd.raw)], privilege="agi,all")
        self._reply_done.clear()
        try:
            code, reply = await self._execute(cmd, dead_at_start)
        finally:
            self._reply_done.set()
        if dead_at_start and not self._hangup_written.is_set():
            await self._hangup_written.wait()  # recorded: HANGUP comes before the 511 of a later command
        if visible and self.surrogate_name is None:
            self.pbx.emit("AGIExecEnd", self.ch.headers() + [("CommandId", command_id), ("Command", cmd.raw), ("ResultCode", str(code)), ("Result", RESULT_TEXT.get(code, "Success"))], privilege="agi,all")
        return reply

    async def _execute(self, cmd: AgiCommand, dead: bool) -> tuple[int, bytes]:
        if not cmd.known:
            return 510, encode_reply(510)
        handler = getattr(self, "_cmd_" + cmd.name.replace(" ", "_").lower(), None)
        if handler is None:  # a real command the simulator does not model: a harmless success
            log.warn_event("sim.agi.command_not_modelled", command=cmd.name)
            handler = self._cmd_noop
        if dead and cmd.name not in DEAD_OK:
            return 511, encode_reply(511)
        if len(cmd.args) < MIN_ARGS.get(cmd.name, 0):
            return 520, encode_usage_error(USAGE.get(cmd.name, [f"Usage: {cmd.name.lower()}"]))
        try:
            return 200, await handler(*cmd.args)
        except (ValueError, TypeError) as exc:
            log.warn_event("sim.agi.usage", command=cmd.name, error=repr(exc))
            return 520, encode_usage_error(USAGE.get(cmd.name, [f"Usage: {cmd.name.lower()}"]))

    # ------------------------------------------------------------------ waiting and playing
    async def _wait(self, seconds: float | None, accept: str = "") -> tuple[str, str | None]:
        """Wait up to ``seconds`` (simulated; None: forever) for a key among ``accept``.
        Returns ``("key", digit)``, ``("timeout", None)`` or ``("dead", None)``."""
        if self._dead():
            return "dead", None
        waits: set[asyncio.Future[Any]] = self._interrupts()
        pad = self.ch.keypad
        key_fut = pad.listen(accept) if (pad is not None and accept) else None
        if key_fut is not None:
            waits.add(key_fut)
        try:
            await asyncio.wait(waits, timeout=None if seconds is None else self.pbx.time.real(seconds), return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waits:
                if w is not key_fut:
                    w.cancel()
            if key_fut is not None and pad is not None:
                pad.stop(key_fut)
        if key_fut is not None and key_fut.done() and not key_fut.cancelled():
            return "key", key_fut.result()
        if self._dead():
            return "dead", None
        return "timeout", None

    def _hear(self, activity: str | None, listening: bool = False) -> None:
        self.pbx.hear(self.ch, activity=activity, listening=listening)

    async def _play(self, name: str, accept: str = "", offset: int = 0) -> tuple[str, str | None, int]:
        """Play one sound file. Returns (status, key, endpos in 8 kHz samples)."""
        if self._dead():
            return "dead", None, offset
        if self.outcome is not None:
            self.outcome.prompts.append(name)
        duration = max(0.0, self.pbx.sound_length(name) - offset / 8000)
        t0 = self.pbx.time.now()
        self._hear("prompt", listening=bool(accept))
        status, key = await self._wait(duration, accept)
        played = min(self.pbx.time.now() - t0, duration)
        if not self._dead():
            self._hear(None)
        return status, key, offset + int(played * 8000)

    async def _say(self, label: str, sounds: int, escape: str) -> bytes:
        if self._dead():
            return encode_reply(200, -1)
        if self.outcome is not None:
            self.outcome.prompts.append(label)
        self._hear("prompt", listening=bool(escape))
        status, key = await self._wait(sounds * _SAY_SECONDS_PER_SOUND, escape)
        if status == "dead":
            return encode_reply(200, -1)
        self._hear(None)
        return encode_reply(200, ord(key) if key else 0)

    # ------------------------------------------------------------------ channel commands
    async def _cmd_answer(self, *args: str) -> bytes:
        if self.ch.state != ChannelState.UP:
            self.pbx.answer(self.ch)
        return encode_reply(200, 0)

    async def _cmd_noop(self, *args: str) -> bytes:
        return encode_reply(200, 0)

    async def _cmd_verbose(self, *args: str) -> bytes:
        return encode_reply(200, 1)

    async def _cmd_asyncagi_break(self, *args: str) -> bytes:
        return encode_reply(200, 0)

    async def _cmd_channel_status(self, *args: str) -> bytes:
        return encode_reply(200, int(self.ch.state))

    async def _cmd_hangup(self, *args: str) -> bytes:
        if args and args[0] not in (self.ch.name, self.ch.uniqueid):
            other = self.pbx.find_channel(args[0])
            if other is None:
                return encode_reply(200, -1)
            self.pbx.request_hangup(other, cause=16, by="engine", soft_cause=32)
            return encode_reply(200, 1)
        self.hangup_by_command = True
        self.pbx.request_hangup(self.ch, cause=0, by="engine", soft_cause=32)
        return encode_reply(200, 1)

    async def _cmd_stream_file(self, name: str, escape: str = "", offset: str = "0", *rest: str) -> bytes:
        if name in self.pbx.missing_sounds and not self._dead():
            # res_agi handle_streamfile: the file does not open -> "200 result=-1 endpos=<offset>",
            # the channel alive ("File ... does not exist in any format", seen on Asterisk 22.10.1)
            log.warn_event("sim.agi.sound_missing", sound=name)
            return encode_reply(200, -1, endpos=int(offset or 0))
        status, key, endpos = await self._play(name, escape, int(offset or 0))
        if status == "dead":
            return encode_reply(200, -1, endpos=endpos)
        return encode_reply(200, ord(key) if key else 0, endpos=endpos)

    async def _cmd_control_stream_file(self, name: str, escape: str = "", *rest: str) -> bytes:
        status, key, _ = await self._play(name, escape)
        if status == "dead":
            return encode_reply(200, -1)
        return encode_reply(200, ord(key) if key else 0)

    async def _cmd_get_option(self, name: str, escape: str, timeout_ms: str = "5000", *rest: str) -> bytes:
        status, key, endpos = await self._play(name, escape)
        if status == "timeout":
            t = int(timeout_ms)
            self._hear("silence", listening=True)
            status, key = await self._wait(None if t < 0 else (t or 5000) / 1000, escape)
            if status != "dead":
                self._hear(None)
        if status == "dead":
            return encode_reply(200, -1, endpos=endpos)
        return encode_reply(200, ord(key) if key else 0, endpos=endpos)

    async def _cmd_get_data(self, name: str, timeout_ms: str = "0", max_digits: str = "1024", *rest: str) -> bytes:
        timeout_s = (int(timeout_ms) or DEFAULT_GET_DATA_TIMEOUT_MS) / 1000
        max_n = int(max_digits) if max_digits else 1024
        if name in self.pbx.missing_sounds and not self._dead():
            status, key = "timeout", None  # main/app.c: a prompt that does not open is skipped
        else:
            status, key, _ = await self._play(name, ALL_KEYS)
        digits = ""
        if status == "dead":
            return encode_reply(200, -1)
        if status == "key":
            if key == "#":
                return encode_reply(200, "")
            digits = key or ""
        while len(digits) < max_n:
            self._hear(None, listening=True)
            status, key = await self._wait(timeout_s, ALL_KEYS)
            if status == "dead":
                return encode_reply(200, -1)
            if status == "timeout":
                self._hear(None)
                return encode_reply(200, digits, data="timeout")
            if key == "#":
                break
            digits += key or ""
        self._hear(None)
        return encode_reply(200, digits)

    async def _cmd_wait_for_digit(self, timeout_ms: str, *rest: str) -> bytes:
        t = int(timeout_ms)
        self._hear(None, listening=True)
        status, key = await self._wait(None if t < 0 else t / 1000, ALL_KEYS)
        if status == "dead":
            return encode_reply(200, -1)
        self._hear(None)
        return encode_reply(200, ord(key) if key else 0)

    async def _cmd_say_digits(self, digits: str, escape: str = "", *rest: str) -> bytes:
        return await self._say(f"say:digits:{digits}", len(digits), escape)

    async def _cmd_say_number(self, number: str, escape: str = "", *rest: str) -> bytes:
        n = abs(int(number))
        return await self._say(f"say:number:{number}", max(1, len(str(n)) + (1 if n >= 100 else 0)), escape)

    async def _cmd_say_alpha(self, text: str, escape: str = "", *rest: str) -> bytes:
        return await self._say(f"say:alpha:{text}", len(text), escape)

    async def _cmd_say_date(self, epoch: str, escape: str = "", *rest: str) -> bytes:
        int(epoch)
        return await self._say(f"say:date:{epoch}", 3, escape)

    async def _cmd_say_time(self, epoch: str, escape: str = "", *rest: str) -> bytes:
        int(epoch)
        return await self._say(f"say:time:{epoch}", 3, escape)

    async def _cmd_say_datetime(self, epoch: str, escape: str = "", *rest: str) -> bytes:
        int(epoch)
        return await self._say(f"say:datetime:{epoch}", 5, escape)

    async def _cmd_record_file(self, name: str, fmt: str, escape: str, timeout_ms: str, *rest: str) -> bytes:
        if self.outcome is not None:
            self.outcome.prompts.append(f"record:{name}")
        t = int(timeout_ms)
        seconds = 3.0 if t < 0 else min(t / 1000, 3.0)
        self._hear(None, listening=bool(escape))
        status, key = await self._wait(seconds, escape)
        if status == "dead":
            return encode_reply(200, -1, endpos=0)
        self._hear(None)
        return encode_reply(200, ord(key) if key else 0, endpos=int(seconds * 8000))

    async def _cmd_set_music(self, onoff: str, moh_class: str = "default", *rest: str) -> bytes:
        self.pbx.set_background_moh(self.ch, moh_class if onoff.lower() == "on" else None)
        return encode_reply(200, 0)

    async def _cmd_set_callerid(self, value: str, *rest: str) -> bytes:
        name, num = _split_callerid(value)
        self.ch.caller_num = num or self.ch.caller_num
        if name:
            self.ch.caller_name = name
        return encode_reply(200, 1)

    async def _cmd_set_context(self, value: str, *rest: str) -> bytes:
        self.pbx.set_goto(self.ch, context=value)
        return encode_reply(200, 0)

    async def _cmd_set_extension(self, value: str, *rest: str) -> bytes:
        self.pbx.set_goto(self.ch, exten=value)
        return encode_reply(200, 0)

    async def _cmd_set_priority(self, value: str, *rest: str) -> bytes:
        self.pbx.set_goto(self.ch, priority=int(value))
        return encode_reply(200, 0)

    # ------------------------------------------------------------------ variables
    def _variable(self, name: str) -> str | None:
        ch = self.ch
        if self.surrogate_name is not None:
            if name in ("CHANNEL", "CHANNEL(name)"):
                return self.surrogate_name
            if name in ("UNIQUEID", "CHANNEL(uniqueid)"):
                return self.surrogate_uid
            return self._vars.get(name)
        return self.pbx.channel_variable(ch, name)

    def _expand(self, text: str) -> str:
        return _VAR_REF.sub(lambda m: self._variable(m.group(1)) or "", text)

    async def _cmd_get_variable(self, name: str, *rest: str) -> bytes:
        value = self._variable(name)
        return encode_reply(200, 1, data=value) if value is not None else encode_reply(200, 0)

    async def _cmd_get_full_variable(self, expr: str, *rest: str) -> bytes:
        return encode_reply(200, 1, data=self._expand(expr))

    async def _cmd_set_variable(self, name: str, value: str, *rest: str) -> bytes:
        if self.surrogate_name is not None:
            self._vars[name] = value
        else:
            self.pbx.set_channel_variable(self.ch, name, value)
        if name.upper() == "AGIEXITONHANGUP":
            self.exit_on_hangup = value.lower() in ("yes", "true", "1", "on")
        return encode_reply(200, 1)

    async def _cmd_database_get(self, family: str, key: str, *rest: str) -> bytes:
        value = self.pbx.astdb.get((family, key))
        return encode_reply(200, 1, data=value) if value is not None else encode_reply(200, 0)

    async def _cmd_database_put(self, family: str, key: str, value: str, *rest: str) -> bytes:
        self.pbx.astdb[(family, key)] = value
        return encode_reply(200, 1)

    async def _cmd_database_del(self, family: str, key: str, *rest: str) -> bytes:
        return encode_reply(200, 1 if self.pbx.astdb.pop((family, key), None) is not None else 0)

    async def _cmd_database_deltree(self, family: str, *rest: str) -> bytes:
        prefix = rest[0] if rest else None
        doomed = [k for k in self.pbx.astdb if k[0] == family and (prefix is None or k[1].startswith(prefix))]
        for k in doomed:
            del self.pbx.astdb[k]
        return encode_reply(200, 1 if doomed else 0)

    async def _cmd_say_phonetic(self, text: str, escape: str = "", *rest: str) -> bytes:
        return await self._say(f"say:phonetic:{text}", len(text), escape)

    async def _cmd_set_autohangup(self, seconds: str, *rest: str) -> bytes:
        t = float(seconds)
        if t > 0:
            self.pbx.spawn(self._autohangup(t), f"sim-autohangup-{self.ch.uniqueid}")
        return encode_reply(200, 0)

    async def _autohangup(self, seconds: float) -> None:
        await self.pbx.time.sleep(seconds)
        self.pbx.request_hangup(self.ch, cause=16, by="pbx", soft_cause=16)

    # ------------------------------------------------------------------ EXEC
    async def _cmd_exec(self, app: str, *options: str) -> bytes:
        data = self._expand(" ".join(options))
        name = app.lower()
        runner = getattr(self, f"_app_{name}", None)
        if runner is None:
            log.warn_event("sim.agi.exec_unknown_application", application=app)
            return encode_reply(200, -2)  # Asterisk: "Could not find application"
        ch, live = self.ch, not self._dead()
        saved = (ch.application, ch.app_data)
        if live:  # while the application runs, the channel shows it (CoreShowChannels, Status)
            ch.application, ch.app_data = app, data
        try:
            return encode_reply(200, await runner(data))
        finally:
            if live and not self._dead():
                ch.application, ch.app_data = saved

    async def _app_musiconhold(self, data: str) -> int:
        if self._dead():
            return -1
        parts = data.split(",")
        moh_class = parts[0] or "default"
        seconds = float(parts[1]) if len(parts) > 1 and parts[1] else None
        self.pbx.start_moh(self.ch, moh_class)
        status, _ = await self._wait(seconds)
        self.pbx.stop_moh(self.ch)
        return -1 if status == "dead" else 0

    async def _app_playback(self, data: str) -> int:
        for sound in data.split(",")[0].split("&"):
            status, _, _ = await self._play(sound)
            if status == "dead":
                return -1
        return 0

    async def _app_wait(self, data: str) -> int:
        seconds = float(data or 0)
        if self._dead():  # recorded: EXEC Wait 1 on a dead channel still waits and returns 0
            await self.pbx.time.sleep(seconds)
            return 0
        self._hear(None)
        status, _ = await self._wait(seconds)
        return -1 if status == "dead" else 0

    async def _app_goto(self, data: str) -> int:
        parts = [p for p in data.split(",")]
        if len(parts) == 3:
            self.pbx.set_goto(self.ch, context=parts[0], exten=parts[1], priority=int(parts[2] or 1))
        elif len(parts) == 2:
            self.pbx.set_goto(self.ch, exten=parts[0], priority=int(parts[1] or 1))
        else:
            self.pbx.set_goto(self.ch, priority=int(parts[0] or 1))
        return 0

    async def _app_set(self, data: str) -> int:
        name, _, value = data.partition("=")
        await self._cmd_set_variable(name.strip(), value)
        return 0

    async def _app_answer(self, data: str) -> int:
        await self._cmd_answer()
        return 0

    async def _app_noop(self, data: str) -> int:
        return 0

    _app_verbose = _app_log = _app_noop

    async def _app_userevent(self, data: str) -> int:
        name, *fields = data.split(",")
        pairs = [tuple(p.strip() for p in f.split(":", 1)) for f in fields if ":" in f]
        self.pbx.emit("UserEvent", self.ch.headers() + [("UserEvent", name)] + [(k, v) for k, v in pairs], privilege="user,all")
        return 0

    async def _app_mixmonitor(self, data: str) -> int:
        parts = data.split(",")
        self.pbx.start_recording(self.ch, parts[0], parts[1] if len(parts) > 1 else "")
        return 0

    async def _app_stopmixmonitor(self, data: str) -> int:
        self.pbx.stop_recording(self.ch)
        return 0

    async def _app_dial(self, data: str) -> int:
        if self._dead():
            return -1
        return await self.pbx.dial(self.ch, data)

    async def _app_hangup(self, data: str) -> int:
        self.pbx.request_hangup(self.ch, cause=int(data or 16), by="engine", soft_cause=16)
        return -1


def _split_callerid(value: str) -> tuple[str, str]:
    """``"ACD caller" <8001>`` -> (name, number)."""
    value = value.strip()
    if value.endswith(">") and "<" in value:
        name, _, num = value.rpartition("<")
        return name.strip().strip('"'), num[:-1]
    return "", value
