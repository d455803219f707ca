"""The wallboard's data (``GET /api/v1/wallboard``), for supervisors and kiosk tokens.

Day figures come from the store (the interaction records since local midnight in
``engine.time_zone``), so they survive a restart and agree with ``acd report --interval day``.
They are computed at most once per ``CACHE_S`` for all screens; when the store does not answer
within ``STORE_TIMEOUT_S`` the figures are null and ``day_figures`` says ``unavailable``.
``overdue_tasks`` is the open tasks past due as a kiosk may show them (count, and type, queue,
due, owner, never a title or customer: ``acd.store.tasks.overdue_for_kiosk``); null when the
store does not answer."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from acd.clock import Clock
from acd.logs import get_logger
from acd.reports import compute
from acd.reports.cli import LOOKBACK_S
from acd.reports.today import LiveAgent, QueueTargets, day_start, wallboard_view
from acd.routing.core import AcdCore
from acd.service.acd import AcdService
from acd.store import tasks as store_tasks
from acd.store.sql import SqlStore, interactions_from_raw

log = get_logger(__name__)

CACHE_S = 5.0
STORE_TIMEOUT_S = 5.0
OVERDUE_SHOWN = 20  # overdue tasks listed (the count is of all)


@dataclass
class _DayCache:
    at: float = float("-inf")
    start: float = 0.0
    rows: dict[str, compute.QueueRow] | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


def targets(core: AcdCore) -> dict[str, QueueTargets]:
    return {name: QueueTargets(q.service_level_s, q.service_level_goal, q.sl_green, q.sl_amber)
            for name, q in core.queues.items()}


def live_agents(core: AcdCore, now: float) -> list[LiveAgent]:
    return [LiveAgent(a.id, a.config.name, a.state.value, a.reason, round(now - a.state_since, 1), a.calls_handled, a.call_id,
                      tuple(q for q in core.queues if core.can_serve(a, q)), core.after_call.get(a.id))
            for a in core.agents.values()]


class Wallboard:
    def __init__(self, acd: AcdService, store: SqlStore, clock: Clock, time_zone: str) -> None:
        self._acd = acd  # its core is read at each call: a reload may replace it
        self._store = store
        self._clock = clock
        self._time_zone = time_zone
        self._cache = _DayCache()

    @property
    def time_zone(self) -> str:
        """``engine.time_zone``: where "today" starts, and the offset of the API's times."""
        return self._time_zone

    async def view(self) -> dict[str, Any]:
        core, now = self._acd.core, self._clock.now()
        start = day_start(now, compute.zone(self._time_zone))
        rows = await self._cached_rows(core, start, now)
        view = wallboard_view(now, self._time_zone, start, targets(core), rows, core.snapshot(now)["queues"], live_agents(core, now))
        view["overdue_tasks"] = await self._overdue_tasks()
        return view

    async def _overdue_tasks(self) -> dict[str, Any] | None:
        try:
            return await asyncio.wait_for(store_tasks.overdue_for_kiosk(self._store, OVERDUE_SHOWN), STORE_TIMEOUT_S)
        except (TimeoutError, SQLAlchemyError, OSError) as exc:
            log.warn_event("wallboard.store_unavailable", error=type(exc).__name__, part="overdue_tasks")
            return None

    async def _cached_rows(self, core: AcdCore, start: float, now: float) -> dict[str, compute.QueueRow] | None:
        cache = self._cache
        async with cache.lock:  # one store query for a burst of screens
            if cache.start != start or now - cache.at >= CACHE_S or now < cache.at:
                cache.rows, cache.start, cache.at = await self._today_rows(core, start, now), start, now
            return cache.rows

    async def _today_rows(self, core: AcdCore, start: float, now: float) -> dict[str, compute.QueueRow] | None:
        """Today's queue rows from the store, or None when it does not answer."""
        thresholds = {name: compute.QueueThresholds(q.service_level_s, q.short_abandon_s) for name, q in core.queues.items()}
        try:  # the raw rows only: decoding 20,000 records on the event loop would hold it for seconds
            raw = await asyncio.wait_for(self._store.interaction_records_between(start - LOOKBACK_S, now), STORE_TIMEOUT_S)
        except (TimeoutError, SQLAlchemyError, OSError) as exc:
            log.warn_event("wallboard.store_unavailable", error=type(exc).__name__)
            return None
        end, tz = max(now, start + 1.0), compute.zone(self._time_zone)

        def day_rows() -> dict[str, compute.QueueRow]:  # pure but CPU-bound (bench/wallboard.py): off the event loop
            report = compute.compute(interactions_from_raw(raw), start, end, "day", thresholds=thresholds, tz=tz)
            return {r.queue: r for r in report.queues if r.interval_start == start}

        return await asyncio.to_thread(day_rows)
