"""Reloading ``config/`` in a running engine (``POST /api/v1/config/reload``, SIGHUP)."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict

from acd.http.users import Users, load_users
from acd.logs import get_logger
from acd.routing.config import DeskCatalogue, load_agents, load_desk, load_queues
from acd.routing.model import AgentConfig, QueueConfig
from acd.service.liveconfig import ConfigFiles, LiveConfig
from acd.settings import ConfigError, Settings, load_settings

if TYPE_CHECKING:
    from acd.knowledge.cards import Card
    from acd.service.acd import AcdService
    from acd.tasks.rules import TaskConfig

log = get_logger(__name__)


class _Loaded(TypedDict, total=False):
    """What a reload read from ``config/`` (a key is missing when its file was refused)."""

    queues: list[QueueConfig]
    agents: list[AgentConfig]
    desk: DeskCatalogue
    tasks: TaskConfig
    knowledge: tuple[Card, ...]
    users: Users
    settings: Settings  # engine.yaml: only customers.webhook_token_hash applies without a restart


class ConfigReload:
    """Re-reads ``config/`` into the parts that serve it: the live config holder (desk, tasks,
    knowledge, the webhook's token hash), the users, and the ACD's queues and agents (through its
    event log). Any other change to ``engine.yaml`` is reported as needing a restart, section by
    section, against the file as it was read when the engine was built (not the running settings,
    which ``acd demo`` and ``--port`` override)."""

    def __init__(self, config_dir: Path, acd: AcdService, live: LiveConfig, users: Users) -> None:
        self._config_dir, self._acd, self._live, self._users = config_dir, acd, live, users
        try:
            self._started_with: Settings | None = _engine_yaml(config_dir)
        except ConfigError:  # the engine was given its settings some other way: nothing to compare
            self._started_with = None

    def __call__(self) -> dict[str, Any]:
        """Re-read ``config/``: everything is validated first (nothing applies if anything is
        wrong). The desk catalogue, users, task config, knowledge cards, the webhook's token hash,
        new and changed queues and agents apply at once (queue and agent changes go through the
        ACD's event log); removals and the rest of ``engine.yaml`` need a restart."""
        loaded, problems = _load(self._config_dir)
        if problems:
            log.warn_event("config.reload.refused", problems=len(problems))
            return {"ok": False, "errors": problems}
        hook_hash = loaded["settings"].customers.webhook_token_hash
        hook_changed = hook_hash != self._live.webhook_token_hash
        self._live.swap(ConfigFiles(desk=loaded["desk"], tasks=loaded["tasks"], knowledge=loaded["knowledge"],
                                    webhook_token_hash=hook_hash))
        self._users.replace_entries(loaded["users"])
        applied = ["desk", "users", "tasks", "knowledge"] + (["customers.webhook_token_hash"] if hook_changed else [])
        restart = self._engine_yaml_changes(loaded["settings"])
        core, acd = self._acd.core, self._acd
        new_queues = {q.name: q for q in loaded["queues"]}
        changed_queues = tuple(q for name, q in new_queues.items() if core.queues.get(name) != q)
        current_agents = {a.id: a.config for a in core.agents.values()}
        changed_agents = tuple(a for a in loaded["agents"] if current_agents.get(a.id) != a)
        if changed_queues or changed_agents:
            # an event like any other: applied live, in order, and replayed from the log; calls in
            # flight keep their place
            acd.apply_config(changed_queues, changed_agents)
        applied += [f"queue {q.name}" for q in changed_queues] + [f"agent {a.id}" for a in changed_agents]
        restart += [f"queue {name} was removed" for name in core.queues if name not in new_queues]
        restart += [f"agent {a} was removed" for a in current_agents if a not in {x.id for x in loaded["agents"]}]
        log.event("config.reloaded", applied=len(applied), needs_restart=len(restart), webhook_token_replaced=hook_changed)
        return {"ok": True, "applied": applied, "needs_restart": restart}

    def _engine_yaml_changes(self, new: Settings) -> list[str]:
        """The sections of engine.yaml changed since the start, the webhook's hash aside."""
        old = self._started_with
        if old is None:
            return []
        new = dataclasses.replace(new, customers=dataclasses.replace(new.customers, webhook_token_hash=old.customers.webhook_token_hash))
        return [f"engine.yaml: {f.name} changed" for f in dataclasses.fields(Settings) if getattr(new, f.name) != getattr(old, f.name)]


def _engine_yaml(cfg: Path) -> Settings:
    """``engine.yaml`` with the environment's ``ACD_*`` settings, as at the start (``cfg`` is the
    config directory already chosen, so ``ACD_CONFIG_DIR`` is not applied again)."""
    return load_settings(cfg, environ={k: v for k, v in os.environ.items() if k != "ACD_CONFIG_DIR"})


def _load(cfg: Path) -> tuple[_Loaded, list[str]]:
    """Every file of ``config/`` a reload reads, and the problems of those refused."""
    from acd.knowledge.cards import load_cards
    from acd.tasks.rules import load_task_config

    problems: list[str] = []
    loaded: _Loaded = {}
    try:
        loaded["settings"] = _engine_yaml(cfg)
    except ConfigError as exc:
        problems += exc.problems
    try:
        loaded["queues"] = load_queues(cfg / "queues.yaml")
    except ConfigError as exc:
        problems += exc.problems
    try:
        loaded["agents"] = load_agents(cfg / "agents.yaml")
    except ConfigError as exc:
        problems += exc.problems
    try:
        loaded["desk"] = load_desk(cfg / "desk.yaml")
    except ConfigError as exc:
        problems += exc.problems
    if "queues" in loaded:
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
    return loaded, problems
