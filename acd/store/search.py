"""Customer search for agents and supervisors: by name, phone (any format, normalised to E.164 as
the store keeps it), e-mail or account number, a page at a time. A result is the record an agent
may see (fields and contact points), never a secret hash: hashes are in another table this module
never reads. Merged and erased customers are not found."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, func, or_, select

from acd.store.models import ContactPointRow, CustomerRow
from acd.store.names import name_key
from acd.store.phones import BadPhoneNumber, normalise_phone
from acd.store.sql import SqlStore

MAX_PER_PAGE = 100


class BadQuery(ValueError):
    """The search terms or paging are refused; ``field`` names the parameter."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(f"{field_name}: {message}")
        self.field = field_name


@dataclass(frozen=True)
class SearchPage:
    query: str
    page: int
    per_page: int
    total: int
    customers: list[dict[str, Any]]

    def to_dict(self) -> dict[str, Any]:
        return {"q": self.query, "page": self.page, "per_page": self.per_page, "total": self.total,
                "pages": (self.total + self.per_page - 1) // self.per_page, "customers": self.customers}


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _conditions(store: SqlStore, q: str) -> list[ColumnElement[bool]]:
    """What ``q`` may be: a phone number (exact E.164), an e-mail (part of it), an account number
    (exact) or part of a name (accents, case, hyphens and spacing ignored: ``acd.store.names``).
    Every reading that applies is searched."""
    lowered = q.lower()
    conds: list[ColumnElement[bool]] = [CustomerRow.account_number == q]
    if key := name_key(q):
        conds.append(CustomerRow.name_key.like(_like(key), escape="\\"))
    contact = select(ContactPointRow.customer_id)
    if "@" in q:
        conds.append(CustomerRow.customer_id.in_(contact.where(
            ContactPointRow.kind == "email", ContactPointRow.value.like(_like(lowered), escape="\\"))))
    digits = sum(ch.isdigit() for ch in q)
    if digits >= 5:
        try:
            e164 = normalise_phone(q, store.region)
        except BadPhoneNumber:
            e164 = None
        if e164:
            conds.append(CustomerRow.customer_id.in_(contact.where(ContactPointRow.kind == "phone", ContactPointRow.value == e164)))
    return conds


async def search_customers(store: SqlStore, q: str, *, page: int = 1, per_page: int = 20) -> SearchPage:
    q = (q or "").strip()
    if len(q) < 2:
        raise BadQuery("q", "at least 2 characters")
    if len(q) > 200:
        raise BadQuery("q", "at most 200 characters")
    if page < 1:
        raise BadQuery("page", "1 or more")
    if not 1 <= per_page <= MAX_PER_PAGE:
        raise BadQuery("per_page", f"1 to {MAX_PER_PAGE}")
    where = [or_(*_conditions(store, q)), CustomerRow.merged_into.is_(None), CustomerRow.anonymised_at.is_(None)]
    async with store.session() as s:
        total = int(await s.scalar(select(func.count()).select_from(CustomerRow).where(*where)) or 0)
        rows = (await s.scalars(select(CustomerRow).where(*where).order_by(CustomerRow.name, CustomerRow.customer_id)
                                .offset((page - 1) * per_page).limit(per_page))).all()
        ids = [r.customer_id for r in rows]
        contacts = (await s.execute(select(ContactPointRow.customer_id, ContactPointRow.kind, ContactPointRow.value,
                                           ContactPointRow.preferred)
                                    .where(ContactPointRow.customer_id.in_(ids)).order_by(ContactPointRow.id))).all() if ids else []
    by_customer: dict[str, list[tuple[str, str, bool]]] = {}
    for cid, kind, value, preferred in contacts:
        by_customer.setdefault(cid, []).append((kind, value, preferred))
    found = [{
        "customer_id": r.customer_id, "name": r.name, "account_number": r.account_number, "segment": r.segment,
        "vip": r.vip, "language": r.language, "owner_agent": r.owner_agent,
        "phones": [v for k, v, _ in by_customer.get(r.customer_id, []) if k == "phone"],
        "emails": [v for k, v, _ in by_customer.get(r.customer_id, []) if k == "email"],
    } for r in rows]
    return SearchPage(q, page, per_page, total, found)


async def customers_with_contact(store: SqlStore, kind: str, value: str) -> list[str]:
    """Ids of the customers with exactly this phone (normalised to E.164; a number that is not one
    matches nobody) or e-mail (trimmed, any case: the store keeps them lower-case), oldest first.
    Merged and erased customers are not found."""
    if kind == "phone":
        try:
            value = normalise_phone(value, store.region)
        except BadPhoneNumber:
            return []
    else:
        value = value.strip().lower()
    async with store.session() as s:
        rows = await s.scalars(select(CustomerRow.customer_id).join(ContactPointRow).where(
            ContactPointRow.kind == kind, ContactPointRow.value == value,
            CustomerRow.anonymised_at.is_(None), CustomerRow.merged_into.is_(None)).order_by(CustomerRow.created_at))
        return list(dict.fromkeys(rows.all()))
