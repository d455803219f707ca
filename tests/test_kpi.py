"""One formula per KPI (acd/kpi.py), with the edge cases: zero calls, zero staffed time, the
boundaries of T and N."""

from __future__ import annotations

import pytest

from acd import kpi


def test_service_level_is_answered_within_over_answered() -> None:
    assert kpi.service_level(8, 10) == pytest.approx(0.8)
    assert kpi.service_level(0, 3) == 0.0


def test_service_level_is_undefined_with_zero_answered() -> None:
    assert kpi.service_level(0, 0) is None
    assert kpi.service_level_abandon_adjusted(0, 0, 0) is None


def test_abandon_adjusted_service_level_counts_abandons_after_t() -> None:
    assert kpi.service_level_abandon_adjusted(8, 10, 6) == pytest.approx(0.5)
    # no call answered but callers gave up after T: the service level is 0, not undefined
    assert kpi.service_level_abandon_adjusted(0, 0, 2) == 0.0


def test_service_level_by_names_the_definition_and_refuses_others() -> None:
    assert kpi.service_level_by("answered", 1, 2, 2) == 0.5
    assert kpi.service_level_by("abandon_adjusted", 1, 2, 2) == 0.25
    with pytest.raises(ValueError, match="abandon_adjusted"):
        kpi.service_level_by("offered", 1, 2, 2)


def test_within_service_level_includes_the_threshold() -> None:
    assert kpi.within_service_level(20.0, 20.0)
    assert not kpi.within_service_level(20.01, 20.0)


def test_short_abandon_is_strictly_quicker_than_n() -> None:
    assert kpi.is_short_abandon(4.99, 5.0)
    assert not kpi.is_short_abandon(5.0, 5.0)


def test_abandon_after_t_is_neither_short_nor_within_t() -> None:
    assert kpi.abandoned_after_service_level(21.0, 20.0, 5.0)
    assert not kpi.abandoned_after_service_level(20.0, 20.0, 5.0)
    assert not kpi.abandoned_after_service_level(3.0, 2.0, 5.0)  # short beats after T


def test_abandon_rate_leaves_short_abandons_out_of_both_sides() -> None:
    assert kpi.abandon_rate(abandoned=3, short_abandoned=1, offered=11) == pytest.approx(0.2)
    assert kpi.abandon_rate(0, 0, 5) == 0.0


def test_abandon_rate_is_undefined_with_zero_calls_or_only_short_abandons() -> None:
    assert kpi.abandon_rate(0, 0, 0) is None
    assert kpi.abandon_rate(2, 2, 2) is None


def test_asa_and_aht_are_averages_and_undefined_without_calls() -> None:
    assert kpi.asa(30.0, 3) == 10.0
    assert kpi.asa(0.0, 0) is None
    assert kpi.aht(600.0, 2) == 300.0
    assert kpi.aht(0.0, 0) is None


def test_handle_time_adds_its_parts_and_ignores_negative_ones() -> None:
    assert kpi.handle_time(100.0, 20.0, 30.0) == 150.0
    assert kpi.handle_time(-1.0, 0.0, 5.0) == 5.0


def test_occupancy_is_busy_over_staffed_and_undefined_with_zero_staffed_time() -> None:
    assert kpi.occupancy(30.0, 60.0) == 0.5
    assert kpi.occupancy(0.0, 0.0) is None


def test_occupancy_from_states_excludes_not_ready_and_logged_out() -> None:
    spent = {"on_call": 300.0, "wrap_up": 60.0, "ready": 200.0, "ringing": 40.0, "not_ready": 900.0, "logged_out": 5000.0}
    assert kpi.occupancy_from_states(spent) == pytest.approx(360.0 / 600.0)
    assert kpi.occupancy_from_states({"not_ready": 100.0}) is None
    assert kpi.occupancy_from_states({}) is None


@pytest.mark.parametrize(("value", "colour"), [(0.9, "green"), (0.8, "green"), (0.79, "amber"), (0.6, "amber"), (0.59, "red"), (None, None)])
def test_service_level_colour_thresholds(value: float | None, colour: str | None) -> None:
    assert kpi.service_level_colour(value, green=0.8, amber=0.6) == colour


def test_csat_and_fcr_ratios_and_their_empty_cases() -> None:
    assert kpi.csat(3, 4) == 0.75 and kpi.csat(0, 0) is None
    assert kpi.csat_average(17, 4) == 4.25 and kpi.csat_average(0, 0) is None
    assert kpi.fcr(9, 10) == 0.9 and kpi.fcr(0, 0) is None
    assert kpi.is_satisfied(4) and not kpi.is_satisfied(3) and kpi.is_satisfied(3, satisfied_min=3)
