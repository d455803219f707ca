"""Two engine nodes' live state on one real Redis, on the wall clock: the reservation another node
holds is a Redis key with a real TTL, and the shared log's tail blocks on the Redis server, so virtual
time (``acd.vtime``) would run at the real rate here anyway."""

import asyncio

from acd.routing.model import AgentState
from acd.sim import AgentBehaviour, CallerScript
from tests.acd.conftest import wait_until


async def make_longest_idle(engine, first: str, then: str) -> None:
    """``first`` has been idle longer than ``then``: ``then`` pauses and comes back through the API."""
    assert await engine.acd.settled()
    engine.acd.set_not_ready(then, "break")
    assert await engine.acd.settled()
    await wait_until(lambda: engine.core.agents[then].state == AgentState.NOT_READY, 5)
    idle_first = engine.core.agents[first].idle_since
    await wait_until(lambda: engine.acd.now() > idle_first, 5)  # so ``then`` is stamped idle later than ``first``
    engine.acd.set_ready(then)
    assert await engine.acd.settled()
    assert engine.core.agents[first].idle_since < engine.core.agents[then].idle_since


async def test_redis_live_state_keeps_an_agent_held_by_another_node(make_engine):
    """Two engine nodes on one Redis: an agent reserved by the other node is never rung here."""
    import uuid

    from acd.livestate.redis import RedisLiveStore

    prefix = f"acdtest:{uuid.uuid4().hex}"
    engine = await make_engine(n_agents=2, engine_yaml=f"live_state:\n  backend: redis\n  key_prefix: {prefix}\nengine:\n  node_id: node-a\n")
    other_node = RedisLiveStore(prefix=prefix)
    try:
        assert await other_node.reserve("agent1", "offer-from-node-b", "node-b", 60)
        engine.pbx.agents["agent1"] = AgentBehaviour(answer_after_s=0.2, talk_s=0.5)
        engine.pbx.agents["agent2"] = AgentBehaviour(answer_after_s=0.2, talk_s=0.5)
        await make_longest_idle(engine, "agent1", "agent2")  # agent1 would be chosen first
        call = await engine.pbx.place_call(CallerScript())
        await wait_until(lambda: call.outcome.connected, 20)
        assert engine.core.agents["agent1"].reason == "busy on another node"  # for 30 s, as after a RONA
        outcome = await call.finished(30)
        assert outcome.agent == "PJSIP/agent2"
        assert "PJSIP/agent1" not in engine.pbx.agent_offers  # never rung
        await wait_until(lambda: engine.core.agents["agent2"].state == AgentState.READY, 20)
        holders = {}

        async def released() -> bool:  # the release is a background store operation
            holders["agent2"] = await other_node.holder("agent2")
            return holders["agent2"] is None

        for _ in range(100):
            if await released():
                break
            await asyncio.sleep(0.1)
        assert holders["agent2"] is None  # released after the call
        assert await other_node.holder("agent1") == "offer-from-node-b"
    finally:
        keys = [k async for k in other_node.redis.scan_iter(f"{prefix}:*")]
        if keys:
            await other_node.redis.delete(*keys)
        await other_node.close()
