"""The agent's desk over the running engine: reasons from the catalogue, a forced pause that
withdraws a ringing offer, wrap-up with a disposition on the record, the screen-pop and the
routing decision record."""

from __future__ import annotations

import asyncio

import pytest

from acd.routing.core import IllegalTransition
from acd.routing.model import AgentState
from acd.service.acd import InvalidChoice, NotInWrapUp
from acd.sim import AgentBehaviour, CallerScript
from tests.acd.conftest import wait_until
from tests.acd.test_flow_calls import CALLER, PIN, engine_with_customer, stored_interaction

pytestmark = pytest.mark.virtual_time

SLOW_WRAPUP = """
queues:
  - {name: general, skills: {general: 1}, ring_timeout_s: 20, wrapup_s: 120, moh_slice_s: 20, announce_position: false, announce_ewt: false}
"""


async def test_not_ready_reasons_come_from_the_catalogue(make_engine):
    engine = await make_engine(n_agents=1)
    with pytest.raises(InvalidChoice) as err:
        engine.acd.set_not_ready("agent1", "nap")
    assert err.value.field == "reason"
    engine.acd.set_not_ready("agent1", "lunch")
    a = engine.core.agents["agent1"]
    assert (a.state, a.reason) == (AgentState.NOT_READY, "lunch")
    engine.acd.set_ready("agent1")
    engine.acd.logout("agent1")
    assert a.state == AgentState.LOGGED_OUT
    with pytest.raises(IllegalTransition):
        engine.acd.logout("agent1")
    engine.acd.login("agent1")
    assert a.state == AgentState.READY


async def test_a_forced_pause_withdraws_the_ringing_offer(make_engine):
    engine = await make_engine(n_agents=2, queues=SLOW_WRAPUP)
    engine.pbx.agents["agent1"] = AgentBehaviour(answer_after_s=None)  # would ring out
    engine.pbx.agents["agent2"] = AgentBehaviour(answer_after_s=3, talk_s=60)
    engine.acd.set_not_ready("agent2", "break")
    call = await engine.pbx.place_call(CallerScript())
    await wait_until(lambda: engine.core.agents["agent1"].state == AgentState.RINGING, 30)
    await asyncio.sleep(5)  # five seconds into the ring
    engine.acd.set_ready("agent2")
    engine.acd.set_not_ready("agent1", "technical")  # a supervisor pulls agent1 out
    outcome = await call.finished(300)
    assert outcome.bridged_at - outcome.started < 20  # withdrawn, not rung out
    assert outcome.agent == "PJSIP/agent2"
    assert engine.core.agents["agent1"].reason == "technical"
    hangups = [a for a in engine.pbx.ami.actions_seen if a.name.lower() == "hangup"]
    assert hangups  # the agent1 leg was cancelled by its ChannelId


async def test_wrap_up_with_a_disposition_lands_on_the_record(make_engine):
    engine = await make_engine(n_agents=1, queues=SLOW_WRAPUP)
    engine.pbx.agents["agent1"] = AgentBehaviour(answer_after_s=3, talk_s=240)
    with pytest.raises(NotInWrapUp):
        engine.acd.finish_wrapup("agent1", "resolved")
    call = await engine.pbx.place_call(CallerScript(caller_id="+447700900555"))
    assert (await call.finished(300)).connected
    await wait_until(lambda: engine.core.agents["agent1"].state == AgentState.WRAP_UP, 10)
    await asyncio.sleep(25)  # the agent types notes for 25 s
    with pytest.raises(NotInWrapUp):
        engine.acd.set_ready("agent1")  # wrap-up ends with a disposition, or when its time runs out
    with pytest.raises(InvalidChoice):
        engine.acd.finish_wrapup("agent1", "made-up")
    assert engine.acd.finish_wrapup("agent1", "resolved", "  customer happy  ") == call.uniqueid
    assert engine.core.agents["agent1"].state == AgentState.READY
    rec = await stored_interaction(engine, call.uniqueid)
    assert rec.disposition == "resolved" and rec.notes == "customer happy" and 25 <= rec.wrapup_s < 26
    assert 240 <= rec.talk_s < 241


async def test_the_screen_pop_shows_the_customer_and_the_decision_is_explained(make_engine, tmp_path):
    engine, cid = await engine_with_customer(make_engine, tmp_path)
    call = await engine.pbx.place_call(CallerScript(caller_id=CALLER, dnis="5551234", keys=f",{PIN}#,1"))
    await wait_until(lambda: call.uniqueid in engine.acd.connected_entries, 120)
    agent_id = engine.core.connected[call.uniqueid]
    work = await engine.desk.work(agent_id)
    pop = work["call"]
    assert work["offer"] is None and pop["call_id"] == call.uniqueid
    assert pop["customer"]["customer_id"] == cid and pop["customer"]["name"] == "Ada Lovelace"
    assert pop["verification"] == {"level": "verified", "method": "pin", "locked": False}
    assert [s["step"] for s in pop["ivr_path"]][:3] == ["welcome", "identify", "verify"]
    assert PIN not in repr(pop)
    assert engine.desk.customer_of(agent_id) == cid
    [decision] = [e for e in engine.calllog.timeline(call.uniqueid) if e["kind"] == "routing_decision"]
    assert decision["agent"] == agent_id and decision["filters"]["required"] == {"general": 1}
    assert decision["scores"][0]["agent"] == agent_id and decision["candidates"] == len(decision["scores"])


async def test_the_screen_pop_of_a_call_whose_ivr_ran_on_another_node_reads_the_path_from_the_store(make_engine, tmp_path):
    """With several nodes the caller's IVR runs on the node that holds its FastAGI session, which
    records it; a desk on another node has none of it in memory and reads it from the store."""
    engine, _ = await engine_with_customer(make_engine, tmp_path)
    call = await engine.pbx.place_call(CallerScript(caller_id=CALLER, dnis="5551234", keys=f",{PIN}#,1"))
    await wait_until(lambda: call.uniqueid in engine.acd.connected_entries, 120)
    agent_id = engine.core.connected[call.uniqueid]
    here = (await engine.desk.work(agent_id))["call"]
    await engine.records.drain()
    engine.calllog.calls.pop(call.uniqueid)  # what another node holds: nothing of this caller's IVR
    elsewhere = (await engine.desk.work(agent_id))["call"]
    assert [s["step"] for s in elsewhere["ivr_path"]] == [s["step"] for s in here["ivr_path"]]
    assert [s["step"] for s in elsewhere["ivr_path"]][:3] == ["welcome", "identify", "verify"]
    assert elsewhere["verification"] == here["verification"] == {"level": "verified", "method": "pin", "locked": False}
    assert PIN not in repr(elsewhere)


async def test_wrap_up_can_be_extended_and_a_required_disposition_holds_the_agent(make_engine):
    engine = await make_engine(n_agents=1, queues="""
queues:
  - {name: general, skills: {general: 1}, ring_timeout_s: 20, wrapup_s: 30, moh_slice_s: 20, announce_position: false, disposition_required: true}
""")
    engine.pbx.agents["agent1"] = AgentBehaviour(answer_after_s=3, talk_s=90)
    call = await engine.pbx.place_call(CallerScript())
    assert (await call.finished(300)).connected
    await wait_until(lambda: engine.core.agents["agent1"].state == AgentState.WRAP_UP, 10)
    engine.acd.extend_wrapup("agent1", 60)
    await asyncio.sleep(30 + 60 + 10)  # past the extended time: still in wrap-up, the queue wants a disposition
    assert engine.core.agents["agent1"].state == AgentState.WRAP_UP
    engine.acd.finish_wrapup("agent1", "sale")
    assert engine.core.agents["agent1"].state == AgentState.READY
    kinds = [e["kind"] for e in engine.calllog.timeline(call.uniqueid)]
    assert kinds.count("wrapup_extended") == 1 and kinds[-1] == "wrapup_done"


async def test_hold_time_is_measured_from_ami_and_kept_apart_from_talk(make_engine):
    engine = await make_engine(n_agents=1, queues=SLOW_WRAPUP)
    engine.pbx.agents["agent1"] = AgentBehaviour(answer_after_s=3, talk_s=600)
    call = await engine.pbx.place_call(CallerScript(caller_id="+447700900556"))
    await wait_until(lambda: call.uniqueid in engine.core.connected, 60)
    await asyncio.sleep(40)  # they talk
    engine.pbx.emit("Hold", call.channel.headers() + [("MusicClass", "default")])  # the agent puts the caller on hold
    await asyncio.sleep(75)  # the agent looks something up
    engine.pbx.emit("Unhold", call.channel.headers())
    await asyncio.sleep(20)  # and tells the caller
    call.hangup()
    await wait_until(lambda: engine.core.agents["agent1"].state == AgentState.WRAP_UP, 10)
    engine.acd.finish_wrapup("agent1", "resolved")
    rec = await stored_interaction(engine, call.uniqueid)
    assert rec.hold_s == pytest.approx(75, abs=0.01) and 60 <= rec.talk_s <= 61  # talk excludes the hold
    metrics = engine.telemetry.render().decode()
    assert 'acd_queue_handle_seconds_total{part="hold",queue="general"}' in metrics
    hold_line = [line for line in metrics.splitlines() if line.startswith('acd_queue_handle_seconds_total{part="hold"')][0]
    assert float(hold_line.split()[-1]) == pytest.approx(75, abs=0.01)
