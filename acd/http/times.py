"""How ``/api/v1`` writes times and durations: every time as an ISO 8601 string with the offset
of ``engine.time_zone`` (``2026-11-23T09:00:00+00:00``), every duration as a number of seconds,
rounded. The engine keeps epoch seconds inside; the conversion happens here, once, when a
response (or a pushed event) is written, so no handler formats a time of its own.

A field is a time by its name: ``TIME_KEYS`` or a name ending in ``_at``; a duration ends in
``_s``. ``openapi_responses.json`` marks exactly these fields (``format: date-time``), and
``tests/http/test_openapi.py`` checks that no epoch number is left in any response."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any

from aiohttp import web

TIME_KEYS = frozenset({"at", "t", "now", "from", "to", "day_start", "interval_start"})
DURATION_DECIMALS = 1


def is_time_key(key: str) -> bool:
    return key in TIME_KEYS or key.endswith("_at")


def iso_time(t: float, tz: dt.tzinfo) -> str:
    """Epoch seconds as ISO 8601 in ``tz`` with its offset; milliseconds only when there are any."""
    moment = dt.datetime.fromtimestamp(t, tz)
    return moment.isoformat(timespec="seconds" if moment.microsecond == 0 else "milliseconds")


def api_shape(value: Any, tz: dt.tzinfo) -> Any:
    """``value`` with its time fields as ISO 8601 strings and its durations rounded (a copy)."""
    if isinstance(value, dict):
        return {k: _field(k, v, tz) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [api_shape(v, tz) for v in value]
    return value


def _field(key: Any, value: Any, tz: dt.tzinfo) -> Any:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and isinstance(key, str):
        if is_time_key(key):
            return iso_time(value, tz)
        if key.endswith("_s") and isinstance(value, float):
            return round(value, DURATION_DECIMALS)
        return value
    return api_shape(value, tz)


def api_dumps(tz: dt.tzinfo) -> Callable[[Any], str]:
    """A ``json.dumps`` for the API's bodies in ``tz`` (anything else JSON lacks: its ``str``)."""
    return lambda obj: json.dumps(api_shape(obj, tz), default=str)


def engine_tz(app: web.Application) -> dt.tzinfo:
    """``engine.time_zone`` (the wallboard's "today" is in it too)."""
    from acd.http.keys import WALLBOARD_VIEW
    from acd.reports.compute import zone

    return zone(app[WALLBOARD_VIEW].time_zone)


def json_reply(request: web.Request, body: Any, *, status: int = 200, tz: dt.tzinfo | None = None) -> web.Response:
    """The one way an API handler answers JSON: times in the engine's zone (a report: in the zone
    it was asked for), durations rounded."""
    return web.json_response(body, status=status, dumps=api_dumps(tz or engine_tz(request.app)))
