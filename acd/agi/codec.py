"""Sans-I/O FastAGI codec, both sides.

Engine side (``AgiEngineDecoder``): the ``agi_*`` environment block up to its blank line, then
replies: ``200 result=N (data) endpos=N``, ``510``, ``511``, the multi-line ``520-`` ...
``520 End of proper usage.``, and the unsolicited ``HANGUP`` line that can arrive between a
command and its reply. Lines end in ``\\n``. Bytes are kept between feeds, so a UTF-8 character
split across reads decodes whole.

Asterisk side (for the simulator): environment/reply encoders and ``AgiAsteriskDecoder`` which
splits commands into words the way Asterisk's ``parse_args`` does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from collections.abc import Iterable, Mapping

from acd.agi.errors import AgiLimitError, AgiProtocolError, AgiUnexpectedReply

MAX_LINE = 64 * 1024  # one reply line (GET VARIABLE data can be long)
# The environment block: Asterisk 22 sends 22 standard lines plus one per AGI() argument, each
# well under 1 KiB. These caps bound what a peer can make the engine hold before a session
# starts (issue #13.5: 4 sessions sent 623 MB and the engine grew by 645 MB).
MAX_ENV_LINES = 256
MAX_ENV_BYTES = 64 * 1024
MAX_ENV_LINE = 8 * 1024


@dataclass(frozen=True)
class AgiEnvironment:
    """The ``agi_*`` block Asterisk sends first. ``values`` keeps every key as sent (an empty
    value stays ``""``); the properties read the ones the engine uses."""

    values: Mapping[str, str]

    def get(self, key: str, default: str = "") -> str:
        return self.values.get(key if key.startswith("agi_") else f"agi_{key}", default)

    @property
    def channel(self) -> str:
        return self.get("channel")

    @property
    def uniqueid(self) -> str:
        return self.get("uniqueid")

    @property
    def linkedid(self) -> str:
        return self.get("linkedid") or self.uniqueid

    @property
    def callerid(self) -> str:
        return self.get("callerid")

    @property
    def calleridname(self) -> str:
        return self.get("calleridname")

    @property
    def dnis(self) -> str:
        dnid = self.get("dnid")
        return dnid if dnid and dnid != "unknown" else self.extension

    @property
    def extension(self) -> str:
        return self.get("extension")

    @property
    def context(self) -> str:
        return self.get("context")

    @property
    def language(self) -> str:
        return self.get("language", "en")

    @property
    def network_script(self) -> str:
        return self.get("network_script")

    @property
    def request(self) -> str:
        return self.get("request")

    @property
    def arguments(self) -> list[str]:
        args, n = [], 1
        while f"agi_arg_{n}" in self.values:
            args.append(self.values[f"agi_arg_{n}"])
            n += 1
        return args


@dataclass(frozen=True)
class Reply:
    """One reply: ``code`` 200/510/511/520; for 200 ``result`` is the text after ``result=``
    (``""`` for ``200 result= (timeout)``), ``data`` the text in parentheses, ``endpos`` the
    ``endpos=`` number; ``lines`` holds the raw line(s), all of them for a multi-line 520."""

    code: int
    result: str | None
    data: str | None
    endpos: int | None
    lines: tuple[str, ...]

    @property
    def result_int(self) -> int | None:
        try:
            return int(self.result) if self.result not in (None, "") else None
        except ValueError:
            return None


@dataclass(frozen=True)
class Hangup:
    """The unsolicited ``HANGUP`` line."""


_REPLY = re.compile(r"^200 result=(?P<result>-?\S*)(?: \((?P<data>.*)\))?(?: endpos=(?P<endpos>-?\d+))?\s*$")


# The replies most commands get (NOOP, ANSWER, SET VARIABLE, EXEC, a hangup's -1), made once and
# shared (a Reply is frozen): a third of a command's decoding. Fixed, never learnt from the traffic,
# so no caller's digits (GET DATA's "200 result=1234") are kept.
_PLAIN_REPLIES = {f"200 result={r}": Reply(200, r, None, None, (f"200 result={r}",)) for r in ("-1", "0", "1")}


def parse_reply_line(line: str) -> Reply:
    """One single-line reply (``200 ...``, ``510 ...``, ``511 ...``, one-line ``520 ...``)."""
    if line.startswith("200 "):
        known = _PLAIN_REPLIES.get(line)
        if known is not None:
            return known
        m = _REPLY.match(line)
        if not m:
            raise AgiProtocolError(f"unreadable 200 reply: {line[:120]!r}")
        endpos = m.group("endpos")
        return Reply(200, m.group("result"), m.group("data"), int(endpos) if endpos else None, (line,))
    code = line[:3]
    if len(code) == 3 and code.isascii() and code.isdigit() and (len(line) == 3 or line[3] == " "):
        return Reply(int(code), None, None, None, (line,))
    raise AgiProtocolError(f"not a FastAGI reply: {line[:120]!r}")


class _LineBuffer:
    """Splits bytes into ``\n``-terminated lines; bytes stay buffered until their line is whole,
    so a UTF-8 character cut between two reads decodes whole. A line longer than the limit asked
    for (whole, or still without its end) raises ``AgiLimitError``."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self._pos = 0  # start of the first unread line: lines are sliced off, not deleted one by one
        self._scanned = 0  # bytes from _pos on already searched for "\n": a trickled line is searched once

    def feed(self, data: bytes) -> None:
        if self._pos:
            del self._buf[: self._pos]
            self._pos = 0
        self._buf += data

    def next_line(self, max_line: int) -> bytes | None:
        nl = self._buf.find(b"\n", self._pos + self._scanned)
        if nl < 0:
            self._scanned = len(self._buf) - self._pos
            if self._scanned > max_line:
                self.clear()
                raise AgiLimitError(f"line longer than {max_line} bytes")
            return None
        self._scanned = 0
        if nl - self._pos > max_line:
            self.clear()
            raise AgiLimitError(f"line longer than {max_line} bytes")
        raw = bytes(self._buf[self._pos:nl])
        self._pos = nl + 1
        return raw

    def clear(self) -> None:
        self._buf.clear()
        self._pos = self._scanned = 0

    @property
    def buffered(self) -> int:
        return len(self._buf) - self._pos


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", errors="replace")


class AgiEngineDecoder:
    """Engine side: bytes from Asterisk in, ``AgiEnvironment`` / ``Reply`` / ``Hangup`` out.

    A malformed line raises ``AgiProtocolError``; the frames decoded before it in the same feed
    are on the exception (``.frames``) and the lines after it stay buffered (``feed(b"")`` goes
    on with them). For FastAGI a bad line means the stream is out of step: the session ends.

    The environment block is capped (``max_env_lines`` lines, ``max_env_bytes`` bytes, lines of
    at most ``MAX_ENV_LINE`` bytes) and a reply line at ``MAX_LINE`` bytes. Going over raises
    ``AgiLimitError``, drops what is buffered, and every later ``feed`` raises it again: a peer
    that floods is never read further.

    Replies answer commands: the engine calls ``expect_reply()`` for each command it sends (or
    gets the command's bytes from ``send_command``). A reply with no command pending raises
    ``AgiUnexpectedReply``: the peer is out of step (``200 result=-1`` sent right after the
    environment block once ended a call that had not started). ``HANGUP`` may come at any time.
    """

    def __init__(self, *, max_env_lines: int = MAX_ENV_LINES, max_env_bytes: int = MAX_ENV_BYTES) -> None:
        self._lines = _LineBuffer()
        self._env: dict[str, str] | None = {}
        self._env_lines = 0
        self._env_bytes = 0
        self._max_env_lines = max_env_lines
        self._max_env_bytes = max_env_bytes
        self._usage: list[str] | None = None
        self._refused: AgiLimitError | None = None
        self._pending = 0

    @property
    def environment_done(self) -> bool:
        return self._env is None

    @property
    def pending_replies(self) -> int:
        """Commands sent whose reply has not been decoded yet."""
        return self._pending

    def expect_reply(self, commands: int = 1) -> None:
        """``commands`` more commands were sent: as many replies may come."""
        if commands < 0:
            raise ValueError("commands must not be negative")
        self._pending += commands

    def send_command(self, name: str, *args: str) -> bytes:
        """The bytes of one command (``encode_command``), counted as awaiting its reply. An
        argument that cannot be sent raises ``ValueError`` and counts nothing."""
        line = encode_command(name, *args)
        self._pending += 1
        return line

    @property
    def buffered(self) -> int:
        """Bytes held back waiting for the end of a line."""
        return self._lines.buffered

    def feed(self, data: bytes) -> list[AgiEnvironment | Reply | Hangup]:
        if self._refused is not None:
            raise AgiLimitError(f"the session was refused: {self._refused}")
        self._lines.feed(data)
        out: list[AgiEnvironment | Reply | Hangup] = []
        while True:
            try:
                raw = self._lines.next_line(MAX_ENV_LINE if self._env is not None else MAX_LINE)
                if raw is None:
                    return out
                frame = self._env_line(raw) if self._env is not None else self._line(_text(raw))
            except AgiLimitError as exc:
                self._refused = exc
                self._lines.clear()
                exc.frames = out
                raise
            except AgiProtocolError as exc:
                exc.frames = out
                raise
            if frame is not None:
                out.append(frame)

    def _line(self, line: str) -> AgiEnvironment | Reply | Hangup | None:
        if line == "HANGUP":  # unsolicited, wherever it falls
            return Hangup()
        if self._usage is not None:  # inside a multi-line 520: every other line belongs to it
            self._usage.append(line)
            if line.startswith("520 "):
                reply = Reply(520, None, None, None, tuple(self._usage))
                self._usage = None
                self._pending -= 1  # counted when the block began
                return reply
            if len(self._usage) > self._max_env_lines:
                raise AgiLimitError(f"usage text longer than {self._max_env_lines} lines")
            return None
        if line == "":
            return None
        if self._pending <= 0:
            raise AgiUnexpectedReply(f"a reply with no command pending: {line[:120]!r}")
        if line.startswith("520-"):
            self._usage = [line]
            return None
        reply = parse_reply_line(line)
        self._pending -= 1
        return reply

    def _env_line(self, raw: bytes) -> AgiEnvironment | None:
        assert self._env is not None
        self._env_lines += 1
        self._env_bytes += len(raw) + 1
        if self._env_lines > self._max_env_lines:
            raise AgiLimitError(f"environment block longer than {self._max_env_lines} lines")
        if self._env_bytes > self._max_env_bytes:
            raise AgiLimitError(f"environment block larger than {self._max_env_bytes} bytes")
        line = _text(raw)
        if line == "":
            env = AgiEnvironment(dict(self._env))
            self._env = None
            return env
        key, sep, value = line.partition(": ")
        if not sep:
            key, sep, value = line.partition(":")
        if not sep or not key.startswith("agi_"):
            raise AgiProtocolError(f"not an AGI environment line: {line[:120]!r}")
        self._env[key] = value
        return None


# Characters that need no quotes. Asterisk's parse_args treats only space, tab, '"' and '\'
# specially; '#' and '*' are quoted anyway because that is what the recorded engine sent
# (``STREAM FILE beep "0123456789#*"``) and the transcripts are compared byte for byte.
_SAFE = re.compile(r"^[A-Za-z0-9_.,:/=()${}+\-@|&!?%<>\[\]^~]+$")

# res_agi reads one command with fgets() into a 2048-byte buffer: a longer line would be cut
# and its rest run as a second command, so the encoder refuses it.
AGI_BUF_LEN = 2048
MAX_ARGS = 128  # res_agi: words after the 127th are dropped
_BREAK_OR_NUL = re.compile("[\n\r\0]")
_BARE_COMMANDS: dict[str, bytes] = {}  # "NOOP", "ANSWER", "CHANNEL STATUS": the same bytes every time


def quote_arg(arg: str) -> str:
    """One argument as Asterisk's ``parse_args`` reads it back: bare if it is plain, else in
    double quotes with ``\\`` and ``"`` escaped by a backslash. The empty string is ``""``."""
    if _SAFE.match(arg):
        return arg
    return '"' + arg.replace("\\", "\\\\").replace('"', '\\"') + '"'


def encode_command(name: str, *args: str) -> bytes:
    """``name`` is the command words as Asterisk lists them ("STREAM FILE"); every argument is
    quoted when needed. Ends in ``\\n``. Refuses line breaks and NULs (they would let an argument
    inject a second command) and lines longer than Asterisk reads in one go."""
    if not args:
        cached = _BARE_COMMANDS.get(name)
        if cached is not None:
            return cached
    text = " ".join([name, *(quote_arg(str(a)) for a in args)])
    if _BREAK_OR_NUL.search(text):  # quoting never adds one, so the text has one only if an input did
        raise ValueError(f"{name}: an AGI command must not contain a line break or NUL")
    line = (text + "\n").encode("utf-8")
    if len(line) > AGI_BUF_LEN - 1:
        raise ValueError(f"{name}: command is {len(line)} bytes; Asterisk reads at most {AGI_BUF_LEN - 1}")
    if not args and len(_BARE_COMMANDS) < 64:
        _BARE_COMMANDS[name] = line
    return line


# ---------------------------------------------------------------------------- Asterisk side
ENV_ORDER = (
    "agi_network", "agi_network_script", "agi_request", "agi_channel", "agi_language", "agi_type",
    "agi_uniqueid", "agi_version", "agi_callerid", "agi_calleridname", "agi_callingpres",
    "agi_callingani2", "agi_callington", "agi_callingtns", "agi_dnid", "agi_rdnis", "agi_context",
    "agi_extension", "agi_priority", "agi_enhanced", "agi_accountcode", "agi_threadid",
)


def _arg_index(key: str) -> int:
    tail = key[len("agi_arg_"):]
    return int(tail) if tail.isdigit() else 1 << 30


def encode_environment(values: Mapping[str, str]) -> bytes:
    """The block Asterisk sends first: ``agi_key: value\\n`` in Asterisk's order (the 22 standard
    keys, then ``agi_arg_1``... in number order, then anything else), then a blank line."""
    known = [k for k in ENV_ORDER if k in values]
    args = sorted((k for k in values if k.startswith("agi_arg_")), key=_arg_index)
    rest = [k for k in values if k not in ENV_ORDER and not k.startswith("agi_arg_")]
    for k in values:
        if any(c in k or c in str(values[k]) for c in "\n\0"):
            raise ValueError(f"environment {k}: a line break or NUL")
    return "".join(f"{k}: {values[k]}\n" for k in known + args + rest).encode("utf-8") + b"\n"


REPLY_510 = b"510 Invalid or unknown command\n"
REPLY_511 = b"511 Command Not Permitted on a dead channel or intercept routine\n"
REPLY_520 = b"520 Invalid command syntax.  Proper usage not available.\n"


def encode_reply(code: int = 200, result: str | int = "0", data: str | None = None, endpos: int | None = None) -> bytes:
    """A reply as Asterisk 22 writes it: ``200 result=N [(data)] [endpos=N]``; 510, 511 and the
    one-line 520 (a command without usage text) have fixed texts."""
    if code == 510:
        return REPLY_510
    if code == 511:
        return REPLY_511
    if code == 520:
        return REPLY_520
    if code != 200:
        raise ValueError(f"Asterisk sends no AGI reply code {code}")
    if any(c in f"{result}{data or ''}" for c in "\n\0"):
        raise ValueError("an AGI reply must not contain a line break or NUL")
    line = f"200 result={result}"
    if data is not None:
        line += f" ({data})"
    if endpos is not None:
        line += f" endpos={endpos}"
    return (line + "\n").encode("utf-8")


def encode_hangup() -> bytes:
    return b"HANGUP\n"


def encode_usage_error(lines: Iterable[str]) -> bytes:
    """The multi-line 520: ``520-Invalid command syntax.  Proper usage follows:``, the usage text,
    ``520 End of proper usage.``"""
    body = ["520-Invalid command syntax.  Proper usage follows:", *lines, "520 End of proper usage."]
    return ("\n".join(body) + "\n").encode("utf-8")


def split_args(line: str) -> list[str]:
    """Split one command line exactly like res_agi's ``parse_args``: space and tab separate
    words; ``"`` toggles quoting (and starts a word, so ``""`` is an empty word); ``\\`` makes the
    next character literal and is itself dropped (a trailing one is lost); a word that would be
    the 128th or later is dropped."""
    args: list[str] = []
    cur: list[str] | None = None  # the word being built, None while between words
    quoted = escaped = False
    for ch in line:
        if ch == '"' and not escaped:
            quoted = not quoted
            if quoted and cur is None:
                cur = []
                args.append("")  # placeholder, filled when the word ends
            continue
        if ch in " \t" and not quoted and not escaped:
            if cur is not None:
                args[-1] = "".join(cur)
                cur = None
            continue
        if ch == "\\" and not escaped:
            escaped = True
            continue
        escaped = False
        if cur is None:
            if len(args) >= MAX_ARGS - 1:
                continue
            cur = []
            args.append("")
        cur.append(ch)
    if cur is not None:
        args[-1] = "".join(cur)
    return args


# Every command res_agi registers in Asterisk 22 (res_speech adds the SPEECH ones).
AGI_COMMAND_NAMES: frozenset[str] = frozenset({
    "ANSWER", "ASYNCAGI BREAK", "CHANNEL STATUS", "CONTROL STREAM FILE", "DATABASE DEL",
    "DATABASE DELTREE", "DATABASE GET", "DATABASE PUT", "EXEC", "GET DATA", "GET FULL VARIABLE",
    "GET OPTION", "GET VARIABLE", "GOSUB", "HANGUP", "NOOP", "RECEIVE CHAR", "RECEIVE TEXT",
    "RECORD FILE", "SAY ALPHA", "SAY DIGITS", "SAY NUMBER", "SAY PHONETIC", "SAY DATE", "SAY TIME",
    "SAY DATETIME", "SEND IMAGE", "SEND TEXT", "SET AUTOHANGUP", "SET CALLERID", "SET CONTEXT",
    "SET EXTENSION", "SET MUSIC", "SET PRIORITY", "SET VARIABLE", "STREAM FILE", "TDD MODE",
    "VERBOSE", "WAIT FOR DIGIT", "SPEECH CREATE", "SPEECH SET", "SPEECH DESTROY",
    "SPEECH LOAD GRAMMAR", "SPEECH UNLOAD GRAMMAR", "SPEECH ACTIVATE GRAMMAR",
    "SPEECH DEACTIVATE GRAMMAR", "SPEECH RECOGNIZE",
})
# Commands res_agi marks as allowed on a dead channel (everything else gets 511 after a hangup).
DEAD_OK_COMMANDS: frozenset[str] = frozenset({
    "ASYNCAGI BREAK", "DATABASE DEL", "DATABASE DELTREE", "DATABASE GET", "DATABASE PUT", "EXEC",
    "GET FULL VARIABLE", "GET VARIABLE", "GOSUB", "NOOP", "SET VARIABLE", "VERBOSE",
    "SPEECH DESTROY", "SPEECH UNLOAD GRAMMAR",
})
_BY_WORDS = sorted((tuple(c.split()) for c in AGI_COMMAND_NAMES), key=len, reverse=True)


def match_command(words: list[str]) -> tuple[str, int] | None:
    """Asterisk's ``find_command``: the registered command whose words (compared without case)
    all lead ``words``; the words after it are its arguments. None: Asterisk answers 510."""
    upper = [w.upper() for w in words]
    for cmd in _BY_WORDS:
        if tuple(upper[: len(cmd)]) == cmd:
            return " ".join(cmd), len(cmd)
    return None


@dataclass(frozen=True)
class AgiCommand:
    """One command as Asterisk reads it. ``name`` is the upper-case command words ("GET DATA");
    for a command Asterisk does not know it is the first word upper-cased ("" for an empty line)
    and ``known`` is False: Asterisk answers 510."""

    name: str
    args: tuple[str, ...]
    raw: str

    @property
    def known(self) -> bool:
        return self.name in AGI_COMMAND_NAMES

    @property
    def dead_ok(self) -> bool:
        """Allowed on a dead channel (after a hangup); the others get 511."""
        return self.name in DEAD_OK_COMMANDS


def parse_command(line: str) -> AgiCommand:
    words = split_args(line)
    found = match_command(words)
    if found is None:
        return AgiCommand(words[0].upper() if words else "", tuple(words[1:]), line)
    name, n = found
    return AgiCommand(name, tuple(words[n:]), line)


class AgiAsteriskDecoder:
    """Asterisk side (the simulator): bytes from the engine in, ``AgiCommand`` out, read the way
    res_agi reads them: at most 2047 bytes per command (``fgets`` into a 2048-byte buffer: a
    longer line is cut and its rest is the next command), only the trailing ``\\n`` removed (a
    ``\\r`` stays in the last word), and an empty line is a command too (Asterisk answers 510)."""

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[AgiCommand]:
        self._buf += data
        out: list[AgiCommand] = []
        limit = AGI_BUF_LEN - 1
        while True:
            nl = self._buf.find(b"\n", 0, limit)
            if nl >= 0:
                raw = bytes(self._buf[:nl])
                del self._buf[: nl + 1]
            elif len(self._buf) >= limit:
                raw = bytes(self._buf[:limit])
                del self._buf[:limit]
            else:
                return out
            out.append(parse_command(_text(raw)))

    @property
    def buffered(self) -> int:
        return len(self._buf)
