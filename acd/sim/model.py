"""Value objects of the simulator: scripted callers, agent behaviours, recordings, call outcomes.

Times in outcomes and recordings are *simulated* seconds since the PBX started (see
``acd.sim.timebase.SimTime``): with ``time_scale=0.1`` a 2 s prompt takes 0.2 s of wall time but
still counts as 2 s here, so assertions do not depend on the speed factor.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any
from collections.abc import Sequence


class ChannelState(IntEnum):
    DOWN = 0
    RING = 4
    RINGING = 5
    UP = 6


STATE_DESC = {0: "Down", 4: "Ring", 5: "Ringing", 6: "Up"}

# Hangup causes as Asterisk names them in the Hangup event's Cause-txt.
HANGUP_CAUSES = {
    0: "Unknown",
    16: "Normal Clearing",
    17: "User busy",
    18: "No user responding",
    19: "User alerting, no answer",
    21: "Call Rejected",
    26: "Answered elsewhere",
    34: "Circuit/channel congestion",
}

KeyStep = tuple[float, str]


@dataclass(frozen=True)
class CallerScript:
    """What a simulated caller does.

    ``keys`` comes in two forms:

    - a string of *answers*, one per question, separated by commas: ``"1,2345#,9"``. An answer
      is typed when the IVR asks for input (GET DATA, WAIT FOR DIGIT, GET OPTION, or a prompt
      whose escape digits accept the answer's first key, so the caller may barge in): first
      ``think_s`` of thinking, then one key every ``inter_digit_s``. ``w`` inside an answer is a
      0.5 s pause. Keys typed when nothing listens are lost, as on a real line;
    - a list of ``(delay_s, keys)`` steps pressed on a timeline regardless of the IVR:
      ``[(2.0, "1"), (3.5, "4711#")]``; each delay counts from the previous step (the first from
      the answer), the keys of one step go one every ``inter_digit_s``.

    ``hangup_after_s`` hangs up that long after the call starts, wherever it is;
    ``hangup_after_bridge_s`` ends the conversation that long after being connected to an agent;
    ``fallback_patience_s`` is how long the caller stays in the plain fallback queue.
    """

    caller_id: str = "+441234567890"
    caller_name: str = "Sim Caller"
    dnis: str = "5551234"
    keys: str | Sequence[KeyStep] = ""
    think_s: float = 0.4
    inter_digit_s: float = 0.15
    hangup_after_s: float | None = None
    hangup_after_bridge_s: float | None = None
    fallback_patience_s: float | None = 20.0
    language: str = "en"
    endpoint: str = "PJSIP/caller"
    name: str = ""  # a label for logs and the demo

    def answers(self) -> list[str]:
        """The comma-separated answers of the string form ([] for the timeline form)."""
        if not isinstance(self.keys, str) or not self.keys:
            return []
        return [g.strip() for g in self.keys.split(",")]

    def timeline(self) -> list[KeyStep]:
        if isinstance(self.keys, str):
            return []
        return [(float(d), str(k)) for d, k in self.keys]

    def groups(self) -> list[str]:  # older name, kept for callers of the first version
        return self.answers()


@dataclass
class AgentBehaviour:
    """How a simulated agent phone reacts to an Originate (or a Dial).

    ``answer_after_s=None`` never answers: RONA at the Originate ``Timeout`` (Reason 3).
    ``busy`` answers 486 (Reason 5). ``unreachable``: nothing listening at the contact, no
    ringing, Reason 3 at the Timeout. ``talk_s`` is how long the agent talks before hanging up
    (``None``: the agent never hangs up first). ``next_calls`` overrides the behaviour for the
    next calls, one entry per Originate, in order.
    """

    answer_after_s: float | None = 1.0
    busy: bool = False
    talk_s: float | None = 5.0
    unreachable: bool = False
    next_calls: list[AgentBehaviour] = field(default_factory=list)

    @classmethod
    def never_answer(cls) -> AgentBehaviour:
        return cls(answer_after_s=None)

    @classmethod
    def busy_line(cls) -> AgentBehaviour:
        return cls(busy=True)

    @property
    def hangup_after_s(self) -> float | None:
        return self.talk_s

    def for_next_call(self) -> AgentBehaviour:
        return self.next_calls.pop(0) if self.next_calls else self


@dataclass
class Recording:
    """One MixMonitor on a channel: file, start/stop and the muted intervals per direction."""

    file: str
    channel: str
    uniqueid: str
    started: float
    mix_monitor_id: str
    options: str = ""
    caller_direction: str = "read"  # "write" when the recording sits on the agent's channel
    stopped: float | None = None
    mutes: list[tuple[float, float, str]] = field(default_factory=list)  # (start, end, direction)
    _open: dict[str, float] = field(default_factory=dict, repr=False)

    def mute(self, direction: str, on: bool, now: float) -> None:
        if on:
            self._open.setdefault(direction, now)
        elif direction in self._open:
            self.mutes.append((self._open.pop(direction), now, direction))

    def stop(self, now: float) -> None:
        for direction in list(self._open):
            self.mute(direction, False, now)
        self.stopped = now

    def caller_audible_at(self, t: float) -> bool:
        """Would the file hold the caller's own audio (their DTMF tones) at time ``t``?
        Muting the caller's direction (``read`` on the caller's channel) or ``both`` removes it."""
        if t < self.started or (self.stopped is not None and t > self.stopped):
            return False
        for start, end, direction in self.mutes:
            if direction in (self.caller_direction, "both") and start <= t <= end:
                return False
        for direction, start in self._open.items():
            if direction in (self.caller_direction, "both") and t >= start:
                return False
        return True

    def __getitem__(self, key: str) -> Any:  # dict-style access, as the first version offered
        return getattr(self, key)


@dataclass(frozen=True)
class SilenceGap:
    """A period the answered caller heard nothing: no prompt, no music, no conversation.
    ``during`` is ``"input"`` when the line was waiting for the caller's keys, else ``"idle"``
    (dead air: what the product promises never happens while a caller waits)."""

    start: float
    end: float
    during: str

    @property
    def duration(self) -> float:
        return self.end - self.start


@dataclass(frozen=True)
class KeyPress:
    t: float
    digit: str
    heard: bool  # False: nothing was listening, the key was lost


@dataclass
class CallOutcome:
    uniqueid: str
    channel: str
    caller_id: str
    started: float
    ended: float | None = None
    answered_at: float | None = None
    agent: str | None = None  # endpoint it was (last) bridged with, e.g. "PJSIP/agent1"
    agent_channel: str | None = None
    bridged_at: float | None = None
    unbridged_at: float | None = None
    hung_up_by: str | None = None  # "caller", "agent", "engine", "pbx"
    hangup_cause: int | None = None
    fallback: bool = False  # the FastAGI session ended without a bridge: acd-fallback ran
    fallback_reason: str | None = None  # "agi_failed" (no engine) or "session_ended"
    transferred_to: str | None = None
    prompts: list[str] = field(default_factory=list)
    surveyed: bool = False  # stayed on the line after the agent left, in [acd-survey]
    keys: list[KeyPress] = field(default_factory=list)
    silence_gaps: list[SilenceGap] = field(default_factory=list)
    recordings: list[Recording] = field(default_factory=list)
    agi_sessions: int = 0

    @property
    def connected(self) -> bool:
        return self.bridged_at is not None

    @property
    def digits_sent(self) -> str:
        return "".join(k.digit for k in self.keys)

    @property
    def max_silence_s(self) -> float:
        """Longest dead air (idle silence) the caller heard."""
        return max((g.duration for g in self.silence_gaps if g.during == "idle"), default=0.0)

    @property
    def talk_s(self) -> float | None:
        if self.bridged_at is None:
            return None
        end = self.unbridged_at if self.unbridged_at is not None else self.ended
        return None if end is None else end - self.bridged_at

    def keys_in_recordings(self) -> str:
        """The keys whose tones a recording of this call would contain (none should be a secret)."""
        return "".join(k.digit for k in self.keys if any(r.caller_audible_at(k.t) for r in self.recordings))
