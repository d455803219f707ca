"""Today's report from the store, computed once for everyone who shows it.

The wallboard (``acd.usecases.wallboard``, every screen's refresh) and Prometheus' "today" gauges
(``acd.telemetry.today.TodayGaugeJob``) show the same day: the interaction records and agent
stretches since local midnight in ``engine.time_zone``, through ``acd.reports.compute`` (the
formulas of ``acd.kpi``). Reading and decoding a busy day costs hundreds of milliseconds
(``bench/wallboard.py``), so :class:`TodayReport` computes it at most once per ``max_age_s`` and
hands the same figures to both; a burst of screens and the gauge job's run share one store query
(single flight). A store that fails or does not answer raises to the caller, which decides what
its screen shows; nothing is cached from a failed read.

The records and the agents' state changes are read a chunk at a time, each from one cursor, and
folded into the report as they come (``compute.ReportFold``; records decoded in a worker thread):
the whole day is never in memory at once.
Holding it was a read of every record of the day every 15 s whose peak grew with the day, and
the process kept that peak: 200 calls at a time for an hour (42,000 calls) took the RSS from
140 MiB to 1.2 GB, against +1 % with the gauge job off (``bench/soak.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from acd.clock import Clock
from acd.reports import compute
from acd.reports.cli import LOOKBACK_S
from acd.reports.today import day_start
from acd.store.sql import SqlStore, interactions_from_raw

MAX_AGE_S = 5.0
CHUNK = 500  # records read, decoded and folded at a time


@dataclass(frozen=True)
class DayFigures:
    """Today's report: the day's queue rows and agent rows (each one interval, the day)."""

    day_start: float
    at: float  # the engine's time when the store was read
    queues: Mapping[str, compute.QueueRow]
    agents: tuple[compute.AgentRow, ...]


def day_fold(start: float, now: float, thresholds: Mapping[str, compute.QueueThresholds], tz: dt.tzinfo) -> compute.ReportFold:
    return compute.ReportFold(start, max(now, start + 1.0), "day", thresholds=thresholds, tz=tz)


def fold_raw(fold: compute.ReportFold, raw: list[tuple[object, str | None]]) -> None:
    """Decode a chunk of stored records and add them (CPU-bound: run in a worker thread)."""
    for rec in interactions_from_raw(raw):
        fold.add(rec)


def figures_of(fold: compute.ReportFold, start: float, now: float) -> DayFigures:
    """Today's rows from what was folded (CPU-bound: run in a worker thread)."""
    report = fold.report()
    return DayFigures(start, now, {r.queue: r for r in report.queues if r.interval_start == start},
                      tuple(a for a in report.agents if a.interval_start == start))


class TodayReport:
    """Today's figures, at most ``max_age_s`` old, read once for all who ask at the same time.
    ``thresholds`` and ``time_zone`` are read at each computation, so a config reload applies."""

    def __init__(self, store: SqlStore, clock: Clock, thresholds: Callable[[], Mapping[str, compute.QueueThresholds]],
                 time_zone: Callable[[], str], max_age_s: float = MAX_AGE_S) -> None:
        self._store, self._clock = store, clock
        self._thresholds, self._time_zone, self.max_age_s = thresholds, time_zone, max_age_s
        self._last: DayFigures | None = None
        self._lock = asyncio.Lock()
        self.computed = 0  # how many times the store was read and the day computed (tests)

    @property
    def time_zone(self) -> str:
        return self._time_zone()

    async def figures(self) -> DayFigures:
        """The cached figures when they are of today and fresh, else read and computed now (one
        caller reads; the others wait for its result). Store errors and timeouts propagate."""
        async with self._lock:
            now, tz = self._clock.now(), compute.zone(self._time_zone())
            start = day_start(now, tz)
            last = self._last
            if last is not None and last.day_start == start and last.at <= now < last.at + self.max_age_s:
                return last
            self._last = await self._compute(start, now, tz)
            self.computed += 1
            return self._last

    async def _compute(self, start: float, now: float, tz: dt.tzinfo) -> DayFigures:
        fold = day_fold(start, now, dict(self._thresholds()), tz)
        # a chunk of raw rows at a time, decoded and folded off the event loop (20,000 records
        # decoded on it would hold it for seconds), then dropped
        # (aclosing: a failed or cancelled fold closes its cursor and connection at once, not at GC)
        async with contextlib.aclosing(self._store.interaction_record_chunks(start - LOOKBACK_S, now + 1.0, CHUNK)) as chunks:
            async for raw in chunks:
                await asyncio.to_thread(fold_raw, fold, raw)
        async with contextlib.aclosing(self._store.agent_span_chunks(start, now + 1.0)) as span_chunks:
            async for spans in span_chunks:  # none at all: occupancy unknown
                fold.add_spans(spans)
        return await asyncio.to_thread(figures_of, fold, start, now)
