"""Redis goes down under an engine node that leads (``live_state.backend: redis``), cut by a TCP
proxy between the node and the real server. Routing stops (fail closed: nobody is rung), the
caller who arrives meanwhile keeps hearing music, the outage is logged and counted, and when
Redis answers again the node takes the lease back by itself and the caller is answered: nothing
it did while Redis was down was lost."""

from __future__ import annotations

import uuid


from acd.sim import AgentBehaviour, CallerScript
from tests.acd.conftest import drop_redis_keys, wait_until
from tests.tcpproxy import TcpProxy

QUEUES = """
queues:
  - {name: general, skills: {general: 1}, ring_timeout_s: 5, wrapup_s: 0.3, moh_slice_s: 1, announce_position: false, announce_ewt: false}
"""


def metric(engine, name: str) -> float:
    for line in engine.telemetry.render().decode().splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"{name} is not exposed")


async def test_redis_down_stops_routing_keeps_the_music_and_resumes_by_itself(make_engine):
    proxy = await TcpProxy("127.0.0.1", 6379).start()
    prefix = f"acdtest:{uuid.uuid4().hex}"
    try:
        engine = await make_engine(n_agents=1, queues=QUEUES, engine_yaml=(
            f"live_state:\n  backend: redis\n  key_prefix: '{prefix}'\n  redis_url: 'redis://127.0.0.1:{proxy.port}/0'\n"))
        engine.pbx.agents["agent1"] = AgentBehaviour(answer_after_s=0.2, talk_s=0.5)
        replica = engine.acd.replica
        assert replica is not None
        await wait_until(lambda: replica.leading and engine.core.agents["agent1"].state.value == "ready", 10)

        proxy.cut()
        await wait_until(lambda: not replica.leading, 5)  # the next renewal fails: it leads no more
        assert metric(engine, "acd_node_leader") == 0
        call = await engine.pbx.place_call(CallerScript(hangup_after_bridge_s=0.3))

        def music_slices() -> int:
            return len([e for e in engine.pbx.events_named("MusicOnHoldStart") if e.get("Uniqueid") == call.uniqueid])

        await wait_until(lambda: music_slices() >= 3, 15)  # slice after slice of music, not routed
        assert not call.outcome.connected and not call.done.is_set()
        assert engine.pbx.agent_offers == {}  # fail closed: nobody rung without the log and a reservation
        assert metric(engine, "acd_redis_down") == 1
        assert metric(engine, "acd_redis_outages_total") == 1

        proxy.restore()
        await wait_until(lambda: call.outcome.connected, 15)  # the lease back, the queued caller routed
        assert replica.leading and replica.takeovers == 2  # led at the start, and again after the restore: no stale step-down
        assert engine.pbx.agent_offers == {"PJSIP/agent1": 1}
        await call.finished(10)
        await wait_until(lambda: metric(engine, "acd_redis_down") == 0, 5)
        # one outage for the cut, not one per failed call, and none more after the restore: the
        # connections the cut broke were dropped from the pools when it started
        assert metric(engine, "acd_redis_outages_total") == 1
        assert engine.redis_monitor.outages == 1 and engine.redis_monitor.pool_resets == 1
    finally:
        await proxy.stop()
        await drop_redis_keys(prefix)
