"""Attack (issue #13, item 8): forge log lines and drive the operator's terminal with a caller id
holding a carriage return and terminal escapes. The attacker plays a fake Asterisk on the engine's
FastAGI port (the simulator's AMI side rightly refuses such a caller id, so it comes the way the
original attack came: in the FastAGI environment). Both log formats, as the engine writes them,
must keep one event per line with no raw control character."""

from __future__ import annotations

import asyncio
import io
import json
import logging

import pytest

from acd import logs
from acd.agi.codec import AgiAsteriskDecoder, encode_environment
from tests.conftest import wait_until

# no space, so the text format did not quote it; U+009B is a terminal's one-byte CSI, which JSON
# does not escape by itself
HOSTILE = "+447911111111\rINFO\x1b[2J\x07\x9b31mforged"


async def _fake_asterisk_call(port: int, caller_id: str) -> None:
    """One FastAGI session as Asterisk opens it, with ``caller_id``; the caller hangs up at the
    engine's first command."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(encode_environment({
        "agi_network": "yes", "agi_network_script": "ivr", "agi_request": f"agi://127.0.0.1:{port}/ivr",
        "agi_channel": "PJSIP/caller-00000001", "agi_uniqueid": "1795354017.6", "agi_callerid": caller_id,
        "agi_calleridname": "Mallory\x1b]0;owned\x07", "agi_dnid": "5551234", "agi_extension": "5551234"}))
    decoder = AgiAsteriskDecoder()
    try:
        while not decoder.feed(await asyncio.wait_for(reader.read(4096), 10)):
            pass
        writer.write(b"HANGUP\n")  # what Asterisk says when the caller hangs up
        await writer.drain()
    finally:
        writer.close()
RAW = ("\r", "\x1b", "\x07", "\x9b")


@pytest.mark.parametrize("fmt", ["text", "json"])
async def test_a_caller_id_with_cr_and_escapes_cannot_forge_log_lines(make_engine, fmt):
    engine = await make_engine(n_agents=1)
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.JsonFormatter() if fmt == "json" else logs.KeyValueFormatter())
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        await _fake_asterisk_call(engine.agi.port, HOSTILE)
        await wait_until(lambda: "agi.session.end" in stream.getvalue(), 10)
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
    out = stream.getvalue()
    lines = out.split("\n")[:-1]
    assert lines, "the engine logged nothing"
    assert not [c for c in RAW if c in out]  # nothing raw: no forged line, no terminal control
    about_it = [line for line in lines if "+447911111111" in line]
    assert about_it, "the call's caller id was not logged at all"
    for line in lines:
        if fmt == "json":
            json.loads(line)  # every line is one whole JSON document
        else:
            assert line[:4].isdigit() and "Z " in line[:30]  # every line starts with its own timestamp
    if fmt == "json":
        assert HOSTILE in [json.loads(line).get("caller") for line in about_it]  # escaped, and parses back whole
    else:
        assert any('caller="+447911111111\\rINFO\\u001b[2J\\u0007\\u009b31mforged"' in line for line in about_it)
