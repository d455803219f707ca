"""End to end over the simulated PBX: a caller goes IVR -> queue -> agent -> wrap-up, plus RONA,
abandon while ringing, and the re-sync after an AMI drop.

On virtual time (``acd.vtime``) with a contact centre's settings: agents ring for 20 s, wrap up
for 30 s, talk for minutes, and a RONA'd agent comes back after the engine's 30 s; nothing here
sleeps on the wall clock or pokes the engine's internals."""

import asyncio

import pytest

from acd.routing.model import AgentState
from acd.sim import AgentBehaviour, CallerScript
from tests.acd.conftest import wait_until

pytestmark = pytest.mark.virtual_time


async def make_longest_idle(engine, first: str, then: str) -> None:
    """``first`` has been idle longer than ``then``: ``then`` takes a one-minute break through
    the API (virtual time: the minute costs nothing)."""
    assert await engine.acd.settled()  # with a shared log the inputs apply once the log has them
    engine.acd.set_not_ready(then, "break")
    assert await engine.acd.settled()
    await asyncio.sleep(60)
    engine.acd.set_ready(then)
    assert await engine.acd.settled()
    assert engine.core.agents[first].idle_since < engine.core.agents[then].idle_since


def kinds(engine, call_id):
    return [e["kind"] for e in engine.calllog.timeline(call_id)]


async def test_caller_reaches_an_agent_then_wrap_up(make_engine):
    engine = await make_engine(n_agents=2)
    engine.pbx.agents["agent1"] = AgentBehaviour(answer_after_s=3, talk_s=180)
    engine.pbx.agents["agent2"] = AgentBehaviour(answer_after_s=3, talk_s=180)
    call = await engine.pbx.place_call(CallerScript(caller_id="+441234567890"))
    outcome = await call.finished(300)
    assert 180 <= outcome.unbridged_at - outcome.bridged_at < 181
    assert outcome.connected and outcome.agent in ("PJSIP/agent1", "PJSIP/agent2")
    assert not outcome.fallback
    assert outcome.recordings and outcome.recordings[0]["file"].endswith(f"{call.uniqueid}.wav")
    k = kinds(engine, call.uniqueid)
    for expected in ("call_start", "queue_enter", "routing_decision", "offer", "connected", "recording", "ended"):
        assert expected in k, (expected, k)
    agent_id = outcome.agent.split("/")[1]
    assert engine.core.agents[agent_id].state == AgentState.WRAP_UP
    ended = asyncio.get_running_loop().time()
    await wait_until(lambda: engine.core.agents[agent_id].state == AgentState.READY, 60)
    assert 29 <= asyncio.get_running_loop().time() - ended <= 31  # the queue's 30 s wrap-up
    assert engine.core.agents[agent_id].calls_handled == 1
    assert engine.telemetry.queue_today("general").answered == 1
    metrics = engine.telemetry.render().decode()
    assert 'acd_queue_calls_answered_total{queue="general"} 1.0' in metrics
    assert outcome.max_silence_s < 1.5  # the caller heard prompts and music, never a long silence


async def test_rona_sends_the_call_to_the_next_agent(make_engine):
    engine = await make_engine(n_agents=2)
    engine.pbx.agents["agent1"] = AgentBehaviour(answer_after_s=None)  # rings out
    engine.pbx.agents["agent2"] = AgentBehaviour(answer_after_s=3, talk_s=120)
    await make_longest_idle(engine, "agent1", "agent2")  # agent1 is longest idle: offered first
    loop = asyncio.get_running_loop()
    call = await engine.pbx.place_call(CallerScript())
    await wait_until(lambda: engine.core.agents["agent1"].reason == "no answer", 60)
    rona_at = loop.time()
    a1 = engine.core.agents["agent1"]
    assert a1.state == AgentState.NOT_READY
    await wait_until(lambda: a1.state == AgentState.READY, 60)  # RONA recovery: back after 30 s
    assert 29 <= loop.time() - rona_at <= 31
    outcome = await call.finished(300)
    assert outcome.agent == "PJSIP/agent2"
    assert 20 <= outcome.bridged_at - outcome.started <= 40  # rang agent1 for its 20 s first
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
    moh_slice_s: 20
    announce_position: false
""")
    engine.pbx.agents["agent1"] = AgentBehaviour(answer_after_s=None)
    call = await engine.pbx.place_call(CallerScript(hangup_after_s=12.0))
    await wait_until(lambda: engine.core.agents["agent1"].state == AgentState.RINGING, 10)
    outcome = await call.finished(60)
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
        engine.pbx.agents[name] = AgentBehaviour(answer_after_s=2, talk_s=45)
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
    outcomes = await asyncio.gather(*(c.finished(600) for c in calls))
    assert all(o.connected for o in outcomes)
    answered = sorted(o.bridged_at for o in outcomes)  # two at a time, each pair after talk + wrap-up
    assert answered[2] - answered[0] >= 45 + 30 and answered[4] - answered[2] >= 45 + 30
    assert peak["max"] == 1
    assert sum(a.calls_handled for a in engine.core.agents.values()) == 6


async def test_resync_after_ami_drop_repairs_state(make_engine):
    engine = await make_engine(n_agents=1)
    engine.pbx.agents["agent1"] = AgentBehaviour(answer_after_s=3, talk_s=300)
    call = await engine.pbx.place_call(CallerScript())
    await wait_until(lambda: engine.core.agents["agent1"].state == AgentState.ON_CALL, 30)
    engine.pbx.ami.drop_all(down_for_s=10)
    call.hangup()  # the caller leaves while the engine cannot hear it
    await wait_until(lambda: engine.core.agents["agent1"].state in (AgentState.WRAP_UP, AgentState.READY), 60)
    metrics = engine.telemetry.render().decode()
    assert 'acd_state_repairs_total{kind="connected_call"} 1.0' in metrics
    assert "acd_ami_reconnects_total 1.0" in metrics


async def test_overflow_when_no_agent_could_take_the_call(make_engine):
    engine = await make_engine(n_agents=1, queues="""
queues:
  - name: general
    skills: {general: 1}
    moh_slice_s: 20
    announce_position: false
  - name: specialists
    skills: {rocket_science: 1}
    overflow_to: general
    overflow_if_no_agents: true
    moh_slice_s: 20
""")
    engine.pbx.agents["agent1"] = AgentBehaviour(answer_after_s=3, talk_s=60)
    # route the next call to the specialists queue, which has nobody logged in
    from acd.routing.model import CallEntry

    async def via_specialists(channel):
        entry = CallEntry(channel.env.uniqueid, "specialists", channel.env.channel, engine.clock.now(), caller_number=channel.env.callerid)
        return await engine.acd.wait_in_queue(channel, entry)

    engine.ivr.flow_runner = via_specialists
    call = await engine.pbx.place_call(CallerScript())
    outcome = await call.finished(120)
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
    moh_slice_s: 20
    announce_position: false
""")
    engine.acd.set_not_ready("agent1", "break")  # nobody to take it while we break the session
    engine.pbx.time_scale = 3.0  # Asterisk crawls: a 20 s music slice takes 60 s, past the engine's 20 + 30 s limit
    call = await engine.pbx.place_call(CallerScript())
    await wait_until(lambda: call.outcome.fallback, 300)  # the session ended: dialplan went on to acd-fallback
    # [acd-fallback] resumes the caller once (its session breaks the same way), then the plain queue
    await wait_until(lambda: "queue-periodic-announce" in call.outcome.prompts, 600)
    assert not engine.core.calls and not engine.core.offers
    timeline = engine.calllog.timeline(call.uniqueid)
    assert [e.get("reason") for e in timeline if e["kind"] == "queue_exit"] == ["engine_error", "engine_error"]
    assert "resumed" in [e["kind"] for e in timeline]


async def test_join_empty_leave_when_empty_and_overflow_on_estimated_wait(make_engine):
    engine = await make_engine(n_agents=1, queues="""
queues:
  - {name: general, moh_slice_s: 20, announce_position: false, announce_ewt: false}
  - {name: night, skills: {night: 1}, join_empty: false, moh_slice_s: 20, announce_position: false}
  - {name: day, leave_when_empty: true, moh_slice_s: 20, announce_position: false, announce_ewt: false}
  - {name: busy, overflow_to: general, overflow_if_ewt_s: 60, default_handle_s: 600, moh_slice_s: 20, announce_position: false, announce_ewt: false}
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
    await wait_until(lambda: "day" in results, 60)  # noticed at the end of the music slice
    assert results["day"] == "empty"
    # the engine handled it (the flow's overflow route would take it): the dialplan does not resume it
    await wait_until(lambda: "queue-periodic-announce" in call.outcome.prompts, 10)
    assert [e.get("reason") for e in engine.calllog.timeline(call.uniqueid) if e["kind"] == "queue_exit"] == ["empty"]
    assert "resumed" not in kinds(engine, call.uniqueid)
    call.hangup()

    engine.acd.login("agent1")
    engine.pbx.agents["agent1"] = AgentBehaviour(answer_after_s=3, talk_s=600)
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
