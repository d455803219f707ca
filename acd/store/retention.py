"""Data protection: interaction details and recordings older than the configured ages are
anonymised or purged, on a schedule and by ``acd retention run`` (with a dry run)."""

from __future__ import annotations

import asyncio
import contextlib
import os
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, select

from acd.clock import Clock
from acd.logs import get_logger
from acd.store.models import EventRow, InteractionRow
from acd.store.sql import SqlStore

log = get_logger(__name__)

DAY = 86400.0
# what identifies a person in an interaction's record and timeline
PERSONAL = frozenset({"ani", "dnis", "caller", "number", "inputs", "notes", "caller_number", "channel", "customer_name"})


@dataclass
class RetentionReport:
    dry_run: bool
    mode: str
    interactions: int = 0  # anonymised or purged
    events: int = 0
    recordings: int = 0  # files deleted (or that would be)
    missing_recordings: int = 0  # already gone from disk
    errors: list[str] = field(default_factory=list)

    def summary(self) -> str:
        verb = "would be" if self.dry_run else "were"
        what = "anonymised" if self.mode == "anonymise" else "purged"
        text = (f"{self.interactions} interactions ({self.events} timeline events) {verb} {what}; "
                f"{self.recordings} recording files {verb} deleted")
        if self.missing_recordings:
            text += f" ({self.missing_recordings} were already missing)"
        if self.errors:
            text += f"; {len(self.errors)} errors: " + "; ".join(self.errors[:5])
        return text


def _scrub(data: Any) -> Any:
    if isinstance(data, dict):
        return {k: (None if k in PERSONAL else _scrub(v)) for k, v in data.items()}
    if isinstance(data, list):
        return [_scrub(v) for v in data]
    return data


async def run_retention(store: SqlStore, *, interaction_days: int, recording_days: int, mode: str,
                        clock: Clock, dry_run: bool = False) -> RetentionReport:
    report = RetentionReport(dry_run=dry_run, mode=mode)
    now = clock.now()
    await _recordings(store, now - recording_days * DAY, report, dry_run)
    await _interactions(store, now - interaction_days * DAY, mode, report, dry_run)
    log.event("retention.run", dry_run=dry_run, mode=mode, interactions=report.interactions, recordings=report.recordings)
    return report


async def _recordings(store: SqlStore, before: float, report: RetentionReport, dry_run: bool) -> None:
    async with store.session.begin() as s:
        rows = (await s.scalars(select(InteractionRow).where(InteractionRow.started_at < before, InteractionRow.recording.is_not(None)))).all()
        for row in rows:
            path = row.recording
            if not os.path.exists(path):
                report.missing_recordings += 1
            else:
                report.recordings += 1
                if not dry_run:
                    try:
                        os.remove(path)
                    except OSError as exc:
                        report.errors.append(f"{path}: {exc.strerror}")
                        continue
            if not dry_run:
                record = dict(row.record)
                record["recording"] = None
                row.record, row.recording = record, None
        if dry_run:
            await s.rollback()


async def _interactions(store: SqlStore, before: float, mode: str, report: RetentionReport, dry_run: bool) -> None:
    async with store.session.begin() as s:
        rows = (await s.scalars(select(InteractionRow).where(InteractionRow.started_at < before, InteractionRow.anonymised_at.is_(None)))).all()
        ids = [r.call_id for r in rows]
        report.interactions = len(ids)
        for chunk in (ids[i:i + 500] for i in range(0, len(ids), 500)):
            events = (await s.scalars(select(EventRow).where(EventRow.call_id.in_(chunk)))).all()
            report.events += len(events)
            if dry_run:
                continue
            if mode == "purge":
                await s.execute(delete(EventRow).where(EventRow.call_id.in_(chunk)))
                await s.execute(delete(InteractionRow).where(InteractionRow.call_id.in_(chunk)))
                continue
            for e in events:
                e.data = _scrub(e.data)
        if not dry_run and mode == "anonymise":
            now = store.clock.now()
            for row in rows:
                record = _scrub(dict(row.record))
                record["ivr_path"] = [{k: v for k, v in step.items() if k != "inputs"} for step in row.record.get("ivr_path", [])]
                row.record, row.ani, row.dnis, row.anonymised_at = record, None, None, now
        if dry_run:
            await s.rollback()


class RetentionJob:
    """The engine's schedule: one run every ``run_every_h`` hours (none when 0)."""

    def __init__(self, store: SqlStore, settings, clock: Clock) -> None:
        self.store, self.cfg, self.clock = store, settings.retention, clock
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        if self.cfg.run_every_h > 0 and self._task is None:
            self._task = asyncio.create_task(self._loop(), name="acd-retention")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.cfg.run_every_h * 3600)
            try:
                await asyncio.wait_for(run_retention(self.store, interaction_days=self.cfg.interaction_days,
                                                     recording_days=self.cfg.recording_days, mode=self.cfg.mode,
                                                     clock=self.clock), 3600)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - tried again at the next run
                log.error_event("retention.failed", error=f"{type(exc).__name__}: {exc}")
