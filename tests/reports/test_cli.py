"""``acd report``: arguments, errors, and the rendering after the store is read."""

from __future__ import annotations

import argparse

import pytest

from acd.cli import build_parser, main
from acd.reports.cli import render_queue_log, render_report, resolve_range
from acd.reports.compute import AgentSpan, QueueThresholds

from tests.reports.helpers import T0, sample


def parse(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(["report", *argv])


def test_defaults():
    args = parse()
    assert (args.interval, args.by, args.format, args.output, args.tz, args.start, args.end) == (60, "queue", "table", None, None, None, None)  # no --tz: engine.time_zone
    assert args.handler.__name__ == "cmd_report"
    q = parse("queue-log", "--from", "2026-11-23")
    assert q.handler.__name__ == "cmd_queue_log" and q.start == "2026-11-23"


@pytest.mark.parametrize("argv, message", [
    (["--interval", "10"], "interval must be one of 15, 30, 60, day"),
    (["--interval", "week"], "interval must be one of 15, 30, 60, day"),
    (["--from", "yesterday"], "not an ISO 8601 date or time"),
    (["--to", "2026-13-01"], "not an ISO 8601 date or time"),
    (["--by", "team"], "invalid choice"),
    (["--format", "xlsx"], "invalid choice"),
    (["--tz", "Mars/Olympus"], "unknown time zone"),
    (["queue-log", "--interval", "15"], "unrecognized arguments"),
])
def test_argument_errors(argv, message, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["report", *argv])
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("sub", [[], ["queue-log"]])
def test_empty_range_is_refused_before_the_store_is_opened(sub, capsys, tmp_path):
    code = main(["report", *sub, "--from", "2026-11-23T10:00", "--to", "2026-11-23T09:00", "--config", str(tmp_path)])
    assert code == 2
    assert "must be after --from" in capsys.readouterr().err


def test_range_defaults_and_time_zones():
    now = T0 + 3 * 3600 + 17  # 2026-11-23 12:00:17 UTC
    r = resolve_range(parse(), now=now)
    assert (r.start, r.end) == (T0 - 9 * 3600, T0 + 15 * 3600)  # today, midnight to midnight
    r = resolve_range(parse("--from", "2026-11-23T09:00", "--tz", "Europe/Paris"))
    assert (r.start, r.end) == (T0 - 3600, T0 - 3600 + 86400)
    r = resolve_range(parse("--from", "2026-11-23T09:00:00+00:00", "--to", "2026-11-23T11:00Z"))
    assert (r.start, r.end) == (T0, T0 + 7200)


def test_render_queue_table():
    args = parse("--from", "2026-11-23T09:00", "--to", "2026-11-23T11:00")
    args.thresholds = {"sales": QueueThresholds(20, 5), "support": QueueThresholds(30, 10)}
    text = render_report(sample(), args)
    lines = text.splitlines()
    assert lines[0] == "queue report 2026-11-23T09:00:00+00:00 to 2026-11-23T11:00:00+00:00, 60 min intervals"
    # support had no call: its empty rows are not shown; each queue with calls, and all, get a total
    assert [line.split()[:5] for line in lines[3:]] == [
        ["2026-11-23", "09:00", "sales", "7", "4"],
        ["2026-11-23", "10:00", "sales", "1", "1"],
        ["----------------", "-----", "-------", "--------", "---------"],
        ["total", "sales", "8", "5", "2"],
        ["total", "(all)", "8", "5", "2"],
    ]
    # the totals' rates come from the summed counts: SL 2 of 5 answered, ASA (4 x 27.5 + 15) / 5
    assert lines[6].split()[6:9] == ["40.0%", "33.3%", "25.0"]


def test_render_agent_csv_at_15_minutes_with_spans():
    args = parse("--from", "2026-11-23T09:00", "--to", "2026-11-23T10:00", "--interval", "15", "--by", "agent", "--format", "csv")
    text = render_report(sample(), args, spans=[AgentSpan("a1", "ready", T0, T0 + 3600)])
    lines = text.splitlines()
    assert lines[0].startswith("interval_start,agent,answered,")
    assert len(lines) == 1 + 4 * 3  # four quarters, agents a1 a2 a3
    assert lines[1] == "2026-11-23T09:00:00+00:00,a1,1,100.000,20.000,30.000,150.000,150.000,900.000,0.1667"


def test_render_day_table_without_spans_says_occupancy_is_missing():
    args = parse("--from", "2026-11-23", "--interval", "day", "--by", "agent")
    text = render_report(sample(), args)
    assert "occupancy needs agent state history" in text.splitlines()[0]
    assert [line.split()[:3] for line in text.splitlines()[3:6]] == [["2026-11-23", "a1", "2"], ["2026-11-23", "a2", "2"], ["2026-11-23", "a3", "1"]]
    assert text.splitlines()[-1].split()[:4] == ["total", "(all)", "5", "780.0"]


def test_a_range_without_calls_is_one_line_not_a_screen_of_zeros():
    args = parse("--from", "2026-11-20", "--interval", "15")
    args.thresholds = {"sales": QueueThresholds(20, 5)}
    lines = render_report([], args).splitlines()
    assert len(lines) == 4
    assert lines[-1] == "(no calls in this range: 96 empty interval rows not shown; --format csv lists them)"


def test_render_queue_log_in_range():
    args = parse("queue-log", "--from", "2026-11-23T09:00", "--to", "2026-11-23T09:00:30")
    assert render_queue_log(sample(), args).splitlines() == [
        "1795424400|c1|sales|NONE|ENTERQUEUE|||1",
        "1795424410|c1|sales|a1|CONNECT|10||0",
    ]
