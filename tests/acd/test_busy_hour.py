"""A busy hour on virtual time: ten minutes of callers through the demo line into three queues,
arriving at random (one every 10 s on average), some giving up while they wait, with a contact
centre's settings (ring 20 s, wrap-up 30 s, two to four minutes of talk). The ten minutes run in
seconds of wall time. Then /metrics is scraped over HTTP and every figure is checked against the
interaction records in the store (the two are computed independently: metrics live from AMI and
FastAGI events, records folded from the timeline)."""

from __future__ import annotations

import asyncio
import random
from collections import Counter

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from acd.sim import AgentBehaviour, CallerScript
from acd.store.records import Outcome
from tests.acd.conftest import wait_until
from tests.acd.test_flow_calls import ENGINE

pytestmark = pytest.mark.virtual_time

SETTINGS = "ring_timeout_s: 20, wrapup_s: 30, moh_slice_s: 20, announce_position: false, announce_ewt: false, service_level_s: 20, short_abandon_s: 5"
QUEUES = f"""
queues:
  - {{name: general, skills: {{general: 1}}, {SETTINGS}}}
  - {{name: support, skills: {{support: 2}}, {SETTINGS}}}
  - {{name: sales, skills: {{sales: 1}}, {SETTINGS}}}
  - {{name: security, skills: {{security: 2}}, ring_timeout_s: 20, wrapup_s: 30, moh_slice_s: 20, announce_position: false}}
"""
SKILLS = ["{general: 3, support: 3}", "{general: 2, sales: 2}", "{general: 2, support: 2, sales: 1}"]
N_AGENTS = 9
AGENTS = "agents:\n" + "".join(
    f"  - {{id: agent{i}, name: Agent {i}, endpoint: PJSIP/agent{i}, skills: {SKILLS[i % 3]}, auto_ready: true}}\n" for i in range(1, N_AGENTS + 1))
BUSY_HOUR_S = 600.0
MEAN_GAP_S = 10.0


def scrape(text: str) -> dict[tuple[str, tuple], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


async def test_busy_hour_metrics_match_the_records(make_engine):
    engine = await make_engine(queues=QUEUES, engine_yaml=ENGINE, agents=AGENTS)
    loop = asyncio.get_running_loop()
    rng = random.Random(7)
    for i in range(1, N_AGENTS + 1):
        engine.pbx.agents[f"agent{i}"] = AgentBehaviour(answer_after_s=rng.uniform(2, 6), talk_s=None)  # the caller ends the talk
    start = loop.time()
    calls = []
    while loop.time() - start < BUSY_HOUR_S:
        impatient = rng.random() < 0.3
        script = CallerScript(
            caller_id=f"+4477009{len(calls):05d}", dnis="5551234", keys=rng.choice("1123"), think_s=rng.uniform(0.3, 1.5),
            hangup_after_s=rng.uniform(20, 90) if impatient else None,
            hangup_after_bridge_s=rng.uniform(120, 240), fallback_patience_s=60,
        )
        calls.append(await engine.pbx.place_call(script))
        await asyncio.sleep(rng.expovariate(1 / MEAN_GAP_S))
    outcomes = await asyncio.gather(*(c.finished(1800) for c in calls))
    await wait_until(lambda: not engine.core.connected and not engine.core.calls, 600)
    await wait_until(lambda: all(a.state.value == "ready" for a in engine.core.agents.values()), 600)
    await engine.records.drain()
    assert loop.time() - start >= BUSY_HOUR_S and len(calls) >= 40  # ten minutes, a real hour's rate

    async with aiohttp.ClientSession() as http:
        async with http.get(f"http://127.0.0.1:{engine.http_port}/metrics", timeout=aiohttp.ClientTimeout(total=10)) as r:
            assert r.status == 200
            metrics = scrape(await r.text())

    records = await engine.customers.interactions_between(0, 4e9)
    assert len(records) == len(calls)
    assert sum(o.connected for o in outcomes) == sum(r.outcome is Outcome.ANSWERED for r in records)

    def m(name, **labels):
        return metrics.get((name, tuple(sorted(labels.items()))), 0.0)

    offered, answered, abandoned, within = Counter(), Counter(), Counter(), Counter()
    talk = Counter()
    for rec in records:
        for visit in rec.queues:
            offered[visit.queue] += 1
        if rec.outcome is Outcome.ANSWERED:
            answered[rec.queue] += 1
            within[rec.queue] += rec.wait_s <= 20  # the queues' service_level_s
            talk[rec.queue] += rec.talk_s or 0.0
        elif rec.outcome is Outcome.ABANDONED_QUEUE:
            abandoned[rec.queue] += 1
    assert sum(answered.values()) > 20 and sum(abandoned.values()) > 0  # a real mix was exercised
    assert sum(within.values()) < sum(answered.values())  # some callers waited past the service level
    for queue in ("general", "support", "sales"):
        assert m("acd_queue_calls_offered_total", queue=queue) == offered[queue], queue
        assert m("acd_queue_calls_answered_total", queue=queue) == answered[queue], queue
        assert m("acd_queue_calls_abandoned_total", queue=queue) == abandoned[queue], queue
        assert m("acd_queue_calls_answered_within_sl_total", queue=queue) == within[queue], queue
        assert m("acd_queue_wait_seconds_count", queue=queue, outcome="answered") == answered[queue]
        assert m("acd_queue_calls_completed_total", queue=queue) == answered[queue]
        assert abs(m("acd_queue_handle_seconds_total", queue=queue, part="talk") - talk[queue]) < 0.05 * answered[queue] + 0.01
    assert m("acd_ivr_sessions_total", flow="demo_line") == len(calls)
    assert m("acd_queue_calls_waiting", queue="general") == 0
