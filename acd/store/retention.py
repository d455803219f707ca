"""Data protection: interaction details and recordings older than the configured ages are
anonymised or purged, on a schedule and by ``acd retention run`` (with a dry run).

- Recordings: a file older than ``recording_days`` is deleted and the ``recording`` field (and
  the path in the call's ``recording`` events, so a refold cannot bring it back) cleared. A call
  being anonymised or purged loses its recording too, whatever ``recording_days`` says: a
  recording is the most personal part of a call.
- ``anonymise``: caller numbers, channel names, IVR inputs, notes and callback numbers are blanked
  in the record and in every timeline event; the figures reports need (times, queue, agent, offers,
  outcome, disposition) stay. The verification audit of that age loses its caller numbers.
- ``purge``: the interactions and their events are deleted, with the agents' state events and the
  verification audit rows of that age.

Work goes in batches of ``BATCH`` calls, one short transaction each, so a first run over years of
data neither holds one huge transaction nor blocks the engine's writers for long."""

from __future__ import annotations

import asyncio
import contextlib
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, func, select, update

from acd.clock import Clock
from acd.events import RecordingStarted
from acd.logs import get_logger
from acd.store.models import ChannelContactRow, EventRow, InteractionRow, VerificationAttemptRow
from acd.store.dml import rows_affected
from acd.store.sql import AGENT_TIMELINE, SqlStore
from acd.deadline import within

if TYPE_CHECKING:
    from acd.settings import Settings

log = get_logger(__name__)

DAY = 86400.0
BATCH = 500
MODES = ("anonymise", "purge")
# what identifies a person in an interaction's record and timeline
PERSONAL = frozenset({"ani", "dnis", "caller", "number", "inputs", "notes", "note", "caller_number", "channel",
                      "customer_name", "callerid", "calleridname"})


@dataclass
class RetentionReport:
    dry_run: bool
    mode: str
    interactions: int = 0  # anonymised or purged
    events: int = 0  # their timeline events
    recordings: int = 0  # files deleted (or that would be)
    missing_recordings: int = 0  # already gone from disk (the field is cleared all the same)
    customers: int = 0  # distinct customers whose calls (or recordings) were touched
    agent_events: int = 0  # agents' state events purged
    attempts: int = 0  # verification audit rows anonymised or purged
    contacts: int = 0  # contacts other than calls anonymised (subject, summary, link) or purged
    errors: list[str] = field(default_factory=list)
    _customer_ids: set[str] = field(default_factory=set, repr=False)

    def touch(self, customer_id: str | None) -> None:
        if customer_id:
            self._customer_ids.add(customer_id)
            self.customers = len(self._customer_ids)

    def summary(self) -> str:
        verb = "would be" if self.dry_run else "were"
        what = "anonymised" if self.mode == "anonymise" else "purged"
        text = (f"{self.interactions} interactions ({self.events} timeline events) {verb} {what}; "
                f"{self.recordings} recording files {verb} deleted")
        if self.missing_recordings:
            text += f" ({self.missing_recordings} were already missing)"
        text += f"; {self.customers} customers affected; {self.attempts} verification audit rows {verb} {what}"
        text += f"; {self.contacts} other contacts {verb} {what}"
        if self.agent_events:
            text += f"; {self.agent_events} agent state events {verb} purged"
        if self.errors:
            text += f"; {len(self.errors)} errors: " + "; ".join(self.errors[:5])
        return text


def _scrub(data: Any) -> Any:
    if isinstance(data, dict):
        return {k: (None if k in PERSONAL else _scrub(v)) for k, v in data.items()}
    if isinstance(data, list):
        return [_scrub(v) for v in data]
    return data


def anonymised_record(record: dict[str, Any]) -> dict[str, Any]:
    """The interaction record without what identifies the caller; IVR steps lose their inputs."""
    out: dict[str, Any] = _scrub(dict(record))
    out["ivr_path"] = [{k: v for k, v in step.items() if k != "inputs"} for step in out.get("ivr_path") or []]
    return out


async def run_retention(store: SqlStore, *, interaction_days: int, recording_days: int, mode: str,
                        clock: Clock, dry_run: bool = False) -> RetentionReport:
    """Apply the retention rules as of ``clock.now()``. A dry run reads only and reports what a
    real run would change."""
    if mode not in MODES:
        raise ValueError(f"retention mode must be anonymise or purge, not {mode!r}")
    if interaction_days < 1 or recording_days < 1:
        raise ValueError("retention days must be at least 1")
    report = RetentionReport(dry_run=dry_run, mode=mode)
    now = clock.now()
    before_interactions = now - interaction_days * DAY
    # a call anonymised or purged loses its recording too
    before_recordings = max(now - recording_days * DAY, before_interactions)
    await _recordings(store, before_recordings, report, dry_run)
    await _interactions(store, before_interactions, mode, report, dry_run, now)
    await _attempts(store, before_interactions, mode, report, dry_run)
    await _contacts(store, before_interactions, mode, report, dry_run, now)
    if mode == "purge":
        await _agent_events(store, before_interactions, report, dry_run)
    log.event("retention.run", dry_run=dry_run, mode=mode, interactions=report.interactions, recordings=report.recordings,
              customers=report.customers, errors=len(report.errors))
    return report


def _remove(paths: list[str]) -> list[tuple[str, str | None]]:
    """Delete files (in a worker thread): ``(path, None)`` deleted, ``"missing"``, or the error."""
    out: list[tuple[str, str | None]] = []
    for path in paths:
        try:
            os.remove(path)
            out.append((path, None))
        except FileNotFoundError:
            out.append((path, "missing"))
        except OSError as exc:
            out.append((path, exc.strerror or type(exc).__name__))
    return out


def _file_of(row: InteractionRow) -> str:
    """The recording file of a row ``_recordings`` selected (only rows that have one)."""
    assert row.recording is not None, row.call_id
    return row.recording


async def _recordings(store: SqlStore, before: float, report: RetentionReport, dry_run: bool) -> None:
    last = ""
    while True:
        async with store.session.begin() as s:
            rows = (await s.scalars(select(InteractionRow).where(
                InteractionRow.started_at < before, InteractionRow.recording.is_not(None), InteractionRow.call_id > last,
            ).order_by(InteractionRow.call_id).limit(BATCH))).all()
            if not rows:
                return
            last = rows[-1].call_id
            if dry_run:
                for row in rows:
                    exists = await asyncio.to_thread(os.path.exists, _file_of(row))
                    report.recordings += exists
                    report.missing_recordings += not exists
                    report.touch(row.customer_id)
                continue
            results = dict(await asyncio.to_thread(_remove, [_file_of(r) for r in rows]))
            cleared = []
            for row in rows:
                outcome = results.get(_file_of(row))
                if outcome not in (None, "missing"):
                    report.errors.append(f"recording of {row.call_id}: {outcome}")  # kept, tried again next run
                    continue
                report.recordings += outcome is None
                report.missing_recordings += outcome == "missing"
                report.touch(row.customer_id)
                record = dict(row.record)
                record["recording"] = None
                row.record, row.recording = record, None
                cleared.append(row.call_id)
            for e in (await s.scalars(select(EventRow).where(EventRow.call_id.in_(cleared), EventRow.kind == RecordingStarted.kind))).all():
                e.data = {**(e.data or {}), "file": None, "deleted": True}


async def _interactions(store: SqlStore, before: float, mode: str, report: RetentionReport, dry_run: bool, now: float) -> None:
    last = ""
    while True:
        async with store.session.begin() as s:
            rows = (await s.scalars(select(InteractionRow).where(
                InteractionRow.started_at < before, InteractionRow.anonymised_at.is_(None), InteractionRow.call_id > last,
            ).order_by(InteractionRow.call_id).limit(BATCH))).all()
            if not rows:
                return
            last = rows[-1].call_id
            if mode == "purge" and not dry_run:
                # a recording that could not be deleted keeps its call, so the next run finds the file again
                rows = [r for r in rows if r.recording is None]
            ids = [r.call_id for r in rows]
            report.interactions += len(ids)
            for row in rows:
                report.touch(row.customer_id)
            if not ids:
                continue
            if dry_run:
                report.events += int(await s.scalar(select(func.count()).select_from(EventRow).where(EventRow.call_id.in_(ids))) or 0)
                continue
            if mode == "purge":
                report.events += await rows_affected(s, delete(EventRow).where(EventRow.call_id.in_(ids)))
                await s.execute(delete(InteractionRow).where(InteractionRow.call_id.in_(ids)))
                continue
            events = (await s.scalars(select(EventRow).where(EventRow.call_id.in_(ids)))).all()
            report.events += len(events)
            for e in events:
                e.data = _scrub(e.data or {})
            for row in rows:
                record = anonymised_record(row.record)
                record["recording"] = row.recording  # None unless its file could not be deleted (tried again next run)
                row.record, row.ani, row.dnis, row.anonymised_at = record, None, None, now


async def _attempts(store: SqlStore, before: float, mode: str, report: RetentionReport, dry_run: bool) -> None:
    """The verification audit: old rows lose the caller number (anonymise) or go (purge).
    Lockout only counts recent rows, so neither changes a lock in force."""
    old = VerificationAttemptRow.at < before
    async with store.session.begin() as s:
        if mode == "anonymise":
            old = old & VerificationAttemptRow.caller_number.is_not(None)
        if dry_run:
            report.attempts = int(await s.scalar(select(func.count()).select_from(VerificationAttemptRow).where(old)) or 0)
        elif mode == "purge":
            report.attempts = await rows_affected(s, delete(VerificationAttemptRow).where(old))
        else:
            report.attempts = await rows_affected(s, update(VerificationAttemptRow).where(old).values(caller_number=None))


async def _contacts(store: SqlStore, before: float, mode: str, report: RetentionReport, dry_run: bool, now: float) -> None:
    """Contacts other than calls of that age: subject, summary and link blanked (anonymise; the
    channel, direction, time and agent stay for the per-channel counts) or the rows deleted."""
    old = ChannelContactRow.at < before
    if mode == "anonymise":
        old = old & ChannelContactRow.anonymised_at.is_(None)
    async with store.session.begin() as s:
        for cid in (await s.scalars(select(ChannelContactRow.customer_id).where(old).distinct())).all():
            report.touch(cid)
        if dry_run:
            report.contacts = int(await s.scalar(select(func.count()).select_from(ChannelContactRow).where(old)) or 0)
        elif mode == "purge":
            report.contacts = await rows_affected(s, delete(ChannelContactRow).where(old))
        else:
            report.contacts = await rows_affected(s, update(ChannelContactRow).where(old).values(
                subject=None, summary=None, link=None, anonymised_at=now))


async def _agent_events(store: SqlStore, before: float, report: RetentionReport, dry_run: bool) -> None:
    """Purge: the agents' state events of that age go too (occupancy for those days with them)."""
    old = EventRow.call_id.like(AGENT_TIMELINE + "%") & (EventRow.t < before)
    async with store.session.begin() as s:
        if dry_run:
            report.agent_events = int(await s.scalar(select(func.count()).select_from(EventRow).where(old)) or 0)
        else:
            report.agent_events = await rows_affected(s, delete(EventRow).where(old))


class RetentionJob:
    """The engine's schedule: ``start()`` runs ``run_forever`` every ``retention.run_every_h`` hours
    (not at all when 0) as a named task; ``stop()`` cancels it. A failed run is logged and tried
    again at the next one."""

    RUN_TIMEOUT_S = 3600.0

    def __init__(self, store: SqlStore, settings: Settings, clock: Clock) -> None:
        self.store, self.cfg, self.clock = store, settings.retention, clock
        self._task: asyncio.Task[None] | None = None
        self.last_report: RetentionReport | None = None

    def start(self) -> None:
        if self.cfg.run_every_h > 0 and self._task is None:
            self._task = asyncio.create_task(self.run_forever(self.cfg.run_every_h * 3600), name="acd-retention")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def run_once(self, *, dry_run: bool = False) -> RetentionReport:
        report = await within(run_retention(
            self.store, interaction_days=self.cfg.interaction_days, recording_days=self.cfg.recording_days,
            mode=self.cfg.mode, clock=self.clock, dry_run=dry_run), self.RUN_TIMEOUT_S)
        self.last_report = report
        return report

    async def run_forever(self, interval_s: float = 86400.0) -> None:
        """Wait ``interval_s``, run, and again, until cancelled (the engine starts with its own
        work; the first run comes one interval after start)."""
        while True:
            await asyncio.sleep(interval_s)
            try:
                await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - tried again at the next run
                log.error_event("retention.failed", error=type(exc).__name__)
