"""Attacks on the IVR as callers really behave:

- (issue #13, item 3) callers who start typing their PIN during the interruptible welcome, as 11
  of 24 demo callers did: the first key must be as secret as the rest: masked on the record and in
  what agents' screen-pops list, and typed while the recording is muted;
- (issue #13, item 10) a loaded engine: the caller lookup takes 0.3 s. A caller who types the PIN
  when asked is still verified: nothing the caller types races the engine's database work."""

from __future__ import annotations

import asyncio
import json

from acd.sim import CallerScript
from tests.acd.test_flow_calls import CALLER, PIN, engine_with_customer, stored_interaction

CALLERS = 6


async def test_pins_typed_ahead_into_the_welcome_by_many_callers_stay_secret(make_engine, tmp_path):
    engine, cid = await engine_with_customer(make_engine, tmp_path)
    engine.pbx.sound_seconds = lambda name: 5.0 if name == "welcome" else 0.2  # time to barge in
    scripts = [CallerScript(caller_id=CALLER, dnis="5551234", keys=f"{PIN}#,2", hangup_after_s=4.0) for _ in range(CALLERS)]
    calls = await asyncio.gather(*(engine.pbx.place_call(s) for s in scripts))
    outcomes = await asyncio.gather(*(c.finished(30) for c in calls))
    for call, outcome in zip(calls, outcomes, strict=True):
        assert outcome.keys and outcome.keys[0].digit == PIN[0] and outcome.keys[0].heard  # it cut the welcome short
        in_recording = [k.digit for k in outcome.keys[:len(PIN) + 1] if any(r.caller_audible_at(k.t) for r in outcome.recordings)]
        assert not in_recording, in_recording
        rec = await stored_interaction(engine, call.uniqueid)
        welcome = next(s for s in rec.ivr_path if s["step"] == "welcome")
        assert welcome["inputs"] == {"key": "***"}
    # what the next agent's screen-pop lists as this customer's last interactions
    history = json.dumps([i.to_dict() for i in await engine.customers.search_interactions(customer_id=cid, limit=10)], default=str)
    assert history.count('"key": "***"') == CALLERS and f'"key": "{PIN[0]}"' not in history


async def test_a_loaded_engine_still_verifies_a_caller_who_types_the_pin_when_asked(make_engine, tmp_path):
    engine, cid = await engine_with_customer(make_engine, tmp_path)
    real_lookup = engine.customers.find_by_phone

    async def slow_lookup(number):
        await asyncio.sleep(0.3)  # what a loaded 2-core machine did to the lookup
        return await real_lookup(number)

    engine.customers.find_by_phone = slow_lookup
    call = await engine.pbx.place_call(CallerScript(caller_id=CALLER, dnis="5551234", keys=f",{PIN}#,2", hangup_after_bridge_s=0.5))
    assert (await call.finished(30)).connected
    rec = await stored_interaction(engine, call.uniqueid)
    assert (rec.customer_id, rec.verification_level, rec.queue) == (cid, "verified", "support")
