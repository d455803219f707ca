"""``acd report quality``: CSAT and FCR per day and queue or agent (formulas: acd/reports/quality.py)."""

from __future__ import annotations

import argparse
import asyncio
import sys
import datetime as dt
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from acd.clihelp import Subparsers
from acd.reports.quality import QualityReport, QualityRow
from acd.deadline import within

if TYPE_CHECKING:
    from acd.settings import Settings


def _pct(v: float | None) -> str:
    return "–" if v is None else f"{v * 100:.1f}%"


def render(rows: Sequence[QualityRow], by: str, head: str) -> str:
    lines = [head, f"{'day':<10} {by:<14} {'surveys':>7} {'CSAT':>7} {'avg':>5} {'FCR':>7} {'judged':>6} {'pending':>7}"]
    for r in rows:
        day = dt.datetime.fromtimestamp(r.day_start, dt.UTC).date().isoformat()
        avg = "–" if r.csat_avg is None else f"{r.csat_avg:.2f}"
        lines.append(f"{day:<10} {r.key:<14} {r.surveys:>7} {_pct(r.csat):>7} {avg:>5} {_pct(r.fcr):>7} {r.fcr_eligible:>6} {r.fcr_pending:>7}")
    return "\n".join(lines) + "\n"


async def _load(settings: Settings, start: float, end: float, tz: dt.tzinfo) -> QualityReport:
    from acd.clock import SystemClock
    from acd.reports.quality_load import quality_report
    from acd.store.sql import SqlStore

    store = SqlStore(settings.database.url, clock=SystemClock(), region=settings.database.phone_region)
    try:
        await within(store.open(migrate_schema=False), 60)
        c = settings.customers
        return await within(quality_report(store, start, end, as_of=store.clock.now(), fcr_days=c.fcr_days,
                                                     satisfied_min=c.csat_satisfied_min, tz=tz), 300)
    finally:
        await within(store.close(), 10)


def cmd_quality(args: argparse.Namespace) -> int:
    from acd.reports import cli, export

    prepared = cli._prepare(args, "acd report quality")
    if isinstance(prepared, int):
        return prepared
    rng, settings = prepared
    try:
        report = asyncio.run(_load(settings, rng.start, rng.end, rng.tz))
    except Exception as exc:  # noqa: BLE001 - the command's job: say why, exit non-zero
        print(f"acd report quality: cannot read the store: {cli.store_problem(exc)}", file=sys.stderr)
        return 1
    rows = report.queues if args.by == "queue" else report.agents
    head = (f"CSAT and FCR per {args.by} {export.iso(rng.start, rng.tz)} to {export.iso(rng.end, rng.tz)} "
            f"(FCR window {settings.customers.fcr_days} days; satisfied: csat >= {settings.customers.csat_satisfied_min})")
    cli._emit(render(rows, args.by, head), args.output, "quality")
    return 0


def register(sub: Subparsers, range_args: Callable[[argparse.ArgumentParser], None]) -> None:
    q = sub.add_parser("quality", help="CSAT (post-call survey) and FCR per day and queue or agent",
                       description="CSAT = satisfied / surveys; FCR = calls with no repeat contact on the same matter within "
                                   "customers.fcr_days / calls judged. Formulas: acd/reports/quality.py.")
    range_args(q)
    q.add_argument("--by", choices=("queue", "agent"), default="queue", help="rows per queue or per agent (default queue)")
    q.set_defaults(handler=cmd_quality)
