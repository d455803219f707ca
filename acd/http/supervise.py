"""Supervisor routes beside the core API table: the wallboard's data (also for kiosk tokens) and
listen / whisper / barge on an agent's call. Registered into ``acd.http.api.ROUTES`` on import,
so one middleware enforces their role rules."""

from __future__ import annotations

from aiohttp import web

from acd.http.api import SUPERVISOR, WALLBOARD, Route, _json_body, _user, register_routes
from acd.http.keys import SUPERVISION, WALLBOARD_VIEW
from acd.http.times import json_reply
from acd.service.supervise import SPY_OPTIONS

SPY_BODY = {"type": "object", "required": ["mode"], "properties": {
    "mode": {"type": "string", "enum": list(SPY_OPTIONS),
             "description": "listen (nobody hears you), whisper (the agent hears you), barge (agent and caller hear you)"}}}


async def wallboard(request: web.Request) -> web.Response:
    return json_reply(request, await request.app[WALLBOARD_VIEW].view())


async def agent_spy(request: web.Request) -> web.Response:
    """Ring the supervisor's phone (``endpoint`` in config/users.yaml) into ChanSpy on the call."""
    body = await _json_body(request, SPY_BODY)
    started = await request.app[SUPERVISION].spy(request.match_info["agent_id"], body["mode"], _user(request))
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
