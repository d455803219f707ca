"""POST /api/v1/agents/{agent_id}/spy: supervisors only, the agent must be on a call, the
supervisor's phone comes from users.yaml, and the call's record says who listened how."""

from __future__ import annotations

from acd.routing.model import AgentState
from acd.sim import AgentBehaviour, CallerScript
from tests.conftest import wait_until


async def test_listen_whisper_barge_by_a_supervisor_ring_their_phone_into_chanspy(api):
    engine = api.engine
    engine.acd.set_not_ready("agent2", "break")
    engine.pbx.agents["agent1"] = AgentBehaviour(answer_after_s=0.2, talk_s=None)
    engine.pbx.agents["sup"] = AgentBehaviour(answer_after_s=0.2, talk_s=None)
    status, body = await api.call("POST", "/api/v1/agents/agent1/spy", "sup", json={"mode": "listen"})
    assert status == 409 and "not on a call" in body["detail"]
    call = await engine.pbx.place_call(CallerScript(caller_id="+447700900406"))
    await wait_until(lambda: engine.core.agents["agent1"].state == AgentState.ON_CALL, 15)
    assert (await api.call("POST", "/api/v1/agents/agent1/spy", "agent2", json={"mode": "listen"}))[0] == 403
    assert (await api.call("POST", "/api/v1/agents/agent1/spy", "agent1", json={"mode": "listen"}))[0] == 403  # not even on itself
    assert (await api.call("POST", "/api/v1/agents/agent1/spy", "kiosk", json={"mode": "listen"}))[0] == 403
    status, body = await api.call("POST", "/api/v1/agents/agent1/spy", "sup", json={"mode": "eavesdrop"})
    assert status == 422 and body["field"] == "mode"
    status, body = await api.call("POST", "/api/v1/agents/agent1/spy", "admin", json={"mode": "listen"})
    assert status == 409 and "endpoint" in body["detail"]  # the admin user has no phone in users.yaml
    status, body = await api.call("POST", "/api/v1/agents/agent1/spy", "sup", json={"mode": "whisper"})
    assert status == 202, body
    assert (body["call_id"], body["mode"], body["endpoint"]) == (call.uniqueid, "whisper", "PJSIP/sup")
    await wait_until(lambda: len(engine.pbx.spy_legs) == 1, 10)
    assert engine.pbx.spy_legs[0].mode == "whisper" and engine.pbx.spy_legs[0].spyee.startswith("PJSIP/agent1-")
    await engine.records.drain()
    status, rec = await api.call("GET", f"/api/v1/interactions/{call.uniqueid}", "sup")
    [logged] = [e for e in rec["timeline"] if e["kind"] == "supervised"]
    assert (logged["mode"], logged["by"], logged["agent"]) == ("whisper", "sup", "agent1")
    call.hangup()
    await wait_until(lambda: engine.pbx.spy_legs[0].ended is not None, 10)
