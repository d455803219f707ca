"""Operations endpoints and the HTTP access log.

``/healthz`` (in ``acd.service.web``) is liveness: the process answers. ``/readyz`` is readiness,
for a load balancer or an orchestrator: 200 only while the AMI link to Asterisk is up, the
database takes a write, and the call-record spool's backlog is under ``http.ready_spool_max_bytes``;
otherwise 503, with each check's result in the body either way (no secret, no address).

The access log (``http.access_log: true``) writes one ``http.access`` event per request: method,
path, status, milliseconds and the authenticated user's id. Never the query string: the event
stream's URL form carries ``access_token`` there."""

from __future__ import annotations

import time

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from acd.http.keys import READINESS
from acd.logs import get_logger
from acd.usecases.ops import Readiness

log = get_logger(__name__)


async def _readyz(request: web.Request) -> web.Response:
    ready, checks = await request.app[READINESS].check()
    return web.json_response({"status": "ready" if ready else "not_ready", "checks": checks}, status=200 if ready else 503)


def _access_log_middleware() -> Middleware:
    from acd.http.api import USER

    @web.middleware
    async def access_log(request: web.Request, handler: Handler) -> web.StreamResponse:
        started = time.perf_counter()
        status = 500
        try:
            response = await handler(request)
            status = response.status
            return response
        except web.HTTPException as exc:
            status = exc.status
            raise
        finally:
            user = request.get(USER)
            log.event("http.access", method=request.method, path=request.path, status=status,
                      ms=round((time.perf_counter() - started) * 1000, 1), user=user.id if user is not None else None)

    return access_log


def add_ops(app: web.Application, readiness: Readiness, *, access_log: bool) -> None:
    """``/readyz``, and the access log when ``http.access_log`` is on (outermost middleware, so
    it sees the final status of every request, errors included)."""
    app[READINESS] = readiness
    app.router.add_get("/readyz", _readyz)
    if access_log:
        app.middlewares.insert(0, _access_log_middleware())
