"""A million random steps of the ACD core's state machine, with the invariants of the Hypothesis
model in tests/core/test_routing_core.py (``AcdMachine``), driven by a seeded random generator
instead of Hypothesis (which spends most of its time on shrinking-friendly data drawing; CI keeps
the Hypothesis run, smaller, for its shrinking).

Each run starts a fresh core (two queues, five agents, as the model), takes ``steps`` random
steps of every event kind (arrivals, desk changes, offers rung / claimed / bridged / RONA'd /
failed by the PBX, abandons, callbacks, hangups, holds, wrap-ups, device states, calls found in
Asterisk, resyncs, time passing with its timers, config changes, snapshots), and after every
step checks: never two offers or calls per agent; one live offer per call; no call lost or
duplicated; queues in priority order. At the end of each run: a replica fed the same log live
equals the core (replay == live), and the last snapshot plus the tail after it equals it too.

``python -m bench.property [--steps N] [--seed S]``: prints steps/s and the violations (exit
status 1 if any).
"""

from __future__ import annotations

import argparse
import dataclasses
import random
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from acd.routing import inputs as ev
from acd.routing.commands import Command, Record
from acd.routing.core import AcdCore
from acd.routing.model import AgentConfig, AgentState, QueueConfig, RelaxStep
from acd.routing.snapshot import from_state, to_state
from bench.common import Row

T0 = 1_800_000_000.0
AGENTS = [AgentConfig(id=f"a{i}", name=f"A{i}", endpoint=f"PJSIP/a{i}", skills={"general": 1 + i % 5, "vip": 1 + (i * 2) % 5})
          for i in range(5)]
QUEUES = [
    QueueConfig("general", skills={"general": 1}, wrapup_s=5, max_wait_s=300, callback_retry_s=20, callback_attempts=2),
    QueueConfig("vip", skills={"vip": 3}, relax=(RelaxStep(20, 1),), overflow_to="general", overflow_after_s=90, wrapup_s=0),
]
CoreFactory = Callable[..., AcdCore]


@dataclass
class Violation:
    seed: int
    run: int
    step: int
    invariant: str
    detail: str


class Run:
    """One run: a core, its replica, its log, and what arrived and finished."""

    def __init__(self, rng: random.Random, make_core: CoreFactory) -> None:
        self.rng = rng
        self.core = make_core(QUEUES, AGENTS, now=T0)
        self.replica = AcdCore(QUEUES, AGENTS, now=T0)
        self.t = T0
        self.log: list[ev.AcdInput] = []
        self.snapshot = to_state(self.core)
        self.snapshot_at = 0
        self.n = 0
        self.arrived: set[str] = set()
        self.finished: set[str] = set()

    # ------------------------------------------------------------------ applying events
    def do(self, make: Callable[..., ev.AcdInput], *args: Any, **kw: Any) -> list[Command]:
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

    def pick(self, items: Any) -> Any:
        return items[self.rng.randrange(len(items))]

    # ------------------------------------------------------------------ the rules (as AcdMachine's)
    def arrive(self) -> None:
        self.n += 1
        self.arrived.add(f"c{self.n}")
        self.do(ev.CallQueued, f"c{self.n}", self.pick(["general", "vip"]), f"PJSIP/c-{self.n}", self.t, priority=self.rng.randint(0, 2),
                caller_number="+447700900123" if self.rng.random() < 0.5 else "")

    def agent_desk(self) -> None:
        a = f"a{self.rng.randrange(5)}"
        what = self.pick(["login", "logout", "ready", "pause", "pause_after", "forced_logout"])
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

    def offer_outcome(self) -> None:
        if not self.core.offers:
            return
        offer = self.core.offers[self.pick(sorted(self.core.offers))]
        outcome = self.pick(["ringing", "claim", "bridge", "rona", "pbx", "leg_hangup", "abandon", "callback"])
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
            self.do(ev.CallbackAsked, offer.call_id, "+447700900123")
        else:
            self.do(ev.CallerLeft, offer.call_id, "abandoned")

    def a_waiting_caller_acts(self) -> None:
        waiting = sorted(self.core.calls)
        if waiting:
            call_id = self.pick(waiting)
            if self.rng.random() < 0.5:
                self.do(ev.CallerLeft, call_id, self.pick(["abandoned", "engine_error"]))
            else:
                self.do(ev.CallbackAsked, call_id, "+447700900123")

    def a_connected_call(self) -> None:
        live = sorted(self.core.connected)
        if live:
            call_id = self.pick(live)
            what = self.pick(["hold", "unhold", "hangup"])
            if what == "hangup":
                self.do(ev.CallHungUp, call_id, by=self.pick(["caller", "agent"]))
            else:
                self.do(ev.HoldChanged, call_id, what == "hold")

    def wrap_up(self) -> None:
        agents = sorted(self.core.wrapups)
        if agents:
            a = self.pick(agents)
            if self.rng.random() < 0.5:
                self.do(ev.WrapUpFinished, a, "resolved", None, self.rng.random() < 0.5)
            else:
                self.do(ev.WrapUpExtended, a, 30.0)

    def device(self) -> None:
        self.do(ev.DeviceStateChanged, f"PJSIP/a{self.rng.randrange(5)}", self.pick(["UNAVAILABLE", "NOT_INUSE", "INUSE", "BUSY"]),
                resync=self.rng.random() < 0.5)

    def a_call_is_found_in_asterisk(self) -> None:
        self.n += 1
        if self.do(ev.AgentBridged, f"a{self.rng.randrange(5)}", f"c{self.n}", "PJSIP/x") and f"c{self.n}" in self.core.connected:
            self.arrived.add(f"c{self.n}")

    def resync(self) -> None:
        known = sorted(set(self.core.calls) | set(self.core.connected) | set(self.core.offers))
        present = {k for k in known if self.rng.random() < 0.5}
        self.do(ev.ChannelsPresent, frozenset(present))

    def time_passes(self) -> None:
        self.t += self.rng.uniform(0, 40)
        for timer_id, at in sorted(self.core.timers.items(), key=lambda x: x[1]):
            if at <= self.t and timer_id in self.core.timers:
                self.do(ev.TimerFired, timer_id)

    def config_change(self) -> None:
        ring = self.rng.uniform(5, 30)
        self.do(ev.ConfigApplied, (dataclasses.replace(QUEUES[0], ring_timeout_s=ring), QUEUES[1]), tuple(AGENTS))

    def take_a_snapshot(self) -> None:
        self.snapshot, self.snapshot_at = to_state(self.core), len(self.log)

    RULES: tuple[Callable[[Run], None], ...] = ()  # set below the class

    # ------------------------------------------------------------------ the invariants
    def check_step(self) -> None:
        core = self.core
        holders = [o.agent_id for o in core.offers.values()] + list(core.connected.values())
        _expect(len(holders) == len(set(holders)), "never_two_offers_or_calls_per_agent", f"holders {holders}")
        for offer in core.offers.values():
            _expect(core.agents[offer.agent_id].state in (AgentState.RESERVED, AgentState.RINGING), "never_two_offers_or_calls_per_agent",
                    f"{offer.agent_id} holds an offer in {core.agents[offer.agent_id].state}")
        for agent_id in core.connected.values():
            _expect(core.agents[agent_id].state == AgentState.ON_CALL, "never_two_offers_or_calls_per_agent", f"{agent_id} connected")
        for agent_id in core.wrapups:
            _expect(core.agents[agent_id].state == AgentState.WRAP_UP, "never_two_offers_or_calls_per_agent", f"{agent_id} wraps up")
        calls = [o.call_id for o in core.offers.values()]
        _expect(len(calls) == len(set(calls)), "one_live_offer_per_call", f"offers for {calls}")
        for offer in core.offers.values():
            _expect(core.calls[offer.call_id].not_before <= offer.created_at, "callbacks_wait_their_delay", offer.offer_id)
        waiting = [e.call_id for v in core.waiting.values() for e in v]
        _expect(len(waiting) == len(set(waiting)) and set(waiting) == set(core.calls), "no_call_lost_or_duplicated", "waiting lists")
        _expect(not (set(waiting) & set(core.live)), "no_call_lost_or_duplicated", "waiting and live at once")
        _expect((set(waiting) | set(core.live) | self.finished) == self.arrived, "no_call_lost_or_duplicated",
                f"lost {sorted(self.arrived - set(waiting) - set(core.live) - self.finished)}")
        for entries in core.waiting.values():
            keys = [(-core._effective_priority(e, core.now), e.enqueued_at) for e in entries]
            _expect(all(keys[i] <= keys[i + 1] or abs(keys[i][0] - keys[i + 1][0]) < 1e-9 for i in range(len(keys) - 1)),
                    "queues_stay_in_priority_order", f"{[e.call_id for e in entries]}")

    def check_end(self) -> None:
        state = to_state(self.core)
        _expect(to_state(self.replica) == state, "replay_equals_live", "the replica differs")
        rebuilt = from_state(self.snapshot)
        for event in self.log[self.snapshot_at:]:
            rebuilt.handle(event)
        _expect(to_state(rebuilt) == state, "snapshot_plus_tail_equals_replay", "the rebuilt core differs")


Run.RULES = (
    Run.arrive, Run.agent_desk, Run.offer_outcome, Run.a_waiting_caller_acts, Run.a_connected_call, Run.wrap_up, Run.device,
    Run.a_call_is_found_in_asterisk, Run.resync, Run.time_passes, Run.config_change, Run.take_a_snapshot,
)


class _Broken(Exception):
    def __init__(self, invariant: str, detail: str) -> None:
        super().__init__(f"{invariant}: {detail}")
        self.invariant, self.detail = invariant, detail


def _expect(ok: bool, invariant: str, detail: str) -> None:
    if not ok:
        raise _Broken(invariant, detail)


@dataclass
class Result:
    steps: int
    runs: int
    seconds: float
    violations: list[Violation] = field(default_factory=list)

    @property
    def steps_per_s(self) -> float:
        return self.steps / self.seconds if self.seconds else float("nan")


def explore(total_steps: int, seed: int = 1, steps_per_run: int = 200, make_core: CoreFactory = AcdCore,
            keep: int = 10) -> Result:
    """Random runs until ``total_steps`` steps were taken. A run that breaks an invariant is
    recorded (up to ``keep`` in detail) and the next run starts fresh."""
    rng = random.Random(seed)
    result = Result(0, 0, 0.0)
    broken = 0
    started = time.perf_counter()
    while result.steps < total_steps:
        run = Run(rng, make_core)
        result.runs += 1
        step = 0
        try:
            for _ in range(min(steps_per_run, total_steps - result.steps)):
                rng.choice(Run.RULES)(run)
                result.steps += 1
                step += 1
                run.check_step()
            run.check_end()
        except _Broken as exc:
            broken += 1
            if len(result.violations) < keep:
                result.violations.append(Violation(seed, result.runs, step, exc.invariant, exc.detail))
    result.seconds = time.perf_counter() - started
    if broken > len(result.violations):
        result.violations.append(Violation(seed, -1, -1, "more", f"{broken - len(result.violations)} more broken runs"))
    return result


def run(smoke: bool) -> list[Row]:
    steps = 20_000 if smoke else 1_000_000
    res = explore(steps)
    return [Row("property", f"core state machine, {res.steps:,} random steps in {res.runs:,} runs, invariants every step, replay and "
                "snapshot + tail every run", {"steps/s": res.steps_per_s, "violations": len(res.violations)},
                ">= 1,000,000 steps, 0 violations", None if smoke else (res.steps >= 1_000_000 and not res.violations))]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.property", description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--steps", type=int, default=1_000_000)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--steps-per-run", type=int, default=200)
    args = p.parse_args(argv)
    import logging
    logging.getLogger("acd").setLevel(logging.ERROR)
    res = explore(args.steps, args.seed, args.steps_per_run)
    print(f"steps {res.steps:,}  runs {res.runs:,}  {res.seconds:.1f} s  steps/s {res.steps_per_s:,.0f}  violations {len(res.violations)}")
    for v in res.violations:
        print(f"  seed {v.seed} run {v.run} step {v.step}: {v.invariant}: {v.detail}")
    return 1 if res.violations else 0


if __name__ == "__main__":
    sys.exit(main())
