"""Reports from the interaction records: the interval report per queue, agent or channel (and
Asterisk's queue_log), and CSAT / FCR (``acd report`` computes the same)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from acd.clock import Clock
from acd.reports import compute, queue_log
from acd.reports.channels import channel_counts
from acd.reports.cli import LOOKBACK_S
from acd.reports.export import columns
from acd.reports.period import default_period
from acd.reports.quality import as_dicts
from acd.reports.quality_load import quality_report
from acd.service.acd import AcdService
from acd.settings import CustomersSection
from acd.store.contacts import contacts_between
from acd.store.sql import SqlStore
from acd.usecases.errors import BadInput

MAX_PERIOD_S = 93 * 86400


def _checked(start: float, end: float) -> None:
    if not start < end:
        raise BadInput("from", "must be before to")


class Reports:
    def __init__(self, store: SqlStore, acd: AcdService, clock: Clock, customers: CustomersSection) -> None:
        self._store = store
        self._acd = acd  # its core's queues and agents, read at each report
        self._clock = clock
        self._customers = customers

    async def interval(self, by: str, interval: compute.Interval, tz: dt.tzinfo, start: float | None,
                       end: float | None) -> dict[str, Any] | str:
        """``by`` queue, agent or channel: the body; ``queue_log``: Asterisk's queue_log text.
        The period defaults as ``acd report``'s: today in ``tz``."""
        start, end = default_period(self._clock.now(), tz, start, end)
        _checked(start, end)
        if end - start > MAX_PERIOD_S:
            raise BadInput("to", "at most 93 days per request")
        store = self._store
        if by == "channel":  # calls and other contacts per channel and direction (acd/reports/channels.py)
            counted = channel_counts(await store.interactions_between(start, end), await contacts_between(store, start, end), start, end)
            return {"by": by, "from": start, "to": end, "rows": [
                {"channel": r.channel, "inbound": r.inbound, "outbound": r.outbound, "total": r.total} for r in counted]}
        records = await store.interactions_between(start - LOOKBACK_S, end)
        if by == "queue_log":
            return queue_log.render(records, start, end)
        core = self._acd.core
        spans = await store.agent_spans_between(start, end) if by == "agent" else None
        thresholds = {name: compute.QueueThresholds(qc.service_level_s, qc.short_abandon_s) for name, qc in core.queues.items()}
        report = compute.compute(records, start, end, interval, thresholds=thresholds, spans=spans, tz=tz,
                                 agents=list(core.agents) if by == "agent" else ())
        rows: list[Any] = list(report.queues if by == "queue" else report.agents)
        cols = columns(by)
        return {"interval": str(interval), "by": by, "from": start, "to": end, "rows": [{c: getattr(r, c) for c in cols} for r in rows]}

    async def quality(self, by: str, tz: dt.tzinfo, fcr_days: int | None, start: float | None, end: float | None) -> dict[str, Any]:
        """CSAT and FCR per day and queue or agent; by default the last 24 hours."""
        cfg = self._customers
        days = cfg.fcr_days if fcr_days is None else fcr_days
        if not 1 <= days <= 90:
            raise BadInput("fcr_days", "between 1 and 90")
        now = self._clock.now()
        end = end or now
        start = start or end - 86400
        _checked(start, end)
        report = await quality_report(self._store, start, end, as_of=now, fcr_days=days, satisfied_min=cfg.csat_satisfied_min, tz=tz)
        rows = report.queues if by == "queue" else report.agents
        return {"by": by, "from": start, "to": end, "fcr_days": days, "satisfied_min": cfg.csat_satisfied_min, "rows": as_dicts(rows, by)}
