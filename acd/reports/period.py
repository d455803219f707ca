"""The report period when none is given, the same for ``acd report`` and ``GET /api/v1/reports``:
today, from midnight in the report's time zone, for one day. Pure: the caller passes ``now``."""

from __future__ import annotations

import datetime as dt


def default_period(now: float, tz: dt.tzinfo, start: float | None = None, end: float | None = None) -> tuple[float, float]:
    """``start`` (default: today's midnight in ``tz``) to ``end`` (default: the same wall time a
    day after the start, so a day across a clock change is still a calendar day)."""
    if start is None:
        today = dt.datetime.fromtimestamp(now, tz).date()
        start = dt.datetime(today.year, today.month, today.day, tzinfo=tz).timestamp()
    if end is None:
        d = dt.datetime.fromtimestamp(start, tz)
        nxt = d.date() + dt.timedelta(days=1)
        end = dt.datetime(nxt.year, nxt.month, nxt.day, d.hour, d.minute, d.second, tzinfo=tz).timestamp()
    return start, end
