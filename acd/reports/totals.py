"""Totals of a report's interval rows: one row per queue (or agent) over the whole range, and one
for all of them. Rates are recomputed from the summed counts (the service level of a day is not
the mean of its hours' service levels), with the same formulas as each interval
(``acd.reports.compute``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import fields

from acd.reports.compute import AgentRow, QueueRow, _finish_queue

ALL = "(all)"

_QUEUE_SUMS = ("offered", "answered", "abandoned", "short_abandoned", "other", "answered_in_sl",
               "_wait_sum", "_handle_sum", "_handled")
_AGENT_SUMS = ("answered", "talk_s", "hold_s", "wrapup_s", "handle_s", "_handled", "_busy_in_interval")


def is_empty(row: QueueRow | AgentRow) -> bool:
    """Nothing happened in this interval for this queue or agent (not shown in a table)."""
    if isinstance(row, QueueRow):
        return row.offered == 0
    return row.answered == 0 and not row.logged_in_s


def queue_totals(rows: Sequence[QueueRow]) -> list[QueueRow]:
    by_queue: dict[str, list[QueueRow]] = {}
    for r in rows:
        by_queue.setdefault(r.queue, []).append(r)
    out = [_sum_queue(name, group) for name, group in sorted(by_queue.items())]
    if len(out) > 1:
        total = _sum_queue(ALL, list(rows))
        total.service_level_s = total.short_abandon_s = 0.0  # thresholds differ by queue
        out.append(total)
    return out


def agent_totals(rows: Sequence[AgentRow]) -> list[AgentRow]:
    by_agent: dict[str, list[AgentRow]] = {}
    for r in rows:
        by_agent.setdefault(r.agent, []).append(r)
    out = [_sum_agent(name, group) for name, group in sorted(by_agent.items())]
    if len(out) > 1:
        out.append(_sum_agent(ALL, list(rows)))
    return out


def _sum_queue(name: str, group: list[QueueRow]) -> QueueRow:
    first = group[0]
    total = QueueRow(interval_start=min(r.interval_start for r in group), queue=name,
                     service_level_s=first.service_level_s, short_abandon_s=first.short_abandon_s)
    for f in _QUEUE_SUMS:
        setattr(total, f, sum(getattr(r, f) for r in group))
    total.longest_wait_s = max(r.longest_wait_s for r in group)
    _finish_queue(total)
    return total


def _sum_agent(name: str, group: list[AgentRow]) -> AgentRow:
    total = AgentRow(interval_start=min(r.interval_start for r in group), agent=name)
    for f in _AGENT_SUMS:
        setattr(total, f, sum(getattr(r, f) for r in group))
    logged = [r.logged_in_s for r in group if r.logged_in_s is not None]
    total.logged_in_s = sum(logged) if logged else None
    total.aht_s = total.handle_s / total._handled if total._handled else None
    if total.logged_in_s:
        total.occupancy = total._busy_in_interval / total.logged_in_s
    return total


assert set(_QUEUE_SUMS) <= {f.name for f in fields(QueueRow)}
assert set(_AGENT_SUMS) <= {f.name for f in fields(AgentRow)}
