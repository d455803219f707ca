"""``queue`` events for the live stream: {queue, waiting, longest_wait_s} whenever a queue's
waiting list changes (a caller joins, leaves, is answered, overflows or books a callback), so a
wallboard sees a caller arrive in a queue nobody is free to serve, without polling.

It watches the call log (an observer beside the durable recorder): the ACD already records
every one of those moments there, after it has changed the waiting list."""

from __future__ import annotations

from typing import Any, Callable, Mapping

#: call-log kinds after which a queue's waiting list has changed
CHANGES = frozenset({"queue_enter", "queue_exit", "connected", "overflow", "callback_requested"})


class QueueFeed:
    def __init__(self, engine: Any, emit: Callable[[str, dict], None] | None = None) -> None:
        self.engine = engine  # read at each event: a configuration reload may replace the core
        self.emit = emit or engine.emit

    def event(self, call_id: str, kind: str, data: Mapping[str, Any]) -> None:
        if kind not in CHANGES:
            return
        core = self.engine.core
        names = {data.get("queue"), data.get("from"), data.get("to")} & set(core.waiting)
        now = self.engine.clock.now()
        for name in sorted(names):
            waiting = core.waiting[name]
            self.emit("queue", {
                "queue": name, "waiting": len(waiting),
                "longest_wait_s": round(max((now - e.enqueued_at for e in waiting), default=0.0), 1),
            })
