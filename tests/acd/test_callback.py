"""Callback in queue: the caller presses the callback key between music slices, hears it is
booked and hangs up, keeping the place. When the place comes, an agent is reserved and rung
first; the agent's leg then dials the customer, and the two are connected and recorded."""

from __future__ import annotations

import asyncio

import pytest

from acd.routing.model import AgentState
from acd.sim import AgentBehaviour, CallerScript
from acd.store.records import Outcome
from tests.acd.conftest import wait_until
from tests.acd.test_flow_calls import stored_interaction

pytestmark = pytest.mark.virtual_time

QUEUES = """
queues:
  - {name: general, skills: {general: 1}, ring_timeout_s: 20, wrapup_s: 30, moh_slice_s: 20, announce_position: false,
     announce_ewt: false, callback_key: "1", callback_retry_s: 300, callback_attempts: 2}
"""
NUMBER = "+447700900777"


async def test_the_caller_keeps_the_place_and_is_called_back(make_engine):
    engine = await make_engine(n_agents=1, queues=QUEUES)
    engine.pbx.agents["agent1"] = AgentBehaviour(answer_after_s=3, talk_s=120)
    engine.acd.set_not_ready("agent1", "break")  # nobody free: the caller waits, then asks for a callback
    engine.pbx.customers["447700900777"] = AgentBehaviour(answer_after_s=8, talk_s=120)
    call = await engine.pbx.place_call(CallerScript(caller_id=NUMBER, keys="1", think_s=0.8))  # presses while the 1.5 s offer plays
    outcome = await call.finished(120)
    assert not outcome.connected and outcome.hung_up_by in ("engine", "pbx")  # booked, then hung up by us
    assert "acd/press-1-for-a-callback" in outcome.prompts and outcome.prompts[-1] == "acd/we-will-call-you-back"
    entry = engine.core.calls[call.uniqueid]
    assert entry.callback_number == NUMBER and not outcome.fallback

    await asyncio.sleep(600)  # the agent's break lasts ten minutes
    engine.acd.set_ready("agent1")  # the place comes: agent first, then the customer
    await wait_until(lambda: engine.pbx.callbacks_dialled == ["447700900777"], 30)
    await wait_until(lambda: call.uniqueid in engine.core.connected, 30)
    assert engine.core.connected[call.uniqueid] == "agent1"
    await wait_until(lambda: engine.core.agents["agent1"].state in (AgentState.WRAP_UP, AgentState.READY), 200)
    rec = await stored_interaction(engine, call.uniqueid)
    assert rec.outcome is Outcome.ANSWERED and rec.callback_requested and rec.agent == "agent1"
    assert rec.recording and rec.recording.endswith(f"{call.uniqueid}.wav")
    kinds = [e["kind"] for e in engine.calllog.timeline(call.uniqueid)]
    assert kinds.index("callback_requested") < kinds.index("offer") < kinds.index("connected")


async def test_a_callback_nobody_answers_is_retried_then_given_up(make_engine):
    engine = await make_engine(n_agents=1, queues=QUEUES)
    engine.pbx.agents["agent1"] = AgentBehaviour(answer_after_s=3, talk_s=120)
    engine.acd.set_not_ready("agent1", "break")
    engine.pbx.customers["447700900777"] = AgentBehaviour(busy=True)  # the line is busy
    call = await engine.pbx.place_call(CallerScript(caller_id=NUMBER, keys="1", think_s=0.8))  # presses while the 1.5 s offer plays
    await call.finished(120)
    engine.acd.set_ready("agent1")
    loop = asyncio.get_running_loop()
    await wait_until(lambda: len(engine.pbx.callbacks_dialled) == 1, 60)
    first_try = loop.time()
    await wait_until(lambda: call.uniqueid not in engine.core.calls, 900)
    assert engine.pbx.callbacks_dialled == ["447700900777", "447700900777"]
    assert 300 <= loop.time() - first_try <= 360  # the retry came callback_retry_s (5 minutes) later
    assert engine.core.agents["agent1"].state == AgentState.READY  # the customer's no-answer is not the agent's
    timeline = engine.calllog.timeline(call.uniqueid)
    assert [e["kind"] for e in timeline].count("callback_attempt") == 2
    assert [e.get("reason") for e in timeline if e["kind"] == "queue_exit"] == ["callback_failed"]


async def test_demo_callers_who_want_a_callback_book_one_and_the_summary_says_so(make_engine):
    """acd demo: some simulated callers press the callback key when it is offered; the table
    printed when the demo ends counts the calls by result and gives each queue's figures."""
    import dataclasses
    import random

    from acd.app import _demo_summary
    from acd.sim.demo import DemoTraffic

    engine = await make_engine(n_agents=1, queues=QUEUES)
    engine.acd.set_not_ready("agent1", "break")
    demo = DemoTraffic(engine.pbx, 1.0, random.Random(3))
    scripts = [demo.script() for _ in range(200)]
    share = sum(s.name == "callback" for s in scripts) / len(scripts)
    assert 0.05 < share < 0.2
    script = next(s for s in scripts if s.name == "callback")
    call = await engine.pbx.place_call(script)
    demo.calls.append(call)
    demo.placed = 1
    await call.finished(300)
    await wait_until(lambda: "callback_requested" in [e["kind"] for e in engine.calllog.timeline(call.uniqueid)], 10)
    text = _demo_summary(dataclasses.replace(engine, demo=demo), 12.0)
    lines = text.splitlines()
    assert lines[0] == "demo summary: 1 calls placed in 12 s"
    assert "callback booked 1" in lines[1]
    assert lines[3].split() == ["queue", "offered", "answered", "abandoned", "SL", "ASA", "s"]
    assert lines[4].split()[:4] == ["general", "1", "0", "0"]
