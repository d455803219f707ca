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


def _parse_lines(block: bytes) -> list[str]:
    try:
        text = block.decode("utf-8")
    except UnicodeDecodeError:
        text = block.decode("utf-8", errors="replace")
    return text.split("\r\n")


def _parse_headers(lines: list[str], body_allowed: bool) -> tuple[Headers, list[str]]:
    headers = Headers()
    output: list[str] = []
    for line in lines:
        key, sep, value = line.partition(":")
        if sep and key and " " not in key.strip():
            value = value[1:] if value.startswith(" ") else value
            if key == "Output":
                output.append(value)
            headers.add(key, value)
        elif body_allowed:
            output.append(line)  # body of "Response: Follows" (Command action)
        else:
            raise AmiProtocolError(f"not an AMI header line: {line[:80]!r}")
    return headers, output


class _Decoder:
    def __init__(self) -> None:
        self._buf = bytearray()
        self._errors: list[AmiProtocolError] = []

    def _frames(self) -> list[bytes]:
        blocks = []
        while True:
            end = self._buf.find(FRAME_END)
            if end < 0:
                if len(self._buf) > MAX_FRAME:
                    self._buf.clear()
                    raise AmiProtocolError("frame larger than 1 MiB without an end")
                return blocks
            blocks.append(bytes(self._buf[:end]))
            del self._buf[: end + len(FRAME_END)]

    @property
    def buffered(self) -> int:
        return len(self._buf)


class AmiClientDecoder(_Decoder):
    """The engine's side: banner, then Responses and Events."""

    def __init__(self) -> None:
        super().__init__()
        self._banner_seen = False

    def feed(self, data: bytes) -> list[Banner | Response | Event]:
        """Decode what is complete. On a malformed frame the good frames before it are kept in
        the decoder and returned by the next call; the error is raised now."""
        self._buf += data
        out: list[Banner | Response | Event] = []
        if not self._banner_seen:
            nl = self._buf.find(b"\r\n")
            if nl < 0:
                return out
            line = bytes(self._buf[:nl]).decode("utf-8", errors="replace")
            del self._buf[: nl + 2]
            self._banner_seen = True
            out.append(Banner(line))
        error: AmiProtocolError | None = None
        for block in self._frames():
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
        carried, self._carry = getattr(self, "_carry", []), []
        return carried

    @staticmethod
    def _frame(block: bytes) -> Response | Event:
        lines = _parse_lines(block)
        first = lines[0] if lines else ""
        if first.startswith("Event:"):
            headers, _ = _parse_headers(lines, body_allowed=False)
            return Event(headers)
        if first.startswith("Response:"):
            follows = first.strip() == "Response: Follows"
            headers, output = _parse_headers(lines, body_allowed=follows)
            if follows and output and output[-1] == "--END COMMAND--":
                output = output[:-1]
            return Response(headers, output)
        raise AmiProtocolError(f"frame starts with neither Event nor Response: {first[:80]!r}")


class AmiServerDecoder(_Decoder):
    """The simulator's side: Actions from the client."""

    def feed(self, data: bytes) -> list[Action]:
        self._buf += data
        out: list[Action] = []
        error: AmiProtocolError | None = None
        for block in self._frames():
            lines = _parse_lines(block.lstrip(b"\r\n"))
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
