"""The customer store (issue 4): customers, contact points, hashed secrets, revision history,
interactions with their timelines, the verification audit; the durable spool in front of it.

``open_store(settings)`` opens the configured database and brings its schema to the latest
migration."""

from __future__ import annotations

from acd.store.records import Interaction, Outcome, fold
from acd.store.sql import NotFound, SpooledEvent, SqlStore, StoreError


async def open_store(settings) -> SqlStore:
    """The store for ``settings.database.url``, migrated to head."""
    return await SqlStore(settings.database.url).open()


__all__ = ["Interaction", "NotFound", "Outcome", "SpooledEvent", "SqlStore", "StoreError", "fold", "open_store"]
