"""Customer 360 over the API of a running engine (simulated PBX, SQLite store): search, create and
edit with per-field errors and history, contact points, contacts and their webhook on the
timeline, linking the agent's own call, merge and undo, the quality report, export and erasure
end to end, and the access audit."""

from __future__ import annotations

import json
from pathlib import Path

import aiohttp
import pytest

from acd.routing.model import AgentState
from acd.secrets import Secret, hash_secret
from acd.sim import AgentBehaviour, CallerScript
from tests.conftest import wait_until
from tests.http.conftest import Api, users_yaml
from tests.http.test_contract import logged

HOOK = "webhook.hook-secret-123"
HOOK_HASH = hash_secret(Secret(HOOK), n=2**10)


@pytest.fixture
async def capi(make_engine, tmp_path):
    (tmp_path / "users.yaml").write_text(users_yaml())
    engine = await make_engine(n_agents=2, engine_yaml=f"customers:\n  webhook_token_hash: '{HOOK_HASH}'\n  languages: [en, fr]\n")
    async with aiohttp.ClientSession() as session:
        yield Api(engine, session)


async def test_create_search_edit_and_history_from_the_desk(capi):
    status, body = await capi.call("POST", "/api/v1/customers", "agent1", json={
        "name": "Ada Lovelace", "phones": ["12"], "emails": "nope", "language": "xx", "owner_agent": "agent9", "pin": "1"})
    assert status == 422 and [p["field"] for p in body["problems"]] == ["phones", "emails", "language", "owner_agent", "pin"]
    assert body["field"] == "phones"
    status, body = await capi.call("POST", "/api/v1/customers", "agent1", json={
        "name": "Ada Lovelace", "phones": ["020 7946 0001"], "emails": ["Ada@Example.org"], "language": "en", "reason": "call X"})
    assert status == 201 and body["duplicates"] == [] and body["customer"]["phones"] == ["+442079460001"]
    cid = body["customer"]["customer_id"]
    status, dup = await capi.call("POST", "/api/v1/customers", "agent2", json={"name": "Ada Lovelace", "phones": "+442079460001"})
    assert status == 201 and dup["duplicates"][0]["customer_id"] == cid
    assert dup["duplicates"][0]["reasons"] == ["same phone", "similar name"]
    status, page = await capi.call("GET", "/api/v1/customers?q=0207%20946%200001", "agent1")
    assert status == 200 and page["total"] == 2 and {c["customer_id"] for c in page["customers"]} >= {cid}
    status, page = await capi.call("GET", "/api/v1/customers?q=ada&per_page=1&page=2", "agent1")
    assert page["total"] == 2 and len(page["customers"]) == 1 and page["pages"] == 2
    status, body = await capi.call("GET", "/api/v1/customers?q=a", "agent1")
    assert status == 422 and body["field"] == "q"
    status, body = await capi.call("PATCH", f"/api/v1/customers/{cid}", "agent1", json={"language": "fr", "notes": "prefers e-mail",
                                                                                         "reason": "call Y"})
    assert status == 200 and body["customer"]["language"] == "fr"
    status, body = await capi.call("PATCH", f"/api/v1/customers/{cid}", "agent1", json={"name": ""})
    assert status == 422 and body["field"] == "name"
    status, body = await capi.call("PATCH", f"/api/v1/customers/{cid}", "agent1", json={"colour": "red"})
    assert status == 422 and body["field"] == "colour"
    status, body = await capi.call("GET", f"/api/v1/customers/{cid}/revisions", "agent1")
    changes = [(r["field"], r["old"], r["new"], r["by"]) for r in body["revisions"]]
    assert ("language", "en", "fr", "agent1 (call Y)") in changes and changes[0][0] == "created"


async def test_contact_points_contacts_and_the_webhook_on_one_timeline(capi):
    engine = capi.engine
    cid = await engine.customers.create_customer(name="Mary Somerville", phones=["+447700900010"], account_number="MS-1")
    base = f"/api/v1/customers/{cid}"
    status, body = await capi.call("POST", base + "/contact-points", "agent1", json={"kind": "phone", "value": "07700 900011", "preferred": True})
    assert status == 201 and [c for c in body["contacts"] if c["preferred"]] == [{"kind": "phone", "value": "+447700900011", "preferred": True}]
    status, body = await capi.call("PUT", base + "/contact-points/phone/+447700900010/preferred", "agent1")
    assert status == 200 and [c["value"] for c in body["contacts"] if c["preferred"]] == ["+447700900010"]
    status, body = await capi.call("DELETE", base + "/contact-points/phone/+447700900011", "agent1")
    assert status == 200 and body["phones"] == ["+447700900010"]
    status, body = await capi.call("POST", base + "/contact-points", "agent1", json={"kind": "email", "value": "bad"})
    assert status == 422 and body["field"] == "value"
    status, body = await capi.call("POST", base + "/contacts", "agent1", json={"channel": "email", "direction": "outbound",
                                                                             "subject": "Form", "summary": "sent it"})
    assert status == 201 and body["agent"] == "agent1" and body["source"] == "agent1"
    status, body = await capi.call("POST", base + "/contacts", "agent1", json={"channel": "email", "agent": "agent2"})
    assert status == 403  # an agent logs contacts as itself
    status, body = await capi.call("POST", base + "/contacts", "agent1", json={"channel": "pigeon"})
    assert status == 422 and body["field"] == "channel"
    hook = {"channel": "sms", "phone": "07700 900010", "summary": "delivery confirmed", "at": engine.clock.now() - 30}
    for token, expect in (("wrong", 401), (None, 401)):
        status, _ = await capi.call("POST", "/api/v1/webhooks/contacts", raw_token=token, json=hook)
        assert status == expect
    status, body = await capi.call("POST", "/api/v1/webhooks/contacts", raw_token=HOOK, json=hook)
    assert status == 201 and body["customer_id"] == cid and body["source"] == "webhook"
    status, body = await capi.call("POST", "/api/v1/webhooks/contacts", raw_token=HOOK, json={"channel": "letter", "account_number": "MS-1"})
    assert status == 201 and body["customer_id"] == cid
    status, body = await capi.call("POST", "/api/v1/webhooks/contacts", raw_token=HOOK, json={"channel": "letter", "phone": "+447700900999"})
    assert status == 404
    status, body = await capi.call("GET", base + "/timeline", "sup")
    assert [p["channel"] for p in body["touchpoints"]] == ["sms", "email", "letter"]
    status, body = await capi.call("GET", base + "/contacts", "agent1")
    assert len(body["contacts"]) == 3
    status, body = await capi.call("GET", "/api/v1/reports?by=channel", "sup")
    counts = {r["channel"]: (r["inbound"], r["outbound"]) for r in body["rows"]}
    assert counts["email"] == (0, 1) and counts["sms"] == (1, 0) and counts["letter"] == (1, 0) and counts["call"] == (0, 0)


async def test_an_agent_links_its_own_call_and_the_pop_shows_the_customer(capi):
    engine = capi.engine
    engine.acd.set_not_ready("agent2", "break")
    engine.pbx.agents["agent1"] = AgentBehaviour(answer_after_s=0.2, talk_s=30)
    cid = await engine.customers.create_customer(name="Walk-in Caller", by="test")
    await engine.customers.create_customer(name="Other Person", by="test")
    status, body = await capi.call("POST", "/api/v1/agents/agent1/link", "agent1", json={"customer_id": cid})
    assert status == 409  # no call yet
    call = await engine.pbx.place_call(CallerScript(caller_id="+447700900444"))
    await wait_until(lambda: engine.core.agents["agent1"].state == AgentState.ON_CALL, 15)
    status, work = await capi.call("GET", "/api/v1/agents/agent1/work", "agent1")
    assert work["call"]["customer"] is None
    status, _ = await capi.call("POST", "/api/v1/agents/agent1/link", "agent2", json={"customer_id": cid})
    assert status == 403  # not agent2's call
    status, body = await capi.call("POST", "/api/v1/agents/agent1/link", "agent1", json={"customer_id": "nope"})
    assert status == 404
    status, body = await capi.call("POST", "/api/v1/agents/agent1/link", "agent1", json={"customer_id": cid})
    assert status == 200 and body == {"call_id": call.uniqueid, "customer_id": cid}
    status, work = await capi.call("GET", "/api/v1/agents/agent1/work", "agent1")
    assert work["call"]["customer"]["customer_id"] == cid and work["call"]["recent_contacts"] == []
    await engine.records.drain()
    assert (await engine.customers.interaction(call.uniqueid)).customer_id == cid
    revisions = await engine.customers.revisions(cid)
    assert (revisions[-1]["field"], revisions[-1]["new"], revisions[-1]["by"]) == ("interaction_linked", call.uniqueid, "agent1")


async def test_merge_undo_and_quality_over_the_api(capi):
    engine = capi.engine
    a = await engine.customers.create_customer(name="Jon Smith", phones=["+447700900040"])
    b = await engine.customers.create_customer(name="John Smith", phones=["+447700900040", "+447700900041"], segment="gold")
    status, body = await capi.call("GET", "/api/v1/quality/customers", "sup")
    assert status == 200 and body["duplicates"][0]["reasons"] == ["same phone", "similar name"]
    status, body = await capi.call("GET", f"/api/v1/customers/{a}/duplicates", "sup")
    assert [d["customer_id"] for d in body["duplicates"]] == [b]
    status, merged = await capi.call("POST", f"/api/v1/customers/{a}/merge", "sup", json={"merged_id": b})
    assert status == 200 and merged["moved"]["contact_points"] == 1
    status, body = await capi.call("GET", "/api/v1/customers?q=john", "agent1")
    assert body["total"] == 0  # the merged record is not found any more
    status, body = await capi.call("POST", f"/api/v1/customers/{a}/merge", "sup", json={"merged_id": b})
    assert status == 409
    status, body = await capi.call("POST", f"/api/v1/merges/{merged['merge_id']}/undo", "sup")
    assert status == 200 and body["undone_by"] == "sup"
    status, body = await capi.call("GET", f"/api/v1/customers/{b}", "sup")
    assert body["segment"] == "gold" and body["merged_into"] is None and body["phones"] == ["+447700900040", "+447700900041"]


async def test_export_then_erasure_end_to_end(capi, tmp_path):
    from acd.store.dataio import from_xml

    engine = capi.engine
    engine.acd.set_not_ready("agent2", "break")
    engine.pbx.agents["agent1"] = AgentBehaviour(answer_after_s=0.2, talk_s=0.5)
    cid = await engine.customers.create_customer(name="Erin Erased", phones=["+447700900777"], notes="likes cats", by="test")
    call = await engine.pbx.place_call(CallerScript(caller_id="+447700900777"))
    await call.finished(20)
    await wait_until(lambda: engine.core.agents["agent1"].state != AgentState.ON_CALL, 15)
    await engine.records.drain()
    await capi.call("POST", f"/api/v1/customers/{cid}/contacts", "sup", json={"channel": "chat", "summary": "Erin asked about cats"})
    status, text = await capi.call("GET", f"/api/v1/customers/{cid}/export?format=xml&reason=SAR-1", "sup")
    exported = from_xml(text)
    assert exported["customer"]["name"] == "Erin Erased" and [i["call_id"] for i in exported["interactions"]] == [call.uniqueid]
    assert exported["contacts"][0]["summary"] == "Erin asked about cats"
    status, body = await capi.call("POST", f"/api/v1/customers/{cid}/erase", "sup", json={"reason": "erasure request 7"})
    assert status == 403
    status, body = await capi.call("POST", f"/api/v1/customers/{cid}/erase", "admin", json={"reason": "erasure request 7"})
    assert status == 200 and body["counts"]["interactions"] == 1 and body["counts"]["contacts"] == 1
    assert body["counts"]["spool_lines"] >= 1
    assert (await capi.call("GET", f"/api/v1/customers/{cid}", "sup"))[0] == 404
    assert (await capi.call("GET", f"/api/v1/customers/{cid}/export", "sup"))[0] == 404
    status, rec = await capi.call("GET", f"/api/v1/interactions/{call.uniqueid}", "sup")
    assert rec["agent"] == "agent1" and rec["outcome"] == "answered" and rec["customer_id"] is None  # the figures stay
    everything = json.dumps(rec) + "".join(p.read_text() for p in Path(engine.settings.database.spool_dir).glob("*.jsonl"))
    everything += json.dumps(await engine.customers.attempts())
    for personal in ("7700900777", "Erin", "cats", cid):
        assert personal not in everything, personal
    status, body = await capi.call("GET", f"/api/v1/customers/{cid}/access", "sup")
    assert [(a["action"], a["reason"]) for a in body["access"]][:2] == [("erase", "erasure request 7"), ("export", "SAR-1")]
    status, report = await capi.call("GET", "/api/v1/reports?by=queue", "sup")
    assert sum(r["answered"] for r in report["rows"]) == 1  # the anonymous figures remain


async def test_the_webhook_token_is_kept_as_a_hash_and_checked_like_users_tokens(capi, tmp_path, caplog):
    from acd.http.api import SIGNIN
    from acd.http.webhooktoken import new_webhook_token
    from acd.secrets import verify_secret
    from acd.settings import ConfigError, load_settings

    guard = capi.engine.http_app[SIGNIN]
    cid = await capi.engine.customers.create_customer(name="Hook Target", account_number="HK-1")
    hook = {"channel": "letter", "customer_id": cid}
    before = guard.kdf_runs
    status, _ = await capi.call("POST", "/api/v1/webhooks/contacts", raw_token="not-a-webhook-token", json=hook)
    assert status == 401 and guard.kdf_runs == before  # the wrong shape costs no KDF
    status, _ = await capi.call("POST", "/api/v1/webhooks/contacts", raw_token="webhook.wrong", json=hook)
    assert status == 401 and guard.kdf_runs == before + 1
    status, _ = await capi.call("POST", "/api/v1/webhooks/contacts", raw_token=HOOK, json=hook)
    assert status == 201 and guard.kdf_runs <= before + 2  # the good token: one KDF at most (none if seen before)
    verified = guard.kdf_runs
    for _ in range(2):
        status, _ = await capi.call("POST", "/api/v1/webhooks/contacts", raw_token=HOOK, json=hook)
        assert status == 201
    assert guard.kdf_runs == verified  # then remembered
    assert not [line for line in logged(caplog) if "hook-secret" in line]
    token, digest = new_webhook_token()
    assert token.startswith("webhook.") and digest.startswith("scrypt$") and token not in digest
    assert verify_secret(Secret(token), digest) and not verify_secret(Secret(token + "x"), digest)
    (tmp_path / "cfg").mkdir()
    (tmp_path / "cfg" / "engine.yaml").write_text("customers:\n  webhook_token_hash: plain-secret\n")
    with pytest.raises(ConfigError) as exc:
        load_settings(tmp_path / "cfg", environ={})
    assert "webhook_token_hash" in str(exc.value) and "plain-secret" not in str(exc.value)
    (tmp_path / "cfg" / "engine.yaml").write_text("customers:\n  webhook_token: plain-secret\n")
    with pytest.raises(ConfigError, match="unknown key"):
        load_settings(tmp_path / "cfg", environ={})


async def test_a_leaked_webhook_token_is_replaced_by_a_config_reload_without_a_restart(capi, tmp_path):
    cid = await capi.engine.customers.create_customer(name="Hook Rotation", account_number="HK-2")
    hook = {"channel": "letter", "customer_id": cid}
    engine_yaml = tmp_path / "engine.yaml"
    started = engine_yaml.read_text()
    new_token = "webhook.the-new-one-456"
    engine_yaml.write_text(started.replace(HOOK_HASH, hash_secret(Secret(new_token), n=2**10)))
    status, body = await capi.call("POST", "/api/v1/config/reload", "admin")
    assert status == 200 and "customers.webhook_token_hash" in body["applied"] and body["needs_restart"] == []
    status, _ = await capi.call("POST", "/api/v1/webhooks/contacts", raw_token=HOOK, json=hook)
    assert status == 401  # the old token, though verified and remembered before, is refused at once
    status, _ = await capi.call("POST", "/api/v1/webhooks/contacts", raw_token=new_token, json=hook)
    assert status == 201
    engine_yaml.write_text(started.replace(HOOK_HASH, "plain-secret"))  # refused: the running hash keeps serving
    status, body = await capi.call("POST", "/api/v1/config/reload", "admin")
    assert status == 422 and any("engine.yaml" in e and "webhook_token_hash" in e for e in body["errors"])
    status, _ = await capi.call("POST", "/api/v1/webhooks/contacts", raw_token=new_token, json=hook)
    assert status == 201
    engine_yaml.write_text(started.replace(f"webhook_token_hash: '{HOOK_HASH}'", "webhook_token_hash: ''")
                           .replace("spool_dir:", "spool_dir: " + str(tmp_path / "elsewhere") + "\n  #"))
    status, body = await capi.call("POST", "/api/v1/config/reload", "admin")
    assert status == 200 and "customers.webhook_token_hash" in body["applied"]
    assert body["needs_restart"] == ["engine.yaml: database changed"]  # what cannot change live is said, not applied
    status, _ = await capi.call("POST", "/api/v1/webhooks/contacts", raw_token=new_token, json=hook)
    assert status == 404  # an empty hash turns the webhook off


async def test_the_webhook_finds_the_exact_email_among_near_duplicates_and_a_phone_in_any_format(capi):
    engine = capi.engine
    for i, near in enumerate(("joann@example.org", "ann@example.org.uk", "xann@example.org", "ann@example.orgs")):
        await engine.customers.create_customer(name=f"Aa Near {i}", emails=[near], by="test")  # found first by name
    exact = await engine.customers.create_customer(name="Ann Exact", emails=["Ann@Example.org"], phones=["+447700900020"], by="test")
    for given in ("ann@example.org", " ANN@example.ORG "):  # hidden behind near-duplicates by a substring search; any case
        status, body = await capi.call("POST", "/api/v1/webhooks/contacts", raw_token=HOOK, json={"channel": "email", "email": given})
        assert status == 201 and body["customer_id"] == exact, given
    status, body = await capi.call("POST", "/api/v1/webhooks/contacts", raw_token=HOOK, json={"channel": "sms", "phone": "07700 900 020"})
    assert status == 201 and body["customer_id"] == exact
    status, _ = await capi.call("POST", "/api/v1/webhooks/contacts", raw_token=HOOK, json={"channel": "email", "email": "nn@example.org"})
    assert status == 404  # part of an address names nobody
    await engine.customers.create_customer(name="Ann Twin", emails=["ann@example.org"], by="test")
    status, _ = await capi.call("POST", "/api/v1/webhooks/contacts", raw_token=HOOK, json={"channel": "email", "email": "ann@example.org"})
    assert status == 409


async def test_the_screen_pops_recent_contacts_are_one_timeline_with_the_calls_newest_first(capi):
    from acd.store import contacts

    engine = capi.engine
    engine.acd.set_not_ready("agent2", "break")
    cid = await engine.customers.create_customer(name="Timeline Person", by="test")
    await contacts.log_contact(engine.customers, cid, contacts.ContactInput("letter", "inbound", engine.clock.now() - 7200, "Old letter"),
                               source="test")
    engine.pbx.agents["agent1"] = AgentBehaviour(answer_after_s=0.2, talk_s=2)
    first = await engine.pbx.place_call(CallerScript(caller_id="+447700900461"))
    await wait_until(lambda: engine.core.agents["agent1"].state == AgentState.ON_CALL, 15)
    assert (await capi.call("POST", "/api/v1/agents/agent1/link", "agent1", json={"customer_id": cid}))[0] == 200
    await first.finished(20)
    await wait_until(lambda: not engine.core.calls and engine.core.agents["agent1"].state == AgentState.READY, 15)
    await engine.records.drain()
    await contacts.log_contact(engine.customers, cid, contacts.ContactInput("email", "outbound", engine.clock.now(), "Follow-up mail"),
                               source="test")
    engine.pbx.agents["agent1"] = AgentBehaviour(answer_after_s=0.2, talk_s=30)
    await engine.pbx.place_call(CallerScript(caller_id="+447700900461"))
    await wait_until(lambda: engine.core.agents["agent1"].state == AgentState.ON_CALL, 15)
    assert (await capi.call("POST", "/api/v1/agents/agent1/link", "agent1", json={"customer_id": cid}))[0] == 200
    status, work = await capi.call("GET", "/api/v1/agents/agent1/work", "agent1")
    recent = work["call"]["recent_contacts"]
    assert [c["channel"] for c in recent] == ["email", "call", "letter"]  # every channel, calls included, newest first
    assert recent[1]["call_id"] == first.uniqueid and recent[1]["direction"] == "inbound" and recent[1]["agent"] == "agent1"
