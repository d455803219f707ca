"""A million random steps of the ACD core's state machine: the rules and invariants of
``tests/core/coremodel.py`` (which the Hypothesis model ``AcdMachine`` of
tests/core/test_routing_core.py drives too), with a seeded random generator choosing instead of
Hypothesis (which spends most of its time on shrinking-friendly data drawing; CI keeps the
Hypothesis run, smaller, for its shrinking).

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
import random
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from acd.routing.core import AcdCore
from bench.common import Row
from tests.core import coremodel as model
from tests.core.coremodel import Broken, CoreFactory, CoreModel


@dataclass
class Violation:
    seed: int
    run: int
    step: int
    invariant: str
    detail: str


class Run:
    """One run of the model (``tests/core/coremodel.py``), its rules' choices drawn from ``rng``."""

    def __init__(self, rng: random.Random, make_core: CoreFactory) -> None:
        self.rng = rng
        self.model = CoreModel(make_core)

    def pick(self, items: Any) -> Any:
        return items[self.rng.randrange(len(items))]

    def chance(self) -> bool:
        return self.rng.random() < 0.5

    # ------------------------------------------------------------------ the rules, as AcdMachine draws them
    def arrive(self) -> None:
        self.model.arrive(self.pick(model.QUEUE_NAMES), self.pick(model.PRIORITIES), self.chance())

    def agent_desk(self) -> None:
        self.model.agent_desk(self.pick(model.AGENT_INDEXES), self.pick(model.DESK_ACTIONS))

    def offer_outcome(self) -> None:
        if offers := self.model.offer_ids():
            self.model.offer_outcome(self.pick(offers), self.pick(model.OFFER_OUTCOMES))

    def a_waiting_caller_acts(self) -> None:
        if waiting := self.model.waiting_calls():
            self.model.a_waiting_caller_acts(self.pick(waiting), self.chance(), self.pick(model.LEAVE_REASONS))

    def a_connected_call(self) -> None:
        if live := self.model.connected_calls():
            self.model.a_connected_call(self.pick(live), self.pick(model.CONNECTED_ACTIONS), self.pick(model.HANGUP_BY))

    def wrap_up(self) -> None:
        if agents := self.model.wrapping_agents():
            self.model.wrap_up(self.pick(agents), self.chance(), self.chance())

    def device(self) -> None:
        self.model.device(self.pick(model.AGENT_INDEXES), self.pick(model.DEVICE_STATES), self.chance())

    def a_call_is_found_in_asterisk(self) -> None:
        self.model.a_call_is_found_in_asterisk(self.pick(model.AGENT_INDEXES))

    def resync(self) -> None:
        self.model.resync({k for k in self.model.known_calls() if self.chance()})

    def time_passes(self) -> None:
        self.model.time_passes(self.rng.uniform(0, model.MAX_SECONDS_PASSING))

    def config_change(self) -> None:
        self.model.config_change(self.rng.uniform(*model.RING_TIMEOUTS_S))

    def take_a_snapshot(self) -> None:
        self.model.take_a_snapshot()

    RULES: tuple[Callable[[Run], None], ...] = ()  # set below the class


Run.RULES = (
    Run.arrive, Run.agent_desk, Run.offer_outcome, Run.a_waiting_caller_acts, Run.a_connected_call, Run.wrap_up, Run.device,
    Run.a_call_is_found_in_asterisk, Run.resync, Run.time_passes, Run.config_change, Run.take_a_snapshot,
)


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
                run.model.check_step()
            run.model.check_end()
        except Broken as exc:
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
