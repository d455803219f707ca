"""A busy hour, compressed: many callers through the demo line into three queues, some giving up
while they wait. Then /metrics is scraped over HTTP and every figure is checked against the
interaction records in the store (the two are computed independently: metrics live from AMI
and FastAGI events, records folded from the timeline)."""

from __future__ import annotations

import asyncio
import random
from collections import Counter

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from acd.sim import AgentBehaviour, CallerScript
from acd.store.records import Outcome
from tests.acd.conftest import wait_until
from tests.acd.test_flow_calls import ENGINE

QUEUES = """
queues:
  - {name: general, skills: {general: 1}, ring_timeout_s: 3, wrapup_s: 0.2, moh_slice_s: 1, announce_position: false, announce_ewt: false, service_level_s: 2, short_abandon_s: 1}
  - {name: support, skills: {support: 2}, ring_timeout_s: 3, wrapup_s: 0.2, moh_slice_s: 1, announce_position: false, announce_ewt: false, service_level_s: 2, short_abandon_s: 1}
  - {name: sales, skills: {sales: 1}, ring_timeout_s: 3, wrapup_s: 0.2, moh_slice_s: 1, announce_position: false, announce_ewt: false, service_level_s: 2, short_abandon_s: 1}
  - {name: security, skills: {security: 2}, ring_timeout_s: 3, wrapup_s: 0.2, moh_slice_s: 1, announce_position: false}
"""
AGENTS = """
agents:
  - {id: agent1, name: One, endpoint: PJSIP/agent1, skills: {general: 3, support: 3}, auto_ready: true}
  - {id: agent2, name: Two, endpoint: PJSIP/agent2, skills: {general: 2, sales: 2}, auto_ready: true}
  - {id: agent3, name: Three, endpoint: PJSIP/agent3, skills: {general: 2, support: 2, sales: 1}, auto_ready: true}
"""
CALLS = 36


def scrape(text: str) -> dict[tuple[str, tuple], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


async def test_busy_hour_metrics_match_the_records(make_engine):
    engine = await make_engine(queues=QUEUES, engine_yaml=ENGINE, agents=AGENTS)
    rng = random.Random(7)
    engine.pbx.sound_seconds = lambda name: 0.1
    for name in ("agent1", "agent2", "agent3"):
        engine.pbx.agents[name] = AgentBehaviour(answer_after_s=0.3, talk_s=rng.uniform(1.0, 2.5))
    calls = []
    for i in range(CALLS):
        impatient = rng.random() < 0.3
        script = CallerScript(
            caller_id=f"+4477009{i:05d}", dnis="5551234", keys=rng.choice("1123"), think_s=0.3,
            hangup_after_s=rng.uniform(1.5, 4.0) if impatient else None,
            hangup_after_bridge_s=rng.uniform(0.5, 1.5), fallback_patience_s=5,
        )
        calls.append(await engine.pbx.place_call(script))
        await asyncio.sleep(rng.uniform(0.05, 0.3))
    outcomes = await asyncio.gather(*(c.finished(90) for c in calls))
    await wait_until(lambda: not engine.core.connected and not engine.core.calls, 30)
    await wait_until(lambda: all(a.state.value == "ready" for a in engine.core.agents.values()), 30)
    await engine.records.drain()

    async with aiohttp.ClientSession() as http:
        async with http.get(f"http://127.0.0.1:{engine.http_port}/metrics", timeout=aiohttp.ClientTimeout(total=10)) as r:
            assert r.status == 200
            metrics = scrape(await r.text())

    records = await engine.customers.interactions_between(0, 4e9)
    assert len(records) == CALLS
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
            within[rec.queue] += rec.wait_s <= 2
            talk[rec.queue] += rec.talk_s or 0.0
        elif rec.outcome is Outcome.ABANDONED_QUEUE:
            abandoned[rec.queue] += 1
    assert sum(answered.values()) > 10 and sum(abandoned.values()) > 0  # a real mix was exercised
    for queue in ("general", "support", "sales"):
        assert m("acd_queue_calls_offered_total", queue=queue) == offered[queue], queue
        assert m("acd_queue_calls_answered_total", queue=queue) == answered[queue], queue
        assert m("acd_queue_calls_abandoned_total", queue=queue) == abandoned[queue], queue
        assert m("acd_queue_calls_answered_within_sl_total", queue=queue) == within[queue], queue
        assert m("acd_queue_wait_seconds_count", queue=queue, outcome="answered") == answered[queue]
        assert m("acd_queue_calls_completed_total", queue=queue) == answered[queue]
        assert abs(m("acd_queue_handle_seconds_total", queue=queue, part="talk") - talk[queue]) < 0.05 * answered[queue] + 0.01
    assert m("acd_ivr_sessions_total", flow="demo_line") == CALLS
    assert m("acd_queue_calls_waiting", queue="general") == 0
