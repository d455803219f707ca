"""ChanSpy legs on the simulated PBX, driven over real AMI bytes by the engine: a supervisor's
phone is originated into ChanSpy on the agent's channel, joins it in the asked mode, and leaves
when the agent's call ends (option E)."""

from __future__ import annotations

import pytest

from acd.ami.actions import originate_application
from acd.routing.model import AgentState
from acd.service.supervise import chanspy_data, start_spy
from acd.sim import AgentBehaviour, CallerScript
from acd.sim.chanspy import spy_mode
from tests.conftest import wait_until


@pytest.mark.parametrize(("options", "mode"), [("bqES", "listen"), ("bqwES", "whisper"), ("bqBES", "barge"), ("", "listen")])
def test_the_options_give_the_mode(options, mode):
    assert spy_mode(options) == mode


async def _agent_on_a_call(engine, talk_s=None):
    engine.acd.set_not_ready("agent2", "break")
    engine.pbx.agents["agent1"] = AgentBehaviour(answer_after_s=0.2, talk_s=talk_s)
    engine.pbx.agents["sup"] = AgentBehaviour(answer_after_s=0.2, talk_s=None)
    call = await engine.pbx.place_call(CallerScript(caller_id="+447700900405"))
    await wait_until(lambda: engine.core.agents["agent1"].state == AgentState.ON_CALL, 15)
    return call


async def test_a_barge_leg_joins_the_agents_channel_and_ends_with_the_call(make_engine):
    engine = await make_engine(n_agents=2)
    call = await _agent_on_a_call(engine)
    started = await start_spy(engine.acd, "agent1", "barge", supervisor_id="sup", endpoint="PJSIP/sup")
    await wait_until(lambda: len(engine.pbx.spy_legs) == 1, 10)
    [leg] = engine.pbx.spy_legs
    assert leg.mode == "barge" and leg.spyee.startswith("PJSIP/agent1-") and leg.spyer.startswith("PJSIP/sup-")
    [begin] = [e for e in engine.pbx.events if e.name == "ChanSpyStart"]
    assert begin.get("SpyeeChannel") == leg.spyee and begin.get("SpyerChannel") == leg.spyer
    assert started.spy_leg in engine.pbx.channels  # our ChannelId is the spy leg's uniqueid
    assert leg.ended is None
    call.hangup()  # the caller hangs up: the bridge's x option hangs up the agent's channel too
    await wait_until(lambda: leg.ended is not None, 10)  # E: the agent's channel hung up, the spy leg ends
    await wait_until(lambda: started.spy_leg not in engine.pbx.channels, 10)
    assert [e.name for e in engine.pbx.events if e.name.startswith("ChanSpy")] == ["ChanSpyStart", "ChanSpyStop"]


async def test_the_prefix_ends_with_a_dash_so_agent1_never_spies_on_agent10(make_engine):
    assert chanspy_data("PJSIP/agent1", "listen") == "PJSIP/agent1-,bqES"
    engine = await make_engine(n_agents=2)
    await _agent_on_a_call(engine)
    engine.pbx.agents["sup"] = AgentBehaviour(answer_after_s=0.2, talk_s=None)
    await originate_application(engine.ami, "PJSIP/sup", "ChanSpy", "PJSIP/agent2-,bqES", channel_id="spy-nobody")
    await wait_until(lambda: any(e.name == "Hangup" and e.get("Uniqueid") == "spy-nobody" for e in engine.pbx.events), 10)
    assert engine.pbx.spy_legs == []  # agent2 is on no call: nothing to spy on, the leg hangs up
