"""The call's journey as a list of timeline events, kept per call and handed to the recorder.

Until the SQL store is wired (issue 4), this keeps recent calls in memory for the wallboard and
API; the interface is the same one the durable recorder implements (``acd.ports.InteractionRecorder``).
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, Mapping

from acd.clock import Clock
from acd.logs import get_logger

log = get_logger(__name__)


class MemoryCallLog:
    def __init__(self, clock: Clock, keep: int = 500) -> None:
        self.clock = clock
        self.keep = keep
        self.calls: OrderedDict[str, list[dict[str, Any]]] = OrderedDict()

    def event(self, call_id: str, kind: str, data: Mapping[str, Any]) -> None:
        timeline = self.calls.setdefault(call_id, [])
        timeline.append({"t": self.clock.now(), "kind": kind, **data})
        self.calls.move_to_end(call_id)
        while len(self.calls) > self.keep:
            self.calls.popitem(last=False)
        log.event("call." + kind, call_id=call_id, **{k: v for k, v in data.items() if isinstance(v, (str, int, float, bool, type(None)))})

    def timeline(self, call_id: str) -> list[dict[str, Any]]:
        return list(self.calls.get(call_id, []))
