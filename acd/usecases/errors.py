"""What a use case refuses, in the domain's words; ``acd.http.errors`` maps each to a status."""

from __future__ import annotations


class UseCaseError(Exception):
    """A refusal a client can act on (not a programming error)."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class NotVisible(UseCaseError):
    """No such thing, or not one the user may see (the two are not told apart)."""


class NotAllowed(UseCaseError):
    """The user may not do this."""


class Refused(UseCaseError):
    """The engine's state does not allow it now (an agent with no call, flows off...)."""


class Unreachable(UseCaseError):
    """Something outside the engine (Asterisk, the database) refused or did not answer."""


class BadInput(UseCaseError):
    """A value the use case refuses; ``field`` names it."""

    def __init__(self, field: str, detail: str) -> None:
        super().__init__(f"{field}: {detail}")
        self.field = field
