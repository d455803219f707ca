"""Alembic environment. The engine runs migrations itself at start (``acd.store.migrate``) on
its own async connection; ``acd db upgrade`` does the same from the command line."""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from acd.store.models import Base

target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection, target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters tables by copying them
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through acd.store.migrate (acd db upgrade), which passes a connection")
_run(connection)
