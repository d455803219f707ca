"""Duplicate customers: the candidates for one record being written, and every pair in the store
for the data-quality report.

Reasons: ``same phone``, ``same email``, ``same name and date of birth`` and ``similar name``.
Dates of birth are stored only as salted KDF hashes, so two stored dates can never be compared:
the date given with a write is checked against each same-name customer's hash with the KDF
(``verify_secret``), never in clear, never stored."""

from __future__ import annotations

import asyncio
import difflib
from collections import defaultdict
from typing import Any
from collections.abc import Iterable

from sqlalchemy import ColumnElement, func, select

from acd.secrets import Secret, verify_secret
from acd.store.models import ContactPointRow, CustomerRow, SecretRow
from acd.store.names import name_key
from acd.store.sql import SqlStore

SIMILAR = 0.85  # difflib ratio of the normalised names at and above which two names are "similar"
MAX_REPORTED = 500


def similar(a: str, b: str) -> bool:
    ka, kb = name_key(a), name_key(b)
    if not ka or not kb:
        return False
    if ka == kb or sorted(ka.split()) == sorted(kb.split()):
        return True
    return difflib.SequenceMatcher(None, ka, kb).ratio() >= SIMILAR


def _live() -> tuple[ColumnElement[bool], ColumnElement[bool]]:
    """The conditions of a live customer: neither merged into another nor anonymised."""
    return (CustomerRow.merged_into.is_(None), CustomerRow.anonymised_at.is_(None))


def _pair(a: str, b: str) -> tuple[str, str]:
    """Two customer ids in one order, so a pair is counted once."""
    return (a, b) if a <= b else (b, a)


async def candidates_for(store: SqlStore, *, name: str, phones: Iterable[str] = (), emails: Iterable[str] = (),
                         dob: Secret | None = None, exclude: str | None = None) -> list[dict[str, Any]]:
    """The existing customers this record may duplicate, each with its reasons."""
    reasons: dict[str, set[str]] = defaultdict(set)
    names: dict[str, str] = {}
    phones, emails = list(phones), list(emails)
    async with store.session() as s:
        for kind, values in (("phone", phones), ("email", emails)):
            if values:
                rows = (await s.execute(select(CustomerRow.customer_id, CustomerRow.name).join(ContactPointRow).where(
                    ContactPointRow.kind == kind, ContactPointRow.value.in_(values), *_live()))).all()
                for cid, n in rows:
                    reasons[cid].add(f"same {kind}")
                    names[cid] = n
        key = name_key(name)
        words = [w for w in key.split() if len(w) >= 2]
        if words:
            longest = max(words, key=len)
            rows = (await s.execute(select(CustomerRow.customer_id, CustomerRow.name).where(
                func.lower(CustomerRow.name).like(f"%{longest[:3]}%"), *_live()).limit(1000))).all()
            same_name = []
            for cid, n in rows:
                if similar(name, n):
                    reasons[cid].add("similar name")
                    names[cid] = n
                    if name_key(n) == key:
                        same_name.append(cid)
            if dob is not None and same_name:
                hashes = (await s.execute(select(SecretRow.customer_id, SecretRow.hash).where(
                    SecretRow.kind == "dob", SecretRow.customer_id.in_(same_name)))).all()
                for cid, digest in hashes:
                    if await asyncio.to_thread(verify_secret, dob, digest):
                        reasons[cid].add("same name and date of birth")
    reasons.pop(exclude or "", None)
    return [{"customer_id": cid, "name": names[cid], "reasons": sorted(r)} for cid, r in sorted(reasons.items())]


async def duplicate_pairs(store: SqlStore) -> list[dict[str, Any]]:
    """Every pair of live customers sharing a phone or an e-mail, or with similar names."""
    pairs: dict[tuple[str, str], set[str]] = defaultdict(set)
    async with store.session() as s:
        shared = (await s.execute(select(ContactPointRow.kind, ContactPointRow.value, ContactPointRow.customer_id)
                                  .join(CustomerRow).where(*_live())
                                  .order_by(ContactPointRow.kind, ContactPointRow.value))).all()
        people = (await s.execute(select(CustomerRow.customer_id, CustomerRow.name).where(*_live()))).all()
    by_value: dict[tuple[str, str], list[str]] = defaultdict(list)
    for kind, value, cid in shared:
        by_value[(kind, value)].append(cid)
    for (kind, _), ids in by_value.items():
        for i, a in enumerate(ids):
            for b in ids[i + 1:]:
                pairs[_pair(a, b)].add(f"same {kind}")
    names = dict(people)
    buckets: dict[str, list[str]] = defaultdict(list)  # compared within the bucket of the name's last word's first letter
    for cid, n in people:
        words = name_key(n).split()
        if words:
            buckets[words[-1][:1]].append(cid)
    for ids in buckets.values():
        for i, a in enumerate(ids):
            for b in ids[i + 1:]:
                if similar(names[a], names[b]):
                    pairs[_pair(a, b)].add("similar name")
    out = [{"customers": [a, b], "names": [names.get(a), names.get(b)], "reasons": sorted(r)}
           for (a, b), r in sorted(pairs.items())]
    return out[:MAX_REPORTED]
