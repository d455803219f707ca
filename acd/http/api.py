"""The HTTP API for agents, supervisors and admins (``/api/v1``), its OpenAPI spec, and the
push stream. Every route and its role rule are declared once, in ``ROUTES``; one middleware
enforces the rules and the spec is generated from the same table, so neither can drift.

A handler parses the request, calls a use case (``acd.usecases``, from its typed app key in
``acd.http.keys``) and renders the answer; it never sees the engine."""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass
from typing import Any
from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.typedefs import Middleware

from acd.clock import Clock
from acd.http.errors import Forbidden, Invalid, Unauthorized, error_middleware
from acd.http.times import json_reply
from acd.http.events import EventBus
from acd.http.jsonbody import parse_json
from acd.http.keys import ADMIN_CASES, AGENTS, CUSTOMERS, INTERACTIONS, REPORTS, SUPERVISION, TASKS, mount_use_cases
from acd.http.signin import SignInGuard
from acd.http.users import Role, User, Users
from acd.logs import get_logger
from acd.usecases.interactions import InteractionQuery
from acd.usecases.wiring import UseCases

log = get_logger(__name__)

USERS = web.AppKey("users", Users)
BUS = web.AppKey("bus", EventBus)
USER = web.RequestKey("user", User)  # the authenticated user of this request

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


# --------------------------------------------------------------------------- role rules
PUBLIC = "public"  # no token
ANY = "any"  # any authenticated user
SELF_OR_SUPERVISOR = "self_or_supervisor"  # routes with {agent_id}: that agent itself, or a supervisor+
AGENT_OWN = "agent_own"  # agents see only their own (the handler filters), supervisors all
SUPERVISOR = "supervisor"
ADMIN = "admin"
WEBHOOK = "webhook_token"  # another system, with its own token from config (the handler checks it)
WALLBOARD = "wallboard"  # the wallboard's data: supervisors and above, and kiosk tokens (which may read nothing else)


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    handler: Handler
    rule: str
    summary: str
    body: dict[str, Any] | None = None  # JSON schema of the request body
    query: tuple[str, ...] = ()
    tag: str = "engine"
    stream: bool = False


def _allowed(rule: str, user: User | None, request: web.Request) -> bool:
    if rule == PUBLIC:
        return True
    if user is None:
        return False
    if user.role == Role.KIOSK:  # a wall screen's token: the wallboard's data and nothing else
        return rule == WALLBOARD
    if rule == WALLBOARD:
        return user.role >= Role.SUPERVISOR
    if rule in (ANY, AGENT_OWN):
        return True
    if rule == SUPERVISOR:
        return user.role >= Role.SUPERVISOR
    if rule == ADMIN:
        return user.role >= Role.ADMIN
    if rule == SELF_OR_SUPERVISOR:
        return user.role >= Role.SUPERVISOR or (user.agent_id is not None and user.agent_id == request.match_info.get("agent_id"))
    raise ValueError(f"unknown rule {rule!r}")


def _token(request: web.Request, allow_query: bool) -> str | None:
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        return header[7:].strip()
    if allow_query:  # EventSource cannot set headers: the stream alone takes ?access_token=
        return request.query.get("access_token")
    return None


async def _authenticate(request: web.Request, token: str) -> User | None:
    """A token verified before answers at once. Any other costs at most one KDF (the user its id
    part names), run in a thread within the sign-in guard's bounds: a few at a time, one per
    client address, and none for an address that failed too often lately (429, Retry-After)."""
    app = request.app
    users, guard = app[USERS], app[SIGNIN]
    address = request.remote or "?"
    user = users.cached(token)
    if user is not None:
        return user
    guard.refuse_if_limited(address)
    if not users.refused_before(token):
        user = await guard.run_kdf(address, lambda: users.authenticate(token))
    if user is None:
        guard.failed(address)
    return user


def _auth_middleware(routes: dict[tuple[str, str], Route]) -> Middleware:
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        resource = request.match_info.route.resource
        if resource is None:  # no such path: the 404 comes from the router
            return await handler(request)
        canonical = resource.canonical
        route = routes.get(("GET" if request.method == "HEAD" else request.method, canonical))
        if route is None:
            if canonical.startswith("/api/"):  # never let an undeclared method through unchecked
                raise Unauthorized("a valid token is required")
            return await handler(request)  # pages, health, metrics: public by design
        if route.rule in (PUBLIC, WEBHOOK):
            return await handler(request)
        token = _token(request, allow_query=route.stream)
        user = await _authenticate(request, token) if token else None
        if user is None:
            raise Unauthorized("a valid token is required (Authorization: Bearer <token>)")
        if not _allowed(route.rule, user, request):
            raise Forbidden(f"{user.role.name.lower()} {user.id} may not {request.method} {canonical}")
        request[USER] = user
        return await handler(request)

    return middleware


# --------------------------------------------------------------------------- helpers
def _user(request: web.Request) -> User:
    return request[USER]


async def _json_body(request: web.Request, schema: dict[str, Any]) -> dict[str, Any]:
    body = parse_json(await request.read())
    if not isinstance(body, dict):
        raise Invalid("body", "not a JSON object")
    props = schema.get("properties", {})
    for name in schema.get("required", ()):
        if name not in body:
            raise Invalid(name, "required")
    for name, value in body.items():
        spec = props.get(name)
        if spec is None:
            raise Invalid(name, "unknown field")
        kind = spec.get("type")
        ok = {"string": isinstance(value, str), "number": isinstance(value, (int, float)) and not isinstance(value, bool),
              "boolean": isinstance(value, bool)}.get(kind, True)
        if not ok and not (value is None and spec.get("nullable")):
            raise Invalid(name, f"must be a {kind}")
        if "enum" in spec and value not in spec["enum"]:
            raise Invalid(name, f"must be one of {', '.join(spec['enum'])}")
        if kind == "string" and isinstance(value, str) and len(value) > spec.get("maxLength", 10_000):
            raise Invalid(name, f"longer than {spec['maxLength']} characters")
    return body


def _float(request: web.Request, name: str) -> float | None:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return None
    try:
        return float(raw)
    except ValueError:
        from datetime import datetime

        try:
            return datetime.fromisoformat(raw).timestamp()
        except ValueError:
            raise Invalid(name, "an epoch time or an ISO 8601 date-time") from None


def _zone(request: web.Request) -> dt.tzinfo:
    from acd.reports import compute

    if not request.query.get("tz"):  # today as the wallboard counts it: engine.time_zone
        from acd.http.times import engine_tz

        return engine_tz(request.app)
    try:
        return compute.zone(request.query["tz"])
    except Exception:  # noqa: BLE001 - zoneinfo raises several kinds
        raise Invalid("tz", "an IANA time zone such as Europe/London") from None


# --------------------------------------------------------------------------- handlers: agents
async def me(request: web.Request) -> web.Response:
    return json_reply(request, _user(request).view())


async def agents_list(request: web.Request) -> web.Response:
    return json_reply(request, {"agents": request.app[AGENTS].views()})


async def agent_get(request: web.Request) -> web.Response:
    return json_reply(request, request.app[AGENTS].view(request.match_info["agent_id"]))


async def agent_login(request: web.Request) -> web.Response:
    return json_reply(request, await request.app[AGENTS].login(request.match_info["agent_id"]))


async def agent_logout(request: web.Request) -> web.Response:
    return json_reply(request, await request.app[AGENTS].logout(request.match_info["agent_id"], _user(request)))


STATE_BODY = {"type": "object", "required": ["state"], "properties": {
    "state": {"type": "string", "enum": ["ready", "not_ready"]},
    "reason": {"type": "string", "nullable": True, "maxLength": 64, "description": "a code from GET /api/v1/reasons; required for not_ready"}}}


async def agent_state(request: web.Request) -> web.Response:
    body = await _json_body(request, STATE_BODY)
    done = await request.app[AGENTS].set_state(request.match_info["agent_id"], body["state"], body.get("reason"), _user(request))
    # pending: accepted, the agent goes not ready when the call (and its wrap-up) is done
    return json_reply(request, done.view, status=202 if done.pending else 200)


WRAPUP_BODY = {"type": "object", "required": ["disposition"], "properties": {
    "disposition": {"type": "string", "maxLength": 64, "description": "a code from GET /api/v1/dispositions"},
    "notes": {"type": "string", "nullable": True, "maxLength": 2000},
    "ready": {"type": "boolean", "description": "ready for the next call afterwards (default true)"},
    "extend_s": {"type": "number", "description": "instead of finishing: more wrap-up time"},
    "task": {"type": "object", "description": "a follow-up task on the call's customer (call back Tuesday...): "
             "the fields of POST /api/v1/tasks; the owner defaults to the agent"}}}


async def agent_wrapup(request: web.Request) -> web.Response:
    agents, agent_id = request.app[AGENTS], request.match_info["agent_id"]
    body = await _json_body(request, WRAPUP_BODY)
    agents.check_agent(agent_id)
    task = body.get("task")
    if task is not None and not isinstance(task, dict):
        raise Invalid("task", "must be an object")
    tasks, user = request.app[TASKS], _user(request)
    pending = tasks.wrapup_task_input(agent_id, user, task) if task is not None else None  # checked first: a refused task loses nothing
    view = await agents.finish_wrapup(agent_id, body["disposition"], body.get("notes"), ready=body.get("ready", True))
    if pending is not None:
        view["task"] = await tasks.create(pending, user, source="wrapup")
    return json_reply(request, view)


EXTEND_BODY = {"type": "object", "required": ["seconds"], "properties": {"seconds": {"type": "number"}}}


async def agent_wrapup_extend(request: web.Request) -> web.Response:
    body = await _json_body(request, EXTEND_BODY)
    return json_reply(request, request.app[AGENTS].extend_wrapup(request.match_info["agent_id"], float(body["seconds"])))


async def agent_work(request: web.Request) -> web.Response:
    work = await request.app[AGENTS].work(request.match_info["agent_id"], viewer=_user(request).id)
    return json_reply(request, work)


async def reasons(request: web.Request) -> web.Response:
    return json_reply(request, {"reasons": request.app[AGENTS].reasons()})


async def dispositions(request: web.Request) -> web.Response:
    return json_reply(request, {"dispositions": request.app[AGENTS].dispositions()})


# --------------------------------------------------------------------------- handlers: supervisors
async def queues(request: web.Request) -> web.Response:
    """A list, as ``/agents`` is: each queue's figures with its name under ``queue``."""
    return json_reply(request, {"queues": request.app[SUPERVISION].queues()})


async def live(request: web.Request) -> web.Response:
    """``/queues`` and ``/agents`` in one answer: two lists of objects with their id field."""
    return json_reply(request, {"queues": request.app[SUPERVISION].queues(), "agents": request.app[AGENTS].views()})


async def interactions(request: web.Request) -> web.Response:
    q = request.query
    try:
        limit = int(q.get("limit", "100"))
    except ValueError:
        raise Invalid("limit", "a whole number") from None
    query = InteractionQuery(customer_id=q.get("customer_id") or None, ani=q.get("ani") or None, agent=q.get("agent") or None,
                             queue=q.get("queue") or None, outcome=q.get("outcome") or None, start=_float(request, "from"),
                             end=_float(request, "to"), limit=limit)
    found = await request.app[INTERACTIONS].search(query, _user(request))
    return json_reply(request, {"interactions": [i.to_dict() for i in found]})


async def interaction(request: web.Request) -> web.Response:
    body = await request.app[INTERACTIONS].with_timeline(request.match_info["call_id"], _user(request))
    return json_reply(request, body)


async def decisions(request: web.Request) -> web.Response:
    return json_reply(request, {"decisions": await request.app[INTERACTIONS].decisions(request.match_info["call_id"])})


LINK_BODY = {"type": "object", "required": ["customer_id"], "properties": {"customer_id": {"type": "string", "maxLength": 64}}}


async def interaction_link(request: web.Request) -> web.Response:
    """File a call from an unknown number under a customer, after the fact."""
    body = await _json_body(request, LINK_BODY)
    linked = await request.app[INTERACTIONS].link(request.match_info["call_id"], body["customer_id"], _user(request))
    return json_reply(request, linked.to_dict())


async def customer_unlock(request: web.Request) -> web.Response:
    """Lift a verification lock after checking the caller another way (audited)."""
    return json_reply(request, await request.app[CUSTOMERS].unlock(request.match_info["customer_id"], _user(request)))


async def reports(request: web.Request) -> web.Response:
    """Interval report per queue or per agent, from the interaction records (``acd report``)."""
    from acd.reports import compute

    q = request.query
    try:
        interval = compute.parse_interval(q.get("interval", "60"))
    except ValueError as exc:
        raise Invalid("interval", str(exc)) from None
    by = q.get("by", "queue")
    if by not in ("queue", "agent", "queue_log", "channel"):
        raise Invalid("by", "queue, agent, queue_log or channel")
    tz = _zone(request)
    report = await request.app[REPORTS].interval(by, interval, tz, _float(request, "from"), _float(request, "to"))
    if isinstance(report, str):  # by=queue_log: Asterisk's queue_log text
        return web.Response(text=report, content_type="text/plain")
    return json_reply(request, report, tz=tz)  # its times in the zone asked for


# --------------------------------------------------------------------------- handlers: admins
async def flows_list(request: web.Request) -> web.Response:
    return json_reply(request, request.app[ADMIN_CASES].flows())


VALIDATE_BODY = {"type": "object", "required": ["yaml"], "properties": {
    "yaml": {"type": "string", "maxLength": 1_000_000}, "file": {"type": "string", "maxLength": 200}}}


async def flows_validate(request: web.Request) -> web.Response:
    admin = request.app[ADMIN_CASES]
    admin.check_flows_on()  # flows off: 409 before the body is read
    body = await _json_body(request, VALIDATE_BODY)
    return json_reply(request, await admin.validate(body["yaml"], body.get("file") or "request.yaml"))


async def flows_reload(request: web.Request) -> web.Response:
    return json_reply(request, await request.app[ADMIN_CASES].reload_flows())


async def config_reload(request: web.Request) -> web.Response:
    result = await request.app[ADMIN_CASES].reload_config()
    return json_reply(request, result, status=200 if result["ok"] else 422)


# --------------------------------------------------------------------------- the table
ROUTES: tuple[Route, ...] = (
    Route("GET", "/api/v1/me", me, ANY, "Who the token belongs to", tag="session"),
    Route("GET", "/api/v1/reasons", reasons, ANY, "Not-ready reasons agents may give", tag="agents"),
    Route("GET", "/api/v1/dispositions", dispositions, ANY, "Dispositions that end wrap-up", tag="agents"),
    Route("GET", "/api/v1/agents", agents_list, SUPERVISOR, "Every agent with state, time in state and calls", tag="agents"),
    Route("GET", "/api/v1/agents/{agent_id}", agent_get, SELF_OR_SUPERVISOR, "One agent", tag="agents"),
    Route("POST", "/api/v1/agents/{agent_id}/login", agent_login, SELF_OR_SUPERVISOR, "Log the agent in, ready", tag="agents"),
    Route("POST", "/api/v1/agents/{agent_id}/logout", agent_logout, SELF_OR_SUPERVISOR, "Log the agent out (not during a call)", tag="agents"),
    Route("PUT", "/api/v1/agents/{agent_id}/state", agent_state, SELF_OR_SUPERVISOR,
          "Set ready or not ready with a reason; by a supervisor, forced (a ringing offer is withdrawn). Not ready for an agent "
          "on a call or in wrap-up is 202: the agent goes not ready when the call is done", body=STATE_BODY, tag="agents"),
    Route("GET", "/api/v1/agents/{agent_id}/work", agent_work, SELF_OR_SUPERVISOR,
          "The current offer or call with the screen-pop: customer, verification, IVR path, last interactions", tag="agents"),
    Route("POST", "/api/v1/agents/{agent_id}/wrapup", agent_wrapup, SELF_OR_SUPERVISOR,
          "Finish wrap-up with a disposition and notes", body=WRAPUP_BODY, tag="agents"),
    Route("POST", "/api/v1/agents/{agent_id}/wrapup/extend", agent_wrapup_extend, SELF_OR_SUPERVISOR,
          "More wrap-up time", body=EXTEND_BODY, tag="agents"),
    Route("GET", "/api/v1/queues", queues, SUPERVISOR, "Live queues: waiting, longest wait, service level today", tag="supervisors"),
    Route("GET", "/api/v1/live", live, SUPERVISOR, "Queues and agents now (the wallboard's first load)", tag="supervisors"),
    Route("GET", "/api/v1/interactions", interactions, AGENT_OWN, "Search interactions (an agent: its own calls only)",
          query=("customer_id", "ani", "agent", "queue", "outcome", "from", "to", "limit"), tag="interactions"),
    Route("GET", "/api/v1/interactions/{call_id}", interaction, AGENT_OWN, "One interaction with its timeline (an agent: its own)", tag="interactions"),
    Route("GET", "/api/v1/interactions/{call_id}/decisions", decisions, SUPERVISOR,
          "The routing decisions of a call: candidates, filters, scores, choice", tag="interactions"),
    Route("POST", "/api/v1/interactions/{call_id}/link", interaction_link, SUPERVISOR,
          "File a call from an unknown number under a customer", body=LINK_BODY, tag="interactions"),
    Route("POST", "/api/v1/customers/{customer_id}/unlock", customer_unlock, SUPERVISOR,
          "Lift a customer's verification lock (audited)", tag="customers"),
    Route("GET", "/api/v1/reports", reports, SUPERVISOR,
          "Interval report per queue or agent (offered, answered, abandoned, service level both ways, ASA, AHT, occupancy); "
          "by=queue_log gives an Asterisk queue_log, by=channel calls and other contacts per channel", query=("interval", "by", "from", "to", "tz"), tag="reports"),
    Route("GET", "/api/v1/flows", flows_list, ADMIN, "Flows serving now, and files refused at the last reload", tag="admin"),
    Route("POST", "/api/v1/flows/validate", flows_validate, ADMIN, "Check a flow file's text without loading it", body=VALIDATE_BODY, tag="admin"),
    Route("POST", "/api/v1/flows/reload", flows_reload, ADMIN, "Reload flows from their directory", tag="admin"),
    Route("POST", "/api/v1/config/reload", config_reload, ADMIN,
          "Re-read config/: desk catalogue, users, tasks, knowledge cards, queue and agent options and the contacts webhook's "
          "token hash (engine.yaml) apply at once; what needs a restart (removals, other engine.yaml sections) is listed", tag="admin"),
)


async def _openapi(request: web.Request) -> web.Response:
    return web.json_response(request.app[OPENAPI])


OPENAPI = web.AppKey("openapi", dict[str, Any])
STREAMS = web.AppKey("streams", set[asyncio.Task[Any]])
SIGNIN = web.AppKey("signin", SignInGuard)


def add_api(app: web.Application, cases: UseCases, users: Users, bus: EventBus, clock: Clock, *,
            public: tuple[Route, ...] = ()) -> None:
    """Mount the use cases, the API routes, the auth middleware and the error mapping on ``app``."""
    mount_use_cases(app, cases)
    app[USERS], app[BUS] = users, bus
    app[STREAMS] = set()
    app[SIGNIN] = SignInGuard(clock)
    from acd.http.stream import close_streams

    app.on_shutdown.append(close_streams)
    table = {(r.method, r.path): r for r in ROUTES + public}
    from acd.http.openapi_doc import openapi

    app[OPENAPI] = openapi(ROUTES, public + (Route("GET", "/openapi.json", _openapi, PUBLIC, "This specification", tag="session"),))
    app.middlewares.append(error_middleware)
    app.middlewares.append(_auth_middleware(table))
    for r in ROUTES:
        app.router.add_route(r.method, r.path, r.handler)
    app.router.add_get("/openapi.json", _openapi)


def register_routes(routes: tuple[Route, ...]) -> None:
    """Add a feature module's routes to the one table (``acd.http.customers`` does, on import)."""
    global ROUTES
    ROUTES = ROUTES + tuple(r for r in routes if r not in ROUTES)


import acd.http.stream  # noqa: E402,F401 - registers the event stream (first: its place in the table and the spec)
import acd.http.customers  # noqa: E402,F401 - registers the customer routes (it uses the helpers above)
import acd.http.tasks  # noqa: E402,F401 - registers the task routes
import acd.http.quality  # noqa: E402,F401 - registers the CSAT/FCR report
import acd.http.supervise  # noqa: E402,F401 - registers the wallboard and supervisor routes
