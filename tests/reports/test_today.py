"""The wallboard's pure picture (acd/reports/today.py): day bounds in a zone (DST days), colours
from each queue's thresholds, nulls (not zeros) when the store does not answer."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from acd.reports.compute import QueueRow
from acd.reports.today import LiveAgent, QueueTargets, day_start, queue_view, state_counts, wallboard_view

LONDON = ZoneInfo("Europe/London")
TARGETS = QueueTargets(service_level_s=20, service_level_goal=0.8, sl_green=0.8, sl_amber=0.6)


def _agent(i: str, state: str, queues=("sales",)) -> LiveAgent:
    return LiveAgent(i, i.title(), state, None, 3.0, 0, None, tuple(queues))


def test_day_start_is_local_midnight_also_on_a_dst_day():
    now = dt.datetime(2026, 3, 29, 12, 0, tzinfo=LONDON).timestamp()  # clocks went forward at 01:00
    start = day_start(now, LONDON)
    assert dt.datetime.fromtimestamp(start, LONDON) == dt.datetime(2026, 3, 29, 0, 0, tzinfo=LONDON)
    assert now - start == 11 * 3600  # a 23-hour day: noon is 11 h after midnight
    assert day_start(start, LONDON) == start and day_start(start - 1, LONDON) == start - 86400


def test_colour_follows_the_queue_thresholds():
    for within, colour in ((8, "green"), (7, "amber"), (5, "red")):
        row = QueueRow(0.0, "sales", offered=10, answered=10, answered_in_sl=within, service_level=within / 10)
        assert queue_view("sales", TARGETS, row, {}, [])["sl_colour"] == colour


def test_unavailable_store_gives_nulls_not_a_quiet_day():
    view = queue_view("sales", TARGETS, None, {"waiting": 2, "longest_wait_s": 31.5}, [_agent("a1", "ready")])
    assert view["offered"] is None and view["answered"] is None and view["sl_colour"] is None
    assert (view["waiting"], view["longest_wait_s"]) == (2, 31.5)  # the live part still shows


def test_agents_per_queue_and_every_state_counted():
    agents = [_agent("a1", "ready"), _agent("a2", "on_call"), _agent("a3", "logged_out"), _agent("a4", "ready", ("support",))]
    assert queue_view("sales", TARGETS, None, {}, agents)["agents"] == {"staffed": 2, "available": 1, "on_call": 1}
    counts = state_counts(agents)
    assert counts["ringing"] == 0 and counts["ready"] == 2 and sum(counts.values()) == 4
    board = wallboard_view(100.0, "UTC", 0.0, {"sales": TARGETS}, {}, {}, agents)
    assert board["day_figures"] == "store" and board["queues"][0]["offered"] == 0  # no row: nothing offered yet
    assert wallboard_view(100.0, "UTC", 0.0, {"sales": TARGETS}, None, {}, agents)["day_figures"] == "unavailable"
