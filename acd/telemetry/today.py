"""Prometheus' "today" queue gauges and agent occupancy from the store, so that they survive a
restart: every ``every_s`` the interaction records and agent state stretches since local
midnight (``engine.time_zone``) are read and computed by ``acd.reports.compute`` (the formulas of
``acd.kpi``, as the wallboard and ``acd report --interval day`` do), and the scrape-time
collector of ``acd.telemetry.metrics`` exposes the result. Until the first read has answered
(or when the store is not configured) the collector falls back to the counters in memory.
IVR containment stays in memory: the records do not say which flow contained a session."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy.exc import SQLAlchemyError

from acd import kpi
from acd.periodic import PeriodicJob
from acd.reports import compute
from acd.reports.cli import LOOKBACK_S
from acd.reports.today import day_start
from acd.store.sql import SqlStore, interactions_from_raw

if TYPE_CHECKING:
    from acd.clock import Clock
    from acd.store.records import Interaction
    from acd.telemetry.metrics import Telemetry

EVERY_S = 15.0
TIMEOUT_S = 30.0


@dataclass(frozen=True)
class QueueToday:
    """One queue's figures today, read as ``acd.telemetry.metrics.QueueDay`` (the counters in
    memory) is read by the collector."""

    offered: int
    answered: int
    answered_within_sl: int
    abandoned: int
    abandoned_short: int
    completed: int
    sl_answered: float | None
    sl_abandon_adjusted: float | None
    asa_s: float | None
    aht_s: float | None
    abandon_rate: float | None

    def service_level(self, definition: str = "answered") -> float | None:
        return {"answered": self.sl_answered, "abandon_adjusted": self.sl_abandon_adjusted}[definition]


@dataclass(frozen=True)
class StoreDay:
    day_start: float
    queues: dict[str, QueueToday] = field(default_factory=dict)
    occupancy: float | None = None


def queue_today(row: compute.QueueRow) -> QueueToday:
    return QueueToday(offered=row.offered, answered=row.answered, answered_within_sl=row.answered_in_sl,
                      abandoned=row.abandoned, abandoned_short=row.short_abandoned, completed=row._handled,
                      sl_answered=row.service_level, sl_abandon_adjusted=row.service_level_abandons,
                      asa_s=row.asa_s, aht_s=row.aht_s, abandon_rate=row.abandon_rate)


def store_day(records: Iterable[Interaction], spans: Sequence[compute.AgentSpan] | None, start: float, now: float, thresholds: Mapping[str, compute.QueueThresholds],
              tz: dt.tzinfo) -> StoreDay:
    """Pure: today's figures from the records and agent stretches read from the store."""
    end = max(now, start + 1.0)
    report = compute.compute(records, start, end, "day", thresholds=thresholds, spans=spans, tz=tz)
    queues = {r.queue: queue_today(r) for r in report.queues if r.interval_start == start}
    agents = [a for a in report.agents if a.interval_start == start]
    busy, staffed = sum(a._busy_s for a in agents), sum(a._staffed_s for a in agents)
    return StoreDay(start, queues, kpi.occupancy(busy, staffed))


class TodayGaugeJob:
    """Every ``every_s`` (a tracked task; a database away is tried again next time): today's
    figures from ``store`` onto ``telemetry.store_day``."""

    def __init__(self, store: SqlStore, telemetry: Telemetry, clock: Clock, thresholds: Callable[[], Mapping[str, compute.QueueThresholds]],
                 time_zone: Callable[[], str], every_s: float = EVERY_S) -> None:
        self.store, self.telemetry, self.clock = store, telemetry, clock
        self.thresholds, self.time_zone, self.every_s = thresholds, time_zone, every_s
        self._job = PeriodicJob("acd-today-gauges", self.run_once, lambda: self.every_s, timeout_s=TIMEOUT_S,
                                outside_errors=(SQLAlchemyError, OSError, TimeoutError), failed_event="telemetry.today_failed",
                                run_first=True)
        self.start, self.stop = self._job.start, self._job.stop

    async def run_once(self) -> StoreDay:
        now = self.clock.now()
        tz = compute.zone(self.time_zone())
        start = day_start(now, tz)
        raw = await self.store.interaction_records_between(start - LOOKBACK_S, now + 1.0)
        spans = await self.store.agent_spans_between(start, now + 1.0)
        thresholds = dict(self.thresholds())

        def figures() -> StoreDay:  # decoding and counting a busy day is CPU-bound: off the event loop
            return store_day(interactions_from_raw(raw), spans, start, now, thresholds, tz)

        day = await asyncio.to_thread(figures)
        self.telemetry.store_day = day
        return day
