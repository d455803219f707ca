"""The customer store (issue 4): customers, contact points, hashed secrets, revision history,
interactions with their timelines, the verification audit; the durable spool in front of it.

``open_store(settings)`` opens the configured database and brings its schema to the latest
migration."""

from __future__ import annotations

from typing import TYPE_CHECKING

from acd.store.records import Interaction, Outcome, fold
from acd.store.sql import NotFound, SpooledEvent, SqlStore, StoreError

if TYPE_CHECKING:
    from acd.settings import Settings


async def open_store(settings: Settings, *, migrate: bool = True) -> SqlStore:
    """The store for ``settings.database.url``, migrated to head (``migrate=False``: as it is,
    for readers such as reports, which must not create or change a database)."""
    return await SqlStore(settings.database.url, region=settings.database.phone_region).open(migrate_schema=migrate)


__all__ = ["Interaction", "NotFound", "Outcome", "SpooledEvent", "SqlStore", "StoreError", "fold", "open_store"]
