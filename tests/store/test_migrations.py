"""The Alembic migrations build exactly the tables the models declare, on both databases, and
``acd db`` reports and upgrades the schema."""

from __future__ import annotations

from sqlalchemy import inspect

from acd.cli import main
from acd.store import migrate
from acd.store.models import Base
from acd.store.sql import SqlStore


async def test_migrations_match_the_models(db_url):
    url, schema = db_url
    store = SqlStore(url, pg_schema=schema)
    try:
        assert await migrate.current_revision(store.engine) is None
        await store.open()
        assert await migrate.current_revision(store.engine) == migrate.head_revision()
        async with store.engine.connect() as conn:
            tables = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
            columns = await conn.run_sync(lambda c: {t: {col["name"] for col in inspect(c).get_columns(t)} for t in Base.metadata.tables})
        assert set(Base.metadata.tables) <= tables and "alembic_version" in tables
        for name, table in Base.metadata.tables.items():
            assert columns[name] == {c.name for c in table.columns}, name
        await migrate.downgrade(store.engine, "base")
        async with store.engine.connect() as conn:
            left = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
        assert not set(Base.metadata.tables) & left
    finally:
        await store.close()


def test_db_command(tmp_path, capsys):
    url = f"sqlite+aiosqlite:///{tmp_path}/cli.sqlite3"
    assert main(["db", "current", "--database", url]) == 3
    assert "(no schema yet)" in capsys.readouterr().out
    assert main(["db", "upgrade", "--database", url]) == 0
    assert f"schema at revision {migrate.head_revision()}" in capsys.readouterr().out
    assert main(["db", "current", "--database", url]) == 0


async def test_the_name_key_migration_folds_the_names_already_stored(db_url):
    """Customers stored before 0004 are found by a folded name once the schema is upgraded."""
    from sqlalchemy import text

    from acd.store import search

    url, schema = db_url
    store = SqlStore(url, pg_schema=schema)
    try:
        await migrate.upgrade(store.engine, "0003_tasks")
        async with store.engine.begin() as conn:
            await conn.execute(text("INSERT INTO customers (customer_id, name, vip, created_at, updated_at) "
                                    "VALUES ('c-old', 'Zoë Brontë-Ørsted', false, 0, 0)"))
        await store.open()  # upgrades to the head
        async with store.engine.connect() as conn:
            key = (await conn.execute(text("SELECT name_key FROM customers WHERE customer_id = 'c-old'"))).scalar_one()
        assert key == "zoe bronte orsted"
        assert [c["customer_id"] for c in (await search.search_customers(store, "bronte orsted")).customers] == ["c-old"]
    finally:
        await store.close()
