"""Small builders of interaction records for the report tests."""

from __future__ import annotations

import datetime as dt

from acd.store.records import Interaction, Outcome, QueueVisit

T0 = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.UTC).timestamp()


def answered(call_id: str, queue: str, enter: float, answer: float, agent: str, talk: float | None,
             hold: float = 0.0, wrap: float | None = None) -> Interaction:
    return Interaction(
        call_id=call_id, started_at=enter - 5, queues=[QueueVisit(queue, enter, answer, "answered")], agent=agent,
        queue=queue, answered_at=answer, wait_s=answer - enter, talk_s=talk, hold_s=hold, wrapup_s=wrap,
        ended_at=None if talk is None else answer + talk + hold, outcome=Outcome.ANSWERED)


def abandoned(call_id: str, queue: str, enter: float, leave: float) -> Interaction:
    return Interaction(call_id=call_id, started_at=enter - 5, queues=[QueueVisit(queue, enter, leave, "abandoned")],
                       queue=queue, wait_s=leave - enter, ended_at=leave, outcome=Outcome.ABANDONED_QUEUE)


def exited(call_id: str, queue: str, enter: float, leave: float, reason: str) -> Interaction:
    return Interaction(call_id=call_id, started_at=enter - 5, queues=[QueueVisit(queue, enter, leave, reason)],
                       queue=queue, ended_at=leave, outcome=Outcome.CALLBACK if reason == "callback" else Outcome.ABANDONED_QUEUE)


def sample() -> list[Interaction]:
    """Queue ``sales`` (SL 20 s, short abandon 5 s) from 09:00 UTC; figures in test_compute."""
    return [
        answered("c1", "sales", T0 + 0, T0 + 10, "a1", talk=100, hold=20, wrap=30),
        answered("c2", "sales", T0 + 600, T0 + 630, "a2", talk=200, wrap=10),
        abandoned("c3", "sales", T0 + 1200, T0 + 1203),
        abandoned("c4", "sales", T0 + 1800, T0 + 1860),
        answered("c5", "sales", T0 + 3590, T0 + 3620, "a1", talk=300, wrap=0),
        answered("c6", "sales", T0 + 3700, T0 + 3715, "a2", talk=60, wrap=None),
        exited("c7", "sales", T0 + 3000, T0 + 3100, "callback"),
        answered("c8", "sales", T0 + 3500, T0 + 3540, "a3", talk=120, wrap=0),
    ]
