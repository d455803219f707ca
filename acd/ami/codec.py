"""Sans-I/O AMI codec: bytes in, typed frames out; frames in, bytes out (h11 style, no sockets).

Wire format (Asterisk 22, see ../shared/asterisk/transcripts):
- the server's first line is the banner ``Asterisk Call Manager/11.0.0\\r\\n``;
- then frames of ``Key: Value\\r\\n`` lines, each frame closed by a blank line (``\\r\\n\\r\\n``);
- a frame starting with ``Event:`` is an Event, even when it also carries a ``Response:`` line
  (``OriginateResponse``); one starting with ``Response:`` is a reply to an action;
- ``Command`` replies carry the CLI output as repeated ``Output:`` lines (Asterisk >= 14); the
  legacy ``Response: Follows`` form (raw lines ending in ``--END COMMAND--``) is also understood;
- a header may have an empty value (``AccountCode: ``), also as the last line of a frame.

The decoder keeps undecoded bytes between feeds and decodes text only once a frame is complete,
so a UTF-8 character or a frame split across TCP reads comes out whole. A malformed frame raises
``AmiProtocolError`` for that frame only: its bytes are consumed, the good frames decoded in the
same ``feed`` are kept for ``take_carried()``, and the next ``feed`` goes on normally.
"""

from __future__ import annotations

import re
from typing import overload

from collections.abc import Iterable

from acd.ami.errors import AmiEncodeError, AmiProtocolError
from acd.ami.frames import Action, Banner, Event, Headers, Response
from acd.secrets import Secret

FRAME_END = b"\r\n\r\n"
MAX_FRAME = 1 << 20  # a frame larger than 1 MiB is garbage, not AMI
MAX_BANNER = 1024
BANNER_PREFIX = "Asterisk Call Manager"
END_COMMAND = "--END COMMAND--"
# Headers a legacy ``Response: Follows`` carries before its raw body.
_FOLLOWS_HEADERS = frozenset({"response", "privilege", "actionid", "message"})


# One "Key: value" line; the key has no colon, space or line break, so a value may itself hold
# ": " (AppData, Message) and a line matches in exactly one way.
_HEADER_LINE = r"[^:\r\n ]+: [^\r\n]*"
_WELL_FORMED = re.compile(rf"(?:{_HEADER_LINE}\r\n)*{_HEADER_LINE}")
_PAIR = re.compile(r"([^:\r\n ]+): ([^\r\n]*)")


class EventHeaders(Headers):
    """An event's headers, parsed when first needed. Most AMI traffic (Newexten, VarSet, ...) is
    events nobody subscribed to, and a subscriber reads two or three headers: ``get`` finds one
    key in the frame's text without splitting it; anything else parses the whole frame once.
    The frame was checked well-formed when it was decoded, so a bad frame still fails there."""

    __slots__ = ("_text",)
    _text: str

    @classmethod
    def _from_text(cls, text: str) -> EventHeaders:
        h = cls.__new__(cls)
        h._text = text
        h._index = None
        return h

    def __getattr__(self, name: str) -> list[tuple[str, str]]:
        if name == "_pairs":  # the slot is empty until the first use that needs every header
            pairs = _PAIR.findall(self._text)
            self._pairs = pairs
            return pairs
        raise AttributeError(name)

    @overload
    def get(self, key: str) -> str | None: ...
    @overload
    def get(self, key: str, default: str) -> str: ...
    @overload
    def get(self, key: str, default: str | None) -> str | None: ...
    def get(self, key: str, default: str | None = None) -> str | None:
        if self._index is None:
            text = self._text
            if text.startswith(key + ": "):
                start = len(key) + 2
            else:
                at = text.find("\r\n" + key + ": ")
                start = at + len(key) + 4 if at >= 0 else -1
            if start >= 0:
                end = text.find("\r\n", start)
                return text[start:] if end < 0 else text[start:end]
        return super().get(key, default)  # another spelling of the key, or absent: the full parse


def _parse_event_headers(text: str) -> Headers:
    """The hot path (events are nearly all the traffic): one regex check of the whole frame in C,
    headers parsed later when read (``EventHeaders``). Anything unusual (a header without ": ",
    e.g. ``Key:`` with nothing after it) takes the careful path now, line by line."""
    if _WELL_FORMED.fullmatch(text) is None:
        return _parse_headers(text.split("\r\n"))
    return EventHeaders._from_text(text)


def _split_header(line: str) -> tuple[str, str] | None:
    key, sep, value = line.partition(": ")
    if not sep:
        key, sep, value = line.partition(":")  # "Key:" with an empty value and no space
    if sep and key and " " not in key:
        return key, value
    return None


def _parse_headers(lines: list[str]) -> Headers:
    pairs: list[tuple[str, str]] = []
    for line in lines:
        pair = _split_header(line)
        if pair is None:
            raise AmiProtocolError(f"not an AMI header line: {line[:80]!r}")
        pairs.append(pair)
    return Headers._trusted(pairs)


def _parse_response(lines: list[str]) -> Response:
    """A reply. ``Output:`` lines (Command) are kept as headers and also collected in ``output``;
    a legacy ``Response: Follows`` has a few headers then raw CLI lines up to ``--END COMMAND--``."""
    follows = lines[0].partition(":")[2].strip() == "Follows"
    pairs: list[tuple[str, str]] = []
    output: list[str] = []
    body = False
    for line in lines:
        pair = None if body else _split_header(line)
        if follows and pair is not None and pair[0].lower() not in _FOLLOWS_HEADERS:
            pair = None  # the body has begun (a CLI line can look like "Key: value")
        if pair is not None:
            pairs.append(pair)
            if pair[0] == "Output":
                output.append(pair[1])
        elif follows:
            body = True
            output.extend(line.split("\n"))
        else:
            raise AmiProtocolError(f"not an AMI header line: {line[:80]!r}")
    if follows:
        while output and output[-1] in ("", END_COMMAND):
            output.pop()
    return Response(Headers._trusted(pairs), output)


def _text(block: bytes) -> str:
    try:
        return block.decode("utf-8")
    except UnicodeDecodeError:  # a non-UTF-8 caller name from a SIP header: keep the frame
        return block.decode("utf-8", errors="replace")


class _Decoder:
    """Splits the byte stream into frames. A frame may be at most ``MAX_FRAME`` bytes: a longer
    one (whole or still without its end) is refused, and its bytes are skipped up to the next
    frame end, so the decoder never holds more than ``MAX_FRAME`` plus one read and the rest of
    an oversized frame is never read as frames of its own. Each byte is searched for a frame end
    once, so a peer trickling a big frame a byte at a time costs linear time, not quadratic."""

    def __init__(self) -> None:
        self._buf = bytearray()  # the start of a frame whose end has not come yet
        self._skipping = False  # inside an oversized frame: drop bytes up to its end
        self._skip_tail = b""  # the last bytes skipped, in case a frame end is split across reads

    def _blocks(self, data: bytes) -> tuple[list[bytes], AmiProtocolError | None]:
        """Complete frames in the buffer (one split per read, not one copy per frame), and the
        error for an oversized frame among them, if any."""
        if self._skipping:
            data = self._skip(data)
            if self._skipping:
                return [], None
        if self._buf:
            start = max(0, len(self._buf) - (len(FRAME_END) - 1))  # what was searched before needs no second look
            self._buf += data
            if self._buf.find(FRAME_END, start) < 0:
                return [], self._check_size()
            buf = bytes(self._buf)
        else:
            buf = data
            if FRAME_END not in buf:
                self._buf = bytearray(buf)
                return [], self._check_size()
        parts = buf.split(FRAME_END)
        self._buf = bytearray(parts.pop())
        error: AmiProtocolError | None = None
        if any(len(p) > MAX_FRAME for p in parts):
            error = _oversized()
            parts = [p for p in parts if len(p) <= MAX_FRAME]
        return parts, self._check_size() or error

    def _skip(self, data: bytes) -> bytes:
        """Drop the rest of an oversized frame; returns what follows its end (if it came)."""
        joined = self._skip_tail + data
        end = joined.find(FRAME_END)
        if end < 0:
            self._skip_tail = joined[-(len(FRAME_END) - 1):]
            return b""
        self._skipping = False
        self._skip_tail = b""
        return joined[end + len(FRAME_END):]

    def _check_size(self) -> AmiProtocolError | None:
        if len(self._buf) > MAX_FRAME:
            self._skip_tail = bytes(self._buf[-(len(FRAME_END) - 1):])
            self._buf = bytearray()
            self._skipping = True
            return _oversized(without_end=True)
        return None

    @property
    def buffered(self) -> int:
        """Bytes held back waiting for the end of a frame."""
        return len(self._buf)


def _oversized(without_end: bool = False) -> AmiProtocolError:
    return AmiProtocolError(f"frame larger than {MAX_FRAME} bytes{' without an end' if without_end else ''}: refused")


class AmiClientDecoder(_Decoder):
    """The engine's side: the banner, then Responses and Events."""

    def __init__(self) -> None:
        super().__init__()
        self._banner_seen = False
        self._carry: list[Banner | Response | Event] = []

    def feed(self, data: bytes) -> list[Banner | Response | Event]:
        """Decode what is complete. A malformed frame raises ``AmiProtocolError`` after the whole
        input was consumed; the good frames decoded with it are returned by ``take_carried()``."""
        out: list[Banner | Response | Event] = []
        error: AmiProtocolError | None = None
        if not self._banner_seen:
            data, error = self._banner(data, out)
            if not self._banner_seen:
                return out
        blocks, too_big = self._blocks(data)
        error = error or too_big
        for block in blocks:
            if not block or block[0] in (10, 13):  # stray blank lines before a frame
                block = block.lstrip(b"\r\n")
                if not block:
                    continue
            try:
                out.append(self._frame(block))
            except AmiProtocolError as exc:
                error = error or exc
        if error is not None:
            self._carry = out
            raise error
        return out

    def take_carried(self) -> list[Banner | Response | Event]:
        """Frames decoded in the same ``feed`` as a malformed one (see ``feed``)."""
        carried, self._carry = self._carry, []
        return carried

    def _banner(self, data: bytes, out: list[Banner | Response | Event]) -> tuple[bytes, AmiProtocolError | None]:
        buf = bytes(self._buf) + data
        nl = buf.find(b"\r\n")
        if nl < 0:
            self._buf = bytearray(buf)
            if len(buf) > MAX_BANNER:
                self._buf = bytearray()
                raise AmiProtocolError(f"no AMI banner in the first {MAX_BANNER} bytes: {buf[:60]!r}")
            return b"", None
        self._buf = bytearray()
        self._banner_seen = True
        text = _text(buf[:nl])
        out.append(Banner(text))
        error = None
        if not text.startswith(BANNER_PREFIX):
            error = AmiProtocolError(f"the peer is not an Asterisk Manager: banner {text[:80]!r}")
        return buf[nl + 2 :], error

    @staticmethod
    def _frame(block: bytes) -> Response | Event:
        text = _text(block)
        if text.startswith("Event: "):
            end = text.find("\r\n")
            return Event(_parse_event_headers(text), text[7:] if end < 0 else text[7:end])
        lines = text.split("\r\n")
        first = lines[0]
        if first.startswith("Response:"):
            return _parse_response(lines)
        if first.startswith("Event:"):
            return Event(_parse_headers(lines))
        raise AmiProtocolError(f"frame starts with neither Event nor Response: {first[:80]!r}")


class AmiServerDecoder(_Decoder):
    """The simulator's side: Actions from the client (no banner in this direction)."""

    def __init__(self) -> None:
        super().__init__()
        self._carry: list[Action] = []

    def feed(self, data: bytes) -> list[Action]:
        """Like ``AmiClientDecoder.feed``: a malformed frame raises after the input is consumed,
        the good actions around it wait in ``take_carried()``."""
        out: list[Action] = []
        blocks, error = self._blocks(data)
        for block in blocks:
            block = block.lstrip(b"\r\n")
            if not block:
                continue
            try:
                headers = _parse_headers(_text(block).split("\r\n"))
                if "Action" not in headers:
                    raise AmiProtocolError(f"frame without an Action header: {block[:80]!r}")
                out.append(Action(headers))
            except AmiProtocolError as exc:
                error = error or exc
        if error is not None:
            self._carry = out
            raise error
        return out

    def take_carried(self) -> list[Action]:
        carried, self._carry = self._carry, []
        return carried


# ---------------------------------------------------------------------------------- encoders


def _value(value: object) -> str:
    if isinstance(value, Secret):
        return value.reveal()  # only the Login action's Secret header: the wire needs the value
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _encode(first_key: str, first_value: str, headers: Iterable[tuple[str, object]] | Headers) -> bytes:
    pairs = headers.items() if isinstance(headers, Headers) else headers
    lines = [f"{first_key}: {first_value}"]
    for key, raw in pairs:
        value = _value(raw)
        if not key or ":" in key or any(c in key for c in " \r\n"):
            raise AmiEncodeError(f"not a valid AMI header name: {key!r}")
        if "\r" in value or "\n" in value:
            raise AmiEncodeError(f"AMI header {key!r} must not contain a line break")
        lines.append(f"{key}: {value}")
    if "\r" in first_value or "\n" in first_value:
        raise AmiEncodeError(f"{first_key} {first_value!r} must not contain a line break")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8")


def encode_action(name: str, headers: Iterable[tuple[str, object]] | Headers = ()) -> bytes:
    """``Action: name`` first, then the headers in the given order (repeat a key to repeat it)."""
    return _encode("Action", name, headers)


def encode_event(name: str, headers: Iterable[tuple[str, object]] | Headers = ()) -> bytes:
    """``Event: name`` first (an ``OriginateResponse`` puts its ``Response:`` among the headers)."""
    return _encode("Event", name, headers)


def encode_response(status: str, headers: Iterable[tuple[str, object]] | Headers = ()) -> bytes:
    """``Response: status`` first; for a Command reply pass the CLI lines as ``Output`` headers
    (or use ``encode_command_output``)."""
    return _encode("Response", status, headers)


def encode_command_output(status: str, lines: Iterable[str], action_id: str | None = None, message: str = "Command output follows") -> bytes:
    """A ``Command`` reply as Asterisk 22 sends it (ami_misc.txt): ``Response: Success|Error``,
    ``ActionID``, ``Message: Command output follows``, then one ``Output:`` line per CLI line."""
    headers: list[tuple[str, object]] = []
    if action_id is not None:
        headers.append(("ActionID", action_id))
    headers.append(("Message", message))
    headers += [("Output", line) for line in lines]
    return encode_response(status, headers)


def encode_banner(version: str = "11.0.0") -> bytes:
    return f"{BANNER_PREFIX}/{version}\r\n".encode()
