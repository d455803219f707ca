import uuid

import pytest

from acd.store.records import Outcome, fold
from acd.store.sql import NotFound, SpooledEvent, interactions_from_raw


class Timeline:
    """Builds spooled events for one call the way the engine records them."""

    def __init__(self, call_id: str, t0: float = 1_700_000_000.0) -> None:
        self.call_id, self.t, self.seq, self.events = call_id, t0, 0, []

    def add(self, kind: str, after: float = 0.0, **data) -> "Timeline":
        self.t += after
        self.seq += 1
        self.events.append(SpooledEvent(uuid.uuid4().hex, self.seq, self.call_id, kind, self.t, data))
        return self


def answered_call(call_id="c1", ani="+442079460000", customer_id=None):
    return (Timeline(call_id)
            .add("call_start", ani=ani, dnis="0800", channel="PJSIP/x", uniqueid=call_id, linkedid=call_id)
            .add("flow_start", flow="main", version="1")
            .add("flow_step", 1, step="menu", action="menu", outcome="1", inputs={"key": "1"})
            .add("flow_step", 1, step="pin", action="verify_pin", outcome="ok", inputs={"attempts": ["ok"]})
            .add("queue_enter", 1, queue="support", priority=0, customer_id=customer_id)
            .add("offer", 2, agent="agent1", offer="o1", ring_timeout_s=15)
            .add("offer_failed", 15, agent="agent1", offer="o1", reason="no answer")
            .add("offer", 1, agent="agent2", offer="o2", ring_timeout_s=15)
            .add("connected", 3, agent="agent2", queue="support", waited_s=21.0)
            .add("recording", 0, file="/rec/c1.wav")
            .add("flow_end", 0, flow="main", outcome="answered", verification="verified", customer_id=customer_id)
            .add("ivr_end", 0, outcome="answered")
            .add("ended", 120, agent="agent2", talk_s=120.0)
            .add("wrapup_done", 30, agent="agent2", disposition="resolved", notes="card reissued", wrapup_s=30.0))


def test_fold_builds_the_whole_interaction():
    tl = answered_call()
    rec = fold("c1", ({"kind": e.kind, "t": e.t, **e.data} for e in tl.events))
    assert rec.outcome is Outcome.ANSWERED
    assert (rec.ani, rec.dnis, rec.uniqueid, rec.linkedid) == ("+442079460000", "0800", "c1", "c1")
    assert [o.outcome for o in rec.offers] == ["no answer", "answered"] and rec.offers[0].ring_s == 15
    assert rec.agent == "agent2" and rec.queue == "support" and rec.wait_s == 21.0
    assert rec.talk_s == 120 and rec.wrapup_s == 30 and rec.disposition == "resolved"
    assert rec.recording == "/rec/c1.wav" and rec.verification_level == "verified"
    assert [s["step"] for s in rec.ivr_path] == ["menu", "pin"]
    assert rec.queues[0].reason == "answered" and rec.queues[0].wait_s == 21.0


@pytest.mark.parametrize("events, outcome", [
    ([("call_start", {}), ("flow_end", {"outcome": "hangup"}), ("ivr_end", {"outcome": "hangup"})], Outcome.SELF_SERVED),
    ([("call_start", {}), ("flow_end", {"outcome": "caller_hangup"}), ("ivr_end", {"outcome": "caller_hangup"})], Outcome.ABANDONED_IVR),
    ([("call_start", {}), ("queue_enter", {"queue": "q"}), ("queue_exit", {"queue": "q", "reason": "abandoned"}),
      ("ivr_end", {"outcome": "abandoned_queue"})], Outcome.ABANDONED_QUEUE),
    ([("call_start", {}), ("flow_end", {"outcome": "transferred"}), ("ivr_end", {"outcome": "transferred"})], Outcome.TRANSFERRED),
    ([("call_start", {}), ("flow_end", {"outcome": "voicemail"})], Outcome.VOICEMAIL),
    ([("call_start", {}), ("queue_enter", {"queue": "q"}), ("queue_exit", {"queue": "q", "reason": "callback"}),
      ("ivr_end", {"outcome": "callback"})], Outcome.CALLBACK),
    ([("call_start", {}), ("queue_enter", {"queue": "q"})], Outcome.IN_PROGRESS),
])
def test_fold_final_outcomes(events, outcome):
    assert fold("x", ({"kind": k, "t": i, **d} for i, (k, d) in enumerate(events))).outcome is outcome


async def test_interaction_is_stored_with_its_timeline(store):
    cid = await store.create_customer(name="Ada", phones=["+442079460000"])
    tl = answered_call(customer_id=cid)
    await store.write_events(tl.events[:6])
    assert (await store.interaction("c1")).outcome is Outcome.IN_PROGRESS
    await store.write_events(tl.events[6:])
    rec = await store.interaction("c1")
    assert rec.outcome is Outcome.ANSWERED and rec.customer_id == cid and rec.disposition == "resolved"
    timeline = await store.timeline("c1")
    assert [e["kind"] for e in timeline] == [e.kind for e in tl.events]
    history = await store.customer_timeline(cid)
    assert [i["call_id"] for i in history["interactions"]] == ["c1"]
    assert history["interactions"][0]["timeline"][0]["kind"] == "call_start"


async def test_replaying_the_same_events_is_idempotent(store):
    tl = answered_call()
    await store.write_events(tl.events)
    await store.write_events(tl.events)
    assert len(await store.timeline("c1")) == len(tl.events)


async def test_unknown_callers_are_recorded_and_linked_later(store):
    tl = answered_call(call_id="u1", ani="+441632960999")
    await store.write_events(tl.events)
    rec = await store.interaction("u1")
    assert rec.customer_id is None and rec.ani == "+441632960999"
    cid = await store.create_customer(name="New customer")
    await store.link_interaction("u1", cid, by="alice")
    assert (await store.interaction("u1")).customer_id == cid
    await store.write_events(Timeline("u1", 1_700_000_999.0).add("hold", seconds=5).events)  # a later event keeps the link
    assert (await store.interaction("u1")).customer_id == cid
    with pytest.raises(NotFound):
        await store.link_interaction("nope", cid, by="alice")


async def test_a_call_from_a_single_customers_number_is_filed_under_them(store):
    cid = await store.create_customer(name="Ada", phones=["020 7946 0000"])
    await store.write_events(answered_call(call_id="k1", ani="02079460000").events)
    assert (await store.interaction("k1")).customer_id == cid


async def test_search_and_reporting_range(store):
    for i, agent in enumerate(["agent1", "agent2", "agent1"]):
        tl = Timeline(f"s{i}", 1_700_000_000.0 + i * 1000).add("call_start", ani="+442079460000").add(
            "queue_enter", 1, queue="sales").add("connected", 5, agent=agent, queue="sales", waited_s=5).add("ended", 60)
        await store.write_events(tl.events)
    assert [r.call_id for r in await store.search_interactions(agent="agent1")] == ["s2", "s0"]
    assert len(await store.search_interactions(ani="020 7946 0000")) == 3
    assert [r.call_id for r in await store.interactions_between(1_700_000_500.0, 1_700_002_000.0)] == ["s1"]
    assert [r.call_id for r in await store.search_interactions(queue="sales", outcome="answered", limit=1)] == ["s2"]


def test_the_fold_says_what_happened():
    """Issue #12.5: each way a call ends has its own outcome (built from typed events)."""
    from acd import events as ev
    from acd.store.records import Outcome, fold

    def run(*evs: ev.CallEvent) -> Outcome:
        return fold("c", [{"kind": e.kind, "t": float(i), **e.to_record()} for i, e in enumerate(evs)]).outcome

    start = ev.CallStarted(ani="+447700900123")
    assert run(start, ev.Verification(method="pin", level="identified", outcome="failed"), ev.FlowEnded(outcome="hangup"),
               ev.IvrEnded(outcome="hangup")) is Outcome.VERIFICATION_FAILED
    assert run(start, ev.Verification(method="pin", level="verified", outcome="ok"), ev.FlowEnded(outcome="hangup"),
               ev.IvrEnded(outcome="hangup")) is Outcome.SELF_SERVED
    assert run(start, ev.FlowEnded(outcome="caller_hangup"), ev.IvrEnded(outcome="caller_hangup")) is Outcome.ABANDONED_IVR
    assert run(start, ev.QueueEntered(queue="q"), ev.QueueExited(queue="q", reason="timeout"),
               ev.IvrEnded(outcome="timeout")) is Outcome.UNANSWERED
    assert run(start, ev.QueueEntered(queue="q"), ev.QueueExited(queue="q", reason="abandoned"),
               ev.IvrEnded(outcome="abandoned_queue")) is Outcome.ABANDONED_QUEUE
    assert run(start, ev.QueueEntered(queue="q"), ev.QueueExited(queue="q", reason="pbx_lost")) is Outcome.PBX_LOST
    assert run(start, ev.QueueEntered(queue="q"), ev.CallClosed(outcome="engine_lost_call", last_seen=1.5)) is Outcome.ENGINE_LOST_CALL
    assert run(start, ev.QueueEntered(queue="q")) is Outcome.IN_PROGRESS
    assert run(start, ev.IvrEnded(outcome="full")) is Outcome.UNANSWERED


def test_old_stored_events_read_back_as_typed_events():
    from acd import events as ev

    assert ev.from_timeline({"kind": "overflow", "t": 3.0, "from": "a", "to": "b", "reason": "wait"}) == ev.Overflowed("a", "b", "wait")
    assert ev.from_timeline({"kind": "queue_enter", "t": 1.0, "queue": "sales"}) == ev.QueueEntered(queue="sales")
    assert ev.from_timeline({"kind": "verification", "method": "pin", "result": "locked"}).outcome == "locked"
    odd = ev.from_timeline({"kind": "survey_answer", "t": 2.0, "score": 5})  # a kind this engine does not know
    assert isinstance(odd, ev.Unrecognised) and odd.to_record() == {"score": 5}
    for cls in ev.REGISTRY.values():  # each kind round-trips through its stored form
        assert cls.from_record(cls().to_record()) == cls()


async def test_the_records_of_a_range_read_in_chunks_from_one_cursor_are_all_there_once(store):
    """The day cache reads a busy day this way (acd.reports.daycache), on SQLite and PostgreSQL."""
    for i in range(7):
        tl = Timeline(f"k{i}", 1_700_000_000.0 + i * 100).add("call_start", ani="+442079460000").add("queue_enter", 1, queue="sales")
        await store.write_events(tl.events)
    chunks = [chunk async for chunk in store.interaction_record_chunks(1_700_000_100.0, 1_700_000_600.0, size=2)]
    assert [len(c) for c in chunks] == [2, 2, 1]  # k1..k5: one cursor, taken two rows at a time
    ids = sorted(interactions_from_raw([row for c in chunks for row in c]), key=lambda r: r.call_id)
    assert [r.call_id for r in ids] == ["k1", "k2", "k3", "k4", "k5"]
    assert ids == sorted(interactions_from_raw(await store.interaction_records_between(1_700_000_100.0, 1_700_000_600.0)),
                         key=lambda r: r.call_id)


async def test_agent_stretches_read_in_chunks_are_those_of_one_read(store, clock):
    """Three agents' state changes (one before the range, one after it): read two at a time, the
    stretches are cut at the same changes as in one read; none recorded then: nothing at all."""
    from acd.store.sql import AGENT_TIMELINE

    t0 = clock.now()
    changes = {"a1": [(-500, "ready"), (100, "on_call"), (400, "wrap_up")], "a2": [(50, "ready")],
               "a3": [(200, "not_ready"), (300, "ready"), (900, "logged_out")]}
    events = [SpooledEvent(uuid.uuid4().hex, i, AGENT_TIMELINE + agent, "agent_state", t0 + dt, {"state": state})
              for agent, seq in changes.items() for i, (dt, state) in enumerate(seq)]
    await store.write_events(events)
    clock.advance(1000)
    start, end = t0, t0 + 600
    whole = await store.agent_spans_between(start, end)
    assert [(s.agent, s.state, s.start - t0, s.end - t0) for s in whole] == [
        ("a1", "ready", 0, 100), ("a1", "on_call", 100, 400), ("a1", "wrap_up", 400, 600), ("a2", "ready", 50, 600),
        ("a3", "not_ready", 200, 300), ("a3", "ready", 300, 600)]
    chunks = [chunk async for chunk in store.agent_span_chunks(start, end, size=2)]
    assert [span for chunk in chunks for span in chunk] == whole and len(chunks) > 1
    assert [chunk async for chunk in store.agent_span_chunks(t0 - 10 * 86400, t0 - 9 * 86400, size=2)] == []
    assert await store.agent_spans_between(t0 - 10 * 86400, t0 - 9 * 86400) is None
