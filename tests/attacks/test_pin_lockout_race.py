"""Attack (issue #13, item 1): beat the PIN lockout by calling many times at once.

Fifty simulated callers dial in together from the customer's number and type a wrong PIN at the
same moment; the engine must check at most ``max_failures`` of them before the lock holds, and a
caller who then types the right PIN is locked out, routed to the security queue."""

from __future__ import annotations

import asyncio

from acd.secrets import Secret
from acd.sim import AgentBehaviour, CallerScript
from tests.acd.test_flow_calls import AGENTS, CALLER, ENGINE, PIN, QUEUES, stored_interaction

CALLS = 50


async def test_fifty_simultaneous_calls_with_wrong_pins_get_three_checks(make_engine, tmp_path):
    engine = await make_engine(queues=QUEUES, engine_yaml=ENGINE + "verification:\n  max_failures: 3\n", agents=AGENTS)
    for name in ("agent1", "agent2"):
        engine.pbx.agents[name] = AgentBehaviour(answer_after_s=0.2, talk_s=0.3)
    cid = await engine.customers.create_customer(name="Ada Lovelace", phones=[CALLER], account_number="12345678", by="test")
    await engine.customers.set_secret(cid, "pin", Secret(PIN), by="test")

    # every caller lets the welcome play, types a wrong PIN when asked, then hangs up a little later
    scripts = [CallerScript(caller_id=CALLER, dnis="5551234", keys=f",{100000 + i}#", hangup_after_s=6.0) for i in range(CALLS)]
    calls = await asyncio.gather(*(engine.pbx.place_call(s) for s in scripts))
    await asyncio.gather(*(c.finished(60) for c in calls))

    audit = await engine.customers.attempts(customer_id=cid)
    results = [a["result"] for a in audit]
    assert results.count("failed") <= 3, results  # before the fix: 52 of 60
    assert "ok" not in results and "pending" not in results
    assert set(results) <= {"failed", "locked"} and len(results) >= 3  # the rest were refused, no hash checked

    # now the right PIN, from the same number: locked, and routed to the security queue
    call = await engine.pbx.place_call(CallerScript(caller_id=CALLER, dnis="5551234", keys=f",{PIN}#", hangup_after_s=5.0))
    await call.finished(30)
    rec = await stored_interaction(engine, call.uniqueid)
    assert rec.verification_level != "verified" and rec.locked and rec.queue == "security"
