"""Attacks on the engine's FastAGI port as a fake Asterisk (issue #13, items 5 and 7):

- four sessions flood the environment block (the original attack sent 623 MB in 4.5 s and grew
  the engine from 103 MB to 748 MB): many short lines, long lines, one endless line, and lines
  of a fair size adding up. Each is refused and closed after the cap, the engine reads a bounded
  number of bytes from each, its memory does not follow the flood, and it serves a real call
  right after;
- a reply for a command never sent (``200 result=-1`` right after the environment block, which
  once ended the call): a protocol error that ends that session, logged."""

from __future__ import annotations

import asyncio
import logging
import resource
from collections.abc import Callable

from acd.agi.codec import MAX_ENV_BYTES, encode_environment, encode_reply
from acd.agi.server import READ_SIZE
from acd.sim import AgentBehaviour, CallerScript

FLOOD_BYTES = 40 << 20  # what each session would send if nobody stopped it
# the n-th piece of each flood (distinct keys, so a decoder that kept them would keep them all)
FLOODS: dict[str, Callable[[int], bytes]] = {
    "short lines": lambda n: b"".join(b"agi_x%d_%d: y\n" % (n, i) for i in range(4000)),
    "long lines": lambda n: b"agi_x%d: " % n + b"a" * 8000 + b"\n",
    "endless line": lambda n: b"b" * 65536,
    "fair lines": lambda n: b"".join(b"agi_arg_%d: " % (n * 100 + i) + b"c" * 500 + b"\n" for i in range(100)),
}


async def _flood(port: int, piece: Callable[[int], bytes]) -> tuple[int, bool]:
    """Send pieces until the engine closes; returns (bytes sent, closed by the engine)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    sent = n = 0
    try:
        writer.write(b"agi_network: yes\nagi_channel: ")
        while sent < FLOOD_BYTES:
            chunk = piece(n)
            n += 1
            writer.write(chunk)
            sent += len(chunk)
            await asyncio.wait_for(writer.drain(), 10)
        return sent, await asyncio.wait_for(reader.read(1), 10) == b""
    except (ConnectionResetError, BrokenPipeError):
        return sent, True  # the engine closed while we were still writing: what we want
    finally:
        writer.close()


def _max_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def test_four_sessions_flooding_the_environment_block_are_refused(make_engine, caplog):
    engine = await make_engine(n_agents=1)
    engine.pbx.agents["agent1"] = AgentBehaviour(answer_after_s=0.1, talk_s=0.2)
    peak_before = _max_rss_mib()
    with caplog.at_level(logging.WARNING):
        results = await asyncio.gather(*(_flood(engine.agi.port, piece) for piece in FLOODS.values()))
    assert all(closed for _, closed in results), results
    assert all(sent < FLOOD_BYTES for sent, _ in results), results  # nobody got to send it all
    # what the engine read from any one of them: the cap plus at most one read
    assert engine.agi.env_bytes_read_max <= MAX_ENV_BYTES + READ_SIZE
    assert engine.agi.refused_limit_total == len(FLOODS)
    reasons = sorted(r.acd_fields["reason"] for r in caplog.records if r.getMessage() == "agi.session.refused")
    assert len(reasons) == 4 and all("longer than" in r or "larger than" in r for r in reasons), reasons
    # the original attack grew the engine by 645 MB; the peak now moves by far less than one flood
    assert _max_rss_mib() - peak_before < 64
    call = await engine.pbx.place_call(CallerScript(keys="1", hangup_after_bridge_s=0.2))
    assert (await call.finished(30)).connected  # and the engine serves on


async def test_a_reply_for_a_command_never_sent_ends_that_session(make_engine, caplog):
    engine = await make_engine(n_agents=1)
    reader, writer = await asyncio.open_connection("127.0.0.1", engine.agi.port)
    with caplog.at_level(logging.WARNING):
        writer.write(encode_environment({
            "agi_network": "yes", "agi_network_script": "ivr", "agi_channel": "PJSIP/caller-00000009",
            "agi_uniqueid": "1795354099.9", "agi_callerid": "+447700900999", "agi_dnid": "5551234"}) + encode_reply(200, -1))
        assert await asyncio.wait_for(reader.read(4096), 10) == b""  # closed, no command sent
    writer.close()
    errors = [r.acd_fields.get("error", "") for r in caplog.records if r.getMessage() == "agi.session.bad_start"]
    assert any("no command pending" in e for e in errors), errors
    assert engine.agi.sessions_total == 0
