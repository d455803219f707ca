"""``GET /api/v1/reports/quality``: CSAT and FCR per day and queue (or agent), the formulas of
``acd.reports.quality``."""

from __future__ import annotations

from aiohttp import web

from acd.http.api import SUPERVISOR, Route, _customers, _engine, _float, register_routes
from acd.http.errors import Invalid
from acd.http.times import json_reply
from acd.reports import compute
from acd.reports.quality import as_dicts
from acd.reports.quality_load import quality_report


async def quality(request: web.Request) -> web.Response:
    engine, q = _engine(request), request.query
    by = q.get("by", "queue")
    if by not in ("queue", "agent"):
        raise Invalid("by", "queue or agent")
    try:
        tz = compute.zone(q.get("tz") or "UTC")
    except Exception:  # noqa: BLE001 - zoneinfo raises several kinds
        raise Invalid("tz", "an IANA time zone such as Europe/London") from None
    cfg = engine.settings.customers
    try:
        fcr_days = int(q.get("fcr_days") or cfg.fcr_days)
    except ValueError:
        raise Invalid("fcr_days", "a whole number of days") from None
    if not 1 <= fcr_days <= 90:
        raise Invalid("fcr_days", "between 1 and 90")
    now = engine.clock.now()
    end = _float(request, "to") or now
    start = _float(request, "from") or end - 86400
    if not start < end:
        raise Invalid("from", "must be before to")
    report = await quality_report(_customers(engine), start, end, as_of=now, fcr_days=fcr_days,
                                  satisfied_min=cfg.csat_satisfied_min, tz=tz)
    rows = report.queues if by == "queue" else report.agents
    return json_reply(request, {"by": by, "from": start, "to": end, "fcr_days": fcr_days, "satisfied_min": cfg.csat_satisfied_min,
                              "rows": as_dicts(rows, by)}, tz=tz)


ROUTES: tuple[Route, ...] = (
    Route("GET", "/api/v1/reports/quality", quality, SUPERVISOR,
          "CSAT (post-call survey: satisfied / surveys) and FCR (no repeat contact on the same matter within fcr_days) "
          "per day and queue or agent", query=("by", "from", "to", "tz", "fcr_days"), tag="reports"),
)
register_routes(ROUTES)
