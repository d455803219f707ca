"""The pages the engine serves, with no front-end build step: the agent desktop (``/agent``) and
the supervisor wallboard (``/wallboard``), plain HTML, CSS and ES modules from the package.

Caching: every response carries ``Cache-Control: no-cache`` and a strong ``ETag`` (a hash of the
bytes), so a browser revalidates each time and gets ``304 Not Modified`` while the file is the
same: an upgraded engine never runs a stale script, and an unchanged one costs no body. Only
flat names with a known extension are served: no directory walking."""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from importlib import resources

from aiohttp import web

_STATIC = resources.files("acd.http") / "static"
_TYPES = {".html": "text/html", ".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml"}
_CACHE = "no-cache"


@dataclass(frozen=True)
class StaticFile:
    body: bytes
    content_type: str
    etag: str


def static_file(name: str) -> StaticFile | None:
    """The packaged file ``name`` (``agent.js``), or None if there is no such servable file."""
    ext = name[name.rfind("."):] if "." in name else ""
    if "/" in name or "\\" in name or name.startswith(".") or ext not in _TYPES:
        return None
    path = _STATIC / name
    if not path.is_file():
        return None
    body = path.read_bytes()
    return StaticFile(body, _TYPES[ext], '"' + hashlib.sha256(body).hexdigest()[:32] + '"')


def _respond(request: web.Request, found: StaticFile) -> web.Response:
    headers = {"Cache-Control": _CACHE, "ETag": found.etag, "X-Content-Type-Options": "nosniff"}
    tags = {t.strip() for t in request.headers.get("If-None-Match", "").split(",")}
    if found.etag in tags or "*" in tags:
        return web.Response(status=304, headers=headers)
    return web.Response(body=found.body, content_type=found.content_type, charset="utf-8", headers=headers)


async def _static(request: web.Request) -> web.Response:
    found = static_file(request.match_info["name"])
    if found is None:
        raise web.HTTPNotFound()
    return _respond(request, found)


def _page(name: str) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handler(request: web.Request) -> web.Response:
        found = static_file(name)
        if found is None:  # a broken install: say so rather than serve an empty page
            raise web.HTTPInternalServerError(text=f"page {name} is missing from the package")
        return _respond(request, found)
    return handler


async def _root(request: web.Request) -> web.Response:
    raise web.HTTPFound("/wallboard")


async def _favicon(request: web.Request) -> web.Response:
    """``/favicon.ico``, which browsers ask for on their own: the pages' SVG icon, not a 404."""
    found = static_file("favicon.svg")
    if found is None:
        raise web.HTTPNotFound()
    return _respond(request, found)


def add_pages(app: web.Application) -> None:
    """Mount ``/agent``, ``/wallboard``, ``/static/{name}``, ``/favicon.ico`` and ``/`` (to the wallboard)."""
    app.router.add_get("/agent", _page("agent.html"))
    app.router.add_get("/wallboard", _page("wallboard.html"))
    app.router.add_get("/static/{name}", _static)
    app.router.add_get("/favicon.ico", _favicon)
    app.router.add_get("/", _root)
