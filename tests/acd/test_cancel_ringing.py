"""A caller who hangs up while an agent rings (issue #12.1): the agent's leg is cancelled on the
caller's ``HangupRequest`` (Asterisk sends the caller's ``Hangup`` only once the FastAGI session
is closed, see shared/asterisk/observed/caller_hangs_up_while_agent_rings.ami.jsonl), not after
the bridge grace; and the record says the offer was cancelled, not "ringing"."""

from __future__ import annotations

from acd import events
from acd.sim import AgentBehaviour, CallerScript
from acd.store.records import Outcome, fold
from tests.acd.conftest import wait_until
from tests.acd.test_flow_calls import stored_interaction

QUEUES = """
queues:
  - {name: general, skills: {general: 1}, ring_timeout_s: 60, wrapup_s: 0.3, moh_slice_s: 2, announce_position: false, announce_ewt: false}
"""


async def test_the_ringing_agent_is_cancelled_on_the_callers_hangup_request(make_engine):
    engine = await make_engine(n_agents=1, queues=QUEUES)
    engine.pbx.agents["agent1"] = AgentBehaviour.never_answer()
    engine.acd.room.bridge_grace_s = 600.0  # a cancel that waited for the grace would never come in this test
    call = await engine.pbx.place_call(CallerScript(caller_id="+447700900777"))
    await wait_until(lambda: any(isinstance(events.from_timeline(e), events.OfferRang) for e in engine.calllog.timeline(call.uniqueid)), 15)
    [offer_id] = list(engine.core.offers)

    def leg_hangups() -> list[str]:
        return [dict(a.headers).get("Channel", "") for a in engine.pbx.ami.actions_seen if a.name.lower() == "hangup"]

    call.hangup()  # the caller's BYE: HangupRequest on AMI at once
    await wait_until(lambda: offer_id in leg_hangups(), 10)
    requests = [e for e in engine.pbx.events_named("HangupRequest") if e.get("Uniqueid") == call.uniqueid]
    assert len(requests) == 1
    timeline = [events.from_timeline(e) for e in engine.calllog.timeline(call.uniqueid)]
    [cancelled] = [e for e in timeline if isinstance(e, events.OfferCancelled)]
    assert cancelled.offer == offer_id and cancelled.agent == "agent1"
    assert [e.reason for e in timeline if isinstance(e, events.QueueExited)] == ["abandoned"]

    rec = await stored_interaction(engine, call.uniqueid)
    assert [(o.agent, o.outcome) for o in rec.offers] == [("agent1", "cancelled")]
    assert rec.outcome is Outcome.ABANDONED_QUEUE


def test_an_offer_cancelled_before_its_originate_returned_is_not_left_ringing():
    def entry(event: events.CallEvent, t: float) -> dict:
        return {"kind": event.kind, "t": t, **event.to_record()}

    rec = fold("c1", [
        entry(events.CallStarted(ani="+447700900777"), 0.0),
        entry(events.QueueEntered(queue="general"), 1.0),
        entry(events.OfferCancelled(agent="agent1", offer="o1", reason="abandoned"), 2.0),
        entry(events.QueueExited(queue="general", reason="abandoned", waited_s=1.0), 2.0),
        entry(events.OfferRang(agent="agent1", offer="o1", ring_timeout_s=15), 2.1),  # the Originate's answer came later
        entry(events.IvrEnded(outcome="abandoned_queue"), 2.2),
    ])
    assert [(o.agent, o.outcome) for o in rec.offers] == [("agent1", "cancelled")]
    assert rec.outcome is Outcome.ABANDONED_QUEUE
