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
    wrong). The desk catalogue, users and the options of existing queues apply at once;
    new, removed or re-skilled queues and agent changes are listed as needing a restart."""
    cfg = Path(engine.settings.config_dir)
    problems: list[str] = []
    loaded: dict = {}
    for name, loader in (("queues", lambda: load_queues(cfg / "queues.yaml")), ("agents", lambda: load_agents(cfg / "agents.yaml")),
                         ("desk", lambda: load_desk(cfg / "desk.yaml"))):
        try:
            loaded[name] = loader()
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
    applied, restart = ["desk", "users"], []
    engine.catalogue = loaded["desk"]
    engine.acd.catalogue = loaded["desk"]
    if engine.users is not None:
        engine.users.replace_entries(loaded["users"])
    new_queues = {q.name: q for q in loaded["queues"]}
    for name, q in new_queues.items():
        old = engine.core.queues.get(name)
        if old is None:
            restart.append(f"queue {name} is new")
        elif old.skills != q.skills:
            restart.append(f"queue {name}: skills changed")
        elif old != q:
            engine.core.queues[name] = q
            engine.telemetry.set_queue_targets(name, q.service_level_s, q.service_level_goal)
            applied.append(f"queue {name}")
    restart += [f"queue {name} was removed" for name in engine.core.queues if name not in new_queues]
    current_agents = {a.id: a.config for a in engine.core.agents.values()}
    for a in loaded["agents"]:
        if current_agents.get(a.id) != a:
            restart.append(f"agent {a.id} is new or changed")
    log.event("config.reloaded", applied=len(applied), needs_restart=len(restart))
    return {"ok": True, "applied": applied, "needs_restart": restart}
