"""Typed failures of the log and the lease. Callers branch on these, never on Redis exceptions."""

from __future__ import annotations


class EventLogError(Exception):
    """Base of every failure this package reports as an outcome."""


class Unavailable(EventLogError):
    """The shared server (Redis) could not be reached or did not answer in time. Fail closed: a
    node that sees this must treat its lease as lost and ring nobody."""

    def __init__(self, op: str, cause: BaseException | None = None) -> None:
        detail = f": {type(cause).__name__}: {cause}" if cause is not None else ""
        super().__init__(f"{op}: the shared log is unavailable{detail}")
        self.op = op


class LogUnavailable(Unavailable):
    """An append, read or lease call did not reach Redis."""


class StaleLeader(EventLogError):
    """A fencing token that is not the current lease's was refused: the node that holds it lost
    the lease (it stopped, was partitioned or paused) and must issue nothing."""

    def __init__(self, op: str, epoch: int, current: str | None) -> None:
        now = f"the lease is now {current!r}" if current else "no node holds the lease"
        super().__init__(f"{op}: fencing token {epoch} is stale ({now})")
        self.op = op
        self.epoch = epoch
        self.current = current


class LogGap(EventLogError):
    """Entries are missing between two positions (the log was trimmed past what this reader had,
    or a snapshot is older than the trim): the state must be rebuilt from a newer snapshot."""

    def __init__(self, after: object, got: object) -> None:
        super().__init__(f"the log has a gap: after {after} came {got}")
        self.after = after
        self.got = got
