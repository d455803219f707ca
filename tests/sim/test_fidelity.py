"""The simulator produces the frames a real Asterisk 22.10.1 produced for the same situations:
same event names, same header keys in the same order, same order of events."""

import asyncio

import pytest

from acd.agi import AgiHangup, FastAgiServer
from acd.ami import AmiClient, Event, Response
from acd.ami.actions import OriginateRequest, originate
from acd.ami.codec import AmiClientDecoder
from acd.sim import AgentBehaviour, CallerScript, SimPbx
from tests.transcripts import CONNECT, TRANSCRIPTS, ami_transcripts, received


def recorded_frames():
    """Frames of the experiments that match the engine's design (Originate into acd-connect),
    then of the plain transcripts."""
    frames = []
    paths = sorted(CONNECT.glob("exp1_bridge_from_agent/*/ami.txt")) + sorted(CONNECT.glob("exp3_*/*/ami.txt")) + ami_transcripts()
    for path in paths:
        frames += AmiClientDecoder().feed(received(path))[1:]
    return frames


RECORDED = recorded_frames()


def recorded_keys(name: str, **match) -> list[str]:
    for f in RECORDED:
        if isinstance(f, Event) and f.name == name and all(f.get(k) == v for k, v in match.items()):
            return f.headers.keys()
    raise AssertionError(f"no recorded {name} {match}")


def recorded_order(path, names):
    frames = AmiClientDecoder().feed(received(path))[1:]
    return [(f.name, f.get("Channel", f.get("DestChannel", ""))) for f in frames if isinstance(f, Event) and f.name in names]


class Engine:
    """A minimal engine: holds the caller in MOH, claims every agent leg."""

    def __init__(self):
        self.callers = {}
        self.server = FastAgiServer({"ivr": self.ivr, "claim": self.claim}, port=0)

    async def ivr(self, ch):
        await ch.answer()
        self.callers[ch.env.uniqueid] = ch
        try:
            while True:
                await ch.exec("MusicOnHold", "default", "20")
        except AgiHangup:
            pass

    async def claim(self, ch):
        await ch.set_variable("ACD_CLAIM", "ok")


@pytest.fixture
async def world():
    engine = Engine()
    await engine.server.start()
    pbx = SimPbx(agi_port=engine.server.port, time_scale=0.05, agents={
        "agent1": AgentBehaviour(answer_after_s=1, talk_s=2),
        "agent2": AgentBehaviour(answer_after_s=None),
        "agent3": AgentBehaviour(busy=True),
    })
    await pbx.start()
    ami = AmiClient("127.0.0.1", pbx.ami_port, "acd", "acdsecret")
    await ami.start()
    events = []
    ami.subscribe("*", events.append)
    yield engine, pbx, ami, events
    await ami.stop()
    await pbx.stop()
    await engine.server.stop()


async def wait_for(pred, timeout=5.0):
    for _ in range(int(timeout / 0.02)):
        if pred():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("condition not met")


async def test_answered_offer_has_recorded_keys_and_order(world):
    engine, pbx, ami, events = world
    call = await pbx.place_call(CallerScript())
    await wait_for(lambda: engine.callers)
    uid = next(iter(engine.callers))
    await originate(ami, OriginateRequest("PJSIP/agent1", "acd-connect", "s", 1, channel_id="acd-offer-1", timeout_ms=15000, caller_id='"ACD caller" <8001>', variables={"ACD_CALLER": uid}))
    await call.finished(10)
    await asyncio.sleep(0.1)
    by_name = {}
    for e in events:
        by_name.setdefault(e.name, e)
    for name in ["Newchannel", "Newstate", "DialBegin", "DialState", "DialEnd", "BridgeCreate", "BridgeEnter", "BridgeLeave", "BridgeDestroy", "MusicOnHoldStop", "HangupRequest", "DeviceStateChange"]:
        assert by_name[name].headers.keys() == recorded_keys(name), name
    assert by_name["OriginateResponse"].headers.keys() == recorded_keys("OriginateResponse", Response="Success")
    hangup = next(e for e in events if e.name == "Hangup")
    assert hangup.headers.keys() == recorded_keys("Hangup")
    names = {"DialBegin", "DialState", "DialEnd", "BridgeCreate", "MusicOnHoldStop", "BridgeEnter", "OriginateResponse"}
    ours = [e.name for e in events if e.name in names]
    theirs = [n for n, _ in recorded_order(CONNECT / "exp1_bridge_from_agent/a_agent_hangs_up/ami.txt", names)]
    assert ours == theirs
    enters = [e for e in events if e.name == "BridgeEnter"]
    assert enters[0]["Uniqueid"] == uid and enters[1]["Uniqueid"] == "acd-offer-1"


async def test_rona_is_reason_3_with_our_channel_id(world):
    engine, pbx, ami, events = world
    await originate(ami, OriginateRequest("PJSIP/agent2", "acd-connect", "s", 1, channel_id="acd-rona-1", timeout_ms=5000, caller_id='"ACD caller" <8001>'))
    await wait_for(lambda: any(e.name == "OriginateResponse" for e in events))
    resp = next(e for e in events if e.name == "OriginateResponse")
    assert (resp["Response"], resp["Reason"], resp["Uniqueid"], resp["Channel"]) == ("Failure", "3", "acd-rona-1", "PJSIP/agent2")
    assert resp.headers.keys() == recorded_keys("OriginateResponse", Response="Failure", Reason="3")
    await wait_for(lambda: any(e.name == "Hangup" for e in events))
    hangup = next(e for e in events if e.name == "Hangup")
    assert (hangup["Cause"], hangup["Uniqueid"], hangup.get("TechCause")) == ("19", "acd-rona-1", "480")


async def test_hangup_by_channel_id_cancels_a_ringing_agent(world):
    engine, pbx, ami, events = world
    await originate(ami, OriginateRequest("PJSIP/agent2", "acd-connect", "s", 1, channel_id="acd-abandon-1", timeout_ms=15000))
    await wait_for(lambda: any(e.name == "Newchannel" and e["Uniqueid"] == "acd-abandon-1" for e in events))
    r = await ami.action("Hangup", [("Channel", "acd-abandon-1"), ("Cause", "16")])
    assert (r.status, r.message) == ("Success", "Channel Hungup")
    await wait_for(lambda: any(e.name == "OriginateResponse" for e in events))
    resp = next(e for e in events if e.name == "OriginateResponse")
    assert (resp["Response"], resp["Reason"]) == ("Failure", "0")
    r2 = await ami.action("Hangup", [("Channel", "no-such-id")])
    assert (r2.status, r2.message) == ("Error", "No such channel")


async def test_login_ping_and_core_status_replies_have_recorded_keys(world):
    _, pbx, ami, _ = world
    recorded = {f.action_id: f for f in RECORDED if isinstance(f, Response)}
    ping = await ami.action("Ping")
    assert [k for k in ping.headers.keys() if k != "ActionID"] == [k for k in recorded["ping-3"].headers.keys() if k != "ActionID"]
    cs = await ami.action("CoreStatus")
    assert cs.headers.keys() == recorded["cs-2"].headers.keys()


async def test_bad_login_matches_recording():
    pbx = SimPbx(agi_port=1, time_scale=0.01)
    await pbx.start()
    reader, writer = await asyncio.open_connection("127.0.0.1", pbx.ami_port)
    writer.write(b"Action: Login\r\nActionID: badlogin-1\r\nUsername: acd\r\nSecret: wrong\r\n\r\n")
    data = b""
    while True:
        chunk = await asyncio.wait_for(reader.read(4096), 5)
        if not chunk:
            break
        data += chunk
    assert data == received(TRANSCRIPTS / "ami_misc.txt.badlogin.transcript")
    writer.close()
    await pbx.stop()


async def test_caller_bridged_away_inside_agi_gets_minus_one_then_hangup(world):
    """The raw FastAGI bytes of FINDINGS §3 (exp2 a_exec_moh)."""
    engine, pbx, ami, events = world
    await engine.server.stop()
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    got = asyncio.Queue()

    async def handle(reader, writer):
        env = b""
        while not env.endswith(b"\n\n"):
            env += await reader.read(4096)
        if b"agi_network_script: claim" in env:
            writer.write(b"SET VARIABLE ACD_CLAIM ok\n")
            await reader.readline()
            writer.close()
            return
        uid = [l for l in env.decode().splitlines() if l.startswith("agi_uniqueid")][0].split(": ")[1]
        await got.put(uid)
        writer.write(b"EXEC MusicOnHold default,60\n")
        await got.put(await reader.readline())
        await got.put(await reader.readline())
        writer.close()

    raw = await asyncio.start_server(handle, "127.0.0.1", 0)
    pbx.agi_port = raw.sockets[0].getsockname()[1]
    await pbx.place_call(CallerScript())
    uid = await asyncio.wait_for(got.get(), 5)
    await originate(ami, OriginateRequest("PJSIP/agent1", "acd-connect", "s", 1, channel_id="acd-offer-2", timeout_ms=15000, variables={"ACD_CALLER": uid}))
    assert await asyncio.wait_for(got.get(), 5) == b"200 result=-1\n"
    assert await asyncio.wait_for(got.get(), 5) == b"HANGUP\n"
    raw.close()
    server.close()
