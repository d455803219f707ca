"""``python -m bench [--smoke] [--json PATH] [--only SUITE ...]``: run the suites, print a table,
write the same figures as JSON."""

from __future__ import annotations

import argparse
import json
import logging
import platform
import sys
import time
from pathlib import Path

from bench import agi, ami, cpu, e2e, eventlog, logrouting, ring_latency, routing
from bench import property as bench_property
from bench.common import render_table

SUITES = {"routing": routing.run, "logrouting": logrouting.run, "ivr": agi.run, "ami": ami.run, "e2e": e2e.run, "eventlog": eventlog.run, "cpu": cpu.run,
          "ring": ring_latency.run, "property": bench_property.run}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench", description="acd benchmarks")
    p.add_argument("--smoke", action="store_true", help="tiny sizes, no targets judged (CI runs this)")
    p.add_argument("--json", default="bench/results/latest.json", help="where to write the figures")
    p.add_argument("--only", nargs="*", choices=sorted(SUITES), help="run only these suites")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("acd").setLevel(logging.ERROR)
    rows = []
    for name, fn in SUITES.items():
        if args.only and name not in args.only:
            continue
        t0 = time.perf_counter()
        rows += fn(args.smoke)
        print(f"bench: {name} done in {time.perf_counter() - t0:.1f}s", file=sys.stderr)
    table = render_table(rows)
    print(table)
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({
        "smoke": args.smoke, "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"python": platform.python_version(), "platform": platform.platform()},
        "rows": [r.to_json() for r in rows],
    }, indent=2))
    missed = [r for r in rows if r.met is False]
    if missed and not args.smoke:
        print(f"\n{len(missed)} target(s) not met", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
