"""The simulator's FastAGI side against the recorded sessions: replay the engine's commands of
agi_session_sip*.txt and exp2_fastagi_bridged_away, compare the bytes Asterisk answered."""

from __future__ import annotations

import asyncio

import pytest

from acd.ami.codec import encode_action
from acd.sim import AgentBehaviour, CallerScript, SimPbx
from tests.sim.helpers import CONNECT, TRANSCRIPTS, MiniEngine, RawAmi
from tests.transcripts import read_transcript

EXP2 = CONNECT / "exp2_fastagi_bridged_away"


class RawAgiEngine:
    """A FastAGI peer that hands each session (reader, writer, environment lines) to a queue."""

    def __init__(self) -> None:
        self.sessions: asyncio.Queue = asyncio.Queue()
        self.server: asyncio.Server | None = None

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        return self.server.sockets[0].getsockname()[1]

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        env = []
        while True:
            line = await reader.readline()
            env.append(line)
            if line == b"\n" or not line:
                break
        await self.sessions.put((reader, writer, env))

    async def stop(self) -> None:
        if self.server:
            self.server.close()


@pytest.fixture
async def raw_world():
    engine = RawAgiEngine()
    port = await engine.start()
    pbx = SimPbx(agi_port=port, time_scale=0.05, agents={"agent1": AgentBehaviour(answer_after_s=1, talk_s=None)})
    await pbx.start()
    yield engine, pbx
    await pbx.stop()
    await engine.stop()


async def replay_session(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, chunks) -> list[tuple[bytes, bytes]]:
    """Send every AGI> line of a recording, read as many lines as the recording got back."""
    pairs = []
    for chunk in chunks:
        if chunk.direction == "AGI>":
            writer.write(chunk.data)
        else:
            got = await asyncio.wait_for(reader.readline(), 5)
            pairs.append((got, chunk.data))
    return pairs


def after_env(path):
    chunks = read_transcript(path)
    start = next(i for i, c in enumerate(chunks) if c.direction == "AST>" and c.data == b"\n")
    return chunks[:start + 1], chunks[start + 1:]


async def test_environment_block_has_the_recorded_22_lines(raw_world):
    engine, pbx = raw_world
    env_rec, _ = after_env(TRANSCRIPTS / "agi_session_sip.txt")
    await pbx.place_call(CallerScript(caller_id="caller", caller_name="Test Caller", dnis="5551234"))
    reader, writer, env = await asyncio.wait_for(engine.sessions.get(), 5)
    keys = lambda lines: [l.split(b":", 1)[0] for l in lines if l != b"\n"]
    assert keys(env) == keys([c.data for c in env_rec]) and len(keys(env)) == 22
    assert env[-1] == b"\n"
    ours = dict(l.decode().rstrip("\n").split(": ", 1) if b": " in l else (l.decode().rstrip(":\n"), "") for l in env if l != b"\n")
    theirs = dict(c.data.decode().rstrip("\n").split(": ", 1) if b": " in c.data else (c.data.decode().rstrip(":\n"), "") for c in env_rec if c.data != b"\n")
    for k in ["agi_network", "agi_network_script", "agi_language", "agi_type", "agi_version", "agi_callerid", "agi_calleridname", "agi_callingpres", "agi_callingani2", "agi_callington", "agi_callingtns", "agi_dnid", "agi_rdnis", "agi_extension", "agi_enhanced", "agi_accountcode"]:
        assert ours[k] == theirs[k], k
    # recorded with Answer() at priority 2 and AGI() at 3; [acd-inbound] has had no Answer() since
    # (the engine answers), so AGI() is priority 2, as Asterisk reports the priority it runs
    assert (theirs["agi_priority"], ours["agi_priority"]) == ("3", "2")
    assert ours["agi_context"] == "acd-inbound" and ours["agi_request"] == f"agi://127.0.0.1:{pbx.agi_port}/ivr"
    assert ours["agi_channel"].startswith("PJSIP/caller-") and len(ours["agi_channel"]) == len("PJSIP/caller-00000000")
    writer.close()


async def test_replay_of_the_recorded_sip_session(raw_world):
    """ANSWER, GET DATA (keys 1234), WAIT FOR DIGIT (#), STREAM FILE, SAY DIGITS, GET/SET VARIABLE,
    EXEC Wait, an unknown command (510), a usage error (520 block), HANGUP (200 result=1 then an
    unsolicited HANGUP), then 511 for channel commands while GET VARIABLE still works."""
    engine, pbx = raw_world
    _, chunks = after_env(TRANSCRIPTS / "agi_session_sip.txt")
    call = await pbx.place_call(CallerScript(caller_id="caller", caller_name="Test Caller", keys="1234,#", think_s=0.6, inter_digit_s=0.4))
    reader, writer, _ = await asyncio.wait_for(engine.sessions.get(), 5)
    for got, expected in await replay_session(reader, writer, chunks):
        assert got == expected
    writer.close()
    outcome = await call.finished(5)
    assert outcome.digits_sent == "1234#" and outcome.hung_up_by == "engine"
    hangup = [e for e in pbx.events_named("Hangup")][-1]
    assert hangup.get("Cause") == "0"  # recorded: AGI HANGUP leaves cause 0


async def test_replay_of_caller_hanging_up_during_get_data(raw_world):
    engine, pbx = raw_world
    _, chunks = after_env(TRANSCRIPTS / "agi_session_sip_caller_hangup.txt")
    call = await pbx.place_call(CallerScript(caller_id="caller", hangup_after_s=1.5))
    reader, writer, _ = await asyncio.wait_for(engine.sessions.get(), 5)
    for got, expected in await replay_session(reader, writer, chunks):
        assert got == expected
    assert not call.done.is_set()  # Asterisk waits for the engine to close a dead session
    writer.close()
    outcome = await call.finished(5)
    assert outcome.hung_up_by == "caller" and not outcome.fallback


async def test_dead_session_stays_open_until_the_engine_closes_it(raw_world):
    engine, pbx = raw_world
    call = await pbx.place_call(CallerScript())
    reader, writer, _ = await asyncio.wait_for(engine.sessions.get(), 5)
    writer.write(b"GET DATA beep 1500 4\n")
    assert await reader.readline() == b"200 result= (timeout)\n"
    writer.write(b"HANGUP\n")
    assert await reader.readline() == b"200 result=1\n"
    assert await reader.readline() == b"HANGUP\n"
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(reader.read(1), 0.3)  # 6 simulated seconds: no EOF
    assert not call.done.is_set()
    writer.close()
    await call.finished(5)


async def bridge_away(pbx: SimPbx, uid: str, claim_port_engine: MiniEngine | None = None) -> RawAmi:
    ami = await RawAmi(pbx.ami_port).connect()
    await ami.login()
    ami.send(encode_action("Originate", [("ActionID", "orig-agent1"), ("Channel", "PJSIP/agent1"), ("Context", "acd-connect"), ("Exten", "s"), ("Priority", "1"), ("Async", "true"), ("Timeout", "15000"), ("ChannelId", "acd-agent-x"), ("Variable", f"ACD_CALLER={uid}")]))
    return ami


async def claim_ok(engine: RawAgiEngine) -> None:
    reader, writer, env = await asyncio.wait_for(engine.sessions.get(), 5)
    assert b"agi_network_script: claim\n" in env
    writer.write(b"SET VARIABLE ACD_CLAIM ok\n")
    assert await reader.readline() == b"200 result=1\n"
    writer.close()


@pytest.mark.parametrize("run,command", [
    ("a_exec_moh", b"EXEC MusicOnHold default,60\n"),
    ("b_stream_file", b'STREAM FILE queue-periodic-announce ""\n'),
    ("c_wait_for_digit", b"WAIT FOR DIGIT 60000\n"),
])
async def test_bridged_away_inside_a_command(raw_world, run, command):
    """exp2: the pending command gets 200 result=-1 (with endpos for STREAM FILE), ~43 ms later
    an unsolicited HANGUP; the session now drives Surrogate/<caller>; no EOF from Asterisk."""
    engine, pbx = raw_world
    pbx.sound_seconds = lambda name: 60.0
    _, chunks = after_env(EXP2 / run / "agi_001.txt")
    call = await pbx.place_call(CallerScript(caller_id="caller", caller_name="ACD Caller"))
    reader, writer, env = await asyncio.wait_for(engine.sessions.get(), 5)
    writer.write(command)
    await asyncio.sleep(0.05)
    ami = await bridge_away(pbx, call.uniqueid)
    await claim_ok(engine)
    first = await asyncio.wait_for(reader.readline(), 5)
    recorded_first = next(c.data for c in chunks if c.direction == "AST>")
    assert first.split(b" endpos=")[0] == recorded_first.split(b" endpos=")[0]
    assert (b" endpos=" in first) == (b" endpos=" in recorded_first)
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    assert await asyncio.wait_for(reader.readline(), 5) == b"HANGUP\n"
    assert loop.time() - t0 >= 0.043 * 0.05 * 0.5
    writer.write(b"GET FULL VARIABLE ${CHANNEL}\n")
    assert await reader.readline() == f"200 result=1 (Surrogate/{call.channel.name})\n".encode()
    writer.write(b"GET FULL VARIABLE ${UNIQUEID}\n")
    surrogate_uid = (await reader.readline()).decode()
    assert surrogate_uid.startswith("200 result=1 (") and call.uniqueid not in surrogate_uid
    writer.write(b"CHANNEL STATUS\n")
    assert await reader.readline() == b"511 Command Not Permitted on a dead channel or intercept routine\n"
    # AMI: AGIExecStart for the command, no AGIExecEnd (it belongs to the Surrogate)
    mine = lambda name: [e.get("Command") for e in pbx.events_named(name) if e.get("Uniqueid") == call.uniqueid]
    assert mine("AGIExecStart") == [command.decode().strip()]
    assert mine("AGIExecEnd") == []
    enter = [e for e in pbx.events_named("BridgeEnter")][0]
    assert enter.get("Uniqueid") == call.uniqueid and enter.get("Channel") == call.channel.name and enter.get("Priority") == "3"  # after AGI() at 2 (recorded: 4, after Answer() and AGI())
    assert call.outcome.connected and not call.done.is_set()
    writer.close()
    call.hangup()
    await call.finished(5)
    await ami.close()


async def test_agiexitonhangup_sends_two_hangups_then_closes(raw_world):
    engine, pbx = raw_world
    call = await pbx.place_call(CallerScript())
    reader, writer, _ = await asyncio.wait_for(engine.sessions.get(), 5)
    writer.write(b"SET VARIABLE AGIEXITONHANGUP yes\n")
    assert await reader.readline() == b"200 result=1\n"
    writer.write(b"EXEC MusicOnHold default,60\n")
    await asyncio.sleep(0.05)
    ami = await bridge_away(pbx, call.uniqueid)
    await claim_ok(engine)
    assert await reader.readline() == b"200 result=-1\n"
    assert await reader.readline() == b"HANGUP\n"
    assert await reader.readline() == b"HANGUP\n"
    assert await asyncio.wait_for(reader.read(), 5) == b""  # EOF from Asterisk
    call.hangup()
    await call.finished(5)
    await ami.close()


async def test_engine_down_sends_the_caller_to_fallback():
    # time_scale 0.2: 0.1 s of simulated dead air is 20 ms of wall time, more than two refused
    # loopback connects (the ivr AGI, then [acd-fallback]'s resume) take even on a busy machine
    pbx = SimPbx(agi_port=1, time_scale=0.2)
    await pbx.start()
    try:
        call = await pbx.place_call(CallerScript(fallback_patience_s=5))
        outcome = await call.finished(5)
        assert outcome.fallback and outcome.fallback_reason == "agi_failed"
        assert outcome.prompts == ["queue-periodic-announce"] and outcome.hung_up_by == "caller"
        assert outcome.max_silence_s < 0.1  # announcement then queue music: no dead air
        apps = [e.get("Application") for e in pbx.events_named("Newexten") if e.get("Uniqueid") == call.uniqueid]
        # the engine is tried once more through [acd-fallback]'s resume, then the plain queue
        assert apps[:8] == ["Set", "AGI", "Goto", "NoOp", "GotoIf", "Set", "AGI", "Playback"] and "Queue" in apps
    finally:
        await pbx.stop()


def _fallback_steps(events: list[tuple[str, dict]]) -> list[str]:
    """The caller's way through [acd-fallback] up to app_queue, as ``Event[:Application or Variable=Value]``."""
    out: list[str] = []
    started = False
    for name, h in events:
        if name == "Newexten" and h.get("AppData") == "acd-fallback,s,1":
            started = True
        if not started:
            continue
        if name == "Newexten":
            out.append(f"Newexten:{h.get('Application')}")
        elif name == "VarSet" and h.get("Variable") in ("ACD_RESUMED", "AGISTATUS"):
            out.append(f"VarSet:{h.get('Variable')}={h.get('Value')}")
        elif name == "QueueCallerJoin":
            out.append(f"QueueCallerJoin:{h.get('Position')}/{h.get('Count')}")
            break
    return out


async def test_the_fallback_path_is_the_one_asterisk_showed_when_the_engine_was_killed():
    """shared/asterisk/observed/engine_killed_while_caller_waits.ami.jsonl: after the broken ivr
    session, [acd-fallback] sets ACD_RESUMED, its resume AGI fails (no engine), an apology, then
    app_queue's QueueCallerJoin; the caller's hangup handler sends UserEvent(AcdHangup) with the
    Uniqueid header twice."""
    import json

    from tests.transcripts import SHARED

    observed_file = SHARED / "observed" / "engine_killed_while_caller_waits.ami.jsonl"
    rows = [json.loads(line) for line in observed_file.read_text().splitlines()]
    caller = next(r["Uniqueid"] for r in rows if r["Event"] == "Newchannel")
    observed = [(r["Event"], r) for r in rows if r.get("Uniqueid", "").split("|")[0] == caller]
    # the engine's first session was cut while a command ran: AGISTATUS SUCCESS there; here none answers at all
    expected = [s.replace("AGISTATUS=SUCCESS", "AGISTATUS=FAILURE") for s in _fallback_steps(observed)]
    assert expected[:3] == ["Newexten:Goto", "Newexten:NoOp", "Newexten:GotoIf"]  # the recording is read right

    pbx = SimPbx(agi_port=1, time_scale=0.2)
    await pbx.start()
    try:
        call = await pbx.place_call(CallerScript(fallback_patience_s=5))
        await call.finished(5)
        ours = [(e.name, dict(e.headers)) for e in pbx.events if dict(e.headers).get("Uniqueid") == call.uniqueid]
        assert _fallback_steps(ours) == expected
        [user] = [e for e in pbx.events_named("UserEvent") if dict(e.headers).get("Uniqueid") == call.uniqueid]
        assert [v for k, v in user.headers if k == "Uniqueid"] == [call.uniqueid, call.uniqueid]
        assert [e.name for e in pbx.events if e.name.startswith("QueueCaller") and dict(e.headers).get("Uniqueid") == call.uniqueid] == [
            "QueueCallerJoin", "QueueCallerAbandon", "QueueCallerLeave"]
    finally:
        await pbx.stop()
