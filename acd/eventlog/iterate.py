"""The tail as an async iterator: every entry after ``after``, in order, waiting for new ones."""

from __future__ import annotations

from collections.abc import AsyncIterator

from acd.eventlog.base import EventLog
from acd.eventlog.types import Entry, LogPosition


async def follow(log: EventLog, after: LogPosition | None = None, poll_timeout_s: float = 1.0, batch: int = 1000) -> AsyncIterator[Entry]:
    """Yield entries forever; each wait is bounded by ``poll_timeout_s`` (then it waits again),
    so a cancelled consumer never hangs on a dead connection. ``LogUnavailable`` propagates: the
    caller decides how to back off (``Follower`` does)."""
    position = after
    while True:
        for entry in await log.tail(position, poll_timeout_s, batch):
            position = entry.position
            yield entry
