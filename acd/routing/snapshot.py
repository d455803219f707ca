"""The core's whole state as plain JSON data, and back: snapshots for the event log (a node
rebuilds from the last snapshot plus the tail) and the proof that a replay reaches the same state.

JSON, not pickle: a snapshot is read back from Redis, and nothing read from there may run code.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from acd.routing.core import AcdCore
from acd.routing.model import Agent, AgentConfig, AgentState, CallEntry, CallState, LiveCall, Offer, QueueConfig, RelaxStep

VERSION = 1


def _queue(d: dict[str, Any]) -> QueueConfig:
    return QueueConfig(**{**d, "relax": tuple(RelaxStep(**r) for r in d.get("relax", ()))})


def _agent_config(d: dict[str, Any]) -> AgentConfig:
    return AgentConfig(**{**d, "languages": tuple(d.get("languages", ("en",)))})


def _entry_out(e: CallEntry) -> dict[str, Any]:
    d = dataclasses.asdict(e)
    d["refused_by"] = sorted(e.refused_by)
    d["state"] = e.state.value
    return d


def _entry_in(d: dict[str, Any]) -> CallEntry:
    return CallEntry(**{**d, "refused_by": set(d["refused_by"]), "state": CallState(d["state"])})


def to_state(core: AcdCore) -> dict[str, Any]:
    """Everything ``handle`` depends on, as JSON data (what ``json.loads`` gives back, so two
    states compare equal whether or not one went through Redis)."""
    state: dict[str, Any] = json.loads(json.dumps(_state(core)))
    return state


def _state(core: AcdCore) -> dict[str, Any]:
    entries: dict[str, dict[str, Any]] = {}
    for e in core.calls.values():
        entries[e.call_id] = _entry_out(e)
    live = {}
    for call_id, lc in core.live.items():
        d = dataclasses.asdict(lc)
        d["entry"] = _entry_out(lc.entry)
        live[call_id] = d
    agents = {}
    for a in core.agents.values():
        d = dataclasses.asdict(a)
        d["state"] = a.state.value
        agents[a.id] = d
    return {
        "version": VERSION, "now": core.now, "id_prefix": core.id_prefix, "rona_recover_s": core.rona_recover_s, "seq": core.seq,
        "queues": [dataclasses.asdict(q) for q in core.queues.values()],
        "agents": agents,
        "waiting": {name: [e.call_id for e in lst] for name, lst in core.waiting.items()},
        "calls": entries,
        "offers": [dataclasses.asdict(o) for o in core.offers.values()],
        "connected": dict(core.connected),
        "live": live,
        "wrapups": dict(core.wrapups),
        "after_call": dict(core.after_call),
        "after_call_by": dict(core.after_call_by),
        "timers": dict(core.timers),
        "claimed": sorted(core.claimed),
        "dues": [list(d) for d in sorted(core.dues)],
        "due_timer": list(core.due_timer) if core.due_timer else None,
        "ready": sorted(core._ready),
        "rr": dict(core._rr),
        "handle": dict(core._handle),
    }


def from_state(state: dict[str, Any]) -> AcdCore:
    if state.get("version") != VERSION:
        raise ValueError(f"snapshot version {state.get('version')!r} is not {VERSION}")
    core = AcdCore([_queue(q) for q in state["queues"]], [], id_prefix=state["id_prefix"],
                   rona_recover_s=state["rona_recover_s"], now=state["now"])
    core.seq = state["seq"]
    for agent_id, d in state["agents"].items():
        d = dict(d)
        cfg = _agent_config(d.pop("config"))
        core.agents[agent_id] = Agent(cfg, **{**d, "state": AgentState(d["state"])})
        core._index_agent(cfg)
    core.calls = {cid: _entry_in(d) for cid, d in state["calls"].items()}
    core.waiting = {name: [core.calls[cid] for cid in ids] for name, ids in state["waiting"].items()}
    core.offers = {o["offer_id"]: Offer(**o) for o in state["offers"]}
    core.connected = dict(state["connected"])
    core.live = {cid: LiveCall(**{**d, "entry": _entry_in(d["entry"])}) for cid, d in state["live"].items()}
    core.wrapups = dict(state["wrapups"])
    core.after_call = dict(state["after_call"])
    core.after_call_by = dict(state.get("after_call_by", {}))  # absent from snapshots of older versions
    core.timers = dict(state["timers"])
    core.claimed = set(state["claimed"])
    core.dues = [tuple(d) for d in state["dues"]]
    core.due_timer = tuple(state["due_timer"]) if state["due_timer"] else None
    core._ready = set(state["ready"])
    core._rr = dict(state["rr"])
    core._handle = dict(state["handle"])
    return core
