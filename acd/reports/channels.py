"""Contacts per channel (``acd report channels``): calls and the contacts logged on other
channels (e-mail, SMS, chat, web form, letter, in person) counted per channel and direction over a
range. One formula: a call counts once, inbound, at its start (callbacks included, as the queue
report counts them); a contact counts once at its time. Erased people's contacts still count
(their rows keep channel, direction and time)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections import Counter
from dataclasses import dataclass
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING

from acd.clihelp import Subparsers
from acd.store.contacts import CHANNELS
from acd.store.records import Interaction
from acd.deadline import within

if TYPE_CHECKING:
    from acd.settings import Settings

ORDER = ("call", *CHANNELS)


@dataclass(frozen=True)
class ChannelRow:
    channel: str
    inbound: int
    outbound: int

    @property
    def total(self) -> int:
        return self.inbound + self.outbound


def channel_counts(calls: Iterable[Interaction], contacts: Iterable[tuple[str, str, float]], start: float, end: float) -> list[ChannelRow]:
    counts: Counter[tuple[str, str]] = Counter()
    for call in calls:
        if start <= call.started_at < end:
            counts[("call", "inbound")] += 1
    for channel, direction, at in contacts:
        if start <= at < end:
            counts[(channel, direction)] += 1
    return [ChannelRow(ch, counts[(ch, "inbound")], counts[(ch, "outbound")]) for ch in ORDER]


def render(rows: Sequence[ChannelRow], head: str) -> str:
    lines = [head, f"{'channel':<10} {'inbound':>8} {'outbound':>9} {'total':>7}"]
    lines += [f"{r.channel:<10} {r.inbound:>8} {r.outbound:>9} {r.total:>7}" for r in rows]
    lines.append(f"{'all':<10} {sum(r.inbound for r in rows):>8} {sum(r.outbound for r in rows):>9} {sum(r.total for r in rows):>7}")
    return "\n".join(lines) + "\n"


async def load(settings: Settings, start: float, end: float) -> tuple[list[Interaction], list[tuple[str, str, float]]]:
    from acd.clock import SystemClock
    from acd.store.contacts import contacts_between
    from acd.store.sql import SqlStore

    store = SqlStore(settings.database.url, clock=SystemClock(), region=settings.database.phone_region)
    try:
        await within(store.open(migrate_schema=False), 60)  # a reader: it makes no store
        calls = await within(store.interactions_between(start, end), 300)
        return calls, await within(contacts_between(store, start, end), 300)
    finally:
        await within(store.close(), 10)


def cmd_channels(args: argparse.Namespace) -> int:
    from acd.reports import cli, export

    prepared = cli._prepare(args, "acd report channels")
    if isinstance(prepared, int):
        return prepared
    rng, settings = prepared
    try:
        calls, contacts = asyncio.run(load(settings, rng.start, rng.end))
    except Exception as exc:  # noqa: BLE001 - the command's job: say why, exit non-zero
        print(f"acd report channels: cannot read the store: {cli.store_problem(exc)}", file=sys.stderr)
        return 1
    head = f"contacts per channel {export.iso(rng.start, rng.tz)} to {export.iso(rng.end, rng.tz)}"
    cli._emit(render(channel_counts(calls, contacts, rng.start, rng.end), head), args.output, "channels")
    return 0


def register(sub: Subparsers, range_args: Callable[[argparse.ArgumentParser], None]) -> None:
    c = sub.add_parser("channels", help="calls and other contacts per channel and direction",
                       description="Count calls and contacts logged on other channels, per channel and direction.")
    range_args(c)
    c.set_defaults(handler=cmd_channels)
