"""CSV header and row shape, and the terminal table."""

from __future__ import annotations

import csv
import io

from acd.reports.compute import AGENT_COLUMNS, QUEUE_COLUMNS, AgentSpan, QueueThresholds, compute, zone
from acd.reports.export import to_csv, to_table

from tests.reports.helpers import T0, sample

TH = {"sales": QueueThresholds(20, 5), "support": QueueThresholds(30, 10)}


def test_queue_csv_shape_and_values():
    rep = compute(sample(), T0, T0 + 7200, 60, thresholds=TH)
    rows = list(csv.reader(io.StringIO(to_csv(rep.queues, "queue"))))
    assert tuple(rows[0]) == QUEUE_COLUMNS
    assert len(rows) == 1 + 2 * 2  # two hours, two queues
    assert all(len(r) == len(QUEUE_COLUMNS) for r in rows)
    first = dict(zip(rows[0], rows[1]))
    assert first == {
        "interval_start": "2026-11-23T09:00:00+00:00", "queue": "sales", "offered": "7", "answered": "4", "abandoned": "2",
        "short_abandoned": "1", "other": "1", "answered_in_sl": "1", "service_level": "0.2500",
        "service_level_abandons": "0.2000", "asa_s": "27.500", "aht_s": "195.000", "abandon_rate": "0.2857",
        "longest_wait_s": "100.000", "service_level_s": "20.000", "short_abandon_s": "5.000"}
    empty = dict(zip(rows[0], rows[2]))
    assert empty["queue"] == "support" and empty["offered"] == "0" and empty["service_level"] == "" and empty["asa_s"] == ""


def test_agent_csv_shape_in_a_time_zone():
    spans = [AgentSpan("a1", "ready", T0, T0 + 7200)]
    rep = compute(sample(), T0, T0 + 7200, 60, thresholds=TH, spans=spans)
    text = to_csv(rep.agents, "agent", zone("Europe/Paris"))
    rows = list(csv.reader(io.StringIO(text)))
    assert tuple(rows[0]) == AGENT_COLUMNS and len(rows) == 1 + 2 * 3
    a1 = dict(zip(rows[0], rows[1]))
    assert a1 == {"interval_start": "2026-11-23T10:00:00+01:00", "agent": "a1", "answered": "1", "talk_s": "100.000",
                  "hold_s": "20.000", "wrapup_s": "30.000", "handle_s": "150.000", "aht_s": "150.000",
                  "logged_in_s": "3600.000", "occupancy": "0.0417"}
    assert text.endswith("\n") and "\r" not in text


def test_table_is_aligned_and_readable():
    rep = compute(sample(), T0, T0 + 7200, 60, thresholds=TH)
    lines = to_table(rep.queues, "queue").splitlines()
    assert lines[0].split() == ["interval", "queue", "offered", "answered", "abandoned", "short", "SL", "SL+abn", "ASA",
                                "s", "AHT", "s", "abn", "%", "max", "wait", "s"]
    assert set(lines[1]) <= {"-", " "}
    assert lines[2].split() == ["2026-11-23", "09:00", "sales", "7", "4", "2", "1", "25.0%", "20.0%", "27.5", "195.0", "28.6%", "100.0"]
    assert lines[3].split()[:3] == ["2026-11-23", "10:00", "sales"]  # support's empty rows are left out
    assert len({len(line) for line in lines[:2]}) == 1  # header and rule line up
    assert to_table([], "agent").splitlines()[-1] == "(no agents in this range)"
