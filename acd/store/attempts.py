"""Verification attempts claimed atomically in the database, before the slow hash is checked.

Counting failures, then hashing (~50 ms in a thread), then writing the attempt lets any number of
simultaneous calls pass the same count (issue #13, item 1). Instead an attempt first *claims a
slot*: in one short transaction that holds the customer's and the caller number's lock, the
failures (and slots still pending) are counted and, if under the limit, a ``pending`` row is
written. The hash is checked after that, and the row is then settled with its result. A slot that
is never settled (the engine died mid-check) keeps counting as a failure until the window passes.

The lock is the database's, so it holds across engine nodes: PostgreSQL transaction-scoped
advisory locks (taken in a fixed order, so two claims never deadlock); SQLite's ``BEGIN
IMMEDIATE`` (one writer at a time, taken before the count is read).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from acd.store.models import VerificationAttemptRow

PENDING = "pending"
COUNTED = ("failed", PENDING)  # what counts against the limit
RESETS = ("ok", "unlocked")  # what starts the count again

_T = VerificationAttemptRow.metadata.tables[VerificationAttemptRow.__tablename__]  # the Table (``__table__`` is typed FromClause)


@dataclass(frozen=True)
class Claim:
    """A claimed slot (``attempt_id``) or, when ``attempt_id`` is None, a refusal: locked."""

    attempt_id: int | None

    @property
    def locked(self) -> bool:
        return self.attempt_id is None


async def count_counted(conn: AsyncConnection, since: float, *, customer_id: str | None = None,
                        caller_number: str | None = None) -> int:
    """Failures and pending slots since ``since`` for a customer or a caller number, counted from
    the last success or unlock of the same customer / number."""
    who = _T.c.customer_id == customer_id if customer_id else _T.c.caller_number == caller_number
    reset_id = await conn.scalar(select(func.max(_T.c.id)).where(who, _T.c.result.in_(RESETS)))
    return int(await conn.scalar(select(func.count()).select_from(_T).where(
        who, _T.c.at >= since, _T.c.id > (reset_id or 0), _T.c.result.in_(COUNTED))) or 0)


async def _lock(conn: AsyncConnection, customer_id: str, caller_number: str | None) -> None:
    if conn.dialect.name == "sqlite":
        await conn.exec_driver_sql("BEGIN IMMEDIATE")  # the write lock, before anything is read
        return
    keys = [f"verify:customer:{customer_id}"] + ([f"verify:number:{caller_number}"] if caller_number else [])
    hashed = [int(await conn.scalar(text("SELECT hashtextextended(:k, 0)"), {"k": k})) for k in keys]
    for key in sorted(set(hashed)):  # one order for every claim: no deadlock between two of them
        await conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})


async def claim_attempt(engine: AsyncEngine, *, customer_id: str, caller_number: str | None, method: str,
                        call_id: str | None, at: float, since: float, max_failures: int) -> Claim:
    """Claim one attempt slot, or record a ``locked`` attempt and refuse, atomically."""
    async with engine.connect() as conn:
        await _lock(conn, customer_id, caller_number)
        counted = await count_counted(conn, since, customer_id=customer_id)
        if caller_number and counted < max_failures:
            counted = max(counted, await count_counted(conn, since, caller_number=caller_number))
        locked = counted >= max_failures
        row = {"at": at, "call_id": call_id, "customer_id": customer_id, "caller_number": caller_number,
               "method": method, "result": "locked" if locked else PENDING}
        attempt_id = (await conn.execute(insert(_T).values(**row).returning(_T.c.id))).scalar_one()
        await conn.commit()
    return Claim(None if locked else int(attempt_id))


async def settle_attempt(engine: AsyncEngine, attempt_id: int, result: str) -> None:
    """Give a claimed slot its result (ok, failed, no_secret)."""
    async with engine.begin() as conn:
        await conn.execute(update(_T).where(_T.c.id == attempt_id, _T.c.result == PENDING).values(result=result))
