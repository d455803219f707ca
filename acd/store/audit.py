"""The access audit: every read of a customer's record (screen-pop, search, record, timeline,
export) with who read it, when, and why (the call or task it was for). A supervisor lists it per
customer. Rows hold the customer's id, never their data, so they outlive an erasure."""

from __future__ import annotations

from typing import Any
from collections.abc import Iterable

from sqlalchemy import select

from acd.store.models import AccessRow
from acd.store.sql import SqlStore

ACTIONS = ("screen_pop", "search", "record", "timeline", "export", "edit", "contacts", "erase")


async def record_access(store: SqlStore, customer_ids: Iterable[str], *, who: str, action: str, reason: str | None) -> None:
    """One row per customer read (a search that finds five customers logs five)."""
    if action not in ACTIONS:
        raise ValueError(f"unknown access action {action!r}")  # a programming error, not an outcome
    ids = list(dict.fromkeys(customer_ids))
    if not ids:
        return
    now = store.clock.now()
    async with store.session.begin() as s:
        for cid in ids:
            s.add(AccessRow(customer_id=cid, at=now, who=who[:64], action=action, reason=(reason or None) and reason[:120]))


async def access_log(store: SqlStore, customer_id: str, *, limit: int = 500) -> list[dict[str, Any]]:
    """Newest first."""
    async with store.session() as s:
        rows = (await s.scalars(select(AccessRow).where(AccessRow.customer_id == customer_id)
                                .order_by(AccessRow.at.desc(), AccessRow.id.desc()).limit(limit))).all()
    return [{"at": r.at, "who": r.who, "action": r.action, "reason": r.reason} for r in rows]
