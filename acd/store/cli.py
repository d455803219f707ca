"""``acd customers import|export`` and ``acd retention run``."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from acd.settings import ConfigError, load_settings

MAX_SHOWN = 20  # rejected rows' reasons printed; all of them are in FILE.rejected.csv


def _settings(args: argparse.Namespace):
    try:
        settings = load_settings(args.config)
    except ConfigError as exc:
        print(f"acd: {exc}", file=sys.stderr)
        return None
    if getattr(args, "database", None):
        import dataclasses

        settings = dataclasses.replace(settings, database=dataclasses.replace(settings.database, url=args.database))
    return settings


async def _with_store(settings, fn):
    from acd.clock import SystemClock
    from acd.store.sql import SqlStore

    store = SqlStore(settings.database.url, clock=SystemClock(), region=settings.database.phone_region)
    try:
        await asyncio.wait_for(store.open(), 60)
        return await fn(store)
    finally:
        await store.close()


def cmd_import(args: argparse.Namespace) -> int:
    from acd.store.dataio import ImportFileError, import_customers, progress_printer

    settings = _settings(args)
    if settings is None:
        return 2
    try:
        report = asyncio.run(_with_store(settings, lambda store: import_customers(
            store, Path(args.file), by=args.by, dry_run=args.dry_run, progress=progress_printer(sys.stderr))))
    except ImportFileError as exc:
        print(f"acd customers import: {exc}", file=sys.stderr)
        return 2
    shown = report.messages[:MAX_SHOWN]
    for line in shown:
        print(line, file=sys.stderr)
    if len(report.messages) > len(shown):
        print(f"... {len(report.messages) - len(shown)} more in {report.rejected_file}", file=sys.stderr)
    print(report.summary())
    return 0 if report.rejected == 0 else 1


def cmd_export(args: argparse.Namespace) -> int:
    from acd.store.dataio import export_customer
    from acd.store.sql import NotFound

    settings = _settings(args)
    if settings is None:
        return 2
    try:
        text = asyncio.run(_with_store(settings, lambda store: export_customer(store, args.id, args.format)))
    except NotFound as exc:
        print(f"acd customers export: {exc}", file=sys.stderr)
        return 1
    if args.output and args.output != "-":
        Path(args.output).write_text(text, encoding="utf-8")
        print(f"wrote {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def cmd_retention(args: argparse.Namespace) -> int:
    from acd.clock import SystemClock
    from acd.store.retention import run_retention

    settings = _settings(args)
    if settings is None:
        return 2
    cfg = settings.retention
    try:
        report = asyncio.run(_with_store(settings, lambda store: run_retention(
            store, interaction_days=cfg.interaction_days, recording_days=cfg.recording_days, mode=cfg.mode,
            clock=SystemClock(), dry_run=args.dry_run)))
    except ValueError as exc:
        print(f"acd retention run: {exc}", file=sys.stderr)
        return 2
    print(("dry run: " if args.dry_run else "") + report.summary())
    return 0 if not report.errors else 1


def register(subparsers) -> None:
    c = subparsers.add_parser("customers", help="import customers from CSV, export one customer with their history",
                              description="Customers in and out of the customer store.")
    c.set_defaults(handler=lambda args: (c.print_help(), 2)[1])
    sub = c.add_subparsers(dest="customers_command", metavar="ACTION")
    im = sub.add_parser("import", help="import a CSV (columns: name, account_number, phones, emails, segment, vip, "
                                       "language, owner_agent, notes, pin, dob, memorable_date)",
                        description="Validate every row; import the good ones (an existing account number updates that "
                                    "customer); write rejected rows, secrets blanked, with reasons to FILE.rejected.csv. "
                                    "Exit 1 when any row was rejected.")
    im.add_argument("file")
    im.add_argument("--dry-run", action="store_true", help="validate and report, write nothing")
    im.add_argument("--by", default="import", help="who the revision history names (default: import)")
    ex = sub.add_parser("export", help="one customer with every interaction and its timeline",
                        description="Export the whole customer (never secret hashes) as JSON or XML.")
    ex.add_argument("id", help="the customer id")
    ex.add_argument("--format", choices=("json", "xml"), default="json")
    ex.add_argument("-o", "--output", help="file (default: standard output)")
    for p, handler in ((im, cmd_import), (ex, cmd_export)):
        p.add_argument("--database", help="SQLAlchemy URL (default: database.url from settings)")
        p.add_argument("--config", default="config", help="settings directory (default: config)")
        p.set_defaults(handler=handler)

    r = subparsers.add_parser("retention", help="anonymise or purge old interactions and recordings",
                              description="Apply the retention settings (retention: in engine.yaml).")
    rsub = r.add_subparsers(dest="retention_command", metavar="ACTION")
    r.set_defaults(handler=lambda args: (r.print_help(), 2)[1])
    run = rsub.add_parser("run", help="run it now (the engine also runs it every retention.run_every_h)")
    run.add_argument("--dry-run", action="store_true", help="report what would change, change nothing")
    run.add_argument("--database", help="SQLAlchemy URL (default: database.url from settings)")
    run.add_argument("--config", default="config", help="settings directory (default: config)")
    run.set_defaults(handler=cmd_retention)
