"""Reading what ``acd.reports.quality`` needs from the store: the calls of the range and the
``fcr_days`` after it, and the other contacts of known customers in the same span; and the
periodic job that keeps the Prometheus FCR gauge current."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.exc import DBAPIError

from acd.periodic import PeriodicJob
from acd.reports.quality import DAY_S, OtherContact, QualityReport, compute_quality
from acd.store.models import ChannelContactRow

if TYPE_CHECKING:
    from acd.clock import Clock
    from acd.store.sql import SqlStore
    from acd.telemetry.quality import QualityMetrics


async def other_contacts_between(store: SqlStore, start: float, end: float) -> list[OtherContact]:
    async with store.session() as s:
        rows = (await s.execute(select(ChannelContactRow.customer_id, ChannelContactRow.at, ChannelContactRow.subject).where(
            ChannelContactRow.at >= start, ChannelContactRow.at < end, ChannelContactRow.customer_id.is_not(None)))).all()
    return [OtherContact(cid, at, subject) for cid, at, subject in rows if cid is not None]


async def quality_report(store: SqlStore, start: float, end: float, *, as_of: float, fcr_days: float, satisfied_min: int,
                         tz: dt.tzinfo) -> QualityReport:
    until = min(end + fcr_days * DAY_S, as_of + 1)
    calls = await store.interactions_between(start, until)
    others = await other_contacts_between(store, start, until)
    return compute_quality(calls, others, start, end, as_of=as_of, fcr_days=fcr_days, satisfied_min=satisfied_min, tz=tz)


class FcrGaugeJob:
    """Every ``every_s``: the FCR of the latest day whose window has closed, per queue, on the
    ``acd_fcr_ratio`` gauge (a tracked task; a database away is tried again next time)."""

    def __init__(self, store: SqlStore, metrics: QualityMetrics, clock: Clock, *, fcr_days: int, satisfied_min: int,
                 every_s: float = 900.0) -> None:
        self.store, self.metrics, self.clock = store, metrics, clock
        self.fcr_days, self.satisfied_min, self.every_s = fcr_days, satisfied_min, every_s
        self._job = PeriodicJob("acd-fcr-gauge", self.run_once, lambda: self.every_s, timeout_s=120,
                                outside_errors=(DBAPIError, OSError, TimeoutError), failed_event="reports.fcr_gauge_failed",
                                run_first=True)
        self.start, self.stop = self._job.start, self._job.stop

    async def run_once(self) -> QualityReport:
        from acd.reports.compute import UTC

        now = self.clock.now()
        day_end = (now - self.fcr_days * DAY_S) // DAY_S * DAY_S  # the last UTC day whose window has closed ends here
        report = await quality_report(self.store, day_end - DAY_S, day_end, as_of=now, fcr_days=self.fcr_days,
                                      satisfied_min=self.satisfied_min, tz=UTC)
        for row in report.queues:
            if row.fcr is not None:
                self.metrics.fcr_ratio.labels(queue=self.metrics.guard("queue", row.key)).set(row.fcr)
        return report
