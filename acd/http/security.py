"""Browser protections on every response of the engine's web app (issue #13, item 9).

The pages are plain HTML with ES modules from ``/static`` and no inline script or style, so the
policy can be strict: scripts, styles and connections (fetch, EventSource) from this origin only;
no plugins, no base-tag tricks, no framing (clickjacking the agent desktop), no MIME sniffing, and
no Referer leaking a page's address elsewhere."""

from __future__ import annotations

from aiohttp import web

CONTENT_SECURITY_POLICY = "; ".join((
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "connect-src 'self'",
    "font-src 'self'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
))

SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


async def _add_security_headers(request: web.Request, response: web.StreamResponse) -> None:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)


def add_security_headers(app: web.Application) -> None:
    """Every response of ``app`` (pages, API, errors, the event stream) carries the headers."""
    app.on_response_prepare.append(_add_security_headers)
