"""Sans-I/O AMI codec: bytes in, typed frames out; frames in, bytes out.

Asterisk sends a banner line, then frames of ``Key: Value\\r\\n`` lines closed by a blank line.
The decoder keeps undecoded bytes between feeds, so a UTF-8 character or a frame split across
TCP reads comes out whole. A malformed frame raises ``AmiProtocolError`` for that frame only:
the bytes are consumed, and the next ``feed`` (or the rest of this one, via ``pending``) goes on.
"""

from __future__ import annotations

from typing import Iterable

from acd.ami.errors import AmiProtocolError
from acd.ami.frames import Action, Banner, Event, Headers, Response

FRAME_END = b"\r\n\r\n"
MAX_FRAME = 1 << 20  # a frame larger than 1 MiB is garbage, not AMI


def _parse_event_headers(lines: list[str]) -> Headers:
    """The hot path (events are nearly all the traffic): one split per line; anything unusual
    (a header without ": ", a key with a space) takes the careful path."""
    pairs = [line.split(": ", 1) for line in lines]
    if min(map(len, pairs)) < 2:
        return _parse_headers(lines, body_allowed=False)[0]
    return Headers._trusted(pairs)  # type: ignore[arg-type]  # 2-item lists unpack like tuples


def _parse_headers(lines: list[str], body_allowed: bool) -> tuple[Headers, list[str]]:
    pairs: list[tuple[str, str]] = []
    output: list[str] = []
    for line in lines:
        key, sep, value = line.partition(": ")
        if not sep:
            key, sep, value = line.partition(":")  # "Key:" with an empty value, no space
        if sep and key and " " not in key:
            if key == "Output":
                output.append(value)
            pairs.append((key, value))
        elif body_allowed:
            output.append(line)  # body of "Response: Follows" (Command action)
        else:
            raise AmiProtocolError(f"not an AMI header line: {line[:80]!r}")
    return Headers._trusted(pairs), output


class _Decoder:
    def __init__(self) -> None:
        self._buf = b""

    def _blocks(self, data: bytes) -> list[bytes]:
        """Complete frames in the buffer. One split per read, not one copy per frame."""
        buf = self._buf + data if self._buf else data
        if FRAME_END not in buf:
            if len(buf) > MAX_FRAME:
                self._buf = b""
                raise AmiProtocolError("frame larger than 1 MiB without an end")
            self._buf = buf
            return []
        parts = buf.split(FRAME_END)
        self._buf = parts.pop()
        return parts

    @property
    def buffered(self) -> int:
        return len(self._buf)


def _text(block: bytes) -> str:
    try:
        return block.decode("utf-8")
    except UnicodeDecodeError:
        return block.decode("utf-8", errors="replace")


class AmiClientDecoder(_Decoder):
    """The engine's side: banner, then Responses and Events."""

    def __init__(self) -> None:
        super().__init__()
        self._banner_seen = False
        self._carry: list[Banner | Response | Event] = []

    def feed(self, data: bytes) -> list[Banner | Response | Event]:
        """Decode what is complete. On a malformed frame the good frames around it are kept and
        returned by ``take_carried()``; the error is raised now."""
        out: list[Banner | Response | Event] = []
        if not self._banner_seen:
            buf = self._buf + data
            nl = buf.find(b"\r\n")
            if nl < 0:
                self._buf = buf
                return out
            self._buf = b""
            data = buf[nl + 2 :]
            self._banner_seen = True
            out.append(Banner(buf[:nl].decode("utf-8", errors="replace")))
        error: AmiProtocolError | None = None
        for block in self._blocks(data):
            try:
                out.append(self._frame(block))
            except AmiProtocolError as exc:
                error = error or exc
        if error is not None:
            self._carry = out
            raise error
        return out

    def take_carried(self) -> list[Banner | Response | Event]:
        """Frames decoded alongside a malformed one (see ``feed``)."""
        carried, self._carry = self._carry, []
        return carried

    @staticmethod
    def _frame(block: bytes) -> Response | Event:
        lines = _text(block).split("\r\n")
        first = lines[0]
        if first.startswith("Event: "):
            return Event(_parse_event_headers(lines), first[7:])
        if first.startswith("Response:"):
            follows = first.strip() == "Response: Follows"
            headers, output = _parse_headers(lines, body_allowed=follows)
            if follows and output and output[-1] == "--END COMMAND--":
                output = output[:-1]
            return Response(headers, output)
        if first.startswith("Event:"):
            headers, _ = _parse_headers(lines, body_allowed=False)
            return Event(headers)
        raise AmiProtocolError(f"frame starts with neither Event nor Response: {first[:80]!r}")


class AmiServerDecoder(_Decoder):
    """The simulator's side: Actions from the client."""

    def feed(self, data: bytes) -> list[Action]:
        out: list[Action] = []
        error: AmiProtocolError | None = None
        for block in self._blocks(data):
            lines = _text(block.lstrip(b"\r\n")).split("\r\n")
            try:
                headers, _ = _parse_headers(lines, body_allowed=False)
                if "Action" not in headers:
                    raise AmiProtocolError("frame without an Action header")
                out.append(Action(headers))
            except AmiProtocolError as exc:
                error = error or exc
        if error is not None:
            raise error
        return out


def _encode(first_key: str, first_value: str, headers: Iterable[tuple[str, str]] | Headers) -> bytes:
    pairs = headers.items() if isinstance(headers, Headers) else list(headers)
    lines = [f"{first_key}: {first_value}"]
    for key, value in pairs:
        if "\r" in key or "\n" in key or "\r" in str(value) or "\n" in str(value):
            raise ValueError(f"AMI header {key!r} must not contain a line break")
        lines.append(f"{key}: {value}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8")


def encode_action(name: str, headers: Iterable[tuple[str, str]] | Headers = ()) -> bytes:
    return _encode("Action", name, headers)


def encode_event(name: str, headers: Iterable[tuple[str, str]] | Headers = ()) -> bytes:
    return _encode("Event", name, headers)


def encode_response(status: str, headers: Iterable[tuple[str, str]] | Headers = ()) -> bytes:
    return _encode("Response", status, headers)


def encode_banner(version: str = "11.0.0") -> bytes:
    return f"Asterisk Call Manager/{version}\r\n".encode()
