"""AMI errors, split by whose fault they are (h11 style).

- The peer's fault: ``AmiProtocolError`` (bytes that are not AMI), ``AmiAuthError`` (credentials
  refused), ``AmiActionError`` (Asterisk answered ``Response: Error``).
- The link's fault: ``AmiNotConnected``, ``AmiLinkLost``, ``AmiTimeout``.
- Our own fault: ``AmiEncodeError`` (we tried to send a header AMI cannot carry).
All derive from ``AmiError``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from acd.ami.frames import Response


class AmiError(Exception):
    """Base of every AMI failure."""


class AmiProtocolError(AmiError):
    """The peer sent bytes that are not AMI. Ends that frame only; the decoder goes on."""


class AmiEncodeError(AmiError, ValueError):
    """We asked to encode a header AMI cannot carry (a line break in it, an empty key...)."""


class AmiAuthError(AmiError):
    """Login refused (bad username or secret). Asterisk closes the socket after it."""


class AmiTimeout(AmiError):
    """No reply within the time limit (an action, the login, the link coming up)."""


class AmiLinkLost(AmiError):
    """The link dropped while the action was pending. It is never re-sent: the caller decides."""


class AmiNotConnected(AmiError):
    """The link is down (an action sent while disconnected, or Asterisk unreachable at start)."""


class AmiActionError(AmiError):
    """Asterisk answered ``Response: Error``; ``response`` holds the reply."""

    def __init__(self, action: str, response: Response) -> None:
        super().__init__(f"{action} failed: {response.message or 'Error'}")
        self.action = action
        self.response = response
