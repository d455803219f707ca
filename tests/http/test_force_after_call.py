"""A supervisor forces "not ready after this call" on an agent who is on a call (202, not 409),
and a forced pause or logout is recorded as forced, by whom, on the agent's state events."""

from __future__ import annotations

from acd.routing.model import AgentState
from acd.sim import AgentBehaviour, CallerScript
from tests.conftest import wait_until


def _states(engine, agent: str) -> list[dict]:
    return [e for e in engine.calllog.timeline(f"agent:{agent}") if e["kind"] == "agent_state"]


async def test_not_ready_after_this_call_by_a_supervisor_is_forced_and_logged(api):
    engine = api.engine
    engine.acd.set_not_ready("agent2", "break")
    engine.pbx.agents["agent1"] = AgentBehaviour(answer_after_s=0.2, talk_s=1.5)
    await engine.pbx.place_call(CallerScript(caller_id="+447700900403"))
    await wait_until(lambda: engine.core.agents["agent1"].state == AgentState.ON_CALL, 15)
    status, body = await api.call("PUT", "/api/v1/agents/agent1/state", "sup", json={"state": "not_ready", "reason": "training"})
    assert status == 202, body
    assert (body["state"], body["not_ready_after_call"]) == ("on_call", "training")  # still on the call
    status, body = await api.call("GET", "/api/v1/agents/agent1", "sup")
    assert body["not_ready_after_call"] == "training"
    await wait_until(lambda: engine.core.agents["agent1"].state == AgentState.NOT_READY, 15)
    assert engine.core.agents["agent1"].reason == "training"
    last = _states(engine, "agent1")[-1]
    assert (last["state"], last["reason"], last["forced"], last["forced_by"]) == ("not_ready", "training", True, "sup")
    status, body = await api.call("GET", "/api/v1/agents/agent1", "sup")
    assert body["not_ready_after_call"] is None


async def test_an_agent_asking_for_it_itself_is_not_forced(api):
    engine = api.engine
    engine.acd.set_not_ready("agent2", "break")
    engine.pbx.agents["agent1"] = AgentBehaviour(answer_after_s=0.2, talk_s=1.0)
    await engine.pbx.place_call(CallerScript(caller_id="+447700900404"))
    await wait_until(lambda: engine.core.agents["agent1"].state == AgentState.ON_CALL, 15)
    status, _ = await api.call("PUT", "/api/v1/agents/agent1/state", "agent1", json={"state": "not_ready", "reason": "lunch"})
    assert status == 202
    await wait_until(lambda: engine.core.agents["agent1"].state == AgentState.NOT_READY, 15)
    last = _states(engine, "agent1")[-1]
    assert (last["reason"], last["forced"], last["forced_by"]) == ("lunch", False, None)


async def test_a_supervisors_logout_is_logged_as_forced(api):
    engine = api.engine
    status, body = await api.call("POST", "/api/v1/agents/agent2/logout", "sup")
    assert status == 200 and body["state"] == "logged_out"
    last = _states(engine, "agent2")[-1]
    assert (last["state"], last["forced"], last["forced_by"], last["by"]) == ("logged_out", True, "sup", "sup")
    status, body = await api.call("POST", "/api/v1/agents/agent1/logout", "agent1")
    last = _states(engine, "agent1")[-1]
    assert (last["state"], last["forced"], last["forced_by"]) == ("logged_out", False, None)


async def test_a_supervisors_logout_during_wrap_up_is_forced_too(api):
    engine = api.engine
    engine.acd.set_not_ready("agent2", "break")
    engine.acd.apply_config((__import__("dataclasses").replace(engine.core.queues["general"], wrapup_s=60),), ())
    engine.pbx.agents["agent1"] = AgentBehaviour(answer_after_s=0.2, talk_s=0.3)
    await engine.pbx.place_call(CallerScript(caller_id="+447700900410"))
    await wait_until(lambda: engine.core.agents["agent1"].state == AgentState.WRAP_UP, 15)
    status, body = await api.call("POST", "/api/v1/agents/agent1/logout", "sup")
    assert status == 200 and body["state"] == "logged_out"
    last = _states(engine, "agent1")[-1]
    assert (last["state"], last["forced"], last["forced_by"]) == ("logged_out", True, "sup")
