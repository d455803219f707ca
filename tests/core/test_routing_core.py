"""The pure ACD core: transitions, ordering, relaxation, RONA, and invariants under random events."""

import pytest
from hypothesis import settings, strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from acd.routing.core import AcdCore, IllegalTransition
from acd.routing.model import AgentConfig, AgentState, CallEntry, QueueConfig, RelaxStep
from acd.clock import FakeClock


def core_with(queues, agents, clock=None):
    clock = clock or FakeClock()
    ids = iter(range(10**6))
    return AcdCore(clock, queues, agents, new_id=lambda: f"o{next(ids)}"), clock


def agent(i, **skills):
    return AgentConfig(id=f"a{i}", name=f"A{i}", endpoint=f"PJSIP/a{i}", skills=skills or {"general": 3})


def call(i, clock, queue="general", priority=0, **kw):
    return CallEntry(f"c{i}", queue, f"PJSIP/c-{i}", clock.now(), priority=priority, **kw)


def test_illegal_transition_is_refused():
    core, _ = core_with([QueueConfig("general")], [agent(1)])
    with pytest.raises(IllegalTransition):
        core.call_ended("nothing") or core._set_state(core.agents["a1"], AgentState.ON_CALL)


def test_priority_then_wait_order_and_aging():
    core, clock = core_with([QueueConfig("general", priority_aging_s=10)], [agent(1)])
    core.call_arrived(call(1, clock))
    clock.advance(5)
    core.call_arrived(call(2, clock, priority=1))
    core.login("a1")
    ((offer, _),) = core.route()
    assert offer.call_id == "c2"  # higher priority first
    core2, clock2 = core_with([QueueConfig("general", priority_aging_s=10)], [agent(1)])
    core2.call_arrived(call(1, clock2))
    clock2.advance(15)  # c1 has aged 1.5 levels
    core2.call_arrived(call(2, clock2, priority=1))
    core2.login("a1")
    ((offer2, _),) = core2.route()
    assert offer2.call_id == "c1"  # nobody starves


def test_relaxation_is_live_not_frozen():
    q = QueueConfig("support", skills={"support": 4}, relax=(RelaxStep(30, 2),))
    core, clock = core_with([q], [agent(1, support=2)])
    core.login("a1")
    core.call_arrived(call(1, clock, queue="support"))
    assert core.route() == []
    clock.advance(31)
    ((offer, decision),) = core.route()
    assert offer.agent_id == "a1" and decision.min_proficiency == 2


def test_after_a_while_any_agent_of_the_team_may_take_the_call():
    import dataclasses

    q = QueueConfig("mortgages", skills={"mortgages": 3}, relax=(RelaxStep(30, 2), RelaxStep(90, team="lending")))
    lender = dataclasses.replace(agent(1, loans=4), team="lending")  # no mortgages skill at all
    outsider = dataclasses.replace(agent(2, general=5), team="retail")
    core, clock = core_with([q], [lender, outsider])
    core.login("a1")
    core.login("a2")
    core.call_arrived(call(1, clock, queue="mortgages"))
    clock.advance(60)
    assert core.route() == []  # proficiency relaxed to 2, still nobody with the skill
    clock.advance(31)
    ((offer, decision),) = core.route()
    assert offer.agent_id == "a1" and decision.relax_step == 1  # the team step, live


def test_team_relaxation_works_when_agents_pick_calls_too():
    """The busy case (fewer ready agents than calls) routes agent-first: a team agent without the
    queue's skill must still find the call once the team step is in force."""
    import dataclasses

    q = QueueConfig("mortgages", skills={"mortgages": 3}, relax=(RelaxStep(90, team="lending"),))
    core, clock = core_with([q], [dataclasses.replace(agent(1, loans=4), team="lending")])
    core.login("a1")
    for i in range(3):
        core.call_arrived(call(i, clock, queue="mortgages"))
    clock.advance(91)
    ((offer, _),) = core.route()
    assert offer.call_id == "c0"


def test_rona_keeps_the_call_at_the_head_and_sets_not_ready():
    core, clock = core_with([QueueConfig("general")], [agent(1), agent(2)])
    core.login("a1")
    core.call_arrived(call(1, clock))
    core.call_arrived(call(2, clock))
    ((offer, _),) = core.route()
    core.offer_failed(offer.offer_id, "no answer")
    assert core.agents["a1"].state == AgentState.NOT_READY and core.agents["a1"].reason == "no answer"
    core.login("a2")
    ((offer2, _),) = core.route()
    assert offer2.call_id == "c1"  # kept its place


def test_most_skilled_and_round_robin():
    core, clock = core_with([QueueConfig("s", skills={"x": 1}, strategy="most_skilled")], [agent(1, x=2), agent(2, x=5), agent(3, x=3)])
    for a in core.agents:
        core.login(a)
    core.call_arrived(call(1, clock, queue="s"))
    ((offer, _),) = core.route()
    assert offer.agent_id == "a2"


class AcdMachine(RuleBasedStateMachine):
    """Random arrivals, answers, RONAs, abandons, ends, wrap-ups, state changes and time."""

    def __init__(self):
        super().__init__()
        self.core, self.clock = core_with(
            [QueueConfig("general", skills={"general": 1}), QueueConfig("vip", skills={"vip": 3}, relax=(RelaxStep(20, 1),))],
            [agent(i, general=1 + i % 5, vip=1 + (i * 2) % 5) for i in range(5)],
        )
        self.n = 0
        self.arrived: set[str] = set()
        self.finished: set[str] = set()

    @rule(queue=st.sampled_from(["general", "vip"]), priority=st.integers(0, 2))
    def arrive(self, queue, priority):
        self.n += 1
        self.core.call_arrived(call(self.n, self.clock, queue=queue, priority=priority))
        self.arrived.add(f"c{self.n}")

    @rule(i=st.integers(0, 4), ready=st.booleans())
    def agent_toggle(self, i, ready):
        a = self.core.agents[f"a{i}"]
        try:
            if ready:
                self.core.set_ready(a.id) if a.state != AgentState.LOGGED_OUT else self.core.login(a.id)
            else:
                self.core.set_not_ready(a.id, "break")
        except IllegalTransition:
            pass

    @rule()
    def route(self):
        self.core.route()

    @rule(data=st.data())
    def offer_outcome(self, data):
        if not self.core.offers:
            return
        offer_id = data.draw(st.sampled_from(sorted(self.core.offers)))
        outcome = data.draw(st.sampled_from(["answer", "rona", "abandon"]))
        call_id = self.core.offers[offer_id].call_id
        if outcome == "answer":
            assert self.core.claim(offer_id)
            self.core.offer_answered(offer_id)
        elif outcome == "rona":
            self.core.offer_failed(offer_id, "no answer")
        else:
            self.core.call_abandoned(call_id)
            self.finished.add(call_id)

    @rule(data=st.data())
    def end_call(self, data):
        if self.core.connected:
            call_id = data.draw(st.sampled_from(sorted(self.core.connected)))
            agent_id = self.core.call_ended(call_id)
            self.finished.add(call_id)
            self.core.wrapup_done(agent_id)

    @rule(data=st.data())
    def caller_asks_for_a_callback(self, data):
        waiting = [e for v in self.core.waiting.values() for e in v if e.offer_id is None and not e.callback_number]
        if waiting:
            entry = data.draw(st.sampled_from(waiting))
            assert self.core.to_callback(entry.call_id, "+447700900000") is entry

    @rule(data=st.data())
    def callback_not_answered(self, data):
        offers = [o for o in self.core.offers.values() if self.core.calls[o.call_id].callback_number]
        if offers:
            offer = data.draw(st.sampled_from(offers))
            if self.core.callback_not_answered(offer.offer_id, 10.0, 2) is not None:
                self.finished.add(offer.call_id)  # given up after its attempts
            assert self.core.agents[offer.agent_id].state == AgentState.READY  # not the agent's fault

    @rule(i=st.integers(0, 4))
    def a_call_is_found_in_asterisk(self, i):
        """State repair: an agent is found bridged on a call the core did not know."""
        self.n += 1
        if self.core.adopt_connected(f"a{i}", f"c{self.n}"):
            self.arrived.add(f"c{self.n}")

    @rule(seconds=st.floats(0, 30))
    def time_passes(self, seconds):
        self.clock.advance(seconds)

    @invariant()
    def never_two_offers_or_calls_per_agent(self):
        holders = [o.agent_id for o in self.core.offers.values()] + list(self.core.connected.values())
        assert len(holders) == len(set(holders))
        for offer in self.core.offers.values():
            assert self.core.agents[offer.agent_id].state in (AgentState.RESERVED, AgentState.RINGING)

    @invariant()
    def a_callback_waits_out_its_retry_delay(self):
        for offer in self.core.offers.values():
            assert self.core.calls[offer.call_id].not_before <= offer.created_at

    @invariant()
    def one_live_offer_per_call(self):
        calls = [o.call_id for o in self.core.offers.values()]
        assert len(calls) == len(set(calls))

    @invariant()
    def no_call_lost_or_duplicated(self):
        waiting = [e.call_id for v in self.core.waiting.values() for e in v]
        assert len(waiting) == len(set(waiting))
        live = set(waiting) | set(self.core.connected)
        assert live | self.finished == self.arrived
        assert not (set(waiting) & set(self.core.connected))

    @invariant()
    def queues_stay_in_priority_order(self):
        now = self.clock.now()
        for entries in self.core.waiting.values():
            keys = [(-self.core._effective_priority(e, now), e.enqueued_at) for e in entries]
            assert all(keys[i] <= keys[i + 1] or abs(keys[i][0] - keys[i + 1][0]) < 1e-9 for i in range(len(keys) - 1))


TestAcdMachine = AcdMachine.TestCase
TestAcdMachine.settings = settings(max_examples=150, stateful_step_count=40, deadline=None)


def test_sticky_routing_holds_the_call_for_the_last_agent_then_lets_go():
    core, clock = core_with([QueueConfig("general")], [agent(1), agent(2)])
    core.login("a1")
    core.login("a2")
    core.set_not_ready("a2", "break")  # the customer's last agent is busy with something
    core.call_arrived(call(1, clock, preferred_agent="a2", sticky_s=30))
    assert core.route() == []  # a1 is free, but the call waits for a2 while sticky
    clock.advance(31)
    ((offer, _),) = core.route()
    assert offer.agent_id == "a1"


def test_sticky_agent_gets_the_call_when_free():
    core, clock = core_with([QueueConfig("general")], [agent(1), agent(2)])
    core.login("a1")
    core.login("a2")
    core.agents["a1"].idle_since -= 100  # a1 longest idle
    core.call_arrived(call(1, clock, preferred_agent="a2", sticky_s=30))
    ((offer, _),) = core.route()
    assert offer.agent_id == "a2"


def test_estimated_wait_uses_position_staffing_and_recent_handle_time():
    core, clock = core_with([QueueConfig("general", default_handle_s=100)], [agent(1), agent(2)])
    core.login("a1")
    core.login("a2")
    for i in range(4):
        core.call_arrived(call(i, clock))
    core.route()  # two calls offered; two waiting behind
    for offer in list(core.offers.values()):
        core.offer_answered(offer.offer_id)
    assert core.estimated_wait("c3") == 2 * 100 / 2  # position 2, two agents staffed
    core.record_handle_time("general", 40)
    assert core.estimated_wait("c3") == 2 * 40 / 2


def test_overflow_move_keeps_the_arrival_time():
    core, clock = core_with([QueueConfig("a"), QueueConfig("b")], [agent(1)])
    core.call_arrived(call(1, clock, queue="a"))
    clock.advance(10)
    core.call_arrived(call(2, clock, queue="b"))
    core.move("c1", "b")
    assert [e.call_id for e in core.waiting["b"]] == ["c1", "c2"]
    assert core.waiting["a"] == []
