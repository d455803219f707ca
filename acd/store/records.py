"""The interaction record: one per call, folded from the call's timeline events.

The timeline (``kind`` + data + time ``t``) is what every part of the engine appends through
``acd.ports.InteractionRecorder``; this module turns it into the summary row the store keeps,
the reports compute from and the API shows. Pure: no I/O, so a record can be rebuilt from its
events at any time (replay after a spool, repair after a crash)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import Enum
from typing import Any, Iterable, Mapping


class Outcome(str, Enum):
    SELF_SERVED = "self_served"
    ANSWERED = "answered"
    ABANDONED_IVR = "abandoned_ivr"
    ABANDONED_QUEUE = "abandoned_queue"
    TRANSFERRED = "transferred"
    CALLBACK = "callback"
    VOICEMAIL = "voicemail"
    IN_PROGRESS = "in_progress"


@dataclass
class QueueVisit:
    queue: str
    entered_at: float
    exited_at: float | None = None
    reason: str | None = None  # answered | abandoned | overflow | timeout | full | callback | ...

    @property
    def wait_s(self) -> float | None:
        return None if self.exited_at is None else max(0.0, self.exited_at - self.entered_at)


@dataclass
class OfferRecord:
    agent: str
    offered_at: float
    ring_timeout_s: float | None = None
    outcome: str = "ringing"  # answered | no answer | busy | cancelled | ...
    ring_s: float | None = None


@dataclass
class Interaction:
    call_id: str
    started_at: float
    ani: str | None = None
    dnis: str | None = None
    uniqueid: str | None = None
    linkedid: str | None = None
    customer_id: str | None = None
    flow: str | None = None
    ivr_path: list[dict[str, Any]] = field(default_factory=list)  # flow steps; inputs already masked
    verification_level: str = "none"
    verification_method: str | None = None
    locked: bool = False
    queues: list[QueueVisit] = field(default_factory=list)
    offers: list[OfferRecord] = field(default_factory=list)
    agent: str | None = None
    queue: str | None = None  # the queue the call was answered from (or the last it waited in)
    answered_at: float | None = None
    wait_s: float | None = None  # time in queue(s) until answered or abandoned
    talk_s: float | None = None
    hold_s: float = 0.0
    wrapup_s: float | None = None
    disposition: str | None = None
    notes: str | None = None
    recording: str | None = None
    ended_at: float | None = None
    ended_by: str | None = None  # who hung up first on a connected call: caller | agent
    callback_requested: bool = False
    survey: dict[str, Any] | None = None  # the post-call survey: flow, answers by question, agent, completed
    cards_shown: list[dict[str, Any]] = field(default_factory=list)  # knowledge cards on the screen-pop: id, version
    outcome: Outcome = Outcome.IN_PROGRESS

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["outcome"] = self.outcome.value
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "Interaction":
        d = dict(d)
        d["queues"] = [QueueVisit(**q) for q in d.get("queues", [])]
        d["offers"] = [OfferRecord(**o) for o in d.get("offers", [])]
        d["outcome"] = Outcome(d.get("outcome", "in_progress"))
        return cls(**d)


_FLOW_OUTCOMES = {
    "transferred": Outcome.TRANSFERRED, "voicemail": Outcome.VOICEMAIL, "callback": Outcome.CALLBACK,
    "hangup": Outcome.SELF_SERVED,  # the flow itself ended the call: served without an agent
}


def fold(call_id: str, events: Iterable[Mapping[str, Any]]) -> Interaction:
    """Build the interaction from its timeline events (each with ``kind`` and ``t``), in order."""
    rec: Interaction | None = None
    flow_outcome: str | None = None
    ivr_outcome: str | None = None
    for ev in events:
        kind, t = ev["kind"], float(ev.get("t", 0.0))
        if rec is None:
            rec = Interaction(call_id=call_id, started_at=t)
        _apply(rec, kind, t, ev)
        if kind == "flow_end":
            flow_outcome = str(ev.get("outcome") or "")
        elif kind == "ivr_end":
            ivr_outcome = str(ev.get("outcome") or "")
            rec.ended_at = rec.ended_at or (t if rec.answered_at is None else None)
    if rec is None:
        raise ValueError(f"no events for call {call_id}")
    rec.outcome = _final_outcome(rec, flow_outcome, ivr_outcome)
    return rec


def _apply(rec: Interaction, kind: str, t: float, ev: Mapping[str, Any]) -> None:
    get = ev.get
    if kind == "call_start":
        rec.started_at = t
        rec.ani, rec.dnis = get("ani") or None, get("dnis") or None
        rec.uniqueid, rec.linkedid = get("uniqueid"), get("linkedid")
    elif kind == "flow_start":
        rec.flow = rec.flow or get("flow")
    elif kind == "flow_step":
        rec.ivr_path.append({k: v for k, v in ev.items() if k not in ("kind",)})
    elif kind == "flow_end":
        if get("customer_id"):
            rec.customer_id = get("customer_id")
        rec.verification_level = get("verification") or rec.verification_level
    elif kind == "identified":
        rec.customer_id = get("customer_id") or rec.customer_id
    elif kind == "verification":
        rec.verification_level = get("level") or rec.verification_level
        rec.verification_method = get("method") or rec.verification_method
        rec.locked = rec.locked or get("result") == "locked"
    elif kind == "queue_enter":
        rec.queues.append(QueueVisit(queue=get("queue"), entered_at=t))
        rec.queue = get("queue")
        rec.locked = rec.locked or bool(get("locked"))
        if get("customer_id"):
            rec.customer_id = get("customer_id")
    elif kind == "queue_exit":
        visit = _open_visit(rec, get("queue"))
        if visit is not None:
            visit.exited_at, visit.reason = t, get("reason")
        if get("reason") in ("abandoned", "answered"):
            rec.wait_s = sum(v.wait_s or 0.0 for v in rec.queues)
    elif kind == "offer":
        rec.offers.append(OfferRecord(agent=get("agent"), offered_at=t, ring_timeout_s=get("ring_timeout_s")))
    elif kind == "offer_failed":
        offer = _open_offer(rec, get("agent"))
        if offer is not None:
            offer.outcome, offer.ring_s = str(get("reason") or "failed"), t - offer.offered_at
    elif kind == "connected":
        rec.agent, rec.queue, rec.answered_at = get("agent"), get("queue") or rec.queue, t
        if get("waited_s") is not None:
            rec.wait_s = float(get("waited_s"))
        offer = _open_offer(rec, get("agent"))
        if offer is not None:
            offer.outcome, offer.ring_s = "answered", t - offer.offered_at
        visit = _open_visit(rec, rec.queue)
        if visit is not None:
            visit.exited_at, visit.reason = t, "answered"
    elif kind == "recording":
        rec.recording = get("file")
    elif kind == "hold":
        rec.hold_s += float(get("seconds") or 0.0)
    elif kind == "ended":
        rec.ended_at = t
        rec.ended_by = get("by") or rec.ended_by
        if get("talk_s") is not None:
            rec.talk_s = float(get("talk_s"))
    elif kind == "wrapup_done":
        rec.wrapup_s = float(get("wrapup_s") or 0.0)
        rec.disposition, rec.notes = get("disposition"), get("notes")
    elif kind == "callback_requested":
        rec.callback_requested = True
    elif kind == "callback_booked":  # an outbound call-back for a follow-up task
        rec.queues.append(QueueVisit(queue=get("queue"), entered_at=t))
        rec.queue, rec.callback_requested = get("queue"), True
        rec.dnis = get("number") or rec.dnis
        rec.customer_id = get("customer_id") or rec.customer_id
    elif kind == "linked":
        rec.customer_id = get("customer_id")
    elif kind == "knowledge_shown":
        rec.cards_shown += [{"id": c.get("id"), "version": c.get("version"), "at": t} for c in get("cards") or []]
    elif kind == "survey":
        rec.survey = {"flow": get("flow"), "answers": dict(get("answers") or {}), "completed": bool(get("completed")),
                      "agent": get("agent") or rec.agent, "at": t}


def _open_visit(rec: Interaction, queue: str | None) -> QueueVisit | None:
    for visit in reversed(rec.queues):
        if visit.exited_at is None and (queue is None or visit.queue == queue):
            return visit
    return None


def _open_offer(rec: Interaction, agent: str | None) -> OfferRecord | None:
    for offer in reversed(rec.offers):
        if offer.outcome == "ringing" and (agent is None or offer.agent == agent):
            return offer
    return None


def _final_outcome(rec: Interaction, flow_outcome: str | None, ivr_outcome: str | None) -> Outcome:
    if rec.answered_at is not None:
        return Outcome.ANSWERED
    if rec.callback_requested:
        return Outcome.CALLBACK
    for visit in reversed(rec.queues):
        if visit.reason == "callback":
            return Outcome.CALLBACK
        if visit.reason in ("abandoned", "abandoned_queue"):
            return Outcome.ABANDONED_QUEUE
        break
    for candidate in (flow_outcome, ivr_outcome):
        if candidate and candidate in _FLOW_OUTCOMES:
            return _FLOW_OUTCOMES[candidate]
    if ivr_outcome is None and flow_outcome is None:
        return Outcome.IN_PROGRESS
    if rec.queues:
        return Outcome.ABANDONED_QUEUE
    return Outcome.ABANDONED_IVR
