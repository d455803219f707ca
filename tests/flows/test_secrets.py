"""Secrets (PINs, dates, card numbers) never reach the record, the logs or the recording."""

from __future__ import annotations

import io
import json
import logging

import pytest

from acd import logs
from acd.flows.memory import ScriptedChannel

from .conftest import Harness

PIN = "987654"

SECRET_FLOW = """
flow: t
steps:
  card:
    collect: {prompt: card-number, into: card, secret: true, min_digits: 6, max_digits: 6}
    on: {ok: check}
    next: bye
  check:
    branch:
      - if: "len(card) == 6"
        goto: who
    next: bye
  who:
    lookup_caller: true
    on: {found: pin, not_found: bye}
  pin:
    verify_pin: {prompt: pin-please, attempts: 2, failed_prompt: wrong}
    on: {ok: bye, failed: bye, locked: bye}
  bye:
    hangup: true
"""


@pytest.fixture
def captured_logs():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.KeyValueFormatter())
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield stream
    root.removeHandler(handler)
    root.setLevel(old_level)


async def test_secret_digits_never_recorded_or_logged(captured_logs, h: Harness):
    h.add_customer("c1", pin=PIN)
    result = await h.run(SECRET_FLOW, f"402817,111111#,{PIN}#", recording=True)
    assert ("pin", "ok") in h.steps()
    everything = json.dumps([e for e in h.recorder.events], default=str) + captured_logs.getvalue() + repr(result)
    assert "402817" not in everything and PIN not in everything and "111111" not in everything
    assert h.step_data("card")["inputs"] == {"entries": ["***"]}
    assert result.variables["card"] == "***"
    assert h.step_data("pin")["inputs"] == {"attempts": ["failed", "ok"]}
    assert "flow.step" in captured_logs.getvalue()  # the logs were really captured


async def test_recording_is_muted_while_secrets_are_typed(h: Harness):
    h.add_customer("c1", pin=PIN)
    events: list[str] = []
    orig_mute, orig_unmute = h.recording.mute, h.recording.unmute

    async def mute():
        events.append("mute")
        await orig_mute()

    async def unmute():
        events.append("unmute")
        await orig_unmute()

    h.recording.mute, h.recording.unmute = mute, unmute
    await h.run(SECRET_FLOW, f"402817,{PIN}#", recording=True)
    assert events == ["mute", "unmute", "mute", "unmute"]  # card number, then the PIN
    assert not h.recording.muted


async def test_mute_happens_before_the_prompt_and_unmute_after_a_hangup(h: Harness):
    order: list[str] = []

    class Rec:
        async def mute(self):
            order.append("mute")

        async def unmute(self):
            order.append("unmute")

    h.recording = Rec()  # type: ignore[assignment]
    real_stream = ScriptedChannel.stream_file

    async def spy(self, filename, escape_digits="", offset=0):
        order.append(f"play {filename}")
        return await real_stream(self, filename, escape_digits, offset)

    ScriptedChannel.stream_file = spy
    try:
        result = await h.run(SECRET_FLOW, "12", recording=True)  # types 2 digits, then hangs up
    finally:
        ScriptedChannel.stream_file = real_stream
    assert result.outcome == "caller_hangup"
    assert order == ["mute", "play card-number", "play card-number", "unmute"]  # too short, retry, hangup


async def test_no_recording_control_is_fine(h: Harness):
    result = await h.run(SECRET_FLOW, "402817", recording=False)
    assert not result.failed
