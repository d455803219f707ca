"""The benchmarks are not tests; this smoke run with tiny sizes keeps them from rotting."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_bench_smoke_prints_table_and_json(tmp_path):
    out_json = tmp_path / "bench.json"
    proc = subprocess.run([sys.executable, "-m", "bench", "--smoke", "--json", str(out_json)], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.startswith("| suite | case | figures | target | met |")
    doc = json.loads(out_json.read_text())
    suites = {row["suite"] for row in doc["rows"]}
    assert suites == {"routing", "routing via log", "ivr", "ami", "end to end", "eventlog", "engine CPU", "ring latency", "property"}
    e2e = next(r for r in doc["rows"] if r["suite"] == "end to end")
    assert e2e["figures"]["offers"] >= 20  # every simulated call was offered to an agent
    appq = next(r for r in doc["rows"] if r["suite"] == "routing" and "app_queue" in r["case"])
    assert appq["figures"]["decisions compared"] > 0 and appq["figures"]["different decisions"] == 0  # same choices as the core
    ring = next(r for r in doc["rows"] if r["suite"] == "ring latency")
    assert ring["figures"]["calls"] >= 5  # every call's FastAGI entry and Originate were timed
    assert all(r["figures"]["calls connected"] == 4 for r in doc["rows"] if r["suite"] == "engine CPU")
    prop = next(r for r in doc["rows"] if r["suite"] == "property")
    assert prop["figures"]["violations"] == 0
