"""Knowledge cards on the screen-pop, in headless Chromium against a real engine: the cards for
the call's queue and IVR path are shown with their version (not the others), formatted from their
Markdown with the card's own HTML shown as text, and the call's
record notes which card versions were shown, once each."""

from __future__ import annotations

from pathlib import Path

from selenium.webdriver.common.by import By

from acd.sim import AgentBehaviour, CallerScript
from tests.browser.helpers import run, sign_in, text, until
from tests.http.conftest import TOKENS


async def test_the_pop_shows_the_matching_cards_and_the_record_names_their_versions(browser, web_engine):
    engine, base = web_engine.engine, web_engine.base
    cards = Path(engine.settings.config_dir) / "knowledge"
    cards.mkdir()
    (cards / "general.md").write_text("---\ntitle: General enquiries\nversion: 4\nqueues: [general]\n---\nAsk for the **account number**.\n\n"
                                     "1. Check it\n2. Read it back\n\n<img src=x onerror=\"window.pwned=1\"> [x](javascript:window.pwned=1)\n")
    (cards / "menu.md").write_text("---\ntitle: Caller used the menu\nivr_steps: [demo_line:menu]\n---\nThey chose from the menu.\n")
    (cards / "sales.md").write_text("---\ntitle: Sales offers\nqueues: [nowhere]\n---\nx\n")
    assert not engine.reload_config()["ok"]  # a card naming an unknown queue is refused, with its file
    (cards / "sales.md").write_text("---\ntitle: Sales offers\nintents: [buy]\n---\nx\n")
    assert engine.reload_config()["ok"]
    menu_version = next(c.version for c in engine.live_config.knowledge if c.id == "menu")
    engine.acd.set_not_ready("agent2", "break")
    engine.pbx.agents["agent1"] = AgentBehaviour(answer_after_s=0.5, talk_s=4.0)
    await sign_in(browser, base, "agent", TOKENS["agent1"])
    await until(lambda: text(browser, "#state") == "ready")
    call = await engine.pbx.place_call(CallerScript(caller_id="+447700900888", dnis="5551234", keys="1"))
    await until(lambda: "General enquiries" in text(browser, "#pop-cards"), 20)
    shown = await run(lambda: [a.get_attribute("data-card") for a in browser.find_elements(By.CSS_SELECTOR, "#pop-cards article")])
    assert shown == ["menu", "general"]  # the IVR step's card and the queue's (equal matches by title), not the sales one
    assert "version 4" in text(browser, "#pop-cards") and f"version {menu_version}" in text(browser, "#pop-cards")
    assert "Ask for the account number." in text(browser, "#pop-cards")
    body = "article[data-card=general] .card-body"
    assert await run(lambda: browser.find_element(By.CSS_SELECTOR, f"{body} strong").text) == "account number"  # formatted
    items = await run(lambda: [li.text for li in browser.find_elements(By.CSS_SELECTOR, f"{body} ol li")])
    assert items == ["Check it", "Read it back"]
    assert await run(lambda: browser.find_elements(By.CSS_SELECTOR, f"{body} img, {body} a")) == []  # the card's HTML is text
    assert '<img src=x onerror="window.pwned=1">' in text(browser, body)
    assert await run(lambda: browser.execute_script("return window.pwned === undefined"))
    browser.shot("cards")
    await until(lambda: engine.core.agents["agent1"].state.value in ("wrap_up", "ready"), 20)
    events = [e for e in engine.calllog.timeline(call.uniqueid) if e["kind"] == "knowledge_shown"]
    named = [(c["id"], c["version"]) for e in events for c in e["cards"]]
    assert sorted(named) == [("general", "4"), ("menu", menu_version)]  # once each, however often the pop refreshed
    await engine.records.drain()
    rec = await engine.customers.interaction(call.uniqueid)
    assert sorted((c["id"], c["version"]) for c in rec.cards_shown) == [("general", "4"), ("menu", menu_version)]
