"""What became of a call-back task's outbound call, and what to do next (pure: no I/O, no clock).

A due call-back task is booked as a callback call through the ACD (``cb-<task>`` for the first
attempt, ``cb-<task>-<n>`` for the n-th). Within one booking the queue already tries the customer
again (``callback_attempts``/``callback_retry_s`` of queues.yaml: a no-answer, a busy line, a
failed leg). When that booking ends without anyone connected, the task's retry policy of
``config/tasks.yaml`` applies: booked again ``callback_retry`` later, at most
``callback_attempts`` bookings; then the task is marked ``callback_exhausted`` on its record and
escalated to the supervisors. A new due time (reschedule) or a reopened task starts the attempts
again; call ids keep counting, so no call record is ever reused."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from dataclasses import dataclass

from acd.store.records import Interaction

CALL_PREFIX = "cb-"


def callback_call_id(task_id: str, attempt: int) -> str:
    """The call id of a task's ``attempt``-th booking (1: the first)."""
    return f"{CALL_PREFIX}{task_id}" if attempt <= 1 else f"{CALL_PREFIX}{task_id}-{attempt}"


RESETS = ("reschedule", "reopen")  # a new due time or a reopened task: the attempts start again


@dataclass(frozen=True)
class CallbackCounts:
    booked: int  # call-back calls booked in the task's whole life (each call id is new)
    failed: int  # of the ones since the last reset, those that ended with nobody connected


def callback_counts(kinds: Sequence[str]) -> CallbackCounts:
    """From the kinds of the task's history, oldest first."""
    booked = sum(1 for k in kinds if k == "callback_booked")
    since = max((i for i, k in enumerate(kinds) if k in RESETS), default=-1)
    return CallbackCounts(booked, sum(1 for k in kinds[since + 1:] if k == "callback_failed"))


@dataclass(frozen=True)
class CallResult:
    connected: bool
    agent: str | None = None  # who talked to the customer
    reason: str | None = None  # why it failed: the queue's exit reason (callback_failed, engine_stopped...) or refused


def booked_call_result(rec: Interaction | None) -> CallResult | None:
    """The end of a booked call-back as its stored record says it; None while it is still waiting
    (or not yet in the store)."""
    if rec is None:
        return None
    if rec.answered_at is not None:
        return CallResult(connected=True, agent=rec.agent)
    if not rec.queues:
        return CallResult(connected=False, reason="refused")  # the queue refused it: no visit was recorded
    last = rec.queues[-1]
    if last.exited_at is None:
        return None
    return CallResult(connected=False, reason=last.reason or "failed")


@dataclass(frozen=True)
class RetryDecision:
    attempt: int  # the booking that failed (1: the first)
    retry_at: float | None  # when to book the next one; None: attempts exhausted

    @property
    def exhausted(self) -> bool:
        return self.retry_at is None


def after_failed_callback(failed_before: int, *, attempts: int, spacing_s: float, now: float) -> RetryDecision:
    """The decision after a booking failed, ``failed_before`` bookings of the task having failed
    already: again ``spacing_s`` from now, unless that was the ``attempts``-th."""
    attempt = failed_before + 1
    return RetryDecision(attempt, None if attempt >= attempts else now + spacing_s)


def callback_state(events: Sequence[tuple[str, dict[str, Any]]], *, attempts: int, call_booked: bool) -> dict[str, Any]:
    """What the desk shows of a call-back task, from its history (kind and data, oldest first)
    since the last reset: ``state`` (``waiting``: no call yet; ``calling``: a call booked, its end
    not known; ``retry``: the last call failed, the next at ``next_try_at``; ``exhausted``: out of
    attempts, with the supervisors; ``connected``; ``unreachable``: no number to ring), the failed
    ``attempt`` of ``attempts``, and the last failure's ``reason``."""
    since = max((i for i, (k, _) in enumerate(events) if k in RESETS), default=-1)
    recent = events[since + 1:]
    failed = [d for k, d in recent if k == "callback_failed"]
    last = recent[-1][0] if recent else None
    exhausted = any(k == "callback_exhausted" for k, _ in recent)
    if exhausted:
        state = "exhausted"
    elif last == "callback_connected":
        state = "connected"
    elif last == "callback_unreachable":
        state = "unreachable"
    elif call_booked:
        state = "calling"
    else:
        state = "retry" if failed else "waiting"
    return {"state": state, "attempt": len(failed), "attempts": attempts,
            "next_try_at": failed[-1].get("retry_at") if failed and state == "retry" else None,
            "reason": failed[-1].get("reason") if failed else None, "exhausted": exhausted}
