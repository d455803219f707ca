"""The agent desktop and the wallboard in headless Chromium: sign in with a token, pause with a
reason and see it on the wallboard live, an incoming call pops the customer and the verification,
the wrap-up form closes the call with a disposition, the stream catches up after a reconnect, and
a caller waiting then answered shows on the wallboard as it happens."""

from __future__ import annotations

import asyncio

from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from acd.routing.model import AgentState
from acd.secrets import Secret
from acd.sim import AgentBehaviour, CallerScript
from tests.browser.helpers import drop_streams, sign_in, text, until
from tests.http.conftest import TOKENS


async def test_a_wrong_token_is_refused(browser, web_engine):
    await sign_in(browser, web_engine.base, "agent", "not-a-token")
    await until(lambda: "Sign-in failed" in text(browser, "#signin-error"))
    browser.shot("refused")


async def test_pause_on_the_desktop_shows_live_on_the_wallboard(browser, web_engine):
    base = web_engine.base
    await sign_in(browser, base, "wallboard", TOKENS["sup"])
    await until(lambda: "ready" in text(browser, "tr[data-agent=agent1]"))
    wallboard = browser.current_window_handle
    await asyncio.to_thread(browser.switch_to.new_window, "tab")
    await sign_in(browser, base, "agent", TOKENS["agent1"])
    await until(lambda: text(browser, "#state") == "ready")
    await asyncio.to_thread(lambda: Select(browser.find_element(By.ID, "reason-pick")).select_by_value("lunch"))
    await asyncio.to_thread(lambda: browser.find_element(By.ID, "btn-not-ready").click())
    await until(lambda: text(browser, "#state") == "not ready" and "lunch" in text(browser, "#reason"))
    browser.shot("agent-on-lunch")
    assert web_engine.engine.core.agents["agent1"].reason == "lunch"
    await asyncio.to_thread(browser.switch_to.window, wallboard)
    await until(lambda: "not ready – lunch" in text(browser, "tr[data-agent=agent1]"))  # live, no reload
    browser.shot("wallboard-shows-lunch")


async def test_a_call_pops_on_the_desktop_and_the_wrap_up_form_closes_it(browser, web_engine):
    engine, base = web_engine.engine, web_engine.base
    cid = await engine.customers.create_customer(name="Chloé Martin", phones=["+447700900103"], account_number="10000103", vip=True, by="test")
    await engine.customers.set_secret(cid, "pin", Secret("8642"), by="test")
    engine.acd.set_not_ready("agent2", "break")
    engine.acd.apply_config((__import__("dataclasses").replace(engine.core.queues["general"], wrapup_s=120),), ())
    engine.pbx.agents["agent1"] = AgentBehaviour(answer_after_s=0.6, talk_s=2.0)
    await sign_in(browser, base, "agent", TOKENS["agent1"])
    await until(lambda: text(browser, "#state") == "ready")
    await engine.pbx.place_call(CallerScript(caller_id="+447700900103", dnis="5551234", keys="8642#,1"))
    await until(lambda: "Chloé Martin" in text(browser, "#pop-customer"), 20)
    browser.shot("screen-pop")  # offered (ringing) or already on the call
    assert "VIP" in text(browser, "#pop-customer") and "10000103" in text(browser, "#pop-account")
    assert "verified" in text(browser, "#pop-verification") and "pin" in text(browser, "#pop-verification")
    assert "verify (verify_pin) → ok" in text(browser, "#pop-path") and "8642" not in browser.page_source
    await until(lambda: text(browser, "#state") == "wrap up", 20)
    browser.shot("wrap-up")
    await asyncio.to_thread(browser.refresh)  # a reloaded desktop still shows the call being wrapped up
    await until(lambda: text(browser, "#state") == "wrap up" and "Chloé Martin" in text(browser, "#pop-customer"), 20)
    assert text(browser, "#pop-title") == "Last call (wrap-up)"
    browser.shot("wrap-up-after-reload")
    await asyncio.to_thread(lambda: Select(browser.find_element(By.ID, "disposition")).select_by_value("resolved"))
    await asyncio.to_thread(lambda: browser.find_element(By.ID, "notes").send_keys("card reissued"))
    await asyncio.to_thread(lambda: browser.find_element(By.CSS_SELECTOR, "#wrapup-form button").click())
    await until(lambda: text(browser, "#state") == "ready")
    await engine.records.drain()
    [rec] = await engine.customers.search_interactions(customer_id=cid)
    assert (rec.disposition, rec.notes, rec.agent) == ("resolved", "card reissued", "agent1")


async def test_the_wallboard_catches_up_after_the_stream_drops(browser, web_engine):
    engine, base = web_engine.engine, web_engine.base
    await sign_in(browser, base, "wallboard", TOKENS["sup"])
    await until(lambda: "ready" in text(browser, "tr[data-agent=agent2]"))
    await until(lambda: engine.bus.subscribers == 1)
    await drop_streams(engine)  # the connection drops ...
    engine.acd.set_not_ready("agent2", "training")  # ... and this is published before the page is back
    await until(lambda: "training" in text(browser, "tr[data-agent=agent2]"), 20)
    browser.shot("caught-up")
    assert engine.core.agents["agent2"].state == AgentState.NOT_READY


async def test_the_wallboard_shows_a_caller_waiting_and_answered_live(browser, web_engine):
    engine, base = web_engine.engine, web_engine.base
    engine.acd.set_not_ready("agent1", "break")
    engine.acd.set_not_ready("agent2", "break")
    engine.pbx.agents["agent2"] = AgentBehaviour(answer_after_s=0.3, talk_s=None)
    await sign_in(browser, base, "wallboard", TOKENS["sup"])
    await until(lambda: text(browser, "tr[data-queue=general] .waiting") == "0")
    assert "not ready: 2" in text(browser, "#state-counts")
    await engine.pbx.place_call(CallerScript(caller_id="+447700900777", dnis="5551234", keys="1"))
    await until(lambda: text(browser, "tr[data-queue=general] .waiting") == "1", 20)  # live, no reload
    longest = "tr[data-queue=general] .longest"
    first = int(browser.find_element(By.CSS_SELECTOR, longest).get_attribute("data-s"))
    await until(lambda: int(browser.find_element(By.CSS_SELECTOR, longest).get_attribute("data-s")) >= first + 2, 10)
    browser.shot("caller-waiting")
    engine.acd.set_ready("agent2")
    await until(lambda: text(browser, "tr[data-queue=general] .waiting") == "0"
                and text(browser, "tr[data-queue=general] .answered") == "1"
                and "on call" in text(browser, "tr[data-agent=agent2]"), 20)
    assert "on call: 1" in text(browser, "#state-counts")
    # agents by state: the agent on the call comes before the one on a break, whatever the names
    rows = browser.find_elements(By.CSS_SELECTOR, "#agents tbody tr")
    assert [r.get_attribute("data-agent") for r in rows] == ["agent2", "agent1"]
    browser.shot("caller-answered")
