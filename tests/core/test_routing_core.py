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
from acd.routing.snapshot import from_state, to_state

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
AGENTS = [agent(i, general=1 + i % 5, vip=1 + (i * 2) % 5) for i in range(5)]
QUEUES = [
    QueueConfig("general", skills={"general": 1}, wrapup_s=5, max_wait_s=300, callback_retry_s=20, callback_attempts=2),
    QueueConfig("vip", skills={"vip": 3}, relax=(RelaxStep(20, 1),), overflow_to="general", overflow_after_s=90, wrapup_s=0),
]


class AcdMachine(RuleBasedStateMachine):
    """Random arrivals, claims, bridges, RONAs and PBX failures, abandons, callbacks, hangups,
    holds, wrap-ups, pauses, device states, repairs, config changes and time, through
    ``handle`` only. A replica fed the same log stays identical; snapshot + tail equals it."""

    def __init__(self):
        super().__init__()
        self.h = Harness(QUEUES, AGENTS)
        self.replica = AcdCore(QUEUES, AGENTS, now=T0)
        self.snapshot = to_state(self.h.core)
        self.snapshot_at = 0
        self.n = 0
        self.arrived: set[str] = set()
        self.finished: set[str] = set()

    def do(self, make, *args, **kw):
        out = self.h(make, *args, **kw)
        self.replica.handle(self.h.log[-1])
        for c in out:
            if isinstance(c, Record) and c.kind in ("queue_exit", "wrapup_done") and c.call_id in self.arrived:
                if c.kind == "queue_exit" or c.call_id not in self.h.core.live:
                    self.finished.add(c.call_id)
            if isinstance(c, Record) and c.kind == "queue_refused":
                self.finished.add(c.call_id)
        return out

    @rule(queue=st.sampled_from(["general", "vip"]), priority=st.integers(0, 2), number=st.booleans())
    def arrive(self, queue, priority, number):
        self.n += 1
        self.arrived.add(f"c{self.n}")
        self.do(ev.CallQueued, f"c{self.n}", queue, f"PJSIP/c-{self.n}", self.h.t, priority=priority,
                caller_number="+447700900123" if number else "")

    @rule(i=st.integers(0, 4), what=st.sampled_from(["login", "logout", "ready", "pause", "pause_after", "forced_logout"]))
    def agent_desk(self, i, what):
        a = f"a{i}"
        {"login": lambda: self.do(ev.AgentLogin, a), "logout": lambda: self.do(ev.AgentLogout, a),
         "ready": lambda: self.do(ev.AgentReady, a), "pause": lambda: self.do(ev.AgentNotReady, a, "break"),
         "pause_after": lambda: self.do(ev.AgentNotReady, a, "break", after_call=True),
         "forced_logout": lambda: self.do(ev.AgentLogout, a, by="sup", forced=True)}[what]()

    @rule(data=st.data())
    def offer_outcome(self, data):
        if not self.h.core.offers:
            return
        offer = self.h.core.offers[data.draw(st.sampled_from(sorted(self.h.core.offers)))]
        outcome = data.draw(st.sampled_from(["ringing", "claim", "bridge", "rona", "pbx", "leg_hangup", "abandon", "callback"]))
        if outcome == "ringing":
            self.do(ev.LegRinging, offer.offer_id)
        elif outcome == "claim":
            self.do(ev.ClaimAsked, offer.offer_id)
        elif outcome == "bridge":
            self.do(ev.ClaimAsked, offer.offer_id)
            entry = self.h.core.calls.get(offer.call_id)
            self.do(ev.CallerBridged, offer.call_id, "PJSIP/c", offer_id=offer.offer_id if entry and entry.callback_number else None)
        elif outcome in ("rona", "pbx"):
            self.do(ev.OfferFailed, offer.offer_id, ev.FailCause.NO_ANSWER if outcome == "rona" else ev.FailCause.PBX)
        elif outcome == "leg_hangup":
            self.do(ev.LegHungUp, offer.offer_id)
        elif outcome == "callback":
            self.do(ev.CallbackAsked, offer.call_id, "+447700900123")
        else:
            self.do(ev.CallerLeft, offer.call_id, "abandoned")

    @rule(data=st.data())
    def a_waiting_caller_acts(self, data):
        waiting = sorted(self.h.core.calls)
        if waiting:
            call_id = data.draw(st.sampled_from(waiting))
            if data.draw(st.booleans()):
                self.do(ev.CallerLeft, call_id, data.draw(st.sampled_from(["abandoned", "engine_error"])))
            else:
                self.do(ev.CallbackAsked, call_id, "+447700900123")

    @rule(data=st.data())
    def a_connected_call(self, data):
        live = sorted(self.h.core.connected)
        if live:
            call_id = data.draw(st.sampled_from(live))
            what = data.draw(st.sampled_from(["hold", "unhold", "hangup"]))
            if what == "hangup":
                self.do(ev.CallHungUp, call_id, by=data.draw(st.sampled_from(["caller", "agent"])))
            else:
                self.do(ev.HoldChanged, call_id, what == "hold")

    @rule(data=st.data())
    def wrap_up(self, data):
        agents = sorted(self.h.core.wrapups)
        if agents:
            a = data.draw(st.sampled_from(agents))
            if data.draw(st.booleans()):
                self.do(ev.WrapUpFinished, a, "resolved", None, data.draw(st.booleans()))
            else:
                self.do(ev.WrapUpExtended, a, 30.0)

    @rule(i=st.integers(0, 4), state=st.sampled_from(["UNAVAILABLE", "NOT_INUSE", "INUSE", "BUSY"]), resync=st.booleans())
    def device(self, i, state, resync):
        self.do(ev.DeviceStateChanged, f"PJSIP/a{i}", state, resync=resync)

    @rule(i=st.integers(0, 4))
    def a_call_is_found_in_asterisk(self, i):
        self.n += 1
        if self.do(ev.AgentBridged, f"a{i}", f"c{self.n}", "PJSIP/x") and f"c{self.n}" in self.h.core.connected:
            self.arrived.add(f"c{self.n}")

    @rule(data=st.data())
    def resync(self, data):
        known = sorted(set(self.h.core.calls) | set(self.h.core.connected) | set(self.h.core.offers))
        present = data.draw(st.sets(st.sampled_from(known))) if known else set()
        self.do(ev.ChannelsPresent, frozenset(present))

    @rule(seconds=st.floats(0, 40))
    def time_passes(self, seconds):
        self.h.advance(seconds)
        for timer_id, at in sorted(self.h.core.timers.items(), key=lambda x: x[1]):
            if at <= self.h.t and timer_id in self.h.core.timers:
                self.do(ev.TimerFired, timer_id)

    @rule(ring=st.floats(5, 30))
    def config_change(self, ring):
        self.do(ev.ConfigApplied, (dataclasses.replace(QUEUES[0], ring_timeout_s=ring), QUEUES[1]), tuple(AGENTS))

    @rule()
    def take_a_snapshot(self):
        self.snapshot, self.snapshot_at = to_state(self.h.core), len(self.h.log)

    @invariant()
    def never_two_offers_or_calls_per_agent(self):
        core = self.h.core
        holders = [o.agent_id for o in core.offers.values()] + list(core.connected.values())
        assert len(holders) == len(set(holders))
        for offer in core.offers.values():
            assert core.agents[offer.agent_id].state in (AgentState.RESERVED, AgentState.RINGING)
        for agent_id in core.connected.values():
            assert core.agents[agent_id].state == AgentState.ON_CALL
        for agent_id in core.wrapups:
            assert core.agents[agent_id].state == AgentState.WRAP_UP

    @invariant()
    def one_live_offer_per_call_and_callbacks_wait_their_delay(self):
        calls = [o.call_id for o in self.h.core.offers.values()]
        assert len(calls) == len(set(calls))
        for offer in self.h.core.offers.values():
            assert self.h.core.calls[offer.call_id].not_before <= offer.created_at

    @invariant()
    def no_call_lost_or_duplicated(self):
        core = self.h.core
        waiting = [e.call_id for v in core.waiting.values() for e in v]
        assert len(waiting) == len(set(waiting)) and set(waiting) == set(core.calls)
        assert not (set(waiting) & set(core.live))
        assert (set(waiting) | set(core.live)) <= self.arrived
        assert (set(waiting) | set(core.live) | self.finished) == self.arrived

    @invariant()
    def queues_stay_in_priority_order(self):
        core = self.h.core
        for entries in core.waiting.values():
            keys = [(-core._effective_priority(e, core.now), e.enqueued_at) for e in entries]
            assert all(keys[i] <= keys[i + 1] or abs(keys[i][0] - keys[i + 1][0]) < 1e-9 for i in range(len(keys) - 1))

    def teardown(self):
        """Once per run (a check per step would make the run quadratic)."""
        state = to_state(self.h.core)
        assert to_state(self.replica) == state
        rebuilt = from_state(self.snapshot)
        for event in self.h.log[self.snapshot_at:]:
            rebuilt.handle(event)
        assert to_state(rebuilt) == state


TestAcdMachine = AcdMachine.TestCase
TestAcdMachine.settings = settings(max_examples=100, stateful_step_count=50, deadline=None)
