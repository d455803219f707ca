"""End to end over the simulated PBX: how long from the moment a call can be offered (it entered
the queue, or its agent became ready) until the core's routing decision is on the record (the
ring latency suite, ``bench.ring_latency``, goes on to the Originate). 200 concurrent calls,
50 agents."""

from __future__ import annotations

import asyncio
import tempfile
import textwrap
import time
from pathlib import Path

from acd.app import run_engine
from acd.settings import load_settings
from acd.sim import AgentBehaviour, CallerScript
from bench.common import Row, percentile


async def measure(calls: int, agents: int) -> list[float]:
    tmp = Path(tempfile.mkdtemp(prefix="acd-bench-"))
    (tmp / "queues.yaml").write_text(textwrap.dedent("""
        queues:
          - name: general
            ring_timeout_s: 10
            max_length: 1000
            wrapup_s: 0
            moh_slice_s: 5
            announce_position: false
    """))
    (tmp / "agents.yaml").write_text("agents:\n" + "".join(f"  - {{id: a{i}, name: A{i}, endpoint: PJSIP/a{i}, auto_ready: true}}\n" for i in range(agents)))
    (tmp / "engine.yaml").write_text(
        "http: {port: 0}\nengine: {log_level: WARNING}\nflows: {directory: ''}\n"
        f"database: {{url: 'sqlite+aiosqlite:///{tmp}/acd.sqlite3', spool_dir: '{tmp}/spool'}}\n")
    settings = load_settings(tmp, environ={})
    latencies: list[float] = []
    async with run_engine(settings) as engine:
        engine.pbx.sound_seconds = lambda name: 0.05
        for i in range(agents):
            engine.pbx.agents[f"a{i}"] = AgentBehaviour(answer_after_s=0.05, talk_s=0.2)
        ready_at: dict[str, float] = {}
        enqueued: dict[str, float] = {}
        original_event = engine.calllog.event

        def event(call_id, kind, data):
            now = time.perf_counter()
            if kind == "agent_state" and data.get("state") == "ready":
                ready_at[data["agent"]] = now
            elif kind == "queue_enter":
                enqueued[call_id] = now
            elif kind == "routing_decision":
                trigger = max(enqueued.get(call_id, now), ready_at.get(data["agent"], 0.0))
                latencies.append(now - trigger)
            original_event(call_id, kind, data)

        engine.calllog.event = event
        handles = [await engine.pbx.place_call(CallerScript(caller_id=f"+4420{i:08d}")) for i in range(calls)]
        await asyncio.gather(*(h.finished(300) for h in handles))
    return latencies


def run(smoke: bool) -> list[Row]:
    calls, agents = (20, 5) if smoke else (200, 50)
    lat = asyncio.run(measure(calls, agents))
    return [Row("end to end", f"{calls} concurrent calls, {agents} agents, simulated PBX", {
        "offers": len(lat), "p50 ms": percentile(lat, 50) * 1000, "p99 ms": percentile(lat, 99) * 1000,
    })]
