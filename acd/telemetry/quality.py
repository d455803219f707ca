"""CSAT and FCR on Prometheus, on the engine's own registry (``Telemetry.registry``):

- ``acd_csat_surveys_total{queue,agent}`` and ``acd_csat_satisfied_total{queue,agent}``: post-call
  surveys with a ``csat`` answer, and those satisfied (``customers.csat_satisfied_min``). CSAT
  over any range is ``increase(satisfied) / increase(surveys)``: the formula of
  ``acd.kpi.csat`` (satisfied / surveys).
- ``acd_fcr_ratio{queue}``: the FCR (``acd.reports.quality``) of the latest day whose
  ``customers.fcr_days`` window has closed, refreshed by ``FcrGaugeJob``."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

from acd.kpi import is_satisfied
from acd.telemetry.metrics import Telemetry


class QualityMetrics:
    def __init__(self, telemetry: Telemetry) -> None:
        r, self.guard = telemetry.registry, telemetry.guard
        self.surveys = Counter("acd_csat_surveys", "Post-call surveys with a csat answer (1-5).", ["queue", "agent"], registry=r)
        self.satisfied = Counter("acd_csat_satisfied", "Post-call surveys whose csat answer counts as satisfied.",
                                 ["queue", "agent"], registry=r)
        self.fcr_ratio = Gauge("acd_fcr_ratio", "First-contact resolution of the latest day whose window has closed.",
                               ["queue"], registry=r)

    def survey_answered(self, queue: str | None, agent: str | None, score: int, satisfied_min: int) -> None:
        labels = (self.guard("queue", queue or "-"), self.guard("agent", agent or "-"))
        self.surveys.labels(*labels).inc()
        satisfied = self.satisfied.labels(*labels)
        if is_satisfied(score, satisfied_min):
            satisfied.inc()
