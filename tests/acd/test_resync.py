"""State repair on AMI (re)connect: a connect missed while the link was down, a phone that went
unreachable, and an agent found on a call the engine did not know about."""

from __future__ import annotations

import asyncio

import pytest

from acd.routing.model import AgentState, AgentConfig, QueueConfig
from acd.routing.core import AcdCore
from acd.sim import AgentBehaviour, CallerScript
from tests.acd.conftest import wait_until

pytestmark = pytest.mark.virtual_time


async def test_a_connect_missed_during_an_ami_outage_is_repaired(make_engine):
    engine = await make_engine(n_agents=1)
    engine.pbx.agents["agent1"] = AgentBehaviour(answer_after_s=8, talk_s=300)
    call = await engine.pbx.place_call(CallerScript())
    await wait_until(lambda: engine.core.agents["agent1"].state in (AgentState.RESERVED, AgentState.RINGING), 30, step=0.01)
    await asyncio.sleep(7.8)
    # the link drops 0.2 s before the agent answers: the bridge forms while the engine is deaf, and
    # its reconnect (backoff from 0.25 s) lands inside the 2 s the engine waits for the bridge
    engine.pbx.ami.drop_all()
    await wait_until(lambda: call.outcome.connected, 30)
    assert engine.core.agents["agent1"].state != AgentState.ON_CALL  # the engine has not heard yet
    await wait_until(lambda: engine.core.agents["agent1"].state == AgentState.ON_CALL, 60)
    assert call.uniqueid in engine.core.connected
    metrics = engine.telemetry.render().decode()
    assert 'acd_state_repairs_total{kind="missed_connect"} 1.0' in metrics
    call.hangup()
    await wait_until(lambda: engine.core.agents["agent1"].state in (AgentState.WRAP_UP, AgentState.READY), 60)


async def test_an_unreachable_phone_takes_its_agent_out_until_it_is_back(make_engine):
    engine = await make_engine(n_agents=2)
    engine.pbx.ami.drop_all()
    engine.pbx.set_device_state("PJSIP/agent2", "UNAVAILABLE")  # unregistered while the link was down
    await wait_until(lambda: engine.core.agents["agent2"].state == AgentState.NOT_READY, 10)
    assert engine.core.agents["agent2"].reason == "unreachable"
    assert engine.core.agents["agent1"].state == AgentState.READY
    assert 'acd_state_repairs_total{kind="device_unreachable"} 1.0' in engine.telemetry.render().decode()
    engine.pbx.set_device_state("PJSIP/agent2", "NOT_INUSE")  # registered again: live event
    await wait_until(lambda: engine.core.agents["agent2"].state == AgentState.READY, 10)
    engine.pbx.set_device_state("PJSIP/agent1", "UNAVAILABLE")  # and live, without an outage
    await wait_until(lambda: engine.core.agents["agent1"].reason == "unreachable", 10)


def test_adopting_a_call_found_in_asterisk_keeps_the_agent_from_a_second_offer():
    from acd.routing import inputs as ev
    from acd.routing.commands import Ring

    core = AcdCore([QueueConfig("general")], [AgentConfig("a1", "A1", "PJSIP/a1")], now=100.0)
    core.handle(ev.AgentLogin(100.0, "a1"))
    core.handle(ev.AgentBridged(101.0, "a1", "caller-1", "PJSIP/c1"))
    assert core.agents["a1"].state == AgentState.ON_CALL and core.connected == {"caller-1": "a1"}
    core.handle(ev.AgentBridged(102.0, "a1", "caller-2", "PJSIP/c2"))  # already on a call: nothing to adopt
    assert core.connected == {"caller-1": "a1"}
    out = core.handle(ev.CallQueued(103.0, "caller-3", "general", "PJSIP/c3", 103.0))
    assert not [c for c in out if isinstance(c, Ring)]  # the adopted agent is busy
    core.handle(ev.CallHungUp(104.0, "caller-1"))
    assert core.agents["a1"].state == AgentState.WRAP_UP
