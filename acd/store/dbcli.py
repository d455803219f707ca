"""``acd db upgrade|current``: the customer store's schema, through Alembic migrations."""

from __future__ import annotations

import argparse
import asyncio
import sys

from acd.clihelp import Subparsers, usage_handler
from acd.settings import ConfigError, load_settings
from acd.deadline import within


def _url(args: argparse.Namespace) -> str | None:
    if args.database:
        return str(args.database)
    try:
        return load_settings(args.config).database.url
    except ConfigError as exc:
        print(f"acd db: {exc}", file=sys.stderr)
        return None


async def _upgrade(url: str) -> str:
    from acd.store import migrate
    from acd.store.sql import create_engine

    engine = create_engine(url)
    try:
        await within(migrate.upgrade(engine), 120)
        return await migrate.current_revision(engine) or "(empty)"
    finally:
        await engine.dispose()


async def _current(url: str) -> str:
    from acd.store import migrate
    from acd.store.sql import create_engine

    engine = create_engine(url)
    try:
        return await within(migrate.current_revision(engine), 30) or "(no schema yet)"
    finally:
        await engine.dispose()


def cmd_upgrade(args: argparse.Namespace) -> int:
    url = _url(args)
    if url is None:
        return 2
    try:
        revision = asyncio.run(_upgrade(url))
    except Exception as exc:  # noqa: BLE001 - the command's whole job: say why, exit non-zero
        print(f"acd db upgrade: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    print(f"schema at revision {revision}")
    return 0


def cmd_current(args: argparse.Namespace) -> int:
    from acd.store import migrate

    url = _url(args)
    if url is None:
        return 2
    try:
        revision = asyncio.run(_current(url))
    except Exception as exc:  # noqa: BLE001
        print(f"acd db current: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    head = migrate.head_revision()
    print(f"{revision} (latest: {head})")
    return 0 if revision == head else 3


def register(subparsers: Subparsers) -> None:
    p = subparsers.add_parser("db", help="the customer store's schema (Alembic migrations)",
                              description="Bring the customer store's schema to the latest migration, or show where it is. "
                                          "The engine also upgrades it at start.")
    p.set_defaults(handler=usage_handler(p))
    sub = p.add_subparsers(dest="db_command", metavar="ACTION")
    for name, handler, text in (("upgrade", cmd_upgrade, "apply every pending migration"),
                                ("current", cmd_current, "print the schema's revision (exit 3 if behind)")):
        c = sub.add_parser(name, help=text, description=text)
        c.add_argument("--database", help="SQLAlchemy URL (default: database.url from settings)")
        c.add_argument("--config", default="config", help="settings directory (default: config)")
        c.set_defaults(handler=handler)
