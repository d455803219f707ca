"""The simulator's AMI events for the connect design (Originate into acd-connect, FastAGI claim,
Bridge(${ACD_CALLER},x)) against the runs recorded on Asterisk 22.10.1 (connect/exp1..exp6):
same events with the same header keys in the same order, and the same order of events wherever
the recorded runs agree among themselves (Asterisk itself varies a few orders from run to run,
e.g. where OriginateResponse falls)."""

from __future__ import annotations

import asyncio

import pytest

from acd.ami.codec import encode_action
from acd.ami.frames import Event
from acd.sim import AgentBehaviour, CallerScript, SimPbx
from tests.sim.helpers import CONNECT, MiniEngine, RawAmi, recorded_events, wait_until

EXP1 = CONNECT / "exp1_bridge_from_agent"
ANSWERED_RUNS = [p for p in sorted(CONNECT.glob("exp*/*/ami.txt")) if p.parent.parent.name in ("exp1_bridge_from_agent", "exp2_fastagi_bridged_away", "exp6_mixmonitor") and p.parent.name != "g_double_answer_race"]
NAMES = {
    "Newchannel", "NewCallerid", "NewConnectedLine", "DialBegin", "DialState", "DialEnd", "Newstate", "OriginateResponse",
    "BridgeCreate", "BridgeEnter", "BridgeLeave", "BridgeDestroy", "MusicOnHoldStop", "HangupRequest",
    "SoftHangupRequest", "Hangup", "DeviceStateChange",
}


def role(e: Event) -> str:
    ch = e.get("Channel") or e.get("DestChannel") or e.get("Device") or ""
    name = ch.split("/", 1)[-1]
    return "caller" if name.startswith("caller") else "agent2" if name.startswith("agent2") else "agent" if name.startswith("agent") else ""


def label(e: Event) -> str:
    extra = ""
    if e.name == "Newstate":
        extra = ":" + (e.get("ChannelStateDesc") or "")
    if e.name == "DeviceStateChange":
        extra = ":" + (e.get("State") or "")
    return f"{e.name}:{role(e)}{extra}".rstrip(":")


def labels(events: list[Event], start_at: str | None = None) -> list[str]:
    out = [label(e) for e in events if e.name in NAMES and role(e) != "" or e.name in ("BridgeCreate", "BridgeDestroy")]
    if start_at is not None:
        out = out[out.index(start_at):]
    return out


def assert_consistent_order(ours: list[str], recorded: list[list[str]]) -> None:
    """Wherever every recorded run puts x before y, ours must too (first occurrences)."""
    def first(seq: list[str]) -> dict[str, int]:
        idx: dict[str, int] = {}
        for i, x in enumerate(seq):
            idx.setdefault(x, i)
        return idx

    mine = first(ours)
    runs = [first(r) for r in recorded]
    common = [x for x in mine if all(x in r for r in runs)]
    assert len(common) >= 6, f"too few common events to compare: {common}"
    for i, x in enumerate(common):
        for y in common[i + 1:]:
            if all(r[x] < r[y] for r in runs):
                assert mine[x] < mine[y], f"{x} must come before {y} (as in every recorded run)\nours: {ours}"
            if all(r[y] < r[x] for r in runs):
                assert mine[y] < mine[x], f"{y} must come before {x} (as in every recorded run)\nours: {ours}"


def assert_same_keys(ours: list[Event], recorded: list[Event], name: str, who: str | None = None, **match: str) -> None:
    def pick(events: list[Event]) -> Event:
        for e in events:
            if e.name == name and (who is None or role(e) == who) and all(e.get(k) == v for k, v in match.items()):
                return e
        raise AssertionError(f"no {name} {who or ''} {match}")

    mine, theirs = pick(ours), pick(recorded)
    assert mine.headers.keys() == theirs.headers.keys(), f"{name} {who}: {mine.headers.keys()} != {theirs.headers.keys()}"


@pytest.fixture
async def world():
    engine = MiniEngine()
    await engine.server.start()
    pbx = SimPbx(agi_port=engine.server.port, time_scale=0.05, agents={
        "agent1": AgentBehaviour(answer_after_s=1, talk_s=3),
        "agent2": AgentBehaviour(answer_after_s=None),
        "agent3": AgentBehaviour(busy=True),
        "agent4": AgentBehaviour(unreachable=True),
    })
    await pbx.start()
    ami = await RawAmi(pbx.ami_port).connect()
    await ami.login()
    yield engine, pbx, ami
    await ami.close()
    await pbx.stop()
    await engine.server.stop()


def originate(ami: RawAmi, agent: str, channel_id: str, caller_uid: str | None, timeout_ms: int = 15000, action_id: str = "orig-agent1", caller_id: str | None = '"ACD caller" <8001>') -> None:
    headers = [("ActionID", action_id), ("Channel", f"PJSIP/{agent}"), ("Context", "acd-connect"), ("Exten", "s"), ("Priority", "1"), ("Async", "true"), ("Timeout", str(timeout_ms))]
    if caller_id:
        headers.append(("CallerID", caller_id))
    headers.append(("ChannelId", channel_id))
    if caller_uid:
        headers.append(("Variable", f"ACD_CALLER={caller_uid}"))
    ami.send(encode_action("Originate", headers))


async def caller_waiting(engine: MiniEngine, pbx: SimPbx, script: CallerScript | None = None):
    call = await pbx.place_call(script or CallerScript(caller_id="caller", caller_name="ACD Caller"))
    await wait_until(lambda: call.uniqueid in engine.callers)
    await wait_until(lambda: call.channel.moh_class is not None)
    return call


async def test_answered_offer_agent_hangs_up_matches_recorded_runs(world):
    engine, pbx, ami = world
    call = await caller_waiting(engine, pbx)
    originate(ami, "agent1", "acd-offer-1", call.uniqueid)
    outcome = await call.finished(10)
    # both legs' Hangup read off the AMI socket (the caller's can follow the agent's)
    await wait_until(lambda: {role(e) for e in ami.events() if e.name == "Hangup"} >= {"agent", "caller"})
    ours = ami.events()
    rec_c = recorded_events(EXP1 / "c_option_x_agent_hup" / "ami.txt")
    for name, who in [("Newchannel", "agent"), ("NewCallerid", "agent"), ("NewConnectedLine", "agent"), ("DialBegin", None), ("DialState", None),
                      ("Newstate", "agent"), ("DialEnd", None), ("BridgeCreate", None), ("MusicOnHoldStop", "caller"), ("BridgeEnter", "caller"),
                      ("BridgeEnter", "agent"), ("HangupRequest", "agent"), ("BridgeLeave", "agent"), ("BridgeLeave", "caller"),
                      ("SoftHangupRequest", "agent"), ("BridgeDestroy", None), ("Hangup", "agent"), ("Hangup", "caller"), ("DeviceStateChange", None)]:
        assert_same_keys(ours, rec_c, name, who)
    assert_same_keys(ours, rec_c, "OriginateResponse", Response="Success")
    # the connect phase: consistent with every answered run recorded
    connect = [x for x in labels(ours, "Newchannel:agent") if not x.startswith(("HangupRequest", "BridgeLeave", "SoftHangup", "Hangup", "BridgeDestroy")) and x != "DeviceStateChange:agent:NOT_INUSE" and x != "DeviceStateChange:caller:NOT_INUSE"]
    recorded = [labels(recorded_events(p), "Newchannel:agent") for p in ANSWERED_RUNS]
    assert_consistent_order(connect, recorded)
    # the caller enters the bridge first, then the agent (FINDINGS §2)
    enters = [e for e in ours if e.name == "BridgeEnter"]
    assert [role(e) for e in enters] == ["caller", "agent"]
    assert enters[0]["Uniqueid"] == call.uniqueid and enters[1]["Uniqueid"] == "acd-offer-1"
    assert enters[1]["Linkedid"] == call.uniqueid  # the agent joins the caller's linkedid
    assert enters[0]["Priority"] == "3"  # the priority after AGI() (recorded 4: the dialplan had Answer() then)
    # the teardown: exactly the recorded order (agent BYE, Bridge(...,x) hangs up the caller)
    tail = [x for x in labels(ours, "HangupRequest:agent")]
    rec_tail = [x for x in labels(rec_c, "HangupRequest:agent")]
    assert tail == rec_tail
    resp = next(e for e in ours if e.name == "OriginateResponse")
    assert (resp["Response"], resp["Reason"], resp["Channel"], resp["Uniqueid"], resp["CallerIDNum"], resp["ActionID"]) == ("Success", "4", enters[1]["Channel"], "acd-offer-1", "8001", "orig-agent1")
    assert outcome.agent == "PJSIP/agent1" and outcome.hung_up_by == "agent" and outcome.connected
    assert uid_in_bridged_away(engine, call.uniqueid)


def uid_in_bridged_away(engine: MiniEngine, uid: str) -> bool:
    return uid in engine.bridged_away


async def test_caller_hangs_up_while_bridged_matches_recorded_teardown(world):
    engine, pbx, ami = world
    pbx.agents["agent1"] = AgentBehaviour(answer_after_s=1, talk_s=None)
    call = await caller_waiting(engine, pbx, CallerScript(caller_id="caller", caller_name="ACD Caller", hangup_after_bridge_s=2))
    originate(ami, "agent1", "acd-offer-2", call.uniqueid)
    outcome = await call.finished(10)
    # both legs' Hangup read off the AMI socket (the caller's can follow the agent's)
    await wait_until(lambda: {role(e) for e in ami.events() if e.name == "Hangup"} >= {"agent", "caller"})
    rec_b = recorded_events(EXP1 / "b_caller_hangs_up" / "ami.txt")
    assert labels(ami.events(), "HangupRequest:caller") == labels(rec_b, "HangupRequest:caller")
    hang = [e for e in ami.events() if e.name == "SoftHangupRequest" and role(e) == "agent"][0]
    assert hang["Priority"] == "4"  # the agent's Bridge() returned; Hangup() at priority 4
    assert outcome.hung_up_by == "caller" and outcome.talk_s == pytest.approx(2, abs=0.5)


async def test_rona_is_reason_3_with_our_channel_id(world):
    engine, pbx, ami = world
    pbx.agents["agent1"] = AgentBehaviour.never_answer()
    call = await caller_waiting(engine, pbx)
    originate(ami, "agent1", "acd-agent-rona-1", call.uniqueid, timeout_ms=5000)
    await ami.wait_for(lambda f: isinstance(f, Event) and f.name == "DeviceStateChange" and f.get("State") == "NOT_INUSE" and "agent1" in f["Device"], 10)
    ours = ami.events()
    rec = recorded_events(CONNECT / "exp3_rona_abandon" / "a_rona_timeout5000" / "ami.txt")
    resp = next(e for e in ours if e.name == "OriginateResponse")
    assert resp.headers.keys() == next(e for e in rec if e.name == "OriginateResponse").headers.keys()
    assert (resp["Response"], resp["Reason"], resp["Channel"], resp["Uniqueid"], resp["CallerIDNum"], resp["CallerIDName"]) == ("Failure", "3", "PJSIP/agent1", "acd-agent-rona-1", "8001", "ACD caller")
    hangup = next(e for e in ours if e.name == "Hangup")
    rec_hangup = next(e for e in rec if e.name == "Hangup" and role(e) == "agent")
    assert hangup.headers.keys() == rec_hangup.headers.keys()
    assert (hangup["Cause"], hangup["Cause-txt"], hangup["TechCause"], hangup["ChannelStateDesc"], hangup["Uniqueid"]) == ("19", "User alerting, no answer", "480", "Ringing", "acd-agent-rona-1")
    mine = [x for x in labels(ours, "Newchannel:agent") if "caller" not in x]
    theirs = [x for x in labels(rec, "Newchannel:agent") if "caller" not in x]
    assert mine[-3:] == theirs[-3:] == ["OriginateResponse:agent", "Hangup:agent", "DeviceStateChange:agent:NOT_INUSE"]
    assert sorted(mine) == sorted(theirs)
    assert "DialEnd" not in [e.name for e in ours]  # recorded: no DialEnd on RONA
    assert not call.channel.gone.is_set() and call.channel.moh_class  # the caller heard nothing of it
    call.hangup()
    await call.finished(5)


async def test_hangup_by_channel_id_cancels_a_ringing_agent(world):
    engine, pbx, ami = world
    pbx.agents["agent1"] = AgentBehaviour.never_answer()
    originate(ami, "agent1", "acd-agent-abandon-1", None)
    await ami.wait_for(lambda f: isinstance(f, Event) and f.name == "DialState")
    r = await ami.action("Hangup", [("Channel", "acd-agent-abandon-1"), ("Cause", "16")], action_id="hangup-agent-by-id")
    assert (r.status, r.message) == ("Success", "Channel Hungup")
    await ami.wait_for(lambda f: isinstance(f, Event) and f.name == "Hangup")
    await asyncio.sleep(0.05)
    rec = recorded_events(CONNECT / "exp3_rona_abandon" / "b_abandon_hangup_by_id" / "ami.txt")
    after = lambda evs: [label(e) for e in evs[[e.name for e in evs].index("DialEnd"):] if e.name in NAMES and role(e) == "agent"]
    assert after(ami.events()) == after(rec) == ["DialEnd:agent", "OriginateResponse:agent", "Hangup:agent", "DeviceStateChange:agent:NOT_INUSE"]
    resp = next(e for e in ami.events() if e.name == "OriginateResponse")
    assert (resp["Response"], resp["Reason"], resp["Uniqueid"]) == ("Failure", "0", "acd-agent-abandon-1")
    hangup = next(e for e in ami.events() if e.name == "Hangup")
    assert hangup.headers.keys() == next(e for e in rec if e.name == "Hangup" and role(e) == "agent").headers.keys()
    assert hangup["Cause"] == "16"
    r2 = await ami.action("Hangup", [("Channel", "acd-no-such-id")])
    assert (r2.status, r2.message) == ("Error", "No such channel")


async def test_busy_and_unreachable_agents(world):
    engine, pbx, ami = world
    originate(ami, "agent3", "acd-busy-1", None, action_id="o-busy")
    originate(ami, "agent4", "acd-nobody-1", None, timeout_ms=2000, action_id="o-nobody", caller_id=None)
    busy = await ami.wait_for(lambda f: isinstance(f, Event) and f.name == "OriginateResponse" and f.action_id == "o-busy")
    nobody = await ami.wait_for(lambda f: isinstance(f, Event) and f.name == "OriginateResponse" and f.action_id == "o-nobody")
    assert (busy["Response"], busy["Reason"]) == ("Failure", "5")
    assert (nobody["Response"], nobody["Reason"], nobody["Uniqueid"], nobody["CallerIDNum"]) == ("Failure", "3", "acd-nobody-1", "<unknown>")
    await asyncio.sleep(0.05)
    by_uid = {e["Uniqueid"]: e for e in ami.events("Hangup")}
    assert (by_uid["acd-busy-1"]["Cause"], by_uid["acd-busy-1"]["TechCause"]) == ("17", "486")
    assert by_uid["acd-nobody-1"]["Cause"] == "19" and by_uid["acd-nobody-1"]["ChannelStateDesc"] == "Down"
    # recorded for an agent with nothing listening (exp3 d, agent4): Newchannel, DialBegin, then the failure
    names = [e.name for e in ami.events() if e.get("Uniqueid", e.get("DestUniqueid")) == "acd-nobody-1" and e.name in NAMES]
    assert names == ["Newchannel", "DialBegin", "OriginateResponse", "Hangup"]


async def test_second_bridge_steals_the_caller_as_recorded(world):
    """Two legs both reach Bridge() (the engine must never allow it): the caller moves (run g)."""
    engine, pbx, ami = world
    pbx.agents["agent1"] = AgentBehaviour(answer_after_s=0.5, talk_s=None)
    pbx.agents["agent2"] = AgentBehaviour(answer_after_s=2, talk_s=2)
    call = await caller_waiting(engine, pbx)
    originate(ami, "agent1", "acd-race-agent1", call.uniqueid, action_id="orig-agent1")
    originate(ami, "agent2", "acd-race-agent2", call.uniqueid, action_id="orig-agent2")
    outcome = await call.finished(10)
    rec = recorded_events(EXP1 / "g_double_answer_race" / "ami.txt")
    steal = lambda evs: [label(e) for e in evs[[label(e) for e in evs].index("DialEnd:agent2"):] if e.name in NAMES and e.name not in ("DeviceStateChange", "OriginateResponse", "NewConnectedLine")][:8]
    assert steal(ami.events()) == steal(rec)
    assert outcome.agent == "PJSIP/agent2"


async def test_claim_lost_and_vanished_caller(world):
    engine, pbx, ami = world
    engine.claim_result = "lost"
    call = await caller_waiting(engine, pbx)
    originate(ami, "agent1", "acd-lost-1", call.uniqueid)
    hang = await ami.wait_for(lambda f: isinstance(f, Event) and f.name == "Hangup" and f.get("Uniqueid") == "acd-lost-1", 10)
    assert hang["Context"] == "acd-connect" and hang["Exten"] == "h"
    assert not call.channel.gone.is_set() and call.outcome.bridged_at is None
    engine.claim_result = "ok"
    originate(ami, "agent1", "acd-gone-1", "1234.5678")  # a caller that does not exist
    await ami.wait_for(lambda f: isinstance(f, Event) and f.name == "Hangup" and f.get("Uniqueid") == "acd-gone-1", 10)
    results = [e for e in ami.events("VarSet") if e.get("Variable") == "BRIDGERESULT" and e["Uniqueid"] == "acd-gone-1"]
    assert results[0]["Value"] == "NONEXISTENT"
    call.hangup()
    await call.finished(5)


async def test_duplicate_channel_id_and_originate_errors(world):
    engine, pbx, ami = world
    originate(ami, "agent2", "acd-dup", None, action_id="o1")
    await ami.wait_for(lambda f: isinstance(f, Event) and f.name == "Newchannel" and f.get("Uniqueid") == "acd-dup")
    originate(ami, "agent2", "acd-dup", None, action_id="o2")
    resp = await ami.wait_for(lambda f: isinstance(f, Event) and f.name == "OriginateResponse" and f.action_id == "o2")
    assert (resp["Response"], resp["Reason"], resp["Uniqueid"]) == ("Failure", "0", "acd-dup")
    r = await ami.action("Originate", [("Channel", "PJSIP/agent2"), ("Application", "Wait"), ("Data", "1"), ("ChannelId", "acd-dup")], action_id="orig-dup-id-sync")
    assert (r.status, r.message) == ("Error", "Originate failed")
    r = await ami.action("Originate", [], action_id="bad-9")
    assert (r.status, r.message) == ("Error", "Channel not specified")


async def test_two_ami_clients_both_see_the_call(world):
    engine, pbx, ami = world
    other = await RawAmi(pbx.ami_port).connect()
    await other.login()
    call = await caller_waiting(engine, pbx)
    call.hangup()
    await call.finished(5)
    await wait_until(lambda: any(e.name == "Hangup" for e in other.events()))
    assert [e.name for e in other.events() if e.get("Uniqueid") == call.uniqueid] == [e.name for e in ami.events() if e.get("Uniqueid") == call.uniqueid]
    await other.close()
