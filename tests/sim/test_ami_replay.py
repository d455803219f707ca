"""Replay the client side of the recorded AMI sessions against the simulator and compare the
bytes it answers with the bytes Asterisk 22.10.1 answered, values that must differ (times,
session ids, ports) masked."""

from __future__ import annotations

import asyncio

from acd.ami.codec import AmiClientDecoder
from acd.ami.frames import Event, Response
from acd.sim import SimPbx
from tests.sim.helpers import TRANSCRIPTS, RawAmi, normalize, recorded_sends
from tests.transcripts import read_transcript, received


def frames_by_action(data: bytes) -> dict[str, list[bytes]]:
    """Split raw AMI bytes into frames and group the ones carrying each ActionID."""
    out: dict[str, list[bytes]] = {}
    for block in data.split(b"\r\n\r\n"):
        for line in block.split(b"\r\n"):
            if line.startswith(b"ActionID: "):
                out.setdefault(line[10:].decode(), []).append(block + b"\r\n\r\n")
                break
    return out


async def replay(sends: list[bytes], skip: set[str] = frozenset(), scale: float = 0.01) -> bytes:
    pbx = SimPbx(agi_port=1, time_scale=scale)
    await pbx.start()
    ami = await RawAmi(pbx.ami_port).connect()
    try:
        await ami.wait_for(lambda f: True)
        for data in sends:
            name = data.split(b"\r\n", 1)[0].split(b": ", 1)[1].decode()
            if name in skip:
                continue
            ami.send(data)
            aid = [l for l in data.decode().split("\r\n") if l.startswith("ActionID: ")][0][10:]
            await ami.wait_for(lambda f: isinstance(f, (Response, Event)) and f.action_id == aid and not (isinstance(f, Response) and f.get("EventList") == "start"), 5)
        await asyncio.wait_for(ami.eof.wait(), 5)
        return ami.raw
    finally:
        await ami.close()
        await pbx.stop()


async def test_session_replay_matches_login_corestatus_ping_errors_logoff():
    path = TRANSCRIPTS / "ami_session.txt.transcript"
    ours = await replay(recorded_sends(path), skip={"QueueStatus", "Originate"})
    theirs = received(path)
    assert ours.startswith(b"Asterisk Call Manager/11.0.0\r\n")
    mine, rec = frames_by_action(normalize(ours)), frames_by_action(normalize(theirs))
    for aid in ["login-1", "cs-2", "ping-3", "bad-8", "logoff-99"]:
        assert mine[aid] == rec[aid], aid
    # login is followed by FullyBooted and SuccessfulAuth, with the recorded keys in order
    ours_events = [f for f in AmiClientDecoder().feed(ours) if isinstance(f, Event)]
    rec_events = [f for f in AmiClientDecoder().feed(theirs) if isinstance(f, Event)]
    for name in ["FullyBooted", "SuccessfulAuth", "RequestBadFormat"]:
        mine_e = next(e for e in ours_events if e.name == name)
        rec_e = next(e for e in rec_events if e.name == name)
        assert mine_e.headers.keys() == rec_e.headers.keys(), name
    # an Originate without a Channel header (the recorded "bad-9")
    bad9 = [d for d in recorded_sends(path) if b"bad-9" in d or b"login-1" in d or b"logoff-99" in d]
    ours9 = await replay(bad9)
    assert b"Response: Error\r\nActionID: bad-9\r\nMessage: Channel not specified\r\n\r\n" in ours9


async def test_misc_replay_command_coreshowchannels_status():
    path = TRANSCRIPTS / "ami_misc.txt.transcript"
    ours = await replay(recorded_sends(path), skip={"QueueSummary"})
    mine = frames_by_action(normalize(ours, {"Output"} | {"Timestamp", "Uptime", "LastReload", "EventTV", "SessionID", "LocalAddress", "RemoteAddress", "SessionTV"}))
    rec = frames_by_action(normalize(received(path), {"Output"} | {"Timestamp", "Uptime", "LastReload", "EventTV", "SessionID", "LocalAddress", "RemoteAddress", "SessionTV"}))
    for aid in ["login-1", "cmd-1", "csc-3", "st-4", "logoff-99"]:
        assert mine[aid] == rec[aid], aid
    # the unknown CLI command's Output text is exact too
    assert frames_by_action(ours)["cmd-2"] == frames_by_action(received(path))["cmd-2"]


async def test_bad_login_is_refused_after_a_delay_and_closed_like_the_recording():
    path = TRANSCRIPTS / "ami_misc.txt.badlogin.transcript"
    pbx = SimPbx(agi_port=1, time_scale=0.05)
    await pbx.start()
    watcher = await RawAmi(pbx.ami_port).connect()
    await watcher.login()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", pbx.ami_port)
        loop = asyncio.get_running_loop()
        sent_at = None
        data = b""
        for chunk in read_transcript(path):
            if chunk.direction == "SEND":
                writer.write(chunk.data)
                sent_at = loop.time()
        while True:
            part = await asyncio.wait_for(reader.read(4096), 5)
            if not part:
                break
            data += part
        elapsed = loop.time() - sent_at
        assert data == received(path)  # byte for byte, then EOF
        assert elapsed >= 0.9 * 0.05  # about one (simulated) second, as recorded
        writer.close()
        ev = await watcher.wait_for(lambda f: isinstance(f, Event) and f.name == "InvalidPassword")
        assert ev["AccountID"] == "acd"
    finally:
        await watcher.close()
        await pbx.stop()


async def test_actions_before_login_are_refused():
    pbx = SimPbx(agi_port=1)
    await pbx.start()
    ami = await RawAmi(pbx.ami_port).connect()
    try:
        r = await ami.action("Ping", action_id="p-1")
        assert (r.status, r.message) == ("Error", "Permission denied")
        assert not ami.events()
    finally:
        await ami.close()
        await pbx.stop()
