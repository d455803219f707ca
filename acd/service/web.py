"""The engine's web application: health, Prometheus metrics and the pages; ``acd.http.api``
adds the API beside them (``acd.app`` wires both)."""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web

from acd.http.pages import add_pages
from acd.http.security import add_security_headers


METRICS: web.AppKey[Callable[[], bytes]] = web.AppKey("metrics")


async def _health(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def _metrics(request: web.Request) -> web.Response:
    body = request.app[METRICS]()
    return web.Response(body=body, headers={"Content-Type": "text/plain; version=0.0.4; charset=utf-8"})


def create_web_app(metrics: Callable[[], bytes]) -> web.Application:
    app = web.Application()
    app[METRICS] = metrics
    app.router.add_get("/healthz", _health)
    app.router.add_get("/metrics", _metrics)
    add_pages(app)
    add_security_headers(app)
    return app
