"""The report formulas against figures computed by hand (see the module docstring of
acd.reports.compute for the definitions)."""

from __future__ import annotations

import datetime as dt

import pytest

from acd.reports.compute import AgentSpan, QueueThresholds, compute, interval_starts, parse_interval, zone
from acd.store.records import fold

from tests.reports.helpers import T0, answered, sample

TH = {"sales": QueueThresholds(service_level_s=20, short_abandon_s=5), "support": QueueThresholds(30, 10)}
SPANS = [
    AgentSpan("a1", "ready", T0, T0 + 5400), AgentSpan("a1", "not_ready", T0 + 5400, T0 + 7200),
    AgentSpan("a2", "logged_out", T0, T0 + 1800), AgentSpan("a2", "ready", T0 + 1800, T0 + 3600),
    AgentSpan("a2", "logged_out", T0 + 3600, T0 + 7200),
    AgentSpan("a3", "on_call", T0, T0 + 7200),
]


def _q(report, start, queue):
    (row,) = [r for r in report.queues if r.interval_start == start and r.queue == queue]
    return row


def _a(report, start, agent):
    (row,) = [r for r in report.agents if r.interval_start == start and r.agent == agent]
    return row


def test_queue_rows_by_hand():
    rep = compute(sample(), T0, T0 + 7200, 60, thresholds=TH, spans=SPANS)
    assert rep.starts == [T0, T0 + 3600]
    q9 = _q(rep, T0, "sales")
    # offered: c1 c2 c3 c4 c5 c7 c8 (c5 entered at 09:59:50, answered at 10:00:20: counts at 09:00)
    assert (q9.offered, q9.answered, q9.abandoned, q9.short_abandoned, q9.other) == (7, 4, 2, 1, 1)
    assert q9.answered_in_sl == 1  # only c1 (10 s); c2 30 s, c5 30 s, c8 40 s
    assert q9.service_level == pytest.approx(1 / 4)
    assert q9.service_level_abandons == pytest.approx(1 / (4 + 2 - 1))
    assert q9.asa_s == pytest.approx((10 + 30 + 30 + 40) / 4)
    assert q9.aht_s == pytest.approx((150 + 210 + 300 + 120) / 4)
    assert q9.abandon_rate == pytest.approx((2 - 1) / (7 - 1))  # c3 is a short abandon: out of both sides
    assert q9.longest_wait_s == pytest.approx(100)  # c7 waited 100 s before booking a callback
    q10 = _q(rep, T0 + 3600, "sales")
    assert (q10.offered, q10.answered, q10.abandoned, q10.short_abandoned, q10.other) == (1, 1, 0, 0, 0)
    assert (q10.service_level, q10.service_level_abandons, q10.asa_s, q10.aht_s, q10.abandon_rate) == (1.0, 1.0, 15.0, 60.0, 0.0)
    assert q10.longest_wait_s == 15.0


def test_queue_without_calls_has_zero_rows():
    rep = compute(sample(), T0, T0 + 7200, 60, thresholds=TH)
    for start in (T0, T0 + 3600):
        row = _q(rep, start, "support")
        assert (row.offered, row.answered, row.abandoned, row.short_abandoned, row.answered_in_sl) == (0, 0, 0, 0, 0)
        assert (row.service_level, row.service_level_abandons, row.asa_s, row.aht_s, row.abandon_rate) == (None,) * 5
        assert row.longest_wait_s == 0.0
        assert (row.service_level_s, row.short_abandon_s) == (30, 10)


def test_short_abandon_threshold_is_strict_and_sl_threshold_inclusive():
    recs = [answered("x1", "q", T0, T0 + 20, "a", talk=10, wrap=0), answered("x2", "q", T0, T0 + 20.5, "a", talk=10, wrap=0)]
    from tests.reports.helpers import abandoned
    recs += [abandoned("x3", "q", T0, T0 + 5), abandoned("x4", "q", T0, T0 + 4.9)]
    row = _q(compute(recs, T0, T0 + 900, 15, thresholds={"q": QueueThresholds(20, 5)}), T0, "q")
    assert (row.answered_in_sl, row.abandoned, row.short_abandoned) == (1, 2, 1)
    assert row.service_level == 0.5
    assert row.service_level_abandons == 0.5  # x3 gave up at 5 s, within T: neutral; x4 is short


def test_agent_rows_and_occupancy_by_hand():
    rep = compute(sample(), T0, T0 + 7200, 60, thresholds=TH, spans=SPANS)
    a1 = _a(rep, T0, "a1")
    assert (a1.answered, a1.talk_s, a1.hold_s, a1.wrapup_s, a1.handle_s, a1.aht_s) == (1, 100, 20, 30, 150, 150)
    assert a1.logged_in_s == 3600 and a1.occupancy == pytest.approx(150 / 3600)
    a1b = _a(rep, T0 + 3600, "a1")  # c5 answered at 10:00:20: the agent's call counts at 10:00
    assert (a1b.answered, a1b.handle_s, a1b.logged_in_s) == (1, 300, 3600)  # ready then not_ready: both logged in
    assert a1b.occupancy == pytest.approx(300 / 1800)  # ... but not_ready time is not staffed time
    a2 = _a(rep, T0, "a2")
    assert (a2.answered, a2.handle_s, a2.logged_in_s) == (1, 210, 1800)
    assert a2.occupancy == pytest.approx(210 / 1800)
    a2b = _a(rep, T0 + 3600, "a2")  # c6: wrap-up not recorded yet counts 0; logged out all hour
    assert (a2b.answered, a2b.talk_s, a2b.handle_s, a2b.aht_s, a2b.logged_in_s, a2b.occupancy) == (1, 60, 60, 60, 0, None)
    # c8 answered 09:59:00 by a3, 120 s: the handle window is shared 60/60 across the boundary
    a3, a3b = _a(rep, T0, "a3"), _a(rep, T0 + 3600, "a3")
    assert (a3.answered, a3.handle_s, a3b.answered, a3b.handle_s) == (1, 120, 0, 0)
    assert a3.occupancy == pytest.approx(60 / 3600) and a3b.occupancy == pytest.approx(60 / 3600)


def test_occupancy_is_null_without_spans():
    rep = compute(sample(), T0, T0 + 7200, 60, thresholds=TH)
    assert all(r.occupancy is None and r.logged_in_s is None for r in rep.agents)
    assert {r.agent for r in rep.agents} == {"a1", "a2", "a3"}


@pytest.mark.parametrize("interval, rows", [(60, 24), (30, 48), (15, 96), ("day", 1)])
def test_a_day_has_every_interval(interval, rows):
    day = dt.datetime(2026, 11, 23, tzinfo=dt.UTC).timestamp()
    rep = compute(sample(), day, day + 86400, interval, thresholds=TH)
    for q in ("sales", "support"):
        assert len([r for r in rep.queues if r.queue == q]) == rows
    assert sum(r.offered for r in rep.queues) == 8


def test_calls_outside_the_range_are_left_out():
    rep = compute(sample(), T0 + 3600, T0 + 7200, 60, thresholds=TH)
    assert sum(r.offered for r in rep.queues) == 1  # c6 only; c5 entered before 10:00
    assert sum(r.answered for r in rep.agents) == 2  # c5 and c6 answered after 10:00


def test_intervals_follow_the_local_wall_clock():
    tz = zone("Europe/London")
    # the day the clocks go back is 25 hours long
    start = dt.datetime(2026, 10, 25, tzinfo=tz).timestamp()
    end = dt.datetime(2026, 10, 26, tzinfo=tz).timestamp()
    assert len(interval_starts(start, end, 60, tz)) == 25
    assert interval_starts(start, end, "day", tz) == [start]
    assert interval_starts(start + 7 * 60, start + 3600, 15, tz) == [start, start + 900, start + 1800, start + 2700]
    kolkata = zone("Asia/Kolkata")  # UTC+05:30: the grid is the local one
    s = dt.datetime(2026, 11, 23, 10, 20, tzinfo=kolkata).timestamp()
    assert interval_starts(s, s + 60, 30, kolkata) == [dt.datetime(2026, 11, 23, 10, 0, tzinfo=kolkata).timestamp()]


def test_folded_abandon_without_an_exit_event_counts():
    """A call whose visit was never closed but which ended abandoned in queue (fold's outcome)."""
    events = [{"kind": "call_start", "t": T0 - 10}, {"kind": "queue_enter", "t": T0, "queue": "sales"},
              {"kind": "ivr_end", "t": T0 + 42, "outcome": "caller_hangup"}]
    rec = fold("f1", events)
    row = _q(compute([rec], T0, T0 + 900, 15, thresholds=TH), T0, "sales")
    assert (row.offered, row.abandoned, row.short_abandoned, row.longest_wait_s) == (1, 1, 0, 42)


@pytest.mark.parametrize("bad", ["10", "0", "week", "", "60.5"])
def test_parse_interval_refuses(bad):
    with pytest.raises(ValueError):
        parse_interval(bad)


def test_parse_interval_accepts():
    assert [parse_interval(v) for v in ("15", "30", 60, "day", "DAY")] == [15, 30, 60, "day", "day"]
