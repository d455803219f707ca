"""Supervisor routes beside the core API table: the wallboard's data (also for kiosk tokens) and
listen / whisper / barge on an agent's call. Registered into ``acd.http.api.ROUTES`` on import,
so one middleware enforces their role rules."""

from __future__ import annotations

from aiohttp import web

from acd.ami import AmiError
from acd.http.api import MOUNTS, SUPERVISOR, WALLBOARD, Route, _engine, _json_body, _user, register_routes
from acd.http.errors import Conflict, Unavailable
from acd.http.times import json_reply
from acd.http.wallboard import add_wallboard_cache, wallboard
from acd.service.supervise import SPY_OPTIONS, CannotSupervise, start_spy

MOUNTS.append(add_wallboard_cache)

SPY_BODY = {"type": "object", "required": ["mode"], "properties": {
    "mode": {"type": "string", "enum": list(SPY_OPTIONS),
             "description": "listen (nobody hears you), whisper (the agent hears you), barge (agent and caller hear you)"}}}


async def agent_spy(request: web.Request) -> web.Response:
    """Ring the supervisor's phone (``endpoint`` in config/users.yaml) into ChanSpy on the call."""
    engine, agent_id = _engine(request), request.match_info["agent_id"]
    body = await _json_body(request, SPY_BODY)
    user = _user(request)
    try:
        started = await start_spy(engine.acd, agent_id, body["mode"], supervisor_id=user.id, endpoint=user.endpoint)
    except CannotSupervise as exc:
        raise Conflict(str(exc)) from None
    except AmiError as exc:
        raise Unavailable(f"Asterisk refused or did not answer the Originate: {exc}") from None
    return json_reply(request, started.view(), status=202)


register_routes((
    Route("GET", "/api/v1/wallboard", wallboard, WALLBOARD,
          "The wallboard: per queue today's offered, answered, abandoned, abandon rate, service level and its colour, "
          "ASA, AHT, longest wait, agents staffed/available/on call; agents by state (supervisors and kiosk tokens)",
          tag="supervisors"),
    Route("POST", "/api/v1/agents/{agent_id}/spy", agent_spy, SUPERVISOR,
          "Listen to, whisper to or barge in on the agent's call: your phone (endpoint in users.yaml) rings into ChanSpy; "
          "logged on the call's record", body=SPY_BODY, tag="supervisors"),
))
