"""Invariants of the report rows over generated calls: whatever the interval, the same calls are
counted once, and every ratio stays in [0, 1]."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from acd.reports.compute import AgentSpan, QueueThresholds, ReportFold, compute

from tests.reports.helpers import T0, abandoned, answered, exited

DAY = 86400.0


@st.composite
def calls(draw):
    out = []
    for i in range(draw(st.integers(0, 30))):
        enter = T0 - 9 * 3600 + draw(st.floats(-3600, DAY + 3600))
        wait = draw(st.floats(0, 900))
        queue = draw(st.sampled_from(["q1", "q2"]))
        kind = draw(st.sampled_from(["answered", "abandoned", "timeout", "callback"]))
        if kind == "answered":
            talk = draw(st.one_of(st.none(), st.floats(0, 3600)))
            out.append(answered(f"c{i}", queue, enter, enter + wait, draw(st.sampled_from(["a1", "a2"])), talk=talk,
                                hold=draw(st.floats(0, 300)), wrap=draw(st.one_of(st.none(), st.floats(0, 300)))))
        elif kind == "abandoned":
            out.append(abandoned(f"c{i}", queue, enter, enter + wait))
        else:
            out.append(exited(f"c{i}", queue, enter, enter + wait, kind))
    return out


@settings(max_examples=60, deadline=None)
@given(calls())
def test_counts_do_not_depend_on_the_interval(recs):
    start = T0 - 9 * 3600
    th = {"q1": QueueThresholds(20, 5), "q2": QueueThresholds(10, 0)}
    spans = [AgentSpan("a1", "ready", start, start + DAY), AgentSpan("a2", "not_ready", start + 3600, start + 7200)]
    totals = []
    for interval in (15, 30, 60, "day"):
        rep = compute(recs, start, start + DAY, interval, thresholds=th, spans=spans)
        for r in rep.queues:
            assert r.offered == r.answered + r.abandoned + r.other
            assert 0 <= r.short_abandoned <= r.abandoned and 0 <= r.answered_in_sl <= r.answered
            for ratio in (r.service_level, r.service_level_abandons, r.abandon_rate):
                assert ratio is None or 0.0 <= ratio <= 1.0
            assert r.service_level is None or r.service_level_abandons is None or r.service_level_abandons <= r.service_level + 1e-12
        for a in rep.agents:
            assert a.occupancy is None or a.occupancy >= 0.0
        totals.append((sum(r.offered for r in rep.queues), sum(r.answered for r in rep.queues),
                       sum(r.abandoned for r in rep.queues), sum(a.answered for a in rep.agents),
                       round(sum(a.handle_s for a in rep.agents), 6)))
    assert len(set(totals)) == 1
    entered = [v for rec in recs for v in rec.queues if start <= v.entered_at < start + DAY]
    assert totals[0][0] == len(entered)


@settings(max_examples=60, deadline=None)
@given(calls(), st.randoms(use_true_random=False), st.integers(1, 7))
def test_the_fold_in_any_chunks_and_order_gives_the_report_of_all_at_once(recs, rng, chunk):
    """The day cache folds a day's records a chunk at a time as it reads them (acd.reports.daycache)."""
    start = T0 - 9 * 3600
    th = {"q1": QueueThresholds(20, 5)}
    spans = [AgentSpan("a1", "ready", start, start + DAY), AgentSpan("a3", "logged_out", start, start + 60)]
    for interval in (30, "day"):
        whole = compute(recs, start, start + DAY, interval, thresholds=th, spans=spans, agents=["a9"])
        fold = ReportFold(start, start + DAY, interval, thresholds=th, agents=["a9"])
        shuffled = rng.sample(recs, len(recs))
        fold.add_spans(spans[:1])
        for i in range(0, len(shuffled), chunk):
            fold.add_spans([])  # a batch with no spans changes nothing
            for rec in shuffled[i:i + chunk]:
                fold.add(rec)
        fold.add_spans(spans[1:])
        part = fold.report()
        assert len(part.queues) == len(whole.queues) and len(part.agents) == len(whole.agents)
        for got, want in zip(part.queues + part.agents, whole.queues + whole.agents, strict=True):
            assert dataclasses.asdict(got) == pytest.approx(dataclasses.asdict(want))  # sums in another order
