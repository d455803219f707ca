"""Reloading ``config/`` in a running engine (``POST /api/v1/config/reload``, SIGHUP)."""

from __future__ import annotations

from pathlib import Path

from acd.http.users import load_users
from acd.logs import get_logger
from acd.routing.config import load_agents, load_desk, load_queues
from acd.settings import ConfigError

log = get_logger(__name__)


def reload_config(engine) -> dict:
    """Re-read ``config/``: everything is validated first (nothing applies if anything is
    wrong). The desk catalogue, users, new and changed queues and agents apply at once
    (queue and agent changes go through the ACD's event log); removals need a restart."""
    cfg = Path(engine.settings.config_dir)
    problems: list[str] = []
    loaded: dict = {}
    for name, loader in (("queues", lambda: load_queues(cfg / "queues.yaml")), ("agents", lambda: load_agents(cfg / "agents.yaml")),
                         ("desk", lambda: load_desk(cfg / "desk.yaml"))):
        try:
            loaded[name] = loader()
        except ConfigError as exc:
            problems += exc.problems
    if "queues" in loaded:
        from acd.tasks.rules import load_task_config

        from acd.knowledge.cards import load_cards

        try:
            loaded["tasks"] = load_task_config(cfg / "tasks.yaml", frozenset(q.name for q in loaded["queues"]))
        except ConfigError as exc:
            problems += exc.problems
        try:
            loaded["knowledge"] = load_cards(cfg / "knowledge", [q.name for q in loaded["queues"]])
        except ConfigError as exc:
            problems += exc.problems
    if "agents" in loaded:
        try:
            loaded["users"] = load_users(cfg / "users.yaml", {a.id for a in loaded["agents"]})
        except ConfigError as exc:
            problems += exc.problems
    if problems:
        log.warn_event("config.reload.refused", problems=len(problems))
        return {"ok": False, "errors": problems}
    applied, restart = ["desk", "users", "tasks", "knowledge"], []
    engine.task_config = loaded["tasks"]
    engine.knowledge = loaded["knowledge"]
    if engine.tasks is not None:
        engine.tasks.config = loaded["tasks"]
    engine.catalogue = loaded["desk"]
    engine.acd.catalogue = loaded["desk"]
    if engine.users is not None:
        engine.users.replace_entries(loaded["users"])
    new_queues = {q.name: q for q in loaded["queues"]}
    changed_queues = tuple(q for name, q in new_queues.items() if engine.core.queues.get(name) != q)
    current_agents = {a.id: a.config for a in engine.core.agents.values()}
    changed_agents = tuple(a for a in loaded["agents"] if current_agents.get(a.id) != a)
    if changed_queues or changed_agents:
        # an event like any other: applied live, in order, and replayed from the log; calls in
        # flight keep their place
        engine.acd.apply_config(changed_queues, changed_agents)
    applied += [f"queue {q.name}" for q in changed_queues] + [f"agent {a.id}" for a in changed_agents]
    restart += [f"queue {name} was removed" for name in engine.core.queues if name not in new_queues]
    restart += [f"agent {a} was removed" for a in current_agents if a not in {x.id for x in loaded["agents"]}]
    log.event("config.reloaded", applied=len(applied), needs_restart=len(restart))
    return {"ok": True, "applied": applied, "needs_restart": restart}
