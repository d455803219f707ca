"""Customer 360 on the agent desktop, in headless Chromium against a real engine: search and open
a record, edit it with a per-field error then the history of the change, phones and e-mails,
create with a duplicate warning, link the current call from the desktop, and the screen-pop's
contacts on every channel."""

from __future__ import annotations

import dataclasses

from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from acd.routing.model import AgentState
from acd.sim import AgentBehaviour, CallerScript
from acd.store import contacts
from tests.browser.helpers import run, sign_in, text, until
from tests.http.conftest import TOKENS


def _type(browser, element_id: str, value: str) -> None:
    box = browser.find_element(By.ID, element_id)
    box.clear()
    box.send_keys(value)


def _click(browser, css: str) -> None:
    browser.find_element(By.CSS_SELECTOR, css).click()


async def _search(browser, q: str) -> None:
    await run(_type, browser, "cust-q", q)
    await run(_click, browser, "#cust-search-form button[type=submit]")


async def test_search_edit_with_a_field_error_and_the_history(browser, web_engine):
    engine, base = web_engine.engine, web_engine.base
    cid = await engine.customers.create_customer(name="Ada Lovelace", phones=["+442079460001"], account_number="A-1", by="import")
    await sign_in(browser, base, "agent", TOKENS["agent1"])
    await until(lambda: text(browser, "#state") == "ready")
    await _search(browser, "020 7946 0001")  # a phone in any format
    await until(lambda: "Ada Lovelace" in text(browser, "#cust-results"))
    assert "1 found" in text(browser, "#cust-search-status")
    await run(_click, browser, "#cust-results button")
    await until(lambda: text(browser, "#cust-record-title") == "Customer: Ada Lovelace")
    browser.shot("record")
    await run(_type, browser, "cf-language", "klingon")
    await run(_click, browser, "#cust-save")
    await until(lambda: "configured languages" in text(browser, "#cf-language-error"))
    assert browser.find_element(By.ID, "cf-language").get_attribute("aria-invalid") == "true"
    assert browser.execute_script("return document.activeElement.id") == "cf-language"
    browser.shot("field-error")
    assert (await engine.customers.get_customer(cid))["language"] is None  # nothing saved
    await run(_type, browser, "cf-language", "fr")
    await run(_type, browser, "cf-notes", "prefers letters")
    await run(_click, browser, "#cust-save")
    await until(lambda: "fr" in text(browser, "#cust-history") and "prefers letters" in text(browser, "#cust-history"))
    assert text(browser, "#cf-language-error") == ""
    first = text(browser, "#cust-history tr:first-child")
    assert "agent1" in first
    assert (await engine.customers.get_customer(cid))["language"] == "fr"
    await run(lambda: Select(browser.find_element(By.ID, "cp-kind")).select_by_value("email"))
    await run(_type, browser, "cp-value", "Ada@Example.org")
    await run(_click, browser, "#cp-preferred")
    await run(_click, browser, "#cust-point-form button")
    await until(lambda: "ada@example.org" in text(browser, "#cust-points") and "preferred" in text(browser, "#cust-points"))
    await run(_click, browser, "#cust-points button[aria-label='Remove +442079460001']")
    await until(lambda: "+442079460001" not in text(browser, "#cust-points"))
    await until(lambda: "+442079460001" in text(browser, "#cust-history"))  # the removed number is in the history
    browser.shot("history")
    assert (await engine.customers.get_customer(cid))["phones"] == []


async def test_create_warns_of_a_duplicate(browser, web_engine):
    engine, base = web_engine.engine, web_engine.base
    await engine.customers.create_customer(name="Grace Hopper", phones=["+447700900123"], by="import")
    await sign_in(browser, base, "agent", TOKENS["agent1"])
    await until(lambda: text(browser, "#state") == "ready")
    await run(_click, browser, "#cust-new")
    await until(lambda: text(browser, "#cust-record-title") == "New customer")
    await run(_type, browser, "cf-name", "Grace Hopper")
    await run(_type, browser, "cf-phones", "12")
    await run(_click, browser, "#cust-save")
    await until(lambda: "not a possible phone number" in text(browser, "#cf-phones-error"))
    await run(_type, browser, "cf-phones", "07700 900123")
    await run(_click, browser, "#cust-save")
    await until(lambda: "Possible duplicates" in text(browser, "#cust-warning"))
    assert "same phone" in text(browser, "#cust-warning")
    browser.shot("duplicate-warning")
    assert len(await engine.customers.find_by_phone("+447700900123")) == 2


async def test_link_the_current_call_and_the_pop_shows_contacts_on_every_channel(browser, web_engine):
    engine, base = web_engine.engine, web_engine.base
    cid = await engine.customers.create_customer(name="Mary Somerville", account_number="MS-1", by="import")
    await contacts.log_contact(engine.customers, cid, contacts.ContactInput("email", "outbound", engine.clock.now() - 600, "Your form"),
                               source="agent2")
    engine.acd.set_not_ready("agent2", "break")
    engine.core.queues["general"] = dataclasses.replace(engine.core.queues["general"], wrapup_s=120)
    engine.pbx.agents["agent1"] = AgentBehaviour(answer_after_s=0.3, talk_s=60)
    await sign_in(browser, base, "agent", TOKENS["agent1"])
    await until(lambda: text(browser, "#state") == "ready")
    call = await engine.pbx.place_call(CallerScript(caller_id="+447700900888", dnis="5551234", keys="1"))
    await until(lambda: engine.core.agents["agent1"].state == AgentState.ON_CALL, 20)
    await until(lambda: "unknown caller" in text(browser, "#pop-customer") and browser.find_element(By.ID, "pop-find-customer").is_displayed())
    await run(_click, browser, "#pop-find-customer")
    assert browser.execute_script("return document.activeElement.id") == "cust-q"
    await _search(browser, "MS-1")
    await until(lambda: "Mary Somerville" in text(browser, "#cust-results"))
    await run(_click, browser, "#cust-results button")
    await until(lambda: browser.find_element(By.ID, "cust-link").is_enabled())
    await run(_click, browser, "#cust-link")
    await until(lambda: "Mary Somerville" in text(browser, "#pop-customer"))
    await until(lambda: "Your form" in text(browser, "#pop-contacts") and "email" in text(browser, "#pop-contacts"))
    assert "linked" in text(browser, "#cust-search-status")
    browser.shot("linked")
    await engine.records.drain()
    assert (await engine.customers.interaction(call.uniqueid)).customer_id == cid
