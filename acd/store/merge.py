"""Merging a duplicate customer into the record kept, and undoing it.

A merge deletes nothing. The merged record stays, hidden (``merged_into``), with what could not
move (a phone or e-mail the kept record already has, a secret it already has). Its calls, other
contacts, follow-up tasks, revisions, contact points and secrets move to the kept record; the kept record's empty
fields take the merged one's values. ``customer_merges`` keeps every moved row's id and both
records' fields before, so ``undo_merge`` puts both back as they were, revisions included (the
revisions the merge wrote are removed). The merge row stays, with who undid it and when."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from acd.store.models import (
    ChannelContactRow, ContactPointRow, CustomerRow, InteractionRow, MergeRow, RevisionRow, SecretRow, TaskRow,
)
from acd.store.sql import CUSTOMER_FIELDS, NotFound, SqlStore, StoreError

FILLED = tuple(f for f in CUSTOMER_FIELDS if f not in ("name", "vip"))  # the kept record's empty ones take the merged values


class MergeRefused(StoreError):
    pass


def _fields(row: CustomerRow) -> dict[str, Any]:
    return {**{f: getattr(row, f) for f in CUSTOMER_FIELDS}, "updated_at": row.updated_at}


def _mergeable(cid: str, row: CustomerRow | None) -> CustomerRow:
    """The row of a customer that may take part in a merge: refuses one missing, merged or anonymised."""
    if row is None:
        raise NotFound(f"no customer {cid}")
    if row.merged_into is not None:
        raise MergeRefused(f"customer {cid} is already merged into {row.merged_into}")
    if row.anonymised_at is not None:
        raise MergeRefused(f"customer {cid} is anonymised")
    return row


async def merge_customers(store: SqlStore, kept_id: str, merged_id: str, *, by: str) -> dict[str, Any]:
    if kept_id == merged_id:
        raise MergeRefused("a customer cannot be merged into itself")
    now = store.clock.now()
    async with store.session.begin() as s:
        kept = _mergeable(kept_id, await s.get(CustomerRow, kept_id))
        merged = _mergeable(merged_id, await s.get(CustomerRow, merged_id))
        moved: dict[str, Any] = {"kept_before": _fields(kept), "merged_before": _fields(merged)}
        moved["interactions"] = list((await s.scalars(select(InteractionRow.call_id).where(InteractionRow.customer_id == merged_id))).all())
        moved["contacts"] = list((await s.scalars(select(ChannelContactRow.contact_id).where(ChannelContactRow.customer_id == merged_id))).all())
        moved["revisions"] = list((await s.scalars(select(RevisionRow.id).where(RevisionRow.customer_id == merged_id))).all())
        await s.execute(update(InteractionRow).where(InteractionRow.call_id.in_(moved["interactions"])).values(customer_id=kept_id))
        await s.execute(update(ChannelContactRow).where(ChannelContactRow.contact_id.in_(moved["contacts"])).values(customer_id=kept_id))
        await s.execute(update(RevisionRow).where(RevisionRow.id.in_(moved["revisions"])).values(customer_id=kept_id))
        moved["tasks"] = list((await s.scalars(select(TaskRow.task_id).where(TaskRow.customer_id == merged_id))).all())
        await s.execute(update(TaskRow).where(TaskRow.task_id.in_(moved["tasks"])).values(customer_id=kept_id))
        moved["contact_points"] = await _move_contact_points(s, kept_id, merged_id)
        moved["secrets"] = await _move_secrets(s, kept_id, merged_id)
        added: list[RevisionRow] = []
        if merged.account_number and not kept.account_number:
            account, merged.account_number = merged.account_number, None
            await s.flush()  # the unique account number leaves the merged record first
            kept.account_number = account
            added.append(RevisionRow(customer_id=kept_id, field="account_number", old_value=None, new_value=account,
                                     changed_by=by, changed_at=now))
        for name in FILLED:
            if name != "account_number" and getattr(kept, name) in (None, "") and getattr(merged, name) not in (None, ""):
                added.append(RevisionRow(customer_id=kept_id, field=name, old_value=getattr(kept, name),
                                         new_value=getattr(merged, name), changed_by=by, changed_at=now))
                setattr(kept, name, getattr(merged, name))
        if merged.vip and not kept.vip:
            added.append(RevisionRow(customer_id=kept_id, field="vip", old_value=False, new_value=True, changed_by=by, changed_at=now))
            kept.vip = True
        added.append(RevisionRow(customer_id=kept_id, field="merged", old_value=None, new_value=merged_id, changed_by=by, changed_at=now))
        merged.merged_into, merged.updated_at, kept.updated_at = kept_id, now, now
        s.add_all(added)
        await s.flush()
        moved["added_revisions"] = [r.id for r in added]
        merge = MergeRow(merge_id=str(uuid.uuid4()), kept_id=kept_id, merged_id=merged_id, at=now, by=by[:64], moved=moved)
        s.add(merge)
    return merge_dict(merge)


async def _move_contact_points(s: AsyncSession, kept_id: str, merged_id: str) -> list[dict[str, Any]]:
    """Phones and e-mails the kept record lacks move to it (not preferred there if it has one of
    that kind already); the ones it has stay on the merged record."""
    have = {(k, v): p for k, v, p in (await s.execute(select(ContactPointRow.kind, ContactPointRow.value, ContactPointRow.preferred)
                                                      .where(ContactPointRow.customer_id == kept_id))).all()}
    preferred_kinds = {k for (k, _), p in have.items() if p}
    out = []
    for row in (await s.scalars(select(ContactPointRow).where(ContactPointRow.customer_id == merged_id))).all():
        if (row.kind, row.value) in have:
            continue
        out.append({"id": row.id, "preferred": bool(row.preferred)})
        row.customer_id = kept_id
        if row.kind in preferred_kinds:
            row.preferred = False
    return out


async def _move_secrets(s: AsyncSession, kept_id: str, merged_id: str) -> list[str]:
    have = set((await s.scalars(select(SecretRow.kind).where(SecretRow.customer_id == kept_id))).all())
    kinds = [k for k in (await s.scalars(select(SecretRow.kind).where(SecretRow.customer_id == merged_id))).all() if k not in have]
    if kinds:
        await s.execute(update(SecretRow).where(SecretRow.customer_id == merged_id, SecretRow.kind.in_(kinds)).values(customer_id=kept_id))
    return kinds


async def undo_merge(store: SqlStore, merge_id: str, *, by: str) -> dict[str, Any]:
    now = store.clock.now()
    async with store.session.begin() as s:
        merge = await s.get(MergeRow, merge_id)
        if merge is None:
            raise NotFound(f"no merge {merge_id}")
        if merge.undone_at is not None:
            raise MergeRefused(f"merge {merge_id} was already undone")
        kept, merged = await s.get(CustomerRow, merge.kept_id), await s.get(CustomerRow, merge.merged_id)
        if kept is None or merged is None:
            raise MergeRefused("one of the two customers was erased since: the merge cannot be undone")
        if kept.merged_into is not None:
            raise MergeRefused(f"customer {kept.customer_id} was merged into {kept.merged_into} since: undo that first")
        m = merge.moved
        await s.execute(update(InteractionRow).where(InteractionRow.call_id.in_(m["interactions"]),
                                                     InteractionRow.customer_id == kept.customer_id).values(customer_id=merged.customer_id))
        await s.execute(update(ChannelContactRow).where(ChannelContactRow.contact_id.in_(m["contacts"]),
                                                        ChannelContactRow.customer_id == kept.customer_id).values(customer_id=merged.customer_id))
        await s.execute(update(RevisionRow).where(RevisionRow.id.in_(m["revisions"])).values(customer_id=merged.customer_id))
        await s.execute(update(TaskRow).where(TaskRow.task_id.in_(m.get("tasks", [])),  # (merges before tasks moved have none)
                                              TaskRow.customer_id == kept.customer_id).values(customer_id=merged.customer_id))
        for point in m["contact_points"]:
            await s.execute(update(ContactPointRow).where(ContactPointRow.id == point["id"], ContactPointRow.customer_id == kept.customer_id)
                            .values(customer_id=merged.customer_id, preferred=point["preferred"]))
        if m["secrets"]:
            await s.execute(update(SecretRow).where(SecretRow.customer_id == kept.customer_id, SecretRow.kind.in_(m["secrets"]))
                            .values(customer_id=merged.customer_id))
        for row_id in m["added_revisions"]:
            revision = await s.get(RevisionRow, row_id)
            if revision is not None:
                await s.delete(revision)
        kept.account_number = None
        await s.flush()  # the account number goes back first (it is unique)
        for row, before in ((merged, m["merged_before"]), (kept, m["kept_before"])):
            for name, value in before.items():
                setattr(row, name, value)
        merged.merged_into = None
        merge.undone_at, merge.undone_by = now, by[:64]
    return merge_dict(merge)


async def merges_of(store: SqlStore, customer_id: str) -> list[dict[str, Any]]:
    async with store.session() as s:
        rows = (await s.scalars(select(MergeRow).where((MergeRow.kept_id == customer_id) | (MergeRow.merged_id == customer_id))
                                .order_by(MergeRow.at))).all()
    return [merge_dict(r) for r in rows]


def merge_dict(row: MergeRow) -> dict[str, Any]:
    m = row.moved or {}
    return {"merge_id": row.merge_id, "kept_id": row.kept_id, "merged_id": row.merged_id, "at": row.at, "by": row.by,
            "undone_at": row.undone_at, "undone_by": row.undone_by,
            "moved": {k: len(m.get(k) or ()) for k in ("interactions", "contacts", "tasks", "revisions", "contact_points", "secrets")}}
