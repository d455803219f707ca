"""Every recorded AMI transcript goes through the sans-I/O codec: whole, byte by byte, in random
pieces, and back out through the encoders byte for byte."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from acd.ami.codec import (
    MAX_FRAME,
    AmiClientDecoder,
    AmiServerDecoder,
    encode_action,
    encode_banner,
    encode_command_output,
    encode_event,
    encode_response,
)
from acd.ami.errors import AmiEncodeError, AmiError, AmiProtocolError
from acd.ami.frames import Action, Banner, Event, Headers, Response
from acd.secrets import Secret
from tests.transcripts import CONNECT, TRANSCRIPTS, ami_transcripts, read_transcript, received

ALL = ami_transcripts()
BANNER = b"Asterisk Call Manager/11.0.0\r\n"
ids = lambda p: f"{p.parent.name}/{p.name}"  # noqa: E731


def decode(data: bytes, pieces: list[int] | None = None) -> list:
    dec = AmiClientDecoder()
    if pieces is None:
        frames = dec.feed(data)
    else:
        frames, pos = [], 0
        for size in pieces:
            frames += dec.feed(data[pos : pos + size])
            pos += size
        frames += dec.feed(data[pos:])
    assert dec.buffered == 0
    return frames


def frame_blocks(data: bytes) -> list[bytes]:
    """The recorded frames after the banner, each with its closing blank line."""
    return [b + b"\r\n\r\n" for b in data.split(b"\r\n", 1)[1].split(b"\r\n\r\n")[:-1]]


def test_there_are_transcripts_to_replay():
    names = {p.name for p in ALL}
    assert {"ami_session.txt.transcript", "ami_misc.txt.transcript", "ami_misc.txt.badlogin.transcript",
            "ami_agi_local.txt.transcript", "ami_agi_sip.txt.transcript", "ami_queue_events.txt.transcript"} <= names
    assert len(ALL) >= 37


@pytest.mark.parametrize("path", ALL, ids=ids)
def test_transcript_decodes_whole_and_in_random_pieces(path):
    data = received(path)
    whole = decode(data)
    assert whole[0] == Banner("Asterisk Call Manager/11.0.0") and whole[0].version == "11.0.0"
    assert len(whole) - 1 == data.count(b"\r\n\r\n") == len(frame_blocks(data))
    for block, frame in zip(frame_blocks(data), whole[1:]):
        assert isinstance(frame, Event if block.startswith(b"Event:") else Response)
    rng = random.Random(path.name)
    for _ in range(3):
        pieces = []
        while sum(pieces) < len(data):
            pieces.append(rng.randint(1, 300))
        assert decode(data, pieces) == whole


@pytest.mark.parametrize("path", ALL, ids=ids)
def test_transcript_replies_correlate_and_lists_are_whole(path):
    """One reply per recorded action, by ActionID; every list is start, items, Complete."""
    frames = decode(received(path))
    actions = AmiServerDecoder().feed(received(path, "SEND"))
    assert len(actions) == received(path, "SEND").count(b"\r\n\r\n")
    replies = [f for f in frames if isinstance(f, Response)]
    assert sorted(r.action_id for r in replies) == sorted(a.action_id for a in actions)
    for reply in replies:
        if reply.get("EventList") == "start":
            items = [f for f in frames if isinstance(f, Event) and f.action_id == reply.action_id]
            assert items[-1].get("EventList") == "Complete" and items[-1].name.endswith("Complete")
            assert int(items[-1]["ListItems"]) == len(items) - 1


@pytest.mark.parametrize("path", ALL, ids=ids)
def test_every_recorded_frame_re_encodes_byte_for_byte(path):
    data = received(path)
    for block, frame in zip(frame_blocks(data), decode(data)[1:]):
        (first_key, first_value), *rest = frame.headers.items()
        encoder = encode_event if isinstance(frame, Event) else encode_response
        assert encoder(first_value, rest) == block
        assert encoder(first_value, Headers(rest)) == block
    sent = [c.data for c in read_transcript(path) if c.direction == "SEND"]
    for raw in sent:
        (action,) = AmiServerDecoder().feed(raw)
        assert encode_action(action.name, action.headers.items()[1:]) == raw


@pytest.mark.parametrize("path", sorted(TRANSCRIPTS.glob("ami_*.transcript")), ids=ids)
def test_raw_capture_files_are_the_received_bytes(path):
    raw = path.with_suffix("").read_bytes()
    assert raw == received(path)
    assert decode(raw) == decode(received(path))


@pytest.mark.parametrize("path", [TRANSCRIPTS / "ami_session.txt.transcript", TRANSCRIPTS / "ami_misc.txt.transcript",
                                  CONNECT / "exp6_mixmonitor/a_record_mute_stop/ami.txt"], ids=ids)
def test_fed_one_byte_at_a_time(path):
    data = received(path)
    assert decode(data, [1] * len(data)) == decode(data)


@pytest.mark.parametrize(("path", "upto"), [(TRANSCRIPTS / "ami_misc.txt.transcript", None), (TRANSCRIPTS / "ami_misc.txt.badlogin.transcript", None),
                                           (TRANSCRIPTS / "ami_session.txt.transcript", 2500)], ids=lambda v: ids(v) if hasattr(v, "parent") else str(v))
def test_split_in_two_at_every_byte_position(path, upto):
    """Every cut of the whole file (ami_session: every cut in its first 2500 bytes: banner, login
    reply with events behind it, CoreStatus, the Ping reply Asterisk wrote in three pieces)."""
    data = received(path)
    whole = decode(data)
    for cut in range(1, min(len(data), upto or len(data))):
        dec = AmiClientDecoder()
        assert dec.feed(data[:cut]) + dec.feed(data[cut:]) == whole


def test_session_frames():
    frames = decode(received(TRANSCRIPTS / "ami_session.txt.transcript"))
    by_id = {f.action_id: f for f in frames if isinstance(f, Response)}
    assert by_id["login-1"].message == "Authentication accepted"
    assert by_id["cs-2"].get("CoreCurrentCalls") == "0"
    assert by_id["ping-3"].get("Ping") == "Pong"
    qs = [f for f in frames[1:] if f.action_id == "qs-4"]
    assert qs[0].status == "Success" and qs[0].headers["EventList"] == "start"
    assert [f.name for f in qs[1:]] == ["QueueParams", "QueueMember", "QueueMember", "QueueStatusComplete"]
    assert qs[2].get("Name") == "Agent One" and qs[-1].headers["ListItems"] == "3"
    outcomes = [f for f in frames if isinstance(f, Event) and f.name == "OriginateResponse"]
    assert [(e.action_id, e.get("Response")) for e in outcomes] == [("orig-5", "Success"), ("orig-6", "Failure")]
    assert by_id["orig-5"].message == "Originate successfully queued"
    assert by_id["bad-8"].status == "Error" and by_id["logoff-99"].status == "Goodbye"


def test_misc_frames_command_output_and_bad_login():
    frames = decode(received(TRANSCRIPTS / "ami_misc.txt.transcript"))
    by_id = {f.action_id: f for f in frames if isinstance(f, Response)}
    assert by_id["cmd-1"].output[0].startswith("Asterisk 22.10.1") and len(by_id["cmd-1"].output) == 1
    assert by_id["cmd-2"].status == "Error" and by_id["cmd-2"].output[0].startswith("No such command")
    assert by_id["st-4"].get("EventList") == "start"
    bad = decode(received(TRANSCRIPTS / "ami_misc.txt.badlogin.transcript"))
    assert bad[1].status == "Error" and bad[1].message == "Authentication failed" and len(bad) == 2


def test_queue_event_order_and_agi_events():
    frames = decode(received(TRANSCRIPTS / "ami_queue_events.txt.transcript"))
    names = [f.name for f in frames if isinstance(f, Event)]
    order = ["QueueCallerJoin", "AgentCalled", "DialBegin", "QueueMemberStatus", "DialEnd", "QueueCallerLeave", "AgentConnect", "AgentComplete"]
    positions = [names.index(n) for n in order]
    assert positions == sorted(positions)
    for name in ("ami_agi_local.txt.transcript", "ami_agi_sip.txt.transcript"):
        events = [f.name for f in decode(received(TRANSCRIPTS / name)) if isinstance(f, Event)]
        assert events.count("AGIExecStart") == events.count("AGIExecEnd") > 0 and "Hangup" in events


def test_empty_valued_headers_are_kept_including_the_last():
    frames = AmiClientDecoder().feed(BANNER + b"Event: X\r\nA: 1\r\nAccountCode: \r\n\r\nEvent: Y\r\nB:\r\n\r\n")
    assert frames[1].headers.items() == [("Event", "X"), ("A", "1"), ("AccountCode", "")]
    assert frames[2].headers.items() == [("Event", "Y"), ("B", "")] and "B" in frames[2].headers
    members = [f for f in decode(received(TRANSCRIPTS / "ami_session.txt.transcript")) if isinstance(f, Event) and f.name == "QueueMember"]
    assert members[0].headers.get("PausedReason") == ""
    rec = received(CONNECT / "exp1_bridge_from_agent/a_agent_hangs_up/ami.txt")
    last_empty = [f for f in decode(rec)[1:] if f.headers.items()[-1][1] == ""]
    assert len(last_empty) == rec.count(b": \r\n\r\n") > 0


def test_accented_name_split_inside_a_character():
    raw = "Event: Newchannel\r\nCallerIDName: Zoë Brontë\r\n\r\n".encode()
    cut = raw.index("ë".encode()) + 1  # between the two bytes of ë
    dec = AmiClientDecoder()
    assert dec.feed(BANNER + raw[:cut]) == [Banner("Asterisk Call Manager/11.0.0")]
    (event,) = dec.feed(raw[cut:])
    assert event.headers["CallerIDName"] == "Zoë Brontë"


def test_invalid_utf8_keeps_the_frame():
    (_, event) = AmiClientDecoder().feed(BANNER + b"Event: Newchannel\r\nCallerIDName: Zo\xeb\r\n\r\n")
    assert event.get("CallerIDName") == "Zo\ufffd"


def test_repeated_keys_kept_and_headers_api():
    dec = AmiClientDecoder()
    dec.feed(BANNER)
    (ev,) = dec.feed(b"Event: Status\r\nChanVariable: A=1\r\nchanvariable: B=2\r\n\r\n")
    assert ev.headers.get_all("ChanVariable") == ["A=1", "B=2"]
    assert ev.get("CHANVARIABLE") == "A=1" and ev["chanvariable"] == "A=1" and len(ev.headers) == 3
    with pytest.raises(KeyError):
        ev.headers["Missing"]
    assert ev.headers.get("Missing", "d") == "d" and "missing" not in ev.headers and 3 not in ev.headers
    h = Headers([("Variable", "A=1")])
    h.add("Variable", "B=2")
    assert h.get_all("variable") == ["A=1", "B=2"] and list(h) == h.items() == [("Variable", "A=1"), ("Variable", "B=2")]
    assert h.keys() == ["Variable", "Variable"] and h.as_dict() == {"Variable": "A=1"}


def test_originate_response_is_an_event_even_with_a_response_line():
    (_, ev) = AmiClientDecoder().feed(BANNER + b"Event: OriginateResponse\r\nActionID: o1\r\nResponse: Failure\r\nReason: 0\r\n\r\n")
    assert isinstance(ev, Event) and ev.name == "OriginateResponse" and ev.action_id == "o1" and ev.get("Response") == "Failure"


def test_legacy_response_follows_body():
    raw = (b"Response: Follows\r\nPrivilege: Command\r\nActionID: c1\r\n"
           b"Channel              Location\nPJSIP/a-0001: Up\n1 active channel\n--END COMMAND--\r\n\r\n")
    (_, r) = AmiClientDecoder().feed(BANNER + raw)
    assert r.status == "Follows" and r.action_id == "c1"
    assert r.output == ["Channel              Location", "PJSIP/a-0001: Up", "1 active channel"]


def test_command_output_encoder_matches_the_recording():
    recorded = [c.data for c in read_transcript(TRANSCRIPTS / "ami_misc.txt.transcript") if c.direction == "RECV"]
    line = "Asterisk 22.10.1 built by root @ vm on a x86_64 running Linux on 2026-11-22 13:14:23 UTC"
    assert encode_command_output("Success", [line], action_id="cmd-1") in recorded
    error = b"".join(recorded[recorded.index(b"Response: Error\r\nActionID: cmd-2\r\n"):][:4])
    assert encode_command_output("Error", ["No such command 'no such cli command' (type 'core show help no such' for other possible commands)"], action_id="cmd-2") == error


def test_stray_blank_lines_between_frames_are_ignored():
    frames = AmiClientDecoder().feed(BANNER + b"Event: A\r\n\r\n\r\n\r\nEvent: B\r\n\r\n\r\nEvent: C\r\n\r\n")
    assert [f.name for f in frames[1:]] == ["A", "B", "C"]


def test_malformed_frame_ends_that_frame_only():
    dec = AmiClientDecoder()
    dec.feed(BANNER)
    with pytest.raises(AmiProtocolError) as info:
        dec.feed(b"Event: Before\r\n\r\ngarbage line\r\n\r\nEvent: Ok\r\nA: 1\r\n\r\n")
    assert isinstance(info.value, AmiError) and "garbage line" in str(info.value)
    assert [f.name for f in dec.take_carried()] == ["Before", "Ok"]
    with pytest.raises(AmiProtocolError, match="neither Event nor Response"):
        dec.feed(b"Hello: there\r\n\r\n")
    (ev,) = dec.feed(b"Event: Next\r\n\r\n")
    assert ev.name == "Next" and dec.take_carried() == []


def test_banner_that_is_not_asterisk_is_a_protocol_error():
    dec = AmiClientDecoder()
    with pytest.raises(AmiProtocolError, match="not an Asterisk Manager"):
        dec.feed(b"HTTP/1.1 400 Bad Request\r\n")
    with pytest.raises(AmiProtocolError, match="no AMI banner"):
        AmiClientDecoder().feed(b"x" * 2000)


def test_an_endless_frame_is_refused_and_the_decoder_recovers():
    dec = AmiClientDecoder()
    dec.feed(BANNER)
    with pytest.raises(AmiProtocolError, match="larger than"):
        dec.feed(b"Event: Big\r\nData: " + b"x" * (MAX_FRAME + 1))
    assert dec.buffered == 0
    # the rest of the big frame is skipped up to its end (never read as frames of its own), even
    # with the end split across reads; the next frame decodes
    assert dec.feed(b"x" * 70_000 + b"\r\nEvent: Forged\r\n\r") == []
    assert dec.buffered < 4
    assert [f.name for f in dec.feed(b"\nEvent: Small\r\n\r\n")] == ["Small"]


def test_a_whole_oversized_frame_is_refused_and_its_neighbours_kept():
    dec = AmiClientDecoder()
    dec.feed(BANNER)
    big = b"Event: Big\r\nData: " + b"x" * MAX_FRAME + b"\r\n\r\n"
    with pytest.raises(AmiProtocolError, match="larger than"):
        dec.feed(b"Event: A\r\n\r\n" + big + b"Event: B\r\n\r\n")
    assert [f.name for f in dec.take_carried()] == ["A", "B"]
    server = AmiServerDecoder()
    with pytest.raises(AmiProtocolError, match="larger than"):
        server.feed(b"Action: Ping\r\nX: " + b"y" * (MAX_FRAME + 1))
    assert server.buffered == 0
    assert [a.name for a in server.feed(b"y\r\n\r\nAction: Logoff\r\n\r\n")] == ["Logoff"]


def test_server_decoder_reads_actions_and_survives_garbage():
    dec = AmiServerDecoder()
    raw = encode_action("Login", [("ActionID", "l1"), ("Username", "acd"), ("Secret", "x")])
    (login,) = dec.feed(raw[:7]) + dec.feed(raw[7:])
    assert isinstance(login, Action) and login.name == "Login" and login.action_id == "l1" and login.get("secret") == "x"
    with pytest.raises(AmiProtocolError, match="without an Action"):
        dec.feed(b"Username: x\r\n\r\nAction: Ping\r\n\r\n")
    assert [a.name for a in dec.take_carried()] == ["Ping"]
    assert dec.feed(b"\r\nAction: Ping\r\nActionID: p\r\n\r\n")[0].action_id == "p"


def test_encoders_match_recorded_bytes():
    from acd.ami.actions import OriginateRequest, originate_headers

    sent = [c.data for c in read_transcript(CONNECT / "exp1_bridge_from_agent/a_agent_hangs_up/ami.txt") if c.direction == "SEND"]
    recorded = next(s for s in sent if s.startswith(b"Action: Originate"))
    (action,) = AmiServerDecoder().feed(recorded)
    assert encode_action("Originate", action.headers.items()[1:]) == recorded
    req = OriginateRequest("PJSIP/agent1", "acd-connect", "s", 1, channel_id=None, timeout_ms=15000, caller_id='"ACD caller" <8001>',
                           variables={"ACD_CALLER": "PJSIP/caller-0000005e"})
    assert encode_action("Originate", [("ActionID", action.action_id), *originate_headers(req)]) == recorded
    assert encode_response("Success", [("ActionID", "x"), ("Message", "Pong")]) == b"Response: Success\r\nActionID: x\r\nMessage: Pong\r\n\r\n"
    assert encode_event("Hangup", Headers([("Cause", "16")])) == b"Event: Hangup\r\nCause: 16\r\n\r\n"
    assert encode_banner() == BANNER and encode_banner("2.10.6") == b"Asterisk Call Manager/2.10.6\r\n"
    assert encode_action("Ping") == b"Action: Ping\r\n\r\n"


def test_encoder_refuses_header_injection_and_reveals_secrets():
    with pytest.raises(AmiEncodeError):
        encode_action("Originate", [("Channel", "PJSIP/x\r\nAction: Hangup")])
    with pytest.raises(ValueError):  # AmiEncodeError is a ValueError too: our own fault
        encode_action("Originate", [("Bad Key", "x")])
    with pytest.raises(AmiEncodeError):
        encode_action("Ping\r\nAction: Hangup")
    assert encode_action("Login", [("Secret", Secret("s3")), ("Events", True), ("Priority", 1)]) == \
        b"Action: Login\r\nSecret: s3\r\nEvents: true\r\nPriority: 1\r\n\r\n"


header_key = st.text(st.characters(min_codepoint=33, max_codepoint=126, blacklist_characters=":"), min_size=1, max_size=12)
header_value = st.text(st.characters(blacklist_characters="\r\n", blacklist_categories=("Cs",)), max_size=30)


@settings(max_examples=150, deadline=None)
@given(frames=st.lists(st.tuples(st.sampled_from(["Event", "Response"]), header_key.filter(lambda k: k.lower() not in ("event", "response", "follows")),
                                 st.lists(st.tuples(header_key, header_value), max_size=6)), min_size=1, max_size=5),
       cuts=st.lists(st.integers(min_value=1, max_value=40), max_size=20))
def test_round_trip_any_frames_any_split(frames, cuts):
    data = BANNER
    expected = []
    for kind, first, pairs in frames:
        pairs = [(k, v) for k, v in pairs if k.lower() != "output"]
        name = first
        if kind == "Event":
            data += encode_event(name, pairs)
            expected.append(("Event", name, [("Event", name), *pairs]))
        else:
            data += encode_response(name, pairs)
            expected.append(("Response", name, [("Response", name), *pairs]))
    got = decode(data, cuts)
    assert len(got) == len(expected) + 1
    for frame, (kind, name, items) in zip(got[1:], expected):
        assert type(frame).__name__ == kind
        assert frame.headers.items() == items


def test_event_headers_are_read_lazily_and_still_exactly():
    """Events keep their text and parse on first use; every way of reading gives what an eager
    parse gives, and a malformed frame still fails when it is decoded, not when it is read."""
    from acd.ami.codec import AmiClientDecoder, EventHeaders

    dec = AmiClientDecoder()
    dec.feed(b"Asterisk Call Manager/11.0.0\r\n")
    [event] = dec.feed(b"Event: VarSet\r\nChannel: PJSIP/a-1\r\nVariable: X\r\nValue: a: b\r\nVariable: Y\r\nUniqueid: 17.1\r\n\r\n")
    assert isinstance(event.headers, EventHeaders)
    assert event.get("Uniqueid") == "17.1" and event.get("Value") == "a: b" and event.get("Event") == "VarSet"
    assert event.get("uniqueid") == "17.1"  # another spelling: the full, case-insensitive lookup
    assert event.get("Missing") is None and event.get("Missing", "d") == "d"
    assert event.headers.get_all("Variable") == ["X", "Y"] and event["Channel"] == "PJSIP/a-1"
    assert event.headers.items()[0] == ("Event", "VarSet") and len(event.headers) == 6
    again = AmiClientDecoder._frame(b"Event: VarSet\r\nChannel: PJSIP/a-1\r\nVariable: X\r\nValue: a: b\r\nVariable: Y\r\nUniqueid: 17.1")
    assert again.headers == event.headers  # compared header by header
    # "Key:" with nothing after it takes the careful path at once
    [empty] = dec.feed(b"Event: Newexten\r\nAppData:\r\nUniqueid: 1\r\n\r\n")
    assert not isinstance(empty.headers, EventHeaders) and empty.get("AppData") == "" and empty.get("Uniqueid") == "1"
    with pytest.raises(AmiProtocolError):
        dec.feed(b"Event: Broken\r\nthis is not a header\r\n\r\n")
