"""``GET /api/v1/wallboard``: the wallboard's data, for supervisors and kiosk tokens (role
``kiosk``: a wall screen that reads this and nothing else).

Day figures come from the store (the interaction records since local midnight in
``engine.time_zone``), so they survive a restart and agree with ``acd report --interval day``.
They are computed at most once per ``CACHE_S`` for all screens; when the store does not answer
within ``STORE_TIMEOUT_S`` the figures are null and ``day_figures`` says ``unavailable``."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from sqlalchemy.exc import SQLAlchemyError

from acd.http.times import json_reply
from acd.logs import get_logger
from acd.reports import compute
from acd.reports.cli import LOOKBACK_S
from acd.reports.today import LiveAgent, QueueTargets, day_start, wallboard_view
from acd.store.sql import interactions_from_raw

log = get_logger(__name__)

CACHE_S = 5.0
STORE_TIMEOUT_S = 5.0


@dataclass
class _DayCache:
    at: float = float("-inf")
    start: float = 0.0
    rows: dict[str, compute.QueueRow] | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


_CACHE = web.AppKey("wallboard_cache", _DayCache)


def targets(engine) -> dict[str, QueueTargets]:
    return {name: QueueTargets(q.service_level_s, q.service_level_goal, q.sl_green, q.sl_amber)
            for name, q in engine.core.queues.items()}


def live_agents(engine, now: float) -> list[LiveAgent]:
    core = engine.core
    return [LiveAgent(a.id, a.config.name, a.state.value, a.reason, round(now - a.state_since, 1), a.calls_handled, a.call_id,
                      tuple(q for q in core.queues if core.can_serve(a, q)), core.after_call.get(a.id))
            for a in core.agents.values()]


async def today_rows(engine, start: float, now: float) -> dict[str, compute.QueueRow] | None:
    """Today's queue rows from the store, or None when it is not configured or does not answer."""
    store = engine.customers
    if store is None:
        return None
    thresholds = {name: compute.QueueThresholds(q.service_level_s, q.short_abandon_s) for name, q in engine.core.queues.items()}
    try:  # the raw rows only: decoding 20,000 records on the event loop would hold it for seconds
        raw = await asyncio.wait_for(store.interaction_records_between(start - LOOKBACK_S, now), STORE_TIMEOUT_S)
    except (TimeoutError, SQLAlchemyError, OSError) as exc:
        log.warn_event("wallboard.store_unavailable", error=type(exc).__name__)
        return None
    end, tz = max(now, start + 1.0), engine_zone(engine)

    def day_rows() -> dict[str, compute.QueueRow]:  # pure but CPU-bound (bench/wallboard.py): off the event loop
        report = compute.compute(interactions_from_raw(raw), start, end, "day", thresholds=thresholds, tz=tz)
        return {r.queue: r for r in report.queues if r.interval_start == start}

    return await asyncio.to_thread(day_rows)


def engine_zone(engine):
    return compute.zone(engine.settings.engine.time_zone)


async def _cached_rows(app: web.Application, engine, start: float, now: float) -> dict[str, compute.QueueRow] | None:
    cache = app[_CACHE]
    async with cache.lock:  # one store query for a burst of screens
        if cache.start != start or now - cache.at >= CACHE_S or now < cache.at:
            cache.rows, cache.start, cache.at = await today_rows(engine, start, now), start, now
        return cache.rows


async def wallboard(request: web.Request) -> web.Response:
    from acd.http.api import ENGINE

    engine: Any = request.app[ENGINE]  # acd.app.Engine (typed object in the app key to avoid an import cycle)
    now = engine.clock.now()
    start = day_start(now, engine_zone(engine))
    rows = await _cached_rows(request.app, engine, start, now)
    view: dict[str, Any] = wallboard_view(now, engine.settings.engine.time_zone, start, targets(engine), rows,
                                          engine.core.snapshot(now)["queues"], live_agents(engine, now))
    return json_reply(request, view)


def add_wallboard_cache(app: web.Application) -> None:
    app[_CACHE] = _DayCache()
