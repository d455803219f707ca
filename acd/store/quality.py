"""The data-quality report (``acd customers quality``, ``GET /api/v1/customers/quality``):
duplicate candidates, customers with no phone or e-mail, contact points that are not valid
(stored before today's rules, or by another tool), and stale records (no change, call or other
contact for ``stale_days``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select

from acd.store.duplicates import duplicate_pairs
from acd.store.models import ChannelContactRow, ContactPointRow, CustomerRow, InteractionRow
from acd.store.phones import BadPhoneNumber, normalise_phone
from acd.store.sql import SqlStore
from acd.store.validation import EMAIL

DAY = 86400.0


@dataclass
class QualityReport:
    customers: int = 0
    duplicates: list[dict[str, Any]] = field(default_factory=list)
    missing_contacts: list[dict[str, Any]] = field(default_factory=list)
    invalid_contacts: list[dict[str, Any]] = field(default_factory=list)
    stale: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"customers": self.customers, "duplicates": self.duplicates, "missing_contacts": self.missing_contacts,
                "invalid_contacts": self.invalid_contacts, "stale": self.stale}

    def render(self) -> str:
        lines = [f"{self.customers} customers: {len(self.duplicates)} duplicate candidates, {len(self.missing_contacts)} "
                 f"without phone or e-mail, {len(self.invalid_contacts)} invalid contact points, {len(self.stale)} stale"]
        if self.duplicates:
            lines.append("\nDuplicate candidates")
            lines += [f"  {d['customers'][0]}  {d['customers'][1]}  {d['names'][0]} / {d['names'][1]}: {', '.join(d['reasons'])}"
                      for d in self.duplicates]
        if self.missing_contacts:
            lines.append("\nNo phone or e-mail")
            lines += [f"  {c['customer_id']}  {c['name']}" for c in self.missing_contacts]
        if self.invalid_contacts:
            lines.append("\nInvalid contact points")
            lines += [f"  {c['customer_id']}  {c['kind']} {c['value']!r}: {c['problem']}" for c in self.invalid_contacts]
        if self.stale:
            lines.append("\nStale (no change or contact since)")
            lines += [f"  {c['customer_id']}  {c['name']}  last {c['last_days']} days ago" for c in self.stale]
        return "\n".join(lines) + "\n"


async def quality_report(store: SqlStore, *, stale_days: int) -> QualityReport:
    report = QualityReport(duplicates=await duplicate_pairs(store))
    live = (CustomerRow.merged_into.is_(None), CustomerRow.anonymised_at.is_(None))
    now = store.clock.now()
    async with store.session() as s:
        people = (await s.execute(select(CustomerRow.customer_id, CustomerRow.name, CustomerRow.updated_at).where(*live)
                                  .order_by(CustomerRow.name))).all()
        with_contacts = set((await s.scalars(select(ContactPointRow.customer_id).distinct())).all())
        points = (await s.execute(select(ContactPointRow.customer_id, ContactPointRow.kind, ContactPointRow.value)
                                  .join(CustomerRow).where(*live).order_by(ContactPointRow.id))).all()
        last_call = dict((await s.execute(select(InteractionRow.customer_id, func.max(InteractionRow.started_at))
                                          .where(InteractionRow.customer_id.is_not(None)).group_by(InteractionRow.customer_id))).all())
        last_contact = dict((await s.execute(select(ChannelContactRow.customer_id, func.max(ChannelContactRow.at))
                                             .where(ChannelContactRow.customer_id.is_not(None)).group_by(ChannelContactRow.customer_id))).all())
    report.customers = len(people)
    for cid, kind, value in points:
        problem = _problem(kind, value, store.region)
        if problem:
            report.invalid_contacts.append({"customer_id": cid, "kind": kind, "value": value, "problem": problem})
    for cid, name, updated_at in people:
        if cid not in with_contacts:
            report.missing_contacts.append({"customer_id": cid, "name": name})
        last = max(x for x in (updated_at, last_call.get(cid), last_contact.get(cid)) if x is not None)
        if now - last > stale_days * DAY:
            report.stale.append({"customer_id": cid, "name": name, "last_at": last, "last_days": int((now - last) // DAY)})
    return report


def _problem(kind: str, value: str, region: str) -> str | None:
    if kind == "email":
        return None if EMAIL.match(value) else "not an e-mail address"
    try:
        if normalise_phone(value, region) != value:
            return "not in E.164 form"
    except BadPhoneNumber as exc:
        return str(exc)
    return None
