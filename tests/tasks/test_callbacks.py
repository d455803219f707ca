"""The call-back retry policy, pure: what a booked call's stored record says, how many attempts a
task has had since its last reset, and when the next one is (or that there is none)."""

from __future__ import annotations

from acd.store.records import Interaction, QueueVisit
from acd.tasks.callbacks import after_failed_callback, booked_call_result, callback_call_id, callback_counts


def _rec(**kw) -> Interaction:
    return Interaction(call_id="cb-t", started_at=100.0, **kw)


def test_the_booked_calls_end_from_its_record():
    assert booked_call_result(None) is None  # not in the store yet
    assert booked_call_result(_rec(queues=[QueueVisit("general", 100.0)])) is None  # still waiting
    assert booked_call_result(_rec(queues=[QueueVisit("general", 100.0, 400.0, "callback_failed")])).reason == "callback_failed"
    lost = booked_call_result(_rec(queues=[QueueVisit("general", 100.0, 150.0, "engine_lost_call")]))
    assert lost is not None and not lost.connected and lost.reason == "engine_lost_call"
    assert booked_call_result(_rec()).reason == "refused"  # the queue never took it
    assert booked_call_result(_rec(answered_at=130.0, queues=[QueueVisit("general", 100.0, 130.0, "answered")])).connected


def test_attempts_count_since_the_last_reset_and_call_ids_never_repeat():
    kinds = ["created", "callback_booked", "callback_failed", "callback_booked", "callback_failed", "callback_exhausted", "escalated"]
    counts = callback_counts(kinds)
    assert (counts.booked, counts.failed) == (2, 2)
    again = callback_counts([*kinds, "reschedule", "callback_booked", "callback_failed"])
    assert (again.booked, again.failed) == (3, 1)
    assert [callback_call_id("t", n) for n in (1, 2, 3)] == ["cb-t", "cb-t-2", "cb-t-3"]


def test_the_next_attempt_is_spaced_until_the_last():
    first = after_failed_callback(0, attempts=3, spacing_s=600, now=1000.0)
    assert (first.attempt, first.retry_at, first.exhausted) == (1, 1600.0, False)
    last = after_failed_callback(2, attempts=3, spacing_s=600, now=1000.0)
    assert (last.attempt, last.retry_at, last.exhausted) == (3, None, True)
    assert after_failed_callback(0, attempts=1, spacing_s=600, now=0.0).exhausted  # one attempt: no retry


def test_the_retry_policy_comes_from_tasks_yaml_and_bad_values_are_named(tmp_path):
    import pytest

    from acd.settings import ConfigError
    from acd.tasks.rules import load_task_config

    path = tmp_path / "tasks.yaml"
    path.write_text("callback_attempts: 4\ncallback_retry: 2h\ntypes:\n  callback: {callback: true}\n")
    config = load_task_config(path, frozenset())
    assert (config.callback_attempts, config.callback_retry_s) == (4, 7200.0)
    path.write_text("callback_attempts: 0\ncallback_retry: 5s\ntypes:\n  callback: {callback: true}\n")
    with pytest.raises(ConfigError) as err:
        load_task_config(path, frozenset())
    assert [p.split(": ", 1)[1].split(":")[0] for p in err.value.problems] == ["callback_attempts", "callback_retry"]
    assert err.value.problems[0].startswith(f"{path}:1:")


def test_the_desk_shows_what_became_of_a_callbacks_calls():
    from acd.tasks.callbacks import callback_state

    booked, failed = ("callback_booked", {}), ("callback_failed", {"attempt": 1, "retry_at": 900.0, "reason": "busy"})
    assert callback_state([("created", {})], attempts=3, call_booked=False)["state"] == "waiting"
    assert callback_state([("created", {}), booked], attempts=3, call_booked=True)["state"] == "calling"
    state = callback_state([("created", {}), booked, failed], attempts=3, call_booked=False)
    assert state == {"state": "retry", "attempt": 1, "attempts": 3, "next_try_at": 900.0, "reason": "busy", "exhausted": False}
    out = callback_state([booked, failed, booked, ("callback_failed", {"retry_at": None, "reason": "busy"}), ("callback_exhausted", {})],
                         attempts=2, call_booked=False)
    assert (out["state"], out["attempt"], out["next_try_at"], out["exhausted"]) == ("exhausted", 2, None, True)
    assert callback_state([booked, failed, ("reschedule", {})], attempts=3, call_booked=False)["attempt"] == 0  # a reset
    assert callback_state([booked, ("callback_connected", {})], attempts=3, call_booked=True)["state"] == "connected"
    assert callback_state([("callback_unreachable", {})], attempts=3, call_booked=True)["state"] == "unreachable"
