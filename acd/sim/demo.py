"""Demo traffic for the simulated PBX: callers arriving at random (a Poisson stream at a given
rate) with a mix of behaviours, and agent phones that mostly answer, sometimes ring out (RONA)
or are busy. ``acd demo`` runs it so a new user sees calls flow with nothing installed."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from typing import TYPE_CHECKING, Any

from acd.logs import get_logger
from acd.sim.model import AgentBehaviour, CallerScript, CallOutcome
from acd.sim.pbx import CallHandle, SimPbx

if TYPE_CHECKING:
    from acd.sim.democustomers import DemoCustomer
    from acd.telemetry.metrics import QueueDay

log = get_logger(__name__)

RUSH_FIRST_S, RUSH_EVERY_S, RUSH_CALLS, RUSH_GAP_S = 60.0, 150.0, 5, (0.5, 2.0)
CALLBACK_TAKERS = 0.5  # share of the other general-queue callers who take the callback when offered
FIRST_NAMES = ["Amélie", "Bjørn", "Chloé", "Dmitri", "Eilidh", "Farah", "Gökhan", "Hana", "Íde", "Jun"]


def demo_agents(endpoints: list[str], rng: random.Random, talk_s: tuple[float, float] = (8, 30)) -> dict[str, AgentBehaviour]:
    """One behaviour per agent endpoint (``PJSIP/agent1`` -> ``agent1``): answers in 1-4 s."""
    agents = {}
    for ep in endpoints:
        name = ep.split("/", 1)[-1]
        agents[name] = AgentBehaviour(answer_after_s=rng.uniform(1.0, 4.0), talk_s=rng.uniform(*talk_s))
    return agents


class DemoTraffic:
    """Places random callers into ``pbx`` at ``calls_per_minute`` until stopped.

    Caller mix: most choose a menu option and wait for an agent, some barge in, some type
    an account number, about 15 % lose patience while queued and hang up, and about 10 % come
    for a callback ("callback": press 1 when the general queue offers it). Of the other callers
    who choose the general queue, ``CALLBACK_TAKERS`` press 1 too if the offer comes; everyone
    who booked one answers the call back. The offer comes only to callers still waiting after
    ``callback_after_s`` with no agent ringing for them, and at the default traffic most calls
    are answered sooner: with only the "callback" callers, a 4-minute demo often booked none.
    So, as at a real centre's peaks, a rush of ``RUSH_CALLS`` callers comes every
    ``RUSH_EVERY_S`` (the first ``RUSH_FIRST_S`` after the start): the queues back up for a
    minute, some callers are offered the callback and take it, and the service level recovers.
    Before each call the demo agents' phones are re-rolled: 5 % ring out, 2 % are busy, the
    rest answer in 1-4 s.
    """

    def __init__(self, pbx: SimPbx, calls_per_minute: float, rng: random.Random, dnis: str = "5551234", agent_names: list[str] | None = None) -> None:
        self.pbx = pbx
        self.rate = calls_per_minute / 60.0
        self.rng = rng
        self.dnis = dnis
        self.agent_names = agent_names if agent_names is not None else list(pbx.agents)
        self.placed = 0
        self.known_customers: list[DemoCustomer] = []  # once seeded
        self.calls: list[CallHandle] = []
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        if self.pbx.default_customer is None:  # callers who asked for a callback answer it
            self.pbx.default_customer = AgentBehaviour(answer_after_s=3.0, talk_s=20.0)
        if self.rate > 0:
            self._tasks = [asyncio.create_task(self._run(), name="sim-demo-traffic"),
                           asyncio.create_task(self._rushes(), name="sim-demo-rushes")]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []

    def script(self) -> CallerScript:
        rng = self.rng
        if self.known_customers and rng.random() < 0.35:  # a customer on file: caller id, then the PIN
            c = rng.choice(self.known_customers)
            pin = c.pin if rng.random() < 0.85 else "0000"
            talk = rng.uniform(10, 40)
            return CallerScript(caller_id=c.phone, caller_name=c.name, dnis=self.dnis, think_s=rng.uniform(0.3, 1.2),
                                keys=self._takes_callback(f"{pin}#,{rng.choice('1123')}"), hangup_after_bridge_s=talk, name="customer")
        number = f"+4479{rng.randint(10_000_000, 99_999_999)}"
        name = rng.choice(FIRST_NAMES)
        kind = rng.random()
        common: dict[str, Any] = dict(caller_id=number, caller_name=name, dnis=self.dnis, think_s=rng.uniform(0.3, 1.5))
        if kind < 0.15:  # impatient: hangs up while waiting
            return CallerScript(keys=rng.choice("123"), hangup_after_s=rng.uniform(8, 25), name="impatient", **common)
        if kind < 0.25:  # general queue, then "press 1 to be called back" when it is offered
            return CallerScript(keys="1,1", name="callback", **{**common, "think_s": 0.1})
        if kind < 0.35:  # knows the menu and barges in
            return CallerScript(keys=rng.choice("123"), name="barge-in", **{**common, "think_s": 0.2})
        if kind < 0.50:  # types an account number when asked
            account = "".join(rng.choice("0123456789") for _ in range(8))
            return CallerScript(keys=f"{rng.choice('12')},{account}#", name="account", **common)
        after_bridge = rng.uniform(10, 40) if rng.random() < 0.5 else None
        return CallerScript(keys=self._takes_callback(rng.choice("11223")), hangup_after_bridge_s=after_bridge, name="regular", **common)

    def _takes_callback(self, keys: str) -> str:
        """``keys`` ending with the general queue's choice: one more answer, 1 for the callback
        offer (no other prompt after the menu asks for keys), for ``CALLBACK_TAKERS`` of them."""
        return keys + ",1" if keys.endswith("1") and self.rng.random() < CALLBACK_TAKERS else keys

    def _reroll_agents(self) -> None:
        for name in self.agent_names:
            b = self.pbx.agents.get(name)
            if b is None:
                continue
            roll = self.rng.random()
            b.busy = roll < 0.02
            b.answer_after_s = None if roll < 0.07 else self.rng.uniform(1.0, 4.0)
            b.talk_s = self.rng.uniform(8, 30)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.rng.expovariate(self.rate) * self.pbx.time_scale)
            await self._place()

    async def _rushes(self) -> None:
        await asyncio.sleep(RUSH_FIRST_S * self.pbx.time_scale)
        while True:
            log.event("demo.rush", calls=RUSH_CALLS)
            for _ in range(RUSH_CALLS):
                await self._place()
                await asyncio.sleep(self.rng.uniform(*RUSH_GAP_S) * self.pbx.time_scale)
            await asyncio.sleep(RUSH_EVERY_S * self.pbx.time_scale)

    async def _place(self) -> None:
        self._reroll_agents()
        call = await self.pbx.place_call(self.script())
        self.calls.append(call)
        self.calls = [c for c in self.calls if not c.done.is_set()] + [c for c in self.calls[-200:] if c.done.is_set()]
        self.placed += 1
        log.event("demo.call.placed", uniqueid=call.uniqueid, kind=call.script.name, placed=self.placed)

    def summary(self, booked: frozenset[str] = frozenset()) -> dict[str, int]:
        """Counts of finished demo calls by result: connected, abandoned, callback (``booked``:
        the calls that booked one: the engine hung up on them), fallback, other."""
        counts: Counter[str] = Counter()
        for out in self.pbx.outcomes:
            counts["callback" if out.uniqueid in booked else _result(out)] += 1
        counts["placed"] = self.placed
        return dict(counts)


def summary_table(traffic: DemoTraffic, queue_days: dict[str, QueueDay], booked: frozenset[str], seconds: float) -> str:
    """What the demo did, printed when it ends: the calls by result (``booked``: the ids of the
    calls that booked a callback), then each queue's figures (``queue_days``: name ->
    ``acd.telemetry.metrics.QueueDay``)."""
    counts = traffic.summary(booked)
    lines = [f"demo summary: {counts.get('placed', 0)} calls placed in {seconds:.0f} s",
             f"  connected {counts.get('connected', 0)}, abandoned {counts.get('abandoned', 0)}, "
             f"callback booked {counts.get('callback', 0)}, fallback {counts.get('fallback', 0)}, other {counts.get('other', 0)}, "
             f"still in progress {max(0, counts.get('placed', 0) - sum(v for k, v in counts.items() if k != 'placed'))}",
             "", f"  {'queue':<10} {'offered':>7} {'answered':>8} {'abandoned':>9} {'SL':>6} {'ASA s':>6}"]
    for name, day in sorted(queue_days.items()):
        if not day.offered:
            continue
        sl = day.service_level("answered")
        asa = day.wait_answered_s / day.answered if day.answered else None
        lines.append(f"  {name:<10} {day.offered:>7} {day.answered:>8} {day.abandoned:>9} "
                     f"{'-' if sl is None else f'{sl:.0%}':>6} {'-' if asa is None else f'{asa:.1f}':>6}")
    return "\n".join(lines) + "\n"


def _result(out: CallOutcome) -> str:
    if out.connected:
        return "connected"
    if out.fallback:
        return "fallback"
    if out.hung_up_by == "caller":
        return "abandoned"
    return "other"
