"""Follow-up tasks on the agent desktop, in headless Chromium against a real engine: my tasks and
my queues' tasks (not another agent's), overdue marked, done from the desktop, a task given by a
supervisor to the agent or to its queue appearing live, a follow-up task from the wrap-up form, and
the overdue tasks on the supervisor's wallboard."""

from __future__ import annotations

import dataclasses

from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from acd.sim import AgentBehaviour, CallerScript
from acd.store import tasks as store_tasks
from acd.tasks.model import TaskInput
from tests.browser.helpers import run, sign_in, text, until
from tests.http.conftest import TOKENS


def _task(engine, **body) -> TaskInput:
    return TaskInput.parse(body, now=engine.clock.now(), types=engine.live_config.task_types(), agents=frozenset(engine.core.agents),
                           queues=frozenset(engine.core.queues))


async def test_my_tasks_and_my_queues_tasks_done_from_the_desktop_and_pushed_live(browser, web_engine):
    engine, base = web_engine.engine, web_engine.base
    store = engine.customers
    mine = await store_tasks.create_task(store, _task(engine, type="callback", owner_agent="agent1", title="Ring Ada about the bill",
                                                      due=engine.clock.now() - 3600), source="api", by="sup")
    await store_tasks.create_task(store, _task(engine, type="case", owner_queue="general", title="Refund case 12"), source="api", by="sup")
    await store_tasks.create_task(store, _task(engine, type="case", owner_agent="agent2", title="Not yours"), source="api", by="sup")
    await sign_in(browser, base, "agent", TOKENS["agent1"])
    await until(lambda: "Ring Ada about the bill" in text(browser, "#tasks-mine"))
    assert "overdue" in text(browser, "#tasks-mine") and "Refund case 12" in text(browser, "#tasks-queues")
    assert "Not yours" not in text(browser, "#tasks")
    browser.shot("tasks")
    await run(lambda: browser.find_element(By.CSS_SELECTOR, "#tasks-mine button[aria-label='Done: Ring Ada about the bill']").click())
    await until(lambda: "Ring Ada about the bill" not in text(browser, "#tasks-mine"))
    assert (await store_tasks.get_task(store, mine["task_id"]))["status"] == "done"
    status, _ = await web_engine.call("POST", "/api/v1/tasks", "sup", json={"type": "follow_up", "owner_agent": "agent1",
                                                                            "title": "Send the new contract"})
    assert status == 201
    await until(lambda: "Send the new contract" in text(browser, "#tasks-mine"))  # pushed on the stream, no reload
    status, _ = await web_engine.call("POST", "/api/v1/tasks", "sup", json={"type": "case", "owner_queue": "general",
                                                                            "title": "Chargeback 77"})
    assert status == 201
    await until(lambda: "Chargeback 77" in text(browser, "#tasks-queues"), 15)  # a queue's task: pushed to its agents too


async def test_the_wallboard_shows_overdue_tasks_live(browser, web_engine):
    engine, base = web_engine.engine, web_engine.base
    now = engine.clock.now()
    await store_tasks.create_task(engine.customers, _task(engine, type="case", owner_queue="general", title="Late case",
                                                          due=now - 2 * 3600), source="api", by="sup")
    await store_tasks.create_task(engine.customers, _task(engine, type="case", owner_queue="general", title="Not late", due=now + 3600),
                                  source="api", by="sup")
    await sign_in(browser, base, "wallboard", TOKENS["sup"])
    await until(lambda: "Late case" in text(browser, "#overdue-tasks"))
    assert "Not late" not in text(browser, "#overdue-tasks") and "2 h" in text(browser, "#overdue-tasks tr[data-task]")
    assert text(browser, "#overdue-count") == "1"
    status, _ = await web_engine.call("POST", "/api/v1/tasks", "agent1", json={"type": "follow_up", "title": "Already late",
                                                                               "due": now - 600})
    assert status == 201
    await until(lambda: "Already late" in text(browser, "#overdue-tasks"), 15)
    assert text(browser, "#overdue-count") == "2"
    browser.shot("overdue-tasks")


async def test_a_follow_up_task_from_the_wrap_up_form(browser, web_engine):
    engine, base = web_engine.engine, web_engine.base
    engine.acd.set_not_ready("agent2", "break")
    engine.acd.apply_config((dataclasses.replace(engine.core.queues["general"], wrapup_s=120),), ())
    engine.pbx.agents["agent1"] = AgentBehaviour(answer_after_s=0.3, talk_s=1.0)
    await sign_in(browser, base, "agent", TOKENS["agent1"])
    await until(lambda: text(browser, "#state") == "ready")
    call = await engine.pbx.place_call(CallerScript(caller_id="+447700900888", dnis="5551234", keys="1"))
    await until(lambda: text(browser, "#state") == "wrap up", 20)
    assert not browser.find_element(By.ID, "wt-title").is_enabled()  # only with the box ticked
    await run(lambda: browser.find_element(By.ID, "wt-on").click())
    await run(lambda: Select(browser.find_element(By.ID, "wt-type")).select_by_value("callback"))
    await run(lambda: browser.find_element(By.ID, "wt-title").send_keys("Call back Tuesday"))
    await run(lambda: Select(browser.find_element(By.ID, "disposition")).select_by_value("follow_up"))
    browser.shot("wrapup-task")
    await run(lambda: browser.find_element(By.CSS_SELECTOR, "#wrapup-form button[type=submit]").click())
    await until(lambda: text(browser, "#state") == "ready")
    await until(lambda: "Call back Tuesday" in text(browser, "#tasks-mine"))
    (task,) = await store_tasks.list_tasks(engine.customers, store_tasks.TaskQuery(owners=()))
    assert task["call_id"] == call.uniqueid and task["source"] == "wrapup" and task["callback_number"] == "+447700900888"
    assert not browser.find_element(By.ID, "wt-on").is_selected()  # the form is clean for the next call


async def test_a_tasks_customer_opens_from_the_task_and_the_read_names_the_task(browser, web_engine):
    from acd.store import audit

    engine, base = web_engine.engine, web_engine.base
    cid = await engine.customers.create_customer(name="Grace Hopper", phones=["+447700900611"], by="test")
    task = await store_tasks.create_task(engine.customers, _task(engine, type="follow_up", owner_agent="agent1", customer_id=cid,
                                                                 title="Send Grace the form"), source="api", by="sup")
    await sign_in(browser, base, "agent", TOKENS["agent1"])
    await until(lambda: "Send Grace the form" in text(browser, "#tasks-mine"))
    await run(lambda: browser.find_element(By.CSS_SELECTOR, "#tasks-mine button[aria-label='Customer of: Send Grace the form']").click())
    await until(lambda: "Customer: Grace Hopper" in text(browser, "#cust-record-title"))
    reads = await audit.access_log(engine.customers, cid)
    assert reads and all(r["who"] == "agent1" and r["reason"] == task["task_id"] for r in reads)  # why: the task
