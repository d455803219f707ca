"""The in-process event log of a single engine node: every input to the ACD core, in order,
before it is handled. A bounded window is kept with a snapshot at its start, so a fresh core
rebuilt from ``snapshot + tail`` equals the running one (``rebuild``), and memory stays flat.
With several nodes the log is a Redis Stream instead (``acd.eventlog``)."""

from __future__ import annotations

from collections import deque
from typing import Any

from acd.routing import inputs as ev
from acd.routing.core import AcdCore
from acd.routing.snapshot import from_state, to_state


class Journal:
    def __init__(self, keep: int = 20_000) -> None:
        self.keep = keep
        self.position = 0
        self.tail: deque[dict[str, Any]] = deque()
        self.snapshot: dict[str, Any] | None = None
        self.snapshot_position = 0
        self._core: AcdCore | None = None

    def bind(self, core: AcdCore) -> None:
        """Start the log at the core's present state."""
        self._core = core
        self.snapshot, self.snapshot_position = to_state(core), self.position
        self.tail.clear()

    def append(self, event: ev.AcdInput) -> int:
        if self._core is not None and len(self.tail) >= self.keep:
            self.bind(self._core)  # the snapshot moves up; the window starts again
        self.position += 1
        self.tail.append(ev.encode(event))
        return self.position

    def rebuild(self) -> AcdCore:
        """A fresh core from the last snapshot plus the tail."""
        if self.snapshot is None:
            raise ValueError("the journal was never bound to a core")
        core = from_state(self.snapshot)
        for record in self.tail:
            core.handle(ev.decode(record))
        return core
