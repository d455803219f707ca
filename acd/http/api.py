"""The HTTP API for agents, supervisors and admins (``/api/v1``), its OpenAPI spec, and the
push stream. Every route and its role rule are declared once, in ``ROUTES``; one middleware
enforces the rules and the spec is generated from the same table, so neither can drift."""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass
from typing import Any
from collections.abc import Awaitable, Callable

from aiohttp import web

from acd import events as record_events
from acd.http.errors import Conflict, Forbidden, Invalid, NotFound, Unauthorized, Unavailable, error_middleware
from acd.http.events import EventBus, Reset
from acd.http.jsonbody import parse_json
from acd.http.signin import SignInGuard, TooManySignIns
from acd.http.users import Role, User, Users
from acd.logs import get_logger

log = get_logger(__name__)

ENGINE = web.AppKey("engine", object)  # acd.app.Engine
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


def _auth_middleware(routes: dict[tuple[str, str], Route]):
    @web.middleware
    async def middleware(request: web.Request, handler: Handler):
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
def _engine(request: web.Request):
    return request.app[ENGINE]


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


def _agent_view(engine, agent_id: str) -> dict[str, Any]:
    a = engine.core.agent(agent_id)
    now = engine.clock.now()
    return {"agent_id": a.id, "name": a.config.name, "state": a.state.value, "reason": a.reason,
            "in_state_s": round(now - a.state_since, 1), "calls": a.calls_handled, "call_id": a.call_id,
            "occupancy": round(engine.core.occupancy(a), 3), "not_ready_after_call": engine.core.after_call.get(a.id)}


def _customers(engine):
    if engine.customers is None:
        raise Unavailable("the customer store is not configured")
    return engine.customers


def _float(request: web.Request, name: str) -> float | None:
    raw = request.query.get(name)
    if raw in (None, ""):
        return None
    try:
        return float(raw)
    except ValueError:
        from datetime import datetime

        try:
            return datetime.fromisoformat(raw).timestamp()
        except ValueError:
            raise Invalid(name, "an epoch time or an ISO 8601 date-time") from None


# --------------------------------------------------------------------------- handlers: agents
async def me(request: web.Request) -> web.Response:
    return web.json_response(_user(request).view())


async def agents_list(request: web.Request) -> web.Response:
    engine = _engine(request)
    return web.json_response({"agents": [_agent_view(engine, a) for a in engine.core.agents]})


async def agent_get(request: web.Request) -> web.Response:
    return web.json_response(_agent_view(_engine(request), request.match_info["agent_id"]))


async def agent_login(request: web.Request) -> web.Response:
    engine, agent_id = _engine(request), request.match_info["agent_id"]
    engine.acd.login(agent_id)
    await engine.acd.settled()  # with a shared log: applied once the leader has it in the log
    return web.json_response(_agent_view(engine, agent_id))


async def agent_logout(request: web.Request) -> web.Response:
    engine, agent_id = _engine(request), request.match_info["agent_id"]
    engine.core.agent(agent_id)
    user = _user(request)
    engine.acd.logout(agent_id, by=user.agent_id if user.agent_id == agent_id else user.id)  # a supervisor's is forced
    await engine.acd.settled()  # with a shared log: applied once the leader has it in the log
    return web.json_response(_agent_view(engine, agent_id))


STATE_BODY = {"type": "object", "required": ["state"], "properties": {
    "state": {"type": "string", "enum": ["ready", "not_ready"]},
    "reason": {"type": "string", "nullable": True, "maxLength": 64, "description": "a code from GET /api/v1/reasons; required for not_ready"}}}


async def agent_state(request: web.Request) -> web.Response:
    engine, agent_id = _engine(request), request.match_info["agent_id"]
    body = await _json_body(request, STATE_BODY)
    agent = engine.core.agent(agent_id)
    user = _user(request)
    by = user.agent_id if user.agent_id == agent_id else user.id  # a supervisor's change is forced, by them
    pending = False
    if body["state"] == "ready":
        engine.acd.set_ready(agent_id, by=by)
    else:
        if not body.get("reason"):
            raise Invalid("reason", "required when the state is not_ready")
        pending = agent.state.value in ("on_call", "wrap_up")  # "not ready after this call"
        if pending:
            engine.acd.set_not_ready_after_call(agent_id, body["reason"], by=by)
        else:
            engine.acd.set_not_ready(agent_id, body["reason"], by=by)
    if user.agent_id != agent_id:
        log.event("http.agent.state_forced", agent=agent_id, by=user.id, state=body["state"], reason=body.get("reason"),
                  after_call=pending)
    await engine.acd.settled()  # with a shared log: applied once the leader has it in the log
    view = _agent_view(engine, agent_id)
    if pending:  # accepted: the agent goes not ready when the call (and its wrap-up) is done
        return web.json_response(view, status=202)
    return web.json_response(view)


WRAPUP_BODY = {"type": "object", "required": ["disposition"], "properties": {
    "disposition": {"type": "string", "maxLength": 64, "description": "a code from GET /api/v1/dispositions"},
    "notes": {"type": "string", "nullable": True, "maxLength": 2000},
    "ready": {"type": "boolean", "description": "ready for the next call afterwards (default true)"},
    "extend_s": {"type": "number", "description": "instead of finishing: more wrap-up time"},
    "task": {"type": "object", "description": "a follow-up task on the call's customer (call back Tuesday...): "
             "the fields of POST /api/v1/tasks; the owner defaults to the agent"}}}


async def agent_wrapup(request: web.Request) -> web.Response:
    engine, agent_id = _engine(request), request.match_info["agent_id"]
    body = await _json_body(request, WRAPUP_BODY)
    engine.core.agent(agent_id)
    task = body.get("task")
    if task is not None and not isinstance(task, dict):
        raise Invalid("task", "must be an object")
    pending = None
    if task is not None:  # checked before the wrap-up ends: a refused task loses nothing
        from acd.http.tasks import create_task_from, wrapup_task_input

        pending = wrapup_task_input(request, agent_id, task)
    engine.acd.finish_wrapup(agent_id, body["disposition"], body.get("notes"), ready=body.get("ready", True))
    await engine.acd.settled()  # with a shared log: applied once the leader has it in the log
    view = _agent_view(engine, agent_id)
    if pending is not None:
        view["task"] = await create_task_from(request, pending, source="wrapup")
    return web.json_response(view, dumps=_dumps)


EXTEND_BODY = {"type": "object", "required": ["seconds"], "properties": {"seconds": {"type": "number"}}}


async def agent_wrapup_extend(request: web.Request) -> web.Response:
    engine, agent_id = _engine(request), request.match_info["agent_id"]
    body = await _json_body(request, EXTEND_BODY)
    engine.core.agent(agent_id)
    engine.acd.extend_wrapup(agent_id, float(body["seconds"]))
    return web.json_response(_agent_view(engine, agent_id))


async def agent_work(request: web.Request) -> web.Response:
    engine, agent_id = _engine(request), request.match_info["agent_id"]
    return web.json_response(await engine.desk.work(agent_id, viewer=_user(request).id), dumps=_dumps)


async def reasons(request: web.Request) -> web.Response:
    return web.json_response({"reasons": [{"code": r.code, "label": r.label} for r in _engine(request).catalogue.not_ready_reasons]})


async def dispositions(request: web.Request) -> web.Response:
    return web.json_response({"dispositions": [{"code": d.code, "label": d.label} for d in _engine(request).catalogue.dispositions]})


# --------------------------------------------------------------------------- handlers: supervisors
async def queues(request: web.Request) -> web.Response:
    """A list, as ``/agents`` is: each queue's figures with its name under ``queue``."""
    live_queues = _engine(request).acd.live()["queues"]
    return web.json_response({"queues": [{"queue": name, **figures} for name, figures in live_queues.items()]}, dumps=_dumps)


async def live(request: web.Request) -> web.Response:
    return web.json_response(_engine(request).acd.live(), dumps=_dumps)


def _dumps(obj: Any) -> str:
    return json.dumps(obj, default=str)


async def interactions(request: web.Request) -> web.Response:
    engine, user = _engine(request), _user(request)
    q = request.query
    try:
        limit = int(q.get("limit", "100"))
    except ValueError:
        raise Invalid("limit", "a whole number") from None
    agent = q.get("agent") or None
    if user.role < Role.SUPERVISOR:
        agent = user.agent_id  # an agent sees only its own calls
    found = await _customers(engine).search_interactions(
        customer_id=q.get("customer_id") or None, ani=q.get("ani") or None, agent=agent, queue=q.get("queue") or None,
        outcome=q.get("outcome") or None, start=_float(request, "from"), end=_float(request, "to"), limit=limit)
    return web.json_response({"interactions": [i.to_dict() for i in found]}, dumps=_dumps)


async def _visible_interaction(request: web.Request):
    engine, user = _engine(request), _user(request)
    rec = await _customers(engine).interaction(request.match_info["call_id"])
    if user.role < Role.SUPERVISOR and user.agent_id not in {rec.agent, *(o.agent for o in rec.offers)}:
        raise NotFound(f"no interaction {request.match_info['call_id']}")  # not "forbidden": do not confirm it exists
    return engine, rec


async def interaction(request: web.Request) -> web.Response:
    engine, rec = await _visible_interaction(request)
    body = rec.to_dict()
    body["timeline"] = await engine.customers.timeline(rec.call_id)
    return web.json_response(body, dumps=_dumps)


async def decisions(request: web.Request) -> web.Response:
    engine = _engine(request)
    call_id = request.match_info["call_id"]
    await _customers(engine).interaction(call_id)
    timeline = await engine.customers.timeline(call_id)
    if not timeline:
        timeline = engine.calllog.timeline(call_id)
    return web.json_response({"decisions": [e for e in timeline if isinstance(record_events.from_timeline(e), record_events.RoutingDecision)]}, dumps=_dumps)


LINK_BODY = {"type": "object", "required": ["customer_id"], "properties": {"customer_id": {"type": "string", "maxLength": 64}}}


async def interaction_link(request: web.Request) -> web.Response:
    """File a call from an unknown number under a customer, after the fact."""
    engine = _engine(request)
    body = await _json_body(request, LINK_BODY)
    call_id = request.match_info["call_id"]
    await _customers(engine).link_interaction(call_id, body["customer_id"], by=_user(request).id)
    return web.json_response((await engine.customers.interaction(call_id)).to_dict(), dumps=_dumps)


async def customer_unlock(request: web.Request) -> web.Response:
    """Lift a verification lock after checking the caller another way (audited)."""
    from acd.store.verification import SqlVerification

    engine, customer_id = _engine(request), request.match_info["customer_id"]
    await _customers(engine).get_customer(customer_id)
    await SqlVerification(engine.customers, engine.clock).unlock(customer_id, by=_user(request).id)
    return web.json_response({"customer_id": customer_id, "unlocked": True})


async def reports(request: web.Request) -> web.Response:
    """Interval report per queue or per agent, from the interaction records (``acd report``)."""
    from acd.reports import compute, queue_log
    from acd.reports.cli import LOOKBACK_S
    from acd.reports.export import columns

    engine = _engine(request)
    store = _customers(engine)
    q = request.query
    try:
        interval = compute.parse_interval(q.get("interval", "60"))
    except ValueError as exc:
        raise Invalid("interval", str(exc)) from None
    by = q.get("by", "queue")
    if by not in ("queue", "agent", "queue_log", "channel"):
        raise Invalid("by", "queue, agent, queue_log or channel")
    try:
        tz = compute.zone(q.get("tz") or "UTC")
    except Exception:  # noqa: BLE001 - zoneinfo raises several kinds
        raise Invalid("tz", "an IANA time zone such as Europe/London") from None
    from acd.reports.period import default_period  # the same default as `acd report`: today in tz

    start, end = default_period(engine.clock.now(), tz, _float(request, "from"), _float(request, "to"))
    if not start < end:
        raise Invalid("from", "must be before to")
    if end - start > 93 * 86400:
        raise Invalid("to", "at most 93 days per request")
    if by == "channel":  # calls and other contacts per channel and direction (acd/reports/channels.py)
        from acd.reports.channels import channel_counts
        from acd.store.contacts import contacts_between

        rows = channel_counts(await store.interactions_between(start, end), await contacts_between(store, start, end), start, end)
        return web.json_response({"by": by, "from": start, "to": end, "rows": [
            {"channel": r.channel, "inbound": r.inbound, "outbound": r.outbound, "total": r.total} for r in rows]})
    records = await store.interactions_between(start - LOOKBACK_S, end)
    if by == "queue_log":
        return web.Response(text=queue_log.render(records, start, end), content_type="text/plain")
    spans = await store.agent_spans_between(start, end) if by == "agent" else None
    thresholds = {name: compute.QueueThresholds(qc.service_level_s, qc.short_abandon_s) for name, qc in engine.core.queues.items()}
    report = compute.compute(records, start, end, interval, thresholds=thresholds, spans=spans, tz=tz,
                             agents=list(engine.core.agents) if by == "agent" else ())
    rows = report.queues if by == "queue" else report.agents
    cols = columns(by)
    return web.json_response({"interval": str(interval), "by": by, "from": start, "to": end,
                              "rows": [{c: getattr(r, c) for c in cols} for r in rows]}, dumps=_dumps)


# --------------------------------------------------------------------------- handlers: admins
def _problem(p) -> dict[str, Any]:
    return {"file": p.location.file, "line": p.location.line, "column": p.location.column, "step": p.step, "message": p.message}


def _registry(engine):
    if engine.flows is None:
        raise Conflict("flows are off in this engine (flows.directory is empty)")
    return engine.flows


async def flows_list(request: web.Request) -> web.Response:
    registry = _registry(_engine(request))
    report = registry.last_report
    return web.json_response({
        "flows": [{"name": f.name, "version": str(f.version), "file": f.file} for f in registry.current.flows.values()],
        "errors": [_problem(p) for ps in (report.refused.values() if report else ()) for p in ps],
    })


VALIDATE_BODY = {"type": "object", "required": ["yaml"], "properties": {
    "yaml": {"type": "string", "maxLength": 1_000_000}, "file": {"type": "string", "maxLength": 200}}}


async def flows_validate(request: web.Request) -> web.Response:
    registry = _registry(_engine(request))
    body = await _json_body(request, VALIDATE_BODY)
    problems = await asyncio.to_thread(registry.validate_text, body["yaml"], body.get("file") or "request.yaml")
    return web.json_response({"ok": not problems, "errors": [_problem(p) for p in problems]})


async def flows_reload(request: web.Request) -> web.Response:
    registry = _registry(_engine(request))
    report = await asyncio.to_thread(registry.reload)
    return web.json_response({"loaded": list(report.loaded), "unchanged": list(report.unchanged), "removed": list(report.removed),
                              "refused": [{"file": f, "errors": [_problem(p) for p in ps]} for f, ps in report.refused.items()]})


async def config_reload(request: web.Request) -> web.Response:
    result = await asyncio.to_thread(_engine(request).reload_config)
    return web.json_response(result, status=200 if result["ok"] else 422)


# --------------------------------------------------------------------------- the push stream
async def events(request: web.Request) -> web.StreamResponse:
    bus, user = request.app[BUS], _user(request)
    raw = request.headers.get("Last-Event-ID") or request.query.get("after")
    try:
        after = int(raw) if raw not in (None, "") else None
    except ValueError:
        raise Invalid("after", "a sequence number") from None
    streams = request.app[STREAMS]
    task = asyncio.current_task()
    streams.add(task)
    try:
        return await _stream_events(request, bus, user, after, _token(request, allow_query=True) or "")
    finally:
        streams.discard(task)


async def _close_streams(app: web.Application) -> None:
    """At shutdown, end the open streams now (they would otherwise sit until their keepalive)."""
    for task in list(app[STREAMS]):
        task.cancel()


KEEPALIVE_S = 15.0  # a comment line on a quiet stream, so proxies and browsers keep it open


async def _still_allowed(request: web.Request, user: User, token: str) -> bool:
    """After a users reload: the stream's token still names the same user with the same role and
    agent (a revoked token or a changed role ends the stream; the reconnect then gets 401)."""
    try:
        return await _authenticate(request, token) == user
    except TooManySignIns:
        return False


async def _stream_events(request: web.Request, bus: EventBus, user: User, after: int | None, token: str) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
    # From here on, everything after `start` reaches this client: what is published while the
    # response starts comes from the backlog. The hello's id tells the client where it stands, so
    # a reconnect resumes from there even if no event has arrived yet.
    start = after if after is not None else bus.seq
    stream = bus.subscribe(start).__aiter__()
    await response.prepare(request)
    await response.write(f"retry: 1000\nid: {start}\nevent: hello\ndata: {json.dumps({'seq': start})}\n\n".encode())
    users = request.app[USERS]
    entries = users.entries  # replaced (a new dict) when config/users.yaml is reloaded
    # One pending read at a time, never cancelled on a quiet spell: cancelling an async
    # generator's __anext__ closes the generator (the stream would end at every keepalive).
    pending: asyncio.Future | None = None
    try:
        while True:
            if pending is None:
                pending = asyncio.ensure_future(stream.__anext__())
            done, _ = await asyncio.wait({pending}, timeout=KEEPALIVE_S)
            event = None
            if done:
                read, pending = pending, None
                try:
                    event = read.result()
                except StopAsyncIteration:
                    break  # too slow: the client reconnects with Last-Event-ID and catches up
                except Reset as exc:
                    # with an id, a plain EventSource reconnects from here (not from the stale id)
                    await response.write(f"id: {bus.seq}\nevent: reset\ndata: {json.dumps({'detail': str(exc), 'seq': bus.seq})}\n\n".encode())
                    break
            if users.entries is not entries:
                entries = users.entries
                if not await _still_allowed(request, user, token):
                    log.event("http.events.closed_after_users_reload", user=user.id)
                    break
            if event is None:
                await response.write(b": keepalive\n\n")
                continue
            if user.role < Role.SUPERVISOR and not event.for_agent(user.agent_id):
                continue
            await response.write(f"id: {event.seq}\nevent: {event.kind}\ndata: {json.dumps(event.data, default=str)}\n\n".encode())
    except ConnectionResetError:
        pass  # the client went away; it reconnects with Last-Event-ID
    finally:
        if pending is not None:
            pending.cancel()
            await asyncio.wait({pending}, timeout=1)
        with contextlib.suppress(Exception):
            await stream.aclose()
    return response


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
          "Re-read config/: desk catalogue, users and queue options apply at once; what needs a restart is listed", tag="admin"),
    Route("GET", "/api/v1/events", events, ANY,
          "Server-sent events with sequence numbers; resume with Last-Event-ID (agents: only their own events). "
          "The token goes in the Authorization: Bearer header; ?access_token= is accepted on this route only, for "
          "browsers' EventSource, which cannot set headers (keep it out of proxy logs)",
          query=("after", "access_token"), tag="session", stream=True),
)


def openapi(routes: tuple[Route, ...] = ROUTES, extra: tuple[Route, ...] = ()) -> dict[str, Any]:
    from acd.http import openapi_doc as doc

    paths: dict[str, Any] = {}
    for r in routes + extra:
        params = [{"name": p[1:-1], "in": "path", "required": True, "schema": {"type": "string"}}
                  for p in r.path.split("/") if p.startswith("{")]
        params += [doc.query_param(q) for q in r.query]
        name = r.handler.__name__
        schema = doc.response_schema(name)
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
            "responses": {doc.success_status(name): {"description": "OK", "content": content}},
        }
        for status, why in doc.ALSO_SUCCESS.get(name, {}).items():
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
                                "Times in responses are seconds since 1970-01-01T00:00:00Z; query times take ISO 8601 with a zone too."},
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": doc.components(),
            "responses": {"Error": {"description": "an error", "content": {"application/json": {"schema": {
                "type": "object", "required": ["error", "detail"],
                "properties": {"error": {"type": "string"}, "detail": {"type": "string"}, "field": {"type": "string"}}}}}}},
        },
    }


async def _openapi(request: web.Request) -> web.Response:
    return web.json_response(request.app[OPENAPI])


OPENAPI = web.AppKey("openapi", dict)
STREAMS = web.AppKey("streams", set)
SIGNIN = web.AppKey("signin", SignInGuard)


def add_api(app: web.Application, engine, users: Users, bus: EventBus, *, public: tuple[Route, ...] = ()) -> None:
    """Mount the API routes, the auth middleware and the error mapping on ``app``."""
    app[ENGINE], app[USERS], app[BUS] = engine, users, bus
    app[STREAMS] = set()
    app[SIGNIN] = SignInGuard(engine.clock)
    app.on_shutdown.append(_close_streams)
    table = {(r.method, r.path): r for r in ROUTES + public}
    app[OPENAPI] = openapi(ROUTES, public + (Route("GET", "/openapi.json", _openapi, PUBLIC, "This specification", tag="session"),))
    app.middlewares.append(error_middleware)
    app.middlewares.append(_auth_middleware(table))
    for r in ROUTES:
        app.router.add_route(r.method, r.path, r.handler)
    app.router.add_get("/openapi.json", _openapi)
    for mount in MOUNTS:
        mount(app)


MOUNTS: list[Callable[[web.Application], None]] = []  # feature modules' per-app state (acd.http.supervise)


def register_routes(routes: tuple[Route, ...]) -> None:
    """Add a feature module's routes to the one table (``acd.http.customers`` does, on import)."""
    global ROUTES
    ROUTES = ROUTES + tuple(r for r in routes if r not in ROUTES)


import acd.http.customers  # noqa: E402,F401 - registers the customer routes (it uses the helpers above)
import acd.http.tasks  # noqa: E402,F401 - registers the task routes
import acd.http.quality  # noqa: E402,F401 - registers the CSAT/FCR report
import acd.http.supervise  # noqa: E402,F401 - registers the wallboard and supervisor routes
