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
from typing import Mapping

from acd.agi.errors import AgiProtocolError

MAX_LINE = 64 * 1024


@dataclass(frozen=True)
class AgiEnvironment:
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


@dataclass(frozen=True)
class AgiCommand:
    name: str  # upper-case command words, e.g. "STREAM FILE"
    args: tuple[str, ...]
    raw: str


_REPLY = re.compile(r"^200 result=(?P<result>-?\S*)(?: \((?P<data>.*)\))?(?: endpos=(?P<endpos>-?\d+))?\s*$")


def parse_reply_line(line: str) -> Reply:
    if line.startswith("200 "):
        m = _REPLY.match(line)
        if not m:
            raise AgiProtocolError(f"unreadable 200 reply: {line[:120]!r}")
        endpos = m.group("endpos")
        return Reply(200, m.group("result"), m.group("data"), int(endpos) if endpos else None, (line,))
    code = line[:3]
    if code.isdigit() and (len(line) == 3 or line[3] == " "):
        return Reply(int(code), None, None, None, (line,))
    raise AgiProtocolError(f"not a FastAGI reply: {line[:120]!r}")


class _LineBuffer:
    def __init__(self) -> None:
        self._buf = bytearray()

    def lines(self, data: bytes) -> list[str]:
        self._buf += data
        out = []
        while True:
            nl = self._buf.find(b"\n")
            if nl < 0:
                if len(self._buf) > MAX_LINE:
                    self._buf.clear()
                    raise AgiProtocolError("line longer than 64 KiB")
                return out
            raw = bytes(self._buf[:nl])
            del self._buf[: nl + 1]
            out.append(raw.decode("utf-8", errors="replace").rstrip("\r"))

    @property
    def buffered(self) -> int:
        return len(self._buf)


class AgiEngineDecoder:
    def __init__(self) -> None:
        self._lines = _LineBuffer()
        self._env: dict[str, str] | None = {}
        self._usage: list[str] | None = None

    @property
    def environment_done(self) -> bool:
        return self._env is None

    def feed(self, data: bytes) -> list[AgiEnvironment | Reply | Hangup]:
        out: list[AgiEnvironment | Reply | Hangup] = []
        for line in self._lines.lines(data):
            if self._env is not None:
                if line == "":
                    out.append(AgiEnvironment(dict(self._env)))
                    self._env = None
                    continue
                key, sep, value = line.partition(": ")
                if not sep:
                    key, sep, value = line.partition(":")
                if not sep or not key.startswith("agi_"):
                    raise AgiProtocolError(f"not an AGI environment line: {line[:120]!r}")
                self._env[key] = value
                continue
            if line == "HANGUP":
                out.append(Hangup())
            elif self._usage is not None:
                self._usage.append(line)
                if line.startswith("520 "):
                    out.append(Reply(520, None, None, None, tuple(self._usage)))
                    self._usage = None
            elif line.startswith("520-"):
                self._usage = [line]
            elif line == "":
                continue
            else:
                out.append(parse_reply_line(line))
        return out


_SAFE = re.compile(r"^[A-Za-z0-9_.,:/=()${}+\-@|&!?%<>\[\]^~]+$")


def quote_arg(arg: str) -> str:
    if _SAFE.match(arg):
        return arg
    return '"' + arg.replace("\\", "\\\\").replace('"', '\\"') + '"'


def encode_command(name: str, *args: str) -> bytes:
    if any("\n" in a or "\r" in a for a in (name, *args)):
        raise ValueError("an AGI command must not contain a line break")
    return (" ".join([name, *(quote_arg(str(a)) for a in args)]) + "\n").encode("utf-8")


# ---------------------------------------------------------------------------- Asterisk side
ENV_ORDER = (
    "agi_network", "agi_network_script", "agi_request", "agi_channel", "agi_language", "agi_type",
    "agi_uniqueid", "agi_version", "agi_callerid", "agi_calleridname", "agi_callingpres",
    "agi_callingani2", "agi_callington", "agi_callingtns", "agi_dnid", "agi_rdnis", "agi_context",
    "agi_extension", "agi_priority", "agi_enhanced", "agi_accountcode", "agi_threadid",
)


def encode_environment(values: Mapping[str, str]) -> bytes:
    keys = [k for k in ENV_ORDER if k in values] + [k for k in values if k not in ENV_ORDER]
    return "".join(f"{k}: {values[k]}\n" for k in keys).encode("utf-8") + b"\n"


def encode_reply(code: int = 200, result: str | int = "0", data: str | None = None, endpos: int | None = None) -> bytes:
    if code == 510:
        return b"510 Invalid or unknown command\n"
    if code == 511:
        return b"511 Command Not Permitted on a dead channel or intercept routine\n"
    line = f"200 result={result}"
    if data is not None:
        line += f" ({data})"
    if endpos is not None:
        line += f" endpos={endpos}"
    return (line + "\n").encode("utf-8")


def encode_hangup() -> bytes:
    return b"HANGUP\n"


def encode_usage_error(lines: list[str]) -> bytes:
    body = ["520-Invalid command syntax.  Proper usage follows:", *lines, "520 End of proper usage."]
    return ("\n".join(body) + "\n").encode("utf-8")


def split_args(line: str) -> list[str]:
    """Split like Asterisk's res_agi ``parse_args``: whitespace separates, double quotes group,
    a backslash escapes the next character."""
    args: list[str] = []
    cur: list[str] = []
    in_quotes = escaped = started = False
    for ch in line:
        if escaped:
            cur.append(ch)
            escaped = False
        elif ch == "\\":
            escaped = True
            started = True
        elif ch == '"':
            in_quotes = not in_quotes
            started = True
        elif ch in " \t" and not in_quotes:
            if started:
                args.append("".join(cur))
                cur, started = [], False
        else:
            cur.append(ch)
            started = True
    if started:
        args.append("".join(cur))
    return args


# Multi-word AGI commands, longest first (the subset the engine and the simulator know).
_COMMANDS = sorted(
    [
        "ANSWER", "CHANNEL STATUS", "EXEC", "GET DATA", "GET FULL VARIABLE", "GET OPTION",
        "GET VARIABLE", "HANGUP", "NOOP", "RECORD FILE", "SAY ALPHA", "SAY DATE", "SAY DATETIME",
        "SAY DIGITS", "SAY NUMBER", "SAY TIME", "SET CALLERID", "SET CONTEXT", "SET EXTENSION",
        "SET MUSIC", "SET PRIORITY", "SET VARIABLE", "STREAM FILE", "CONTROL STREAM FILE",
        "VERBOSE", "WAIT FOR DIGIT", "DATABASE GET", "DATABASE PUT", "ASYNCAGI BREAK",
    ],
    key=lambda c: -len(c.split()),
)


class AgiAsteriskDecoder:
    def __init__(self) -> None:
        self._lines = _LineBuffer()

    def feed(self, data: bytes) -> list[AgiCommand]:
        out = []
        for line in self._lines.lines(data):
            if not line.strip():
                continue
            words = split_args(line)
            upper = [w.upper() for w in words]
            for cmd in _COMMANDS:
                n = len(cmd.split())
                if upper[:n] == cmd.split():
                    out.append(AgiCommand(cmd, tuple(words[n:]), line))
                    break
            else:
                out.append(AgiCommand(" ".join(upper[:1]), tuple(words[1:]), line))
        return out
