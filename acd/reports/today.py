"""The wallboard's picture, pure: today's queue rows (from the store, via
:func:`acd.reports.compute.compute` with ``interval="day"``) joined with the live state (waiting
calls, agents) and the queues' colour thresholds. No I/O, no clock: ``now`` is passed in.

"Today" is the calendar day of ``now`` in the engine's time zone (``engine.time_zone``): it
starts at that zone's midnight, so a restart changes nothing, and a DST change gives a 23 or 25
hour day. Every ratio is :mod:`acd.kpi`'s.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from acd import kpi
from acd.reports.compute import QueueRow

AGENT_STATES = ("ready", "reserved", "ringing", "on_call", "wrap_up", "not_ready", "logged_out")


@dataclass(frozen=True)
class QueueTargets:
    """What the wallboard compares a queue's day against (``config/queues.yaml``)."""

    service_level_s: float
    service_level_goal: float
    sl_green: float
    sl_amber: float


@dataclass(frozen=True)
class LiveAgent:
    id: str
    name: str
    state: str
    reason: str | None
    in_state_s: float
    calls: int
    call_id: str | None
    queues: tuple[str, ...]  # the queues whose skills the agent has
    not_ready_after_call: str | None = None  # the reason, when asked for during the call


def day_start(now: float, tz: dt.tzinfo) -> float:
    """Epoch seconds of the local midnight that starts ``now``'s day in ``tz``."""
    local = dt.datetime.fromtimestamp(now, tz).date()
    return dt.datetime(local.year, local.month, local.day, tzinfo=tz).timestamp()


def state_counts(agents: Iterable[LiveAgent]) -> dict[str, int]:
    """Agents per state, every state present (0 when nobody is in it)."""
    counts = dict.fromkeys(AGENT_STATES, 0)
    for a in agents:
        counts[a.state] = counts.get(a.state, 0) + 1
    return counts


def _agents_for(queue: str, agents: Iterable[LiveAgent]) -> dict[str, int]:
    mine = [a for a in agents if queue in a.queues]
    return {"staffed": sum(a.state != "logged_out" for a in mine), "available": sum(a.state == "ready" for a in mine),
            "on_call": sum(a.state == "on_call" for a in mine)}


def queue_view(name: str, targets: QueueTargets, row: QueueRow | None, live: Mapping[str, Any],
               agents: list[LiveAgent]) -> dict[str, Any]:
    """One queue's line of the wallboard. ``row`` is None when the day figures are unavailable
    (the store is down): they are null then, never zeros that look like a quiet day."""
    day: dict[str, Any] = {k: None for k in ("offered", "answered", "abandoned", "short_abandoned", "abandon_rate",
                                             "service_level", "service_level_abandons", "asa_s", "aht_s",
                                             "longest_wait_today_s")}
    if row is not None:
        day.update(offered=row.offered, answered=row.answered, abandoned=row.abandoned, short_abandoned=row.short_abandoned,
                   abandon_rate=row.abandon_rate, service_level=row.service_level,
                   service_level_abandons=row.service_level_abandons, asa_s=row.asa_s, aht_s=row.aht_s,
                   longest_wait_today_s=row.longest_wait_s)
    return {
        "queue": name, **day,
        "sl_colour": kpi.service_level_colour(day["service_level"], targets.sl_green, targets.sl_amber),
        "service_level_s": targets.service_level_s, "service_level_goal": targets.service_level_goal,
        "sl_green": targets.sl_green, "sl_amber": targets.sl_amber,
        "waiting": int(live.get("waiting", 0)), "longest_wait_s": float(live.get("longest_wait_s", 0.0)),
        "agents": _agents_for(name, agents),
    }


def wallboard_view(now: float, tz_name: str, start: float, targets: Mapping[str, QueueTargets],
                   rows: Mapping[str, QueueRow] | None, live_queues: Mapping[str, Mapping[str, Any]],
                   agents: list[LiveAgent]) -> dict[str, Any]:
    """The whole wallboard: queues in configuration order, agents by state, the day's bounds."""
    return {
        "now": now, "time_zone": tz_name, "day_start": start, "day_figures": "store" if rows is not None else "unavailable",
        "queues": [queue_view(name, t, None if rows is None else rows.get(name) or QueueRow(start, name),
                              live_queues.get(name, {}), agents)
                   for name, t in targets.items()],
        "agent_states": state_counts(agents),
        "agents": [{"agent_id": a.id, "name": a.name, "state": a.state, "reason": a.reason, "in_state_s": a.in_state_s,
                    "calls": a.calls, "call_id": a.call_id, "not_ready_after_call": a.not_ready_after_call} for a in agents],
    }
