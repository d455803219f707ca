"""A call-back booked for a follow-up task (``CallbackBooked``) through the pure core: it waits as
a callback from the start, the owning agent is rung first (its leg, then the customer's number),
another agent after the hold, and it goes through the event log's form unchanged."""

from __future__ import annotations

from acd.routing import inputs as ev
from acd.routing.commands import Ring
from acd.routing.model import AgentState, CallState, QueueConfig
from tests.core.test_routing_core import Harness, agent, of, records, rings


def test_the_owner_is_rung_first_then_anyone_after_the_hold():
    h = Harness([QueueConfig("general")], [agent(1), agent(2)])
    h(ev.AgentLogin, "a1")
    h(ev.AgentLogin, "a2")
    h(ev.AgentNotReady, "a2", "break")  # the task's owner is busy with something
    out = h(ev.CallbackBooked, "cb-t1", "general", "+447700900001", preferred_agent="a2", sticky_s=300,
            customer_id="cust-1", task_id="t1")
    assert rings(out) == []  # a1 is free, but the call is held for its owner
    assert records(out, "callback_booked")[0] | {"enqueued_at": 0} == {
        "queue": "general", "number": "+447700900001", "task_id": "t1", "preferred_agent": "a2",
        "customer_id": "cust-1", "enqueued_at": 0}
    entry = h.core.calls["cb-t1"]
    assert entry.state == CallState.CALLBACK and entry.callback_number == "+447700900001"
    h.advance(100)
    (ring,) = of(h(ev.AgentReady, "a2"), Ring)  # the owner comes back: rung first, its leg then dials the customer
    assert ring.offer.agent_id == "a2" and ring.callback_number == "+447700900001" and ring.customer_id == "cust-1"
    assert h.core.agents["a2"].state in (AgentState.RESERVED, AgentState.RINGING)


def test_without_its_owner_anyone_takes_it_after_the_hold_and_the_ring_dials_the_customer():
    h = Harness([QueueConfig("general")], [agent(1), agent(2)])
    h(ev.AgentLogin, "a1")
    (offer,) = rings(h(ev.CallbackBooked, "cb-t3", "general", "+447700900009", preferred_agent="a2", sticky_s=60))
    assert offer.agent_id == "a1"  # the owner is logged out: no hold at all
    h(ev.AgentLogin, "a2")
    h(ev.AgentNotReady, "a2", "break")
    out = h(ev.CallbackBooked, "cb-t2", "general", "+447700900002", preferred_agent="a2", sticky_s=60, task_id="t2")
    assert rings(out) == []  # held for its owner, on a break
    h(ev.LegHungUp, offer.offer_id)  # a1 is free again (the first customer did not answer)
    h(ev.AgentNotReady, "a1", "break")
    h(ev.AgentReady, "a1")
    assert "cb-t2" not in [o.call_id for o in h.core.offers.values()]
    h.advance(61)
    fired = h.fire_due_timers()
    (ring,) = of(fired, Ring)
    assert ring.offer.agent_id == "a1" and ring.callback_number == "+447700900002"


def test_a_booked_callback_for_an_unknown_queue_is_refused_and_a_duplicate_ignored():
    h = Harness([QueueConfig("general")], [agent(1)])
    out = h(ev.CallbackBooked, "cb-x", "nowhere", "+447700900003")
    assert records(out, "queue_refused")[0]["reason"] == "unknown queue" and not h.core.calls
    h(ev.CallbackBooked, "cb-y", "general", "+447700900003")
    assert records(h(ev.CallbackBooked, "cb-y", "general", "+447700900003"), "callback_booked") == []


def test_the_log_form_round_trips():
    event = ev.CallbackBooked(1.0, "cb-t1", "general", "+447700900001", "a2", 300.0, "cust-1", 2, "t1")
    assert ev.decode(ev.encode(event)) == event
