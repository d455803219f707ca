"""``queue`` events for the live stream: {queue, waiting, longest_wait_s} whenever a queue's
waiting list changes (a caller joins, leaves, is answered, overflows or books a callback), so a
wallboard sees a caller arrive in a queue nobody is free to serve, without polling.

It watches the call log (an observer beside the durable recorder): the ACD already records
every one of those moments there, after it has changed the waiting list."""

from __future__ import annotations

from typing import Any
from collections.abc import Callable

from acd import events as rec
from acd.clock import Clock
from acd.service.acd import AcdService

#: record events after which a queue's waiting list has changed
CHANGES = (rec.QueueEntered, rec.QueueExited, rec.Connected, rec.Overflowed, rec.CallbackRequested)


class QueueFeed:
    def __init__(self, acd: AcdService, clock: Clock, emit: Callable[[str, dict[str, Any]], None]) -> None:
        self.acd = acd  # its core is read at each event: a configuration reload may replace it
        self.clock = clock
        self.emit = emit

    def event(self, call_id: str, event: rec.CallEvent) -> None:
        if not isinstance(event, CHANGES):
            return
        core = self.acd.core
        touched: set[str | None]
        if isinstance(event, rec.Overflowed):
            touched = {event.from_queue, event.to_queue}
        else:
            touched = {event.queue}
        names = {name for name in touched if name is not None} & set(core.waiting)
        now = self.clock.now()
        for name in sorted(names):
            waiting = core.waiting[name]
            self.emit("queue", {
                "queue": name, "waiting": len(waiting),
                "longest_wait_s": round(max((now - e.enqueued_at for e in waiting), default=0.0), 1),
            })
