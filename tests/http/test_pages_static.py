"""The pages' static route on the engine's own web app: content types, revalidation with ETag,
and nothing served outside the flat list of packaged files."""

from __future__ import annotations

import aiohttp
import pytest
from aiohttp import web

from acd.http.pages import add_pages, static_file


@pytest.fixture
async def base():
    app = web.Application()
    add_pages(app)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
        yield session, f"http://127.0.0.1:{port}"
    await runner.cleanup()


@pytest.mark.parametrize("path,ctype", [("/agent", "text/html"), ("/wallboard", "text/html"),
                                        ("/static/agent.js", "text/javascript"), ("/static/common.js", "text/javascript"),
                                        ("/static/wallboard.js", "text/javascript"), ("/static/style.css", "text/css"),
                                        ("/static/favicon.svg", "image/svg+xml"), ("/favicon.ico", "image/svg+xml")])
async def test_pages_and_assets_are_served_with_type_and_cache_headers(base, path, ctype):
    session, url = base
    async with session.get(url + path) as r:
        body = await r.read()
        assert r.status == 200 and r.content_type == ctype and body
        assert r.headers["Cache-Control"] == "no-cache" and r.headers["ETag"].startswith('"')
        etag = r.headers["ETag"]
    async with session.get(url + path, headers={"If-None-Match": etag}) as r:
        assert r.status == 304 and await r.read() == b"" and r.headers["ETag"] == etag
    async with session.get(url + path, headers={"If-None-Match": '"something-else"'}) as r:
        assert r.status == 200 and await r.read() == body


@pytest.mark.parametrize("path", ["/static/../pages.py", "/static/%2e%2e%2fpages.py", "/static/pages.py",
                                  "/static/.hidden.js", "/static/nope.js", "/static/agent.html.bak", "/static/"])
async def test_nothing_else_is_served(base, path):
    session, url = base
    async with session.get(url + path) as r:
        assert r.status == 404


async def test_the_root_goes_to_the_wallboard(base):
    session, url = base
    async with session.get(url + "/", allow_redirects=False) as r:
        assert r.status == 302 and r.headers["Location"] == "/wallboard"


def test_every_page_names_only_assets_that_exist():
    """The HTML and modules refer to /static/... files: each must be packaged."""
    import re

    for page in ("agent.html", "wallboard.html", "agent.js", "wallboard.js"):
        text = static_file(page).body.decode()
        for ref in re.findall(r"/static/([\w.-]+)", text):
            assert static_file(ref) is not None, f"{page} refers to missing /static/{ref}"
