"""The typed action helpers put on the wire exactly the bytes recorded against Asterisk 22
(connect/*/ami.txt), ActionID aside."""

from __future__ import annotations

import re

import pytest

from acd.ami import AmiClient
from acd.ami import actions as A
from acd.ami.errors import AmiActionError
from tests.ami.fake_ami import FakeAmi
from tests.transcripts import CONNECT, read_transcript

_ID = re.compile(rb"ActionID: [^\r]*\r\n")


def normalise(raw: bytes) -> bytes:
    return _ID.sub(b"ActionID: X\r\n", raw)


RECORDED = {normalise(c.data) for p in sorted(CONNECT.glob("*/*/ami.txt")) for c in read_transcript(p) if c.direction == "SEND"}


@pytest.fixture
async def ami():
    fake = await FakeAmi().start()
    fake.replay(CONNECT / "exp7_snapshots/a_hold_plus_bridged/ami.txt")  # list replies
    fake.handlers["getvar"] = lambda s, a: s.send(f"Response: Success\r\nActionID: {a.action_id}\r\nVariable: {a.get('Variable')}\r\nValue: 42\r\n\r\n".encode())
    client = AmiClient("127.0.0.1", fake.port, "acd", "acdsecret", action_timeout=2)
    await client.start()
    client.fake = fake
    yield client
    await client.stop()
    await fake.stop()


def last_sent(ami) -> bytes:
    raw = bytes(ami.fake.sessions[0].raw)
    return raw.split(b"\r\n\r\n")[-2] + b"\r\n\r\n"


CASES = [
    ("originate args", lambda ami: A.originate(ami, "PJSIP/agent1", "acd-connect", "s", 1, channel_id="acd-agent-abandon-1795355873", timeout_ms=15000,
                                               caller_id='"ACD caller" <8001>', variables={"ACD_CALLER": "PJSIP/caller-0000008d"})),
    ("originate request", lambda ami: A.originate(ami, A.OriginateRequest("PJSIP/agent1", "acd-connect", "s", 1, "acd-agent-rona-1795355858", 5000,
                                                                          '"ACD caller" <8001>', {"ACD_CALLER": "PJSIP/caller-0000008b"}))),
    ("originate no id", lambda ami: A.originate(ami, "PJSIP/agent4", "acd-connect", "s", 1, channel_id="acd-agent4-nobody", timeout_ms=4000)),
    ("hangup by id with cause", lambda ami: A.hangup(ami, "acd-agent-abandon-1795355873", cause=16)),
    ("hangup without cause", lambda ami: A.hangup(ami, "acd-local-two", cause=None)),
    ("redirect", lambda ami: A.redirect(ami, "PJSIP/caller-00000092", "acd-dial", "agent1", 1)),
    ("setvar", lambda ami: A.setvar(ami, "PJSIP/caller-00000094", "ACD_RING_TIMEOUT", "5")),
    ("mixmonitor", lambda ami: A.mix_monitor(ami, "PJSIP/caller-000000c2", "/srv/testbed/var/spool/rec-1795356572.287.wav")),
    ("mixmonitor no options", lambda ami: A.mix_monitor(ami, "PJSIP/caller-000000c0", "/srv/testbed/var/spool/rec-1795356553.284.wav", options=None)),
    ("mute read", lambda ami: A.mix_monitor_mute(ami, "PJSIP/caller-000000c0", "read", True)),
    ("unmute both", lambda ami: A.mix_monitor_mute(ami, "PJSIP/caller-000000c0", "both", False)),
    ("stop mixmonitor by id", lambda ami: A.stop_mix_monitor(ami, "PJSIP/caller-000000c2", "0x7f41b0002b30")),
    ("stop mixmonitor", lambda ami: A.stop_mix_monitor(ami, "PJSIP/caller-000000c0")),
    ("core show channels", A.core_show_channels),
    ("device state list", A.device_state_list),
    ("bridge list", A.bridge_list),
    ("bridge info", lambda ami: A.bridge_info(ami, "80feb791-0a65-49a2-8073-29aeb38e1e8e")),
    ("status all", A.status),
    ("status variables", lambda ami: A.status(ami, "PJSIP/caller-000000c6", ["ACD_CALLER", "BRIDGEPEER"])),
    ("status all variables", lambda ami: A.status(ami, "acd-agent-snap-1", all_variables=True)),
]


@pytest.mark.parametrize(("label", "call"), CASES, ids=[c[0] for c in CASES])
async def test_helper_sends_the_recorded_bytes(ami, label, call):
    await call(ami)
    assert normalise(last_sent(ami)) in RECORDED


async def test_list_helpers_return_whole_lists(ami):
    channels = await A.core_show_channels(ami)
    assert channels.complete.get("ListItems") == str(len(channels.events)) and channels.events
    info = await A.bridge_info(ami, "80feb791-0a65-49a2-8073-29aeb38e1e8e")
    assert info.complete.name == "BridgeInfoComplete"


async def test_getvar_and_argument_checks(ami):
    assert await A.getvar(ami, "PJSIP/caller-1", "ACD_CALLER") == "42"
    assert ami.fake.actions[-1].get("Channel") == "PJSIP/caller-1"
    with pytest.raises(ValueError):
        await A.mix_monitor_mute(ami, "PJSIP/x", "sideways")
    with pytest.raises(TypeError):
        await A.originate(ami, "PJSIP/agent1")


async def test_variables_are_repeated_headers_and_errors_raise(ami):
    ami.fake.handlers["originate"] = lambda s, a: s.send(f"Response: Error\r\nActionID: {a.action_id}\r\nMessage: Originate failed\r\n\r\n".encode())
    with pytest.raises(AmiActionError, match="Originate failed"):
        await A.originate(ami, "PJSIP/agent1", "acd-connect", "s", 1, channel_id="x", timeout_ms=1000,
                          variables={"ACD_CALLER": "1.1", "ACD_OFFER": "o-1", "ACD_QUEUE": "sales"})
    sent = ami.fake.actions[-1]
    assert sent.headers.get_all("Variable") == ["ACD_CALLER=1.1", "ACD_OFFER=o-1", "ACD_QUEUE=sales"]
    assert sent.get("Async") == "true" and sent.get("ChannelId") == "x"
