"""Value objects: a position in the log, a fencing token, a log entry."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, NamedTuple

Record = dict[str, Any] | bytes
"""What the log holds: a JSON object (the lead's ``acd.events.to_record`` output) or raw bytes."""


@dataclass(frozen=True, order=True, slots=True)
class LogPosition:
    """Where an entry sits: ``epoch`` is the fencing token of the leader that wrote it (0 before
    any leader), ``seq`` counts within that epoch from 1. Positions only grow, across leaders too,
    because every new leader's token is above every epoch already in the log."""

    epoch: int
    seq: int

    def __post_init__(self) -> None:
        if self.epoch < 0 or self.seq < 0:
            raise ValueError(f"a log position is never negative: {self.epoch}-{self.seq}")

    def __str__(self) -> str:
        return f"{self.epoch}-{self.seq}"

    @classmethod
    def parse(cls, text: str | bytes) -> LogPosition:
        raw = text.decode() if isinstance(text, bytes) else text
        epoch, sep, seq = raw.partition("-")
        if not sep or not epoch.isdigit() or not seq.isdigit():
            raise ValueError(f"not a log position: {raw!r} (expected '<epoch>-<seq>')")
        return cls(int(epoch), int(seq))


@dataclass(frozen=True, slots=True)
class FencingToken:
    """Proof of leadership handed out by ``LeaderLease.acquire``. ``value`` only grows; a command
    carrying a token that is not the lease's current one is refused."""

    value: int
    node_id: str

    def __post_init__(self) -> None:
        if self.value < 1:
            raise ValueError(f"a fencing token starts at 1, got {self.value}")
        if not self.node_id:
            raise ValueError("a fencing token names its node")

    def encode(self) -> str:
        """The lease key's value in Redis (compared byte for byte inside the Lua scripts)."""
        return f"{self.value}:{self.node_id}"

    @classmethod
    def decode(cls, text: str | bytes) -> FencingToken:
        raw = text.decode() if isinstance(text, bytes) else text
        value, sep, node = raw.partition(":")
        if not sep or not value.isdigit():
            raise ValueError(f"not a fencing token: {raw!r}")
        return cls(int(value), node)


class Entry(NamedTuple):
    position: LogPosition
    record: Record


def encode_record(record: Record) -> tuple[bytes, bytes]:
    """``(kind, payload)``: ``j`` for a JSON object, ``b`` for raw bytes."""
    if isinstance(record, bytes):
        return b"b", record
    if not isinstance(record, dict):
        raise TypeError(f"a log record is a dict or bytes, not {type(record).__name__}")
    return b"j", json.dumps(record, separators=(",", ":"), ensure_ascii=False).encode()


def decode_record(kind: bytes, payload: bytes) -> Record:
    if kind == b"b":
        return payload
    if kind == b"j":
        value = json.loads(payload)
        if not isinstance(value, dict):
            raise ValueError("a JSON log record must be an object")
        return value
    raise ValueError(f"unknown log record kind {kind!r}")


def follows(previous: LogPosition | None, position: LogPosition) -> bool:
    """Whether ``position`` is the very next entry after ``previous``: the next seq in the same
    epoch, or seq 1 of a later epoch (a new leader's first entry)."""
    if previous is None:
        return position.seq == 1
    if position.epoch == previous.epoch:
        return position.seq == previous.seq + 1
    return position.epoch > previous.epoch and position.seq == 1
