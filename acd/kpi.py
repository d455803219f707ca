"""The contact-centre KPIs, one pure function each: the reports (``acd.reports.compute``),
Prometheus (``acd.telemetry.metrics``), the live view (``/api/v1/live``), the routing core's
``least_occupied`` strategy and the wallboard all call these, so a figure means the same
everywhere. No I/O, no clock: counts and seconds in, a number (or None) out.

A ratio whose denominator is zero is ``None`` ("not defined yet"), never 0 or NaN: a queue
with no calls has no service level, it does not have a bad one.

Notation: T = the queue's service-level threshold (``service_level_s``), N = its short-abandon
threshold (``short_abandon_s``), both from ``config/queues.yaml``.

* **within service level**: an answered call's ``wait <= T``.
* **short abandon**: an abandon with ``wait < N`` (the caller hung up before the queue could
  reasonably answer: a misdial, an immediate change of mind).
* **abandon after T**: an abandon that is not short and has ``wait > T``.
* **service level** (definition ``answered``): ``answered_within_T / answered``.
* **service level** (definition ``abandon_adjusted``):
  ``answered_within_T / (answered + abandoned_after_T)``; abandons within T (and short ones)
  are neutral.
* **abandon rate**: ``(abandoned - short_abandoned) / (offered - short_abandoned)``; short
  abandons leave both sides (``abandoned`` counts every abandon, short ones included).
* **ASA** (average speed of answer): ``sum(wait of answered calls) / answered``.
* **AHT** (average handle time): ``sum(talk + hold + wrap-up) / calls whose talk has ended``.
* **occupancy**: ``busy time / staffed time``; busy = ``on_call`` + ``wrap_up`` (handling a
  call), staffed = busy + ``ready`` + ``reserved`` + ``ringing`` (available for calls).
  ``not_ready`` and ``logged_out`` time are not staffed time.
* **service-level colour** for the wallboard: ``green`` when the service level is at least the
  queue's green threshold, ``amber`` when at least its amber threshold, else ``red``; ``None``
  when the service level is not defined.
"""

from __future__ import annotations

from collections.abc import Mapping

BUSY_STATES = frozenset({"on_call", "wrap_up"})
STAFFED_STATES = frozenset({"ready", "reserved", "ringing", "on_call", "wrap_up"})
SL_DEFINITIONS = ("answered", "abandon_adjusted")
COLOURS = ("green", "amber", "red")


def _ratio(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator > 0 else None


def within_service_level(wait_s: float, service_level_s: float) -> bool:
    """An answered call counts as answered in time when ``wait <= T``."""
    return wait_s <= service_level_s


def is_short_abandon(wait_s: float, short_abandon_s: float) -> bool:
    """An abandon quicker than N (``wait < N``) is a short abandon."""
    return wait_s < short_abandon_s


def abandoned_after_service_level(wait_s: float, service_level_s: float, short_abandon_s: float) -> bool:
    """An abandon held against the adjusted service level: not short, and ``wait > T``."""
    return not is_short_abandon(wait_s, short_abandon_s) and wait_s > service_level_s


def service_level(answered_within: int, answered: int) -> float | None:
    """``answered_within_T / answered`` (definition ``answered``)."""
    return _ratio(answered_within, answered)


def service_level_abandon_adjusted(answered_within: int, answered: int, abandoned_after: int) -> float | None:
    """``answered_within_T / (answered + abandoned_after_T)`` (definition ``abandon_adjusted``)."""
    return _ratio(answered_within, answered + abandoned_after)


def service_level_by(definition: str, answered_within: int, answered: int, abandoned_after: int) -> float | None:
    """The service level by the definition's name (``answered`` or ``abandon_adjusted``)."""
    if definition == "answered":
        return service_level(answered_within, answered)
    if definition == "abandon_adjusted":
        return service_level_abandon_adjusted(answered_within, answered, abandoned_after)
    raise ValueError(f"unknown service-level definition {definition!r}; use one of {SL_DEFINITIONS}")


def abandon_rate(abandoned: int, short_abandoned: int, offered: int) -> float | None:
    """``(abandoned - short_abandoned) / (offered - short_abandoned)``."""
    return _ratio(abandoned - short_abandoned, offered - short_abandoned)


def asa(wait_answered_s: float, answered: int) -> float | None:
    """Average speed of answer: ``sum(wait of answered calls) / answered``."""
    return _ratio(wait_answered_s, answered)


def aht(handle_s: float, handled: int) -> float | None:
    """Average handle time: ``sum(talk + hold + wrap-up) / calls whose talk has ended``."""
    return _ratio(handle_s, handled)


def handle_time(talk_s: float, hold_s: float = 0.0, wrapup_s: float = 0.0) -> float:
    """One call's handle time: talk + hold + wrap-up (negative parts count 0)."""
    return max(0.0, talk_s) + max(0.0, hold_s) + max(0.0, wrapup_s)


def occupancy(busy_s: float, staffed_s: float) -> float | None:
    """``busy time / staffed time`` (see the module docstring for which states are which)."""
    return _ratio(busy_s, staffed_s)


def occupancy_from_states(seconds_by_state: Mapping[str, float]) -> float | None:
    """Occupancy from the time spent per agent state (``acd.routing.model.AgentState`` values)."""
    busy = sum(s for st, s in seconds_by_state.items() if st in BUSY_STATES)
    staffed = sum(s for st, s in seconds_by_state.items() if st in STAFFED_STATES)
    return occupancy(busy, staffed)


def service_level_colour(value: float | None, green: float, amber: float) -> str | None:
    """``green`` at or above ``green``, ``amber`` at or above ``amber``, else ``red``; None when
    the service level is not defined (no call yet)."""
    if value is None:
        return None
    if value >= green:
        return "green"
    if value >= amber:
        return "amber"
    return "red"


# --------------------------------------------------------------------------- quality (post-call survey, repeat contacts)
# CSAT: satisfied / surveys, where a survey is a call's ``csat`` answer 1-5 and satisfied means at
# least ``satisfied_min`` (4: "top two boxes"). FCR: calls resolved at first contact / eligible
# calls (see ``acd.reports.quality`` for which calls are eligible and what a repeat contact is).

def is_satisfied(score: int, satisfied_min: int = 4) -> bool:
    """A CSAT answer at or above ``satisfied_min`` counts as satisfied."""
    return score >= satisfied_min


def csat(satisfied: int, surveys: int) -> float | None:
    """``satisfied / surveys``."""
    return _ratio(satisfied, surveys)


def csat_average(score_sum: int, surveys: int) -> float | None:
    """The mean CSAT answer: ``sum(answers) / surveys``."""
    return _ratio(score_sum, surveys)


def fcr(resolved: int, eligible: int) -> float | None:
    """First-contact resolution: ``resolved / eligible``."""
    return _ratio(resolved, eligible)
