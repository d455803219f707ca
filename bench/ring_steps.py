"""Where the ring latency goes: the engine's path from FastAGI entry to Originate, timed step by
step on the simulated PBX (``python -m bench.ring_steps [--calls N]``).

Each step's end is marked the first time it happens for a caller (by wrapping the functions on
the path for the run only): the engine has read the AGI environment; the ``ivr`` entry starts;
``ANSWER`` is written (its reply is read by the flow's first command, after the Originate); the
flow starts; the flow submits ``CallQueued``; the agent's ``Originate`` is written (inside that
``submit``: the in-process reservation answers at once); ``submit`` returned (the records and
log lines of the routing decision, written after the Originate). The same points were timed on
the real Asterisk (README, Benchmarks). Prints the p50 and the worst of each step over the calls
(the warm-up call included).
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import acd.service.acd as acd_service
import acd.service.legs as acd_legs
from acd.agi.channel import AgiChannel
from acd.agi.server import FastAgiServer
from acd.flows.interpreter import FlowInterpreter
from acd.service.ivr import IvrEntry
from bench import ring_latency
from bench.common import percentile

STEPS = ("engine read the environment", "ivr entry", "ANSWER written", "flow started", "CallQueued submitted",
         "Originate written", "submit returned")


class Marks:
    def __init__(self) -> None:
        self.at: dict[str, dict[str, float]] = defaultdict(dict)

    def mark(self, call_id: str | None, step: str) -> None:
        if call_id:
            self.at[call_id].setdefault(step, time.perf_counter())

    def steps(self) -> dict[str, list[float]]:
        """Per step, its duration (ms) from the step before, over the calls that went through all."""
        out: dict[str, list[float]] = {s: [] for s in STEPS[1:]}
        for marks in self.at.values():
            if len(marks) == len(STEPS):
                for before, step in zip(STEPS, STEPS[1:], strict=False):
                    out[step].append((marks[step] - marks[before]) * 1000)
        return out

    @contextmanager
    def installed(self) -> Iterator[Marks]:
        mark = self.mark
        saved = (FastAgiServer._run, IvrEntry.__call__, AgiChannel.answer_ahead, FlowInterpreter.run,
                 acd_service.AcdService.submit, acd_legs.originate_now)  # type: ignore[attr-defined]
        run, entry, answer_ahead, flow_run, submit, originate_now = saved

        async def timed_run(server: FastAgiServer, env: Any, *a: Any, **k: Any) -> None:
            mark(env.uniqueid, STEPS[0])
            await run(server, env, *a, **k)

        async def timed_entry(ivr: IvrEntry, channel: AgiChannel) -> None:
            mark(channel.env.uniqueid, STEPS[1])
            await entry(ivr, channel)

        def timed_answer_ahead(channel: AgiChannel) -> None:
            answer_ahead(channel)
            mark(channel.env.uniqueid, STEPS[2])

        async def timed_flow_run(interpreter: FlowInterpreter, flow: Any, channel: Any, call: Any, **k: Any) -> Any:
            mark(call.call_id, STEPS[3])
            return await flow_run(interpreter, flow, channel, call, **k)

        def timed_submit(service: acd_service.AcdService, event: Any) -> Any:
            queued = type(event).__name__ == "CallQueued"
            if queued:
                mark(event.call_id, STEPS[4])
            out = submit(service, event)
            if queued:
                mark(event.call_id, STEPS[6])
            return out

        def timed_originate_now(ami: Any, req: Any) -> Any:
            reply = originate_now(ami, req)
            mark(req.variables.get("ACD_CALLER"), STEPS[5])
            return reply

        FastAgiServer._run = timed_run  # type: ignore[method-assign, assignment]
        IvrEntry.__call__ = timed_entry  # type: ignore[method-assign, assignment]
        AgiChannel.answer_ahead = timed_answer_ahead  # type: ignore[method-assign, assignment]
        FlowInterpreter.run = timed_flow_run  # type: ignore[method-assign, assignment]
        acd_service.AcdService.submit = timed_submit  # type: ignore[method-assign, assignment]
        acd_legs.originate_now = timed_originate_now  # type: ignore[attr-defined]
        try:
            yield self
        finally:
            FastAgiServer._run = run  # type: ignore[method-assign]
            IvrEntry.__call__ = entry  # type: ignore[method-assign]
            AgiChannel.answer_ahead = answer_ahead  # type: ignore[method-assign]
            FlowInterpreter.run = flow_run  # type: ignore[method-assign]
            acd_service.AcdService.submit = submit  # type: ignore[method-assign]
            acd_legs.originate_now = originate_now  # type: ignore[attr-defined]


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m bench.ring_steps")
    p.add_argument("--calls", type=int, default=30)
    args = p.parse_args()
    marks = Marks()
    with marks.installed():
        total = asyncio.run(ring_latency.measure(args.calls))
    print(f"FastAGI entry to Originate received: p50 {percentile(total, 50) * 1000:.2f} ms over {len(total)} calls")
    for step, ms in marks.steps().items():
        print(f"  -> {step:28s} p50 {percentile(ms, 50):7.3f} ms   worst {max(ms, default=float('nan')):7.3f} ms")


if __name__ == "__main__":
    main()
