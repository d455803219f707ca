"""The agent desktop beyond the happy path, in headless Chromium: the token survives a reload
(sessionStorage) until sign-out, a token that stops working signs the page out, the page is
usable from the keyboard alone with every control labelled, and a ringing offer pops at once with
a locked verification flagged and announced to screen readers."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select

from acd.sim import AgentBehaviour, CallerScript
from tests.browser.helpers import drop_streams, run, sign_in, text, until
from tests.conftest import QUEUES
from tests.http.conftest import TOKENS, Api, users_yaml

FLOWS = Path(__file__).resolve().parents[2] / "ivr_flows"

# Every visible form control must have a name a screen reader can read: a <label for>, an
# aria-label or aria-labelledby; buttons their text. Returns the ids (or tags) of those without.
UNLABELLED = """
const out = [];
for (const c of document.querySelectorAll('input, select, textarea, button')) {
  if (c.offsetParent === null) continue;
  const named = (c.labels && c.labels.length) || c.getAttribute('aria-label') || c.getAttribute('aria-labelledby')
    || (c.tagName === 'BUTTON' && c.textContent.trim());
  if (!named) out.push(c.id || c.tagName);
}
return out;
"""


def active_id(browser) -> str:
    return browser.execute_script("return document.activeElement && document.activeElement.id")


async def test_the_token_survives_a_reload_until_sign_out(browser, web_engine):
    base = web_engine.base
    await sign_in(browser, base, "agent", TOKENS["agent1"])
    await until(lambda: text(browser, "#state") == "ready")
    await run(browser.refresh)  # same tab: sessionStorage keeps the token, no prompt
    await until(lambda: text(browser, "#state") == "ready" and not browser.find_element(By.ID, "signin").is_displayed())
    assert "Agent1" in text(browser, "#who")
    await run(lambda: browser.find_element(By.ID, "signout").click())
    await until(lambda: browser.find_element(By.ID, "token").is_displayed())
    assert browser.execute_script("return sessionStorage.getItem('acd.token')") is None
    assert active_id(browser) == "token"
    await run(browser.refresh)
    await until(lambda: browser.find_element(By.ID, "token").is_displayed())
    browser.shot("signed-out")


async def test_an_agent_token_is_refused_on_the_wallboard(browser, web_engine):
    await sign_in(browser, web_engine.base, "wallboard", TOKENS["agent1"])
    await until(lambda: "supervisor" in text(browser, "#signin-error"))
    browser.shot("wallboard-refuses-agent")


async def test_a_token_that_stops_working_signs_the_page_out(browser, web_engine, tmp_path):
    engine, base = web_engine.engine, web_engine.base
    await sign_in(browser, base, "agent", TOKENS["agent1"])
    await until(lambda: text(browser, "#state") == "ready")
    await until(lambda: engine.bus.subscribers == 1)
    # agent1 is removed from the users file and the configuration reloaded: the token is dead
    (tmp_path / "users.yaml").write_text("\n".join(l for l in users_yaml().splitlines() if "id: agent1," not in l) + "\n")
    status, body = await web_engine.call("POST", "/api/v1/config/reload", "admin")
    assert status == 200, body
    await drop_streams(engine)
    await until(lambda: "session ended" in text(browser, "#signin-error"), 20)
    browser.shot("session-ended")
    assert browser.find_element(By.ID, "token").is_displayed() and not browser.find_element(By.ID, "desk").is_displayed()


async def test_the_desktop_works_from_the_keyboard_and_every_control_is_labelled(browser, web_engine):
    engine, base = web_engine.engine, web_engine.base
    await run(browser.get, f"{base}/agent")
    assert await run(browser.execute_script, UNLABELLED) == []
    await run(lambda: browser.find_element(By.ID, "token").send_keys(TOKENS["agent1"] + Keys.ENTER))
    await until(lambda: text(browser, "#state") == "ready")
    await until(lambda: active_id(browser) == "desk-title")  # focus moves to the desk after sign-in
    assert await run(browser.execute_script, UNLABELLED) == []

    async def tab_to(element_id: str, limit: int = 10) -> None:
        for _ in range(limit):
            await run(lambda: browser.switch_to.active_element.send_keys(Keys.TAB))
            if await run(active_id, browser) == element_id:
                return
        raise AssertionError(f"Tab never reached #{element_id}")

    await tab_to("reason-pick")  # Ready is disabled while ready: Tab skips it
    await run(lambda: Select(browser.find_element(By.ID, "reason-pick")).select_by_value("meeting"))
    await tab_to("btn-not-ready")
    await run(lambda: browser.switch_to.active_element.send_keys(Keys.ENTER))
    await until(lambda: text(browser, "#state") == "not ready" and "meeting" in text(browser, "#reason"))
    assert engine.core.agents["agent1"].reason == "meeting"
    await until(lambda: browser.find_element(By.ID, "btn-ready").is_enabled())
    await run(lambda: browser.find_element(By.ID, "desk-title").click())
    await tab_to("btn-ready")
    await run(lambda: browser.switch_to.active_element.send_keys(Keys.SPACE))
    await until(lambda: text(browser, "#state") == "ready")
    browser.shot("keyboard")


@pytest.fixture
async def security_engine(make_engine, tmp_path):
    """agent1 also handles the security queue, where the demo line sends locked callers."""
    (tmp_path / "users.yaml").write_text(users_yaml())
    queues = QUEUES + "  - {name: security, skills: {security: 2}, ring_timeout_s: 30, wrapup_s: 0.3, moh_slice_s: 2, announce_position: false}\n"
    agents = ("agents:\n"
              "  - {id: agent1, name: Agent 1, endpoint: PJSIP/agent1, skills: {general: 5, security: 3}, auto_ready: true}\n"
              "  - {id: agent2, name: Agent 2, endpoint: PJSIP/agent2, skills: {general: 4}, auto_ready: true}\n")
    engine = await make_engine(queues=queues, agents=agents,
                               engine_yaml=f"flows:\n  directory: {FLOWS}\n  default_flow: demo_line\n")
    async with aiohttp.ClientSession() as session:
        yield Api(engine, session)


async def test_a_ringing_offer_pops_at_once_with_a_locked_verification_flagged(browser, security_engine):
    engine, base = security_engine.engine, security_engine.base
    caller = "+447700900104"
    cid = await engine.customers.create_customer(name="Omar Haddad", phones=[caller], account_number="10000104", by="test")
    for n in range(3):  # three wrong PINs on earlier calls: the account is locked
        await engine.customers.record_attempt(customer_id=cid, caller_number=caller, method="pin", result="failed", call_id=f"earlier-{n}")
    engine.pbx.agents["agent1"] = AgentBehaviour(answer_after_s=None)  # rings and rings: we look at the offer
    await sign_in(browser, base, "agent", TOKENS["agent1"])
    await until(lambda: text(browser, "#state") == "ready")
    await engine.pbx.place_call(CallerScript(caller_id=caller, dnis="5551234", keys=""))
    await until(lambda: text(browser, "#pop-title") == "Incoming call" and "Omar Haddad" in text(browser, "#pop-customer"), 20)
    browser.shot("offer-locked")
    assert text(browser, "#state") in ("reserved", "ringing")
    assert "verification locked" in text(browser, "#pop-verification")
    assert text(browser, "#pop-queue") == "security" and "10000104" in text(browser, "#pop-account")
    announced = browser.find_element(By.ID, "announce")
    assert announced.get_attribute("aria-live") == "assertive"
    assert "Incoming call: Omar Haddad" in announced.get_attribute("textContent")
    assert "verification locked" in announced.get_attribute("textContent")
    assert browser.find_element(By.ID, "pop").get_attribute("aria-live") == "polite"


async def test_wrap_up_takes_focus_asks_for_a_disposition_and_can_be_extended(browser, web_engine):
    import dataclasses

    engine, base = web_engine.engine, web_engine.base
    engine.acd.set_not_ready("agent2", "break")
    engine.acd.apply_config((dataclasses.replace(engine.core.queues["general"], wrapup_s=120),), ())
    engine.pbx.agents["agent1"] = AgentBehaviour(answer_after_s=0.3, talk_s=1.0)
    await sign_in(browser, base, "agent", TOKENS["agent1"])
    await until(lambda: text(browser, "#state") == "ready")
    call = await engine.pbx.place_call(CallerScript(caller_id="+447700900888", dnis="5551234", keys="1"))
    await until(lambda: text(browser, "#state") == "wrap up", 20)
    await until(lambda: active_id(browser) == "disposition")  # the one thing left to do has the focus
    assert "unknown caller" in text(browser, "#pop-customer")  # the last call stays in view
    await run(lambda: browser.find_element(By.ID, "btn-extend").click())
    await until(lambda: any(e["kind"] == "wrapup_extended" and e["seconds"] == 60 for e in engine.calllog.timeline(call.uniqueid)))
    await run(lambda: browser.find_element(By.CSS_SELECTOR, "#wrapup-form button[type=submit]").click())
    invalid = await run(browser.execute_script, "return document.getElementById('disposition').validity.valueMissing")
    assert invalid and engine.core.agents["agent1"].state.value == "wrap_up"  # no disposition: not sent
    browser.shot("disposition-required")
    await run(lambda: Select(browser.find_element(By.ID, "disposition")).select_by_value("follow_up"))
    await run(lambda: browser.find_element(By.CSS_SELECTOR, "#wrapup-form button[type=submit]").click())
    await until(lambda: text(browser, "#state") == "ready" and not browser.find_element(By.ID, "pop").is_displayed())
    assert active_id(browser) == "desk-title"


async def test_log_out_and_back_in_from_the_desktop(browser, web_engine):
    engine, base = web_engine.engine, web_engine.base
    await sign_in(browser, base, "agent", TOKENS["agent1"])
    await until(lambda: text(browser, "#state") == "ready")
    await run(lambda: browser.find_element(By.ID, "btn-logout").click())
    await until(lambda: text(browser, "#state") == "logged out")
    assert engine.core.agents["agent1"].state.value == "logged_out"
    assert not browser.find_element(By.ID, "btn-logout").is_enabled() and not browser.find_element(By.ID, "btn-not-ready").is_enabled()
    browser.shot("logged-out")
    await run(lambda: browser.find_element(By.ID, "btn-ready").click())  # Ready logs back in
    await until(lambda: text(browser, "#state") == "ready")
    assert engine.core.agents["agent1"].state.value == "ready"
