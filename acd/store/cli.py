"""``acd customers import|export`` and ``acd retention run``."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from acd.clihelp import Subparsers, usage_handler
from acd.settings import ConfigError, Settings, load_settings
from acd.deadline import within

if TYPE_CHECKING:
    from acd.store.search import SearchPage
    from acd.store.sql import SqlStore
    from acd.store.validation import CustomerRules

T = TypeVar("T")

MAX_SHOWN = 20  # rejected rows' reasons printed; all of them are in FILE.rejected.csv


def _settings(args: argparse.Namespace) -> Settings | None:
    try:
        settings = load_settings(args.config)
    except ConfigError as exc:
        print(f"acd: {exc}", file=sys.stderr)
        return None
    if getattr(args, "database", None):
        import dataclasses

        settings = dataclasses.replace(settings, database=dataclasses.replace(settings.database, url=args.database))
    return settings


async def _with_store(settings: Settings, fn: Callable[[SqlStore], Awaitable[T]]) -> T:
    from acd.clock import SystemClock
    from acd.store.sql import SqlStore

    store = SqlStore(settings.database.url, clock=SystemClock(), region=settings.database.phone_region)
    try:
        await within(store.open(), 60)
        return await fn(store)
    finally:
        await store.close()


def rules_from(settings: Settings) -> CustomerRules:
    """The rules the API uses: the configured languages and the agents in ``agents.yaml``."""
    from acd.store.validation import CustomerRules

    agents = None
    path = Path(settings.config_dir) / "agents.yaml"
    if path.is_file():
        from acd.routing.config import load_agents

        agents = frozenset(a.id for a in load_agents(path))
    langs = settings.customers.languages
    return CustomerRules(region=settings.database.phone_region, languages=frozenset(langs) if langs else None, agents=agents)


def _operator(args: argparse.Namespace) -> str:
    import getpass

    return getattr(args, "by", None) or f"cli:{getpass.getuser()}"


def cmd_import(args: argparse.Namespace) -> int:
    from acd.store.dataio import ImportFileError, import_customers, progress_printer

    settings = _settings(args)
    if settings is None:
        return 2
    try:
        rules = rules_from(settings)
        report = asyncio.run(_with_store(settings, lambda store: import_customers(
            store, Path(args.file), by=args.by, dry_run=args.dry_run, progress=progress_printer(sys.stderr, "checked" if args.dry_run else "imported"), rules=rules)))
    except ImportFileError as exc:
        print(f"acd customers import: {exc}", file=sys.stderr)
        return 2
    shown = report.messages[:MAX_SHOWN]
    for line in shown:
        print(line, file=sys.stderr)
    if len(report.messages) > len(shown):
        where = f"in {report.rejected_file}" if report.rejected_file else "(run without --dry-run to get them all in FILE.rejected.csv)"
        print(f"... {len(report.messages) - len(shown)} more {where}", file=sys.stderr)
    print(report.summary())
    return 0 if report.rejected == 0 else 1


def cmd_export(args: argparse.Namespace) -> int:
    from acd.store.dataio import export_customer
    from acd.store.sql import NotFound

    settings = _settings(args)
    if settings is None:
        return 2
    async def run(store: SqlStore) -> str:
        from acd.store.audit import record_access

        text = await export_customer(store, args.id, args.format)
        await record_access(store, [args.id], who=_operator(args), action="export", reason=args.reason)
        return text

    try:
        text = asyncio.run(_with_store(settings, run))
    except NotFound as exc:
        print(f"acd customers export: {exc}", file=sys.stderr)
        return 1
    if args.output and args.output != "-":
        Path(args.output).write_text(text, encoding="utf-8")
        print(f"wrote {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    from acd.store.audit import record_access
    from acd.store.search import BadQuery, search_customers

    settings = _settings(args)
    if settings is None:
        return 2

    async def run(store: SqlStore) -> SearchPage:
        page = await search_customers(store, args.query, page=args.page, per_page=args.per_page)
        await record_access(store, [c["customer_id"] for c in page.customers], who=_operator(args), action="search", reason=args.reason)
        return page

    try:
        page = asyncio.run(_with_store(settings, run))
    except BadQuery as exc:
        print(f"acd customers search: {exc}", file=sys.stderr)
        return 2
    if args.json:
        sys.stdout.write(json.dumps(page.to_dict(), indent=2, ensure_ascii=False) + "\n")
        return 0
    for c in page.customers:
        contacts = ", ".join(c["phones"] + c["emails"]) or "no phone or e-mail"
        print(f"{c['customer_id']}  {c['name']}  {c['account_number'] or '-'}  {contacts}{'  VIP' if c['vip'] else ''}")
    pages = (page.total + page.per_page - 1) // page.per_page
    print(f"{page.total} found; page {page.page} of {max(pages, 1)}", file=sys.stderr)
    return 0 if page.total else 1


def cmd_quality(args: argparse.Namespace) -> int:
    from acd.store.quality import quality_report

    settings = _settings(args)
    if settings is None:
        return 2
    report = asyncio.run(_with_store(settings, lambda store: quality_report(store, stale_days=settings.customers.stale_days)))
    sys.stdout.write(json.dumps(report.to_dict(), indent=2, ensure_ascii=False) + "\n" if args.json else report.render())
    return 0


def cmd_erase(args: argparse.Namespace) -> int:
    from acd.store.erasure import erase_customer
    from acd.store.sql import NotFound

    settings = _settings(args)
    if settings is None:
        return 2
    try:
        done = asyncio.run(_with_store(settings, lambda store: erase_customer(
            store, args.id, by=_operator(args), reason=args.reason, spool_dir=settings.database.spool_dir)))
    except NotFound as exc:
        print(f"acd customers erase: {exc}", file=sys.stderr)
        return 1
    counts = done["counts"]
    print(f"erased customer {args.id}: " + ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in counts.items()))
    if counts["spool_pending"]:
        print(f"{counts['spool_pending']} spooled events of their calls are not in the database yet: run it again once the "
              "engine has written them", file=sys.stderr)
    return 0


def cmd_webhook_token(args: argparse.Namespace) -> int:
    """A new token for the contacts webhook: the token once on standard output (for the other
    system), the hash to configure on standard error (it is no secret; the token is kept nowhere)."""
    from acd.http.webhooktoken import new_webhook_token

    token, digest = new_webhook_token()
    print(token)
    print(f"(shown once) configure its hash: customers.webhook_token_hash: '{digest}' in engine.yaml, or "
          f"ACD_CUSTOMERS__WEBHOOK_TOKEN_HASH='{digest}'; a running engine takes it on POST /api/v1/config/reload "
          "(or SIGHUP), and the old token is refused from then on", file=sys.stderr)
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


def register(subparsers: Subparsers) -> None:
    c = subparsers.add_parser("customers", help="import, export, search, quality report and erasure of customers",
                              description="Customers in and out of the customer store.")
    c.set_defaults(handler=usage_handler(c))
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
    ex.add_argument("--reason", help="why (kept in the access audit): the request or case number")
    ex.add_argument("--by", help="who, for the access audit (default cli:<login>)")
    se = sub.add_parser("search", help="find customers by name, phone (any format), e-mail or account number",
                        description="Search the customer store (every customer found is written to the access audit). "
                                    "Exit 1 when nothing is found.")
    se.add_argument("query")
    se.add_argument("--page", type=int, default=1)
    se.add_argument("--per-page", type=int, default=20)
    se.add_argument("--json", action="store_true", help="the page as JSON")
    se.add_argument("--reason", help="why (kept in the access audit)")
    se.add_argument("--by", help="who, for the access audit (default cli:<login>)")
    qu = sub.add_parser("quality", help="data-quality report: duplicates, missing contacts, invalid numbers, stale records",
                        description="Duplicate candidates (same phone, same e-mail, similar names), customers without a phone "
                                    "or e-mail, contact points that are not valid, records stale for customers.stale_days.")
    qu.add_argument("--json", action="store_true")
    er = sub.add_parser("erase", help="erase a person's data everywhere on request (anonymous figures stay)",
                        description="Remove the customer's record, contacts, the personal parts of their calls and timelines, "
                                    "recordings, spool lines and verification audit numbers; keep an audit entry.")
    er.add_argument("id", help="the customer id")
    er.add_argument("--reason", required=True, help="the request being honoured (kept in the audit entry)")
    er.add_argument("--by", help="who (default cli:<login>)")
    wt = sub.add_parser("webhook-token", help="make a new token for the contacts webhook and the hash to configure",
                        description="Print a new token for POST /api/v1/webhooks/contacts (once, on standard output) and "
                                    "its scrypt hash for customers.webhook_token_hash (on standard error).")
    wt.set_defaults(handler=cmd_webhook_token)
    for p, handler in ((im, cmd_import), (ex, cmd_export), (se, cmd_search), (qu, cmd_quality), (er, cmd_erase)):
        p.add_argument("--database", help="SQLAlchemy URL (default: database.url from settings)")
        p.add_argument("--config", default="config", help="settings directory (default: config)")
        p.set_defaults(handler=handler)

    r = subparsers.add_parser("retention", help="anonymise or purge old interactions and recordings",
                              description="Apply the retention settings (retention: in engine.yaml).")
    rsub = r.add_subparsers(dest="retention_command", metavar="ACTION")
    r.set_defaults(handler=usage_handler(r))
    run = rsub.add_parser("run", help="run it now (the engine also runs it every retention.run_every_h)")
    run.add_argument("--dry-run", action="store_true", help="report what would change, change nothing")
    run.add_argument("--database", help="SQLAlchemy URL (default: database.url from settings)")
    run.add_argument("--config", default="config", help="settings directory (default: config)")
    run.set_defaults(handler=cmd_retention)
