"""Contacts other than calls (e-mail, SMS, chat, web form, letter, in person), logged by agents
through the API or by other systems through the webhook, and the customer's one timeline of
every touchpoint: calls and these contacts together, oldest first."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any
from collections.abc import Mapping

from sqlalchemy import select

from acd.store.models import ChannelContactRow, CustomerRow
from acd.store.sql import NotFound, SqlStore, StoreError

CHANNELS = ("email", "sms", "chat", "web_form", "letter", "in_person")
DIRECTIONS = ("inbound", "outbound")


class InvalidContact(StoreError):
    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(f"{field_name}: {message}")
        self.field = field_name


@dataclass(frozen=True)
class ContactInput:
    """A contact as checked at the edge: channel and direction from the lists, a time, short texts."""

    channel: str
    direction: str
    at: float
    subject: str | None = None
    summary: str | None = None
    agent: str | None = None
    link: str | None = None

    @classmethod
    def parse(cls, body: Mapping[str, Any], *, now: float, agents: frozenset[str] | None = None) -> ContactInput:
        channel, direction = body.get("channel"), body.get("direction", "inbound")
        if channel not in CHANNELS:
            raise InvalidContact("channel", f"one of {', '.join(CHANNELS)}")
        if direction not in DIRECTIONS:
            raise InvalidContact("direction", f"one of {', '.join(DIRECTIONS)}")
        at = _time(body.get("at"), now)
        texts: dict[str, str | None] = {}
        for name, limit in (("subject", 200), ("summary", 4000), ("agent", 64), ("link", 500)):
            value = body.get(name)
            if value in (None, ""):
                texts[name] = None
                continue
            if not isinstance(value, str):
                raise InvalidContact(name, "must be text")
            if len(value) > limit:
                raise InvalidContact(name, f"longer than {limit} characters")
            texts[name] = value.strip()
        if texts["agent"] and agents is not None and texts["agent"] not in agents:
            raise InvalidContact("agent", f"no agent {texts['agent']!r} in the configured agents")
        if texts["link"] and not texts["link"].startswith(("http://", "https://", "mailto:", "urn:")):
            raise InvalidContact("link", "an http(s), mailto: or urn: address")
        return cls(channel, direction, at, texts["subject"], texts["summary"], texts["agent"], texts["link"])


def _time(value: Any, now: float) -> float:
    if value in (None, ""):
        return now
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        at = float(value)
    elif isinstance(value, str):
        try:
            parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise InvalidContact("at", "an epoch time or an ISO 8601 date-time") from None
        at = (parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)).timestamp()
    else:
        raise InvalidContact("at", "an epoch time or an ISO 8601 date-time")
    if at > now + 300:
        raise InvalidContact("at", "in the future")
    return at


def contact_dict(row: ChannelContactRow) -> dict[str, Any]:
    return {"contact_id": row.contact_id, "customer_id": row.customer_id, "channel": row.channel,
            "direction": row.direction, "at": row.at, "subject": row.subject, "summary": row.summary,
            "agent": row.agent, "link": row.link, "source": row.source, "anonymised": row.anonymised_at is not None}


async def log_contact(store: SqlStore, customer_id: str, contact: ContactInput, *, source: str) -> dict[str, Any]:
    async with store.session.begin() as s:
        customer = await s.get(CustomerRow, customer_id)
        if customer is None or customer.anonymised_at is not None:
            raise NotFound(f"no customer {customer_id}")
        target = customer.merged_into or customer_id  # a contact for a merged record goes to the one kept
        row = ChannelContactRow(contact_id=str(uuid.uuid4()), customer_id=target, channel=contact.channel,
                                direction=contact.direction, at=contact.at, subject=contact.subject, summary=contact.summary,
                                agent=contact.agent, link=contact.link, source=source[:64], created_at=store.clock.now())
        s.add(row)
    return contact_dict(row)


async def contacts_of(store: SqlStore, customer_id: str, *, limit: int | None = None) -> list[dict[str, Any]]:
    """The customer's contacts, newest first (``limit`` of them)."""
    stmt = select(ChannelContactRow).where(ChannelContactRow.customer_id == customer_id).order_by(ChannelContactRow.at.desc())
    if limit is not None:
        stmt = stmt.limit(limit)
    async with store.session() as s:
        return [contact_dict(r) for r in (await s.scalars(stmt)).all()]


async def full_timeline(store: SqlStore, customer_id: str) -> dict[str, Any]:
    """The customer, revisions, every call with its timeline, every other contact, the tasks,
    and ``touchpoints``: calls, contacts and task events (escalations...) in one list, oldest first."""
    from acd.store.tasks import customer_task_timeline

    data = await store.customer_timeline(customer_id)
    contacts = list(reversed(await contacts_of(store, customer_id)))
    data["contacts"] = contacts
    points = [{"at": i.get("started_at"), "channel": "call", "direction": "inbound",
               "id": i["call_id"], "summary": i.get("disposition"), "agent": i.get("agent"), "outcome": i.get("outcome")}
              for i in data["interactions"]]
    points += [{"at": c["at"], "channel": c["channel"], "direction": c["direction"], "id": c["contact_id"],
                "summary": c["subject"], "agent": c["agent"], "outcome": None} for c in contacts]
    data["tasks"], task_points = await customer_task_timeline(store, customer_id)
    points += task_points
    data["touchpoints"] = sorted(points, key=lambda p: (p["at"] or 0.0, p["id"]))
    return data


async def contacts_between(store: SqlStore, start: float, end: float) -> list[tuple[str, str, float]]:
    """(channel, direction, at) of every contact other than a call in ``[start, end)``, erased
    people's included (their rows keep exactly this)."""
    async with store.session() as s:
        rows = (await s.execute(select(ChannelContactRow.channel, ChannelContactRow.direction, ChannelContactRow.at).where(
            ChannelContactRow.at >= start, ChannelContactRow.at < end).order_by(ChannelContactRow.at))).all()
    return [(c, d, at) for c, d, at in rows]
