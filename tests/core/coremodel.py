"""The model of the ACD core's state machine, defined once: its rules (every event kind the
core takes, each with the choices it needs given as arguments) and its invariants. Two drivers
choose the arguments: Hypothesis in ``tests/core/test_routing_core.py`` (``AcdMachine``, small,
for its shrinking) and a seeded random generator in ``bench/property.py`` (a million steps).

A ``CoreModel`` holds a core, a replica fed the same log live, the log, the last snapshot, and
which calls arrived and finished. ``check_step`` checks the invariants that hold after every
step; ``check_end`` those of a whole run (replay equals live, snapshot plus tail equals it too).
A broken invariant raises ``Broken`` with its name.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from typing import Any

from acd.routing import inputs as ev
from acd.routing.commands import Command, Record
from acd.routing.core import AcdCore
from acd.routing.model import AgentConfig, AgentState, QueueConfig, RelaxStep
from acd.routing.snapshot import from_state, to_state

T0 = 1_800_000_000.0
AGENTS = [AgentConfig(id=f"a{i}", name=f"A{i}", endpoint=f"PJSIP/a{i}", skills={"general": 1 + i % 5, "vip": 1 + (i * 2) % 5})
          for i in range(5)]
QUEUES = [
    QueueConfig("general", skills={"general": 1}, wrapup_s=5, max_wait_s=300, callback_retry_s=20, callback_attempts=2),
    QueueConfig("vip", skills={"vip": 3}, relax=(RelaxStep(20, 1),), overflow_to="general", overflow_after_s=90, wrapup_s=0),
]
CALLBACK_NUMBER = "+447700900123"

# The choices of each rule.
QUEUE_NAMES = ("general", "vip")
PRIORITIES = (0, 1, 2)
AGENT_INDEXES = tuple(range(len(AGENTS)))
DESK_ACTIONS = ("login", "logout", "ready", "pause", "pause_after", "forced_logout")
OFFER_OUTCOMES = ("ringing", "claim", "bridge", "rona", "pbx", "leg_hangup", "abandon", "callback")
LEAVE_REASONS = ("abandoned", "engine_error")
CONNECTED_ACTIONS = ("hold", "unhold", "hangup")
HANGUP_BY = ("caller", "agent")
DEVICE_STATES = ("UNAVAILABLE", "NOT_INUSE", "INUSE", "BUSY")
MAX_SECONDS_PASSING = 40.0
RING_TIMEOUTS_S = (5.0, 30.0)  # a config change sets the first queue's ring timeout in this range

CoreFactory = Callable[..., AcdCore]

INVARIANTS = ("never_two_offers_or_calls_per_agent", "one_live_offer_per_call", "callbacks_wait_their_delay",
              "no_call_lost_or_duplicated", "queues_stay_in_priority_order", "replay_equals_live", "snapshot_plus_tail_equals_replay")


class Broken(AssertionError):
    """An invariant does not hold."""

    def __init__(self, invariant: str, detail: str) -> None:
        super().__init__(f"{invariant}: {detail}")
        self.invariant, self.detail = invariant, detail


def expect(ok: bool, invariant: str, detail: str = "") -> None:
    if not ok:
        raise Broken(invariant, detail)


class CoreModel:
    """One run of the state machine (see the module's docstring)."""

    def __init__(self, make_core: CoreFactory = AcdCore) -> None:
        self.core = make_core(QUEUES, AGENTS, now=T0)
        self.replica = AcdCore(QUEUES, AGENTS, now=T0)
        self.t = T0
        self.log: list[ev.AcdInput] = []
        self.snapshot = to_state(self.core)
        self.snapshot_at = 0
        self.n = 0
        self.arrived: set[str] = set()
        self.finished: set[str] = set()

    def do(self, make: Callable[..., ev.AcdInput], *args: Any, **kw: Any) -> list[Command]:
        """Stamp an input with the model's time, hand it to the core and the replica, and note
        which calls it finished."""
        event = make(self.t, *args, **kw)
        self.log.append(event)
        out = self.core.handle(event)
        self.replica.handle(event)
        for c in out:
            if isinstance(c, Record) and c.kind in ("queue_exit", "wrapup_done") and c.call_id in self.arrived:
                if c.kind == "queue_exit" or c.call_id not in self.core.live:
                    self.finished.add(c.call_id)
            if isinstance(c, Record) and c.kind == "queue_refused":
                self.finished.add(c.call_id)
        return out

    # ------------------------------------------------------------------ what a rule may choose from
    def offer_ids(self) -> list[str]:
        return sorted(self.core.offers)

    def waiting_calls(self) -> list[str]:
        return sorted(self.core.calls)

    def connected_calls(self) -> list[str]:
        return sorted(self.core.connected)

    def wrapping_agents(self) -> list[str]:
        return sorted(self.core.wrapups)

    def known_calls(self) -> list[str]:
        return sorted(set(self.core.calls) | set(self.core.connected) | set(self.core.offers))

    # ------------------------------------------------------------------ the rules
    def arrive(self, queue: str, priority: int, with_number: bool) -> None:
        self.n += 1
        self.arrived.add(f"c{self.n}")
        self.do(ev.CallQueued, f"c{self.n}", queue, f"PJSIP/c-{self.n}", self.t, priority=priority,
                caller_number=CALLBACK_NUMBER if with_number else "")

    def agent_desk(self, i: int, what: str) -> None:
        a = f"a{i}"
        if what == "login":
            self.do(ev.AgentLogin, a)
        elif what == "logout":
            self.do(ev.AgentLogout, a)
        elif what == "ready":
            self.do(ev.AgentReady, a)
        elif what == "pause":
            self.do(ev.AgentNotReady, a, "break")
        elif what == "pause_after":
            self.do(ev.AgentNotReady, a, "break", after_call=True)
        else:
            self.do(ev.AgentLogout, a, by="sup", forced=True)

    def offer_outcome(self, offer_id: str, outcome: str) -> None:
        offer = self.core.offers[offer_id]
        if outcome == "ringing":
            self.do(ev.LegRinging, offer.offer_id)
        elif outcome == "claim":
            self.do(ev.ClaimAsked, offer.offer_id)
        elif outcome == "bridge":
            self.do(ev.ClaimAsked, offer.offer_id)
            entry = self.core.calls.get(offer.call_id)
            self.do(ev.CallerBridged, offer.call_id, "PJSIP/c", offer_id=offer.offer_id if entry and entry.callback_number else None)
        elif outcome in ("rona", "pbx"):
            self.do(ev.OfferFailed, offer.offer_id, ev.FailCause.NO_ANSWER if outcome == "rona" else ev.FailCause.PBX)
        elif outcome == "leg_hangup":
            self.do(ev.LegHungUp, offer.offer_id)
        elif outcome == "callback":
            self.do(ev.CallbackAsked, offer.call_id, CALLBACK_NUMBER)
        else:
            self.do(ev.CallerLeft, offer.call_id, "abandoned")

    def a_waiting_caller_acts(self, call_id: str, leaves: bool, reason: str) -> None:
        """The caller hangs up (``reason``) or asks to be called back."""
        if leaves:
            self.do(ev.CallerLeft, call_id, reason)
        else:
            self.do(ev.CallbackAsked, call_id, CALLBACK_NUMBER)

    def a_connected_call(self, call_id: str, what: str, by: str) -> None:
        if what == "hangup":
            self.do(ev.CallHungUp, call_id, by=by)
        else:
            self.do(ev.HoldChanged, call_id, what == "hold")

    def wrap_up(self, agent_id: str, finishes: bool, first_contact: bool) -> None:
        """The agent finishes the wrap-up (resolved) or asks for 30 s more."""
        if finishes:
            self.do(ev.WrapUpFinished, agent_id, "resolved", None, first_contact)
        else:
            self.do(ev.WrapUpExtended, agent_id, 30.0)

    def device(self, i: int, state: str, resync: bool) -> None:
        self.do(ev.DeviceStateChanged, f"PJSIP/a{i}", state, resync=resync)

    def a_call_is_found_in_asterisk(self, i: int) -> None:
        self.n += 1
        if self.do(ev.AgentBridged, f"a{i}", f"c{self.n}", "PJSIP/x") and f"c{self.n}" in self.core.connected:
            self.arrived.add(f"c{self.n}")

    def resync(self, present: Iterable[str]) -> None:
        self.do(ev.ChannelsPresent, frozenset(present))

    def time_passes(self, seconds: float) -> None:
        """The clock moves on and every timer due by then fires, earliest first."""
        self.t += seconds
        for timer_id, at in sorted(self.core.timers.items(), key=lambda x: x[1]):
            if at <= self.t and timer_id in self.core.timers:
                self.do(ev.TimerFired, timer_id)

    def config_change(self, ring_timeout_s: float) -> None:
        self.do(ev.ConfigApplied, (dataclasses.replace(QUEUES[0], ring_timeout_s=ring_timeout_s), QUEUES[1]), tuple(AGENTS))

    def take_a_snapshot(self) -> None:
        self.snapshot, self.snapshot_at = to_state(self.core), len(self.log)

    # ------------------------------------------------------------------ the invariants
    def never_two_offers_or_calls_per_agent(self) -> None:
        core, name = self.core, "never_two_offers_or_calls_per_agent"
        holders = [o.agent_id for o in core.offers.values()] + list(core.connected.values())
        expect(len(holders) == len(set(holders)), name, f"holders {holders}")
        for offer in core.offers.values():
            state = core.agents[offer.agent_id].state
            expect(state in (AgentState.RESERVED, AgentState.RINGING), name, f"{offer.agent_id} holds an offer in {state}")
        for agent_id in core.connected.values():
            expect(core.agents[agent_id].state == AgentState.ON_CALL, name, f"{agent_id} connected in {core.agents[agent_id].state}")
        for agent_id in core.wrapups:
            expect(core.agents[agent_id].state == AgentState.WRAP_UP, name, f"{agent_id} wraps up in {core.agents[agent_id].state}")

    def one_live_offer_per_call(self) -> None:
        calls = [o.call_id for o in self.core.offers.values()]
        expect(len(calls) == len(set(calls)), "one_live_offer_per_call", f"offers for {calls}")

    def callbacks_wait_their_delay(self) -> None:
        for offer in self.core.offers.values():
            expect(self.core.calls[offer.call_id].not_before <= offer.created_at, "callbacks_wait_their_delay", offer.offer_id)

    def no_call_lost_or_duplicated(self) -> None:
        core, name = self.core, "no_call_lost_or_duplicated"
        waiting = [e.call_id for v in core.waiting.values() for e in v]
        expect(len(waiting) == len(set(waiting)) and set(waiting) == set(core.calls), name, "waiting lists")
        expect(not (set(waiting) & set(core.live)), name, "waiting and live at once")
        expect((set(waiting) | set(core.live)) <= self.arrived, name, f"never arrived {sorted((set(waiting) | set(core.live)) - self.arrived)}")
        expect((set(waiting) | set(core.live) | self.finished) == self.arrived, name,
               f"lost {sorted(self.arrived - set(waiting) - set(core.live) - self.finished)}")

    def queues_stay_in_priority_order(self) -> None:
        core = self.core
        for entries in core.waiting.values():
            keys = [(-core._effective_priority(e, core.now), e.enqueued_at) for e in entries]
            expect(all(keys[i] <= keys[i + 1] or abs(keys[i][0] - keys[i + 1][0]) < 1e-9 for i in range(len(keys) - 1)),
                   "queues_stay_in_priority_order", f"{[e.call_id for e in entries]}")

    def check_step(self) -> None:
        """The invariants that hold after every step."""
        self.never_two_offers_or_calls_per_agent()
        self.one_live_offer_per_call()
        self.callbacks_wait_their_delay()
        self.no_call_lost_or_duplicated()
        self.queues_stay_in_priority_order()

    def check_end(self) -> None:
        """Once per run (a check per step would make the run quadratic): the replica fed the log
        live equals the core, and so does the last snapshot plus the log after it."""
        state = to_state(self.core)
        expect(to_state(self.replica) == state, "replay_equals_live", "the replica differs")
        rebuilt = from_state(self.snapshot)
        for event in self.log[self.snapshot_at:]:
            rebuilt.handle(event)
        expect(to_state(rebuilt) == state, "snapshot_plus_tail_equals_replay", "the rebuilt core differs")
