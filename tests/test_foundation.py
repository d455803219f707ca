"""Shared foundations: secrets never print, logs are one structured line, YAML keeps positions."""

import io
import json
import logging
import pickle

import pytest

from acd import logs
from acd.clock import FakeClock
from acd.secrets import Secret, hash_secret, verify_secret
from acd.yamlsrc import YamlError, load_yaml_text, where


def test_secret_never_renders_its_value():
    s = Secret("4711")
    assert "4711" not in str(s) + repr(s) + f"{s}" + f"{s!r}" + "%s" % s  # noqa: UP031 - %-formatting is one of the paths under test
    assert s.reveal() == "4711"
    with pytest.raises(TypeError):
        pickle.dumps(s)


def test_secret_hash_is_salted_and_verifies():
    h1 = hash_secret(Secret("1234"), n=2**10)
    h2 = hash_secret(Secret("1234"), n=2**10)
    assert h1 != h2 and "1234" not in h1
    assert verify_secret(Secret("1234"), h1)
    assert not verify_secret(Secret("1235"), h1)
    assert not verify_secret(Secret("1234"), "garbage")


def _capture(fmt):
    stream = io.StringIO()
    logs.configure("DEBUG", fmt, stream)
    return stream


def test_log_line_carries_call_id_and_masks_secrets():
    stream = _capture("text")
    log = logs.get_logger("acd.test")
    with logs.bind_call("1795355634.142"):
        log.event("verify.attempt", pin=Secret("9876"), method="pin", memorable_date="19800101")
    out = stream.getvalue()
    assert out.count("\n") == 1
    assert "call_id=1795355634.142" in out and "method=pin" in out
    assert "9876" not in out and "19800101" not in out


def test_json_log_format():
    stream = _capture("json")
    logs.get_logger("acd.test").event("x.y", n=3)
    doc = json.loads(stream.getvalue())
    assert doc["event"] == "x.y" and doc["n"] == 3 and doc["level"] == "INFO"


HOSTILE = "+447911111111\r\nINFO fake.line\x1b[2J\x9b\x7f\u2028end"
RAW = ("\r", "\n", "\x1b", "\x9b", "\x7f", "\u2028")


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_control_characters_in_a_caller_id_are_escaped_in_both_formats(fmt):
    """Issue #13 item 8: a CR/LF/ESC caller id must not forge a line or drive the terminal."""
    stream = _capture(fmt)
    log = logs.get_logger("acd.test")
    log.event("agi.session.start", caller=HOSTILE)
    log.event("odd\revent\x1b", n=1)
    try:
        raise ValueError("bad\rvalue\x1b")
    except ValueError:
        log.logger.exception("boom")
    out = stream.getvalue()
    assert out.count("\n") == 3  # exactly one line per event
    body = out.replace("\n", "")
    assert not [c for c in RAW if c in body]
    first = out.splitlines()[0]
    if fmt == "json":
        assert json.loads(first)["caller"] == HOSTILE  # escaped, not lost: it parses back exactly
    else:
        assert 'caller="+447911111111\\r\\nINFO fake.line\\u001b[2J\\u009b\\u007f\\u2028end"' in first
        assert json.loads(first.split("caller=", 1)[1]) == HOSTILE


def test_a_backslash_value_is_quoted_so_escapes_stay_unambiguous():
    stream = _capture("text")
    logs.get_logger("acd.test").event("x", caller="a\\rb")
    assert 'caller="a\\\\rb"' in stream.getvalue()


def teardown_module():
    logs.configure("WARNING")
    logging.getLogger().handlers[:] = []


def test_yaml_positions_and_duplicates():
    doc = load_yaml_text("a: 1\nsteps:\n  menu:\n    say: hello\n", "f.yaml")
    assert str(where(doc["steps"], "menu")) == "f.yaml:3:3"
    with pytest.raises(YamlError) as err:
        load_yaml_text("a: 1\na: 2\n", "g.yaml")
    assert "g.yaml:2:1" in str(err.value) and "duplicate" in str(err.value)


def test_fake_clock_moves_only_forward():
    c = FakeClock(100.0)
    c.advance(2.5)
    assert c.now() == 102.5 and c.monotonic() == 2.5
    with pytest.raises(ValueError):
        c.advance(-1)
