"""What tests can observe on the simulator: silence gaps, keys heard or lost, recordings with
their mute intervals, snapshots (CoreShowChannels, Status, BridgeList, DeviceStateList) in the
recorded formats, Redirect, per-call agent behaviour, the demo traffic."""

from __future__ import annotations

import asyncio
import random

import pytest

from acd.agi import AgiChannel
from acd.ami.codec import AmiClientDecoder
from acd.ami.frames import Event
from acd.sim import AgentBehaviour, CallerScript, SimPbx
from acd.sim.demo import DemoTraffic, demo_agents
from tests.sim.helpers import CONNECT, MiniEngine, RawAmi, wait_until
from tests.sim.test_call_flows import caller_waiting, originate

SNAP = CONNECT / "exp7_snapshots" / "a_hold_plus_bridged"


def snapshot_frames(name: str):
    text = next(SNAP.glob(f"snapshot_*_{name}.txt")).read_text()
    body = text.split("\n", 1)[1].replace("\n", "\r\n")
    return AmiClientDecoder().feed(b"Asterisk Call Manager/11.0.0\r\n" + body.encode())[1:]


async def make(ivr=None, scale=0.05, **agents):
    engine = MiniEngine(ivr)
    await engine.server.start()
    pbx = SimPbx(agi_port=engine.server.port, time_scale=scale, agents={k: v for k, v in agents.items()})
    await pbx.start()
    ami = await RawAmi(pbx.ami_port).connect()
    await ami.login()
    return engine, pbx, ami


async def close(engine, pbx, ami):
    for name, step in [("ami", ami.close()), ("pbx", pbx.stop()), ("engine", engine.server.stop())]:
        try:
            await asyncio.wait_for(step, 10)
        except TimeoutError:
            stuck = [f"{t.get_name()}: {t.get_stack(limit=1)}" for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            raise AssertionError(f"{name} did not stop: {stuck}") from None


async def test_keys_silence_and_prompts_of_an_ivr_call():
    got = {}

    async def ivr(ch: AgiChannel):
        await ch.answer()
        await ch.stream_file("welcome")
        got["menu"] = await ch.get_data("menu", 3000, 1)
        await asyncio.sleep(0.1)  # the engine thinks for 2 simulated seconds: dead air
        got["account"] = await ch.get_data("enter-account", 3000, 6)

    engine, pbx, ami = await make(ivr)
    try:
        call = await pbx.place_call(CallerScript(keys="2,4711#", think_s=0.5, inter_digit_s=0.2))
        await wait_until(lambda: "account" in got, 5)
        call.hangup()
        out = await call.finished(5)
        assert got["menu"].digits == "2" and got["account"].digits == "4711" and not got["account"].timed_out
        assert out.prompts == ["welcome", "menu", "enter-account"]
        assert [k.digit for k in out.keys] == list("24711#") and all(k.heard for k in out.keys)
        assert 1.8 < out.max_silence_s < 2.5  # the engine's pause, in simulated seconds
        assert any(g.during == "input" for g in out.silence_gaps)
        dtmf = [e for e in ami.events("DTMFEnd") if e["Uniqueid"] == call.uniqueid]
        assert [e["Digit"] for e in dtmf] == list("24711#")
        assert dtmf[0].headers.keys()[-3:] == ["Digit", "DurationMs", "Direction"]
    finally:
        await close(engine, pbx, ami)


async def test_timeline_keys_are_lost_when_nothing_listens():
    async def ivr(ch: AgiChannel):
        await ch.exec("Wait", "2")  # nothing reads keys for 2 s
        await ch.wait_for_digit(5000)

    engine, pbx, ami = await make(ivr)
    try:
        call = await pbx.place_call(CallerScript(keys=[(0.5, "9"), (2.5, "5")]))
        await wait_until(lambda: len(call.outcome.keys) == 2, 5)
        assert [(k.digit, k.heard) for k in call.outcome.keys] == [("9", False), ("5", True)]
        call.hangup()
        await call.finished(5)
    finally:
        await close(engine, pbx, ami)


async def test_recording_mute_intervals_show_whether_a_secret_was_recorded():
    engine, pbx, ami = await make(agent1=AgentBehaviour(answer_after_s=0.5, talk_s=None))
    try:
        call = await caller_waiting(engine, pbx)
        r = await ami.action("MixMonitor", [("Channel", call.channel.name), ("File", f"/tmp/rec-{call.uniqueid}.wav"), ("Options", "i(ACD_MMID)")], action_id="mixmonitor-start")
        assert r.status == "Success" and r.get("MixMonitorID", "").startswith("0x")
        assert r.headers.keys() == ["Response", "ActionID", "MixMonitorID"]
        call.press("1")  # not a secret: recorded
        await asyncio.sleep(0.05)
        r = await ami.action("MixMonitorMute", [("Channel", call.channel.name), ("Direction", "both"), ("State", "1")], action_id="mute-both-on")
        assert (r.status, r.headers.keys()) == ("Success", ["Response", "ActionID"])
        call.press("2468")  # the PIN, while muted
        await asyncio.sleep(0.05)
        await ami.action("MixMonitorMute", [("Channel", call.channel.name), ("Direction", "both"), ("State", "0")], action_id="mute-both-off")
        call.press("9")
        await asyncio.sleep(0.05)
        r = await ami.action("StopMixMonitor", [("Channel", call.channel.name), ("MixMonitorID", call.channel.variables["ACD_MMID"])], action_id="mixmonitor-stop")
        assert r.status == "Success"
        r = await ami.action("StopMixMonitor", [("Channel", call.channel.name)], action_id="mixmonitor-stop-again")
        assert (r.status, r.message) == ("Error", "Could not stop monitoring channel")
        r = await ami.action("MixMonitorMute", [("Channel", call.channel.name), ("Direction", "both"), ("State", "1")], action_id="mute-after-stop")
        assert (r.status, r.message) == ("Error", "Cannot set mute flag")
        rec = call.outcome.recordings[0]
        assert rec["file"] == f"/tmp/rec-{call.uniqueid}.wav" and len(rec.mutes) == 1 and rec.stopped is not None
        assert call.outcome.keys_in_recordings() == "19"
        names = [e.name for e in ami.events() if e.name.startswith("MixMonitor")]
        assert names == ["MixMonitorStart", "MixMonitorMute", "MixMonitorMute", "MixMonitorStop"]
        mute = next(e for e in ami.events("MixMonitorMute"))
        assert mute.headers.keys()[-2:] == ["Direction", "State"]
        call.hangup()
        await call.finished(5)
    finally:
        await close(engine, pbx, ami)


async def test_snapshots_have_the_recorded_formats():
    engine, pbx, ami = await make(agent1=AgentBehaviour(answer_after_s=0.5, talk_s=None), agent2=AgentBehaviour())
    try:
        holding = await caller_waiting(engine, pbx)
        bridged = await caller_waiting(engine, pbx)
        originate(ami, "agent1", "acd-agent-snap-1", bridged.uniqueid)
        await wait_until(lambda: bridged.outcome.connected, 5)
        await asyncio.sleep(0.02)
        ami.send(b"Action: CoreShowChannels\r\nActionID: snap-1-coreshowchannels\r\n\r\n")
        done = await ami.wait_for(lambda f: isinstance(f, Event) and f.name == "CoreShowChannelsComplete")
        items = [e for e in ami.events("CoreShowChannel")]
        rec = [f for f in snapshot_frames("CoreShowChannels") if isinstance(f, Event) and f.name == "CoreShowChannel"]
        assert [e.headers.keys() for e in items] == [e.headers.keys() for e in rec]
        assert [e["Uniqueid"] for e in items] == ["acd-agent-snap-1", bridged.uniqueid, holding.uniqueid]  # newest first
        agent, caller_b, caller_a = items
        assert (agent["Application"], agent["ApplicationData"]) == ("Bridge", f"{bridged.uniqueid},x")
        assert (caller_b["Application"], caller_b["Priority"], caller_b["BridgeId"] != "") == ("", "3", True)  # after AGI() (recorded 4, with Answer() before it)
        assert (caller_a["Application"], caller_a["ApplicationData"], caller_a["BridgeId"]) == ("MusicOnHold", "default,20", "")
        assert done.headers.keys() == [f for f in snapshot_frames("CoreShowChannels") if isinstance(f, Event)][-1].headers.keys()
        for action, complete in [("DeviceStateList", "DeviceStateListComplete"), ("BridgeList", "BridgeListComplete")]:
            ami.send(f"Action: {action}\r\nActionID: snap-{action}\r\n\r\n".encode())
            await ami.wait_for(lambda f: isinstance(f, Event) and f.name == complete)
            mine = [f for f in ami.frames if getattr(f, "action_id", None) == f"snap-{action}"]
            theirs = snapshot_frames(action)
            assert [(type(f).__name__, f.headers.keys()) for f in mine[:2]] == [(type(f).__name__, f.headers.keys()) for f in theirs[:2]]
            assert mine[-1].headers.keys() == theirs[-1].headers.keys()
        devices = {e["Device"]: e["State"] for e in ami.events("DeviceStateChange") if e.action_id == "snap-DeviceStateList"}
        assert devices["PJSIP/agent1"] == "INUSE" and devices["PJSIP/agent2"] == "NOT_INUSE" and devices["PJSIP/caller"] == "INUSE"
        ami.send(b"Action: Status\r\nActionID: snap-7-status\r\nChannel: acd-agent-snap-1\r\nAllVariables: true\r\n\r\n")
        await ami.wait_for(lambda f: isinstance(f, Event) and f.name == "StatusComplete")
        status = [e for e in ami.events("Status")][0]
        rec_status = [f for f in snapshot_frames("Status") if isinstance(f, Event) and f.name == "Status"][0]
        keys = lambda e: [k for k in e.headers.keys() if k != "Variable"]
        assert keys(status) == keys(rec_status) and status.headers.keys()[-1] == "ActionID"
        assert f"ACD_CALLER={bridged.uniqueid}" in status.headers.get_all("Variable")
        ami.send(f"Action: Status\r\nActionID: snap-6-status\r\nChannel: {holding.channel.name}\r\nVariables: ACD_CALLER,BRIDGEPEER\r\n\r\n".encode())
        complete = await ami.wait_for(lambda f: isinstance(f, Event) and f.name == "StatusComplete" and f.action_id == "snap-6-status")
        assert complete.headers.keys() == ["Event", "ActionID", "EventList", "ListItems", "Items"]
        holding.hangup()
        bridged.hangup()
        await holding.finished(5)
        await bridged.finished(5)
    finally:
        await close(engine, pbx, ami)


async def test_redirect_inside_agi_waits_for_the_engine_to_close():
    """FINDINGS §5: a Redirect of a caller in FastAGI gets -1/HANGUP, and moves only when the
    engine closes the session."""
    engine, pbx, ami = await make()
    try:
        call = await caller_waiting(engine, pbx)
        r = await ami.action("Redirect", [("Channel", call.channel.name), ("Context", "acd-fallback"), ("Exten", "s"), ("Priority", "1")], action_id="redirect-caller")
        assert (r.status, r.message) == ("Success", "Redirect successful")
        await wait_until(lambda: call.outcome.fallback or call.channel.context == "acd-fallback", 5)
        assert call.uniqueid in engine.bridged_away  # the engine saw the session end
        exec_end = [e for e in ami.events("AGIExecEnd") if e["Uniqueid"] == call.uniqueid]
        assert exec_end  # no masquerade: AGIExecEnd is visible
        call.hangup()
        await call.finished(5)
        r = await ami.action("Redirect", [("Channel", "PJSIP/nobody-00000000"), ("Context", "x"), ("Exten", "s"), ("Priority", "1")])
        assert r.status == "Error"
    finally:
        await close(engine, pbx, ami)


async def test_per_call_behaviour_overrides_and_add_agent():
    engine, pbx, ami = await make()
    try:
        pbx.add_agent("agent1", AgentBehaviour(answer_after_s=0.3, talk_s=0.5), per_call=[AgentBehaviour.never_answer()])
        call = await caller_waiting(engine, pbx)
        originate(ami, "agent1", "acd-o-1", call.uniqueid, timeout_ms=1000, action_id="o1")
        first = await ami.wait_for(lambda f: isinstance(f, Event) and f.name == "OriginateResponse" and f.action_id == "o1", 5)
        assert (first["Response"], first["Reason"]) == ("Failure", "3")
        originate(ami, "agent1", "acd-o-2", call.uniqueid, timeout_ms=1000, action_id="o2")
        out = await call.finished(5)
        assert out.agent == "PJSIP/agent1" and pbx.agent_offers["PJSIP/agent1"] == 2
    finally:
        await close(engine, pbx, ami)


async def test_demo_traffic_places_varied_calls():
    engine, pbx, ami = await make(scale=0.01)
    try:
        rng = random.Random(7)
        pbx.agents.update(demo_agents(["PJSIP/agent1", "PJSIP/agent2"], rng))
        demo = DemoTraffic(pbx, calls_per_minute=600, rng=rng)
        demo.start()
        await wait_until(lambda: demo.placed >= 5, 10)
        await demo.stop()
        assert len({c.script.caller_id for c in demo.calls}) == len(demo.calls)
        assert {c.script.name for c in demo.calls} <= {"impatient", "callback", "barge-in", "account", "regular"}
        assert demo.summary()["placed"] == demo.placed
    finally:
        await close(engine, pbx, ami)


async def test_dial_from_the_ivr_reaches_agents_like_the_recorded_dial():
    """``EXEC Dial`` inside the IVR session (the Redirect+Dial fallback design, exp4)."""
    results = {}

    async def ivr(ch: AgiChannel):
        results["rona"] = await ch.exec("Dial", "PJSIP/agent2,2,m")
        results["rona_status"] = await ch.get_variable("DIALSTATUS")
        results["answer"] = await ch.exec("Dial", "PJSIP/agent1,20,m")

    engine, pbx, ami = await make(ivr, agent1=AgentBehaviour(answer_after_s=1, talk_s=2), agent2=AgentBehaviour.never_answer())
    try:
        call = await pbx.place_call(CallerScript(caller_id="caller", caller_name="ACD Caller"))
        out = await call.finished(5)
        assert (results["rona"], results["rona_status"]) == (0, "NOANSWER")
        assert out.agent == "PJSIP/agent1" and out.talk_s == pytest.approx(2, abs=0.3) and out.hung_up_by == "agent"
        rec = [f for f in AmiClientDecoder().feed(__import__("tests.transcripts", fromlist=["received"]).received(CONNECT / "exp4_redirect_dial" / "a_answer" / "ami.txt")) if isinstance(f, Event)]
        for name in ["DialBegin", "DialState", "DialEnd", "BridgeEnter"]:
            mine = next(e for e in ami.events(name) if "agent1" in (e.get("DestChannel") or e.get("Channel") or ""))
            theirs = next(e for e in rec if e.name == name and "agent1" in (e.get("DestChannel") or e.get("Channel") or ""))
            assert mine.headers.keys() == theirs.headers.keys(), name
        enters = [e["Channel"].split("-")[0] for e in ami.events("BridgeEnter")]
        assert enters == ["PJSIP/agent1", "PJSIP/caller"]  # the called agent enters first
        ends = [(e["DestChannel"].split("-")[0], e["DialStatus"]) for e in ami.events("DialEnd")]
        assert ends == [("PJSIP/agent2", "NOANSWER"), ("PJSIP/agent1", "ANSWER")]
        assert out.max_silence_s < 0.5  # music while the agents rang
    finally:
        await close(engine, pbx, ami)
