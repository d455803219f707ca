"""A busy hour on virtual time (``acd.vtime``): how many wall seconds ten simulated minutes of
calls take when the engine and the simulated PBX share the virtual clock. Random arrivals (one
every 10 s on average) into one queue, 9 agents, ring up to 20 s, 2-4 minutes of talk, 30 s of
wrap-up, a third of the callers giving up after 20-90 s of waiting."""

from __future__ import annotations

import asyncio
import random
import tempfile
import textwrap
import time
from pathlib import Path

from acd.app import run_engine
from acd.settings import load_settings
from acd.sim import AgentBehaviour, CallerScript
from acd.sim.pbx import CallHandle
from acd.vtime import VirtualTimeLoop, running_virtual_clock
from bench.common import Row

AGENTS = 9
MEAN_GAP_S = 10.0
TARGET_SPEEDUP = 20.0


async def busy_hour(minutes: float) -> dict[str, float | str]:
    tmp = Path(tempfile.mkdtemp(prefix="acd-bench-vtime-"))
    (tmp / "queues.yaml").write_text(textwrap.dedent("""
        queues:
          - {name: general, ring_timeout_s: 20, wrapup_s: 30, moh_slice_s: 20, announce_position: false, announce_ewt: false}
    """))
    (tmp / "agents.yaml").write_text("agents:\n" + "".join(f"  - {{id: a{i}, name: A{i}, endpoint: PJSIP/a{i}, auto_ready: true}}\n" for i in range(AGENTS)))
    (tmp / "engine.yaml").write_text(
        "http: {port: 0}\nengine: {log_level: WARNING}\nflows: {directory: ''}\n"
        f"database: {{url: 'sqlite+aiosqlite:///{tmp}/acd.sqlite3', spool_dir: '{tmp}/spool'}}\n")
    settings = load_settings(tmp, environ={})
    loop = asyncio.get_running_loop()
    assert isinstance(loop, VirtualTimeLoop)
    rng = random.Random(11)
    async with run_engine(settings, clock=running_virtual_clock()) as engine:
        pbx = engine.pbx
        assert pbx is not None  # pbx.mode: sim
        for i in range(AGENTS):
            pbx.agents[f"a{i}"] = AgentBehaviour(answer_after_s=rng.uniform(2, 6), talk_s=None)
        wall0, start = time.perf_counter(), loop.time()
        handles: list[CallHandle] = []
        while loop.time() - start < minutes * 60:
            impatient = rng.random() < 0.3
            handles.append(await pbx.place_call(CallerScript(
                caller_id=f"+4420{len(handles):08d}", hangup_after_s=rng.uniform(20, 90) if impatient else None,
                hangup_after_bridge_s=rng.uniform(120, 240), fallback_patience_s=60)))
            await asyncio.sleep(rng.expovariate(1 / MEAN_GAP_S))
        outcomes = await asyncio.gather(*(h.finished(3600) for h in handles))
        wall, virtual = time.perf_counter() - wall0, loop.time() - start
        return {"calls": len(outcomes), "answered": sum(o.connected for o in outcomes), "virtual s": virtual, "wall s": wall,
                "virtual/wall": virtual / wall if wall else 0.0, "jumps": float(loop.jumps)}


def run(smoke: bool) -> list[Row]:
    minutes = 2 if smoke else 10
    loop = VirtualTimeLoop()
    try:
        figures: dict[str, float | str] = loop.run_until_complete(busy_hour(minutes))
    finally:
        loop.close()
    return [Row("busy hour on virtual time", f"{minutes} simulated minutes, {AGENTS} agents, ring 20 s, wrap-up 30 s, simulated PBX", figures,
                target="virtual/wall >= 20 (10 min in <= 30 s)", met=float(figures["virtual/wall"]) >= TARGET_SPEEDUP)]
