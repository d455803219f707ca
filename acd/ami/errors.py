"""AMI errors, split by whose fault they are (h11 style)."""


class AmiError(Exception):
    """Base of every AMI failure."""


class AmiProtocolError(AmiError):
    """The peer sent bytes that are not AMI. Ends that frame only."""


class AmiAuthError(AmiError):
    """Login refused (bad username or secret). Asterisk closes the socket after it."""


class AmiTimeout(AmiError):
    """No reply to an action within its time limit."""


class AmiLinkLost(AmiError):
    """The link dropped while the action was pending. It is never re-sent: the caller decides."""


class AmiNotConnected(AmiError):
    """An action was sent while the link is down."""


class AmiActionError(AmiError):
    """Asterisk answered ``Response: Error``; ``response`` holds the reply."""

    def __init__(self, action: str, response) -> None:
        super().__init__(f"{action} failed: {response.message or 'Error'}")
        self.response = response
