"""Operations endpoints and the HTTP access log.

``/healthz`` (in ``acd.service.web``) is liveness: the process answers. ``/readyz`` is readiness,
for a load balancer or an orchestrator: 200 only while the AMI link to Asterisk is up, the
database takes a write, and the call-record spool's backlog is under ``http.ready_spool_max_bytes``;
otherwise 503, with each check's result in the body either way (no secret, no address).

The access log (``http.access_log: true``) writes one ``http.access`` event per request: method,
path, status, milliseconds and the authenticated user's id. Never the query string: the event
stream's URL form carries ``access_token`` there."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from aiohttp import web
from sqlalchemy.exc import SQLAlchemyError

from acd.logs import get_logger

log = get_logger(__name__)

DB_CHECK_TIMEOUT_S = 2.0
_OPS_ENGINE = web.AppKey("ops_engine", object)


async def _database_writable(engine) -> tuple[bool, str]:
    store = engine.customers
    if store is None:
        return False, "not configured"
    try:
        await asyncio.wait_for(store.check_writable(), DB_CHECK_TIMEOUT_S)
    except (TimeoutError, SQLAlchemyError, OSError) as exc:
        return False, f"not writable ({type(exc).__name__})"
    return True, "writable"


def _spool(engine) -> tuple[bool, dict[str, Any]]:
    bound = engine.settings.http.ready_spool_max_bytes
    records = engine.records
    backlog = records.backlog_bytes() if records is not None else 0
    return backlog <= bound, {"backlog_bytes": backlog, "max_bytes": bound}


async def readiness(engine) -> tuple[bool, dict[str, Any]]:
    """(ready, checks): AMI linked, database writable, spool backlog under its bound."""
    ami_ok = engine.ami is not None and engine.ami.is_connected
    db_ok, db_detail = await _database_writable(engine)
    spool_ok, spool_detail = _spool(engine)
    checks = {"ami": {"ok": ami_ok, "detail": "linked" if ami_ok else "not linked"},
              "database": {"ok": db_ok, "detail": db_detail},
              "spool": {"ok": spool_ok, **spool_detail}}
    return ami_ok and db_ok and spool_ok, checks


async def _readyz(request: web.Request) -> web.Response:
    ready, checks = await readiness(request.app[_OPS_ENGINE])
    return web.json_response({"status": "ready" if ready else "not_ready", "checks": checks}, status=200 if ready else 503)


def _access_log_middleware():
    from acd.http.api import USER

    @web.middleware
    async def access_log(request: web.Request, handler):
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


def add_ops(app: web.Application, engine) -> None:
    """``/readyz``, and the access log when ``http.access_log`` is on (outermost middleware, so
    it sees the final status of every request, errors included)."""
    app[_OPS_ENGINE] = engine
    app.router.add_get("/readyz", _readyz)
    if engine.settings.http.access_log:
        app.middlewares.insert(0, _access_log_middleware())
