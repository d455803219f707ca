"""Soak: ``python -m bench.soak [--duration 3600] [--calls 200] [--agents 100]``.

Keeps ``--calls`` calls in the engine at all times on the simulated PBX (real AMI and FastAGI
bytes on loopback, the engine's real SQLite store): each caller is identified, waits in the
queue, is answered by an agent, talks, hangs up, and a new caller takes its place. Every
``--sample-s`` seconds, after a full garbage collection, the engine's memory is sampled: the
Python heap (``tracemalloc``'s traced bytes) and the process RSS. After the warm-up (the first
``--warmup-s`` seconds, by default a fifth of the run) the heap must stay within 10 % of its
first post-warm-up level: ``flat`` in the result.

The simulator keeps every call and every AMI action it saw, for tests to inspect; the soak drops
those records of finished calls as it goes, so what is measured is the engine, not the
simulator's notebook. The engine's own bounded caches (the event bus's replay buffer of 10,000
events, the last 500 calls' timelines, the ACD log between snapshots, the live store's claim on
each caller, kept an hour) are made small (1,000 events, 50 calls, a snapshot every 1,000 inputs,
claims kept 30 s) so they are full before the warm-up ends: a bounded cache still filling would
look like a leak in a short run.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import gc
import json
import random
import resource
import statistics
import sys
import tempfile
import textwrap
import time
import tracemalloc
from dataclasses import asdict, dataclass, field
from pathlib import Path

from acd.app import run_engine
from acd.settings import load_settings
from acd.sim import AgentBehaviour, CallerScript

FLAT_WITHIN = 0.10
BUS_RETAIN = 1_000  # the event bus's replay buffer (10,000 events by default)
CALLLOG_KEEP = 50  # call timelines kept in memory (500 by default)
JOURNAL_KEEP = 1_000  # inputs between snapshots of the ACD core, after which the log is trimmed
CLAIM_KEEP_S = 30.0  # how long the live store keeps a caller's claim (an hour by default)


@dataclass
class Sample:
    t_s: float
    heap_mib: float
    rss_mib: float
    in_engine: int  # calls not yet over
    completed: int


@dataclass
class SoakResult:
    duration_s: float
    concurrent_calls: int
    agents: int
    warmup_s: float
    completed_calls: int = 0
    connected_calls: int = 0
    failed_calls: int = 0
    samples: list[Sample] = field(default_factory=list)

    def _after_warmup(self) -> list[Sample]:
        return [s for s in self.samples if self.warmup_s <= s.t_s <= self.duration_s]

    def _halves(self, attr: str) -> tuple[float, float]:
        """Medians of the first and the second half of the samples after warm-up: calls come and
        go in waves, so one sample against another would measure the wave, not a trend."""
        values = [getattr(s, attr) for s in self._after_warmup()]
        if len(values) < 2:
            return float("nan"), float("nan")
        half = len(values) // 2
        return statistics.median(values[:half]), statistics.median(values[-half:])

    @property
    def heap_baseline_mib(self) -> float:
        return self._halves("heap_mib")[0]

    @property
    def heap_final_mib(self) -> float:
        return self._halves("heap_mib")[1]

    @property
    def heap_max_mib(self) -> float:
        return max((s.heap_mib for s in self._after_warmup()), default=float("nan"))

    @property
    def heap_growth(self) -> float:
        """Second half over first half of the run after warm-up, minus 1 (0.05 = +5 %)."""
        first, second = self._halves("heap_mib")
        return second / first - 1

    @property
    def rss_growth(self) -> float:
        first, second = self._halves("rss_mib")
        return second / first - 1

    @property
    def flat(self) -> bool:
        return len(self._after_warmup()) >= 6 and self.heap_growth <= FLAT_WITHIN

    def summary(self) -> dict:
        return {"duration_s": self.duration_s, "concurrent_calls": self.concurrent_calls, "agents": self.agents,
                "warmup_s": self.warmup_s, "completed_calls": self.completed_calls, "connected_calls": self.connected_calls,
                "failed_calls": self.failed_calls, "heap_first_half_mib": round(self.heap_baseline_mib, 2),
                "heap_second_half_mib": round(self.heap_final_mib, 2), "heap_max_mib": round(self.heap_max_mib, 2), "heap_growth_pct": round(self.heap_growth * 100, 1),
                "rss_growth_pct": round(self.rss_growth * 100, 1), "flat": self.flat,
                "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}


def _rss_mib() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / (1 << 20)


def _write_config(tmp: Path, agents: int, queue_limit: int) -> None:
    (tmp / "queues.yaml").write_text(textwrap.dedent(f"""
        queues:
          - name: general
            ring_timeout_s: 10
            max_length: {queue_limit}
            wrapup_s: 0.5
            moh_slice_s: 5
            announce_position: false
            announce_ewt: false
    """))
    (tmp / "agents.yaml").write_text("agents:\n" + "".join(
        f"  - {{id: a{i}, name: A{i}, endpoint: PJSIP/a{i}, skills: {{general: 1}}, auto_ready: true}}\n" for i in range(agents)))
    (tmp / "engine.yaml").write_text(
        "http: {port: 0}\nengine: {log_level: WARNING}\nflows: {directory: ''}\n"
        f"database: {{url: 'sqlite+aiosqlite:///{tmp}/acd.sqlite3', spool_dir: '{tmp}/spool'}}\n")


def _forget_finished(pbx) -> None:
    """Drop the simulator's records of finished calls (kept for tests; see the module docstring)."""
    pbx.calls[:] = [h for h in pbx.calls if not h.done.is_set()]
    pbx.outcomes.clear()
    pbx.recordings.clear()
    pbx.ami.actions_seen.clear()


async def soak(duration_s: float, calls: int = 200, agents: int = 100, *, sample_s: float = 5.0, warmup_s: float | None = None,
               talk_s: float = 6.0, progress: bool = False) -> SoakResult:
    warmup = duration_s / 5 if warmup_s is None else warmup_s
    result = SoakResult(duration_s, calls, agents, warmup)
    tmp = Path(tempfile.mkdtemp(prefix="acd-soak-"))
    _write_config(tmp, agents, calls * 2)
    settings = load_settings(tmp, environ={})
    tracemalloc.start(1)
    try:
        async with run_engine(settings) as engine:
            pbx = engine.pbx
            pbx.events = collections.deque(maxlen=1000)  # the simulator's event log (100,000 events by default)
            # The engine's bounded caches fill within the warm-up when small, so that whatever still
            # grows after it is growth without a bound (see the module docstring).
            engine.bus._log = collections.deque(maxlen=BUS_RETAIN)
            engine.calllog.keep = CALLLOG_KEEP
            engine.acd.journal.snapshot_every = JOURNAL_KEEP
            engine.acd.legs.claim_ttl_s = CLAIM_KEEP_S
            pbx.sound_seconds = lambda name: 0.5
            rng = random.Random(1)  # talk times spread, so calls end at all times rather than in waves
            for i in range(agents):
                pbx.agents[f"a{i}"] = AgentBehaviour(answer_after_s=0.3, talk_s=round(talk_s * rng.uniform(0.5, 1.5), 2))
            started = time.monotonic()
            deadline = started + duration_s
            in_engine = 0
            serial = 0

            async def caller(slot: int) -> None:
                nonlocal in_engine, serial
                await asyncio.sleep(slot * talk_s / calls)  # staggered first calls
                while time.monotonic() < deadline:
                    serial += 1
                    in_engine += 1
                    try:
                        handle = await pbx.place_call(CallerScript(caller_id=f"+4470{slot:04d}{serial % 10000:04d}", fallback_patience_s=60))
                        outcome = await handle.finished(talk_s * 2 + 120)
                    except TimeoutError:
                        result.failed_calls += 1
                        continue
                    finally:
                        in_engine -= 1
                    result.completed_calls += 1
                    result.connected_calls += outcome.connected
                    result.failed_calls += not outcome.connected

            async def sampler() -> None:
                while True:
                    await asyncio.sleep(sample_s)
                    _forget_finished(pbx)
                    gc.collect()
                    heap = tracemalloc.get_traced_memory()[0] / (1 << 20)
                    s = Sample(round(time.monotonic() - started, 1), round(heap, 3), round(_rss_mib(), 1), in_engine, result.completed_calls)
                    result.samples.append(s)
                    if progress:
                        print(f"soak: t {s.t_s:.0f}s heap {s.heap_mib:.1f} MiB rss {s.rss_mib:.0f} MiB in engine {s.in_engine} "
                              f"completed {s.completed}", file=sys.stderr, flush=True)

            sampling = asyncio.create_task(sampler(), name="soak-sampler")
            callers = [asyncio.create_task(caller(i), name=f"soak-caller-{i}") for i in range(calls)]
            try:
                await asyncio.gather(*callers)
            finally:
                sampling.cancel()
                await asyncio.gather(sampling, return_exceptions=True)
    finally:
        tracemalloc.stop()
    return result


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__.split("\n\n")[0])
    p.add_argument("--duration", type=float, default=3600.0, help="seconds (default 3600)")
    p.add_argument("--calls", type=int, default=200, help="calls kept in the engine at all times")
    p.add_argument("--agents", type=int, default=100)
    p.add_argument("--sample-s", type=float, default=10.0)
    p.add_argument("--warmup-s", type=float, default=None, help="default: a fifth of the duration")
    p.add_argument("--json", default="", help="write the result and every sample here")
    args = p.parse_args(argv)
    import logging

    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("acd").setLevel(logging.ERROR)
    res = asyncio.run(soak(args.duration, args.calls, args.agents, sample_s=args.sample_s, warmup_s=args.warmup_s, progress=True))
    summary = res.summary()
    print(json.dumps(summary, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps({"summary": summary, "samples": [asdict(s) for s in res.samples]}, indent=2))
    return 0 if res.flat else 1


if __name__ == "__main__":
    sys.exit(main())
