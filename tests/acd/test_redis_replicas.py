"""``live_state.wait_replicas: 1`` on an engine node that leads, over a real Redis master and its
replica (``bench.redispair``). Calls are routed while the replica keeps up; with the replica
stopped (SIGSTOP) the caller who arrives keeps hearing music and nobody is rung, since the input
that queued them is not on a replica yet; the wait shows on /metrics; when the replica resumes,
the caller is answered and nothing was lost."""

from __future__ import annotations

import uuid

from acd.sim import AgentBehaviour, CallerScript
from bench.redispair import MasterAndReplica
from tests.acd.conftest import wait_until
from tests.acd.test_redis_down import QUEUES, metric


async def test_routing_waits_for_the_replica_and_goes_on_when_it_catches_up(make_engine):
    async with MasterAndReplica() as pair:
        engine = await make_engine(n_agents=1, queues=QUEUES, engine_yaml=(
            f"live_state:\n  backend: redis\n  key_prefix: 'acdtest:{uuid.uuid4().hex}'\n  redis_url: '{pair.master_url}'\n"
            "  wait_replicas: 1\n  wait_replicas_ms: 50\n"))
        engine.pbx.agents["agent1"] = AgentBehaviour(answer_after_s=0.2, talk_s=0.3)
        replica = engine.acd.replica
        assert replica is not None
        await wait_until(lambda: replica.leading and engine.core.agents["agent1"].state.value == "ready", 10)
        first = await engine.pbx.place_call(CallerScript(hangup_after_bridge_s=0.3))
        await first.finished(15)
        assert first.outcome.connected and metric(engine, "acd_redis_replica_waits_total") == 0
        await wait_until(lambda: engine.core.agents["agent1"].state.value == "ready", 10)

        pair.pause_replica()
        second = await engine.pbx.place_call(CallerScript(hangup_after_bridge_s=0.3))

        def music_slices() -> int:
            return len([e for e in engine.pbx.events_named("MusicOnHoldStart") if e.get("Uniqueid") == second.uniqueid])

        await wait_until(lambda: music_slices() >= 2, 15)  # music, and nobody rung: fail closed
        assert not second.outcome.connected and engine.pbx.agent_offers == {"PJSIP/agent1": 1}
        assert metric(engine, "acd_redis_replicas_behind") == 1 and replica.leading  # still the leader: no failover

        pair.resume_replica()
        await wait_until(lambda: second.outcome.connected, 15)
        await second.finished(15)
        assert engine.pbx.agent_offers == {"PJSIP/agent1": 2}
        await wait_until(lambda: metric(engine, "acd_redis_replicas_behind") == 0, 5)
        assert metric(engine, "acd_redis_replica_waits_total") >= 1
