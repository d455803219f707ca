"""End to end over the simulated PBX: a caller goes IVR -> queue -> agent -> wrap-up, plus RONA,
abandon while ringing, and the re-sync after an AMI drop."""

import asyncio
import dataclasses

from acd.routing.model import AgentState
from acd.sim import AgentBehaviour, CallerScript
from tests.acd.conftest import wait_until


async def make_longest_idle(engine, first: str, then: str) -> None:
    """``first`` has been idle longer than ``then``: ``then`` pauses and comes back, through
    the API, a moment later (no poking at the core's fields)."""
    engine.acd.set_not_ready(then, "break")
    await asyncio.sleep(0.01)
    engine.acd.set_ready(then)
    assert engine.core.agents[first].idle_since < engine.core.agents[then].idle_since


def kinds(engine, call_id):
    return [e["kind"] for e in engine.calllog.timeline(call_id)]


async def test_caller_reaches_an_agent_then_wrap_up(make_engine):
    engine = await make_engine(n_agents=2)
    engine.pbx.agents["agent1"] = AgentBehaviour(answer_after_s=0.2, talk_s=0.5)
    engine.pbx.agents["agent2"] = AgentBehaviour(answer_after_s=0.2, talk_s=0.5)
    call = await engine.pbx.place_call(CallerScript(caller_id="+441234567890"))
    outcome = await call.finished(15)
    assert outcome.connected and outcome.agent in ("PJSIP/agent1", "PJSIP/agent2")
    assert not outcome.fallback
    assert outcome.recordings and outcome.recordings[0]["file"].endswith(f"{call.uniqueid}.wav")
    k = kinds(engine, call.uniqueid)
    for expected in ("call_start", "queue_enter", "routing_decision", "offer", "connected", "recording", "ended"):
        assert expected in k, (expected, k)
    agent_id = outcome.agent.split("/")[1]
    await wait_until(lambda: engine.core.agents[agent_id].state == AgentState.READY, 5)
    assert engine.core.agents[agent_id].calls_handled == 1
    assert engine.telemetry.queue_today("general").answered == 1
    metrics = engine.telemetry.render().decode()
    assert 'acd_queue_calls_answered_total{queue="general"} 1.0' in metrics
    assert outcome.max_silence_s < 1.5  # the caller heard prompts and music, never a long silence


async def test_rona_sends_the_call_to_the_next_agent(make_engine):
    engine = await make_engine(n_agents=2)
    engine.pbx.agents["agent1"] = AgentBehaviour(answer_after_s=None)  # rings out
    engine.pbx.agents["agent2"] = AgentBehaviour(answer_after_s=0.2, talk_s=0.5)
    await make_longest_idle(engine, "agent1", "agent2")  # agent1 is longest idle: offered first
    call = await engine.pbx.place_call(CallerScript())
    outcome = await call.finished(20)
    assert outcome.agent == "PJSIP/agent2"
    a1 = engine.core.agents["agent1"]
    assert a1.state == AgentState.NOT_READY and a1.reason == "no answer"
    assert engine.pbx.agent_offers == {"PJSIP/agent1": 1, "PJSIP/agent2": 1}
    timeline = engine.calllog.timeline(call.uniqueid)
    failed = [e for e in timeline if e["kind"] == "offer_failed"]
    assert failed and failed[0]["reason"] == "no answer"
    assert outcome.max_silence_s < 1.5


async def test_caller_hanging_up_while_the_agent_rings_cancels_the_leg(make_engine):
    engine = await make_engine(n_agents=1, queues="""
queues:
  - name: general
    ring_timeout_s: 30
    moh_slice_s: 2
    announce_position: false
""")
    engine.pbx.agents["agent1"] = AgentBehaviour(answer_after_s=None)
    call = await engine.pbx.place_call(CallerScript(hangup_after_s=2.0))
    outcome = await call.finished(15)
    assert not outcome.connected and outcome.hung_up_by == "caller"
    await wait_until(lambda: engine.core.agents["agent1"].state == AgentState.READY, 5)
    hangups = [a for a in engine.pbx.ami.actions_seen if a.name == "Hangup"]
    originate = [a for a in engine.pbx.ami.actions_seen if a.name == "Originate"][0]
    assert hangups and hangups[0].get("Channel") == originate.get("ChannelId")
    assert engine.telemetry.queue_today("general").abandoned == 1
    assert not engine.core.calls and not engine.core.offers


async def test_never_two_offers_to_one_agent(make_engine):
    engine = await make_engine(n_agents=2)
    for name in ("agent1", "agent2"):
        engine.pbx.agents[name] = AgentBehaviour(answer_after_s=0.1, talk_s=0.3)
    engine.acd.apply_config((dataclasses.replace(engine.core.queues["general"], wrapup_s=0.05),), ())
    busy = {}
    peak = {"max": 0}

    def on_event(event):
        if event.name == "Newchannel" and event.get("Channel", "").startswith("PJSIP/agent"):
            ep = event["Channel"].rsplit("-", 1)[0]
            busy[ep] = busy.get(ep, 0) + 1
            peak["max"] = max(peak["max"], busy[ep])
        elif event.name == "Hangup" and event.get("Channel", "").startswith("PJSIP/agent"):
            ep = event["Channel"].rsplit("-", 1)[0]
            busy[ep] -= 1

    engine.ami.subscribe("*", on_event)
    calls = [await engine.pbx.place_call(CallerScript(caller_id=f"+4420{i:08d}")) for i in range(6)]
    outcomes = await asyncio.gather(*(c.finished(40) for c in calls))
    assert all(o.connected for o in outcomes)
    assert peak["max"] == 1
    assert sum(a.calls_handled for a in engine.core.agents.values()) == 6


async def test_resync_after_ami_drop_repairs_state(make_engine):
    engine = await make_engine(n_agents=1)
    engine.pbx.agents["agent1"] = AgentBehaviour(answer_after_s=0.2, talk_s=30)
    call = await engine.pbx.place_call(CallerScript())
    await wait_until(lambda: engine.core.agents["agent1"].state == AgentState.ON_CALL, 10)
    engine.ami.reconnect_min = engine.ami.reconnect_max = 0.3
    engine.pbx.ami.drop_all()
    call.hangup()  # the caller leaves while the engine cannot hear it
    await wait_until(lambda: engine.core.agents["agent1"].state in (AgentState.WRAP_UP, AgentState.READY), 10)
    metrics = engine.telemetry.render().decode()
    assert 'acd_state_repairs_total{kind="connected_call"} 1.0' in metrics
    assert "acd_ami_reconnects_total 1.0" in metrics


async def test_overflow_when_no_agent_could_take_the_call(make_engine):
    engine = await make_engine(n_agents=1, queues="""
queues:
  - name: general
    skills: {general: 1}
    moh_slice_s: 1
    announce_position: false
  - name: specialists
    skills: {rocket_science: 1}
    overflow_to: general
    overflow_if_no_agents: true
    moh_slice_s: 1
""")
    engine.pbx.agents["agent1"] = AgentBehaviour(answer_after_s=0.1, talk_s=0.3)
    # route the next call to the specialists queue, which has nobody logged in
    from acd.routing.model import CallEntry

    async def via_specialists(channel):
        entry = CallEntry(channel.env.uniqueid, "specialists", channel.env.channel, engine.clock.now(), caller_number=channel.env.callerid)
        return await engine.acd.wait_in_queue(channel, entry)

    engine.ivr.flow_runner = via_specialists
    call = await engine.pbx.place_call(CallerScript())
    outcome = await call.finished(15)
    assert outcome.agent == "PJSIP/agent1"
    kinds_seen = [e["kind"] for e in engine.calllog.timeline(call.uniqueid)]
    assert "overflow" in kinds_seen


async def test_a_broken_wait_session_leaves_no_ghost_in_the_queue(make_engine):
    """If the caller's FastAGI session breaks while queued (here: Asterisk stops answering and
    the command times out), Asterisk takes the caller to acd-fallback; the engine must not keep
    the entry and ring an agent for it."""
    engine = await make_engine(n_agents=1, queues="""
queues:
  - name: general
    moh_slice_s: 1
    announce_position: false
""")
    engine.acd.set_not_ready("agent1", "break")  # nobody to take it while we break the session
    engine.acd.moh_margin_s = 0.5
    engine.pbx.time_scale = 5.0  # a 1 s music slice now takes 5 s: past the engine's 1.5 s limit
    engine.pbx.sound_seconds = lambda name: 0.01
    call = await engine.pbx.place_call(CallerScript())
    await wait_until(lambda: call.outcome.fallback, 10)  # the session ended: dialplan went on to acd-fallback
    # [acd-fallback] resumes the caller once (its session breaks the same way), then the plain queue
    await wait_until(lambda: "queue-periodic-announce" in call.outcome.prompts, 20)
    assert not engine.core.calls and not engine.core.offers
    timeline = engine.calllog.timeline(call.uniqueid)
    assert [e.get("reason") for e in timeline if e["kind"] == "queue_exit"] == ["engine_error", "engine_error"]
    assert "resumed" in [e["kind"] for e in timeline]


async def test_redis_live_state_keeps_an_agent_held_by_another_node(make_engine):
    """Two engine nodes on one Redis: an agent reserved by the other node is never rung here."""
    import uuid

    from acd.livestate.redis import RedisLiveStore

    prefix = f"acdtest:{uuid.uuid4().hex}"
    engine = await make_engine(n_agents=2, engine_yaml=f"live_state:\n  backend: redis\n  key_prefix: {prefix}\nengine:\n  node_id: node-a\n")
    other_node = RedisLiveStore(prefix=prefix)
    try:
        assert await other_node.reserve("agent1", "offer-from-node-b", "node-b", 60)
        engine.pbx.agents["agent1"] = AgentBehaviour(answer_after_s=0.1, talk_s=0.3)
        engine.pbx.agents["agent2"] = AgentBehaviour(answer_after_s=0.1, talk_s=0.3)
        await make_longest_idle(engine, "agent1", "agent2")  # agent1 would be chosen first
        call = await engine.pbx.place_call(CallerScript())
        outcome = await call.finished(15)
        assert outcome.agent == "PJSIP/agent2"
        assert "PJSIP/agent1" not in engine.pbx.agent_offers  # never rung
        assert engine.core.agents["agent1"].reason == "busy on another node"
        await wait_until(lambda: engine.core.agents["agent2"].state == AgentState.READY, 5)
        await asyncio.sleep(0.1)  # the release is a background store operation
        assert await other_node.holder("agent2") is None  # released after the call
        assert await other_node.holder("agent1") == "offer-from-node-b"
    finally:
        keys = [k async for k in other_node.redis.scan_iter(f"{prefix}:*")]
        if keys:
            await other_node.redis.delete(*keys)
        await other_node.close()


async def test_join_empty_leave_when_empty_and_overflow_on_estimated_wait(make_engine):
    engine = await make_engine(n_agents=1, queues="""
queues:
  - {name: general, moh_slice_s: 1, announce_position: false, announce_ewt: false}
  - {name: night, skills: {night: 1}, join_empty: false, moh_slice_s: 1, announce_position: false}
  - {name: day, leave_when_empty: true, moh_slice_s: 1, announce_position: false, announce_ewt: false}
  - {name: busy, overflow_to: general, overflow_if_ewt_s: 60, default_handle_s: 600, moh_slice_s: 1, announce_position: false, announce_ewt: false}
""")
    from acd.routing.model import CallEntry

    results: dict[str, str] = {}

    def via(queue):
        async def run(channel):
            entry = CallEntry(channel.env.uniqueid, queue, channel.env.channel, engine.clock.now(), caller_number=channel.env.callerid)
            results[queue] = await engine.acd.wait_in_queue(channel, entry)
            return results[queue]
        return run

    engine.ivr.flow_runner = via("night")  # nobody has the night skill: the call is not queued at all
    call = await engine.pbx.place_call(CallerScript())
    await wait_until(lambda: "night" in results, 10)
    assert results["night"] == "empty" and "queue_refused" in kinds(engine, call.uniqueid)
    call.hangup()

    engine.acd.set_not_ready("agent1", "break")
    engine.ivr.flow_runner = via("day")
    call = await engine.pbx.place_call(CallerScript())
    await wait_until(lambda: call.uniqueid in engine.core.calls, 10)
    engine.acd.logout("agent1")  # the last agent who could take it leaves
    await wait_until(lambda: "day" in results, 10)
    assert results["day"] == "empty"
    # the engine handled it (the flow's overflow route would take it): the dialplan does not resume it
    await wait_until(lambda: "queue-periodic-announce" in call.outcome.prompts, 10)
    assert [e.get("reason") for e in engine.calllog.timeline(call.uniqueid) if e["kind"] == "queue_exit"] == ["empty"]
    assert "resumed" not in kinds(engine, call.uniqueid)
    call.hangup()

    engine.acd.login("agent1")
    engine.pbx.agents["agent1"] = AgentBehaviour(answer_after_s=0.1, talk_s=30)
    engine.ivr.flow_runner = via("busy")
    first = await engine.pbx.place_call(CallerScript())  # agent1 takes it: busy for a while
    await wait_until(lambda: engine.core.agents["agent1"].state == AgentState.ON_CALL, 10)
    call = await engine.pbx.place_call(CallerScript())  # next in line, one agent, 600 s handle time
    await wait_until(lambda: any(e["kind"] == "overflow" for e in engine.calllog.timeline(call.uniqueid)), 10)
    [overflow] = [e for e in engine.calllog.timeline(call.uniqueid) if e["kind"] == "overflow"]
    assert (overflow["to"], overflow["reason"]) == ("general", "estimated wait")
    call.hangup()
    first.hangup()


async def test_recordings_go_to_the_configured_folder_and_a_queue_can_opt_out(make_engine, tmp_path):
    """recording.dir is where MixMonitor is told to write; a queue with record: false is not
    recorded (issue #12.7)."""
    queues = """
queues:
  - name: general
    skills: {general: 1}
    ring_timeout_s: 1.0
    wrapup_s: 0.3
    moh_slice_s: 2
    announce_position: false
    service_level_s: 20
    record: %s
"""
    folder = tmp_path / "recs"
    engine = await make_engine(n_agents=1, queues=queues % "true", engine_yaml=f"recording:\n  dir: {folder}/\n")
    engine.pbx.agents["agent1"] = AgentBehaviour(answer_after_s=0.1, talk_s=0.3)
    call = await engine.pbx.place_call(CallerScript(caller_id="+441234567890"))
    outcome = await call.finished(15)
    assert outcome.connected
    assert [r["file"] for r in outcome.recordings] == [f"{folder}/{call.uniqueid}.wav"]

    quiet = await make_engine(n_agents=1, queues=queues % "false")
    quiet.pbx.agents["agent1"] = AgentBehaviour(answer_after_s=0.1, talk_s=0.3)
    call = await quiet.pbx.place_call(CallerScript(caller_id="+441234567891"))
    outcome = await call.finished(15)
    assert outcome.connected and outcome.recordings == []
    assert not [a for a in quiet.pbx.ami.actions_seen if a.name.lower() == "mixmonitor"]
    assert "recording" not in kinds(quiet, call.uniqueid)
