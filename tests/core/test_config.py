from pathlib import Path

import pytest

from acd.routing.config import load_agents, load_queues
from acd.settings import ConfigError

ROOT = Path(__file__).resolve().parents[2]


def test_shipped_config_loads():
    queues = load_queues(ROOT / "config/queues.yaml")
    agents = load_agents(ROOT / "config/agents.yaml")
    assert {q.name for q in queues} >= {"general", "support", "sales"}
    assert all(1 <= level <= 5 for a in agents for level in a.skills.values())


def test_queue_errors_name_file_line_and_key(tmp_path):
    f = tmp_path / "queues.yaml"
    f.write_text("queues:\n  - name: a\n    ring_timeout: 5\n  - name: b\n    strategy: fastest\n    overflow_to: nowhere\n")
    with pytest.raises(ConfigError) as err:
        load_queues(f)
    text = "\n".join(err.value.problems)
    assert f"{f}:3:5: queues[0].ring_timeout: unknown key" in text
    assert "queues[1].strategy: 'fastest' is not one of" in text and f"{f}:5:5" in text
    assert "queues[1].overflow_to: 'nowhere'" in text


def test_agent_errors(tmp_path):
    f = tmp_path / "agents.yaml"
    f.write_text("agents:\n  - {id: a1, name: A, skills: {x: 9}}\n  - {id: a2, name: B, endpoint: PJSIP/a2, skills: {x: 9}}\n")
    with pytest.raises(ConfigError) as err:
        load_agents(f)
    text = "\n".join(err.value.problems)
    assert "agents[0].endpoint: required key is missing" in text
    assert "agents[1].skills.x: proficiency 9 is not between 1 and 5" in text


def test_wallboard_thresholds_are_shares_and_amber_is_not_above_green(tmp_path):
    f = tmp_path / "queues.yaml"
    f.write_text("queues:\n  - name: a\n    sl_green: 80\n  - name: b\n    sl_green: 0.7\n    sl_amber: 0.9\n  - name: c\n    sl_amber: 0.5\n")
    with pytest.raises(ConfigError) as err:
        load_queues(f)
    text = "\n".join(err.value.problems)
    assert f"{f}:3:5: queues[0].sl_green: 80" in text and "between 0 and 1" in text
    assert f"{f}:6:5: queues[1].sl_amber: 0.9 is above sl_green 0.7" in text
    assert len(err.value.problems) == 2  # queue c is fine
    f.write_text("queues:\n  - name: c\n    sl_green: 0.9\n    sl_amber: 0.5\n")
    [q] = load_queues(f)
    assert (q.sl_green, q.sl_amber) == (0.9, 0.5)
def test_queue_ranges_are_checked_with_file_line_and_key(tmp_path):
    f = tmp_path / "queues.yaml"
    f.write_text(
        "queues:\n"
        "  - name: a\n"
        "    service_level_s: 0\n"
        "    ring_timeout_s: -1\n"
        "    wrapup_s: -0.5\n"
        "    max_wait_s: 0\n"
        "    moh_slice_s: 0\n"
        "    max_length: 0\n"
        "    callback_attempts: 0\n"
        "    callback_after_s: -1\n"
        "    sticky_s: -2\n"
        "    service_level_goal: 1.5\n"
        "    skills: {billing: 7}\n"
        "    relax:\n"
        "      - {after_s: -1, min_proficiency: 0}\n")
    with pytest.raises(ConfigError) as err:
        load_queues(f)
    assert set(err.value.problems) == {
        f"{f}:3:5: queues[0].service_level_s: must be greater than 0 (got 0.0)",
        f"{f}:4:5: queues[0].ring_timeout_s: must be greater than 0 (got -1.0)",
        f"{f}:5:5: queues[0].wrapup_s: must be at least 0 (got -0.5)",
        f"{f}:6:5: queues[0].max_wait_s: must be greater than 0 (got 0.0)",
        f"{f}:7:5: queues[0].moh_slice_s: must be greater than 0 (got 0.0)",
        f"{f}:8:5: queues[0].max_length: must be at least 1 (got 0)",
        f"{f}:9:5: queues[0].callback_attempts: must be at least 1 (got 0)",
        f"{f}:10:5: queues[0].callback_after_s: must be at least 0 (got -1.0)",
        f"{f}:11:5: queues[0].sticky_s: must be at least 0 (got -2.0)",
        f"{f}:12:5: queues[0].service_level_goal: must be at most 1 (got 1.5)",
    }
    # fixed, the relax step and the skill level are reported next
    f.write_text("queues:\n  - name: a\n    skills: {billing: 7}\n    relax:\n      - {after_s: -1, min_proficiency: 0}\n")
    with pytest.raises(ConfigError) as err:
        load_queues(f)
    text = "\n".join(err.value.problems)
    assert f"{f}:5:10: queues[0].relax[0].after_s: must be at least 0 (got -1.0)" in text
    assert "queues[0].relax[0].min_proficiency: must be at least 1 (got 0)" in text
    f.write_text("queues:\n  - name: a\n    skills: {billing: 7}\n")
    with pytest.raises(ConfigError) as err:
        load_queues(f)
    assert err.value.problems == [f"{f}:3:14: queues[0].skills.billing: proficiency 7 is not between 1 and 5"]


def test_a_bad_value_in_one_queue_does_not_cascade_into_the_queues_overflowing_to_it(tmp_path):
    """`service_level_s: -5` on general is one problem, not one more for every queue whose
    overflow_to names general; an overflow_to naming no queue says where and what was meant."""
    f = tmp_path / "queues.yaml"
    f.write_text("queues:\n  - name: general\n    service_level_s: -5\n"
                 "  - name: support\n    overflow_to: general\n"
                 "  - name: sales\n    overflow_to: supprt\n")
    with pytest.raises(ConfigError) as err:
        load_queues(f)
    assert err.value.problems == [
        f"{f}:3:5: queues[0].service_level_s: must be greater than 0 (got -5.0)",
        f"{f}:7:5: queues[2].overflow_to: 'supprt' is not a queue in this file (did you mean `support`?)",
    ]
