"""CSAT and FCR per queue, agent and day: one formula each, used by the reports (``acd report
quality``), the API (``GET /api/v1/reports/quality``) and Prometheus. Pure: no I/O, no clock.

The ratios are :mod:`acd.kpi`'s (``csat``, ``csat_average``, ``fcr``, ``is_satisfied``), like
every other KPI; which calls count is decided here.

CSAT (customer satisfaction), from the post-call survey (``acd.service.survey``)
    - ``surveys``: answered calls in the day whose survey has a ``csat`` answer (1 to 5).
    - ``satisfied``: those whose ``csat`` answer is at least ``satisfied_min`` (4: "top two boxes").
    - ``csat`` = ``satisfied / surveys`` (null when no survey). ``csat_avg`` = mean ``csat`` answer.
    A call counts in the day it was answered, for the queue it was answered from and its agent.

FCR (first-contact resolution)
    - eligible: answered calls of a known customer in the day whose window of ``fcr_days`` days
      has closed by ``as_of`` (so the result of a day does not change later).
    - resolved: eligible calls with no further contact *on the same matter* by the same customer
      within ``fcr_days`` after the call started: no later call answered or not, in the same
      queue, and no later other contact (e-mail, chat...) whose subject is the call's queue or its
      disposition.
    - ``fcr`` = ``resolved / eligible`` (null when none eligible); ``fcr_pending``: answered calls
      of known customers whose window is still open.
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from collections.abc import Iterable, Sequence
from typing import Any

from acd import kpi
from acd.reports.compute import UTC, interval_starts
from acd.store.records import Interaction

DAY_S = 86400.0
CSAT_QUESTION = "csat"


@dataclass(frozen=True)
class OtherContact:
    """A contact other than a call, as FCR needs it."""

    customer_id: str
    at: float
    subject: str | None


@dataclass
class QualityRow:
    day_start: float
    key: str  # the queue or the agent
    surveys: int = 0
    satisfied: int = 0
    csat: float | None = None
    csat_avg: float | None = None
    fcr_eligible: int = 0
    fcr_resolved: int = 0
    fcr: float | None = None
    fcr_pending: int = 0
    _score_sum: int = 0

    def finish(self) -> QualityRow:
        csat, avg, fcr = (kpi.csat(self.satisfied, self.surveys), kpi.csat_average(self._score_sum, self.surveys),
                          kpi.fcr(self.fcr_resolved, self.fcr_eligible))
        self.csat = None if csat is None else round(csat, 4)
        self.csat_avg = None if avg is None else round(avg, 3)
        self.fcr = None if fcr is None else round(fcr, 4)
        return self


def csat_score(call: Interaction) -> int | None:
    """The call's ``csat`` answer if it is 1 to 5."""
    answers = (call.survey or {}).get("answers") or {}
    score = answers.get(CSAT_QUESTION)
    return score if isinstance(score, int) and not isinstance(score, bool) and 1 <= score <= 5 else None


is_satisfied = kpi.is_satisfied  # (kept importable from here)


def repeat_contact(call: Interaction, later_calls: Sequence[Interaction], others: Sequence[OtherContact], fcr_days: float) -> bool:
    """Did the customer come back on the same matter within ``fcr_days`` after ``call``?"""
    until = call.started_at + fcr_days * DAY_S
    for other in later_calls:
        if call.started_at < other.started_at <= until and other.call_id != call.call_id and other.queue == call.queue:
            return True
    matter = {m.strip().lower() for m in (call.queue, call.disposition) if m}
    return any(call.started_at < c.at <= until and (c.subject or "").strip().lower() in matter for c in others)


@dataclass(frozen=True)
class QualityReport:
    queues: list[QualityRow]
    agents: list[QualityRow]


def compute_quality(calls: Iterable[Interaction], others: Iterable[OtherContact], start: float, end: float, *, as_of: float,
                    fcr_days: float = 7, satisfied_min: int = 4, tz: dt.tzinfo = UTC) -> QualityReport:
    """Rows per day and queue and per day and agent over ``[start, end)``. ``calls`` must include
    the ``fcr_days`` after ``end`` (and ``others`` too) for FCR to see the repeat contacts."""
    calls = sorted(calls, key=lambda c: c.started_at)
    by_customer: dict[str, list[Interaction]] = defaultdict(list)
    for c in calls:
        if c.customer_id:
            by_customer[c.customer_id].append(c)
    others_by: dict[str, list[OtherContact]] = defaultdict(list)
    for o in others:
        others_by[o.customer_id].append(o)
    days = interval_starts(start, end, "day", tz)
    rows: dict[tuple[str, float, str], QualityRow] = {}

    def row(kind: str, day: float, key: str) -> QualityRow:
        return rows.setdefault((kind, day, key), QualityRow(day, key))

    for call in calls:
        if call.answered_at is None or not start <= call.answered_at < end or not days:
            continue
        day = days[bisect.bisect_right(days, call.answered_at) - 1]
        targets = [r for r in (row("queue", day, call.queue) if call.queue else None,
                               row("agent", day, call.agent) if call.agent else None) if r is not None]
        score = csat_score(call)
        fcr: bool | str | None = None  # resolved or not, "pending", or None (unknown customer)
        if call.customer_id:
            if call.started_at + fcr_days * DAY_S <= as_of:
                fcr = not repeat_contact(call, by_customer[call.customer_id], others_by.get(call.customer_id, []), fcr_days)
            else:
                fcr = "pending"
        for r in targets:
            if score is not None:
                r.surveys += 1
                r.satisfied += is_satisfied(score, satisfied_min)
                r._score_sum += score
            if fcr == "pending":
                r.fcr_pending += 1
            elif fcr is not None:
                r.fcr_eligible += 1
                r.fcr_resolved += bool(fcr)
    out = {kind: sorted((r.finish() for (k, _, _), r in rows.items() if k == kind), key=lambda r: (r.day_start, r.key))
           for kind in ("queue", "agent")}
    return QualityReport(out["queue"], out["agent"])


COLUMNS = ("day_start", "key", "surveys", "satisfied", "csat", "csat_avg", "fcr_eligible", "fcr_resolved", "fcr", "fcr_pending")


def as_dicts(rows: Sequence[QualityRow], key_name: str) -> list[dict[str, Any]]:
    return [{(key_name if c == "key" else c): getattr(r, c) for c in COLUMNS} for r in rows]
