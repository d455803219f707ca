"""Attack (issue #13, item 2): an Originate that Asterisk refuses must not take the agent out of
service. The refusal (``Response: Error``) failed the offer but kept the agent's live-store
reservation, so the next offer to that agent was refused as "busy on another node" for ~30 s; a
caller id with a carriage return did this to all six agents within 17 ms. Here one agent's
endpoint is one Asterisk refuses (no technology prefix): every offer to it fails, and every time
its reservation is released at once, while the other agent takes the calls."""

from __future__ import annotations

import asyncio

from acd.sim import AgentBehaviour, CallerScript
from tests.conftest import wait_until

AGENTS = """
agents:
  - {id: agent1, name: One, endpoint: agent1-without-technology, skills: {general: 5}, auto_ready: true}
  - {id: agent2, name: Two, endpoint: PJSIP/agent2, skills: {general: 1}, auto_ready: true}
"""


async def test_a_refused_originate_releases_the_agent_every_time(make_engine):
    engine = await make_engine(agents=AGENTS)
    engine.pbx.agents["agent2"] = AgentBehaviour(answer_after_s=0.1, talk_s=0.2)
    calls = [await engine.pbx.place_call(CallerScript(caller_id=f"+4420{i:08d}", hangup_after_bridge_s=0.2)) for i in range(3)]
    outcomes = await asyncio.gather(*(c.finished(40) for c in calls))
    assert all(o.connected and o.agent == "PJSIP/agent2" for o in outcomes)
    refused = [a for a in engine.pbx.ami.actions_seen if a.name == "Originate" and a.get("Channel") == "agent1-without-technology"]
    assert refused, "agent1 was never offered a call"
    # the refused offers left no reservation behind: agent1's slot in the live store is free
    holders: list[str | None] = []

    async def agent1_free() -> bool:
        holders.append(await engine.store.holder("agent1"))
        return holders[-1] is None

    for _ in range(100):
        if await agent1_free():
            break
        await asyncio.sleep(0.05)
    assert holders[-1] is None, holders
    assert not [o for o in engine.core.offers.values() if o.agent_id == "agent1"]
    await wait_until(lambda: not engine.core.calls, 10)
