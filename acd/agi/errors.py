"""FastAGI errors, split by whose fault they are."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from acd.agi.codec import AgiEnvironment, Hangup, Reply


class AgiError(Exception):
    """Base of every FastAGI failure."""


class AgiHangup(AgiError):
    """The caller hung up (or was bridged away): ``200 result=-1``, ``HANGUP`` or ``511``."""


class AgiProtocolError(AgiError):
    """Asterisk's side sent something that is not FastAGI. Ends this session only.

    Raised by the decoder, ``frames`` holds what it decoded before the bad line in that feed."""

    def __init__(self, message: str, frames: list[AgiEnvironment | Reply | Hangup] | None = None) -> None:
        super().__init__(message)
        self.frames: list[AgiEnvironment | Reply | Hangup] = list(frames or [])


class AgiLimitError(AgiProtocolError):
    """The peer went over a size limit (the environment block's lines or bytes, a line's length).
    The session is refused and closed; nothing more is read from that peer."""


class AgiUnexpectedReply(AgiProtocolError):
    """A reply arrived with no command pending (a reply to nothing, or a second one): the peer
    is out of step, and any later reply could be taken for the wrong command. Ends the session."""


class AgiTimeout(AgiError):
    """No reply within the command's time limit. The session is closed."""


class AgiCommandError(AgiError):
    """Asterisk refused the command: ``510`` (unknown) or ``520`` (usage). Our bug, not the caller's."""

    def __init__(self, command: str, reply: Reply) -> None:
        super().__init__(f"{command!r} refused: {' | '.join(reply.lines)}")
        self.command = command
        self.reply = reply
