"""The number of rows an UPDATE or DELETE touched, with its type.

``AsyncSession.execute`` is typed to return a plain ``Result``, which has no ``rowcount``; for a
DML statement SQLAlchemy hands back a ``CursorResult``, which has. This says so once, checked.
"""

from __future__ import annotations

from sqlalchemy import Delete, Update
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncSession


async def rows_affected(session: AsyncSession, statement: Update | Delete) -> int:
    """Run ``statement`` in ``session`` and return how many rows it updated or deleted."""
    result = await session.execute(statement)
    if not isinstance(result, CursorResult):  # pragma: no cover - SQLAlchemy always gives one for DML
        raise TypeError(f"{type(result).__name__} from a DML statement has no row count")
    return result.rowcount
