"""Every recorded FastAGI session goes through the codec, whole and in pieces; every command the
recording engine sent is re-encoded byte for byte."""

import random

import pytest

from acd.agi.codec import (
    AgiAsteriskDecoder, AgiEngineDecoder, AgiEnvironment, Hangup, Reply, encode_command,
    encode_environment, encode_reply, encode_usage_error, split_args,
)
from acd.agi.errors import AgiProtocolError
from tests.transcripts import TRANSCRIPTS, agi_transcripts, read_transcript

ALL = agi_transcripts()


def ast_bytes(path):
    return b"".join(c.data for c in read_transcript(path) if c.direction == "AST>")


def decode(data, sizes=None):
    dec = AgiEngineDecoder()
    if sizes is None:
        return dec.feed(data)
    out, pos = [], 0
    for s in sizes:
        out += dec.feed(data[pos : pos + s])
        pos += s
    return out + dec.feed(data[pos:])


def test_transcripts_found():
    assert len(ALL) >= 8


@pytest.mark.parametrize("path", ALL, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_session_decodes_whole_and_in_pieces(path):
    data = ast_bytes(path)
    frames = decode(data)
    assert isinstance(frames[0], AgiEnvironment)
    if frames[0].values:  # one recording is an excerpt that starts at the blank line
        assert frames[0].channel.startswith(("PJSIP/", "Local/"))
    commands = [c for c in read_transcript(path) if c.direction == "AGI>"]
    replies = [f for f in frames[1:] if isinstance(f, Reply)]
    assert len(replies) == len(commands)  # HANGUP never shifts a reply
    rng = random.Random(path.name)
    sizes = [rng.randint(1, 9) for _ in range(len(data))]
    assert decode(data, sizes) == frames
    assert decode(data, [1] * len(data)) == frames


@pytest.mark.parametrize("path", ALL, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_commands_reencode_byte_for_byte(path):
    for chunk in read_transcript(path):
        if chunk.direction != "AGI>":
            continue
        (cmd,) = AgiAsteriskDecoder().feed(chunk.data)
        assert encode_command(cmd.name, *cmd.args) == chunk.data


def test_sip_session_values():
    frames = decode(ast_bytes(TRANSCRIPTS / "agi_session_sip.txt"))
    env = frames[0]
    assert len(env.values) == 22
    assert env.network_script == "ivr" and env.uniqueid == "1795354017.6" and env.dnis == "5551234"
    assert env.values["agi_accountcode"] == ""  # empty value kept
    replies = [f for f in frames[1:] if isinstance(f, Reply)]
    assert replies[1].result == "1234"
    assert replies[2].result_int == 35  # '#'
    assert replies[3].endpos == 3404
    assert replies[5].data == "caller"
    usage = [r for r in replies if r.code == 520][0]
    assert usage.lines[0].startswith("520-") and usage.lines[-1] == "520 End of proper usage." and len(usage.lines) == 4
    assert [r.code for r in replies if r.code in (510, 511)] == [510, 511]
    assert sum(isinstance(f, Hangup) for f in frames) == 1


def test_caller_hangup_during_get_data():
    frames = decode(ast_bytes(TRANSCRIPTS / "agi_session_sip_caller_hangup.txt"))
    replies = [f for f in frames if isinstance(f, Reply)]
    assert replies[1].result == "-1"
    assert Hangup() in frames


def test_timeout_forms():
    (r1, r2) = AgiEngineDecoder().feed(b"agi_network: yes\n\n200 result=42 (timeout)\n200 result= (timeout)\n")[1:]
    assert (r1.result, r1.data) == ("42", "timeout")
    assert (r2.result, r2.data) == ("", "timeout")


def test_accented_name_split_across_reads():
    raw = "agi_calleridname: Zoë\n\n".encode()
    cut = raw.index("ë".encode()) + 1
    dec = AgiEngineDecoder()
    assert dec.feed(raw[:cut]) == []
    (env,) = dec.feed(raw[cut:])
    assert env.calleridname == "Zoë"


def test_garbage_is_a_protocol_error():
    dec = AgiEngineDecoder()
    with pytest.raises(AgiProtocolError):
        dec.feed(b"hello world\n")
    dec2 = AgiEngineDecoder()
    dec2.feed(b"agi_network: yes\n\n")
    with pytest.raises(AgiProtocolError):
        dec2.feed(b"this is not a reply\n")


def test_asterisk_side_encoders_roundtrip():
    env = {"agi_network": "yes", "agi_channel": "PJSIP/caller-00000001", "agi_uniqueid": "1.1"}
    (decoded,) = AgiEngineDecoder().feed(encode_environment(env))
    assert dict(decoded.values) == env
    assert encode_reply(200, 0, endpos=3404) == b"200 result=0 endpos=3404\n"
    assert encode_reply(200, 1, data="bar") == b"200 result=1 (bar)\n"
    assert encode_reply(511) == b"511 Command Not Permitted on a dead channel or intercept routine\n"
    (usage,) = AgiEngineDecoder().feed(b"agi_x: 1\n\n" + encode_usage_error(["Usage line"]))[1:]
    assert usage.code == 520 and len(usage.lines) == 3


def test_quoting_like_asterisk():
    assert encode_command("STREAM FILE", "beep", "") == b'STREAM FILE beep ""\n'
    assert encode_command("EXEC", "Playback", 'say "hi" now') == b'EXEC Playback "say \\"hi\\" now"\n'
    assert split_args('EXEC Playback "say \\"hi\\" now"') == ["EXEC", "Playback", 'say "hi" now']
    assert split_args('SAY DIGITS 123 ""') == ["SAY", "DIGITS", "123", ""]
    with pytest.raises(ValueError):
        encode_command("EXEC", "Dial", "x\nHANGUP")
