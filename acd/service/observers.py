"""What the core's record events mean for Prometheus and the push stream: one observer, so the
metrics count exactly what the record holds."""

from __future__ import annotations

from typing import Any
from collections.abc import Callable

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
        d = r.data
        handler = getattr(self, "_on_" + r.kind, None)
        if handler is not None:
            handler(r.call_id, d)

    def publish(self, p: Publish) -> None:
        if p.kind == "state_repair":
            self.repairs += 1
            self.telemetry.state_repair(str(p.data.get("kind")))
            return
        self.emit(p.kind, dict(p.data))

    # ------------------------------------------------------------------ one per record kind
    def _on_queue_enter(self, call_id: str, d: dict[str, Any]) -> None:
        if not d.get("resumed"):
            self.telemetry.call_offered(d["queue"])

    def _on_connected(self, call_id: str, d: dict[str, Any]) -> None:
        if not d.get("callback"):
            self.telemetry.call_answered(d["queue"], d["waited_s"], d["service_level_s"])
        self.telemetry.agent_offer("answered")
        self.emit("connected", {"agent_id": d["agent"], "call_id": call_id, "queue": d["queue"]})

    def _on_queue_exit(self, call_id: str, d: dict[str, Any]) -> None:
        if d.get("reason") == "abandoned" and d.get("service_level_s") is not None:
            self.telemetry.call_abandoned(d["queue"], d["waited_s"], d["service_level_s"], d["short_abandon_s"])

    def _on_offer_failed(self, call_id: str, d: dict[str, Any]) -> None:
        reason = str(d.get("reason"))
        self.telemetry.agent_offer("rona" if reason == "no answer" else reason.replace(" ", "_"))

    def _on_ended(self, call_id: str, d: dict[str, Any]) -> None:
        self.emit("ended", {"agent_id": d["agent"], "call_id": call_id})

    def _on_wrapup_done(self, call_id: str, d: dict[str, Any]) -> None:
        if d.get("queue") in self.core.queues:
            self.telemetry.call_completed(d["queue"], d["talk_s"], d["hold_s"], d["wrapup_s"])
        self.emit("wrapup_done", {"agent_id": d["agent"], "call_id": call_id, "disposition": d.get("disposition")})

    def _on_agent_state(self, call_id: str, d: dict[str, Any]) -> None:
        self.telemetry.agent_time(d["old"], d["spent_s"])  # occupancy
        self.emit("agent_state", {"agent_id": d["agent"], "state": d["state"], "reason": d["reason"], "since": d["since"]})
