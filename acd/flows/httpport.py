"""The HTTP port over aiohttp: what a flow's ``http`` step uses to reach the company's systems."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp

from acd.flows.ports_extra import HttpPortError, HttpRequest, HttpResponse
from acd.logs import get_logger

log = get_logger(__name__)

MAX_BODY = 1 << 20  # a self-service answer is small; anything bigger is refused


class AiohttpPort:
    """One shared ``aiohttp.ClientSession`` (created on first use); every request has a timeout."""

    def __init__(self, *, session: aiohttp.ClientSession | None = None, user_agent: str = "acd-flows/1") -> None:
        self._session = session
        self._own = session is None
        self._user_agent = user_agent

    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(headers={"User-Agent": self._user_agent})
            self._own = True
        return self._session

    async def request(self, request: HttpRequest) -> HttpResponse:
        session = self._get_session()
        kwargs: dict[str, Any] = {"headers": dict(request.headers), "allow_redirects": False}
        if request.json is not None:
            kwargs["json"] = request.json
        elif request.body is not None:
            kwargs["data"] = request.body.encode("utf-8")
        try:
            async with asyncio.timeout(request.timeout_s):
                async with session.request(request.method, request.url, **kwargs) as resp:
                    body = await resp.content.read(MAX_BODY + 1)
                    if len(body) > MAX_BODY:
                        raise HttpPortError(f"response larger than {MAX_BODY} bytes")
                    return HttpResponse(resp.status, body, resp.content_type or "")
        except HttpPortError:
            raise
        except TimeoutError:
            raise HttpPortError(f"no response within {request.timeout_s:g} s") from None
        except (aiohttp.ClientError, OSError, ValueError) as exc:
            raise HttpPortError(f"{type(exc).__name__}: {exc}") from None

    async def close(self) -> None:
        if self._own and self._session is not None and not self._session.closed:
            await self._session.close()
