"""The pure ACD core, driven only by typed events: transitions, ordering, relaxation, RONA and
its recovery, overflow, max wait, callbacks, wrap-up, repairs, a clean stop; and the invariants
under random sequences of every event kind, with replay and snapshot + tail equal to the run."""

import dataclasses

from hypothesis import settings, strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from acd.routing import inputs as ev
from acd.routing.commands import AnswerClaim, CancelLeg, EndWait, Publish, Record, ReleaseAgent, Ring, StartRecording, StartTimer
from acd.routing.core import AcdCore
from acd.routing.model import AgentConfig, AgentState, QueueConfig, RelaxStep
from acd.routing.snapshot import to_state
from tests.core import coremodel as model
from tests.core.coremodel import CoreModel

T0 = 1_800_000_000.0


class Harness:
    """A core and a clock of its own: ``h(Event(...))`` stamps the time and handles it."""

    def __init__(self, queues, agents, **kw):
        self.core = AcdCore(queues, agents, now=T0, **kw)
        self.t = T0
        self.log: list[ev.AcdInput] = []

    def advance(self, seconds):
        self.t += seconds

    def __call__(self, make, *args, **kw):
        event = make(self.t, *args, **kw)
        self.log.append(event)
        return self.core.handle(event)

    def fire_due_timers(self):
        out = []
        for timer_id, at in sorted(self.core.timers.items(), key=lambda x: x[1]):
            if at <= self.t and timer_id in self.core.timers:
                out += self(ev.TimerFired, timer_id)
        return out

    def queue(self, i, queue="general", priority=0, **kw):
        return self(ev.CallQueued, f"c{i}", queue, f"PJSIP/c-{i}", self.t, priority=priority, **kw)


def agent(i, **skills):
    return AgentConfig(id=f"a{i}", name=f"A{i}", endpoint=f"PJSIP/a{i}", skills=skills or {"general": 3})


def rings(commands):
    return [c.offer for c in commands if isinstance(c, Ring)]


def of(commands, cls):
    return [c for c in commands if isinstance(c, cls)]


def records(commands, kind):
    return [c.data for c in commands if isinstance(c, Record) and c.kind == kind]


def test_an_illegal_request_is_refused_and_changes_nothing():
    h = Harness([QueueConfig("general")], [agent(1)])
    before = to_state(h.core)
    assert h(ev.AgentReady, "a1") == []  # logged out: not allowed
    assert h(ev.AgentNotReady, "nobody", "break") == []
    assert to_state(h.core) == {**before, "now": h.t}


def test_priority_then_wait_order_and_aging():
    h = Harness([QueueConfig("general", priority_aging_s=10)], [agent(1)])
    h.queue(1)
    h.advance(5)
    h.queue(2, priority=1)
    (offer,) = rings(h(ev.AgentLogin, "a1"))
    assert offer.call_id == "c2"  # higher priority first
    h2 = Harness([QueueConfig("general", priority_aging_s=10)], [agent(1)])
    h2.queue(1)
    h2.advance(15)  # c1 has aged 1.5 levels
    h2.queue(2, priority=1)
    (offer2,) = rings(h2(ev.AgentLogin, "a1"))
    assert offer2.call_id == "c1"  # nobody starves


def test_relaxation_is_live_not_frozen_and_the_core_wakes_itself_for_it():
    q = QueueConfig("support", skills={"support": 4}, relax=(RelaxStep(30, 2),))
    h = Harness([q], [agent(1, support=2)])
    h(ev.AgentLogin, "a1")
    out = h.queue(1, queue="support")
    assert rings(out) == []
    assert any(c.at == T0 + 30 for c in of(out, StartTimer))  # a timer for the relax step
    h.advance(31)
    out = h.fire_due_timers()
    (offer,) = rings(out)
    assert offer.agent_id == "a1" and records(out, "routing_decision")[0]["filters"]["min_proficiency"] == 2


def test_after_a_while_any_agent_of_the_team_may_take_the_call():
    q = QueueConfig("mortgages", skills={"mortgages": 3}, relax=(RelaxStep(30, 2), RelaxStep(90, team="lending")))
    lender = dataclasses.replace(agent(1, loans=4), team="lending")  # no mortgages skill at all
    outsider = dataclasses.replace(agent(2, general=5), team="retail")
    h = Harness([q], [lender, outsider])
    h(ev.AgentLogin, "a1")
    h(ev.AgentLogin, "a2")
    h.queue(1, queue="mortgages")
    h.advance(60)
    assert rings(h.fire_due_timers()) == []  # proficiency relaxed to 2, still nobody with the skill
    h.advance(31)
    out = h.fire_due_timers()
    (offer,) = rings(out)
    assert offer.agent_id == "a1" and records(out, "routing_decision")[0]["filters"]["relax_step"] == 1


def test_rona_keeps_the_call_at_the_head_and_only_no_answer_or_busy_blame_the_agent():
    h = Harness([QueueConfig("general")], [agent(1), agent(2)])
    h.queue(1)
    h.queue(2)
    (offer,) = rings(h(ev.AgentLogin, "a1"))
    out = h(ev.OfferFailed, offer.offer_id, ev.FailCause.NO_ANSWER)
    assert h.core.agents["a1"].state == AgentState.NOT_READY and h.core.agents["a1"].reason == "no answer"
    assert of(out, ReleaseAgent)  # the reservation goes with the offer
    (offer2,) = rings(h(ev.AgentLogin, "a2"))
    assert offer2.call_id == "c1"  # kept its place
    h(ev.OfferFailed, offer2.offer_id, ev.FailCause.PBX)  # Reason 0: the PBX is stopping
    assert h.core.agents["a2"].state == AgentState.RESERVED  # ready again, and at once re-offered
    assert ev.FailCause.from_originate_reason("0") == ev.FailCause.PBX and not ev.FailCause.PBX.agents_fault


def test_an_auto_ready_agent_recovers_from_rona_by_a_timer():
    h = Harness([QueueConfig("general")], [dataclasses.replace(agent(1), auto_ready=True)], rona_recover_s=30)
    h(ev.AgentLogin, "a1")
    (offer,) = rings(h.queue(1))
    out = h(ev.OfferFailed, offer.offer_id, ev.FailCause.NO_ANSWER)
    (timer,) = [c for c in of(out, StartTimer) if c.timer_id.startswith("recover")]
    assert timer.at == h.t + 30
    h.advance(30)
    assert rings(h.fire_due_timers())[0].call_id == "c1"


def test_most_skilled():
    h = Harness([QueueConfig("s", skills={"x": 1}, strategy="most_skilled")], [agent(1, x=2), agent(2, x=5), agent(3, x=3)])
    for a in ("a1", "a2", "a3"):
        h(ev.AgentLogin, a)
    (offer,) = rings(h.queue(1, queue="s"))
    assert offer.agent_id == "a2"


def connect(h, offer, channel="PJSIP/c"):
    assert of(h(ev.ClaimAsked, offer.offer_id), AnswerClaim)[0].won
    return h(ev.CallerBridged, offer.call_id, channel)


def test_claim_bridge_end_wrap_up_and_its_expiry():
    h = Harness([QueueConfig("general", wrapup_s=10)], [agent(1)])
    h(ev.AgentLogin, "a1")
    (offer,) = rings(h.queue(1))
    assert not of(h(ev.ClaimAsked, "not-an-offer"), AnswerClaim)[0].won
    out = connect(h, offer)
    assert of(out, EndWait)[0].outcome == "answered" and of(out, StartRecording)
    assert not of(h(ev.ClaimAsked, offer.offer_id), AnswerClaim)[0].won  # a second leg never bridges
    h.advance(7)
    h(ev.HoldChanged, "c1", True)
    h.advance(2)
    h(ev.HoldChanged, "c1", False)
    h.advance(1)
    out = h(ev.CallHungUp, "c1", by="caller")
    assert records(out, "ended")[0] == {"agent": "a1", "talk_s": 8.0, "hold_s": 2.0, "by": "caller", "pbx_lost": False}
    assert h.core.agents["a1"].state == AgentState.WRAP_UP
    h.advance(10)
    out = h.fire_due_timers()
    assert records(out, "wrapup_done")[0]["disposition"] is None and h.core.agents["a1"].state == AgentState.READY


def test_a_required_disposition_makes_the_wrap_up_overdue_not_over():
    h = Harness([QueueConfig("general", wrapup_s=5, disposition_required=True)], [agent(1)])
    h(ev.AgentLogin, "a1")
    connect(h, rings(h.queue(1))[0])
    h(ev.CallHungUp, "c1", by="agent")
    h.advance(5)
    out = h.fire_due_timers()
    assert of(out, Publish)[0].kind == "wrapup_overdue" and h.core.agents["a1"].state == AgentState.WRAP_UP
    out = h(ev.WrapUpFinished, "a1", "resolved", "ok")
    assert records(out, "wrapup_done")[0]["disposition"] == "resolved" and h.core.agents["a1"].state == AgentState.READY


def test_not_ready_after_this_call():
    h = Harness([QueueConfig("general", wrapup_s=5)], [agent(1)])
    h(ev.AgentLogin, "a1")
    connect(h, rings(h.queue(1))[0])
    h(ev.AgentNotReady, "a1", "coaching", by="sup1", after_call=True)
    assert h.core.agents["a1"].state == AgentState.ON_CALL
    h(ev.CallHungUp, "c1")
    h(ev.WrapUpFinished, "a1", "resolved", ready=True)
    assert (h.core.agents["a1"].state, h.core.agents["a1"].reason) == (AgentState.NOT_READY, "coaching")


def test_the_caller_leaving_cancels_the_ringing_leg_at_once():
    h = Harness([QueueConfig("general")], [agent(1)])
    h(ev.AgentLogin, "a1")
    (offer,) = rings(h.queue(1))
    out = h(ev.CallerLeft, "c1", "abandoned")
    assert of(out, CancelLeg)[0].offer_id == offer.offer_id
    assert records(out, "offer_cancelled") and records(out, "queue_exit")[0]["reason"] == "abandoned"
    assert h.core.agents["a1"].state == AgentState.READY and not h.core.calls


def test_max_wait_and_overflow_keep_the_arrival_time():
    h = Harness([QueueConfig("a", overflow_to="b", overflow_after_s=10), QueueConfig("b", max_wait_s=25)], [agent(1)])
    h.queue(1, queue="a")
    h.advance(5)
    h.queue(2, queue="b")
    h.advance(5)
    out = h.fire_due_timers()
    assert records(out, "overflow")[0] == {"from": "a", "to": "b", "reason": "wait"}
    assert [e.call_id for e in h.core.waiting["b"]] == ["c1", "c2"]
    h.advance(15)
    out = h.fire_due_timers()
    assert [(c.call_id, c.outcome) for c in of(out, EndWait)] == [("c1", "timeout")]


def test_the_deadlines_of_calls_gone_are_dropped_and_a_waiting_call_keeps_its_own():
    """Each call pushes its deadlines (max wait, relaxation); answered or abandoned calls left them
    in the heap until their time, 600 s later (bench/soak.py saw it grow)."""
    h = Harness([QueueConfig("general", max_wait_s=600, relax=(RelaxStep(after_s=30),))], [agent(1)])
    h.queue(0)  # waits throughout: its deadlines must survive every compaction
    for i in range(1, 1_000):
        h.queue(i)
        h.advance(0.1)
        h(ev.CallerLeft, f"c{i}", "abandoned")
    assert len(h.core.dues) <= 8 * (len(h.core.calls) + 8)  # 1,000 calls pushed 1,998 deadlines
    assert sorted(what for _, call_id, what in h.core.dues if call_id == "c0") == ["max_wait", "route"]
    h.advance(600)
    out = h.fire_due_timers()
    assert [(c.call_id, c.outcome) for c in of(out, EndWait)] == [("c0", "timeout")]


def test_join_empty_and_leave_when_empty():
    h = Harness([QueueConfig("general", join_empty=False, leave_when_empty=True)], [agent(1)])
    assert of(h.queue(1), EndWait)[0].outcome == "empty"
    h(ev.AgentLogin, "a1")
    h(ev.AgentNotReady, "a1", "break")
    h.queue(2)
    out = h(ev.AgentLogout, "a1")
    assert [(c.call_id, c.outcome) for c in of(out, EndWait)] == [("c2", "empty")]


def test_callback_keeps_the_place_is_retried_then_given_up():
    h = Harness([QueueConfig("general", callback_retry_s=60, callback_attempts=2)], [agent(1)])
    h.queue(1, caller_number="+447700900001")
    assert of(h(ev.CallbackAsked, "c1", "+447700900001"), EndWait)[0].outcome == "callback"
    h(ev.CallerLeft, "c1", "abandoned")  # the caller hangs up, as asked: the place is kept
    (offer,) = rings(h(ev.AgentLogin, "a1"))
    assert offer.call_id == "c1" and h.core.calls["c1"].callback_number
    h(ev.LegHungUp, offer.offer_id)  # the customer did not answer
    assert h.core.agents["a1"].state == AgentState.READY  # not the agent's fault
    h.advance(59)
    assert rings(h.fire_due_timers()) == []
    h.advance(1)
    (again,) = rings(h.fire_due_timers())
    out = h(ev.LegHungUp, again.offer_id)
    assert records(out, "queue_exit")[0]["reason"] == "callback_failed" and not h.core.calls


def test_a_callback_answered_is_connected_on_the_agent_leg():
    h = Harness([QueueConfig("general")], [agent(1)])
    h.queue(1, caller_number="+447700900001")
    h(ev.CallbackAsked, "c1", "+447700900001")
    (offer,) = rings(h(ev.AgentLogin, "a1"))
    out = h(ev.CallerBridged, "c1", "", offer_id=offer.offer_id)
    assert h.core.connected == {"c1": "a1"} and of(out, StartRecording)[0].channel == offer.offer_id


def test_resync_repairs_lost_offers_ends_lost_calls_where_last_seen_and_adopts():
    h = Harness([QueueConfig("general")], [agent(1), agent(2), agent(3)])
    for a in ("a1", "a2"):
        h(ev.AgentLogin, a)
    offers = rings(h.queue(1) + h.queue(2))
    connect(h, offers[0])
    h.advance(5)  # the PBX dies now; the engine notices 75 s later
    seen_at = h.t
    h.advance(75)
    out = h(ev.ChannelsPresent, frozenset(), (("c1", seen_at),))
    assert records(out, "ended")[0]["talk_s"] == 5.0 and records(out, "ended")[0]["pbx_lost"]
    assert [r["reason"] for r in records(out, "offer_failed")] == ["lost in reconnect"]
    assert h.core.agents["a2"].state == AgentState.READY  # not blamed
    h(ev.AgentLogin, "a3")
    h(ev.AgentBridged, "a3", "caller-x", "PJSIP/x-1")
    assert h.core.agents["a3"].state == AgentState.ON_CALL and h.core.connected["caller-x"] == "a3"
    assert [o.agent_id for o in rings(h.queue(9) + h.queue(10))] and all(o.agent_id != "a3" for o in rings(h.queue(11)))


def test_resync_judges_only_what_the_core_held_when_the_listing_was_asked_for():
    """An offer made while the listing was in flight (after a takeover, for a caller whose
    input was stamped during an outage) has no channel in it yet: it is not failed."""
    h = Harness([QueueConfig("general")], [agent(1), agent(2)])
    for a in ("a1", "a2"):
        h(ev.AgentLogin, a)
    (before,) = rings(h.queue(1))
    known = frozenset(h.core.offers) | frozenset(h.core.calls)
    (during,) = rings(h.queue(2))
    h.advance(5)  # both offers are older than the grace
    out = h(ev.ChannelsPresent, frozenset({"c1", "c2"}), (), known=known)
    assert [r["offer"] for r in records(out, "offer_failed")] == [before.offer_id]
    assert during.offer_id in h.core.offers and h.core.agents["a2"].state != AgentState.READY


def test_device_pauses_and_comes_back():
    h = Harness([QueueConfig("general")], [agent(1)])
    h(ev.AgentLogin, "a1")
    h(ev.DeviceStateChanged, "PJSIP/a1", "UNAVAILABLE")
    assert h.core.agents["a1"].reason == "unreachable"
    h(ev.DeviceStateChanged, "PJSIP/a1", "INUSE")  # live INUSE does not pause a ready agent
    h(ev.DeviceStateChanged, "PJSIP/a1", "NOT_INUSE")
    assert h.core.agents["a1"].state == AgentState.READY


def test_a_clean_stop_cancels_rings_closes_calls_and_logs_everyone_out():
    h = Harness([QueueConfig("general")], [agent(1), agent(2), agent(3)])
    for a in ("a1", "a2", "a3"):
        h(ev.AgentLogin, a)
    offers = rings(h.queue(1) + h.queue(2) + h.queue(3))
    connect(h, offers[0])
    h.queue(4)  # waits: nobody is free
    out = h(ev.EngineStopping)
    assert {c.offer_id for c in of(out, CancelLeg)} == {offers[1].offer_id, offers[2].offer_id}
    assert {c.call_id: c.outcome for c in of(out, EndWait)} == {"c2": "engine_error", "c3": "engine_error", "c4": "engine_error"}
    assert records(out, "ended")[0]["by"] == "engine_stop"
    assert all(a.state == AgentState.LOGGED_OUT for a in h.core.agents.values())
    assert not h.core.calls and not h.core.offers and not h.core.live


def test_config_changes_apply_live_and_calls_keep_their_place():
    h = Harness([QueueConfig("general", skills={"general": 1})], [agent(1)])
    h.queue(1)
    h.advance(1)
    h.queue(2)
    h(ev.ConfigApplied, (QueueConfig("general", skills={"general": 1}, ring_timeout_s=7), QueueConfig("sales", skills={"sales": 1})),
      (agent(2, sales=2),))
    assert [e.call_id for e in h.core.waiting["general"]] == ["c1", "c2"] and "sales" in h.core.queues
    h.queue(3, queue="sales")
    (offer,) = rings(h(ev.AgentLogin, "a2"))
    assert offer.call_id == "c3"
    (offer1,) = rings(h(ev.AgentLogin, "a1"))
    assert offer1.ring_timeout_s == 7


def test_sticky_routing_holds_the_call_for_the_last_agent_then_lets_go():
    h = Harness([QueueConfig("general")], [agent(1), agent(2)])
    h(ev.AgentLogin, "a1")
    h(ev.AgentLogin, "a2")
    h(ev.AgentNotReady, "a2", "break")  # the customer's last agent is busy with something
    assert rings(h.queue(1, preferred_agent="a2", sticky_s=30)) == []
    h.advance(31)
    (offer,) = rings(h.fire_due_timers())
    assert offer.agent_id == "a1"


def test_estimated_wait_uses_position_staffing_and_recent_handle_time():
    h = Harness([QueueConfig("general", default_handle_s=100)], [agent(1), agent(2)])
    h(ev.AgentLogin, "a1")
    h(ev.AgentLogin, "a2")
    offers = rings(sum((h.queue(i) for i in range(4)), []))
    for offer in offers:
        connect(h, offer)
    assert h.core.estimated_wait("c3") == 2 * 100 / 2  # position 2, two agents staffed
    h.core._record_handle_time("general", 40)
    assert h.core.estimated_wait("c3") == 2 * 40 / 2


# ---------------------------------------------------------------------- every event kind, at random
class AcdMachine(RuleBasedStateMachine):
    """Random arrivals, claims, bridges, RONAs and PBX failures, abandons, callbacks, hangups,
    holds, wrap-ups, pauses, device states, repairs, config changes and time, through
    ``handle`` only: the rules and invariants of ``tests/core/coremodel.py`` (which
    ``bench/property.py`` drives a million steps), with Hypothesis choosing."""

    def __init__(self):
        super().__init__()
        self.m = CoreModel()

    @rule(queue=st.sampled_from(model.QUEUE_NAMES), priority=st.sampled_from(model.PRIORITIES), number=st.booleans())
    def arrive(self, queue, priority, number):
        self.m.arrive(queue, priority, number)

    @rule(i=st.sampled_from(model.AGENT_INDEXES), what=st.sampled_from(model.DESK_ACTIONS))
    def agent_desk(self, i, what):
        self.m.agent_desk(i, what)

    @rule(data=st.data())
    def offer_outcome(self, data):
        if self.m.offer_ids():
            self.m.offer_outcome(data.draw(st.sampled_from(self.m.offer_ids())), data.draw(st.sampled_from(model.OFFER_OUTCOMES)))

    @rule(data=st.data())
    def a_waiting_caller_acts(self, data):
        if self.m.waiting_calls():
            self.m.a_waiting_caller_acts(data.draw(st.sampled_from(self.m.waiting_calls())), data.draw(st.booleans()),
                                         data.draw(st.sampled_from(model.LEAVE_REASONS)))

    @rule(data=st.data())
    def a_connected_call(self, data):
        if self.m.connected_calls():
            self.m.a_connected_call(data.draw(st.sampled_from(self.m.connected_calls())), data.draw(st.sampled_from(model.CONNECTED_ACTIONS)),
                                    data.draw(st.sampled_from(model.HANGUP_BY)))

    @rule(data=st.data())
    def wrap_up(self, data):
        if self.m.wrapping_agents():
            self.m.wrap_up(data.draw(st.sampled_from(self.m.wrapping_agents())), data.draw(st.booleans()), data.draw(st.booleans()))

    @rule(i=st.sampled_from(model.AGENT_INDEXES), state=st.sampled_from(model.DEVICE_STATES), resync=st.booleans())
    def device(self, i, state, resync):
        self.m.device(i, state, resync)

    @rule(i=st.sampled_from(model.AGENT_INDEXES))
    def a_call_is_found_in_asterisk(self, i):
        self.m.a_call_is_found_in_asterisk(i)

    @rule(data=st.data())
    def resync(self, data):
        known = self.m.known_calls()
        self.m.resync(data.draw(st.sets(st.sampled_from(known))) if known else set())

    @rule(seconds=st.floats(0, model.MAX_SECONDS_PASSING))
    def time_passes(self, seconds):
        self.m.time_passes(seconds)

    @rule(ring=st.floats(*model.RING_TIMEOUTS_S))
    def config_change(self, ring):
        self.m.config_change(ring)

    @rule()
    def take_a_snapshot(self):
        self.m.take_a_snapshot()

    @invariant()
    def never_two_offers_or_calls_per_agent(self):
        self.m.never_two_offers_or_calls_per_agent()

    @invariant()
    def one_live_offer_per_call_and_callbacks_wait_their_delay(self):
        self.m.one_live_offer_per_call()
        self.m.callbacks_wait_their_delay()

    @invariant()
    def no_call_lost_or_duplicated(self):
        self.m.no_call_lost_or_duplicated()

    @invariant()
    def queues_stay_in_priority_order(self):
        self.m.queues_stay_in_priority_order()

    def teardown(self):
        """Once per run (a check per step would make the run quadratic)."""
        self.m.check_end()


TestAcdMachine = AcdMachine.TestCase
TestAcdMachine.settings = settings(max_examples=100, stateful_step_count=50, deadline=None)
