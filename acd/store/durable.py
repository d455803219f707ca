"""The durable path for call records: every timeline event goes first to a local append-only
spool, then a writer task moves it into the SQL store in order.

Why a spool and not a direct insert: a database outage (or a slow one) must never lose a call
record nor hold up the call. ``event()`` is synchronous and only appends one JSON line to the
current spool segment (a ``write`` to the OS, which survives the process being killed; the writer
task ``fsync``s it, in a thread, soon after a call ends, which survives a power cut). The writer reads the segments from its
checkpoint, inserts the events (idempotently: each has a ``uid``), and only then moves the
checkpoint. After a crash, or while the database is down, the spool simply grows; on the next
start, or when the database is back, it is replayed in order.

Layout of ``spool_dir``: ``<start-ns>-<n>.jsonl`` segments (one writer process each, a new one
per start so a torn last line never merges with a new one), ``checkpoint.json`` (segment and byte
offset written so far), ``rejected.jsonl`` (lines that are not valid JSON, kept, never dropped).
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import os
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from collections.abc import Callable

from acd import events as rec
from acd.clock import Clock
from acd.logs import get_logger
from acd.store.sql import SpooledEvent, SqlStore
from acd.deadline import within

log = get_logger(__name__)

_READ_CAP = 4 * 1024 * 1024


def _json_default(value: Any) -> str:
    return str(value)  # a Secret renders as *** here, never its digits


@dataclass
class _Checkpoint:
    segment: str | None = None
    offset: int = 0


class DurableRecorder:
    def __init__(self, spool_dir: str | Path, store: SqlStore | None, clock: Clock, *,
                 segment_bytes: int = 8 * 1024 * 1024, batch: int = 500, retry_max_s: float = 5.0) -> None:
        self.dir = Path(spool_dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.store = store
        self.clock = clock
        self.segment_bytes = segment_bytes
        self.batch = batch
        self.retry_max_s = retry_max_s
        self._prefix = f"{time.time_ns():020d}"
        self._segment_no = 0
        self._file: io.FileIO | None = None
        self._seq = 0
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._db_up = True
        self._rejected: set[tuple[str, int]] = set()
        self._sync_due = False
        self.written = 0  # events now in the database, this process
        self.write_failures = 0  # failed attempts to write a batch, this process
        self.on_write_failure: Callable[[], None] | None = None  # telemetry's counter (acd.app wires it)
        self._open_segment()

    # ------------------------------------------------------------------ the recorder port
    def event(self, call_id: str, event: rec.CallEvent) -> None:
        kind, data = rec.kind_of(event), event.to_record()
        # after close(): calls still ending during shutdown are spooled too
        file = self._file if self._file is not None else self._open_segment()
        self._seq += 1
        line = json.dumps({
            "uid": uuid.uuid4().hex, "seq": self._seq, "call_id": call_id, "kind": kind,
            "t": self.clock.now(), "data": dict(data),
        }, default=_json_default, separators=(",", ":"))
        file.write(line.encode() + b"\n")  # unbuffered: in the OS now, safe from a killed process
        if isinstance(event, rec.CLOSING):  # a call (or its part) ended
            self._sync_due = True  # the writer fsyncs it off the event loop, within moments
        if file.tell() >= self.segment_bytes:
            self._open_segment()
        self._wake.set()

    def _open_segment(self) -> io.FileIO:
        """Close the live segment (fsynced) and open the next one, which becomes the live one."""
        if self._file is not None:
            os.fsync(self._file.fileno())
            self._file.close()
        self._segment_no += 1
        path = self.dir / f"{self._prefix}-{self._segment_no:06d}.jsonl"
        self._file = open(path, "ab", buffering=0)
        return self._file

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        if self.store is not None and self._task is None:
            self._task = asyncio.create_task(self._writer(self.store), name="acd-record-writer")

    async def close(self, *, drain_timeout_s: float = 5.0) -> None:
        """Try to write what is spooled; what is left stays in the spool for the next start."""
        if self._task is not None:
            self._wake.set()
            with contextlib.suppress(asyncio.TimeoutError):
                await within(self.drain(), drain_timeout_s)
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._file is not None:
            os.fsync(self._file.fileno())
            self._file.close()
            self._file = None

    async def drain(self) -> None:
        """Return once everything spooled so far is in the database (used by tests and shutdown)."""
        while self.backlog_bytes() > 0:
            self._wake.set()
            await asyncio.sleep(0.02)

    # ------------------------------------------------------------------ the writer
    def _segments(self) -> list[Path]:
        return sorted(p for p in self.dir.glob("*-*.jsonl"))

    def _load_checkpoint(self) -> _Checkpoint:
        path = self.dir / "checkpoint.json"
        try:
            raw = json.loads(path.read_text())
            return _Checkpoint(raw.get("segment"), int(raw.get("offset", 0)))
        except FileNotFoundError:
            return _Checkpoint()
        except (ValueError, TypeError) as exc:
            log.error_event("spool.checkpoint_unreadable", file=str(path), error=str(exc))
            return _Checkpoint()  # replay everything: inserts are idempotent

    def _save_checkpoint(self, cp: _Checkpoint) -> None:
        tmp = self.dir / "checkpoint.json.tmp"
        tmp.write_text(json.dumps({"segment": cp.segment, "offset": cp.offset}))
        os.replace(tmp, self.dir / "checkpoint.json")

    def backlog_bytes(self) -> int:
        cp = self._load_checkpoint()
        total = 0
        for seg in self._segments():
            size = seg.stat().st_size
            if cp.segment is not None and seg.name < cp.segment:
                continue
            total += size - (cp.offset if seg.name == cp.segment else 0)
        return total

    def _read_batch(self, cp: _Checkpoint) -> tuple[list[SpooledEvent], _Checkpoint]:
        """Up to ``batch`` complete lines from the checkpoint on, and the checkpoint after them."""
        events: list[SpooledEvent] = []
        current = self._file.name if self._file is not None else None
        for seg in self._segments():
            if cp.segment is not None and seg.name < cp.segment:
                continue
            offset = cp.offset if seg.name == cp.segment else 0
            with open(seg, "rb") as fh:
                fh.seek(offset)
                data = fh.read(_READ_CAP)
            end = data.rfind(b"\n")
            usable = data[: end + 1] if end >= 0 else b""
            pos = offset
            for raw in usable.splitlines(keepends=True):
                ev = self._parse(seg, pos, raw)
                pos += len(raw)
                if ev is not None:
                    events.append(ev)
                if len(events) >= self.batch:
                    return events, _Checkpoint(seg.name, pos)
            cp = _Checkpoint(seg.name, pos)
            if str(seg) == str(current) or len(data) == _READ_CAP:
                break  # the live segment, or a big one read in parts: go on from here next time
            if len(usable) < len(data):  # a writer killed mid-line: keep the fragment aside, move on
                self._reject(seg, pos, data[len(usable):], "torn last line")
                cp = _Checkpoint(seg.name, pos + len(data) - len(usable))
        return events, cp

    def _parse(self, seg: Path, pos: int, raw: bytes) -> SpooledEvent | None:
        try:
            d = json.loads(raw)
            return SpooledEvent(uid=d["uid"], seq=int(d["seq"]), call_id=str(d["call_id"]), kind=str(d["kind"]),
                                t=float(d["t"]), data=d.get("data") or {})
        except (ValueError, KeyError, TypeError) as exc:
            self._reject(seg, pos, raw, f"{type(exc).__name__}: {exc}")
            return None

    def _reject(self, seg: Path, pos: int, raw: bytes, why: str) -> None:
        if (seg.name, pos) in self._rejected:  # read again after a failed write: kept once
            return
        self._rejected.add((seg.name, pos))
        log.error_event("spool.line_rejected", file=str(seg), reason=why)
        with open(self.dir / "rejected.jsonl", "ab") as fh:
            fh.write(json.dumps({"segment": seg.name, "reason": why, "line": raw.decode("utf-8", "replace")}).encode() + b"\n")

    def _drop_finished_segments(self, cp: _Checkpoint) -> None:
        current = self._file.name if self._file is not None else None
        for seg in self._segments():
            if cp.segment is not None and seg.name < cp.segment and str(seg) != str(current):
                seg.unlink(missing_ok=True)

    async def _sync(self) -> None:
        """fsync the live segment in a thread (a slow disk must not stall calls)."""
        if self._sync_due and self._file is not None:
            self._sync_due = False
            await asyncio.to_thread(os.fsync, self._file.fileno())

    async def _writer(self, store: SqlStore) -> None:
        delay = 0.2
        cp = self._load_checkpoint()  # read once; from here on this task is its only writer
        while True:
            await self._sync()
            self._wake.clear()  # before reading: an event() from now on wakes the next round
            events, after = self._read_batch(cp)
            if events or after != cp:
                try:
                    if events:
                        await within(store.write_events(events), 30)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # noqa: BLE001 - an outage: keep spooling, retry with backoff
                    self.write_failures += 1
                    if self.on_write_failure is not None:
                        self.on_write_failure()
                    if self._db_up:
                        log.warn_event("spool.database_down", error=type(exc).__name__, backlog_bytes=self.backlog_bytes())
                    self._db_up = False
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, self.retry_max_s)
                    continue
                if not self._db_up:
                    log.event("spool.database_back", replayed=len(events))
                self._db_up, delay = True, 0.2
                self.written += len(events)
                self._save_checkpoint(after)
                self._drop_finished_segments(after)
                cp = after
                continue
            with contextlib.suppress(asyncio.TimeoutError):
                await within(self._wake.wait(), 1.0)
