"""``acd report`` and ``acd report queue-log``: interval reports and an Asterisk queue_log
export, from the interactions in the configured store.

The command is split so the part after loading is pure and testable: :func:`resolve_range`
turns the arguments into a time range, :func:`load_interactions` is the only I/O (the store
through ``acd.store.open_store``), and :func:`render_report` / :func:`render_queue_log` make the
text."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import datetime as dt
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from collections.abc import Sequence
from typing import TYPE_CHECKING

from acd.clihelp import Subparsers
from acd.reports import compute, export, queue_log
from acd.reports.compute import AgentSpan, QueueThresholds
from acd.store.records import Interaction
from acd.deadline import within

if TYPE_CHECKING:
    from acd.settings import Settings

# The store selects calls by their start; a call's queue entry, answer and end come later. Calls
# that started up to this long before the range are loaded too, so their events in the range count.
LOOKBACK_S = 12 * 3600
OPEN_TIMEOUT_S = 60.0
QUERY_TIMEOUT_S = 300.0
CLOSE_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class Range:
    start: float
    end: float
    tz: dt.tzinfo


def _interval(value: str) -> compute.Interval:
    try:
        return compute.parse_interval(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _iso(value: str) -> str:
    try:
        dt.datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 date or time: {value!r} (e.g. 2026-11-23 or 2026-11-23T09:00)") from None
    return value


def _tz(value: str) -> str:
    try:
        compute.zone(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return value


def _parse_time(value: str, tz: dt.tzinfo) -> float:
    t = dt.datetime.fromisoformat(value)
    if t.tzinfo is None:
        t = t.replace(tzinfo=tz)
    return t.timestamp()


def resolve_range(args: argparse.Namespace, now: float | None = None) -> Range:
    """``--from`` (default: today's midnight in ``--tz``) to ``--to`` (default: a day after the
    start). Times without an offset are in ``--tz``. ValueError when the range is empty."""
    from acd.reports.period import default_period

    tz = compute.zone(getattr(args, "tz", None))
    start, end = default_period(time.time() if now is None else now, tz,
                                _parse_time(args.start, tz) if args.start else None,
                                _parse_time(args.end, tz) if args.end else None)
    if end <= start:
        raise ValueError(f"--to ({export.iso(end, tz)}) must be after --from ({export.iso(start, tz)})")
    return Range(start, end, tz)


def render_report(interactions: Sequence[Interaction], args: argparse.Namespace, *,
                  spans: Sequence[AgentSpan] | None = None, now: float | None = None) -> str:
    """The report text for already loaded interactions. Reads ``args.start``, ``args.end``,
    ``args.tz``, ``args.interval``, ``args.by`` and ``args.format``, and ``args.thresholds`` (queue
    name -> :class:`QueueThresholds`, the configured queues; optional) and ``args.agents`` (the
    configured agent ids, listed even without calls; optional)."""
    rng = resolve_range(args, now)
    thresholds = getattr(args, "thresholds", None) or {}
    rep = compute.compute(interactions, rng.start, rng.end, args.interval, thresholds=thresholds, spans=spans, tz=rng.tz,
                          agents=getattr(args, "agents", None) or ())
    rows = rep.queues if args.by == "queue" else rep.agents
    if args.format == "csv":
        return export.to_csv(rows, args.by, rng.tz)
    size = "day" if args.interval == "day" else f"{args.interval} min"
    head = (f"{args.by} report {export.iso(rng.start, rng.tz)} to {export.iso(rng.end, rng.tz)}, {size} intervals"
            + ("; occupancy needs agent state history, not available" if args.by == "agent" and spans is None else "") + "\n")
    from acd.reports.totals import agent_totals, queue_totals

    totals = queue_totals(rep.queues) if args.by == "queue" else agent_totals(rep.agents)
    return head + export.to_table(rows, args.by, rng.tz, day=args.interval == "day", totals=totals)


def render_queue_log(interactions: Sequence[Interaction], args: argparse.Namespace, *, now: float | None = None) -> str:
    rng = resolve_range(args, now)
    return queue_log.render(list(interactions), rng.start, rng.end)


async def load_interactions(settings: Settings, start: float, end: float) -> tuple[list[Interaction], list[AgentSpan] | None]:
    """The interactions that may have events in ``[start, end)`` (started up to ``LOOKBACK_S``
    before), and the agents' state spans when the store keeps them (``agent_spans_between``)."""
    from acd.store import open_store

    store = await within(open_store(settings, migrate=False), OPEN_TIMEOUT_S)
    try:
        records = await within(store.interactions_between(start - LOOKBACK_S, end), QUERY_TIMEOUT_S)
        spans = None
        if hasattr(store, "agent_spans_between"):
            spans = await within(store.agent_spans_between(start, end), QUERY_TIMEOUT_S)
        return list(records), spans
    finally:
        await within(store.close(), CLOSE_TIMEOUT_S)


def _thresholds(config_dir: str) -> dict[str, QueueThresholds]:
    path = Path(config_dir) / "queues.yaml"
    if not path.is_file():
        return {}
    from acd.routing.config import load_queues

    return {q.name: QueueThresholds(q.service_level_s, q.short_abandon_s) for q in load_queues(path)}


def _agents(config_dir: str) -> list[str]:
    path = Path(config_dir) / "agents.yaml"
    if not path.is_file():
        return []
    from acd.routing.config import load_agents

    return [a.id for a in load_agents(path)]


def _emit(text: str, output: str | None, what: str) -> None:
    if output and output != "-":
        Path(output).write_text(text, encoding="utf-8")
        print(f"wrote {output} ({what})", file=sys.stderr)
    else:
        sys.stdout.write(text)


def _prepare(args: argparse.Namespace, name: str) -> tuple[Range, Settings] | int:
    """Range and settings, or an exit code after saying why. With no ``--tz`` the range and
    intervals are in ``engine.time_zone``: "today" is the wallboard's today."""
    from acd.settings import ConfigError, load_settings

    try:
        settings = load_settings(args.config)
        if getattr(args, "database", None):
            settings = dataclasses.replace(settings, database=dataclasses.replace(settings.database, url=args.database))
        args.thresholds = _thresholds(settings.config_dir)
        args.agents = _agents(settings.config_dir)
    except ConfigError as exc:
        print(f"{name}: {exc}", file=sys.stderr)
        return 2
    if getattr(args, "tz", None) is None:
        args.tz = settings.engine.time_zone
    try:
        rng = resolve_range(args)
    except ValueError as exc:
        print(f"{name}: {exc}", file=sys.stderr)
        return 2
    return rng, settings


def store_problem(exc: Exception) -> str:
    """Why the store could not be read, in one line: a database's own message without the SQL,
    parameters and background link SQLAlchemy adds; a missing table says how to make the schema."""
    import re

    from sqlalchemy.exc import StatementError

    if not isinstance(exc, StatementError) or exc.orig is None:
        return f"{type(exc).__name__}: {exc}"
    why = re.sub(r"^<class '[\w.]+'>: ", "", str(exc.orig).splitlines()[0] if str(exc.orig) else type(exc.orig).__name__)
    if "no such table" in why or re.search(r"relation .* does not exist", why):
        why += " (not an acd store, or its schema was never made: is --database / database.url right? `acd db upgrade` makes it)"
    return why


def cmd_report(args: argparse.Namespace) -> int:
    prepared = _prepare(args, "acd report")
    if isinstance(prepared, int):
        return prepared
    rng, settings = prepared
    try:
        interactions, spans = asyncio.run(load_interactions(settings, rng.start, rng.end))
    except Exception as exc:  # noqa: BLE001 - the command's job: say why, exit non-zero
        print(f"acd report: cannot read the store: {store_problem(exc)}", file=sys.stderr)
        return 1
    _emit(render_report(interactions, args, spans=spans), args.output, f"{args.by} report, {args.format}")
    return 0


def cmd_queue_log(args: argparse.Namespace) -> int:
    prepared = _prepare(args, "acd report queue-log")
    if isinstance(prepared, int):
        return prepared
    rng, settings = prepared
    try:
        interactions, _ = asyncio.run(load_interactions(settings, rng.start, rng.end))
    except Exception as exc:  # noqa: BLE001
        print(f"acd report queue-log: cannot read the store: {store_problem(exc)}", file=sys.stderr)
        return 1
    _emit(render_queue_log(interactions, args), args.output, "queue_log")
    return 0


def _range_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--from", dest="start", type=_iso, metavar="ISO",
                   help="start, ISO 8601 (2026-11-23 or 2026-11-23T09:00; no offset: --tz) (default: today 00:00)")
    p.add_argument("--to", dest="end", type=_iso, metavar="ISO", help="end, exclusive (default: a day after --from)")
    p.add_argument("--tz", type=_tz, default=None,
                   help="time zone of the intervals and of times without an offset (default: engine.time_zone, as the wallboard's today)")
    p.add_argument("--output", "-o", help="write to this file (default: standard output)")
    p.add_argument("--config", default="config", help="settings directory (default: config)")
    p.add_argument("--database", metavar="URL",
                   help="read this store instead of database.url (e.g. postgresql+asyncpg://user@host/db)")


def register(subparsers: Subparsers) -> None:
    p = subparsers.add_parser(
        "report", help="interval reports per queue or agent; queue_log export",
        description="Per-interval queue or agent figures (offered, answered, abandoned, service level, ASA, AHT, "
                    "occupancy) from the stored calls. Formulas: acd/reports/compute.py.")
    _range_args(p)
    p.add_argument("--interval", type=_interval, default=60, metavar="15|30|60|day", help="interval length (default 60)")
    p.add_argument("--by", choices=("queue", "agent"), default="queue", help="rows per queue or per agent (default queue)")
    p.add_argument("--format", choices=("table", "csv"), default="table", help="table for the terminal, or CSV (default table)")
    p.set_defaults(handler=cmd_report)
    sub = p.add_subparsers(dest="report_command", metavar="ACTION")
    q = sub.add_parser("queue-log", help="export calls as Asterisk queue_log lines",
                       description="Write the calls' queue events in the format of /var/log/asterisk/queue_log "
                                   "(epoch|callid|queue|agent|event|data...).")
    _range_args(q)
    q.set_defaults(handler=cmd_queue_log)
    from acd.reports import channels, quality_cli

    channels.register(sub, _range_args)
    quality_cli.register(sub, _range_args)
