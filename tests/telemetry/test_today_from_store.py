"""Prometheus' "today" gauges survive a restart: calls written to a real store (SQLite), then a
fresh Telemetry (nothing in memory) whose TodayGaugeJob reads the store shows the figures the
report computes from the same records, with the acd.kpi formulas."""

from __future__ import annotations

import asyncio
import uuid

import pytest
import sqlalchemy
from sqlalchemy.exc import SQLAlchemyError

from acd.clock import FakeClock
from acd.reports import compute
from acd.store.sql import AGENT_TIMELINE, SpooledEvent, SqlStore
from acd.telemetry import Telemetry
from acd.reports.daycache import TodayReport
from acd.telemetry.today import TodayGaugeJob
from tests.telemetry.test_metrics import value

MIDNIGHT = 1_800_000_000.0 - (1_800_000_000 % 86400)  # 2027-01-15 00:00 UTC
T9 = MIDNIGHT + 9 * 3600
SL = {"sales": compute.QueueThresholds(service_level_s=20.0, short_abandon_s=5.0)}


def _call(call_id: str, t0: float, wait_s: float, answered: bool, talk_s: float = 60.0) -> list[SpooledEvent]:
    seq = iter(range(1, 100))
    ev = [("call_start", t0, {"ani": "+442079460000", "uniqueid": call_id, "linkedid": call_id}),
          ("queue_enter", t0 + 1, {"queue": "sales", "priority": 0})]
    if answered:
        ev += [("connected", t0 + 1 + wait_s, {"agent": "agent1", "queue": "sales", "waited_s": wait_s}),
               ("ended", t0 + 1 + wait_s + talk_s, {"agent": "agent1", "talk_s": talk_s}),
               ("wrapup_done", t0 + 1 + wait_s + talk_s + 10, {"agent": "agent1", "disposition": "resolved", "wrapup_s": 10.0})]
    else:
        ev += [("queue_exit", t0 + 1 + wait_s, {"queue": "sales", "reason": "abandoned"}),
               ("ivr_end", t0 + 1 + wait_s, {"outcome": "abandoned_queue"})]
    return [SpooledEvent(uuid.uuid4().hex, next(seq), call_id, kind, t, data) for kind, t, data in ev]


def _agent(t: float, state: str, old: str, seq: int) -> SpooledEvent:
    return SpooledEvent(uuid.uuid4().hex, seq, AGENT_TIMELINE + "agent1", "agent_state", t,
                        {"agent": "agent1", "state": state, "old": old})


@pytest.fixture
async def store(tmp_path):
    s = await SqlStore(f"sqlite+aiosqlite:///{tmp_path}/acd.sqlite3", clock=FakeClock(T9 + 3600)).open()
    yield s
    await s.close()


async def test_today_gauges_after_a_restart_come_from_the_store(store):
    clock = FakeClock(T9 + 3600)
    calls = [_call("c1", T9, 5, True), _call("c2", T9 + 600, 30, True), _call("c3", T9 + 1200, 40, False),
             _call("c4", T9 + 1800, 2, False), _call("y1", MIDNIGHT - 3600, 3, True)]  # y1: yesterday
    for events in calls:
        await store.write_events(events)
    await store.write_events([_agent(T9 - 60, "ready", "logged_out", 1)])

    fresh = Telemetry(clock=clock)  # a new process: its counters know nothing of these calls
    assert value(fresh, "acd_queue_calls_today", queue="sales", outcome="answered") is None
    job = TodayGaugeJob(TodayReport(store, clock, lambda: SL, lambda: "UTC"), fresh)
    day = await job.run_once()

    report = compute.compute(await store.interactions_between(MIDNIGHT - 86400, clock.now()), MIDNIGHT, clock.now(), "day",
                             thresholds=SL, spans=await store.agent_spans_between(MIDNIGHT, clock.now()))
    (row,) = [r for r in report.queues if r.interval_start == MIDNIGHT]
    assert (row.offered, row.answered, row.answered_in_sl, row.abandoned, row.short_abandoned) == (4, 2, 1, 2, 1)
    expect = {
        ("acd_queue_calls_today", "offered"): 4, ("acd_queue_calls_today", "answered"): 2,
        ("acd_queue_calls_today", "answered_within_sl"): 1, ("acd_queue_calls_today", "abandoned"): 2,
        ("acd_queue_calls_today", "abandoned_short"): 1, ("acd_queue_calls_today", "completed"): 2,
    }
    for (name, outcome), n in expect.items():
        assert value(fresh, name, queue="sales", outcome=outcome) == n, outcome
    assert value(fresh, "acd_queue_service_level_today_ratio", queue="sales", definition="answered") == pytest.approx(row.service_level) == 0.5
    assert value(fresh, "acd_queue_service_level_today_ratio", queue="sales",
                 definition="abandon_adjusted") == pytest.approx(row.service_level_abandons) == pytest.approx(1 / 3)
    assert value(fresh, "acd_queue_asa_today_seconds", queue="sales") == pytest.approx(row.asa_s) == 17.5
    assert value(fresh, "acd_queue_aht_today_seconds", queue="sales") == pytest.approx(row.aht_s) == 70.0
    assert value(fresh, "acd_queue_abandon_rate_today_ratio", queue="sales") == pytest.approx(row.abandon_rate) == pytest.approx(1 / 3)
    busy, staffed = 2 * 70.0, clock.now() - (T9 - 60)  # two calls of 60 s talk + 10 s wrap-up; ready since 08:59
    assert value(fresh, "acd_agent_occupancy_today_ratio") == pytest.approx(busy / staffed) == pytest.approx(day.occupancy)
    assert fresh.queue_today("sales").answered == 0  # the counters in memory still know nothing


async def test_yesterdays_store_figures_are_not_shown_after_midnight(store):
    clock = FakeClock(T9)
    await store.write_events(_call("c1", T9 - 3600, 5, True))
    tel = Telemetry(clock=clock)
    await TodayGaugeJob(TodayReport(store, clock, lambda: SL, lambda: "UTC"), tel).run_once()
    assert value(tel, "acd_queue_calls_today", queue="sales", outcome="answered") == 1
    clock.advance(86400)  # the next day, before the job has run again: the counters of memory (none)
    assert value(tel, "acd_queue_calls_today", queue="sales", outcome="answered") is None


async def test_the_gauges_and_the_screens_share_one_computation_of_the_day(store):
    """One store read for a burst of asks (the gauge job's run and screens at the same moment), a
    fresh one once the figures are MAX_AGE_S old or the day has changed; a failed read is not kept."""
    clock = FakeClock(T9)
    await store.write_events(_call("c1", T9 - 3600, 5, True))
    report = TodayReport(store, clock, lambda: SL, lambda: "UTC")
    tel = Telemetry(clock=clock)
    job = TodayGaugeJob(report, tel)
    together = await asyncio.gather(report.figures(), job.run_once(), report.figures(), report.figures())
    assert report.computed == 1
    assert together[0] is together[2] is together[3] and together[1].queues["sales"].answered == 1
    clock.advance(report.max_age_s - 0.1)
    assert (await report.figures()) is together[0] and report.computed == 1
    await store.write_events(_call("c2", T9, 5, False))
    clock.advance(0.2)  # now MAX_AGE_S old: read again, and the new call is counted
    fresh = await report.figures()
    assert report.computed == 2 and fresh.queues["sales"].offered == 2
    clock.advance(86400)  # another day: read again, whatever its age
    assert (await report.figures()).day_start == MIDNIGHT + 86400 and report.computed == 3
    async with store.engine.begin() as conn:  # the store breaks: the error reaches the caller, nothing is cached
        await conn.execute(sqlalchemy.text("ALTER TABLE interactions RENAME TO interactions_away"))
    clock.advance(report.max_age_s)
    with pytest.raises(SQLAlchemyError):
        await report.figures()
    assert report.computed == 3
    async with store.engine.begin() as conn:
        await conn.execute(sqlalchemy.text("ALTER TABLE interactions_away RENAME TO interactions"))
    assert (await report.figures()).queues["sales"].offered == 0 and report.computed == 4  # a day later: no calls
