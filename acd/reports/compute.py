"""Contact-centre interval reports computed from interaction records. Pure: no I/O, no clock.

Input is a list of :class:`acd.store.records.Interaction` (times are epoch seconds) and,
optionally, the agents' state intervals as :class:`AgentSpan`. Output is one :class:`QueueRow`
per (interval start, queue) and one :class:`AgentRow` per (interval start, agent). Every interval
of the range is present for every queue and agent, with zeros when nothing happened in it (a day
at 60 minutes is 24 rows per queue).

Intervals
    ``interval`` is 15, 30 or 60 (minutes) or ``"day"``. Boundaries follow the wall clock of
    ``tz`` (UTC by default): minute intervals start on the minute grid of the hour (the range start
    is floored to it) and days at local midnight. An interval is half open: ``[start, end)``.

Queue rows (one *offer* is one queue visit, :class:`acd.store.records.QueueVisit`; a call that
overflows from queue A to queue B is offered to both)
    - ``offered``: visits that entered the queue in the interval. A call counts in the interval
      its queue entry started, also when it is answered or abandoned in a later one.
    - ``answered``: those offered visits that ended with the call connected to an agent
      (``reason == "answered"``). ``wait`` of a visit is ``exited_at - entered_at``.
    - ``abandoned``: those offered visits the caller hung up from (``reason`` ``abandoned``; a
      call whose last visit was never closed but whose interaction ended as
      ``abandoned_queue`` counts too, waiting until ``ended_at``).
    - ``short_abandoned``: abandoned with ``wait < short_abandon_s`` of the queue (quicker than
      the threshold, as ``config/queues.yaml`` says); they are excluded from the second service
      level and counted in ``abandoned`` as well.
    - ``other``: offered visits neither answered nor abandoned (overflowed, timed out, callback
      booked, still waiting): ``offered = answered + abandoned + other``.
    - ``answered_in_sl``: answered with ``wait <= service_level_s`` of the queue.
    - ``service_level`` = ``answered_in_sl / answered`` (null when ``answered == 0``).
    - ``service_level_abandons`` = ``answered_in_sl / (answered + abandoned after T)``, where an
      abandon after T is one that is not short and waited longer than ``service_level_s``
      (abandons within T are neutral; null when the denominator is 0).
    - ``asa_s`` = sum of waits of answered visits / ``answered`` (null when none).
    - ``aht_s`` = sum of ``talk_s + hold_s + wrapup_s`` over the answered visits whose talk has
      ended (``talk_s`` known; wrap-up not yet recorded counts 0) / their number (null when none).
      Talk and hold are separate parts, as in ``acd.telemetry.metrics``.
    - ``abandon_rate`` = ``(abandoned - short_abandoned) / (offered - short_abandoned)`` (null
      when nothing but short abandons was offered).
    - ``longest_wait_s``: the longest wait of any offered visit with a known end (answered,
      abandoned or otherwise exited); 0 when none.

Agent rows (a call counts for the agent in the interval it was answered, ``answered_at``)
    - ``answered``: calls connected to the agent in the interval.
    - ``talk_s``, ``hold_s``, ``wrapup_s``: sums over those calls (what is recorded so far).
    - ``handle_s``: ``talk_s + hold_s + wrapup_s`` of those calls whose talk has ended.
    - ``aht_s`` = ``handle_s`` / number of those calls whose talk has ended (null when none).
    - ``logged_in_s``: the agent's spans with a state other than ``logged_out``, clipped to
      the interval.
    - ``occupancy`` = busy time / staffed time inside the interval (:func:`acd.kpi.occupancy`).
      Busy time is the handle time of the agent's calls, each the window
      ``[answered_at, answered_at + talk + hold + wrap-up)`` clipped to the interval (so a call
      across a boundary is shared between both); staffed time is the agent's spans in a staffed
      state (``ready``, ``reserved``, ``ringing``, ``on_call``, ``wrap_up``; not ``not_ready``)
      clipped to the interval. Null when no spans were given at all, or the agent had no
      staffed time in the interval.

Every ratio is computed by :mod:`acd.kpi`, the one formula shared with Prometheus, the live
view and the wallboard.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass, field
from typing import Literal
from collections.abc import Iterable, Mapping, Sequence
from zoneinfo import ZoneInfo

from acd import kpi
from acd.store.records import Interaction, Outcome, QueueVisit

Interval = int | Literal["day"]
INTERVALS: tuple[Interval, ...] = (15, 30, 60, "day")
DEFAULT_SERVICE_LEVEL_S = 20.0
DEFAULT_SHORT_ABANDON_S = 5.0
UTC = dt.UTC


@dataclass(frozen=True)
class AgentSpan:
    """One stretch of an agent in one state (``acd.routing.model.AgentState`` values:
    ``ready``, ``on_call``, ``wrap_up``, ``not_ready``, ... ``logged_out``), ``[start, end)``."""

    agent: str
    state: str
    start: float
    end: float


@dataclass(frozen=True)
class QueueThresholds:
    service_level_s: float = DEFAULT_SERVICE_LEVEL_S
    short_abandon_s: float = DEFAULT_SHORT_ABANDON_S


@dataclass
class QueueRow:
    interval_start: float
    queue: str
    offered: int = 0
    answered: int = 0
    abandoned: int = 0
    short_abandoned: int = 0
    other: int = 0
    answered_in_sl: int = 0
    service_level: float | None = None
    service_level_abandons: float | None = None
    asa_s: float | None = None
    aht_s: float | None = None
    abandon_rate: float | None = None
    longest_wait_s: float = 0.0
    service_level_s: float = DEFAULT_SERVICE_LEVEL_S
    short_abandon_s: float = DEFAULT_SHORT_ABANDON_S
    # accumulators, not reported
    _wait_sum: float = field(default=0.0, repr=False)
    _abandoned_after_sl: int = field(default=0, repr=False)
    _handle_sum: float = field(default=0.0, repr=False)
    _handled: int = field(default=0, repr=False)


@dataclass
class AgentRow:
    interval_start: float
    agent: str
    answered: int = 0
    talk_s: float = 0.0
    hold_s: float = 0.0
    wrapup_s: float = 0.0
    handle_s: float = 0.0
    aht_s: float | None = None
    logged_in_s: float | None = None
    occupancy: float | None = None
    _handled: int = field(default=0, repr=False)
    _busy_s: float = field(default=0.0, repr=False)
    _staffed_s: float = field(default=0.0, repr=False)


QUEUE_COLUMNS = ("interval_start", "queue", "offered", "answered", "abandoned", "short_abandoned", "other",
                 "answered_in_sl", "service_level", "service_level_abandons", "asa_s", "aht_s", "abandon_rate",
                 "longest_wait_s", "service_level_s", "short_abandon_s")
AGENT_COLUMNS = ("interval_start", "agent", "answered", "talk_s", "hold_s", "wrapup_s", "handle_s", "aht_s",
                 "logged_in_s", "occupancy")


@dataclass
class Report:
    starts: list[float]
    end: float
    queues: list[QueueRow]
    agents: list[AgentRow]


def parse_interval(value: str | int) -> Interval:
    """``"15"``/``15``, 30, 60 or ``"day"``; anything else is a ValueError."""
    if isinstance(value, str) and value.strip().lower() == "day":
        return "day"
    try:
        minutes = int(value)
    except (TypeError, ValueError):
        raise ValueError(f"interval must be one of 15, 30, 60, day (got {value!r})") from None
    if minutes not in (15, 30, 60):
        raise ValueError(f"interval must be one of 15, 30, 60, day (got {value!r})")
    return minutes


def interval_starts(start: float, end: float, interval: Interval, tz: dt.tzinfo = UTC) -> list[float]:
    """The starts of the intervals covering ``[start, end)``, the first floored to the grid."""
    if end <= start:
        return []
    if interval not in INTERVALS:
        raise ValueError(f"interval must be one of 15, 30, 60, day (got {interval!r})")
    local = dt.datetime.fromtimestamp(start, tz)
    out: list[float] = []
    if interval == "day":
        day = local.date()
        while True:
            t = _local_midnight(day, tz)
            if t >= end:
                break
            out.append(t)
            day += dt.timedelta(days=1)
        return out
    size = int(interval) * 60
    floored = local.replace(minute=local.minute - local.minute % int(interval), second=0, microsecond=0)
    t = floored.timestamp()
    while t < end:
        out.append(t)
        t += size
    return out


def _local_midnight(day: dt.date, tz: dt.tzinfo) -> float:
    return dt.datetime(day.year, day.month, day.day, tzinfo=tz).timestamp()


def compute(interactions: Iterable[Interaction], start: float, end: float, interval: Interval, *,
            thresholds: Mapping[str, QueueThresholds] | None = None,
            default_thresholds: QueueThresholds = QueueThresholds(),
            spans: Sequence[AgentSpan] | None = None, tz: dt.tzinfo = UTC,
            queues: Iterable[str] = (), agents: Iterable[str] = ()) -> Report:
    """Queue and agent rows for ``[start, end)``. ``thresholds`` maps queue name to its service
    level and short-abandon thresholds (others get ``default_thresholds``); ``queues`` and
    ``agents`` are listed even when they had no calls (the queues in ``thresholds`` always are)."""
    fold = ReportFold(start, end, interval, thresholds=thresholds, default_thresholds=default_thresholds, tz=tz,
                      queues=queues, agents=agents)
    for rec in interactions:
        fold.add(rec)
    if spans is not None:
        fold.add_spans(spans)
    return fold.report()


class ReportFold:
    """:func:`compute` one record at a time: every figure is a sum, a count or a maximum, so the
    records (and spans) may come in any number of batches, in any order, and be dropped once
    added; the report is the same. The day cache folds a busy day's records a chunk at a time
    as they are read, instead of holding them all (``acd.reports.daycache``). A queue or agent
    gets its rows (one per interval) when first seen, as :func:`compute` lists them."""

    def __init__(self, start: float, end: float, interval: Interval, *, thresholds: Mapping[str, QueueThresholds] | None = None,
                 default_thresholds: QueueThresholds = QueueThresholds(), tz: dt.tzinfo = UTC,
                 queues: Iterable[str] = (), agents: Iterable[str] = ()) -> None:
        self._thresholds = dict(thresholds or {})
        self._default = default_thresholds
        self.starts = interval_starts(start, end, interval, tz)
        self.bounds = self.starts + [_next_start(self.starts[-1], interval, tz)] if self.starts else []
        self.lo, self.hi = (self.bounds[0], self.bounds[-1]) if self.bounds else (start, start)
        self._qrows: dict[tuple[int, str], QueueRow] = {}
        self._arows: dict[tuple[int, str], AgentRow] = {}
        self._queues: set[str] = set()
        self._agents: set[str] = set()
        self._spans_known = False  # occupancy and logged-in time are unknown (None) without spans
        for q in set(self._thresholds) | set(queues):
            self._queue(q)
        for a in set(agents):
            self._agent(a)

    def _queue(self, name: str) -> None:
        if name not in self._queues:
            self._queues.add(name)
            th = self._thresholds.get(name, self._default)
            for i, s in enumerate(self.starts):
                self._qrows[(i, name)] = QueueRow(s, name, service_level_s=th.service_level_s, short_abandon_s=th.short_abandon_s)

    def _agent(self, name: str) -> None:
        if name not in self._agents:
            self._agents.add(name)
            for i, s in enumerate(self.starts):
                self._arows[(i, name)] = AgentRow(s, name)

    def add(self, rec: Interaction) -> None:
        bounds = self.bounds
        for visit in rec.queues:
            at = _index(bounds, visit.entered_at)
            if at is not None and visit.queue:
                self._queue(visit.queue)
                _add_visit(self._qrows[(at, visit.queue)], rec, visit)
        if not rec.agent or rec.answered_at is None:
            return
        handle = _handle(rec)
        at = _index(bounds, rec.answered_at)
        if at is None and not (handle and _overlap(rec.answered_at, rec.answered_at + handle, self.lo, self.hi) > 0):
            return  # answered and handled outside the range
        self._agent(rec.agent)
        if at is not None:
            row = self._arows[(at, rec.agent)]
            row.answered += 1
            row.talk_s += rec.talk_s or 0.0
            row.hold_s += rec.hold_s or 0.0
            row.wrapup_s += rec.wrapup_s or 0.0
            row.handle_s += handle or 0.0
            row._handled += handle is not None
        if handle:
            for j in range(len(self.starts)):
                overlap = _overlap(rec.answered_at, rec.answered_at + handle, bounds[j], bounds[j + 1])
                if overlap > 0:
                    self._arows[(j, rec.agent)]._busy_s += overlap

    def add_spans(self, spans: Iterable[AgentSpan]) -> None:
        """The agents' state stretches (an empty batch still says they are known: zeros, not None)."""
        self._spans_known = True
        bounds = self.bounds
        for span in spans:
            if span.end > self.lo and span.start < self.hi:
                self._agent(span.agent)
            if span.state == "logged_out":
                continue
            for j in range(len(self.starts)):
                overlap = _overlap(span.start, span.end, bounds[j], bounds[j + 1])
                if overlap > 0:
                    row = self._arows[(j, span.agent)]
                    row.logged_in_s = (row.logged_in_s or 0.0) + overlap
                    row._staffed_s += overlap if span.state in kpi.STAFFED_STATES else 0.0

    def report(self) -> Report:
        """The rows with their ratios, from what was added so far (the fold may go on after)."""
        qrows = [dataclasses.replace(r) for r in self._qrows.values()]
        arows = [dataclasses.replace(r) for r in self._arows.values()]
        for qrow in qrows:
            _finish_queue(qrow)
        for row in arows:
            row.aht_s = kpi.aht(row.handle_s, row._handled)
            if self._spans_known:
                row.logged_in_s = row.logged_in_s or 0.0
                row.occupancy = kpi.occupancy(row._busy_s, row._staffed_s)
        return Report(starts=self.starts, end=self.hi,
                      queues=sorted(qrows, key=lambda r: (r.interval_start, r.queue)),
                      agents=sorted(arows, key=lambda r: (r.interval_start, r.agent)))


def _next_start(last: float, interval: Interval, tz: dt.tzinfo) -> float:
    if interval == "day":
        return _local_midnight(dt.datetime.fromtimestamp(last, tz).date() + dt.timedelta(days=1), tz)
    return last + int(interval) * 60


def _index(bounds: list[float], t: float) -> int | None:
    if not bounds or t < bounds[0] or t >= bounds[-1]:
        return None
    lo, hi = 0, len(bounds) - 1
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if bounds[mid] <= t:
            lo = mid
        else:
            hi = mid
    return lo


def _overlap(a0: float, a1: float, b0: float, b1: float) -> float:
    return max(0.0, min(a1, b1) - max(a0, b0))


def _handle(rec: Interaction) -> float | None:
    """talk + hold + wrap-up of an answered call, None while the talk has not ended."""
    if rec.talk_s is None:
        return None
    return kpi.handle_time(rec.talk_s, rec.hold_s or 0.0, rec.wrapup_s or 0.0)


def visit_result(rec: Interaction, visit: QueueVisit) -> tuple[str, float | None]:
    """(``answered`` | ``abandoned`` | ``other``, wait in seconds or None when still open)."""
    if visit.reason == "answered":
        return "answered", visit.wait_s
    if visit.reason in ("abandoned", "abandoned_queue"):
        return "abandoned", visit.wait_s
    if (visit.exited_at is None and rec.outcome == Outcome.ABANDONED_QUEUE and rec.queues
            and rec.queues[-1] is visit and rec.ended_at is not None):
        return "abandoned", max(0.0, rec.ended_at - visit.entered_at)
    return "other", visit.wait_s


def _add_visit(row: QueueRow, rec: Interaction, visit: QueueVisit) -> None:
    row.offered += 1
    result, wait = visit_result(rec, visit)
    if wait is not None:
        row.longest_wait_s = max(row.longest_wait_s, wait)
    if result == "answered":
        row.answered += 1
        row._wait_sum += wait or 0.0
        if wait is not None and kpi.within_service_level(wait, row.service_level_s):
            row.answered_in_sl += 1
        if rec.queue == visit.queue:
            handle = _handle(rec)
            if handle is not None:
                row._handle_sum += handle
                row._handled += 1
    elif result == "abandoned":
        row.abandoned += 1
        if wait is not None and kpi.is_short_abandon(wait, row.short_abandon_s):
            row.short_abandoned += 1
        if wait is not None and kpi.abandoned_after_service_level(wait, row.service_level_s, row.short_abandon_s):
            row._abandoned_after_sl += 1
    else:
        row.other += 1


def _finish_queue(row: QueueRow) -> None:
    row.service_level = kpi.service_level(row.answered_in_sl, row.answered)
    row.service_level_abandons = kpi.service_level_abandon_adjusted(row.answered_in_sl, row.answered, row._abandoned_after_sl)
    row.asa_s = kpi.asa(row._wait_sum, row.answered)
    row.aht_s = kpi.aht(row._handle_sum, row._handled)
    row.abandon_rate = kpi.abandon_rate(row.abandoned, row.short_abandoned, row.offered)


def zone(name: str | None) -> dt.tzinfo:
    """``None``/``"UTC"`` -> UTC, else an IANA zone (ValueError if unknown)."""
    if not name or name.upper() == "UTC":
        return UTC
    try:
        return ZoneInfo(name)
    except Exception:  # noqa: BLE001 - ZoneInfoNotFoundError, bad keys
        raise ValueError(f"unknown time zone {name!r}") from None
