"""CSV (stdlib ``csv``) and terminal-table renderings of the report rows.

CSV keeps raw numbers so spreadsheets can compute with them: seconds with 3 decimals, ratios
(service levels, abandon rate, occupancy) as fractions with 4 decimals, an empty cell for a null
figure, and ``interval_start`` as an ISO 8601 time with its UTC offset. The table is for people:
ratios as percentages, seconds rounded to one decimal, ``-`` for null."""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass
from collections.abc import Callable, Sequence
from typing import Any

from acd.reports.compute import AGENT_COLUMNS, QUEUE_COLUMNS, UTC, AgentRow, QueueRow

RATIOS = {"service_level", "service_level_abandons", "abandon_rate", "occupancy"}
COUNTS = {"offered", "answered", "abandoned", "short_abandoned", "other", "answered_in_sl"}


def columns(kind: str) -> tuple[str, ...]:
    if kind == "queue":
        return QUEUE_COLUMNS
    if kind == "agent":
        return AGENT_COLUMNS
    raise ValueError(f"kind must be queue or agent (got {kind!r})")


def iso(t: float, tz: dt.tzinfo = UTC) -> str:
    return dt.datetime.fromtimestamp(t, tz).isoformat(timespec="seconds")


def _csv_cell(name: str, value: Any, tz: dt.tzinfo) -> str:  # a row's field, read by its column name
    if value is None:
        return ""
    if name == "interval_start":
        return iso(value, tz)
    if isinstance(value, str) or name in COUNTS:
        return str(value)
    if name in RATIOS:
        return f"{value:.4f}"
    return f"{float(value):.3f}"


def to_csv(rows: Sequence[QueueRow | AgentRow], kind: str, tz: dt.tzinfo = UTC) -> str:
    """A header line then one line per row, in ``columns(kind)`` order."""
    cols = columns(kind)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(cols)
    for row in rows:
        writer.writerow([_csv_cell(c, getattr(row, c), tz) for c in cols])
    return buf.getvalue()


@dataclass(frozen=True)
class _Col:
    name: str
    title: str
    fmt: Callable[[Any], str]  # gets the row's field, read by name


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{100 * v:.1f}%"


def _secs(v: float | None) -> str:
    return "-" if v is None else f"{v:.1f}"


def _int(v: int | None) -> str:
    return "-" if v is None else str(v)


QUEUE_TABLE = (
    _Col("queue", "queue", str), _Col("offered", "offered", _int), _Col("answered", "answered", _int),
    _Col("abandoned", "abandoned", _int), _Col("short_abandoned", "short", _int),
    _Col("service_level", "SL", _pct), _Col("service_level_abandons", "SL+abn", _pct),
    _Col("asa_s", "ASA s", _secs), _Col("aht_s", "AHT s", _secs), _Col("abandon_rate", "abn %", _pct),
    _Col("longest_wait_s", "max wait s", _secs),
)
AGENT_TABLE = (
    _Col("agent", "agent", str), _Col("answered", "answered", _int), _Col("talk_s", "talk s", _secs),
    _Col("hold_s", "hold s", _secs), _Col("wrapup_s", "wrap-up s", _secs), _Col("aht_s", "AHT s", _secs),
    _Col("logged_in_s", "logged in s", _secs), _Col("occupancy", "occupancy", _pct),
)


def to_table(rows: Sequence[QueueRow | AgentRow], kind: str, tz: dt.tzinfo = UTC, *, day: bool = False,
             totals: Sequence[QueueRow | AgentRow] = ()) -> str:
    """Aligned columns, one line per row, the interval start as local ``YYYY-MM-DD HH:MM`` (the
    date alone for day intervals). Text columns left-aligned, figures right-aligned. Intervals in
    which nothing happened are left out (the CSV keeps them); ``totals`` rows end the table."""
    from acd.reports.totals import is_empty

    spec = QUEUE_TABLE if columns(kind) is QUEUE_COLUMNS else AGENT_TABLE
    titles = ["interval"] + [c.title for c in spec]
    body = []
    shown = [r for r in rows if not is_empty(r)]
    for row in shown:
        start = dt.datetime.fromtimestamp(row.interval_start, tz)
        body.append([start.strftime("%Y-%m-%d" if day else "%Y-%m-%d %H:%M")] + [c.fmt(getattr(row, c.name)) for c in spec])
    foot = [["total"] + [c.fmt(getattr(row, c.name)) for c in spec] for row in totals if not is_empty(row)]
    widths = [max(len(r[i]) for r in [titles] + body + foot) for i in range(len(titles))]
    left = {0, 1}

    def line(cells: list[str]) -> str:
        return "  ".join(c.ljust(w) if i in left else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=False))).rstrip()

    out = [line(titles), "  ".join("-" * w for w in widths)]
    out += [line(r) for r in body]
    if foot:
        out.append("  ".join("-" * w for w in widths))
        out += [line(r) for r in foot]
    if not body:
        what = "calls" if kind == "queue" else "agent activity"
        out.append(f"(no {what} in this range: {len(rows)} empty interval rows not shown; --format csv lists them)"
                   if rows else f"(no {kind}s in this range)")
    return "\n".join(out) + "\n"
