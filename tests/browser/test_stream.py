"""The pages' live stream in headless Chromium: a client too far behind gets ``reset`` and
re-fetches (once, not in a loop), the agent desktop catches up after its stream drops, and
time in state ticks in the page between events."""

from __future__ import annotations

import asyncio

from selenium.webdriver.common.by import By

from tests.browser.helpers import drop_streams, run, sign_in, text, until
from tests.http.conftest import TOKENS


def stream(browser) -> dict:
    return browser.execute_script("return window.acdStream || {}")


async def _far_behind(engine) -> None:
    """More events than the bus retains, published while no page is connected."""
    for _ in range(engine.bus.retain + 100):
        engine.bus.publish("queue", {"queue": "general", "waiting": 0, "longest_wait_s": 0.0})


async def test_the_wallboard_refetches_after_a_reset_and_stays_live(browser, web_engine):
    engine, base = web_engine.engine, web_engine.base
    await sign_in(browser, base, "wallboard", TOKENS["sup"])
    await until(lambda: "ready" in text(browser, "tr[data-agent=agent2]"))
    await until(lambda: engine.bus.subscribers == 1)
    await drop_streams(engine)
    engine.acd.set_not_ready("agent2", "training")  # lost in the flood: only a re-fetch shows it
    await _far_behind(engine)
    await until(lambda: "training" in text(browser, "tr[data-agent=agent2]"), 20)
    browser.shot("after-reset")
    await until(lambda: stream(browser).get("resets") == 1)
    await until(lambda: engine.bus.subscribers == 1)
    engine.acd.set_ready("agent2")  # and the page is live again from where it re-fetched
    await until(lambda: "training" not in text(browser, "tr[data-agent=agent2]"))
    await asyncio.sleep(2.5)  # two retry periods: a page stuck in a reset loop would count more
    assert stream(browser)["resets"] == 1 and engine.bus.subscribers == 1


async def test_the_desktop_refetches_after_a_reset(browser, web_engine):
    engine, base = web_engine.engine, web_engine.base
    await sign_in(browser, base, "agent", TOKENS["agent1"])
    await until(lambda: text(browser, "#state") == "ready")
    await until(lambda: engine.bus.subscribers == 1)
    await drop_streams(engine)
    engine.acd.set_not_ready("agent1", "coaching")
    await _far_behind(engine)
    await until(lambda: text(browser, "#state") == "not ready" and "coaching" in text(browser, "#reason"), 20)
    await until(lambda: stream(browser).get("resets") == 1)
    browser.shot("after-reset")


async def test_the_desktop_catches_up_after_its_stream_drops(browser, web_engine):
    engine, base = web_engine.engine, web_engine.base
    await sign_in(browser, base, "agent", TOKENS["agent1"])
    await until(lambda: text(browser, "#state") == "ready")
    await until(lambda: engine.bus.subscribers == 1)
    await drop_streams(engine)
    engine.acd.set_not_ready("agent1", "meeting")  # a supervisor's force while the desktop is away
    await until(lambda: "meeting" in text(browser, "#reason"), 20)
    browser.shot("caught-up")
    assert stream(browser).get("resets", 0) == 0


async def test_time_in_state_ticks_between_events(browser, web_engine):
    base = web_engine.base
    await sign_in(browser, base, "wallboard", TOKENS["sup"])
    cell = "tr[data-agent=agent1] .in-state"
    first = int(await until(lambda: browser.find_element(By.CSS_SELECTOR, cell).get_attribute("data-s")))
    await until(lambda: int(browser.find_element(By.CSS_SELECTOR, cell).get_attribute("data-s")) >= first + 2, 10)  # no event meanwhile: the page counts
    await run(browser.switch_to.new_window, "tab")
    await sign_in(browser, base, "agent", TOKENS["agent1"])
    seen = await until(lambda: text(browser, "#in-state"))
    await until(lambda: text(browser, "#in-state") != seen, 5)
    browser.shot("ticking")
    assert browser.find_element(By.ID, "in-state").text.startswith("for ")
