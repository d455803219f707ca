"""Ring latency, the engine's part (issue #12.8): from the moment the PBX opens the caller's
FastAGI session (the AGI environment is sent) until the PBX receives the agent's ``Originate``.

Measured on the simulated Asterisk, which times both ends: calls one after the other (each
waits for the previous one to end), a flow that queues at once (``bench.enginerun``), agents
ready, so each call is routed the moment it queues. On a real Asterisk 22.10.1 the whole path,
caller INVITE to agent INVITE, was measured against app_queue's with SIPp, in turn on the same
box (README, Benchmarks: 12.5 ms p50 through the engine, 8.0 ms through app_queue, of which
Asterisk's own Originate to the agent's INVITE is about 4 ms); ``bench.ring_steps`` times the
engine's steps that were timed there.

``python -m bench.ring_latency [--calls N] [--profile PATH]``: print the figures; with
``--profile`` write a cProfile of the run (``python -m pstats PATH``).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import time
from collections.abc import Iterator
from contextlib import contextmanager

from acd.sim import CallerScript
from acd.sim.agi_caller import AgiSession
from acd.sim.ami_actions import AmiActions
from bench import enginerun
from bench.common import Row, percentile

QUEUES = """
queues:
  - {name: general, skills: {general: 1}, ring_timeout_s: 10, wrapup_s: 0, moh_slice_s: 5, announce_position: false, announce_ewt: false}
"""


class Stopwatch:
    """Times the two ends on the PBX's side: the FastAGI environment sent (per caller uniqueid)
    and the Originate received (its ``ACD_CALLER`` variable names the caller)."""

    def __init__(self) -> None:
        self.entered: dict[str, float] = {}
        self.originated: dict[str, float] = {}

    def latencies(self) -> list[float]:
        return [self.originated[c] - t for c, t in self.entered.items() if c in self.originated]

    @contextmanager
    def installed(self) -> Iterator[Stopwatch]:
        environment, originate = AgiSession.environment, AmiActions.ami_originate
        watch = self

        def timed_environment(session: AgiSession) -> dict[str, str]:
            env = environment(session)
            if env.get("agi_network_script") == "ivr" or env.get("agi_request", "").endswith("/ivr"):
                watch.entered.setdefault(session.ch.uniqueid, time.perf_counter())
            return env

        async def timed_originate(actions: AmiActions, s, a) -> None:  # type: ignore[no-untyped-def]
            now = time.perf_counter()
            for v in a.headers.get_all("Variable"):
                name, _, value = v.partition("=")
                if name == "ACD_CALLER":
                    watch.originated.setdefault(value, now)
            await originate(actions, s, a)

        AgiSession.environment = timed_environment  # type: ignore[method-assign, assignment]
        AmiActions.ami_originate = timed_originate  # type: ignore[method-assign, assignment]
        try:
            yield self
        finally:
            AgiSession.environment = environment  # type: ignore[method-assign]
            AmiActions.ami_originate = originate  # type: ignore[method-assign]


async def measure(calls: int, profile: cProfile.Profile | None = None) -> list[float]:
    watch = Stopwatch()
    with watch.installed():
        async with enginerun.engine(agents=2, queues_yaml=QUEUES, flows_dir=enginerun.straight_flow_dir(), default_flow="straight",
                                    answer_after_s=0.01, talk_s=0.05) as eng:
            pbx = eng.pbx
            assert pbx is not None
            await pbx.place_call(CallerScript(caller_id="+442000000000", hangup_after_bridge_s=0.01))  # warm-up
            await asyncio.sleep(0)
            for h in list(pbx.calls):
                await h.finished(30)
            watch.entered.clear()
            watch.originated.clear()
            if profile is not None:
                profile.enable()
            for i in range(calls):
                handle = await pbx.place_call(CallerScript(caller_id=f"+4420{i:08d}", hangup_after_bridge_s=0.01))
                await handle.finished(30)
            if profile is not None:
                profile.disable()
    return watch.latencies()


def run(smoke: bool) -> list[Row]:
    calls = 5 if smoke else 40
    lat = asyncio.run(measure(calls))
    p50 = percentile(lat, 50) * 1000
    return [Row("ring latency", f"FastAGI entry to Originate, {calls} sequential calls, simulated PBX", {
        "calls": len(lat), "p50 ms": p50, "p99 ms": percentile(lat, 99) * 1000,
    }, "p50 <= 5 ms (simulator; the whole path against app_queue on a real Asterisk: README, met at p50)", None if smoke else p50 <= 5.0)]


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m bench.ring_latency")
    p.add_argument("--calls", type=int, default=40)
    p.add_argument("--profile", help="write a cProfile of the measured calls here")
    args = p.parse_args()
    prof = cProfile.Profile() if args.profile else None
    lat = asyncio.run(measure(args.calls, prof))
    print(f"calls {len(lat)}  p50 {percentile(lat, 50) * 1000:.2f} ms  p99 {percentile(lat, 99) * 1000:.2f} ms  "
          f"min {min(lat) * 1000:.2f} ms  max {max(lat) * 1000:.2f} ms")
    if prof is not None:
        prof.dump_stats(args.profile)


if __name__ == "__main__":
    main()
