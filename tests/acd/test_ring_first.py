"""The ring path on one node: the agent's Originate is written inside the ``submit`` that made the
routing decision, before that decision's records (the call's timeline, the spool, the log)."""

from acd.sim import AgentBehaviour, CallerScript
from tests.acd.conftest import wait_until


async def test_the_originate_is_written_in_the_routing_submit_before_its_records(make_engine):
    engine = await make_engine(n_agents=1)
    engine.pbx.agents["agent1"] = AgentBehaviour(answer_after_s=0.5, talk_s=0.5)
    acd, seen = engine.acd, []
    submit, write, record = acd.submit, acd.ami._write, acd.recorder.event

    def traced_submit(event):
        seen.append(("submit", type(event).__name__))
        try:
            return submit(event)
        finally:
            seen.append(("returned", type(event).__name__))

    def traced_write(name, headers, **kw):
        seen.append(("ami", name))
        return write(name, headers, **kw)

    def traced_record(call_id, event):
        seen.append(("record", type(event).__name__))
        return record(call_id, event)

    acd.submit, acd.ami._write, acd.recorder.event = traced_submit, traced_write, traced_record
    await engine.pbx.place_call(CallerScript(caller_id="+441234567890"))
    await wait_until(lambda: ("record", "OfferRang") in seen)
    start = seen.index(("submit", "CallQueued"))
    end = seen.index(("returned", "CallQueued"), start)
    inside = seen[start + 1:end]
    assert ("ami", "Originate") in inside
    assert inside.index(("ami", "Originate")) < inside.index(("record", "QueueEntered"))
    assert inside.index(("ami", "Originate")) < inside.index(("record", "RoutingDecision"))
