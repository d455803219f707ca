"""CSAT and FCR (acd.reports.quality): one formula each, per day and queue and per day and agent;
FCR judged only once its window has closed, a repeat call in the same queue or another contact on
the same matter within the window makes a call unresolved."""

from __future__ import annotations

from acd.reports.quality import DAY_S, OtherContact, as_dicts, compute_quality
from acd.store.records import Interaction

D0 = 1_800_000_000.0 // DAY_S * DAY_S  # a UTC midnight


def call(cid: str, t: float, *, queue="general", agent="agent1", customer="cust-1", csat=None, disposition=None, answered=True):
    return Interaction(call_id=cid, started_at=t, answered_at=t + 10 if answered else None, queue=queue, agent=agent,
                       customer_id=customer, disposition=disposition,
                       survey={"answers": {"csat": csat}} if csat is not None else None)


def test_csat_is_satisfied_over_surveys_per_queue_agent_and_day():
    calls = [call("a", D0 + 100, csat=5), call("b", D0 + 200, csat=4, agent="agent2"), call("c", D0 + 300, csat=2),
             call("d", D0 + 400), call("e", D0 + DAY_S + 50, csat=1), call("f", D0 + 500, csat=9)]  # 9: not a 1-5 answer
    report = compute_quality(calls, [], D0, D0 + 2 * DAY_S, as_of=D0 + 2 * DAY_S)
    q = {(r.day_start, r.key): r for r in report.queues}
    first, second = q[(D0, "general")], q[(D0 + DAY_S, "general")]
    assert (first.surveys, first.satisfied, first.csat, first.csat_avg) == (3, 2, 0.6667, 3.667)
    assert (second.surveys, second.satisfied, second.csat) == (1, 0, 0.0)
    agents = {(r.day_start, r.key): r for r in report.agents}
    assert agents[(D0, "agent1")].csat == 0.5 and agents[(D0, "agent2")].csat == 1.0
    assert as_dicts(report.queues, "queue")[0]["queue"] == "general"


def test_fcr_counts_repeat_contacts_on_the_same_matter_within_the_window_once_it_has_closed():
    calls = [
        call("once", D0 + 100, customer="c1"),  # never back: resolved
        call("back", D0 + 200, customer="c2"), call("again", D0 + 3 * DAY_S, customer="c2"),  # back in the queue: not
        call("other-q", D0 + 300, customer="c3"), call("sales", D0 + DAY_S, customer="c3", queue="sales"),  # another matter
        call("mailed", D0 + 400, customer="c4", disposition="billing"),  # an e-mail on the same matter: not
        call("late", D0 + 500, customer="c5"), call("late2", D0 + 9 * DAY_S, customer="c5"),  # back after the window: resolved
        call("anon", D0 + 600, customer=None),  # unknown customer: not judged
        call("missed", D0 + 700, customer="c6", answered=False),  # not answered: not a contact resolved or not
    ]
    others = [OtherContact("c4", D0 + 2 * DAY_S, "Billing"), OtherContact("c1", D0 + DAY_S, "a new address")]
    report = compute_quality(calls, others, D0, D0 + DAY_S, as_of=D0 + 10 * DAY_S, fcr_days=7)
    general = next(r for r in report.queues if r.key == "general")
    assert (general.fcr_eligible, general.fcr_resolved, general.fcr_pending) == (5, 3, 0)
    assert general.fcr == 0.6
    pending = compute_quality(calls, others, D0, D0 + DAY_S, as_of=D0 + 3 * DAY_S, fcr_days=7)
    general = next(r for r in pending.queues if r.key == "general")
    assert (general.fcr_eligible, general.fcr, general.fcr_pending) == (0, None, 5)  # windows still open: not judged yet
