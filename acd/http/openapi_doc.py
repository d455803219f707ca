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
from typing import Any

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
    "tz": {"description": "IANA time zone of the intervals (Europe/London)", "schema": {"type": "string", "default": "UTC"}},
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
