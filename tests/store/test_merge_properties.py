"""Property tests (Hypothesis) of merge and undo, on SQLite and PostgreSQL: whatever the two
records hold (shared or distinct phones and e-mails, preferred marks, secrets, calls, other
contacts, tasks, revisions), a merge deletes no row and moves every call, contact, task and revision of the
merged record to the kept one, and its undo gives back exactly the rows both had before."""

from __future__ import annotations

import asyncio
import uuid

from hypothesis import HealthCheck, Phase, given, settings, strategies as st
from sqlalchemy import select

from acd.clock import FakeClock
from acd.secrets import Secret
from acd.store import contacts, customers_edit, merge, tasks
from acd.store.models import ChannelContactRow, ContactPointRow, CustomerRow, InteractionRow, RevisionRow, SecretRow, TaskRow
from acd.store.sql import SpooledEvent, SqlStore
from acd.store.validation import CustomerRules
from acd.tasks.model import TaskInput
from acd.tasks.rules import TaskType

PHONES = ["+447700900501", "+447700900502", "+447700900503", "+447700900504"]
EMAILS = ["a@x.org", "b@x.org", "c@x.org"]
RULES = CustomerRules()

record = st.fixed_dictionaries({
    "phones": st.lists(st.sampled_from(PHONES), max_size=3, unique=True),
    "emails": st.lists(st.sampled_from(EMAILS), max_size=2, unique=True),
    "preferred": st.booleans(),
    "segment": st.sampled_from([None, "gold", "silver"]),
    "language": st.sampled_from([None, "en", "fr"]),
    "vip": st.booleans(),
    "account": st.booleans(),
    "secrets": st.lists(st.sampled_from(["pin", "dob"]), max_size=2, unique=True),
    "calls": st.integers(0, 2),
    "contacts": st.integers(0, 2),
    "edits": st.integers(0, 2),
    "tasks": st.integers(0, 2),
})
TASK_TYPES = {"follow_up": TaskType("follow_up", "Follow up")}


async def _make(store: SqlStore, spec: dict, tag: str) -> str:
    fields = {k: spec[k] for k in ("segment", "language") if spec[k]}
    cid = await store.create_customer(name=f"Person {tag}", phones=spec["phones"], emails=spec["emails"], vip=spec["vip"],
                                      account_number=f"ACC-{tag}" if spec["account"] else None, **fields)
    if spec["preferred"] and spec["phones"]:
        await customers_edit.set_preferred(store, RULES, cid, "phone", spec["phones"][-1], by="t")
    for kind in spec["secrets"]:
        await store.set_secret(cid, kind, Secret("1234" if kind == "pin" else "19800101"), by="t")
    for n in range(spec["calls"]):
        call = f"{tag}-call-{n}"
        await store.write_events([SpooledEvent(f"{call}-a", 1, call, "call_start", store.clock.now() - 100 + n, {"ani": "+447700900999"}),
                                  SpooledEvent(f"{call}-b", 2, call, "identified", store.clock.now() - 99 + n, {"customer_id": cid})])
    for n in range(spec["contacts"]):
        await contacts.log_contact(store, cid, contacts.ContactInput("email", "inbound", store.clock.now() - 50 + n), source="t")
    for n in range(spec["tasks"]):
        task = TaskInput.parse({"type": "follow_up", "owner_queue": "general", "customer_id": cid}, now=store.clock.now(),
                               types=TASK_TYPES, agents=frozenset(), queues=frozenset({"general"}))
        await tasks.create_task(store, task, source="api", by="t")
    for n in range(spec["edits"]):
        await store.update_customer(cid, {"notes": f"note {n}"}, by="t")
    return cid


async def _rows(store: SqlStore, ids: list[str]) -> dict[str, set]:
    async with store.session() as s:
        out = {
            "customers": {tuple(getattr(r, c.name) for c in CustomerRow.__table__.columns)
                          for r in (await s.scalars(select(CustomerRow).where(CustomerRow.customer_id.in_(ids)))).all()},
            "points": set((await s.execute(select(ContactPointRow.id, ContactPointRow.customer_id, ContactPointRow.kind,
                                                  ContactPointRow.value, ContactPointRow.preferred)
                                           .where(ContactPointRow.customer_id.in_(ids)))).all()),
            "secrets": set((await s.execute(select(SecretRow.customer_id, SecretRow.kind, SecretRow.hash)
                                            .where(SecretRow.customer_id.in_(ids)))).all()),
            "revisions": {(r.id, r.customer_id, r.field, repr(r.old_value), repr(r.new_value), r.changed_by, r.changed_at)
                          for r in (await s.scalars(select(RevisionRow).where(RevisionRow.customer_id.in_(ids)))).all()},
            "calls": set((await s.execute(select(InteractionRow.call_id, InteractionRow.customer_id)
                                          .where(InteractionRow.customer_id.in_(ids)))).all()),
            "contacts": set((await s.execute(select(ChannelContactRow.contact_id, ChannelContactRow.customer_id)
                                             .where(ChannelContactRow.customer_id.in_(ids)))).all()),
            "tasks": set((await s.execute(select(TaskRow.task_id, TaskRow.customer_id).where(TaskRow.customer_id.in_(ids)))).all()),
        }
    return out


def _ids(rows: set, index: int = 0) -> set:
    return {r[index] for r in rows}


async def _check(store: SqlStore, a_spec: dict, b_spec: dict) -> None:
    tag = uuid.uuid4().hex[:8]
    a, b = await _make(store, a_spec, tag + "a"), await _make(store, b_spec, tag + "b")
    before = await _rows(store, [a, b])
    done = await merge.merge_customers(store, a, b, by="sup")
    after = await _rows(store, [a, b])
    for table in ("points", "calls", "contacts", "tasks"):  # nothing deleted ...
        assert _ids(after[table]) == _ids(before[table]), table
    assert {r[0] for r in after["secrets"]} <= {a, b} and len(after["secrets"]) == len(before["secrets"])
    assert _ids(before["revisions"]) <= _ids(after["revisions"])
    assert {c for c, owner in after["calls"]} == {c for c, _ in before["calls"]} and all(o == a for _, o in after["calls"])
    assert all(owner == a for _, owner in after["contacts"])  # ... every call and contact on the kept record
    assert all(owner == a for _, owner in after["tasks"])  # and every follow-up task
    assert all(r[1] == a for r in after["revisions"])  # every revision of both too
    kept = await store.get_customer(a)
    assert set(kept["phones"]) == set(a_spec["phones"]) | set(b_spec["phones"])
    assert set(kept["emails"]) == set(a_spec["emails"]) | set(b_spec["emails"])
    assert sum(1 for p in kept["contacts"] if p["kind"] == "phone" and p["preferred"]) <= 1
    assert {kind for owner, kind, _ in after["secrets"] if owner == a} == set(a_spec["secrets"]) | set(b_spec["secrets"])
    assert (await store.get_customer(b))["merged_into"] == a
    await merge.undo_merge(store, done["merge_id"], by="sup")
    assert await _rows(store, [a, b]) == before


def test_merge_then_undo_keeps_every_row(db_url):
    url, schema = db_url
    loop = asyncio.new_event_loop()
    store = loop.run_until_complete(SqlStore(url, clock=FakeClock(1_700_000_000.0), pg_schema=schema).open())
    try:
        @settings(max_examples=20, deadline=None, phases=[Phase.explicit, Phase.reuse, Phase.generate], suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
        @given(record, record)
        def prop(a_spec, b_spec):
            loop.run_until_complete(_check(store, a_spec, b_spec))

        prop()
    finally:
        loop.run_until_complete(store.close())
        loop.close()
