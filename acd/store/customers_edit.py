"""Creating and editing a customer from the desktop, the API or the CLI: every value through the
rules the import uses (``acd.store.validation``), every change kept in the revision history with
who, when and why, duplicate candidates returned with the write, and contact points added,
removed and marked preferred."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from collections.abc import Mapping

from sqlalchemy import select, update

from acd.store.duplicates import candidates_for
from acd.store.models import ContactPointRow, RevisionRow
from acd.store.sql import NotFound, SqlStore, StoreError
from acd.store.validation import CustomerRules, FieldInvalid

CONTACT_KINDS = ("phone", "email")


class InvalidCustomer(StoreError):
    """Field values refused; ``problems`` lists every one (field and reason)."""

    def __init__(self, problems: list[FieldInvalid]) -> None:
        super().__init__("; ".join(str(p) for p in problems))
        self.problems = problems

    @property
    def field(self) -> str:
        return self.problems[0].field


@dataclass
class WriteResult:
    customer: dict[str, Any]
    duplicates: list[dict[str, Any]] = field(default_factory=list)  # candidates: a warning, not a refusal

    def to_dict(self) -> dict[str, Any]:
        return {"customer": self.customer, "duplicates": self.duplicates}


def _why(by: str, reason: str | None) -> str:
    """The revision's ``changed_by``: who, and why when given (``agent1 (call 1700000000.1)``)."""
    text = by if not reason else f"{by} ({reason})"
    return text[:64]


async def create(store: SqlStore, rules: CustomerRules, values: Mapping[str, Any], *, by: str,
                 reason: str | None = None) -> WriteResult:
    checked = rules.check(values, creating=True, blank_clears=False)
    if checked.problems:
        raise InvalidCustomer(checked.problems)
    duplicates = await candidates_for(store, name=checked.fields["name"], phones=checked.phones, emails=checked.emails,
                                      dob=checked.secrets.get("dob"))
    cid = await store.create_customer(phones=checked.phones, emails=checked.emails, by=_why(by, reason), **checked.fields)
    for kind, secret in checked.secrets.items():
        await store.set_secret(cid, kind, secret, by=_why(by, reason))
    return WriteResult(await store.get_customer(cid), duplicates)


async def edit(store: SqlStore, rules: CustomerRules, customer_id: str, values: Mapping[str, Any], *, by: str,
               reason: str | None = None) -> WriteResult:
    """Change fields (a blank value empties one; the name is never blank). Contact points listed
    under ``phones``/``emails`` are added; removal is ``remove_contact``."""
    checked = rules.check(values, creating=False, blank_clears=True)
    if checked.problems:
        raise InvalidCustomer(checked.problems)
    current = await store.get_customer(customer_id)
    _refuse_hidden(current)
    who = _why(by, reason)
    customer = await store.update_customer(customer_id, checked.fields, by=who) if checked.fields else current
    for kind, values_ in (("phone", checked.phones), ("email", checked.emails)):
        for value in values_:
            await store.add_contact(customer_id, kind, value, by=who)
    for kind, secret in checked.secrets.items():
        await store.set_secret(customer_id, kind, secret, by=who)
    if checked.phones or checked.emails:
        customer = await store.get_customer(customer_id)
    duplicates = await candidates_for(store, name=customer["name"], phones=customer["phones"], emails=customer["emails"],
                                      dob=checked.secrets.get("dob"), exclude=customer_id)
    return WriteResult(customer, duplicates)


def _refuse_hidden(customer: dict[str, Any]) -> None:
    if customer.get("merged_into"):
        raise StoreError(f"customer {customer['customer_id']} was merged into {customer['merged_into']}: edit that record")
    if customer.get("anonymised"):
        raise StoreError(f"customer {customer['customer_id']} is anonymised")


def _normalised(rules: CustomerRules, kind: str, value: str) -> str:
    if kind not in CONTACT_KINDS:
        raise InvalidCustomer([FieldInvalid("kind", "phone or email")])
    try:
        return rules.phone(value, "value") if kind == "phone" else rules.email(value, "value")
    except FieldInvalid as exc:
        raise InvalidCustomer([exc]) from None


async def add_contact(store: SqlStore, rules: CustomerRules, customer_id: str, kind: str, value: str, *, by: str,
                      preferred: bool = False, reason: str | None = None) -> dict[str, Any]:
    value = _normalised(rules, kind, value)
    _refuse_hidden(await store.get_customer(customer_id))
    await store.add_contact(customer_id, kind, value, by=_why(by, reason))
    if preferred:
        await set_preferred(store, rules, customer_id, kind, value, by=by, reason=reason)
    return await store.get_customer(customer_id)


async def remove_contact(store: SqlStore, rules: CustomerRules, customer_id: str, kind: str, value: str, *, by: str,
                         reason: str | None = None) -> dict[str, Any]:
    value = _normalised(rules, kind, value)
    async with store.session.begin() as s:
        row = await s.scalar(select(ContactPointRow).where(
            ContactPointRow.customer_id == customer_id, ContactPointRow.kind == kind, ContactPointRow.value == value))
        if row is None:
            raise NotFound(f"customer {customer_id} has no {kind} {value}")
        await s.delete(row)
        s.add(RevisionRow(customer_id=customer_id, field=kind, old_value=value, new_value=None,
                          changed_by=_why(by, reason), changed_at=store.clock.now()))
    return await store.get_customer(customer_id)


async def set_preferred(store: SqlStore, rules: CustomerRules, customer_id: str, kind: str, value: str, *, by: str,
                        reason: str | None = None) -> dict[str, Any]:
    """Mark one phone (or e-mail) as the one to use first; the previous preferred one of that kind
    is unmarked. The revision keeps which it was."""
    value = _normalised(rules, kind, value)
    async with store.session.begin() as s:
        rows = (await s.scalars(select(ContactPointRow).where(
            ContactPointRow.customer_id == customer_id, ContactPointRow.kind == kind))).all()
        target = next((r for r in rows if r.value == value), None)
        if target is None:
            raise NotFound(f"customer {customer_id} has no {kind} {value}")
        before = next((r.value for r in rows if r.preferred), None)
        if before != value:
            await s.execute(update(ContactPointRow).where(ContactPointRow.customer_id == customer_id,
                                                          ContactPointRow.kind == kind).values(preferred=False))
            target.preferred = True
            s.add(RevisionRow(customer_id=customer_id, field=f"preferred_{kind}", old_value=before, new_value=value,
                              changed_by=_why(by, reason), changed_at=store.clock.now()))
    return await store.get_customer(customer_id)


async def note_link(store: SqlStore, customer_id: str, call_id: str, *, by: str) -> None:
    """The revision history notes a call filed under the customer (its record follows the call's
    ``linked`` timeline event)."""
    async with store.session.begin() as s:
        s.add(RevisionRow(customer_id=customer_id, field="interaction_linked", old_value=None, new_value=call_id,
                          changed_by=by[:64], changed_at=store.clock.now()))
