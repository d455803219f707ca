"""Prometheus' "today" queue gauges and agent occupancy from the store, so that they survive a
restart: every ``every_s`` today's report (the interaction records and agent state stretches
since local midnight in ``engine.time_zone``, computed by ``acd.reports.compute`` with the
formulas of ``acd.kpi``, as ``acd report --interval day`` does) is taken from the
:class:`acd.reports.daycache.TodayReport` the wallboard shares, and the scrape-time
collector of ``acd.telemetry.metrics`` exposes the result. Until the first read has answered
(or when the store is not configured) the collector falls back to the counters in memory.
IVR containment stays in memory: the records do not say which flow contained a session."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy.exc import SQLAlchemyError

from acd import kpi
from acd.periodic import PeriodicJob
from acd.reports import compute
from acd.reports.daycache import DayFigures, TodayReport

if TYPE_CHECKING:
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


def store_day(figures: DayFigures) -> StoreDay:
    """Pure: the gauges' view of today's report (queue figures and the agents' occupancy)."""
    busy, staffed = sum(a._busy_s for a in figures.agents), sum(a._staffed_s for a in figures.agents)
    return StoreDay(figures.day_start, {name: queue_today(r) for name, r in figures.queues.items()}, kpi.occupancy(busy, staffed))


class TodayGaugeJob:
    """Every ``every_s`` (a tracked task; a database away is tried again next time): today's
    figures from the shared :class:`acd.reports.daycache.TodayReport` (the wallboard's too, so a
    refresh a screen just caused is not computed again) onto ``telemetry.store_day``."""

    def __init__(self, report: TodayReport, telemetry: Telemetry, every_s: float = EVERY_S) -> None:
        self.report, self.telemetry, self.every_s = report, telemetry, every_s
        self._job = PeriodicJob("acd-today-gauges", self.run_once, lambda: self.every_s, timeout_s=TIMEOUT_S,
                                outside_errors=(SQLAlchemyError, OSError, TimeoutError), failed_event="telemetry.today_failed",
                                run_first=True)
        self.start, self.stop = self._job.start, self._job.stop

    async def run_once(self) -> StoreDay:
        day = store_day(await self.report.figures())
        self.telemetry.store_day = day
        return day
