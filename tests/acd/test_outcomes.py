"""The record says what happened (issue #12.5), over the simulated PBX: the verify step puts a
``verification`` event on the record (method, level, outcome, never the digits), the record's
verification method comes from it, and a caller who failed the PIN is not "self-served"."""

from __future__ import annotations

import textwrap

from acd import events
from acd.sim import CallerScript
from acd.store.records import Outcome
from tests.acd.conftest import wait_until
from tests.acd.test_flow_calls import CALLER, PIN, engine_with_customer, stored_interaction

STRICT_LINE = """
flow: strict_line
description: known callers only; a wrong PIN ends the call
numbers: ["5550001"]
language: en
steps:
  welcome:
    play: {prompt: welcome}
    next: identify
  identify:
    lookup_caller: true
    on: {found: verify, not_found: goodbye, multiple: goodbye, withheld: goodbye}
  verify:
    verify_pin:
      prompt: acme/please-enter-your-pin
      min_digits: 4
      max_digits: 6
      attempts: 2
      failed_prompt: acme/that-pin-is-not-right
    on: {ok: support, failed: goodbye, locked: goodbye, no_secret: goodbye, not_identified: goodbye}
  support:
    queue: {name: support, skills: {support: 2}}
    on: {overflow: goodbye, timeout: goodbye}
  goodbye:
    play: {prompt: vm-goodbye}
    next: bye
  bye:
    hangup: true
"""


async def strict_engine(make_engine, tmp_path):
    flows = tmp_path / "flows"
    flows.mkdir()
    (flows / "strict_line.yaml").write_text(textwrap.dedent(STRICT_LINE))
    engine_yaml = f"flows:\n  directory: {flows}\n  default_flow: strict_line\n"
    return await engine_with_customer(make_engine, tmp_path, engine_yaml=engine_yaml)


def timeline_events(engine, call_id: str) -> list[events.CallEvent]:
    return [events.from_timeline(e) for e in engine.calllog.timeline(call_id)]


async def test_a_verified_caller_has_the_pin_method_on_the_record(make_engine, tmp_path):
    engine, cid = await engine_with_customer(make_engine, tmp_path)
    call = await engine.pbx.place_call(CallerScript(caller_id=CALLER, dnis="5551234", keys=f",{PIN}#,2", hangup_after_bridge_s=0.3))
    assert (await call.finished(30)).connected
    rec = await stored_interaction(engine, call.uniqueid)
    [verification] = [e for e in timeline_events(engine, call.uniqueid) if isinstance(e, events.Verification)]
    assert (verification.method, verification.outcome, verification.level) == ("pin", "ok", "verified")
    assert PIN not in repr(verification.to_record())
    assert rec.verification_method == "pin" and rec.verification_level == "verified"
    assert rec.outcome is Outcome.ANSWERED


async def test_a_caller_who_failed_the_pin_is_not_self_served(make_engine, tmp_path):
    engine, cid = await strict_engine(make_engine, tmp_path)
    call = await engine.pbx.place_call(CallerScript(caller_id=CALLER, dnis="5550001", keys="1111#,2222#"))
    outcome = await call.finished(30)
    assert not outcome.connected
    rec = await stored_interaction(engine, call.uniqueid)
    [verification] = [e for e in timeline_events(engine, call.uniqueid) if isinstance(e, events.Verification)]
    assert (verification.method, verification.outcome, verification.attempts) == ("pin", "failed", 2)
    assert rec.verification_method == "pin" and rec.verification_level != "verified"
    assert rec.outcome is Outcome.VERIFICATION_FAILED
    assert not rec.queues and rec.agent is None


async def test_a_caller_who_hangs_up_during_the_pin_abandoned_the_ivr(make_engine, tmp_path):
    engine, cid = await strict_engine(make_engine, tmp_path)
    call = await engine.pbx.place_call(CallerScript(caller_id=CALLER, dnis="5550001", keys=""))
    # the caller is identified; the PIN is being asked for: the caller hangs up without typing it
    await wait_until(lambda: any(isinstance(e, events.FlowStep) and e.step == "identify" for e in timeline_events(engine, call.uniqueid)))
    engine.pbx.request_hangup(call.channel, cause=16, by="caller", remote=True)
    await call.finished(30)
    rec = await stored_interaction(engine, call.uniqueid)
    kinds = [e for e in timeline_events(engine, call.uniqueid) if isinstance(e, events.Verification)]
    assert [v.outcome for v in kinds] == ["caller_hangup"]
    assert rec.outcome is Outcome.ABANDONED_IVR
