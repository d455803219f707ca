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


TYPEAHEAD_FLOW = """
flow: t
steps:
  welcome:
    play: {prompt: welcome, interruptible: true}
    next: who
  who:
    lookup_caller: true
    on: {found: pin, not_found: bye}
  pin:
    verify_pin: {prompt: pin-please, attempts: 1}
    on: {ok: menu, failed: menu, locked: bye}
  menu:
    menu: {prompt: main-menu}
    on: {"1": bye}
    on_invalid: bye
    on_timeout: bye
  bye:
    hangup: true
"""


async def test_a_pin_typed_ahead_into_the_welcome_is_secret_from_its_first_key(captured_logs, h: Harness):
    """Issue #13 item 3: the caller starts the PIN while the welcome plays; that first key is cut
    short the prompt, and is recorded masked; the recording was muted before the welcome played."""
    h.add_customer("c1", pin=PIN)
    order: list[str] = []

    class Rec:
        muted = False

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
        result = await h.run(TYPEAHEAD_FLOW, f"{PIN}#,1", recording=True)
    finally:
        ScriptedChannel.stream_file = real_stream
    assert ("pin", "ok") in h.steps() and result.verification == "verified"
    assert h.step_data("welcome")["inputs"] == {"key": "***"}
    assert order[:2] == ["mute", "play welcome"] and order.count("mute") == 1
    assert order.index("unmute") > order.index("play welcome") and "play main-menu" in order[order.index("unmute"):]
    everything = json.dumps(h.recorder.events, default=str) + captured_logs.getvalue() + repr(result)
    assert f'"key": "{PIN[0]}"' not in everything and PIN not in everything
    assert h.step_data("menu")["inputs"] == {"keys": ["1"]}  # what is not secret is still recorded


def test_the_compiler_knows_which_steps_lead_into_secret_input():
    from acd.flows.compiler import compile_flow_text

    flow = compile_flow_text(TYPEAHEAD_FLOW, "t.yaml")
    assert flow.secret_ahead == frozenset({"who", "pin"})  # welcome's next step reads a secret through a silent one
