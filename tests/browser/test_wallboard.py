"""The wallboard in headless Chromium: service-level colours from the queue's thresholds, every
agent state shown even at 0, the clock and "updated" time, and kiosk mode (a link with a
read-only token, no sign-in after the browser comes back, large type)."""

from __future__ import annotations

import dataclasses

from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from acd.routing.model import AgentState
from acd.sim import AgentBehaviour, CallerScript
from tests.browser.helpers import run, sign_in, text, until
from tests.http.conftest import TOKENS


def _colour(browser) -> str:
    return browser.find_element(By.CSS_SELECTOR, "tr[data-queue=general] .sl").get_attribute("data-colour")


async def test_service_level_colour_follows_the_queue_thresholds(browser, web_engine):
    engine, base = web_engine.engine, web_engine.base
    engine.acd.set_not_ready("agent2", "break")
    engine.pbx.agents["agent1"] = AgentBehaviour(answer_after_s=0.3, talk_s=0.5)
    await sign_in(browser, base, "wallboard", TOKENS["sup"])
    await until(lambda: text(browser, "tr[data-queue=general] .offered") == "0")
    assert _colour(browser) == "none" and text(browser, "tr[data-queue=general] .sl") == "–"  # no call: no service level yet
    counts = text(browser, "#state-counts")
    for state in ("ringing: 0", "reserved: 0", "on call: 0", "wrap up: 0", "ready: 1", "not ready: 1", "logged out: 0"):
        assert state in counts
    assert text(browser, "#clock") and text(browser, "#updated").startswith("updated ")
    await engine.pbx.place_call(CallerScript(caller_id="+447700900402", dnis="5551234", keys="1"))
    await until(lambda: text(browser, "tr[data-queue=general] .answered") == "1" and _colour(browser) == "green", 30)
    assert text(browser, "tr[data-queue=general] .sl") == "100.0 %"
    assert "sl-green" in browser.find_element(By.CSS_SELECTOR, "tr[data-queue=general] .sl").get_attribute("class")
    browser.shot("green")
    general = engine.core.queues["general"]
    engine.acd.apply_config((dataclasses.replace(general, sl_green=1.5, sl_amber=0.9),), ())  # 100 % is now only amber
    await until(lambda: _colour(browser) == "amber", 15)
    browser.shot("amber")
    engine.acd.apply_config((dataclasses.replace(general, sl_green=1.5, sl_amber=1.2),), ())
    await until(lambda: _colour(browser) == "red", 15)
    browser.shot("red")


async def test_kiosk_link_needs_no_sign_in_after_a_restart_and_shows_large_type(browser, web_engine):
    engine, base = web_engine.engine, web_engine.base
    await run(browser.get, f"{base}/wallboard#kiosk={TOKENS['kiosk']}")
    await until(lambda: "ready" in text(browser, "tr[data-agent=agent1]"))
    assert TOKENS["kiosk"] not in browser.current_url  # the token left the address bar
    assert not browser.find_element(By.ID, "signin").is_displayed()
    assert not browser.find_element(By.ID, "signout").is_displayed()
    size = await run(lambda: browser.execute_script("return parseFloat(getComputedStyle(document.body).fontSize)"))
    assert size >= 24
    widths = await run(lambda: browser.execute_script(
        "return [document.documentElement.scrollWidth, document.documentElement.clientWidth]"))
    assert widths[0] <= widths[1], widths  # a 1280-wide wall screen: large type and no sideways scrolling
    browser.shot("kiosk")
    # the browser is closed and opened again on the bookmarked screen: no token in the link any more
    await run(lambda: browser.execute_script("sessionStorage.clear()"))  # what a browser restart forgets
    await run(browser.get, "about:blank")
    await run(browser.get, f"{base}/wallboard#kiosk")
    engine.acd.set_not_ready("agent1", "lunch")
    await until(lambda: "lunch" in text(browser, "tr[data-agent=agent1]"), 20)  # polled: no event stream for a kiosk
    assert not browser.find_element(By.ID, "signin").is_displayed()
    assert engine.core.agents["agent1"].state == AgentState.NOT_READY
    assert not browser.find_elements(By.CSS_SELECTOR, "button.listen")  # a wall screen supervises nobody
    browser.shot("kiosk-after-restart")


async def test_a_kiosk_shows_the_overdue_tasks_by_queue_and_type_never_the_title(browser, web_engine):
    engine, base = web_engine.engine, web_engine.base
    status, task = await web_engine.call("POST", "/api/v1/tasks", "sup", json={
        "type": "callback", "owner_queue": "general", "due": engine.clock.now() - 7200, "title": "Ring Ada Lovelace back"})
    assert status == 201, task
    await run(browser.get, f"{base}/wallboard#kiosk={TOKENS['kiosk']}")
    await until(lambda: "general" in text(browser, f"tr[data-task='{task['task_id']}']"), 20)
    row = text(browser, f"tr[data-task='{task['task_id']}']")
    assert "Callback" in row or "callback" in row
    assert text(browser, "#overdue-count") == "1"
    assert "Ada" not in text(browser, "#tasks-box")  # a title may name the customer: never on a wall screen
    browser.shot("kiosk-overdue")


_WRAPPED_FIGURES = """
return [...document.querySelectorAll("td.num")].filter(td => {
  const range = document.createRange(); range.selectNodeContents(td);
  return new Set([...range.getClientRects()].map(r => Math.round(r.top))).size > 1;
}).map(td => td.className + ": " + td.textContent);
"""


async def test_a_kiosk_figure_and_its_unit_stay_on_one_line(browser, web_engine):
    """In the large type of a wall screen (a 1920 x 1080 TV), "80 % in 20 s" or "10 s" is not
    broken over two lines, and the table still fits the screen's width."""
    base = web_engine.base
    await run(browser.set_window_size, 1920, 1080)
    await run(browser.get, f"{base}/wallboard#kiosk={TOKENS['kiosk']}")
    await until(lambda: text(browser, "tr[data-queue=general] .target"))
    assert await run(lambda: browser.execute_script(_WRAPPED_FIGURES)) == []
    assert await run(lambda: browser.execute_script(
        "return document.documentElement.scrollWidth <= document.documentElement.clientWidth"))  # and no sideways scrolling
    browser.shot("kiosk-one-line")


async def test_listen_from_the_wallboard_rings_the_supervisor_into_the_agents_call(browser, web_engine):
    engine, base = web_engine.engine, web_engine.base
    engine.acd.set_not_ready("agent2", "break")
    engine.pbx.agents["agent1"] = AgentBehaviour(answer_after_s=0.3, talk_s=None)
    engine.pbx.agents["sup"] = AgentBehaviour(answer_after_s=0.2, talk_s=None)
    await sign_in(browser, base, "wallboard", TOKENS["sup"])
    await until(lambda: "ready" in text(browser, "tr[data-agent=agent1]"))
    assert not browser.find_elements(By.CSS_SELECTOR, "tr[data-agent=agent1] button.listen")  # no call: nothing to listen to
    call = await engine.pbx.place_call(CallerScript(caller_id="+447700900407", dnis="5551234", keys="1"))
    await until(lambda: browser.find_element(By.CSS_SELECTOR, "tr[data-agent=agent1] button.listen").is_displayed(), 20)
    browser.shot("on-call")
    await run(lambda: browser.find_element(By.CSS_SELECTOR, "tr[data-agent=agent1] button.listen").click())
    await until(lambda: "calling your phone (PJSIP/sup)" in text(browser, "#spy-result"), 10)
    await until(lambda: len(engine.pbx.spy_legs) == 1, 10)
    [leg] = engine.pbx.spy_legs
    assert leg.mode == "listen" and leg.spyee.startswith("PJSIP/agent1-")
    browser.shot("listening")
    call.hangup()
    await until(lambda: leg.ended is not None, 10)


async def test_a_supervisor_forces_not_ready_after_this_call_from_the_wallboard(browser, web_engine):
    engine, base = web_engine.engine, web_engine.base
    engine.acd.set_not_ready("agent2", "break")
    engine.pbx.agents["agent1"] = AgentBehaviour(answer_after_s=0.3, talk_s=None)
    await sign_in(browser, base, "wallboard", TOKENS["sup"])
    await until(lambda: "ready" in text(browser, "tr[data-agent=agent1]"))
    assert not browser.find_elements(By.CSS_SELECTOR, "tr[data-agent=agent1] button.not-ready-after")  # no call: no button
    call = await engine.pbx.place_call(CallerScript(caller_id="+447700900411", dnis="5551234", keys="1"))
    button = "tr[data-agent=agent1] button.not-ready-after"
    await until(lambda: browser.find_element(By.CSS_SELECTOR, button).is_displayed(), 20)
    await run(lambda: Select(browser.find_element(By.ID, "force-reason")).select_by_value("training"))
    await run(lambda: browser.find_element(By.CSS_SELECTOR, button).click())
    await until(lambda: "goes not ready (training) after this call" in text(browser, "#spy-result"), 10)
    assert engine.core.agents["agent1"].state == AgentState.ON_CALL  # the call goes on
    await until(lambda: "not ready after call: training" in text(browser, "tr[data-agent=agent1]"), 10)
    assert not browser.find_elements(By.CSS_SELECTOR, button)  # asked once: the row says so instead
    browser.shot("forced-after-call")
    call.hangup()
    await until(lambda: engine.core.agents["agent1"].state == AgentState.NOT_READY, 20)
    last = [e for e in engine.calllog.timeline("agent:agent1") if e["kind"] == "agent_state"][-1]
    assert (last["reason"], last["forced"], last["forced_by"]) == ("training", True, "sup")
    await until(lambda: "training" in text(browser, "tr[data-agent=agent1] .state"), 20)


async def test_a_kiosk_screen_cannot_force_an_agent_not_ready(browser, web_engine):
    engine, base = web_engine.engine, web_engine.base
    engine.acd.set_not_ready("agent2", "break")
    engine.pbx.agents["agent1"] = AgentBehaviour(answer_after_s=0.3, talk_s=None)
    await run(browser.get, f"{base}/wallboard#kiosk={TOKENS['kiosk']}")
    await until(lambda: "ready" in text(browser, "tr[data-agent=agent1]"))
    call = await engine.pbx.place_call(CallerScript(caller_id="+447700900412", dnis="5551234", keys="1"))
    await until(lambda: "on call" in text(browser, "tr[data-agent=agent1]"), 20)
    assert not browser.find_elements(By.CSS_SELECTOR, "button.not-ready-after")
    assert not browser.find_element(By.ID, "force-reason").is_displayed()
    status = await run(lambda: browser.execute_script(  # and the API refuses the kiosk's token
        "return fetch('/api/v1/agents/agent1/state', {method: 'PUT', headers: {'Authorization': 'Bearer ' + arguments[0],"
        " 'Content-Type': 'application/json'}, body: JSON.stringify({state: 'not_ready', reason: 'training'})}).then(r => r.status)",
        TOKENS["kiosk"]))
    assert status == 403 and engine.core.after_call.get("agent1") is None
    call.hangup()


async def test_the_desktop_asks_for_not_ready_after_this_call(browser, web_engine):
    engine, base = web_engine.engine, web_engine.base
    engine.acd.set_not_ready("agent2", "break")
    engine.pbx.agents["agent1"] = AgentBehaviour(answer_after_s=0.3, talk_s=None)
    await sign_in(browser, base, "agent", TOKENS["agent1"])
    await until(lambda: text(browser, "#state") == "ready")
    call = await engine.pbx.place_call(CallerScript(caller_id="+447700900408", dnis="5551234", keys="1"))
    await until(lambda: text(browser, "#state") == "on call", 20)
    assert text(browser, "#btn-not-ready") == "Not ready after this call"
    await run(lambda: Select(browser.find_element(By.ID, "reason-pick")).select_by_value("lunch"))
    await run(lambda: browser.find_element(By.ID, "btn-not-ready").click())
    await until(lambda: "not ready after this call: lunch" in text(browser, "#reason"), 10)
    assert engine.core.agents["agent1"].state == AgentState.ON_CALL  # the call goes on
    browser.shot("pause-pending")
    call.hangup()
    await until(lambda: text(browser, "#state") == "not ready" and "lunch" in text(browser, "#reason"), 20)
    assert engine.core.agents["agent1"].reason == "lunch"


async def test_a_kiosk_token_typed_into_the_form_reads_the_board_without_a_stream(browser, web_engine):
    engine, base = web_engine.engine, web_engine.base
    engine.acd.set_not_ready("agent2", "break")
    await sign_in(browser, base, "wallboard", TOKENS["kiosk"])
    await until(lambda: "ready" in text(browser, "tr[data-agent=agent1]"))
    assert "kiosk" in browser.find_element(By.TAG_NAME, "body").get_attribute("class")
    engine.acd.set_not_ready("agent1", "lunch")
    await until(lambda: "lunch" in text(browser, "tr[data-agent=agent1]"), 20)  # by polling
    assert engine.bus.subscribers == 0  # no event stream: a kiosk token may not open one
