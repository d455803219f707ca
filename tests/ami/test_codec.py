"""Every recorded AMI transcript goes through the codec whole, byte by byte and in random pieces."""

import random

import pytest

from acd.ami.codec import AmiClientDecoder, AmiServerDecoder, encode_action, encode_event, encode_response
from acd.ami.errors import AmiProtocolError
from acd.ami.frames import Banner, Event, Headers, Response
from tests.transcripts import TRANSCRIPTS, ami_transcripts, read_transcript, received

ALL = ami_transcripts()


def decode_all(data: bytes, pieces: list[int] | None = None):
    dec = AmiClientDecoder()
    frames = []
    if pieces is None:
        return dec.feed(data)
    pos = 0
    for size in pieces:
        frames += dec.feed(data[pos : pos + size])
        pos += size
    frames += dec.feed(data[pos:])
    assert dec.buffered == 0
    return frames


def test_there_are_transcripts_to_replay():
    assert len(ALL) >= 20


@pytest.mark.parametrize("path", ALL, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_transcript_decodes_whole_and_in_pieces(path):
    data = received(path)
    whole = decode_all(data)
    assert isinstance(whole[0], Banner) and whole[0].text == "Asterisk Call Manager/11.0.0"
    assert data.count(b"\r\n\r\n") == len(whole) - 1
    assert all(isinstance(f, (Response, Event)) for f in whole[1:])
    rng = random.Random(path.name)
    pieces = []
    while sum(pieces) < len(data):
        pieces.append(rng.randint(1, 40))
    assert [repr(f) for f in decode_all(data, pieces)] == [repr(f) for f in whole]
    # the engine's own actions in the transcript are decoded by the simulator's decoder
    sent = b"".join(c.data for c in read_transcript(path) if c.direction == "SEND")
    actions = AmiServerDecoder().feed(sent)
    assert len(actions) == sent.count(b"\r\n\r\n")


def test_byte_by_byte_session():
    data = received(TRANSCRIPTS / "ami_session.txt.transcript")
    assert [repr(f) for f in decode_all(data, [1] * len(data))] == [repr(f) for f in decode_all(data)]


def test_list_action_and_originate_response():
    frames = decode_all(received(TRANSCRIPTS / "ami_session.txt.transcript"))
    qs = [f for f in frames[1:] if f.action_id == "qs-4"]
    assert qs[0].headers["EventList"] == "start"
    assert [f.name for f in qs[1:]] == ["QueueParams", "QueueMember", "QueueMember", "QueueStatusComplete"]
    assert qs[-1].headers["ListItems"] == "3"
    orig = [f for f in frames[1:] if isinstance(f, Event) and f.name == "OriginateResponse"]
    assert orig and {e.headers["Response"] for e in orig} >= {"Failure"}


def test_empty_valued_headers_are_kept_including_the_last():
    frames = AmiClientDecoder().feed(b"Asterisk Call Manager/11.0.0\r\nEvent: X\r\nA: 1\r\nAccountCode: \r\n\r\n")
    assert frames[1].headers.items() == [("Event", "X"), ("A", "1"), ("AccountCode", "")]
    paused = [f for f in decode_all(received(TRANSCRIPTS / "ami_session.txt.transcript"))[1:] if isinstance(f, Event) and f.name == "QueueMember"]
    assert paused[0].headers.get("PausedReason") == ""


def test_accented_name_split_inside_a_character():
    raw = "Event: Newchannel\r\nCallerIDName: Zoë Brontë\r\n\r\n".encode()
    cut = raw.index("ë".encode()) + 1  # between the two bytes of ë
    dec = AmiClientDecoder()
    assert dec.feed(b"Asterisk Call Manager/11.0.0\r\n" + raw[:cut]) == [Banner("Asterisk Call Manager/11.0.0")]
    (event,) = dec.feed(raw[cut:])
    assert event.headers["CallerIDName"] == "Zoë Brontë"


def test_repeated_keys_kept():
    dec = AmiClientDecoder()
    dec.feed(b"Asterisk Call Manager/11.0.0\r\n")
    (ev,) = dec.feed(b"Event: Status\r\nChanVariable: A=1\r\nChanVariable: B=2\r\n\r\n")
    assert ev.headers.get_all("chanvariable") == ["A=1", "B=2"]


def test_command_follows_output():
    frames = decode_all(received(TRANSCRIPTS / "ami_misc.txt.transcript"))
    cmd = [f for f in frames[1:] if f.action_id == "cmd-1"][0]
    assert cmd.output and cmd.output[0].startswith("Asterisk 22.10.1")


def test_malformed_frame_ends_that_frame_only():
    dec = AmiClientDecoder()
    dec.feed(b"Asterisk Call Manager/11.0.0\r\n")
    with pytest.raises(AmiProtocolError):
        dec.feed(b"garbage line\r\n\r\nEvent: Ok\r\nA: 1\r\n\r\n")
    assert [f.name for f in dec.take_carried()] == ["Ok"]
    (ev,) = dec.feed(b"Event: Next\r\n\r\n")
    assert ev.name == "Next"


def test_encoders_match_recorded_bytes():
    from tests.transcripts import CONNECT

    sent = [c.data for c in read_transcript(CONNECT / "exp1_bridge_from_agent/a_agent_hangs_up/ami.txt") if c.direction == "SEND"]
    originate = next(s for s in sent if s.startswith(b"Action: Originate"))
    (action,) = AmiServerDecoder().feed(originate)
    assert encode_action("Originate", action.headers.items()[1:]) == originate
    assert encode_response("Success", [("ActionID", "x"), ("Message", "Pong")]) == b"Response: Success\r\nActionID: x\r\nMessage: Pong\r\n\r\n"
    assert encode_event("Hangup", Headers([("Cause", "16")])) == b"Event: Hangup\r\nCause: 16\r\n\r\n"
    with pytest.raises(ValueError):
        encode_action("Originate", [("Channel", "PJSIP/x\r\nAction: Hangup")])
