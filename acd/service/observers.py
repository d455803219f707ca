"""What the core's record events mean for Prometheus and the push stream: one observer, so the
metrics count exactly what the record holds. Dispatch is on the event's type; the push
stream's kinds are the record's (its JSON shape is the desks' and wallboards', unchanged).
The node that writes the record counts and pushes (``record``); a node that follows the log
only pushes (``push``), to its own desks and wallboards."""

from __future__ import annotations

from typing import Any
from collections.abc import Callable

from acd import events as rec
from acd.routing.commands import Publish, Record
from acd.routing.core import AcdCore
from acd.telemetry import Telemetry


class RecordObserver:
    def __init__(self, core: AcdCore, telemetry: Telemetry, emit: Callable[[str, dict[str, Any]], None]) -> None:
        self.core = core
        self.telemetry = telemetry
        self.emit = emit
        self.repairs = 0

    def record(self, r: Record) -> None:
        """The node that writes the record: count it, and push it to this node's desks."""
        self._count(r)
        self.push(r)

    def push(self, r: Record) -> None:
        """Push what the record event means to this node's desks and wallboards: every node does
        this for each entry it applies, the leader and the followers alike (only the leader
        writes the record and counts it)."""
        e = r.event
        if isinstance(e, rec.Connected):
            self.emit(rec.Connected.kind, {"agent_id": e.agent, "call_id": r.call_id, "queue": e.queue})
        elif isinstance(e, rec.Ended):
            self.emit(rec.Ended.kind, {"agent_id": e.agent, "call_id": r.call_id})
        elif isinstance(e, rec.WrapUpDone):
            self.emit(rec.WrapUpDone.kind, {"agent_id": e.agent, "call_id": r.call_id, "disposition": e.disposition})
        elif isinstance(e, rec.AgentStateChanged):
            self.emit(rec.AgentStateChanged.kind, {"agent_id": e.agent, "state": e.state, "reason": e.reason, "since": e.since})

    def publish(self, p: Publish, *, count: bool = True) -> None:
        if p.kind == "state_repair":
            if count:
                self.repairs += 1
                self.telemetry.state_repair(str(p.data.get("kind")))
            return
        self.emit(p.kind, dict(p.data))

    def _count(self, r: Record) -> None:
        e = r.event
        if isinstance(e, rec.QueueEntered):
            self._on_queue_enter(e)
        elif isinstance(e, rec.Connected):
            self._on_connected(e)
        elif isinstance(e, rec.QueueExited):
            self._on_queue_exit(e)
        elif isinstance(e, rec.OfferFailed):
            self.telemetry.agent_offer("rona" if e.reason == "no answer" else e.reason.replace(" ", "_"))
        elif isinstance(e, rec.WrapUpDone):
            self._on_wrapup_done(e)
        elif isinstance(e, rec.AgentStateChanged):
            self.telemetry.agent_time(e.old, e.spent_s)  # occupancy

    # ------------------------------------------------------------------ the kinds that count
    def _on_queue_enter(self, e: rec.QueueEntered) -> None:
        if not e.resumed:
            self.telemetry.call_offered(e.queue)

    def _on_connected(self, e: rec.Connected) -> None:
        if not e.callback and e.queue is not None and e.waited_s is not None and e.service_level_s is not None:
            self.telemetry.call_answered(e.queue, e.waited_s, e.service_level_s)
        self.telemetry.agent_offer("answered")

    def _on_queue_exit(self, e: rec.QueueExited) -> None:
        if e.reason == "abandoned" and e.service_level_s is not None and e.short_abandon_s is not None:
            self.telemetry.call_abandoned(e.queue, e.waited_s, e.service_level_s, e.short_abandon_s)

    def _on_wrapup_done(self, e: rec.WrapUpDone) -> None:
        if e.queue in self.core.queues:
            self.telemetry.call_completed(e.queue, e.talk_s, e.hold_s, e.wrapup_s)
