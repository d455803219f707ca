"""The wallboard's data (``GET /api/v1/wallboard``), for supervisors and kiosk tokens.

Day figures come from the store (the interaction records since local midnight in
``engine.time_zone``), so they survive a restart and agree with ``acd report --interval day``.
They are the :class:`acd.reports.daycache.TodayReport` Prometheus' "today" gauges read too,
computed at most once per ``acd.reports.daycache.MAX_AGE_S`` for all screens and the gauges;
when the store does not answer within ``STORE_TIMEOUT_S`` the figures are null and
``day_figures`` says ``unavailable``.
``overdue_tasks`` is the open tasks past due as a kiosk may show them (count, and type, queue,
due, owner, never a title or customer: ``acd.store.tasks.overdue_for_kiosk``); null when the
store does not answer."""

from __future__ import annotations

from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from acd.clock import Clock
from acd.logs import get_logger
from acd.reports import compute
from acd.reports.daycache import DayFigures, TodayReport
from acd.reports.today import LiveAgent, QueueTargets, day_start, wallboard_view
from acd.routing.core import AcdCore
from acd.service.acd import AcdService
from acd.store import tasks as store_tasks
from acd.store.sql import SqlStore
from acd.deadline import within

log = get_logger(__name__)

STORE_TIMEOUT_S = 5.0
OVERDUE_SHOWN = 20  # overdue tasks listed (the count is of all)


def targets(core: AcdCore) -> dict[str, QueueTargets]:
    return {name: QueueTargets(q.service_level_s, q.service_level_goal, q.sl_green, q.sl_amber)
            for name, q in core.queues.items()}


def live_agents(core: AcdCore, now: float) -> list[LiveAgent]:
    return [LiveAgent(a.id, a.config.name, a.state.value, a.reason, round(now - a.state_since, 1), a.calls_handled, a.call_id,
                      tuple(q for q in core.queues if core.can_serve(a, q)), core.after_call.get(a.id))
            for a in core.agents.values()]


class Wallboard:
    def __init__(self, acd: AcdService, store: SqlStore, clock: Clock, today: TodayReport) -> None:
        self._acd = acd  # its core is read at each call: a reload may replace it
        self._store = store
        self._clock = clock
        self._today = today

    @property
    def time_zone(self) -> str:
        """``engine.time_zone``: where "today" starts, and the offset of the API's times."""
        return self._today.time_zone

    async def view(self) -> dict[str, Any]:
        figures = await self._today_figures()
        core, now = self._acd.core, self._clock.now()
        start = figures.day_start if figures is not None else day_start(now, compute.zone(self.time_zone))
        rows = dict(figures.queues) if figures is not None else None
        view = wallboard_view(now, self.time_zone, start, targets(core), rows, core.snapshot(now)["queues"], live_agents(core, now))
        view["overdue_tasks"] = await self._overdue_tasks()
        return view

    async def _overdue_tasks(self) -> dict[str, Any] | None:
        try:
            return await within(store_tasks.overdue_for_kiosk(self._store, OVERDUE_SHOWN), STORE_TIMEOUT_S)
        except (TimeoutError, SQLAlchemyError, OSError) as exc:
            log.warn_event("wallboard.store_unavailable", error=type(exc).__name__, part="overdue_tasks")
            return None

    async def _today_figures(self) -> DayFigures | None:
        """Today's figures (shared with the gauges), or None when the store does not answer."""
        try:
            return await within(self._today.figures(), STORE_TIMEOUT_S)
        except (TimeoutError, SQLAlchemyError, OSError) as exc:
            log.warn_event("wallboard.store_unavailable", error=type(exc).__name__)
            return None
