"""Ports: the interfaces the pure core (flow interpreter, ACD) calls on the outside world.

The adapters (acd.agi, acd.store, acd.verify, acd.live, the ACD service) implement these, and tests
implement them in memory. Keeping them in one small module lets the core be written, tested and
replayed without any socket or database.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Protocol
from collections.abc import Mapping, Sequence

from acd.events import CallEvent
from acd.secrets import Secret


# Caller ids Asterisk reports for a withheld or missing number (compared lower-cased).
WITHHELD_IDS = frozenset({"", "unknown", "anonymous", "restricted", "private", "withheld", "unavailable"})


# --------------------------------------------------------------------------- caller's channel
@dataclass(frozen=True)
class StreamResult:
    digit: str | None  # the escape digit pressed, or None if played to the end
    endpos: int = 0


@dataclass(frozen=True)
class DigitsResult:
    digits: str
    timed_out: bool


class CallChannel(Protocol):
    """What the IVR can do to the caller. ``acd.agi.channel.AgiChannel`` implements it.

    Raises ``acd.agi.errors.AgiHangup`` when the caller has hung up, ``AgiTimeout`` when Asterisk
    does not answer in time, ``AgiProtocolError`` on garbage.
    """

    async def answer(self) -> None: ...
    async def stream_file(self, filename: str, escape_digits: str = "", offset: int = 0) -> StreamResult: ...
    async def get_data(self, filename: str, timeout_ms: int | None = None, max_digits: int | None = None) -> DigitsResult: ...
    async def wait_for_digit(self, timeout_ms: int) -> str | None: ...
    async def say_digits(self, digits: str, escape_digits: str = "") -> str | None: ...
    async def say_number(self, number: int, escape_digits: str = "") -> str | None: ...
    async def say_date(self, epoch_seconds: int, escape_digits: str = "") -> str | None: ...
    async def get_variable(self, name: str) -> str | None: ...
    async def set_variable(self, name: str, value: str) -> None: ...
    async def exec(self, application: str, *args: str) -> int: ...
    async def hangup(self) -> None: ...


# --------------------------------------------------------------------------- customers
@dataclass(frozen=True)
class CustomerSummary:
    customer_id: str
    name: str
    account_number: str | None = None
    segment: str | None = None
    vip: bool = False
    language: str | None = None
    owner_agent: str | None = None
    last_agent: str | None = None  # for sticky routing
    attributes: Mapping[str, Any] = field(default_factory=dict)  # extra fields for flow templates


class CustomerDirectory(Protocol):
    async def find_by_phone(self, e164: str) -> Sequence[CustomerSummary]: ...
    async def find_by_account(self, account_number: str) -> CustomerSummary | None: ...


# --------------------------------------------------------------------------- verification
class VerificationLevel(str, Enum):
    NONE = "none"
    IDENTIFIED = "identified"
    VERIFIED = "verified"


class VerifyResult(str, Enum):
    OK = "ok"
    FAILED = "failed"
    LOCKED = "locked"  # too many failures in the window: route to an agent, flag the call
    NO_SECRET = "no_secret"  # the customer has no such secret on file


class VerificationService(Protocol):
    """Checks secrets against slow salted hashes; counts failures per customer and per caller
    number across calls; audits every attempt (time, caller number, method, result), never digits."""

    async def is_locked(self, customer_id: str, caller_number: str | None) -> bool: ...
    async def verify_pin(self, customer_id: str, pin: Secret, caller_number: str | None, call_id: str) -> VerifyResult: ...
    async def verify_date(self, customer_id: str, kind: str, date_digits: Secret, caller_number: str | None, call_id: str) -> VerifyResult: ...


# --------------------------------------------------------------------------- the call's record
class InteractionRecorder(Protocol):
    """Appends to the call's interaction record and timeline. Never raises for a storage
    outage: the durable path spools and replays."""

    def event(self, call_id: str, event: CallEvent) -> None: ...


class CallTimeline(InteractionRecorder, Protocol):
    """The recorder that also keeps this node's timeline of recent calls for its screens."""

    def remember(self, call_id: str, event: CallEvent) -> None:
        """Keep an event another node records (the leader's, applied here from the log) on this
        node's timeline, without recording it again."""
        ...


# --------------------------------------------------------------------------- hand-off to the ACD
@dataclass(frozen=True)
class SkillRequirement:
    skill: str
    min_proficiency: int = 1
    required: bool = True  # False: preferred (scores higher, does not filter)


@dataclass(frozen=True)
class QueueRequest:
    """What a flow's ``queue`` step hands to the ACD."""

    queue: str
    skills: tuple[SkillRequirement, ...] = ()
    language: str | None = None
    verification: VerificationLevel = VerificationLevel.NONE
    priority: int = 0
    vip: bool = False
    customer_id: str | None = None
    locked: bool = False
    attributes: Mapping[str, Any] = field(default_factory=dict)
