"""The interaction record: one per call, folded from the call's timeline events.

The timeline (``kind`` + data + time ``t``) is what every part of the engine appends through
``acd.ports.InteractionRecorder``; this module turns it into the summary row the store keeps,
the reports compute from and the API shows. Pure: no I/O, so a record can be rebuilt from its
events at any time (replay after a spool, repair after a crash)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import Enum
from typing import Any
from collections.abc import Iterable, Mapping

from acd import events as ev


class Outcome(str, Enum):
    SELF_SERVED = "self_served"
    ANSWERED = "answered"
    ABANDONED_IVR = "abandoned_ivr"
    ABANDONED_QUEUE = "abandoned_queue"
    TRANSFERRED = "transferred"
    CALLBACK = "callback"
    VOICEMAIL = "voicemail"
    VERIFICATION_FAILED = "verification_failed"  # failed (or was locked out of) verification, then left
    UNANSWERED = "unanswered"  # queued, but the queue sent the caller on (timeout, full, no agents)
    ENGINE_LOST_CALL = "engine_lost_call"  # the engine lost the caller's session (crash, kill)
    PBX_LOST = "pbx_lost"  # the PBX went away with the call
    ENGINE_STOPPED = "engine_stopped"  # a clean stop ended the wait
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
    ended_by: str | None = None  # who hung up first on a connected call: caller | agent | pbx_lost | engine_stop
    fallback: bool = False  # the dialplan's [acd-fallback] took the caller on after the engine lost it
    callback_requested: bool = False
    survey: dict[str, Any] | None = None  # the post-call survey: flow, answers by question, agent, completed
    cards_shown: list[dict[str, Any]] = field(default_factory=list)  # knowledge cards on the screen-pop: id, version
    outcome: Outcome = Outcome.IN_PROGRESS

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["outcome"] = self.outcome.value
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Interaction:
        d = dict(d)
        d["queues"] = [QueueVisit(**q) for q in d.get("queues", [])]
        d["offers"] = [OfferRecord(**o) for o in d.get("offers", [])]
        d["outcome"] = Outcome(d.get("outcome", "in_progress"))
        return cls(**d)


_FLOW_OUTCOMES = {
    "transferred": Outcome.TRANSFERRED, "voicemail": Outcome.VOICEMAIL, "callback": Outcome.CALLBACK,
}
#: how a FastAGI session or flow ends when the queue sent the caller on without an agent
_UNANSWERED = frozenset({"timeout", "full", "empty", "unknown_queue", "callback_failed"})
#: verification outcomes that leave the caller unverified
_VERIFY_FAILED = frozenset({"failed", "locked", "timeout", "no_secret"})


@dataclass
class _Fold:
    rec: Interaction
    flow_outcome: str | None = None
    ivr_outcome: str | None = None
    closed: str | None = None
    verification: str | None = None  # the last verification outcome
    ended_offers: dict[str, str] = field(default_factory=dict)  # offer id -> outcome, ended before its ``offer`` event


def fold(call_id: str, events: Iterable[Mapping[str, Any]]) -> Interaction:
    """Build the interaction from its timeline events (each with ``kind`` and ``t``), in order."""
    state: _Fold | None = None
    for entry in events:
        t = float(entry.get("t", 0.0))
        if state is None:
            state = _Fold(Interaction(call_id=call_id, started_at=t))
        _apply(state, ev.from_timeline(entry), t)
    if state is None:
        raise ValueError(f"no events for call {call_id}")
    state.rec.outcome = _final_outcome(state)
    return state.rec


def _apply(state: _Fold, e: ev.CallEvent, t: float) -> None:  # noqa: C901, PLR0912 - one branch per kind
    rec = state.rec
    match e:
        case ev.CallStarted():
            rec.started_at = t
            rec.ani, rec.dnis = e.ani or None, e.dnis or None
            rec.uniqueid, rec.linkedid = e.uniqueid, e.linkedid
        case ev.FlowStarted():
            rec.flow = rec.flow or e.flow
        case ev.FlowStep():
            rec.ivr_path.append(e.to_record())
        case ev.FlowEnded():
            state.flow_outcome = e.outcome
            rec.customer_id = e.customer_id or rec.customer_id
            rec.verification_level = e.verification or rec.verification_level
        case ev.IvrEnded():
            state.ivr_outcome = e.outcome
            rec.ended_at = rec.ended_at or (t if rec.answered_at is None else None)
        case ev.Identified():
            rec.customer_id = e.customer_id or rec.customer_id
        case ev.Verification():
            rec.verification_level = e.level or rec.verification_level
            rec.verification_method = e.method or rec.verification_method
            rec.locked = rec.locked or e.outcome == "locked"
            state.verification = e.outcome
        case ev.QueueEntered():
            rec.queues.append(QueueVisit(queue=e.queue, entered_at=t))
            rec.queue = e.queue
            rec.locked = rec.locked or e.locked
            rec.customer_id = e.customer_id or rec.customer_id
        case ev.QueueExited():
            visit = _open_visit(rec, e.queue)
            if visit is not None:
                visit.exited_at, visit.reason = t, e.reason
            if e.reason in ("abandoned", "answered"):
                rec.wait_s = sum(v.wait_s or 0.0 for v in rec.queues)
        case ev.OfferRang():
            ended = state.ended_offers.pop(e.offer, None)  # cancelled while its Originate was in flight
            rec.offers.append(OfferRecord(agent=e.agent, offered_at=t, ring_timeout_s=e.ring_timeout_s,
                                          outcome=ended or "ringing", ring_s=0.0 if ended else None))
        case ev.OfferFailed():
            _end_offer(state, e.agent, e.offer, e.reason or "failed", t)
        case ev.OfferCancelled():
            _end_offer(state, e.agent, e.offer, "cancelled", t)
        case ev.Connected():
            _connected(rec, e, t)
        case ev.RecordingStarted():
            rec.recording = e.file
        case ev.Held():
            rec.hold_s += float(e.seconds or 0.0)
        case ev.Ended():
            rec.ended_at = e.ended_at if e.ended_at is not None else t  # a PBX that died: where the call was last seen
            rec.ended_by = e.by or ("pbx_lost" if e.pbx_lost else rec.ended_by)
            if e.talk_s is not None:
                rec.talk_s = float(e.talk_s)
        case ev.WrapUpDone():
            rec.wrapup_s = float(e.wrapup_s or 0.0)
            rec.disposition, rec.notes = e.disposition, e.notes
        case ev.CallbackRequested():
            rec.callback_requested = True
        case ev.Linked():
            rec.customer_id = e.customer_id
        case ev.CallClosed():
            _closed(state, e, t)
        case ev.CallbackBooked():  # an outbound call-back for a follow-up task
            rec.queues.append(QueueVisit(queue=e.queue, entered_at=t))
            rec.queue, rec.callback_requested = e.queue, True
            rec.dnis = e.number or rec.dnis
            rec.customer_id = e.customer_id or rec.customer_id
        case ev.KnowledgeShown():
            rec.cards_shown += [{"id": c.get("id"), "version": c.get("version"), "at": t} for c in e.cards]
        case ev.SurveyAnswered():
            rec.survey = {"flow": e.flow, "answers": dict(e.answers), "completed": e.completed, "agent": e.agent or rec.agent, "at": t}


def _connected(rec: Interaction, e: ev.Connected, t: float) -> None:
    rec.agent, rec.queue, rec.answered_at = e.agent, e.queue or rec.queue, t
    if e.waited_s is not None:
        rec.wait_s = float(e.waited_s)
    _close_offer(rec, e.agent, "answered", t)
    visit = _open_visit(rec, rec.queue)
    if visit is not None:
        visit.exited_at, visit.reason = t, "answered"


def _closed(state: _Fold, e: ev.CallClosed, t: float) -> None:
    """The engine closed a call it could not end cleanly: the open queue visit and ringing
    offers end here, and the call's end is the last time it was seen alive."""
    rec = state.rec
    end = e.last_seen if e.last_seen is not None else t
    state.closed = e.outcome
    rec.fallback = rec.fallback or e.fallback
    visit = _open_visit(rec, None)
    if visit is not None:
        visit.exited_at, visit.reason = end, e.outcome
    while _close_offer(rec, None, "cancelled", end):
        pass
    if rec.ended_at is None:
        rec.ended_at = end
        if rec.answered_at is not None:
            rec.ended_by = rec.ended_by or e.outcome


def _end_offer(state: _Fold, agent: str, offer_id: str, outcome: str, t: float) -> None:
    if not _close_offer(state.rec, agent, outcome, t) and offer_id:
        state.ended_offers[offer_id] = outcome


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


def _close_offer(rec: Interaction, agent: str | None, outcome: str, t: float) -> bool:
    offer = _open_offer(rec, agent)
    if offer is None:
        return False
    offer.outcome, offer.ring_s = outcome, max(0.0, t - offer.offered_at)
    return True


def _plain(outcome: str | None) -> str | None:
    """``fallback:timeout`` (the flow's fallback queue said it) reads as ``timeout``."""
    return outcome.split(":", 1)[1] if outcome and outcome.startswith("fallback:") else outcome


def _final_outcome(state: _Fold) -> Outcome:  # noqa: PLR0911 - the outcomes in order of precedence
    rec = state.rec
    flow_outcome, ivr_outcome = _plain(state.flow_outcome), _plain(state.ivr_outcome)
    if rec.answered_at is not None:
        return Outcome.ANSWERED
    last = rec.queues[-1] if rec.queues else None
    if rec.callback_requested or (last is not None and last.reason == "callback"):
        return Outcome.CALLBACK
    if state.closed:
        return Outcome(state.closed)
    if last is not None and last.reason in ("abandoned", "abandoned_queue"):
        return Outcome.ABANDONED_QUEUE
    if last is not None and last.reason in ("engine_stopped", "pbx_lost"):
        return Outcome(last.reason)
    for candidate in (flow_outcome, ivr_outcome):
        if candidate in _FLOW_OUTCOMES:
            return _FLOW_OUTCOMES[candidate]
    if ivr_outcome is None and flow_outcome is None:
        return Outcome.IN_PROGRESS
    if last is not None:
        return Outcome.UNANSWERED if last.exited_at is not None else Outcome.ABANDONED_QUEUE
    if ivr_outcome in _UNANSWERED or flow_outcome in _UNANSWERED:
        return Outcome.UNANSWERED
    if state.verification in _VERIFY_FAILED:
        return Outcome.VERIFICATION_FAILED
    if "hangup" in (flow_outcome, ivr_outcome):  # the flow itself ended the call: served without an agent
        return Outcome.SELF_SERVED
    return Outcome.ABANDONED_IVR
