"""Demo traffic for the simulated PBX: callers arriving at random with a mix of behaviours,
and agent phones that mostly answer, sometimes ring out (RONA) or are busy."""

from __future__ import annotations

import asyncio
import random

from acd.logs import get_logger
from acd.sim.model import AgentBehaviour, CallerScript
from acd.sim.pbx import SimPbx

log = get_logger(__name__)

FIRST_NAMES = ["Amélie", "Bjørn", "Chloé", "Dmitri", "Eilidh", "Farah", "Gökhan", "Hana", "Íde", "Jun"]


def demo_agents(endpoints: list[str], rng: random.Random, talk_s: tuple[float, float] = (8, 30)) -> dict[str, AgentBehaviour]:
    agents = {}
    for ep in endpoints:
        name = ep.split("/", 1)[-1]
        agents[name] = AgentBehaviour(answer_after_s=rng.uniform(1.0, 4.0), talk_s=rng.uniform(*talk_s))
    return agents


class DemoTraffic:
    def __init__(self, pbx: SimPbx, calls_per_minute: float, rng: random.Random, dnis: str = "5551234") -> None:
        self.pbx = pbx
        self.rate = calls_per_minute / 60.0
        self.rng = rng
        self.dnis = dnis
        self.placed = 0
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="sim-demo-traffic")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    def _script(self) -> CallerScript:
        rng = self.rng
        r = rng.random()
        number = f"+4479{rng.randint(10_000_000, 99_999_999)}"
        name = rng.choice(FIRST_NAMES)
        if r < 0.15:  # impatient: hangs up while waiting
            return CallerScript(caller_id=number, caller_name=name, dnis=self.dnis, keys="1", hangup_after_s=rng.uniform(8, 25))
        keys = rng.choice(["1", "2", "3", "1", "2"])
        return CallerScript(caller_id=number, caller_name=name, dnis=self.dnis, keys=keys, hangup_after_bridge_s=rng.uniform(10, 40) if rng.random() < 0.5 else None)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.rng.expovariate(self.rate))
            # re-roll agent moods now and then: some phones ring out or are busy
            for behaviour in self.pbx.agents.values():
                roll = self.rng.random()
                behaviour.answer_after_s = None if roll < 0.05 else self.rng.uniform(1.0, 4.0)
                behaviour.talk_s = self.rng.uniform(8, 30)
            call = await self.pbx.place_call(self._script())
            self.placed += 1
            log.event("demo.call.placed", uniqueid=call.uniqueid, placed=self.placed)
