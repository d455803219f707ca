"""Fuzz the engine's parsers: ``python -m bench.fuzz [--inputs N] [--seed S] [--target NAME ...]``.

Targets (``bench/fuzz_targets.py``): the AMI codec both ways (client and server decoders, the
encoders with a round trip), the FastAGI codec on both sides (engine decoder, Asterisk-side
decoder, the encoders with a round trip), the flow compiler (YAML text to a compiled flow) and
the expression language (parse, evaluate, templates). Inputs are mutations of recorded Asterisk
sessions and of the bundled flows, plus structured ones (odd YAML values grafted into real flows,
token soups, known-nasty shapes).

Each input is judged:
- crash: an exception that is not one of the target's documented error types, or a broken
  invariant (a round trip that does not come back, a decoder holding more than its cap);
- hang: one input using more than ``--hang-s`` of CPU (1 s; a SIGVTALRM timer interrupts it);
- memory: RSS is sampled; growth after the first tenth of the run is reported (and judged
  against ``--max-growth-mib``).
The first few crashing inputs of each kind are written to ``--crash-dir``. Exit status 1 when
anything was found. The whole run is deterministic for a given ``--seed``.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import resource
import signal
import sys
import time
import traceback
from dataclasses import asdict, dataclass, field
from pathlib import Path

from bench.fuzz_targets import TARGETS, Target

ROOT = Path(__file__).resolve().parents[1]


class Hang(Exception):
    """One input ran past the hang limit."""


def _on_alarm(signum, frame):  # noqa: ARG001 - the signal handler's signature
    raise Hang()


def rss_mib() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / (1 << 20)


@dataclass
class Result:
    target: str
    inputs: int = 0
    seconds: float = 0.0
    documented_errors: int = 0
    crashes: int = 0
    hangs: int = 0
    slowest_ms: float = 0.0
    rss_start_mib: float = 0.0
    rss_after_warmup_mib: float = 0.0
    rss_end_mib: float = 0.0
    peak_rss_mib: float = 0.0
    findings: dict[str, int] = field(default_factory=dict)

    @property
    def growth_mib(self) -> float:
        return self.rss_end_mib - self.rss_after_warmup_mib


def _signature(exc: BaseException) -> str:
    tb = traceback.extract_tb(exc.__traceback__)
    ours = [f for f in tb if "/acd/" in f.filename or "fuzz_targets" in f.filename] or tb
    where = ours[-1] if ours else None
    place = f"{Path(where.filename).name}:{where.lineno}" if where else "?"
    message = re.sub(r"\d+", "N", str(exc).splitlines()[0] if str(exc) else "")[:120]  # one signature per kind, not per input
    return f"{type(exc).__name__} at {place}: {message}"


def fuzz(target: Target, inputs: int, seed: int, *, hang_s: float = 1.0, crash_dir: Path | None = None,
         progress: bool = False, alarm: bool = True, max_seconds: float | None = None) -> Result:
    """Run ``inputs`` inputs through ``target`` (fewer if ``max_seconds`` of wall time run out).
    Hangs are judged in CPU seconds, so a loaded machine does not make them up: with ``alarm`` a
    SIGVTALRM timer interrupts an input after ``hang_s`` of CPU (an endless loop is caught too);
    without it an input that took longer is counted as a hang afterwards."""
    rng = random.Random(f"{seed}:{target.name}")
    res = Result(target.name, rss_start_mib=rss_mib())
    warmup = max(1, inputs // 10)
    old = signal.signal(signal.SIGVTALRM, _on_alarm) if alarm else None
    started = time.perf_counter()
    try:
        for i in range(inputs):
            if max_seconds is not None and time.perf_counter() - started > max_seconds:
                break
            case = target.make(rng)
            t0 = time.process_time()
            try:
                try:
                    if alarm:
                        signal.setitimer(signal.ITIMER_VIRTUAL, hang_s)
                    target.run(case)
                finally:
                    if alarm:
                        signal.setitimer(signal.ITIMER_VIRTUAL, 0)
            except target.documented:
                res.documented_errors += 1
            except Hang:
                res.hangs += 1
                _record(res, f"hang over {hang_s}s of CPU", case, crash_dir)
            except (MemoryError, RecursionError, Exception) as exc:  # noqa: BLE001 - every other exception is a finding
                res.crashes += 1
                _record(res, _signature(exc), case, crash_dir)
            took = time.process_time() - t0
            if not alarm and took > hang_s:
                res.hangs += 1
                _record(res, f"hang over {hang_s}s of CPU ({took:.1f}s)", case, crash_dir)
            res.slowest_ms = max(res.slowest_ms, took * 1000)
            res.inputs = i + 1
            if i + 1 == warmup:
                res.rss_after_warmup_mib = rss_mib()
            if progress and (i + 1) % 50_000 == 0:
                print(f"fuzz: {target.name} {i + 1:,} inputs, {time.perf_counter() - started:.0f}s, crashes {res.crashes}, "
                      f"hangs {res.hangs}, rss {rss_mib():.0f} MiB", file=sys.stderr, flush=True)
    finally:
        if alarm:
            signal.setitimer(signal.ITIMER_VIRTUAL, 0)
            signal.signal(signal.SIGVTALRM, old)
    res.seconds = time.perf_counter() - started
    res.rss_end_mib = rss_mib()
    res.peak_rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return res


def _record(res: Result, signature: str, case: object, crash_dir: Path | None) -> None:
    seen = res.findings.get(signature, 0)
    res.findings[signature] = seen + 1
    if crash_dir is not None and seen < 3:
        crash_dir.mkdir(parents=True, exist_ok=True)
        n = sum(res.findings.values())
        (crash_dir / f"{res.target}-{n}.txt").write_text(f"{signature}\n\n{case!r}\n")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.fuzz", description=__doc__.split("\n\n")[0])
    p.add_argument("--inputs", type=int, default=1_000_000, help="inputs per target (default 1,000,000)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--target", nargs="*", choices=sorted(TARGETS), help="only these targets")
    p.add_argument("--hang-s", type=float, default=1.0, help="CPU seconds one input may take")
    p.add_argument("--max-seconds", type=float, default=None, help="stop each target after this much wall time")
    p.add_argument("--max-growth-mib", type=float, default=64.0, help="RSS growth after warm-up judged unbounded beyond this")
    p.add_argument("--crash-dir", default="bench/results/fuzz-crashes")
    p.add_argument("--json", default="", help="write the results here")
    p.add_argument("--quiet", action="store_true")
    args = p.parse_args(argv)
    import logging

    logging.getLogger("acd").setLevel(logging.CRITICAL)
    results = []
    for name in args.target or list(TARGETS):
        res = fuzz(TARGETS[name], args.inputs, args.seed, hang_s=args.hang_s, crash_dir=Path(args.crash_dir), progress=not args.quiet,
                   max_seconds=args.max_seconds)
        results.append(res)
        print(f"| fuzz | {name} | inputs {res.inputs:,}, s {res.seconds:.0f}, crashes {res.crashes}, hangs {res.hangs}, "
              f"slowest ms {res.slowest_ms:.1f}, RSS growth after warm-up MiB {res.growth_mib:.1f}, peak RSS MiB {res.peak_rss_mib:.0f} |", flush=True)
        for sig, n in res.findings.items():
            print(f"    {n} x {sig}", flush=True)
    if args.json:
        out = Path(args.json)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps([asdict(r) | {"growth_mib": r.growth_mib} for r in results], indent=2))
    bad = [r for r in results if r.crashes or r.hangs or r.growth_mib > args.max_growth_mib]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
