"""Every store test runs twice: on a SQLite file and on the real PostgreSQL (its own schema)."""

from __future__ import annotations

import asyncio
import os
import uuid

import asyncpg
import pytest

from acd.clock import FakeClock
from acd.store.sql import SqlStore

PG_DSN = os.environ.get("ACD_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
PG_URL = PG_DSN.replace("postgresql://", "postgresql+asyncpg://", 1)


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    """(url, pg_schema) for a fresh, empty database."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path}/acd.sqlite3", None
        return
    schema = "t_" + uuid.uuid4().hex[:12]

    async def run(sql: str) -> None:
        conn = await asyncpg.connect(PG_DSN, timeout=5)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(run(f'CREATE SCHEMA "{schema}"'))
    yield PG_URL, schema
    asyncio.run(run(f'DROP SCHEMA "{schema}" CASCADE'))


@pytest.fixture
def clock():
    return FakeClock(1_700_000_000.0)


@pytest.fixture
async def store(db_url, clock):
    url, schema = db_url
    s = await SqlStore(url, clock=clock, pg_schema=schema).open()
    yield s
    await s.close()
