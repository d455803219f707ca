"""``GET /api/v1/events``: the push stream (server-sent events) with sequence numbers. A client
resumes with ``Last-Event-ID``; an agent sees only its own events; after a users reload a stream
whose token no longer names the same user ends. Registered into ``acd.http.api.ROUTES`` on
import, so one middleware enforces its role rule."""

from __future__ import annotations

import asyncio
import contextlib
import json

from aiohttp import web

from acd.http.api import ANY, BUS, STREAMS, USERS, Route, _authenticate, _token, _user, register_routes
from acd.http.errors import Invalid
from acd.http.events import BusEvent, EventBus, Reset
from acd.http.signin import TooManySignIns
from acd.http.times import api_shape, engine_tz
from acd.http.users import Role, User
from acd.logs import get_logger

log = get_logger(__name__)


async def events(request: web.Request) -> web.StreamResponse:
    bus, user = request.app[BUS], _user(request)
    raw = request.headers.get("Last-Event-ID") or request.query.get("after")
    try:
        after = int(raw) if raw not in (None, "") else None
    except ValueError:
        raise Invalid("after", "a sequence number") from None
    streams = request.app[STREAMS]
    task = asyncio.current_task()
    assert task is not None  # an aiohttp handler always runs in a task
    streams.add(task)
    try:
        return await _stream_events(request, bus, user, after, _token(request, allow_query=True) or "")
    finally:
        streams.discard(task)


async def close_streams(app: web.Application) -> None:
    """At shutdown, end the open streams now (they would otherwise sit until their keepalive)."""
    streams = app[STREAMS]
    for task in list(streams):
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
    stream = bus.subscribe(start)  # an async generator: its own iterator
    await response.prepare(request)
    await response.write(f"retry: 1000\nid: {start}\nevent: hello\ndata: {json.dumps({'seq': start})}\n\n".encode())
    users, tz = request.app[USERS], engine_tz(request.app)  # pushed times as the responses' (acd.http.times)
    entries = users.entries  # replaced (a new dict) when config/users.yaml is reloaded
    # One pending read at a time, never cancelled on a quiet spell: cancelling an async
    # generator's __anext__ closes the generator (the stream would end at every keepalive).
    pending: asyncio.Future[BusEvent] | None = None
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
            await response.write(f"id: {event.seq}\nevent: {event.kind}\ndata: {json.dumps(api_shape(event.data, tz), default=str)}\n\n".encode())
    except ConnectionResetError:
        pass  # the client went away; it reconnects with Last-Event-ID
    finally:
        if pending is not None:
            pending.cancel()
            await asyncio.wait({pending}, timeout=1)
        with contextlib.suppress(Exception):
            await stream.aclose()
    return response


register_routes((
    Route("GET", "/api/v1/events", events, ANY,
          "Server-sent events with sequence numbers; resume with Last-Event-ID (agents: only their own events). "
          "The token goes in the Authorization: Bearer header; ?access_token= is accepted on this route only, for "
          "browsers' EventSource, which cannot set headers (keep it out of proxy logs)",
          query=("after", "access_token"), tag="session", stream=True),
))
