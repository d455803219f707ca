"""Supervisor routes beside the core API table: the wallboard's data (also for kiosk tokens).
Registered into ``acd.http.api.ROUTES`` on import, so one middleware enforces their role rules."""

from __future__ import annotations

from acd.http.api import MOUNTS, WALLBOARD, Route, register_routes
from acd.http.wallboard import add_wallboard_cache, wallboard

MOUNTS.append(add_wallboard_cache)

register_routes((
    Route("GET", "/api/v1/wallboard", wallboard, WALLBOARD,
          "The wallboard: per queue today's offered, answered, abandoned, abandon rate, service level and its colour, "
          "ASA, AHT, longest wait, agents staffed/available/on call; agents by state (supervisors and kiosk tokens)",
          tag="supervisors"),
))
