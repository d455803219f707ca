"""``queue`` events on the live stream: a caller joining a queue nobody can serve, and leaving it
(answered or hung up), reaches supervisors as {queue, waiting, longest_wait_s}; agents never see
them."""

from __future__ import annotations

from acd.routing.model import AgentState
from acd.sim import AgentBehaviour, CallerScript
from tests.conftest import wait_until
from tests.http.conftest import TOKENS
from tests.http.test_events import read_events


async def _queue_events(response, count):
    out = []
    while len(out) < count:
        for seq, kind, data in await read_events(response, 1, 15):
            if kind == "queue":
                out.append(data)
    return out


async def test_a_caller_joining_and_being_answered_is_streamed(api):
    engine = api.engine
    engine.acd.set_not_ready("agent1", "break")
    engine.acd.set_not_ready("agent2", "break")
    engine.pbx.agents["agent1"] = AgentBehaviour(answer_after_s=0.3, talk_s=None)
    async with api.session.get(f"{api.base}/api/v1/events?access_token={TOKENS['sup']}") as sup, \
            api.session.get(f"{api.base}/api/v1/events?access_token={TOKENS['agent2']}") as agent2:
        await wait_until(lambda: engine.bus.subscribers == 2, 5)
        await engine.pbx.place_call(CallerScript(caller_id="+447700900777"))
        [joined] = await _queue_events(sup, 1)
        assert joined["queue"] == "general" and joined["waiting"] == 1 and joined["longest_wait_s"] >= 0
        engine.acd.set_ready("agent1")
        await wait_until(lambda: engine.core.agents["agent1"].state == AgentState.ON_CALL, 15)
        [left] = await _queue_events(sup, 1)
        assert left == {"queue": "general", "waiting": 0, "longest_wait_s": 0.0}
        # agent2's stream has had only its own state change: no queue events
        engine.acd.set_ready("agent2")
        events = await read_events(agent2, 1, 10)
        assert [(k, d["agent_id"]) for _, k, d in events] == [("agent_state", "agent2")]
