"""Rebuilding a node's state: the last snapshot, then every entry after it, in order."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from acd.eventlog.base import EventLog, SnapshotStore
from acd.eventlog.errors import LogGap
from acd.eventlog.types import LogPosition, Record, follows

Apply = Callable[[dict[str, Any], Record], dict[str, Any]]


@dataclass(frozen=True, slots=True)
class Rebuilt:
    state: dict[str, Any]
    position: LogPosition | None  # the last entry applied (or the snapshot's), None for an empty log
    from_snapshot: LogPosition | None
    replayed: int  # entries applied after the snapshot


async def rebuild(log: EventLog, snapshots: SnapshotStore | None, apply: Apply, initial: dict[str, Any] | None = None, batch: int = 1000) -> Rebuilt:
    """``apply(state, record) -> state`` is called for each entry after the snapshot, oldest first.
    Without a snapshot the whole log is replayed onto a copy of ``initial`` (default ``{}``).
    Raises ``LogGap`` when entries are missing (a snapshot older than the log's trim point)."""
    snap = await snapshots.latest() if snapshots is not None else None
    if snap is not None:
        position: LogPosition | None = snap[0]
        state = snap[1]
    else:
        position, state = None, copy.deepcopy(initial or {})
    started_from = position
    replayed = 0
    while entries := await log.read(position, batch):
        for entry in entries:
            if not follows(position, entry.position):
                raise LogGap(position, entry.position)
            state = apply(state, entry.record)
            position = entry.position
            replayed += 1
    return Rebuilt(state, position, started_from, replayed)
