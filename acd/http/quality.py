"""``GET /api/v1/reports/quality``: CSAT and FCR per day and queue (or agent), the formulas of
``acd.reports.quality``."""

from __future__ import annotations

from aiohttp import web

from acd.http.api import SUPERVISOR, Route, _float, _zone, register_routes
from acd.http.errors import Invalid
from acd.http.times import json_reply
from acd.http.keys import REPORTS


async def quality(request: web.Request) -> web.Response:
    q = request.query
    by = q.get("by", "queue")
    if by not in ("queue", "agent"):
        raise Invalid("by", "queue or agent")
    tz = _zone(request)
    try:
        fcr_days = int(q["fcr_days"]) if q.get("fcr_days") else None
    except ValueError:
        raise Invalid("fcr_days", "a whole number of days") from None
    report = await request.app[REPORTS].quality(by, tz, fcr_days, _float(request, "from"), _float(request, "to"))
    return json_reply(request, report, tz=tz)  # its times in the zone asked for


ROUTES: tuple[Route, ...] = (
    Route("GET", "/api/v1/reports/quality", quality, SUPERVISOR,
          "CSAT (post-call survey: satisfied / surveys) and FCR (no repeat contact on the same matter within fcr_days) "
          "per day and queue or agent", query=("by", "from", "to", "tz", "fcr_days"), tag="reports"),
)
register_routes(ROUTES)
