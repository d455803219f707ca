"""The call's journey as a list of timeline events: recent calls kept in memory for the live
views, each event logged, and every event forwarded to the durable recorder
(``acd.store.durable.DurableRecorder``), which spools it and writes it to the customer store.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import TYPE_CHECKING, Any

from acd import events as rec
from acd.clock import Clock
from acd.logs import get_logger
from acd.ports import InteractionRecorder

if TYPE_CHECKING:
    from acd.telemetry import Telemetry

log = get_logger(__name__)


class MemoryCallLog:
    def __init__(self, clock: Clock, keep: int = 500, observers: list[InteractionRecorder] | None = None) -> None:
        self.clock = clock
        self.keep = keep
        self.observers: list[InteractionRecorder] = list(observers or [])  # the durable recorder, IVR metrics
        self.calls: OrderedDict[str, list[dict[str, Any]]] = OrderedDict()

    def event(self, call_id: str, event: rec.CallEvent) -> None:
        for observer in self.observers:
            observer.event(call_id, event)
        kind, data = self._keep(call_id, event)
        log.event("call." + kind, call_id=call_id, **{k: v for k, v in data.items() if isinstance(v, (str, int, float, bool, type(None)))})

    def remember(self, call_id: str, event: rec.CallEvent) -> None:
        """An event the leader records, applied from the log on a node that follows it: on this
        node's timeline (its desks' screen-pops read it), not recorded, counted or logged again."""
        self._keep(call_id, event)

    def _keep(self, call_id: str, event: rec.CallEvent) -> tuple[str, dict[str, Any]]:
        kind, data = rec.kind_of(event), event.to_record()
        timeline = self.calls.setdefault(call_id, [])
        timeline.append({"t": self.clock.now(), "kind": kind, **data})
        self.calls.move_to_end(call_id)
        while len(self.calls) > self.keep:
            self.calls.popitem(last=False)
        return kind, data

    def timeline(self, call_id: str) -> list[dict[str, Any]]:
        return list(self.calls.get(call_id, []))


class IvrMetrics:
    """Turns the flow's record events into the IVR metrics: sessions and step visits per flow, and
    containment (the flow itself ended the call: self-service completed, no agent needed)."""

    CONTAINED = frozenset({"hangup"})

    def __init__(self, telemetry: Telemetry) -> None:
        self.telemetry = telemetry
        self._top: dict[str, str] = {}  # call id -> the call's top flow

    def event(self, call_id: str, event: rec.CallEvent) -> None:
        if isinstance(event, rec.FlowStarted):
            self._top[call_id] = event.flow
            self.telemetry.ivr_session(event.flow)
        elif isinstance(event, rec.FlowStep):
            self.telemetry.ivr_step(event.flow, event.step)
        elif isinstance(event, rec.FlowEnded):
            flow = self._top.pop(call_id, event.flow)
            self.telemetry.ivr_contained(flow, event.outcome in self.CONTAINED)
