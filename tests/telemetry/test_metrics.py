"""acd.telemetry.metrics: names and conventions, the formulas against hand-computed numbers,
the "today" window with a fake clock, the label guard, and the exposition format."""

from __future__ import annotations

import math
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from acd.clock import FakeClock
from acd.telemetry import Telemetry
from acd.telemetry.metrics import AGENT_STATES, LabelGuard

# 2027-01-15 10:00:00 UTC
MORNING = 1_800_000_000.0 - (1_800_000_000 % 86400) + 36000.0

ALLOWED_LABELS = {
    "queue", "flow", "step", "state", "outcome", "result", "method", "reason", "kind", "command",
    "definition", "part", "direction", "label", "script",
}
FORBIDDEN_LABEL_WORDS = ("caller", "number", "call_id", "callid", "uniqueid", "channel", "phone", "ani",
                         "dnis", "customer", "agent_id", "id")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(MORNING)


@pytest.fixture
def tel(clock: FakeClock) -> Telemetry:
    return Telemetry(clock=clock)


def samples(tel: Telemetry) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Parse the exposition with prometheus_client's own parser."""
    out: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for family in text_string_to_metric_families(tel.render().decode()):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def value(tel: Telemetry, name: str, **labels: str) -> float | None:
    return samples(tel).get((name, tuple(sorted(labels.items()))))


def busy_morning(tel: Telemetry) -> None:
    """T = 20 s, short abandon N = 5 s.
    answered waits 5, 15, 20, 25, 60 -> 3 within T (wait <= T);
    abandoned waits 2 (short), 10 (within T), 30 and 45 (after T); offered 9."""
    for _ in range(9):
        tel.call_offered("sales")
    for w in (5, 15, 20, 25, 60):
        tel.call_answered("sales", w, sl_target_s=20)
    for w in (2, 10, 30, 45):
        tel.call_abandoned("sales", w, sl_target_s=20, short_abandon_s=5)
    tel.call_completed("sales", talk_s=100, hold_s=0, wrap_s=20)
    tel.call_completed("sales", talk_s=200, hold_s=30, wrap_s=10)


# ---------------------------------------------------------------- conventions
def test_every_metric_follows_the_naming_conventions(tel: Telemetry) -> None:
    families = list(tel.registry.collect())
    assert len(families) >= 35
    for f in families:
        assert re.fullmatch(r"acd_[a-z][a-z0-9_]*[a-z0-9]", f.name), f.name
        assert f.documentation.strip(), f"{f.name} has no help text"
        if f.type == "counter":
            # the client appends _total; the family name must not carry it twice
            assert not f.name.endswith("_total"), f.name
        if f.type == "histogram":
            assert f.name.endswith("_seconds"), f"histogram {f.name} is not in base unit seconds"
        for unit in ("_ms", "_milliseconds", "_minutes", "_hours", "_percent"):
            assert unit not in f.name, f"{f.name}: use base units (seconds, ratio 0..1)"
        if re.search(r"_(wait|asa|aht|time|latency|duration)(_|$)", f.name):
            assert f.name.endswith(("_seconds", "_seconds_total")) or f.name.endswith("_seconds"), f.name


def test_metrics_are_defined_once_on_a_fresh_registry_never_the_global_one() -> None:
    before = {f.name for f in REGISTRY.collect()}
    a, b = Telemetry(clock=FakeClock(MORNING)), Telemetry(clock=FakeClock(MORNING))
    a.call_offered("sales")
    assert value(a, "acd_queue_calls_offered_total", queue="sales") == 1
    assert value(b, "acd_queue_calls_offered_total", queue="sales") is None
    assert not any(n.startswith("acd_") for n in {f.name for f in REGISTRY.collect()} - before)
    names = [f.name for f in a.registry.collect()]
    assert len(names) == len(set(names))


def test_label_sets_are_low_cardinality(tel: Telemetry) -> None:
    busy_morning(tel)
    tel.set_agent_states({"ready": 1})
    tel.ivr_step("main", "menu")
    tel.ivr_contained("main", True)
    tel.verification_attempt("pin", "ok")
    tel.ewt_error(3)
    tel.agi_command("GET DATA", 0.1)
    tel.state_repair("agent_state")
    seen: set[str] = set()
    for family in text_string_to_metric_families(tel.render().decode()):
        for s in family.samples:
            seen.update(k for k in s.labels if k != "le")
    # the registry's declared label names too (children that do not exist yet)
    for collector in list(tel.registry._collector_to_names):  # noqa: SLF001 - introspection in a test
        seen.update(getattr(collector, "_labelnames", ()))
    assert seen <= ALLOWED_LABELS, seen - ALLOWED_LABELS
    for label in seen:
        assert label not in FORBIDDEN_LABEL_WORDS


def test_the_documented_metrics_exist(tel: Telemetry) -> None:
    names = tel.sample_names()
    for required in (
        "acd_queue_calls_offered_total", "acd_queue_calls_answered_total", "acd_queue_calls_abandoned_total",
        "acd_queue_calls_abandoned_short_total", "acd_queue_wait_seconds_bucket", "acd_queue_talk_seconds_bucket",
        "acd_queue_service_level_today_ratio", "acd_queue_asa_today_seconds", "acd_queue_aht_today_seconds",
        "acd_queue_abandon_rate_today_ratio", "acd_queue_calls_waiting", "acd_queue_longest_wait_seconds",
        "acd_queue_agents_logged_in", "acd_agents", "acd_agent_occupancy_today_ratio",
        "acd_agent_state_seconds_total", "acd_ivr_sessions_total", "acd_ivr_step_visits_total",
        "acd_ivr_containment_today_ratio", "acd_ivr_sessions_ended_total", "acd_ivr_verification_attempts_total",
        "acd_routing_decision_seconds_bucket", "acd_ewt_error_seconds_bucket", "acd_ami_link_up",
        "acd_ami_reconnects_total", "acd_state_repairs_total", "acd_agi_sessions_active",
        "acd_agi_sessions_total", "acd_agi_command_seconds_bucket",
    ):
        assert required in names, required


# ---------------------------------------------------------------- formulas
def test_service_level_both_definitions_asa_aht_and_abandon_rate_hand_computed(tel: Telemetry) -> None:
    busy_morning(tel)
    day = tel.queue_today("sales")
    assert (day.offered, day.answered, day.answered_within_sl) == (9, 5, 3)
    assert (day.abandoned, day.abandoned_short, day.abandoned_after_sl) == (4, 1, 2)
    assert day.service_level("answered") == pytest.approx(3 / 5)
    assert day.service_level("abandon_adjusted") == pytest.approx(3 / 7)
    assert day.asa_s == pytest.approx((5 + 15 + 20 + 25 + 60) / 5)
    assert day.aht_s == pytest.approx((120 + 240) / 2)
    assert day.abandon_rate == pytest.approx(3 / 8)
    # the same figures as scraped
    assert value(tel, "acd_queue_service_level_today_ratio", queue="sales", definition="answered") == pytest.approx(0.6)
    assert value(tel, "acd_queue_service_level_today_ratio", queue="sales",
                 definition="abandon_adjusted") == pytest.approx(3 / 7)
    assert value(tel, "acd_queue_asa_today_seconds", queue="sales") == pytest.approx(25.0)
    assert value(tel, "acd_queue_aht_today_seconds", queue="sales") == pytest.approx(180.0)
    assert value(tel, "acd_queue_abandon_rate_today_ratio", queue="sales") == pytest.approx(0.375)
    assert value(tel, "acd_queue_calls_today", queue="sales", outcome="abandoned_short") == 1
    # the counters from which Prometheus computes the same over any window
    assert value(tel, "acd_queue_calls_answered_within_sl_total", queue="sales") == 3
    assert value(tel, "acd_queue_calls_abandoned_after_sl_total", queue="sales") == 2
    assert value(tel, "acd_queue_calls_abandoned_short_total", queue="sales") == 1
    assert value(tel, "acd_queue_wait_seconds_sum", queue="sales", outcome="answered") == 125
    assert value(tel, "acd_queue_wait_seconds_bucket", queue="sales", outcome="answered", le="20.0") == 3
    assert value(tel, "acd_queue_handle_seconds_total", queue="sales", part="hold") == 30
    assert value(tel, "acd_queue_talk_seconds_count", queue="sales") == 2


def test_a_wait_exactly_at_t_is_within_and_a_short_abandon_never_counts_after_t(tel: Telemetry) -> None:
    tel.call_answered("q", 20.0, sl_target_s=20)
    tel.call_abandoned("q", 20.0, sl_target_s=20, short_abandon_s=5)  # within T: neutral
    tel.call_abandoned("q", 8.0, sl_target_s=3, short_abandon_s=10)  # short, although after T
    day = tel.queue_today("q")
    assert day.answered_within_sl == 1 and day.abandoned_after_sl == 0 and day.abandoned_short == 1
    assert day.service_level("abandon_adjusted") == 1.0
    with pytest.raises(ValueError):
        day.service_level("nonsense")


def test_figures_without_a_denominator_are_not_exposed(tel: Telemetry) -> None:
    tel.call_offered("empty")
    s = samples(tel)
    assert ("acd_queue_calls_today", (("outcome", "offered"), ("queue", "empty"))) in s
    assert not any(name == "acd_queue_service_level_today_ratio" for name, _ in s)
    assert not any(name == "acd_queue_asa_today_seconds" for name, _ in s)
    assert not any(name == "acd_agent_occupancy_today_ratio" for name, _ in s)
    assert tel.queue_today("nobody").service_level() is None


def test_occupancy_is_busy_over_staffed_time(tel: Telemetry) -> None:
    tel.agent_time("on_call", 300)
    tel.agent_time("wrap_up", 100)
    tel.agent_time("ready", 80)
    tel.agent_time("ringing", 20)
    tel.agent_time("not_ready", 500)  # not staffed: excluded
    tel.agent_time("logged_out", 9999)
    assert tel.occupancy_today() == pytest.approx(400 / 500)
    assert value(tel, "acd_agent_occupancy_today_ratio") == pytest.approx(0.8)
    assert value(tel, "acd_agent_state_seconds_total", state="not_ready") == 500


def test_agents_by_state_exposes_every_state(tel: Telemetry) -> None:
    tel.set_agent_states({"ready": 3, "on_call": 2})
    tel.set_agent_states({"ready": 1})
    for agent_state in AGENT_STATES:
        assert value(tel, "acd_agents", state=agent_state) == (1 if agent_state == "ready" else 0)


def test_today_resets_at_midnight_in_the_configured_zone(clock: FakeClock) -> None:
    tel = Telemetry(clock=clock, day_tz="Europe/Paris")  # 10:00 UTC = 11:00 Paris
    tel.call_answered("sales", 5, 20)
    clock.advance(12 * 3600)  # 23:00 Paris: still the same day
    tel.call_answered("sales", 50, 20)
    assert tel.queue_today("sales").answered == 2
    clock.advance(3600 + 1)  # 00:00:01 Paris: a new day
    assert tel.queue_today("sales").answered == 0
    assert value(tel, "acd_queue_asa_today_seconds", queue="sales") is None
    assert value(tel, "acd_queue_calls_answered_total", queue="sales") == 2  # counters never reset


def test_ivr_and_engine_metrics(tel: Telemetry) -> None:
    tel.ivr_session("main")
    tel.ivr_step("main", "menu")
    tel.ivr_step("main", "menu")
    for contained in (True, True, False, True):
        tel.ivr_contained("main", contained)
    tel.verification_attempt("pin", "ok")
    tel.verification_attempt("pin", "failed")
    tel.routing_decision(0.002)
    tel.ewt_error(-40)
    tel.ewt_error(12)
    tel.ami_link(True)
    tel.ami_reconnect()
    tel.state_repair("agent_state")
    tel.agi_session_started()
    tel.agi_session_started("claim")
    tel.agi_session_ended()
    tel.agent_offer("rona")
    tel.agi_command("stream file welcome 123456", 0.2)
    tel.set_queue_snapshot("sales", waiting=3, longest_wait_s=42.5, agents_logged_in=0, agents_available=0)
    s = samples(tel)
    assert s[("acd_ivr_step_visits_total", (("flow", "main"), ("step", "menu")))] == 2
    assert value(tel, "acd_ivr_containment_today_ratio", flow="main") == pytest.approx(0.75)
    assert value(tel, "acd_ivr_sessions_ended_total", flow="main", outcome="not_contained") == 1
    assert value(tel, "acd_ivr_verification_attempts_total", method="pin", result="failed") == 1
    assert value(tel, "acd_routing_decision_seconds_bucket", le="0.0025") == 1
    assert value(tel, "acd_ewt_error_seconds_sum", direction="early") == 40
    assert value(tel, "acd_ewt_error_seconds_bucket", direction="late", le="15.0") == 1
    assert value(tel, "acd_ami_link_up") == 1 and value(tel, "acd_ami_reconnects_total") == 1
    assert value(tel, "acd_agi_sessions_active") == 1
    assert value(tel, "acd_agi_sessions_total", script="ivr") == 1
    assert value(tel, "acd_agi_sessions_total", script="claim") == 1
    assert value(tel, "acd_agent_offers_total", result="rona") == 1
    # only the command words become the label, never the arguments
    assert value(tel, "acd_agi_command_seconds_count", command="STREAM FILE") == 1
    tel.agi_command("GET FULL VARIABLE ${CHANNEL}", 0.001)
    tel.agi_command("EXEC MusicOnHold default,20", 20.0)
    tel.agi_command("0612345678", 0.1)
    assert value(tel, "acd_agi_command_seconds_count", command="GET FULL VARIABLE") == 1
    assert value(tel, "acd_agi_command_seconds_count", command="EXEC") == 1
    assert value(tel, "acd_agi_command_seconds_count", command="UNKNOWN") == 1
    assert value(tel, "acd_queue_longest_wait_seconds", queue="sales") == 42.5
    assert value(tel, "acd_queue_agents_logged_in", queue="sales") == 0
    tel.ami_link(False)
    assert value(tel, "acd_ami_link_up") == 0
    tel.forget_queue("sales")
    assert value(tel, "acd_queue_calls_waiting", queue="sales") is None


def test_ami_link_starts_down_until_told_otherwise(tel: Telemetry) -> None:
    assert value(tel, "acd_ami_link_up") == 0


# ---------------------------------------------------------------- label guard
@pytest.mark.parametrize(
    "bad",
    ["+441632960123", "0612345678", "06 12 34 56 78", "1795355634.142", "3f2a9c1e-8b7d-4c2e-9f00-1234abcd5678",
     "x" * 65, "sales\nqueue", 'a"b', ""],
)
def test_label_values_that_look_high_cardinality_become_other(tel: Telemetry, bad: str) -> None:
    tel.call_offered(bad)
    tel.ivr_step("main", bad)
    assert value(tel, "acd_queue_calls_offered_total", queue="other") == 1
    assert value(tel, "acd_ivr_step_visits_total", flow="main", step="other") == 1
    text = tel.render().decode()
    if bad:
        assert f'"{bad}"' not in text
    rejected = sum(v for (name, _), v in samples(tel).items() if name == "acd_telemetry_label_values_rejected_total")
    assert rejected == 2


@pytest.mark.parametrize("good", ["sales", "support-fr", "vip_2", "main/billing", "Level 1", "q:2024"])
def test_ordinary_names_pass_the_guard(good: str) -> None:
    assert LabelGuard().__call__("queue", good) == good


def test_a_label_is_capped_in_distinct_values() -> None:
    guard = LabelGuard(max_values=3)
    assert [guard("step", s) for s in ("a", "b", "c", "d", "a")] == ["a", "b", "c", "other", "a"]


def test_enum_values_are_accepted_by_value() -> None:
    from acd.routing.model import AgentState

    tel = Telemetry(clock=FakeClock(MORNING))
    tel.set_agent_states({AgentState.ON_CALL: 4})  # type: ignore[dict-item]
    assert value(tel, "acd_agents", state="on_call") == 4


# ---------------------------------------------------------------- exposition
def test_exposition_parses_and_is_consistent(tel: Telemetry) -> None:
    busy_morning(tel)
    families = {f.name: f for f in text_string_to_metric_families(tel.render().decode())}
    wait = families["acd_queue_wait_seconds"]
    assert wait.type == "histogram"
    buckets = [s for s in wait.samples if s.name.endswith("_bucket") and s.labels["outcome"] == "answered"]
    les = [float(s.labels["le"]) for s in buckets]
    counts = [s.value for s in buckets]
    assert les == sorted(les) and math.isinf(les[-1])
    assert counts == sorted(counts) and counts[-1] == 5
    assert families["acd_queue_service_level_today_ratio"].type == "gauge"
    assert tel.render().startswith(b"# HELP ")


def test_scrape_hooks_refresh_live_gauges_and_a_failing_hook_does_not_break_the_scrape(tel: Telemetry) -> None:
    live = {"waiting": 1}

    def push(t: Telemetry) -> None:
        t.set_queue_snapshot("sales", waiting=live["waiting"], longest_wait_s=7, agents_logged_in=2)

    def broken(t: Telemetry) -> None:
        raise RuntimeError("live state unavailable")

    tel.add_scrape_hook(broken)
    tel.add_scrape_hook(push)
    assert value(tel, "acd_queue_calls_waiting", queue="sales") == 1
    live["waiting"] = 4
    assert value(tel, "acd_queue_calls_waiting", queue="sales") == 4




@settings(max_examples=60, deadline=None)
@given(
    calls=st.lists(st.tuples(st.booleans(), st.floats(min_value=0, max_value=600, allow_nan=False)), max_size=60),
    t=st.sampled_from([10.0, 20.0, 30.0]),
    n=st.sampled_from([0.0, 5.0, 15.0]),
)
def test_today_figures_agree_with_the_counters_and_a_brute_force_count(calls, t, n) -> None:
    tel = Telemetry(clock=FakeClock(MORNING))
    for answered, wait in calls:
        tel.call_offered("q")
        if answered:
            tel.call_answered("q", wait, sl_target_s=t)
        else:
            tel.call_abandoned("q", wait, sl_target_s=t, short_abandon_s=n)
    ans = [w for a, w in calls if a]
    abn = [w for a, w in calls if not a]
    within = sum(w <= t for w in ans)
    short = sum(w < n for w in abn)
    after = sum(w >= n and w > t for w in abn)
    day = tel.queue_today("q")
    assert (day.answered_within_sl, day.abandoned_short, day.abandoned_after_sl) == (within, short, after)
    s = samples(tel)
    sl1 = s.get(("acd_queue_service_level_today_ratio", (("definition", "answered"), ("queue", "q"))))
    sl2 = s.get(("acd_queue_service_level_today_ratio", (("definition", "abandon_adjusted"), ("queue", "q"))))
    if ans:
        assert sl1 == pytest.approx(within / len(ans))
        counters = s[("acd_queue_calls_answered_within_sl_total", (("queue", "q"),))] / s[("acd_queue_calls_answered_total", (("queue", "q"),))]
        assert counters == pytest.approx(sl1)
        assert s[("acd_queue_asa_today_seconds", (("queue", "q"),))] == pytest.approx(sum(ans) / len(ans))
    else:
        assert sl1 is None
    if ans or after:
        assert sl2 == pytest.approx(within / (len(ans) + after))
    else:
        assert sl2 is None
    if len(calls) - short:
        assert s[("acd_queue_abandon_rate_today_ratio", (("queue", "q"),))] == pytest.approx(
            (len(abn) - short) / (len(calls) - short))


def test_ratio_series_exist_at_zero_from_the_first_event(tel: Telemetry) -> None:
    """PromQL ratios need both series: a queue with no call within T yet must show 0 within T,
    not an absent series (the service-level alert would never fire)."""
    tel.call_answered("late", 90, sl_target_s=20)
    assert value(tel, "acd_queue_calls_answered_within_sl_total", queue="late") == 0
    assert value(tel, "acd_queue_calls_abandoned_short_total", queue="late") == 0
    assert value(tel, "acd_queue_handle_seconds_total", queue="late", part="wrap") == 0
    tel.ivr_contained("main", False)
    assert value(tel, "acd_ivr_sessions_ended_total", flow="main", outcome="contained") == 0
