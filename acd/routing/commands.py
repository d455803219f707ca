"""The ACD core's outputs: typed commands the driver carries out (AMI, FastAGI, timers, the
record, the push stream). The core never does I/O; a command says what, the driver says how."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from acd.events import CallEvent
from acd.routing.model import Offer


@dataclass(frozen=True)
class Command:
    pass


@dataclass(frozen=True)
class Ring(Command):
    """Reserve the agent (fenced) and ring its phone: Originate with our ChannelId."""

    offer: Offer
    caller_number: str = ""
    callback_number: str | None = None
    customer_id: str | None = None


@dataclass(frozen=True)
class CancelLeg(Command):
    """Hang up a ringing agent leg by its ChannelId (the offer id) and free the reservation."""

    offer_id: str
    agent_id: str
    call_id: str
    reason: str = ""


@dataclass(frozen=True)
class AnswerClaim(Command):
    offer_id: str
    won: bool
    node: str = ""  # the node holding the claim's FastAGI session


@dataclass(frozen=True)
class EndWait(Command):
    """The caller's wait is over: ``answered``, ``abandoned``, ``timeout``, ``full``, ``empty``,
    ``callback``. Carried out by the node holding the caller's session."""

    call_id: str
    outcome: str
    node: str = ""


@dataclass(frozen=True)
class StartRecording(Command):
    call_id: str
    channel: str


@dataclass(frozen=True)
class StartTimer(Command):
    timer_id: str
    at: float


@dataclass(frozen=True)
class CancelTimer(Command):
    timer_id: str


@dataclass(frozen=True)
class ReleaseAgent(Command):
    """The agent is free again: drop its shared reservation."""

    agent_id: str
    ref: str


@dataclass(frozen=True)
class ConfirmAgent(Command):
    """The reservation becomes the call's: held until wrap-up ends."""

    agent_id: str
    offer_id: str
    call_id: str


@dataclass(frozen=True)
class Record(Command):
    """A typed event (``acd.events``) for the call's record (spool, store, push stream,
    metrics, reports)."""

    call_id: str
    event: CallEvent
    at: float = 0.0

    @property
    def kind(self) -> str:
        return self.event.kind

    @property
    def data(self) -> dict[str, Any]:
        return self.event.to_record()


@dataclass(frozen=True)
class Publish(Command):
    """A push-stream event for desks and wallboards that is not on a call's record."""

    kind: str
    data: dict[str, Any] = field(default_factory=dict)
