"""The pages the engine serves, with no front-end build step: the agent desktop (``/agent``) and
the supervisor wallboard (``/wallboard``), plain HTML, CSS and ES modules from the package."""

from __future__ import annotations

from importlib import resources

from aiohttp import web

_STATIC = resources.files("acd.http") / "static"
_TYPES = {".html": "text/html", ".js": "text/javascript", ".css": "text/css"}


def _file(name: str) -> tuple[bytes, str] | None:
    if "/" in name or name.startswith(".") or not any(name.endswith(ext) for ext in _TYPES):
        return None
    path = _STATIC / name
    if not path.is_file():
        return None
    return path.read_bytes(), _TYPES[name[name.rindex("."):]]


async def _static(request: web.Request) -> web.Response:
    found = _file(request.match_info["name"])
    if found is None:
        raise web.HTTPNotFound()
    body, content_type = found
    return web.Response(body=body, content_type=content_type, headers={"Cache-Control": "no-cache"})


def _page(name: str):
    async def handler(request: web.Request) -> web.Response:
        body, content_type = _file(name)
        return web.Response(body=body, content_type=content_type, headers={"Cache-Control": "no-cache"})
    return handler


async def _root(request: web.Request) -> web.Response:
    raise web.HTTPFound("/wallboard")


def add_pages(app: web.Application) -> None:
    app.router.add_get("/agent", _page("agent.html"))
    app.router.add_get("/wallboard", _page("wallboard.html"))
    app.router.add_get("/static/{name}", _static)
    app.router.add_get("/", _root)
