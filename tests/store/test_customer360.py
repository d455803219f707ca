"""Customer 360 on the store, on SQLite and PostgreSQL: search, validated create and edit with
revisions and duplicate warnings, contact points, contacts other than calls on the timeline,
the access audit, merge and undo, erasure and the data-quality report."""

from __future__ import annotations

import json

import pytest

from acd.secrets import Secret
from acd.store import audit, contacts, customers_edit, duplicates, erasure, merge, quality, search
from acd.store.sql import NotFound, SpooledEvent, StoreError
from acd.store.validation import CustomerRules

RULES = CustomerRules(region="GB", languages=frozenset({"en", "fr"}), agents=frozenset({"agent1", "agent2"}))


async def _call(store, call_id: str, ani: str, t: float, customer_id: str | None = None, recording: str | None = None):
    events = [SpooledEvent(f"{call_id}-1", 1, call_id, "call_start", t, {"ani": ani, "dnis": "100", "uniqueid": call_id}),
              SpooledEvent(f"{call_id}-2", 2, call_id, "flow_step", t + 1, {"step": "menu", "action": "menu", "inputs": "1"})]
    if customer_id:
        events.append(SpooledEvent(f"{call_id}-3", 3, call_id, "identified", t + 2, {"customer_id": customer_id}))
    if recording:
        events.append(SpooledEvent(f"{call_id}-4", 4, call_id, "recording", t + 3, {"file": recording}))
    events.append(SpooledEvent(f"{call_id}-5", 5, call_id, "ended", t + 60, {"by": "caller", "talk_s": 50}))
    await store.write_events(events)


async def test_search_by_name_phone_email_and_account_with_paging(store):
    ada = await store.create_customer(name="Ada Lovelace", phones=["020 7946 0001"], emails=["ada@example.org"], account_number="A-1")
    await store.create_customer(name="Adam Smith", phones=["+44 20 7946 0002"])
    for n in range(5):
        await store.create_customer(name=f"Zed Person {n}")
    assert [c["name"] for c in (await search.search_customers(store, "ada")).customers] == ["Ada Lovelace", "Adam Smith"]
    for q in ("+442079460001", "0207 946 0001", "(020) 7946-0001", "ADA@example", "A-1", "lovelace"):
        page = await search.search_customers(store, q)
        assert [c["customer_id"] for c in page.customers] == [ada], q
    page = await search.search_customers(store, "zed", page=2, per_page=2)
    assert page.total == 5 and [c["name"] for c in page.customers] == ["Zed Person 2", "Zed Person 3"]
    assert page.to_dict()["pages"] == 3
    await store.set_secret(ada, "pin", Secret("1234"), by="t")
    hit = (await search.search_customers(store, "ada lovelace")).customers[0]
    assert "scrypt" not in json.dumps(hit) and set(hit) >= {"phones", "emails", "account_number"}
    with pytest.raises(search.BadQuery) as bad:
        await search.search_customers(store, "a")
    assert bad.value.field == "q"
    with pytest.raises(search.BadQuery):
        await search.search_customers(store, "ada", per_page=1000)
    assert (await search.search_customers(store, "100%")).total == 0  # % is text, not a wildcard


async def test_names_are_found_whatever_their_accents_case_and_hyphens(store):
    """An agent types what the caller says: no accents, any case, a space for a hyphen."""
    muller = await store.create_customer(name="Jürgen Müller")
    jean = await store.create_customer(name="Jean-Luc Pérez")
    soren = await store.create_customer(name="Søren Łukasiewicz")
    for q, who in [("muller", muller), ("MÜLLER", muller), ("jurgen mul", muller), ("jean luc", jean), ("Jean-Luc", jean),
                   ("perez", jean), ("soren", soren), ("lukasiewicz", soren)]:
        assert [c["customer_id"] for c in (await search.search_customers(store, q)).customers] == [who], q
    await store.update_customer(jean, {"name": "Jean-Luc Picard"}, by="agent1")  # an edit keeps the key in step
    assert (await search.search_customers(store, "perez")).total == 0
    assert [c["customer_id"] for c in (await search.search_customers(store, "picard")).customers] == [jean]


async def test_create_and_edit_validate_every_field_keep_revisions_and_warn_of_duplicates(store):
    with pytest.raises(customers_edit.InvalidCustomer) as bad:
        await customers_edit.create(store, RULES, {"name": "", "phones": ["12"], "emails": ["nope"], "language": "xx",
                                                   "owner_agent": "agent9", "pin": "12"}, by="agent1")
    fields = [p.field for p in bad.value.problems]
    assert fields == ["name", "phones", "emails", "language", "owner_agent", "pin"]
    assert "12" not in str(bad.value.problems[-1])  # a PIN is never quoted
    first = await customers_edit.create(store, RULES, {"name": "Grace Hopper", "phones": "07700 900123", "dob": "1906-12-09"}, by="agent1")
    assert first.duplicates == []
    gid = first.customer["customer_id"]
    second = await customers_edit.create(store, RULES, {"name": "grace  hopper", "dob": "1906-12-09", "emails": ["g@navy.mil"]},
                                         by="agent2", reason="call 42")
    assert second.duplicates == [{"customer_id": gid, "name": "Grace Hopper", "reasons": ["same name and date of birth", "similar name"]}]
    third = await customers_edit.create(store, RULES, {"name": "Someone Else", "phones": ["+447700900123"]}, by="agent1")
    assert third.duplicates[0]["reasons"] == ["same phone"]
    edited = await customers_edit.edit(store, RULES, gid, {"language": "fr", "segment": "navy", "notes": "compiler"}, by="agent1", reason="call 7")
    assert edited.customer["language"] == "fr"
    with pytest.raises(customers_edit.InvalidCustomer) as bad:
        await customers_edit.edit(store, RULES, gid, {"name": " ", "owner_agent": "nobody"}, by="agent1")
    assert [p.field for p in bad.value.problems] == ["name", "owner_agent"]
    await customers_edit.edit(store, RULES, gid, {"segment": ""}, by="agent2")  # a blank value empties the field
    revisions = await store.revisions(gid)
    assert [(r["field"], r["old"], r["new"]) for r in revisions if r["field"] in ("language", "segment")] == [
        ("language", None, "fr"), ("segment", None, "navy"), ("segment", "navy", None)]
    assert {r["by"] for r in revisions if r["field"] == "language"} == {"agent1 (call 7)"}
    await customers_edit.edit(store, RULES, gid, {"language": "fr"}, by="agent1")  # unchanged: no revision
    assert len(await store.revisions(gid)) == len(revisions)


async def test_contact_points_added_removed_and_preferred(store):
    cid = (await customers_edit.create(store, RULES, {"name": "Alan Turing", "phones": ["+447700900001"]}, by="t")).customer["customer_id"]
    await customers_edit.add_contact(store, RULES, cid, "phone", "07700 900002", by="agent1", preferred=True)
    c = await customers_edit.set_preferred(store, RULES, cid, "phone", "+447700900001", by="agent1")
    assert [(p["value"], p["preferred"]) for p in c["contacts"]] == [("+447700900001", True), ("+447700900002", False)]
    c = await customers_edit.remove_contact(store, RULES, cid, "phone", "+44 7700 900002", by="agent1")
    assert c["phones"] == ["+447700900001"]
    with pytest.raises(customers_edit.InvalidCustomer):
        await customers_edit.add_contact(store, RULES, cid, "email", "not-an-address", by="agent1")
    with pytest.raises(NotFound):
        await customers_edit.remove_contact(store, RULES, cid, "email", "x@y.org", by="agent1")
    fields = [(r["field"], r["old"], r["new"]) for r in await store.revisions(cid)]
    assert ("preferred_phone", "+447700900002", "+447700900001") in fields and ("phone", "+447700900002", None) in fields


async def test_other_contacts_are_on_the_timeline_with_the_calls(store, clock):
    cid = await store.create_customer(name="Mary Somerville", phones=["+447700900010"])
    await _call(store, "c1", "+447700900010", clock.now() - 100)
    mail = contacts.ContactInput.parse({"channel": "email", "direction": "outbound", "subject": "Your form",
                                        "summary": "sent the form", "agent": "agent1", "link": "https://crm/1"},
                                       now=clock.now(), agents=frozenset({"agent1"}))
    await contacts.log_contact(store, cid, mail, source="agent1")
    sms = contacts.ContactInput.parse({"channel": "sms", "at": clock.now() - 200}, now=clock.now())
    await contacts.log_contact(store, cid, sms, source="webhook")
    data = await contacts.full_timeline(store, cid)
    assert [p["channel"] for p in data["touchpoints"]] == ["sms", "call", "email"]
    assert data["contacts"][1]["subject"] == "Your form"
    for body, field in (({"channel": "fax"}, "channel"), ({"channel": "sms", "direction": "up"}, "direction"),
                        ({"channel": "sms", "at": "soon"}, "at"), ({"channel": "sms", "at": clock.now() + 3600}, "at"),
                        ({"channel": "sms", "link": "javascript:x"}, "link"), ({"channel": "sms", "agent": "agent7"}, "agent")):
        with pytest.raises(contacts.InvalidContact) as bad:
            contacts.ContactInput.parse(body, now=clock.now(), agents=frozenset({"agent1"}))
        assert bad.value.field == field


async def test_access_audit_lists_who_read_a_record_and_why(store):
    cid = await store.create_customer(name="Emmy Noether")
    await audit.record_access(store, [cid], who="agent1", action="screen_pop", reason="call c9")
    await audit.record_access(store, [cid, cid], who="sup", action="search", reason=None)
    assert [(a["who"], a["action"], a["reason"]) for a in await audit.access_log(store, cid)] == [
        ("sup", "search", None), ("agent1", "screen_pop", "call c9")]


async def test_merge_keeps_everything_and_undo_restores_both(store, clock):
    a = await store.create_customer(name="Ada King", phones=["+447700900020"], account_number="K-1")
    b = await store.create_customer(name="Ada King", phones=["+447700900020", "+447700900021"], emails=["ada@k.org"],
                                    segment="gold", account_number="K-2", by="import")
    await store.set_secret(b, "pin", Secret("4321"), by="import")
    await _call(store, "m1", "+447700900021", clock.now() - 50, customer_id=b)
    await contacts.log_contact(store, b, contacts.ContactInput("letter", "inbound", clock.now() - 10), source="agent1")
    before_a, before_b = await store.customer_timeline(a), await store.customer_timeline(b)
    done = await merge.merge_customers(store, a, b, by="sup")
    assert done["moved"] == {"interactions": 1, "contacts": 1, "tasks": 0, "revisions": 2, "contact_points": 2, "secrets": 1}
    kept = await store.customer_timeline(a)
    assert [i["call_id"] for i in kept["interactions"]] == ["m1"]
    assert kept["customer"]["segment"] == "gold" and sorted(kept["customer"]["phones"]) == ["+447700900020", "+447700900021"]
    assert kept["customer"]["account_number"] == "K-1"
    assert await store.secret_hash(a, "pin") is not None
    assert (await store.get_customer(b))["merged_into"] == a
    assert [c.customer_id for c in await store.find_by_phone("+447700900020")] == [a]
    await _call(store, "m1", "+447700900021", clock.now() - 50, customer_id=b)  # a refold of a call the flow filed under b
    assert (await store.interaction("m1")).customer_id == a
    with pytest.raises(merge.MergeRefused):
        await merge.merge_customers(store, a, b, by="sup")
    await merge.undo_merge(store, done["merge_id"], by="sup2")
    assert await store.customer_timeline(a) == before_a
    after_b = await store.customer_timeline(b)
    assert after_b["revisions"] == before_b["revisions"] and after_b["interactions"] == before_b["interactions"]
    assert after_b["customer"] == {**before_b["customer"], "updated_at": after_b["customer"]["updated_at"]}
    assert await store.secret_hash(a, "pin") is None and await store.secret_hash(b, "pin") is not None
    assert [m["undone_by"] for m in await merge.merges_of(store, a)] == ["sup2"]
    with pytest.raises(merge.MergeRefused):
        await merge.undo_merge(store, done["merge_id"], by="sup")


async def test_erasure_removes_the_person_everywhere_and_keeps_the_figures(store, clock, tmp_path):
    from acd.store.dataio import export_customer

    cid = await store.create_customer(name="Erin Erased", phones=["+447700900030"], emails=["erin@x.org"], notes="likes cats")
    await store.set_secret(cid, "pin", Secret("9999"), by="t")
    rec = tmp_path / "rec.wav"
    rec.write_bytes(b"RIFF")
    await _call(store, "e1", "+447700900030", clock.now() - 500, customer_id=cid, recording=str(rec))
    await store.record_attempt(customer_id=cid, caller_number="+447700900030", method="pin", result="ok", call_id="e1")
    await contacts.log_contact(store, cid, contacts.ContactInput("chat", "inbound", clock.now() - 5, "Erin's cat", "about the cat"),
                               source="agent1")
    exported = json.loads(await export_customer(store, cid, "json"))
    assert exported["contacts"][0]["subject"] == "Erin's cat" and exported["interactions"][0]["call_id"] == "e1"
    spool = tmp_path / "spool"
    spool.mkdir()
    line = json.dumps({"uid": "u1", "seq": 1, "call_id": "e1", "kind": "call_start", "t": 1.0,
                       "data": {"ani": "+447700900030", "dnis": "100"}}, separators=(",", ":")).encode()
    pending = json.dumps({"uid": "u2", "seq": 2, "call_id": "e1", "kind": "ended", "t": 2.0, "data": {"by": "x"}}).encode()
    (spool / "0001-000001.jsonl").write_bytes(line + b"\n" + pending + b"\n")
    (spool / "checkpoint.json").write_text(json.dumps({"segment": "0001-000001.jsonl", "offset": len(line) + 1}))
    done = await erasure.erase_customer(store, cid, by="admin", reason="request 17", spool_dir=spool)
    assert done["counts"] == {**done["counts"], "customers": 1, "interactions": 1, "recordings": 1, "contacts": 1,
                                   "verification_attempts": 1, "spool_lines": 1, "spool_pending": 1}
    with pytest.raises(NotFound):
        await store.get_customer(cid)
    assert not rec.exists()
    call = await store.interaction("e1")
    assert (call.ani, call.customer_id, call.recording, call.outcome.value) == (None, None, None, call.outcome.value)
    assert call.talk_s == 50  # the figures stay
    everything = json.dumps([await store.timeline("e1"), call.to_dict(), await store.attempts()])
    everything += (spool / "0001-000001.jsonl").read_text().split("\n")[0]
    for personal in ("7700900030", "Erin", "cats", "erin@x.org", cid):
        assert personal not in everything, personal
    scrubbed = (spool / "0001-000001.jsonl").read_bytes().split(b"\n")
    assert len(scrubbed[0]) == len(line) and json.loads(scrubbed[0])["data"]["ani"] is None
    async with store.session() as s:
        from sqlalchemy import select

        from acd.store.models import ChannelContactRow
        left = (await s.scalars(select(ChannelContactRow))).all()
    assert [(c.channel, c.customer_id, c.subject, c.summary) for c in left] == [("chat", None, None, None)]
    assert [e["customer_id"] for e in await erasure.erasures(store)] == [cid]
    await store.write_events([SpooledEvent("e1-late", 9, "e1", "wrapup_done", clock.now(), {"notes": "Erin's cats", "disposition": "ok"})])
    late = [e for e in await store.timeline("e1") if e["kind"] == "wrapup_done"]
    assert late[0]["notes"] is None and late[0]["disposition"] == "ok"  # a late event of the erased call is scrubbed too
    with pytest.raises(NotFound):
        await erasure.erase_customer(store, cid, by="admin")


async def test_quality_report(store, clock):
    from acd.store.models import ContactPointRow

    a = await store.create_customer(name="Jon Smith", phones=["+447700900040"])
    b = await store.create_customer(name="John Smith", phones=["+447700900040"])
    c = await store.create_customer(name="Nobody Reachable")
    async with store.session.begin() as s:
        s.add(ContactPointRow(customer_id=a, kind="phone", value="12345", preferred=False))
    clock.advance(800 * 86400)
    d = await store.create_customer(name="Fresh Face", emails=["f@f.org"])
    report = await quality.quality_report(store, stale_days=730)
    assert report.duplicates == [{"customers": sorted([a, b]), "names": [n for _, n in sorted([(a, "Jon Smith"), (b, "John Smith")])],
                                  "reasons": ["same phone", "similar name"]}]
    assert [m["customer_id"] for m in report.missing_contacts] == [c]
    assert [(i["customer_id"], i["value"]) for i in report.invalid_contacts] == [(a, "12345")]
    assert sorted(s["customer_id"] for s in report.stale) == sorted([a, b, c]) and d not in [s["customer_id"] for s in report.stale]
    assert "duplicate candidates" in report.render()
    assert duplicates.similar("Amélie Laurent", "amelie  LAURENT") and not duplicates.similar("Ada", "Bob")


async def test_a_hidden_record_cannot_be_edited(store):
    a = await store.create_customer(name="Kept One")
    b = await store.create_customer(name="Merged One")
    await merge.merge_customers(store, a, b, by="sup")
    with pytest.raises(StoreError):
        await customers_edit.edit(store, RULES, b, {"notes": "x"}, by="agent1")
