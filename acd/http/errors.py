"""Domain errors mapped to HTTP in one place (Wazo agentd style): handlers raise what went wrong
in the domain's words; the middleware picks the status and the JSON body
``{"error": code, "detail": text}``."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from acd.http.signin import TooManySignIns
from acd.logs import get_logger
from acd.routing.core import IllegalTransition, NotInWrapUp, UnknownAgent
from acd.service.acd import InvalidChoice
from acd.store.contacts import InvalidContact
from acd.store.customers_edit import InvalidCustomer
from acd.store.merge import MergeRefused
from acd.store.search import BadQuery
from acd.store.sql import NotFound as StoreNotFound, StoreError
from acd.tasks.model import IllegalTaskChange, InvalidTask
from acd.usecases.errors import BadInput, NotAllowed, NotVisible, Refused, Unreachable, UseCaseError

log = get_logger(__name__)


class ApiError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, detail: str = "") -> None:
        super().__init__(detail)
        self.detail = detail


class Unauthorized(ApiError):
    status, code = 401, "unauthorized"


class Forbidden(ApiError):
    status, code = 403, "forbidden"


class NotFound(ApiError):
    status, code = 404, "not_found"


class Conflict(ApiError):
    status, code = 409, "conflict"


class Invalid(ApiError):
    """A request body or parameter the API refuses; ``field`` names it."""

    status, code = 422, "invalid"

    def __init__(self, field: str, detail: str) -> None:
        super().__init__(f"{field}: {detail}")
        self.field = field


def _body(code: str, detail: str, status: int, **extra: Any) -> web.Response:
    return web.json_response({"error": code, "detail": detail, **extra}, status=status)


def as_response(exc: BaseException) -> web.Response | None:
    """The HTTP answer for a domain error, or None for anything unexpected."""
    if isinstance(exc, Invalid):
        return _body(exc.code, exc.detail, exc.status, field=exc.field)
    if isinstance(exc, ApiError):
        return _body(exc.code, exc.detail, exc.status)
    if isinstance(exc, UseCaseError):
        return _use_case_refusal(exc)
    if isinstance(exc, (UnknownAgent, StoreNotFound)):
        return _body("not_found", str(exc) if isinstance(exc, StoreNotFound) else f"no agent {exc}", 404)
    if isinstance(exc, (IllegalTransition, NotInWrapUp)):
        return _body("conflict", str(exc), 409)
    if isinstance(exc, InvalidChoice):
        return _body("invalid", str(exc), 422, field=exc.field)
    if isinstance(exc, InvalidCustomer):  # every field's problem, so a form can mark each one
        return _body("invalid", str(exc), 422, field=exc.field,
                     problems=[{"field": p.field, "detail": p.message} for p in exc.problems])
    if isinstance(exc, (InvalidContact, BadQuery, InvalidTask)):
        return _body("invalid", str(exc), 422, field=exc.field)
    if isinstance(exc, (MergeRefused, IllegalTaskChange)):
        return _body("conflict", str(exc), 409)
    if isinstance(exc, StoreError):
        return _body("invalid", str(exc), 422)
    if isinstance(exc, TooManySignIns):
        response = _body("too_many_requests", str(exc), 429)
        response.headers["Retry-After"] = str(exc.retry_after_s)
        return response
    if isinstance(exc, json.JSONDecodeError):
        return _body("invalid", "the body is not JSON", 422, field="body")
    return None


_USE_CASE_STATUS: tuple[tuple[type[UseCaseError], int, str], ...] = (
    (NotVisible, 404, "not_found"), (NotAllowed, 403, "forbidden"), (Refused, 409, "conflict"),
    (Unreachable, 503, "unavailable"), (BadInput, 422, "invalid"),
)


def _use_case_refusal(exc: UseCaseError) -> web.Response:
    """A use case's refusal (``acd.usecases.errors``) as its status and code."""
    if isinstance(exc, BadInput):
        return _body("invalid", exc.detail, 422, field=exc.field)
    for kind, status, code in _USE_CASE_STATUS:
        if isinstance(exc, kind):
            return _body(code, exc.detail, status)
    return _body("bad_request", exc.detail, 400)


@web.middleware
async def error_middleware(request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> web.StreamResponse:
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status >= 400 and exc.content_type != "application/json":
            return _body("not_found" if exc.status == 404 else "http_error", exc.reason or "", exc.status)
        raise
    except Exception as exc:  # noqa: BLE001 - mapped here, once, for every route
        response = as_response(exc)
        if response is not None:
            return response
        log.error_event("http.internal_error", method=request.method, path=request.path, error=type(exc).__name__)
        return _body("internal", "internal error", 500)
