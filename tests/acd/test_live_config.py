"""A config reload swaps the reloadable files (desk, tasks, knowledge) in one holder,
``LiveConfig``: every part that serves them reads it at each use, so one reload reaches the ACD's
reasons, the task runner, the tasks use case and the screen-pop's cards; a refused reload
changes none of them."""

from __future__ import annotations

import dataclasses

import pytest

from acd.http.keys import AGENTS, TASKS
from acd.service.acd import InvalidChoice

TASKS_YAML = """
check_every: 5s
types:
  visit:
    label: Home visit
    due: 3d
"""

CARD = """---
title: Opening hours
queues: [general]
---
We open at nine.
"""


async def test_one_reload_reaches_every_reader_and_a_refused_one_none(make_engine, tmp_path):
    engine = await make_engine(n_agents=1)
    before = engine.live_config.files
    with pytest.raises(InvalidChoice):
        engine.acd.set_not_ready("agent1", "mentoring")  # not in desk.yaml yet
    assert "visit" not in engine.http_app[TASKS].types() and engine.tasks.config.check_every_s == 30.0

    desk = (tmp_path / "desk.yaml").read_text()
    (tmp_path / "desk.yaml").write_text(desk.replace("not_ready_reasons:\n", "not_ready_reasons:\n  - {code: mentoring, label: Mentoring}\n"))
    (tmp_path / "tasks.yaml").write_text(TASKS_YAML)
    (tmp_path / "knowledge").mkdir()
    (tmp_path / "knowledge" / "hours.md").write_text(CARD)
    result = engine.reload_config()
    assert result["ok"], result

    assert engine.live_config.files is not before
    assert "mentoring" in [r["code"] for r in engine.http_app[AGENTS].reasons()]  # the ACD's catalogue
    engine.acd.set_not_ready("agent1", "mentoring")
    assert list(engine.http_app[TASKS].types()) == ["visit"]  # the tasks use case
    assert engine.tasks.config.check_every_s == 5.0  # the task runner
    assert [c.id for c in engine.live_config.knowledge] == ["hours"]  # the screen-pop's cards

    served = engine.live_config.files
    (tmp_path / "tasks.yaml").write_text(TASKS_YAML.replace("due: 3d", "due: someday"))
    result = engine.reload_config()
    assert not result["ok"] and any("tasks.yaml" in e for e in result["errors"])
    assert engine.live_config.files is served  # nothing swapped: desk, tasks and cards keep serving
    assert engine.tasks.config.check_every_s == 5.0


async def test_the_engine_is_a_frozen_record(make_engine):
    engine = await make_engine(n_agents=1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        engine.telemetry = None  # type: ignore[misc]
