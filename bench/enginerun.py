"""A whole engine on the simulated PBX for the benchmarks: a config folder written to a temporary
directory, then ``run_engine`` (FastAGI server, AMI client, SQLite store, the simulated Asterisk
talking real AMI and FastAGI bytes on loopback, all in this process)."""

from __future__ import annotations

import tempfile
import textwrap
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from acd.app import Engine, run_engine
from acd.settings import load_settings
from acd.sim import AgentBehaviour

ROOT = Path(__file__).resolve().parents[1]

# A flow that queues the caller at once: the engine's own path from FastAGI entry to Originate,
# with no prompt in between (the real-Asterisk ring-latency runs compared against app_queue's
# Queue() with no announcement either).
STRAIGHT_TO_QUEUE = """
flow: straight
description: straight to the queue (ring latency benchmark)
numbers: ["5551234"]
language: en
on_failure:
  queue: general
steps:
  queue:
    queue: {name: general}
    on: {overflow: bye, timeout: bye}
  bye:
    hangup: true
"""


@asynccontextmanager
async def engine(*, agents: int, queues_yaml: str, flows_dir: Path | None = None, default_flow: str = "",
                 answer_after_s: float = 0.05, talk_s: float = 0.2, sound_s: float = 0.05) -> AsyncIterator[Engine]:
    tmp = Path(tempfile.mkdtemp(prefix="acd-bench-"))
    (tmp / "queues.yaml").write_text(textwrap.dedent(queues_yaml))
    (tmp / "desk.yaml").write_text((ROOT / "config" / "desk.yaml").read_text())
    (tmp / "agents.yaml").write_text("agents:\n" + "".join(
        f"  - {{id: a{i}, name: A{i}, endpoint: PJSIP/a{i}, skills: {{general: 3, support: 3, sales: 3, security: 3}}, auto_ready: true}}\n"
        for i in range(agents)))
    flows = f"flows: {{directory: '{flows_dir}', default_flow: {default_flow}}}\n" if flows_dir else "flows: {directory: ''}\n"
    (tmp / "engine.yaml").write_text(
        "http: {port: 0}\nengine: {log_level: WARNING}\npbx: {mode: sim}\n" + flows
        + f"database: {{url: 'sqlite+aiosqlite:///{tmp}/acd.sqlite3', spool_dir: '{tmp}/spool'}}\n")
    settings = load_settings(tmp, environ={})
    async with run_engine(settings) as eng:
        eng.pbx.sound_seconds = lambda name: sound_s
        for i in range(agents):
            eng.pbx.agents[f"a{i}"] = AgentBehaviour(answer_after_s=answer_after_s, talk_s=talk_s)
        yield eng


def straight_flow_dir() -> Path:
    d = Path(tempfile.mkdtemp(prefix="acd-bench-flows-"))
    (d / "straight.yaml").write_text(STRAIGHT_TO_QUEUE)
    return d
