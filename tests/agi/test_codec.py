"""Every recorded FastAGI session goes through the codec, whole and in pieces; every command the
recording engine sent is re-encoded byte for byte."""

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from acd.agi import codec
from acd.agi.codec import (
    AgiAsteriskDecoder, AgiEngineDecoder, AgiEnvironment, Hangup, Reply, encode_command,
    encode_environment, encode_hangup, encode_reply, encode_usage_error, split_args,
)
from acd.agi.errors import AgiLimitError, AgiProtocolError, AgiUnexpectedReply
from tests.transcripts import TRANSCRIPTS, agi_transcripts, read_transcript

ALL = agi_transcripts()


def ast_bytes(path):
    return b"".join(c.data for c in read_transcript(path) if c.direction == "AST>")


def engine_decoder(pending=100):
    """An engine-side decoder that has sent ``pending`` commands (so that many replies are due)."""
    dec = AgiEngineDecoder()
    dec.expect_reply(pending)
    return dec


def decode(data, sizes=None):
    dec = engine_decoder()
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
    (r1, r2) = engine_decoder().feed(b"agi_network: yes\n\n200 result=42 (timeout)\n200 result= (timeout)\n")[1:]
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
    dec2 = engine_decoder()
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
    (usage,) = engine_decoder().feed(b"agi_x: 1\n\n" + encode_usage_error(["Usage line"]))[1:]
    assert usage.code == 520 and len(usage.lines) == 3


def test_quoting_like_asterisk():
    assert encode_command("STREAM FILE", "beep", "") == b'STREAM FILE beep ""\n'
    assert encode_command("EXEC", "Playback", 'say "hi" now') == b'EXEC Playback "say \\"hi\\" now"\n'
    assert split_args('EXEC Playback "say \\"hi\\" now"') == ["EXEC", "Playback", 'say "hi" now']
    assert split_args('SAY DIGITS 123 ""') == ["SAY", "DIGITS", "123", ""]
    with pytest.raises(ValueError):
        encode_command("EXEC", "Dial", "x\nHANGUP")


# --------------------------------------------------------------------------- Asterisk side, byte for byte
@pytest.mark.parametrize("path", ALL, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_asterisk_side_encoders_reproduce_the_transcript(path):
    """What the simulator writes with the codec's encoders is what Asterisk wrote."""
    data = ast_bytes(path)
    frames = decode(data)
    out = b"" if not frames[0].values else encode_environment(frames[0].values)
    for frame in frames[1:]:
        if isinstance(frame, Hangup):
            out += encode_hangup()
        elif frame.code == 520 and len(frame.lines) > 1:
            out += encode_usage_error(frame.lines[1:-1])
        elif frame.code == 200:
            out += encode_reply(200, frame.result, data=frame.data, endpos=frame.endpos)
        else:
            out += encode_reply(frame.code)
    assert out == (data if frames[0].values else data[1:])


def test_bridged_away_transcripts_are_minus_one_then_hangup():
    for path in ALL:
        if "exp2_fastagi_bridged_away" not in str(path):
            continue
        frames = decode(ast_bytes(path))[1:]
        assert isinstance(frames[0], Reply) and frames[0].result_int == -1, path
        assert isinstance(frames[1], Hangup), path


def test_agiexitonhangup_sends_two_hangup_lines():
    path = [p for p in ALL if "d_exec_moh_agiexitonhangup" in str(p)][0]
    frames = decode(ast_bytes(path))[1:]
    assert [type(f).__name__ for f in frames] == ["Reply", "Hangup", "Hangup"]


def test_env_block_with_arguments_in_asterisk_order():
    env = {"agi_arg_2": "b c", "agi_network": "yes", "agi_arg_10": "x", "agi_arg_1": "a", "agi_channel": "Local/x"}
    raw = encode_environment(env)
    assert raw == b"agi_network: yes\nagi_channel: Local/x\nagi_arg_1: a\nagi_arg_2: b c\nagi_arg_10: x\n\n"
    (decoded,) = AgiEngineDecoder().feed(raw)
    assert decoded.arguments == ["a", "b c"]  # agi_arg_3 missing: the list stops there


def test_protocol_error_keeps_earlier_frames_and_later_lines():
    dec = engine_decoder()
    dec.feed(b"agi_network: yes\n\n")
    with pytest.raises(AgiProtocolError) as info:
        dec.feed(b"200 result=0\nHANGUP\ngarbage\n200 result=1 (x)\n")
    assert [type(f).__name__ for f in info.value.frames] == ["Reply", "Hangup"]
    (after,) = dec.feed(b"")
    assert after.data == "x"


def test_single_line_520_and_unknown_codes():
    assert encode_reply(520) == b"520 Invalid command syntax.  Proper usage not available.\n"
    (r,) = engine_decoder().feed(b"agi_x: 1\n\n" + encode_reply(520))[1:]
    assert r.code == 520 and len(r.lines) == 1
    with pytest.raises(ValueError):
        encode_reply(404)


def test_hangup_line_inside_a_usage_block_is_still_a_hangup():
    frames = engine_decoder().feed(b"agi_x: 1\n\n520-Invalid command syntax.  Proper usage follows:\nline\nHANGUP\n520 End of proper usage.\n")[1:]
    assert isinstance(frames[0], Hangup) and frames[1].code == 520 and frames[1].lines[1] == "line"


def test_reply_data_with_parentheses_and_empty_value():
    frames = engine_decoder().feed(b"agi_x: 1\n\n200 result=1 (a (b) c)\n200 result=1 ()\n200 result=-1 endpos=16320\n")[1:]
    assert frames[0].data == "a (b) c" and frames[1].data == "" and frames[2].result_int == -1 and frames[2].endpos == 16320


# --------------------------------------------------------------------------- parse_args, exactly
@pytest.mark.parametrize("line, words", [
    ('SAY DIGITS 123 ""', ["SAY", "DIGITS", "123", ""]),
    ('EXEC Playback "a b"', ["EXEC", "Playback", "a b"]),
    ("a\\ b c", ["a b", "c"]),  # escaped space
    ('ab"c d"e', ["abc de"]),  # quotes inside a word group, do not split
    ("a\\xb", ["axb"]),  # backslash dropped, next char literal
    ("a \\", ["a"]),  # a trailing backslash starts no word
    ("a\\\\b", ["a\\b"]),
    ('"\\"q\\""', ['"q"']),
    ("a\tb  c", ["a", "b", "c"]),
    ("  lead", ["lead"]),
    ("", []),
    ('""""', [""]),
])
def test_split_args_like_parse_args(line, words):
    assert split_args(line) == words


def test_split_args_truncates_at_max_args():
    words = split_args(" ".join(str(i) for i in range(200)))
    assert len(words) == 127 and words[-1] == "126"


def test_asterisk_decoder_reads_like_res_agi():
    dec = AgiAsteriskDecoder()
    cmds = dec.feed(b"get data beep 100\n\nFOOBAR x\nANSWER\r\nGET FULL VARIABLE ${CHANNEL}\n")
    assert [(c.name, c.args, c.known) for c in cmds] == [
        ("GET DATA", ("beep", "100"), True),
        ("", (), False),  # an empty line: Asterisk answers 510
        ("FOOBAR", ("x",), False),
        ("ANSWER\r", (), False),  # res_agi removes only the \n: "ANSWER\r" is no command (510)
        ("GET FULL VARIABLE", ("${CHANNEL}",), True),
    ]
    assert cmds[4].dead_ok and not cmds[0].dead_ok


def test_asterisk_decoder_cuts_overlong_lines_like_fgets():
    dec = AgiAsteriskDecoder()
    line = b"VERBOSE " + b"x" * 3000 + b"\n"
    cmds = dec.feed(line)
    assert len(cmds) == 2 and len(cmds[0].raw) == 2047 and cmds[1].raw == "x" * (3000 + 8 - 2047)


def test_encoder_refuses_what_would_break_the_stream():
    for bad in ("a\nb", "a\rb", "a\0b"):
        with pytest.raises(ValueError):
            encode_command("SET VARIABLE", "X", bad)
    with pytest.raises(ValueError):
        encode_command("VERBOSE", "x" * 2100)


@given(st.lists(st.text(alphabet=st.characters(blacklist_characters="\n\r\0", blacklist_categories=("Cs",)), max_size=12), max_size=6))
def test_any_arguments_survive_asterisk_parsing(args):
    (cmd,) = AgiAsteriskDecoder().feed(encode_command("SET VARIABLE", *args))
    assert cmd.name == "SET VARIABLE" and list(cmd.args) == args


def test_a_bare_command_encoded_again_is_the_same_and_a_bad_name_is_still_refused():
    assert encode_command("NOOP") == encode_command("NOOP") == b"NOOP\n"  # the second from the cache
    with pytest.raises(ValueError):
        encode_command("NOOP\nHANGUP")
    with pytest.raises(ValueError):
        encode_command("NOOP\nHANGUP")  # a refused name is never cached


def test_the_shared_replies_read_as_parsed_ones_and_no_callers_digits_are_kept():
    frames = engine_decoder().feed(b"agi_x: 1\n\n200 result=0\n200 result=1\n200 result=-1\n200 result=1234\n200 result=0 \n")[1:]
    assert [(f.result, f.data, f.endpos) for f in frames] == [("0", None, None), ("1", None, None), ("-1", None, None),
                                                              ("1234", None, None), ("0", None, None)]
    assert frames[2].result_int == -1 and frames[4].lines == ("200 result=0 ",)
    assert set(codec._PLAIN_REPLIES) == {"200 result=-1", "200 result=0", "200 result=1"}  # GET DATA's 1234 is not


def test_encode_command_examples():
    assert encode_command("EXEC", "MusicOnHold", "default,60") == b"EXEC MusicOnHold default,60\n"
    assert encode_command("SET VARIABLE", "NAME", "Zoë Brontë") == 'SET VARIABLE NAME "Zoë Brontë"\n'.encode()
    assert encode_command("EXEC", "Log", "a\\b") == b'EXEC Log "a\\\\b"\n'


def _env_lines(n: int, width: int = 20) -> bytes:
    return b"".join(b"agi_x%d: " % i + b"v" * width + b"\n" for i in range(n))


@pytest.mark.parametrize("flood, reason", [
    (_env_lines(257), "longer than 256 lines"),  # many short lines
    (_env_lines(200, 400), "larger than 65536 bytes"),  # lines of a fair size, too many bytes
    (b"agi_request: " + b"a" * 9000 + b"\n", "line longer than 8192 bytes"),  # one long line, whole
    (b"agi_request: " + b"a" * 9000, "line longer than 8192 bytes"),  # ... still without its end
])
def test_an_environment_block_over_the_caps_is_refused_for_good(flood, reason):
    dec = AgiEngineDecoder()
    with pytest.raises(AgiLimitError, match=reason):
        for i in range(0, len(flood), 4096):
            dec.feed(flood[i:i + 4096])
    assert dec.buffered == 0  # nothing held
    with pytest.raises(AgiLimitError, match="refused"):
        dec.feed(b"\n")  # and nothing more read: the session is over


def test_an_environment_block_just_within_the_caps_is_read():
    (env,) = AgiEngineDecoder().feed(_env_lines(255) + b"\n")
    assert len(env.values) == 255
    (env,) = AgiEngineDecoder(max_env_lines=3).feed(b"agi_a: 1\nagi_b: 2\n\n")
    assert env.get("b") == "2"
    with pytest.raises(AgiLimitError):
        AgiEngineDecoder(max_env_lines=3, max_env_bytes=10).feed(b"agi_a: 1\nagi_b: 2\n\n")


def test_a_reply_line_over_the_cap_is_refused():
    dec = AgiEngineDecoder()
    dec.feed(b"agi_a: 1\n\n")
    dec.expect_reply()
    with pytest.raises(AgiLimitError, match="line longer than 65536"):
        dec.feed(b"200 result=1 (" + b"x" * 70_000)


def test_a_reply_with_no_command_pending_is_a_protocol_error():
    """Issue #13.7: ``200 result=-1`` right after the environment block (no command sent) once
    ended the call; now it ends the session as the peer's protocol error."""
    dec = AgiEngineDecoder()
    with pytest.raises(AgiUnexpectedReply, match="no command pending") as info:
        dec.feed(b"agi_network: yes\n\n200 result=-1\n")
    assert isinstance(info.value, AgiProtocolError)
    assert [type(f).__name__ for f in info.value.frames] == ["AgiEnvironment"]


def test_replies_are_counted_against_the_commands_sent():
    dec = AgiEngineDecoder()
    dec.feed(b"agi_network: yes\n\n")
    assert dec.send_command("ANSWER") == b"ANSWER\n" and dec.pending_replies == 1
    with pytest.raises(ValueError):
        dec.send_command("VERBOSE", "a\nb")
    assert dec.pending_replies == 1  # a command that could not be sent awaits nothing
    assert dec.feed(b"HANGUP\n200 result=0\nHANGUP\n") == [Hangup(), Reply(200, "0", None, None, ("200 result=0",)), Hangup()]
    assert dec.pending_replies == 0
    with pytest.raises(AgiUnexpectedReply):
        dec.feed(b"200 result=1\n")  # a second reply to one command
    dec.expect_reply()
    with pytest.raises(AgiUnexpectedReply):  # a whole usage block to one command is one reply, not two
        dec.feed(b"520-Invalid command syntax.  Proper usage follows:\nusage\n520 End of proper usage.\n510 Invalid\n")


@pytest.mark.parametrize("line", [b"12", b"1", b"\xc2\xb2\xc2\xb2\xc2\xb2 x", b"20"])
def test_short_or_odd_digit_lines_are_protocol_errors(line):
    """Found by bench/fuzz.py: a two-digit line raised IndexError, Unicode digits ValueError."""
    dec = engine_decoder()
    dec.feed(b"agi_x: 1\n\n")
    with pytest.raises(AgiProtocolError, match="not a FastAGI reply"):
        dec.feed(line + b"\n")
