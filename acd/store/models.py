"""The customer store's tables (SQLAlchemy 2 declarative). Schema changes go through Alembic
(``acd/store/migrations``); ``tests/store/test_migrations.py`` checks that the migrations build
exactly these tables.

Times are epoch seconds (double precision): the engine's clock speaks epoch seconds, reports
slice them into intervals, and both SQLite and PostgreSQL store them without time-zone surprises.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint, event
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from acd.store.names import name_key


class Base(DeclarativeBase):
    pass


class CustomerRow(Base):
    __tablename__ = "customers"

    customer_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    account_number: Mapped[str | None] = mapped_column(String(64), unique=True)
    segment: Mapped[str | None] = mapped_column(String(40))
    vip: Mapped[bool] = mapped_column(Boolean, default=False)
    language: Mapped[str | None] = mapped_column(String(16))
    owner_agent: Mapped[str | None] = mapped_column(String(64))
    notes: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[float] = mapped_column(Float)
    anonymised_at: Mapped[float | None] = mapped_column(Float)
    merged_into: Mapped[str | None] = mapped_column(String(36))  # merged (hidden) into this customer; undo clears it
    name_key: Mapped[str | None] = mapped_column(String(200), index=True)  # acd.store.names.name_key(name), kept on every write


class ContactPointRow(Base):
    """A phone number (E.164) or e-mail address. Several customers may share one number (a family
    landline): identification then reports several matches."""

    __tablename__ = "contact_points"
    __table_args__ = (UniqueConstraint("customer_id", "kind", "value"), Index("ix_contact_points_lookup", "kind", "value"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.customer_id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(10))  # phone | email
    value: Mapped[str] = mapped_column(String(254))
    preferred: Mapped[bool] = mapped_column(Boolean, default=False)  # the one to use first, per kind


class SecretRow(Base):
    """A verification secret, only as a slow salted KDF hash (``acd.secrets.hash_secret``)."""

    __tablename__ = "customer_secrets"

    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.customer_id", ondelete="CASCADE"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), primary_key=True)  # pin | memorable_date | dob
    hash: Mapped[str] = mapped_column(String(200))
    set_at: Mapped[float] = mapped_column(Float)


class RevisionRow(Base):
    """The old value of a customer field, who changed it and when."""

    __tablename__ = "customer_revisions"
    __table_args__ = (Index("ix_customer_revisions_customer", "customer_id", "changed_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.customer_id", ondelete="CASCADE"))
    field: Mapped[str] = mapped_column(String(40))
    old_value: Mapped[Any] = mapped_column(JSON, nullable=True)
    new_value: Mapped[Any] = mapped_column(JSON, nullable=True)
    changed_by: Mapped[str] = mapped_column(String(64))
    changed_at: Mapped[float] = mapped_column(Float)


class InteractionRow(Base):
    """One call: the summary columns reports and searches use, and the whole folded record."""

    __tablename__ = "interactions"
    __table_args__ = (
        Index("ix_interactions_started", "started_at"),
        Index("ix_interactions_customer", "customer_id", "started_at"),
        Index("ix_interactions_ani", "ani"),
        Index("ix_interactions_agent", "agent", "started_at"),
    )

    call_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    uniqueid: Mapped[str | None] = mapped_column(String(64))
    linkedid: Mapped[str | None] = mapped_column(String(64))
    ani: Mapped[str | None] = mapped_column(String(40))
    dnis: Mapped[str | None] = mapped_column(String(40))
    customer_id: Mapped[str | None] = mapped_column(ForeignKey("customers.customer_id", ondelete="SET NULL"))
    started_at: Mapped[float] = mapped_column(Float)
    ended_at: Mapped[float | None] = mapped_column(Float)
    outcome: Mapped[str] = mapped_column(String(20))
    queue: Mapped[str | None] = mapped_column(String(64))
    agent: Mapped[str | None] = mapped_column(String(64))
    verification_level: Mapped[str] = mapped_column(String(12), default="none")
    locked: Mapped[bool] = mapped_column(Boolean, default=False)
    recording: Mapped[str | None] = mapped_column(String(255))
    record: Mapped[dict[str, Any]] = mapped_column(JSON)  # acd.store.records.Interaction.to_dict()
    anonymised_at: Mapped[float | None] = mapped_column(Float)


class EventRow(Base):
    """The call's timeline, one row per event. ``uid`` makes spool replay idempotent."""

    __tablename__ = "interaction_events"
    __table_args__ = (Index("ix_interaction_events_call", "call_id", "seq"),)

    uid: Mapped[str] = mapped_column(String(40), primary_key=True)
    call_id: Mapped[str] = mapped_column(String(64))
    seq: Mapped[int] = mapped_column(Integer)  # order within the writer's spool
    t: Mapped[float] = mapped_column(Float)
    kind: Mapped[str] = mapped_column(String(40))
    data: Mapped[dict[str, Any]] = mapped_column(JSON)


class VerificationAttemptRow(Base):
    """The audit of every verification attempt: time, caller number, method, result. Never digits."""

    __tablename__ = "verification_attempts"
    __table_args__ = (
        Index("ix_verification_customer", "customer_id", "at"),
        Index("ix_verification_caller", "caller_number", "at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[float] = mapped_column(Float)
    call_id: Mapped[str | None] = mapped_column(String(64))
    customer_id: Mapped[str | None] = mapped_column(String(36))
    caller_number: Mapped[str | None] = mapped_column(String(40))
    method: Mapped[str] = mapped_column(String(20))
    result: Mapped[str] = mapped_column(String(12))


# --------------------------------------------------------------------------- customer 360 (0002)
class ChannelContactRow(Base):
    """A contact other than a call (e-mail, SMS, chat, web form, letter, in person), on the same
    timeline as the calls. ``customer_id`` is cleared (not the row) when the person is erased, so
    the per-channel counts stay."""

    __tablename__ = "customer_contacts"
    __table_args__ = (
        Index("ix_customer_contacts_customer", "customer_id", "at"),
        Index("ix_customer_contacts_at", "at"),
    )

    contact_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    customer_id: Mapped[str | None] = mapped_column(ForeignKey("customers.customer_id", ondelete="SET NULL"))
    channel: Mapped[str] = mapped_column(String(16))
    direction: Mapped[str] = mapped_column(String(10))  # inbound | outbound
    at: Mapped[float] = mapped_column(Float)
    subject: Mapped[str | None] = mapped_column(String(200))
    summary: Mapped[str | None] = mapped_column(Text)
    agent: Mapped[str | None] = mapped_column(String(64))
    link: Mapped[str | None] = mapped_column(String(500))
    source: Mapped[str] = mapped_column(String(64))  # who logged it: a user id, or "webhook"
    created_at: Mapped[float] = mapped_column(Float)
    anonymised_at: Mapped[float | None] = mapped_column(Float)


class AccessRow(Base):
    """One read of a customer's record: who, when, what (screen-pop, search, record, timeline,
    export) and why (the call or task it was for). Holds the customer's id only."""

    __tablename__ = "customer_access"
    __table_args__ = (Index("ix_customer_access_customer", "customer_id", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    customer_id: Mapped[str] = mapped_column(String(36))
    at: Mapped[float] = mapped_column(Float)
    who: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str | None] = mapped_column(String(120))


class MergeRow(Base):
    """A merge of ``merged_id`` into ``kept_id``: what moved and what the kept record was before,
    so ``undo`` puts both back as they were."""

    __tablename__ = "customer_merges"
    __table_args__ = (Index("ix_customer_merges_kept", "kept_id"), Index("ix_customer_merges_merged", "merged_id"))

    merge_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    kept_id: Mapped[str] = mapped_column(String(36))
    merged_id: Mapped[str] = mapped_column(String(36))
    at: Mapped[float] = mapped_column(Float)
    by: Mapped[str] = mapped_column(String(64))
    moved: Mapped[dict[str, Any]] = mapped_column(JSON)  # ids moved and the kept record's fields before
    undone_at: Mapped[float | None] = mapped_column(Float)
    undone_by: Mapped[str | None] = mapped_column(String(64))


class ErasureRow(Base):
    """The audit entry of an erasure on request: whose id, who, when, why and how much went."""

    __tablename__ = "customer_erasures"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    customer_id: Mapped[str] = mapped_column(String(36))
    at: Mapped[float] = mapped_column(Float)
    by: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str | None] = mapped_column(String(200))
    counts: Mapped[dict[str, Any]] = mapped_column(JSON)


# --------------------------------------------------------------------------- tasks (0003)
class TaskRow(Base):
    """A follow-up task (call back, case) on a customer, owned by an agent or a queue."""

    __tablename__ = "tasks"
    __table_args__ = (
        Index("ix_tasks_owner", "owner_kind", "owner", "status", "due_at"),
        Index("ix_tasks_customer", "customer_id", "created_at"),
        Index("ix_tasks_status_due", "status", "due_at"),
    )

    task_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    customer_id: Mapped[str | None] = mapped_column(ForeignKey("customers.customer_id", ondelete="SET NULL"))
    call_id: Mapped[str | None] = mapped_column(String(64))  # the call it came from
    type: Mapped[str] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(String(200))
    notes: Mapped[str | None] = mapped_column(Text)
    owner_kind: Mapped[str] = mapped_column(String(8))  # agent | queue
    owner: Mapped[str] = mapped_column(String(64))
    due_at: Mapped[float] = mapped_column(Float)
    priority: Mapped[int] = mapped_column(Integer)  # acd.tasks.model.Priority
    status: Mapped[str] = mapped_column(String(12))  # open | done | cancelled
    source: Mapped[str] = mapped_column(String(12))  # api | wrapup | flow
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[float] = mapped_column(Float)
    closed_at: Mapped[float | None] = mapped_column(Float)
    escalation_level: Mapped[int] = mapped_column(Integer, default=0)
    escalated_to_supervisor: Mapped[bool] = mapped_column(Boolean, default=False)
    callback_number: Mapped[str | None] = mapped_column(String(40))
    callback_call_id: Mapped[str | None] = mapped_column(String(64))  # the outbound call booked for it


class TaskEventRow(Base):
    """What happened to a task: created, escalated, reassigned, completed... (its history, and
    the customer's timeline)."""

    __tablename__ = "task_events"
    __table_args__ = (Index("ix_task_events_task", "task_id", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    task_id: Mapped[str] = mapped_column(ForeignKey("tasks.task_id", ondelete="CASCADE"))
    at: Mapped[float] = mapped_column(Float)
    kind: Mapped[str] = mapped_column(String(24))
    by: Mapped[str] = mapped_column(String(64))
    data: Mapped[dict[str, Any]] = mapped_column(JSON)


@event.listens_for(CustomerRow, "before_insert")
@event.listens_for(CustomerRow, "before_update")
def _keep_name_key(mapper: object, connection: object, target: CustomerRow) -> None:
    """The searchable form of the name follows the name on every ORM write (create, edit,
    import, merge, erasure)."""
    target.name_key = name_key(target.name)
