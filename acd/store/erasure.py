"""Erasure on request: a person's data removed everywhere the engine keeps it, while the anonymous
figures reports need stay, and an audit entry says who erased whom, when and why.

What goes, for the customer and every record merged into it:
- the record: fields, contact points, secrets' hashes and the revision history (the row is
  deleted; its id stays only in the audit entries);
- its calls: the record and every timeline event lose caller and dialled numbers, channel names,
  IVR inputs, notes and callback numbers (the retention's ``anonymise``), and the customer link;
  times, queue, agent, offers, outcome and disposition stay for reports;
- recordings of those calls, where the engine can reach the file;
- other contacts: subject, summary and link blanked, the customer link cleared (channel,
  direction, time and agent stay for the per-channel counts);
- the verification audit: caller numbers of the customer's attempts and calls;
- the spool: lines of those calls already written to the database are scrubbed in place (same
  length, so the writer's offsets hold); lines not yet written are counted and left (they are
  anonymised when they reach the database only if erasure is run again);
- merge snapshots that hold the person's old field values;
- tasks: titles (a flow's "Call back: {{ customer.name }}"), notes and call-back numbers blanked,
  the notes and number digits in their history too, and the customer link cleared (type, owner,
  times and status stay for the workload figures).
"""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select, update

from acd.logs import get_logger
from acd.store.tasks import erase_tasks
from acd.store.models import (
    ChannelContactRow, CustomerRow, ErasureRow, EventRow, InteractionRow, MergeRow, VerificationAttemptRow,
)
from acd.store.dml import rows_affected
from acd.store.retention import _remove, _scrub, anonymised_record
from acd.store.sql import NotFound, SqlStore

log = get_logger(__name__)


async def erase_customer(store: SqlStore, customer_id: str, *, by: str, reason: str | None = None,
                         spool_dir: str | Path | None = None) -> dict[str, Any]:
    """Erase the customer (and the records merged into it); returns the counts, also kept in the
    audit entry."""
    now = store.clock.now()
    counts = {"customers": 0, "interactions": 0, "events": 0, "recordings": 0, "recordings_missing": 0,
              "contacts": 0, "tasks": 0, "verification_attempts": 0, "spool_lines": 0, "spool_pending": 0, "merges": 0}
    async with store.session() as s:
        if await s.get(CustomerRow, customer_id) is None:
            raise NotFound(f"no customer {customer_id}")
        ids = [customer_id, *(await s.scalars(select(CustomerRow.customer_id).where(CustomerRow.merged_into == customer_id))).all()]
        calls = (await s.execute(select(InteractionRow.call_id, InteractionRow.recording)
                                 .where(InteractionRow.customer_id.in_(ids)))).all()
    call_ids = [c for c, _ in calls]
    recordings = [r for _, r in calls if r]
    if recordings:
        for _, outcome in await asyncio.to_thread(_remove, recordings):
            counts["recordings"] += outcome is None
            counts["recordings_missing"] += outcome is not None
    async with store.session.begin() as s:
        for row in (await s.scalars(select(InteractionRow).where(InteractionRow.call_id.in_(call_ids)))).all():
            record = anonymised_record(row.record)
            record["recording"], record["customer_id"] = None, None
            row.record, row.ani, row.dnis, row.recording, row.customer_id = record, None, None, None, None
            row.anonymised_at = row.anonymised_at or now
            counts["interactions"] += 1
        for e in (await s.scalars(select(EventRow).where(EventRow.call_id.in_(call_ids)))).all():
            data = _scrub(e.data or {})
            for key in ("customer_id", "file"):
                if key in data:
                    data[key] = None
            e.data = data
            counts["events"] += 1
        counts["contacts"] = await rows_affected(s, update(ChannelContactRow).where(ChannelContactRow.customer_id.in_(ids)).values(
            customer_id=None, subject=None, summary=None, link=None, anonymised_at=now))
        counts["tasks"] = await erase_tasks(s, ids)
        counts["verification_attempts"] = await rows_affected(s, update(VerificationAttemptRow).where(
            VerificationAttemptRow.customer_id.in_(ids) | VerificationAttemptRow.call_id.in_(call_ids)).values(
            caller_number=None, customer_id=None))
        counts["merges"] = await rows_affected(s, update(MergeRow).where(MergeRow.kept_id.in_(ids) | MergeRow.merged_id.in_(ids))
                                            .values(moved={"erased": True}, undone_at=now, undone_by="erasure"))
        await s.execute(update(CustomerRow).where(CustomerRow.customer_id.in_(ids)).values(merged_into=None))
        counts["customers"] = await rows_affected(s, delete(CustomerRow).where(CustomerRow.customer_id.in_(ids)))
    if spool_dir is not None:
        lines, pending = await asyncio.to_thread(scrub_spool, Path(spool_dir), set(call_ids))
        counts["spool_lines"], counts["spool_pending"] = lines, pending
    async with store.session.begin() as s:
        s.add(ErasureRow(customer_id=customer_id, at=now, by=by[:64], reason=(reason or None) and reason[:200], counts=counts))
    log.event("customer.erased", customer_id=customer_id, by=by, interactions=counts["interactions"], contacts=counts["contacts"])
    return {"customer_id": customer_id, "at": now, "by": by, "counts": counts}


async def erasures(store: SqlStore) -> list[dict[str, Any]]:
    async with store.session() as s:
        rows = (await s.scalars(select(ErasureRow).order_by(ErasureRow.at))).all()
    return [{"customer_id": r.customer_id, "at": r.at, "by": r.by, "reason": r.reason, "counts": r.counts} for r in rows]


def _checkpoint(spool: Path) -> tuple[str | None, int]:
    try:
        raw = json.loads((spool / "checkpoint.json").read_text())
        return raw.get("segment"), int(raw.get("offset", 0))
    except (FileNotFoundError, ValueError):
        return None, 0


def _same_length(line: bytes, data: dict[str, Any]) -> bytes | None:
    """The scrubbed event as JSON padded with spaces to the line's length (None if it will not fit)."""
    text = json.dumps(data, separators=(",", ":")).encode()
    if len(text) > len(line):
        return None
    return text[:-1] + b" " * (len(line) - len(text)) + b"}"


def scrub_spool(spool: Path, call_ids: set[str]) -> tuple[int, int]:
    """Scrub, in place, the spool lines of ``call_ids`` the writer has passed (before its
    checkpoint); returns (lines scrubbed, lines still waiting to be written). ``rejected.jsonl``
    lines of those calls are dropped (they were never valid events)."""
    if not call_ids or not spool.is_dir():
        return 0, 0
    cp_segment, cp_offset = _checkpoint(spool)
    scrubbed = pending = 0
    for seg in sorted(spool.glob("*-*.jsonl")):
        if cp_segment is None or seg.name > cp_segment:
            limit: int | None = 0  # nothing of it written yet
        elif seg.name < cp_segment:
            limit = None  # all written
        else:
            limit = cp_offset
        with open(seg, "r+b") as fh:
            pos = 0
            for line in fh.read().split(b"\n"):
                start, pos = pos, pos + len(line) + 1
                if not line or not any(c.encode() in line for c in call_ids):
                    continue
                try:
                    event = json.loads(line)
                except ValueError:
                    continue
                if event.get("call_id") not in call_ids:
                    continue
                if limit is not None and start + len(line) + 1 > limit:
                    pending += 1
                    continue
                event["data"] = {k: (None if k in ("customer_id", "file") else v) for k, v in _scrub(event.get("data") or {}).items()}
                new = _same_length(line, event)
                if new is None:
                    event["data"] = {}
                    new = _same_length(line, event)
                if new is not None:
                    os.pwrite(fh.fileno(), new, start)
                    scrubbed += 1
    rejected = spool / "rejected.jsonl"
    if rejected.exists():
        kept = [ln for ln in rejected.read_bytes().split(b"\n") if ln and not any(c.encode() in ln for c in call_ids)]
        rejected.write_bytes(b"".join(ln + b"\n" for ln in kept))
    return scrubbed, pending
