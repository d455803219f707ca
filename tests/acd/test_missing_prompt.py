"""A prompt Asterisk cannot open is not the caller hanging up (seen on a real Asterisk 22.10.1:
the demo line's ``welcome`` is not among Asterisk's core sounds; STREAM FILE answered
``200 result=-1 endpos=0`` with the caller still there, the engine ended the call as a hangup,
recorded it ``abandoned_ivr`` and the caller fell through to ``[acd-fallback]``)."""

from __future__ import annotations

import logging

import pytest

from acd.sim import CallerScript
from acd.store.records import Outcome
from tests.acd.test_flow_calls import engine_with_customer, stored_interaction

pytestmark = pytest.mark.virtual_time


async def test_a_missing_welcome_prompt_leaves_the_caller_in_the_flow(make_engine, tmp_path, caplog):
    caplog.set_level(logging.WARNING)
    engine, _ = await engine_with_customer(make_engine, tmp_path)
    engine.pbx.missing_sounds = {"welcome", "acme/main-menu"}  # a STREAM FILE and a GET DATA prompt
    call = await engine.pbx.place_call(CallerScript(caller_id="+447700900999", dnis="5551234", keys=",3", hangup_after_bridge_s=30))
    outcome = await call.finished(300)
    assert outcome.connected
    rec = await stored_interaction(engine, call.uniqueid)
    assert rec.outcome is Outcome.ANSWERED and rec.queue == "sales" and not rec.fallback
    assert [s["outcome"] for s in rec.ivr_path if s["step"] == "welcome"] == ["done"]
    missing = [r.acd_fields["prompt"] for r in caplog.records if r.getMessage() == "agi.prompt.missing"]
    assert missing[:1] == ["welcome"] and "acme/main-menu" in missing
