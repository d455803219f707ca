"""The SQL customer store: customers with contact points, hashed secrets and revision history;
interactions with their timeline; the verification audit. SQLAlchemy 2 async; SQLite by default,
PostgreSQL in production. Every method is one short transaction."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from collections.abc import AsyncGenerator, Iterable, Iterator, Mapping, Sequence

from sqlalchemy import and_, event, func, or_, select
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from acd.clock import Clock, SystemClock
from acd.events import AgentStateChanged
from acd.logs import get_logger
from acd.ports import CustomerSummary
from acd.secrets import Secret, hash_secret
from acd.store import migrate
from acd.store.models import (
    ContactPointRow, CustomerRow, EventRow, InteractionRow, RevisionRow, SecretRow, VerificationAttemptRow,
)
from acd.store.phones import normalise_phone, normalised_or_as_is
from acd.store.records import Interaction, fold
from acd.deadline import within

if TYPE_CHECKING:
    from acd.reports.compute import AgentSpan

log = get_logger(__name__)

AGENT_TIMELINE = "agent:"  # timeline ids of agents' state changes (kept beside the calls' timelines)
CUSTOMER_FIELDS = ("name", "account_number", "segment", "vip", "language", "owner_agent", "notes")
SECRET_KINDS = ("pin", "memorable_date", "dob")


class StoreError(Exception):
    """A request the store refuses (unknown customer, duplicate account number, bad field)."""


class NotFound(StoreError):
    pass


@dataclass(frozen=True)
class SpooledEvent:
    """One timeline event as the durable path hands it to the store."""

    uid: str
    seq: int
    call_id: str
    kind: str
    t: float
    data: Mapping[str, Any]


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:  # DBAPI objects: untyped
    cur = dbapi_connection.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA busy_timeout=5000")
    cur.close()


def create_engine(url: str, *, pg_schema: str | None = None) -> AsyncEngine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    kwargs: dict[str, Any] = {}
    if parsed.get_backend_name() == "postgresql":
        connect_args: dict[str, Any] = {"timeout": 5, "command_timeout": 15}
        if pg_schema:  # tests give each case its own schema
            connect_args["server_settings"] = {"search_path": pg_schema}
        kwargs.update(pool_pre_ping=True, connect_args=connect_args)
    elif parsed.get_backend_name() == "sqlite":
        kwargs.update(connect_args={"timeout": 15})
    engine = create_async_engine(url, **kwargs)
    if parsed.get_backend_name() == "sqlite":
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    return engine


class SqlStore:
    def __init__(self, url: str, *, clock: Clock | None = None, region: str = "GB", pg_schema: str | None = None) -> None:
        self.url = url
        self.clock = clock or SystemClock()
        self.region = region
        self.engine = create_engine(url, pg_schema=pg_schema)
        self.session = async_sessionmaker(self.engine, expire_on_commit=False)
        self._migrated = False

    async def open(self, *, migrate_schema: bool = True) -> SqlStore:
        if migrate_schema:
            await self.ensure_schema()
        return self

    async def ensure_schema(self) -> None:
        """Bring the schema to the latest migration, once. The durable writer calls it before its
        first write, so an engine started while the database was down catches up when it returns."""
        if not self._migrated:
            await within(migrate.upgrade(self.engine), 60)
            self._migrated = True

    async def close(self) -> None:
        await self.engine.dispose()

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.exec_driver_sql("SELECT 1")

    async def check_writable(self) -> None:
        """Raise unless the database takes a write now: a write statement that changes nothing,
        rolled back (a read-only replica, a read-only SQLite file or a held write lock refuse it)."""
        async with self.engine.connect() as conn:
            async with conn.begin() as trans:
                await conn.exec_driver_sql("DELETE FROM interaction_events WHERE 1 = 0")
                await trans.rollback()

    # ------------------------------------------------------------------ customers
    async def create_customer(self, *, name: str, phones: Iterable[str] = (), emails: Iterable[str] = (),
                              by: str = "system", customer_id: str | None = None, **fields: Any) -> str:
        unknown = set(fields) - set(CUSTOMER_FIELDS)
        if unknown:
            raise StoreError(f"unknown customer field(s): {', '.join(sorted(unknown))}")
        now = self.clock.now()
        cid = customer_id or str(uuid.uuid4())
        normalised = [normalise_phone(p, self.region) for p in phones]
        async with self.session.begin() as s:
            if fields.get("account_number"):
                await self._refuse_duplicate_account(s, fields["account_number"], None)
            s.add(CustomerRow(customer_id=cid, name=name, vip=bool(fields.pop("vip", False)), created_at=now, updated_at=now, **fields))
            await s.flush()
            for phone in dict.fromkeys(normalised):
                s.add(ContactPointRow(customer_id=cid, kind="phone", value=phone))
            for email in dict.fromkeys(e.strip().lower() for e in emails if e.strip()):
                s.add(ContactPointRow(customer_id=cid, kind="email", value=email))
            s.add(RevisionRow(customer_id=cid, field="created", old_value=None, new_value=name, changed_by=by, changed_at=now))
        return cid

    @staticmethod
    async def _refuse_duplicate_account(s: AsyncSession, account_number: str, customer_id: str | None) -> None:
        other = await s.scalar(select(CustomerRow.customer_id).where(CustomerRow.account_number == account_number))
        if other is not None and other != customer_id:
            raise StoreError(f"account number {account_number} already belongs to another customer")

    async def update_customer(self, customer_id: str, changes: Mapping[str, Any], *, by: str) -> dict[str, Any]:
        """Apply field changes, keeping each old value with who and when. Returns the customer."""
        unknown = set(changes) - set(CUSTOMER_FIELDS)
        if unknown:
            raise StoreError(f"unknown customer field(s): {', '.join(sorted(unknown))}")
        now = self.clock.now()
        async with self.session.begin() as s:
            row = await s.get(CustomerRow, customer_id)
            if row is None:
                raise NotFound(f"no customer {customer_id}")
            if changes.get("account_number"):
                await self._refuse_duplicate_account(s, changes["account_number"], customer_id)
            for name, value in changes.items():
                old = getattr(row, name)
                if old == value:
                    continue
                s.add(RevisionRow(customer_id=customer_id, field=name, old_value=old, new_value=value, changed_by=by, changed_at=now))
                setattr(row, name, value)
            row.updated_at = now
        return await self.get_customer(customer_id)

    async def add_contact(self, customer_id: str, kind: str, value: str, *, by: str) -> str:
        if kind not in ("phone", "email"):
            raise StoreError(f"contact kind must be phone or email, not {kind!r}")
        value = normalise_phone(value, self.region) if kind == "phone" else value.strip().lower()
        async with self.session.begin() as s:
            if await s.get(CustomerRow, customer_id) is None:
                raise NotFound(f"no customer {customer_id}")
            exists = await s.scalar(select(ContactPointRow.id).where(
                ContactPointRow.customer_id == customer_id, ContactPointRow.kind == kind, ContactPointRow.value == value))
            if exists is None:
                s.add(ContactPointRow(customer_id=customer_id, kind=kind, value=value))
                s.add(RevisionRow(customer_id=customer_id, field=kind, old_value=None, new_value=value, changed_by=by, changed_at=self.clock.now()))
        return value

    async def set_secret(self, customer_id: str, kind: str, secret: Secret, *, by: str) -> None:
        """Store a PIN or date only as a slow salted hash; the revision notes *that* it changed."""
        if kind not in SECRET_KINDS:
            raise StoreError(f"secret kind must be one of {', '.join(SECRET_KINDS)}")
        digest = await asyncio.to_thread(hash_secret, secret)
        now = self.clock.now()
        async with self.session.begin() as s:
            if await s.get(CustomerRow, customer_id) is None:
                raise NotFound(f"no customer {customer_id}")
            row = await s.get(SecretRow, (customer_id, kind))
            if row is None:
                s.add(SecretRow(customer_id=customer_id, kind=kind, hash=digest, set_at=now))
            else:
                row.hash, row.set_at = digest, now
            s.add(RevisionRow(customer_id=customer_id, field=f"secret:{kind}", old_value=None, new_value="(changed)", changed_by=by, changed_at=now))

    async def secret_hash(self, customer_id: str, kind: str) -> str | None:
        async with self.session() as s:
            return await s.scalar(select(SecretRow.hash).where(SecretRow.customer_id == customer_id, SecretRow.kind == kind))

    async def get_customer(self, customer_id: str) -> dict[str, Any]:
        async with self.session() as s:
            row = await s.get(CustomerRow, customer_id)
            if row is None:
                raise NotFound(f"no customer {customer_id}")
            contacts = (await s.execute(select(ContactPointRow.kind, ContactPointRow.value, ContactPointRow.preferred)
                                        .where(ContactPointRow.customer_id == customer_id).order_by(ContactPointRow.id))).all()
        return _customer_dict(row, contacts)

    async def revisions(self, customer_id: str) -> list[dict[str, Any]]:
        async with self.session() as s:
            rows = (await s.scalars(select(RevisionRow).where(RevisionRow.customer_id == customer_id)
                                    .order_by(RevisionRow.changed_at, RevisionRow.id))).all()
        return [{"field": r.field, "old": r.old_value, "new": r.new_value, "by": r.changed_by, "at": r.changed_at} for r in rows]

    async def list_customer_ids(self) -> list[str]:
        async with self.session() as s:
            return list((await s.scalars(select(CustomerRow.customer_id).order_by(CustomerRow.created_at))).all())

    async def find_by_phone(self, phone: str) -> list[CustomerSummary]:
        try:
            e164 = normalise_phone(phone, self.region)
        except ValueError:
            return []
        async with self.session() as s:
            rows = (await s.scalars(select(CustomerRow).join(ContactPointRow).where(
                ContactPointRow.kind == "phone", ContactPointRow.value == e164, CustomerRow.anonymised_at.is_(None),
                CustomerRow.merged_into.is_(None),
            ).order_by(CustomerRow.created_at))).all()
            return [await self._summary(s, r) for r in rows]

    async def find_by_account(self, account_number: str) -> CustomerSummary | None:
        async with self.session() as s:
            row = await s.scalar(select(CustomerRow).where(CustomerRow.account_number == account_number.strip(),
                                                           CustomerRow.anonymised_at.is_(None), CustomerRow.merged_into.is_(None)))
            return None if row is None else await self._summary(s, row)

    async def _summary(self, s: AsyncSession, row: CustomerRow) -> CustomerSummary:
        last_agent = await s.scalar(select(InteractionRow.agent).where(
            InteractionRow.customer_id == row.customer_id, InteractionRow.agent.is_not(None),
        ).order_by(InteractionRow.started_at.desc()).limit(1))
        return CustomerSummary(
            customer_id=row.customer_id, name=row.name, account_number=row.account_number, segment=row.segment,
            vip=row.vip, language=row.language, owner_agent=row.owner_agent, last_agent=last_agent,
        )

    # ------------------------------------------------------------------ interactions
    async def write_events(self, events: Sequence[SpooledEvent]) -> None:
        """Insert timeline events (skipping ones already stored: replay is idempotent) and refold the
        interaction of every call they touch, in one transaction."""
        if not events:
            return
        await self.ensure_schema()
        async with self.session.begin() as s:
            uids = [e.uid for e in events]
            seen: set[str] = set()
            for chunk in _chunks(uids, 500):
                seen.update((await s.scalars(select(EventRow.uid).where(EventRow.uid.in_(chunk)))).all())
            for e in events:
                if e.uid not in seen:
                    s.add(EventRow(uid=e.uid, call_id=e.call_id, seq=e.seq, t=e.t, kind=e.kind, data=dict(e.data)))
                    seen.add(e.uid)
            await s.flush()
            for call_id in dict.fromkeys(e.call_id for e in events):
                if not call_id.startswith(AGENT_TIMELINE):  # an agent's state timeline has no interaction
                    await self._refold(s, call_id)

    async def _refold(self, s: AsyncSession, call_id: str) -> None:
        rows = (await s.execute(select(EventRow.kind, EventRow.t, EventRow.data).where(EventRow.call_id == call_id)
                                .order_by(EventRow.t, EventRow.seq))).all()
        rec = fold(call_id, ({**(data or {}), "kind": kind, "t": t} for kind, t, data in rows))
        existing = await s.get(InteractionRow, call_id)
        customer_id = rec.customer_id
        if customer_id is not None:
            known = await s.get(CustomerRow, customer_id)
            if known is None:
                customer_id = None  # a flow's id that is not (or no longer) in the store
            elif known.merged_into is not None:
                customer_id = known.merged_into  # merged since: the call goes to the record kept
        values = dict(
            uniqueid=rec.uniqueid, linkedid=rec.linkedid, ani=rec.ani, dnis=rec.dnis, customer_id=customer_id,
            started_at=rec.started_at, ended_at=rec.ended_at, outcome=rec.outcome.value, queue=rec.queue, agent=rec.agent,
            verification_level=rec.verification_level, locked=rec.locked, recording=rec.recording, record=rec.to_dict(),
        )
        if existing is None:
            if customer_id is None and rec.ani:
                values["customer_id"] = await self._single_customer_for(s, rec.ani)
            s.add(InteractionRow(call_id=call_id, **values))
        else:
            if existing.anonymised_at is not None:
                await self._scrub_late_events(s, call_id)
                return
            if customer_id is None:
                values["customer_id"] = existing.customer_id  # linked later by hand: keep it
            for k, v in values.items():
                setattr(existing, k, v)

    @staticmethod
    async def _scrub_late_events(s: AsyncSession, call_id: str) -> None:
        """Events that arrive for a call already anonymised (retention, or an erasure during the
        call) are stored without what identifies the caller, as its earlier ones were."""
        from acd.store.retention import _scrub

        for e in (await s.scalars(select(EventRow).where(EventRow.call_id == call_id))).all():
            data = _scrub(e.data or {})
            for key in ("customer_id", "file"):
                if key in data:
                    data[key] = None
            if data != (e.data or {}):
                e.data = data

    async def _single_customer_for(self, s: AsyncSession, ani: str) -> str | None:
        """An unidentified call from a number that belongs to exactly one customer is filed there."""
        try:
            e164 = normalise_phone(ani, self.region)
        except ValueError:
            return None
        ids = (await s.scalars(select(ContactPointRow.customer_id).join(CustomerRow).where(
            ContactPointRow.kind == "phone", ContactPointRow.value == e164, CustomerRow.merged_into.is_(None),
            CustomerRow.anonymised_at.is_(None)).limit(2))).all()
        return ids[0] if len(ids) == 1 else None

    async def link_interaction(self, call_id: str, customer_id: str, *, by: str) -> None:
        """File a call from an unknown number under a customer, later."""
        async with self.session.begin() as s:
            row = await s.get(InteractionRow, call_id)
            if row is None:
                raise NotFound(f"no interaction {call_id}")
            if await s.get(CustomerRow, customer_id) is None:
                raise NotFound(f"no customer {customer_id}")
            row.customer_id = customer_id
            record = dict(row.record)
            record["customer_id"] = customer_id
            row.record = record
            s.add(RevisionRow(customer_id=customer_id, field="interaction_linked", old_value=None, new_value=call_id, changed_by=by, changed_at=self.clock.now()))

    async def interaction(self, call_id: str) -> Interaction:
        async with self.session() as s:
            row = await s.get(InteractionRow, call_id)
        if row is None:
            raise NotFound(f"no interaction {call_id}")
        return _interaction(row)

    async def timeline(self, call_id: str) -> list[dict[str, Any]]:
        async with self.session() as s:
            rows = (await s.execute(select(EventRow.kind, EventRow.t, EventRow.data).where(EventRow.call_id == call_id)
                                    .order_by(EventRow.t, EventRow.seq))).all()
        return [{"kind": kind, "t": t, **(data or {})} for kind, t, data in rows]

    async def open_interactions(self, limit: int = 10_000) -> list[tuple[str, float]]:
        """Calls whose record has no end yet, with the time of their last event (when the engine
        last saw them alive): what a restarted engine must reconcile with Asterisk."""
        async with self.session() as s:
            rows = (await s.execute(
                select(InteractionRow.call_id, func.max(EventRow.t))
                .join(EventRow, EventRow.call_id == InteractionRow.call_id)
                .where(InteractionRow.ended_at.is_(None))
                .group_by(InteractionRow.call_id).limit(limit))).all()
        return [(call_id, float(t)) for call_id, t in rows]

    async def interactions_between(self, start: float, end: float) -> list[Interaction]:
        async with self.session() as s:
            rows = (await s.scalars(select(InteractionRow).where(InteractionRow.started_at >= start, InteractionRow.started_at < end)
                                    .order_by(InteractionRow.started_at))).all()
        return [_interaction(r) for r in rows]

    async def interaction_records_between(self, start: float, end: float) -> list[tuple[Any, str | None]]:
        """The stored records of the calls started in ``[start, end)`` as the driver returns them
        (JSON text, or already decoded), with their customer ids: for big reads (the wallboard's
        day) whose decoding the caller does off the event loop (:func:`interactions_from_raw`)."""
        from sqlalchemy import text

        query = text("SELECT record, customer_id FROM interactions WHERE started_at >= :start AND started_at < :end")
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query, {"start": start, "end": end})).all()
        return [(r[0], r[1]) for r in rows]

    async def interaction_record_chunks(self, start: float, end: float, size: int = 1000) -> AsyncGenerator[list[tuple[Any, str | None]], None]:
        """:meth:`interaction_records_between` a chunk of ``size`` rows at a time, read from one
        cursor as the caller takes them: a busy day is never held whole (the day cache folds
        each chunk and drops it)."""
        from sqlalchemy import text

        query = text("SELECT record, customer_id FROM interactions WHERE started_at >= :start AND started_at < :end")
        async with self.engine.connect() as conn:
            result = await conn.stream(query, {"start": start, "end": end})
            async for part in result.partitions(size):
                yield [(r[0], r[1]) for r in part]

    async def search_interactions(self, *, customer_id: str | None = None, ani: str | None = None, agent: str | None = None,
                                  queue: str | None = None, outcome: str | None = None, start: float | None = None,
                                  end: float | None = None, limit: int = 100) -> list[Interaction]:
        conds = []
        if customer_id:
            conds.append(InteractionRow.customer_id == customer_id)
        if ani:
            conds.append(or_(InteractionRow.ani == ani, InteractionRow.ani == normalised_or_as_is(ani, self.region)))
        if agent:
            conds.append(InteractionRow.agent == agent)
        if queue:
            conds.append(InteractionRow.queue == queue)
        if outcome:
            conds.append(InteractionRow.outcome == outcome)
        if start is not None:
            conds.append(InteractionRow.started_at >= start)
        if end is not None:
            conds.append(InteractionRow.started_at < end)
        stmt = select(InteractionRow).where(and_(*conds)) if conds else select(InteractionRow)
        async with self.session() as s:
            rows = (await s.scalars(stmt.order_by(InteractionRow.started_at.desc()).limit(max(1, min(limit, 1000))))).all()
        return [_interaction(r) for r in rows]

    async def customer_timeline(self, customer_id: str) -> dict[str, Any]:
        """The customer with every interaction, oldest first, each with its timeline."""
        customer = await self.get_customer(customer_id)
        async with self.session() as s:
            rows = (await s.scalars(select(InteractionRow).where(InteractionRow.customer_id == customer_id)
                                    .order_by(InteractionRow.started_at))).all()
        interactions = []
        for row in rows:
            item = _interaction(row).to_dict()
            item["timeline"] = await self.timeline(row.call_id)
            interactions.append(item)
        return {"customer": customer, "revisions": await self.revisions(customer_id), "interactions": interactions}

    async def agent_spans_between(self, start: float, end: float, lookback_s: float = 7 * 86400) -> list[AgentSpan] | None:
        """The agents' state stretches overlapping ``[start, end)`` (for occupancy), from the
        ``agent_state`` events the engine records; the state an agent was in at ``start`` comes
        from its last change before it (up to ``lookback_s`` back). The last stretch of each agent
        runs to ``end`` (or now, if earlier). None when nothing was recorded then."""
        chunks = [chunk async for chunk in self.agent_span_chunks(start, end, lookback_s=lookback_s)]
        if not chunks:
            return None  # no agent states recorded for that time: occupancy is unknown, not zero
        return [span for chunk in chunks for span in chunk]

    async def agent_span_chunks(self, start: float, end: float, size: int = 2000,
                                lookback_s: float = 7 * 86400) -> AsyncGenerator[list[AgentSpan], None]:
        """:meth:`agent_spans_between` as it is read, ``size`` changes at a time from one cursor
        in agent and time order (each agent's stretches are made as its changes come). Nothing is
        yielded when nothing was recorded then; else at least one list, maybe empty."""
        query = select(EventRow.call_id, EventRow.t, EventRow.data).where(
            EventRow.call_id.like(AGENT_TIMELINE + "%"), EventRow.kind == AgentStateChanged.kind,
            EventRow.t >= start - lookback_s, EventRow.t < end,
        ).order_by(EventRow.call_id, EventRow.t, EventRow.seq)
        stretches = _Stretches(start, end, min(end, self.clock.now()))
        async with self.engine.connect() as conn:
            result = await conn.stream(query)
            async for part in result.partitions(size):
                yield stretches.add(part)
        if stretches.seen:
            yield stretches.finish()

    # ------------------------------------------------------------------ verification audit
    async def record_attempt(self, *, customer_id: str | None, caller_number: str | None, method: str, result: str,
                             call_id: str | None) -> None:
        async with self.session.begin() as s:
            s.add(VerificationAttemptRow(at=self.clock.now(), call_id=call_id, customer_id=customer_id,
                                         caller_number=caller_number, method=method, result=result))

    async def count_failures(self, since: float, *, customer_id: str | None = None, caller_number: str | None = None) -> int:
        """Failed attempts since ``since`` against this customer, or from this caller number, counted
        from the last success (or unlock) of the same customer / number."""
        who = VerificationAttemptRow.customer_id == customer_id if customer_id else VerificationAttemptRow.caller_number == caller_number
        async with self.session() as s:
            reset_id = await s.scalar(select(func.max(VerificationAttemptRow.id)).where(
                who, VerificationAttemptRow.result.in_(("ok", "unlocked"))))
            return int(await s.scalar(select(func.count()).select_from(VerificationAttemptRow).where(
                who, VerificationAttemptRow.at >= since, VerificationAttemptRow.id > (reset_id or 0),
                VerificationAttemptRow.result.in_(("failed", "pending")))) or 0)

    async def attempts(self, *, customer_id: str | None = None) -> list[dict[str, Any]]:
        stmt = select(VerificationAttemptRow).order_by(VerificationAttemptRow.at, VerificationAttemptRow.id)
        if customer_id:
            stmt = stmt.where(VerificationAttemptRow.customer_id == customer_id)
        async with self.session() as s:
            rows = (await s.scalars(stmt)).all()
        return [{"at": r.at, "call_id": r.call_id, "customer_id": r.customer_id, "caller_number": r.caller_number,
                 "method": r.method, "result": r.result} for r in rows]


def _chunks(items: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


def _customer_dict(row: CustomerRow, contacts: Sequence[Sequence[Any]]) -> dict[str, Any]:
    return {
        "customer_id": row.customer_id, "name": row.name, "account_number": row.account_number, "segment": row.segment,
        "vip": row.vip, "language": row.language, "owner_agent": row.owner_agent, "notes": row.notes,
        "phones": [c[1] for c in contacts if c[0] == "phone"], "emails": [c[1] for c in contacts if c[0] == "email"],
        "contacts": [{"kind": c[0], "value": c[1], "preferred": bool(c[2]) if len(c) > 2 else False} for c in contacts],
        "created_at": row.created_at, "updated_at": row.updated_at, "anonymised": row.anonymised_at is not None,
        "merged_into": row.merged_into,
    }


class _Stretches:
    """Agents' state stretches overlapping ``[start, end)`` from their changes in agent and time
    order: a change ends the agent's previous stretch; its last one runs to ``stop``."""

    def __init__(self, start: float, end: float, stop: float) -> None:
        from acd.reports.compute import AgentSpan  # (acd.reports imports the store)

        self._span = AgentSpan
        self.start, self.end, self.stop = start, end, stop
        self.seen = False
        self._agent: str | None = None
        self._last: tuple[float, str] | None = None

    def add(self, rows: Iterable[Any]) -> list[AgentSpan]:
        out: list[AgentSpan] = []
        for call_id, t, data in rows:
            self.seen = True
            agent = call_id[len(AGENT_TIMELINE):]
            if agent != self._agent:
                self._close(self.stop, out)
                self._agent = agent
            else:
                self._close(t, out)
            self._last = (t, AgentStateChanged.from_record(data or {}).state)
        return out

    def finish(self) -> list[AgentSpan]:
        out: list[AgentSpan] = []
        self._close(self.stop, out)
        return out

    def _close(self, t1: float, out: list[AgentSpan]) -> None:
        if self._last is not None and self._agent is not None:
            t0, state = self._last
            if t1 > self.start and t0 < self.end and t1 > t0:
                out.append(self._span(self._agent, state, max(t0, self.start), min(t1, self.end)))
        self._last = None


def interactions_from_raw(rows: list[tuple[Any, str | None]]) -> list[Interaction]:
    """Records from :meth:`SqlStore.interaction_records_between` (CPU only: run it in a thread)."""
    import json

    out = []
    for record, customer_id in rows:
        rec = Interaction.from_dict(json.loads(record) if isinstance(record, (str, bytes)) else record)
        rec.customer_id = customer_id
        out.append(rec)
    return out


def _interaction(row: InteractionRow) -> Interaction:
    rec = Interaction.from_dict(row.record)
    rec.customer_id = row.customer_id
    return rec
