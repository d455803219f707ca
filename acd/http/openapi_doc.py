"""What the OpenAPI document says beyond the route table: the schema of each route's response
(``openapi_responses.json``, keyed by operationId, with the shared Agent, Customer and Interaction
objects), the success status of the routes that create (201), and a typed, described schema for
every query parameter. ``tests/http/test_openapi.py`` calls every route of the document on a
running engine and checks each response against these schemas; a route added without one fails
there."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from acd.http.api import Route

TIME = ("a time: ISO 8601 with its zone (2026-11-23T09:00:00+00:00) or seconds since 1970-01-01T00:00:00Z")

QUERY_PARAMS: dict[str, dict[str, Any]] = {
    "interval": {"description": "interval length: 15, 30 or 60 minutes, or day",
                 "schema": {"type": "string", "enum": ["15", "30", "60", "day"], "default": "60"}},
    "by": {"description": "rows per queue or agent; queue_log: an Asterisk queue_log (text); channel: contacts per channel",
           "schema": {"type": "string", "enum": ["queue", "agent", "queue_log", "channel"], "default": "queue"}},
    "from": {"description": "start of the range, " + TIME + " (default: today's midnight in tz)",
             "schema": {"type": "string"}},
    "to": {"description": "end of the range, exclusive, " + TIME + " (default: a day after from)",
           "schema": {"type": "string"}},
    "tz": {"description": "IANA time zone of the intervals (Europe/London); default: engine.time_zone, the zone of the wallboard's today",
           "schema": {"type": "string"}},
    "limit": {"description": "most rows returned", "schema": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100}},
    "customer_id": {"description": "only this customer's interactions", "schema": {"type": "string"}},
    "ani": {"description": "caller number (E.164)", "schema": {"type": "string"}},
    "agent": {"description": "agent id (an agent user always sees only their own)", "schema": {"type": "string"}},
    "queue": {"description": "queue name", "schema": {"type": "string"}},
    "outcome": {"description": "how the call ended",
                "schema": {"type": "string", "enum": ["self_served", "answered", "abandoned_ivr", "abandoned_queue",
                                                      "transferred", "callback", "voicemail", "in_progress"]}},
    "after": {"description": "resume after this event sequence number (or send Last-Event-ID)",
              "schema": {"type": "integer", "minimum": 0}},
    "access_token": {"description": "the bearer token, for EventSource only (it cannot set headers); "
                                    "prefer the Authorization header", "schema": {"type": "string"}},
    "q": {"description": "name, phone number (any format), e-mail or account number; at least 2 characters",
          "schema": {"type": "string", "minLength": 2}},
    "page": {"description": "page number, from 1", "schema": {"type": "integer", "minimum": 1, "default": 1}},
    "per_page": {"description": "results per page", "schema": {"type": "integer", "minimum": 1, "maximum": 100, "default": 20}},
    "reason": {"description": "why the record is read (a call or task id); kept in the access audit; default: your current call",
               "schema": {"type": "string", "maxLength": 120}},
    "mine": {"description": "1: only tasks you own yourself", "schema": {"type": "string", "enum": ["0", "1"]}},
    "owner_agent": {"description": "tasks owned by this agent", "schema": {"type": "string"}},
    "owner_queue": {"description": "tasks owned by this queue", "schema": {"type": "string"}},
    "status": {"description": "task status", "schema": {"type": "string", "enum": ["open", "done", "cancelled"]}},
    "overdue": {"description": "1: open tasks past their due time", "schema": {"type": "string", "enum": ["0", "1"]}},
    "escalated": {"description": "1: tasks escalated to a supervisor", "schema": {"type": "string", "enum": ["0", "1"]}},
    "fcr_days": {"description": "first-contact resolution window: no repeat contact on the matter within this many days",
                 "schema": {"type": "integer", "minimum": 1, "default": 7}},
    "format": {"description": "export format", "schema": {"type": "string", "enum": ["json", "xml"], "default": "json"}},
}

# A second success status of a route, with the same body: not ready asked for an agent on a call is
# accepted (202) and applies when the call is done.
ALSO_SUCCESS: dict[str, dict[str, str]] = {
    "agent_state": {"202": "Accepted: the agent is on a call or in wrap-up and goes not ready when it is done"},
}

# Routes whose response is not a JSON object described in openapi_responses.json.
SPECIAL = {
    "_openapi": {"type": "object", "required": ["openapi", "info", "paths"],
                 "properties": {"openapi": {"type": "string", "const": "3.1.0"}, "paths": {"type": "object"}}},
}


@functools.cache
def _data() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((Path(__file__).with_name("openapi_responses.json")).read_text(encoding="utf-8"))
    return data


def components() -> dict[str, Any]:
    schemas: dict[str, Any] = _data()["schemas"]
    return schemas


def response_schema(operation_id: str) -> dict[str, Any] | None:
    return SPECIAL.get(operation_id) or _data()["responses"].get(operation_id)


def success_status(operation_id: str) -> str:
    return str(_data()["status"].get(operation_id, 200))


def query_param(name: str) -> dict[str, Any]:
    known = QUERY_PARAMS.get(name, {"description": name, "schema": {"type": "string"}})
    return {"name": name, "in": "query", "required": False, **known}


def openapi(routes: tuple[Route, ...], extra: tuple[Route, ...] = ()) -> dict[str, Any]:
    """The OpenAPI 3.1 document of ``routes`` (the route table) and ``extra`` (routes outside it)."""
    from acd.http.api import PUBLIC, WEBHOOK
    paths: dict[str, Any] = {}
    for r in routes + extra:
        params = [{"name": p[1:-1], "in": "path", "required": True, "schema": {"type": "string"}}
                  for p in r.path.split("/") if p.startswith("{")]
        params += [query_param(q) for q in r.query]
        name = r.handler.__name__
        schema = response_schema(name)
        content: dict[str, Any]
        if r.stream:
            content = {"text/event-stream": {"schema": {"type": "string", "description": "server-sent events"}}}
        elif name == "reports":
            content = {"application/json": {"schema": schema}, "text/plain": {"schema": {"type": "string"}}}
        elif name == "customer_export":
            content = {"application/json": {"schema": schema}, "application/xml": {"schema": {"type": "string"}}}
        else:
            content = {"application/json": {"schema": schema}} if schema else {"application/json": {}}
        op: dict[str, Any] = {
            "summary": r.summary, "tags": [r.tag], "operationId": name, "x-acd-role": r.rule,
            "parameters": params,
            "responses": {success_status(name): {"description": "OK", "content": content}},
        }
        for status, why in ALSO_SUCCESS.get(name, {}).items():
            op["responses"][status] = {"description": why, "content": content}
        if r.rule == WEBHOOK:
            op["security"] = [{"bearer": []}]
            op["responses"]["401"] = {"$ref": "#/components/responses/Error"}
        elif r.rule != PUBLIC:
            op["security"] = [{"bearer": []}]
            op["responses"].update({"401": {"$ref": "#/components/responses/Error"}, "403": {"$ref": "#/components/responses/Error"}})
        if "{" in r.path or r.rule == WEBHOOK:
            op["responses"]["404"] = {"$ref": "#/components/responses/Error"}
        if r.rule != PUBLIC:  # the engine's state may refuse (an agent on a call, flows off...)
            op["responses"]["409"] = {"$ref": "#/components/responses/Error"}
        if r.body is not None or r.query:
            op["responses"]["422"] = {"$ref": "#/components/responses/Error"}
        if r.body is not None:
            op["requestBody"] = {"required": True, "content": {"application/json": {"schema": r.body}}}
        paths.setdefault(r.path, {})[r.method.lower()] = op
    return {
        "openapi": "3.1.0",
        "info": {"title": "acd engine API", "version": "1",
                 "description": "Agents, supervisors and admins. Roles: agent < supervisor < admin; kiosk reads the wallboard only; "
                                "x-acd-role gives each route's rule. "
                                "Times in responses are ISO 8601 strings with the offset of engine.time_zone (format: date-time; a "
                                "report's in the tz it was asked for); durations (names ending in _s) are seconds, rounded. "
                                "Query times take ISO 8601 with a zone, or seconds since 1970-01-01T00:00:00Z."},
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": components(),
            "responses": {"Error": {"description": "an error", "content": {"application/json": {"schema": {
                "type": "object", "required": ["error", "detail"],
                "properties": {"error": {"type": "string"}, "detail": {"type": "string"}, "field": {"type": "string"}}}}}}},
        },
    }
