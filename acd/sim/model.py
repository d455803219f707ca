"""Value objects of the simulator: scripted callers, agent behaviours, channel records, outcomes."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum


class ChannelState(IntEnum):
    DOWN = 0
    RING = 4
    RINGING = 5
    UP = 6


STATE_DESC = {0: "Down", 4: "Ring", 5: "Ringing", 6: "Up"}


@dataclass(frozen=True)
class CallerScript:
    """What a simulated caller does.

    ``keys`` is the caller's answers, one group per question, e.g. ``"1,2345#,9"``: a group is
    typed when a prompt asks for input (it may barge into the prompt), digit by digit. When a
    group is used up, later input requests hear nothing until the next prompt starts the next
    group. ``hangup_after_s`` hangs up at that time after the call starts, wherever it is.
    """

    caller_id: str = "+441234567890"
    caller_name: str = "Sim Caller"
    dnis: str = "5551234"
    keys: str = ""
    think_s: float = 0.4
    inter_digit_s: float = 0.15
    hangup_after_s: float | None = None
    hangup_after_bridge_s: float | None = None  # caller ends the conversation this long after answer
    language: str = "en"

    def groups(self) -> list[str]:
        return [g.strip() for g in self.keys.split(",")] if self.keys else []


@dataclass
class AgentBehaviour:
    """How a simulated agent phone reacts to an Originate."""

    answer_after_s: float | None = 1.0  # None: never answers (RONA at the Originate Timeout)
    busy: bool = False  # answers 486 Busy: OriginateResponse Reason 5
    talk_s: float = 5.0  # agent hangs up this long after answering
    unreachable: bool = False  # nothing listening: Reason 3 at the Timeout, no ringing


@dataclass
class CallOutcome:
    uniqueid: str
    channel: str
    caller_id: str
    started: float
    ended: float | None = None
    agent: str | None = None  # agent endpoint it was bridged with
    bridged_at: float | None = None
    hung_up_by: str | None = None  # "caller", "agent", "engine", "pbx"
    fallback: bool = False  # the FastAGI session ended without a bridge: acd-fallback ran
    transferred_to: str | None = None
    prompts: list[str] = field(default_factory=list)
    digits_sent: str = ""
    max_silence_s: float = 0.0
    recordings: list[dict] = field(default_factory=list)

    @property
    def connected(self) -> bool:
        return self.bridged_at is not None
