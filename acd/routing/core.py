"""AcdCore: the pure ACD state machine and router.

Events in (``call_arrived``, ``agent_login``, ``offer_ringing``, ``offer_answered``,
``offer_failed``, ``call_abandoned``, ``call_ended``, ``wrapup_done``, ``set_not_ready`` ...),
decisions out (``route()`` returns new ``Offer``s whose agents are already reserved).

Invariants (checked by the property tests): an agent holds at most one offer or call; a call
has at most one live offer; a call is never lost or duplicated.
"""

from __future__ import annotations

import bisect
import uuid
from typing import Callable, Iterable

from acd.clock import Clock
from acd.logs import get_logger
from acd.routing.model import Agent, AgentConfig, AgentState, CallEntry, Decision, Offer, QueueConfig

log = get_logger(__name__)

S = AgentState
# Allowed transitions (h11 style: the table is the specification).
TRANSITIONS: dict[AgentState, set[AgentState]] = {
    S.LOGGED_OUT: {S.READY, S.NOT_READY},
    S.READY: {S.RESERVED, S.NOT_READY, S.LOGGED_OUT, S.ON_CALL},  # -> ON_CALL: only adopt_connected (repair)
    S.RESERVED: {S.RINGING, S.READY, S.NOT_READY, S.ON_CALL},
    S.RINGING: {S.ON_CALL, S.READY, S.NOT_READY},
    S.ON_CALL: {S.WRAP_UP},
    S.WRAP_UP: {S.READY, S.NOT_READY, S.LOGGED_OUT},
    S.NOT_READY: {S.READY, S.LOGGED_OUT, S.NOT_READY, S.ON_CALL},  # -> ON_CALL: only adopt_connected
}


class IllegalTransition(ValueError):
    def __init__(self, agent_id: str, old: AgentState, new: AgentState) -> None:
        super().__init__(f"agent {agent_id}: {old.value} -> {new.value} is not allowed")
        self.agent_id, self.old, self.new = agent_id, old, new


class UnknownAgent(KeyError):
    pass


class UnknownQueue(KeyError):
    pass


class QueueFull(RuntimeError):
    pass


class AcdCore:
    def __init__(
        self,
        clock: Clock,
        queues: Iterable[QueueConfig],
        agents: Iterable[AgentConfig],
        *,
        new_id: Callable[[], str] = lambda: str(uuid.uuid4()),
        on_state: Callable[[Agent, AgentState, float], None] | None = None,
    ) -> None:
        self.clock = clock
        self.queues: dict[str, QueueConfig] = {q.name: q for q in queues}
        self.agents: dict[str, Agent] = {}
        self.waiting: dict[str, list[CallEntry]] = {name: [] for name in self.queues}
        self.calls: dict[str, CallEntry] = {}
        self.offers: dict[str, Offer] = {}
        self.connected: dict[str, str] = {}  # call_id -> agent_id
        self._skill_index: dict[str, set[str]] = {}
        self._agent_queues: dict[str, tuple[str, ...]] = {}  # queues an agent may ever serve
        self._ready: set[str] = set()
        self._new_id = new_id
        self._on_state = on_state
        self._rr: dict[str, int] = {}
        self._handle: dict[str, float] = {}
        for cfg in agents:
            self.add_agent(cfg)

    # ------------------------------------------------------------------ agents
    def add_agent(self, cfg: AgentConfig) -> Agent:
        now = self.clock.now()
        agent = Agent(cfg, state_since=now, idle_since=now)
        self.agents[cfg.id] = agent
        for skill in cfg.skills:
            self._skill_index.setdefault(skill, set()).add(cfg.id)
        # relaxation never goes below proficiency 1, so having the skill at all is the bound
        self._agent_queues[cfg.id] = tuple(
            name for name, q in self.queues.items()
            if all(cfg.skills.get(sk, 0) >= 1 for sk in q.skills) or any(step.team == cfg.team for step in q.relax if step.team)
        )
        return agent

    def agent(self, agent_id: str) -> Agent:
        try:
            return self.agents[agent_id]
        except KeyError:
            raise UnknownAgent(agent_id) from None

    def _set_state(self, agent: Agent, new: AgentState, reason: str | None = None) -> None:
        old = agent.state
        if new not in TRANSITIONS[old]:
            raise IllegalTransition(agent.id, old, new)
        now = self.clock.now()
        spent = now - agent.state_since
        agent.time_in_state[old.value] = agent.time_in_state.get(old.value, 0.0) + spent
        agent.state, agent.state_since, agent.reason = new, now, reason if new == S.NOT_READY else None
        if new == S.READY:
            self._ready.add(agent.id)
            agent.idle_since = now
        else:
            self._ready.discard(agent.id)
        log.event("acd.agent.state", agent=agent.id, old=old.value, new=new.value, reason=reason)
        if self._on_state:
            self._on_state(agent, old, spent)

    def login(self, agent_id: str, ready: bool = True) -> None:
        agent = self.agent(agent_id)
        self._set_state(agent, S.READY if ready else S.NOT_READY, None if ready else "login")

    def logout(self, agent_id: str) -> None:
        self._set_state(self.agent(agent_id), S.LOGGED_OUT)

    def set_ready(self, agent_id: str) -> None:
        """The agent (or a supervisor) makes the agent available. An agent holding an offer is
        already taken: only the offer's outcome moves it."""
        agent = self.agent(agent_id)
        if agent.state in (S.RESERVED, S.RINGING):
            raise IllegalTransition(agent.id, agent.state, S.READY)
        self._set_state(agent, S.READY)

    def set_not_ready(self, agent_id: str, reason: str) -> Offer | None:
        """Returns the offer withdrawn from the agent (its leg must be cancelled), if one was
        ringing; the call keeps its place for the next agent."""
        agent = self.agent(agent_id)
        withdrawn = None
        if agent.offer_id is not None and agent.state in (S.RESERVED, S.RINGING):
            withdrawn = self.offers.pop(agent.offer_id, None)
            entry = self.calls.get(withdrawn.call_id) if withdrawn else None
            if entry is not None:
                entry.offer_id = None
            agent.offer_id = agent.call_id = None
        self._set_state(agent, S.NOT_READY, reason)
        return withdrawn

    def wrapup_done(self, agent_id: str, ready: bool = True) -> None:
        agent = self.agent(agent_id)
        if agent.state == S.WRAP_UP:
            self._set_state(agent, S.READY if ready else S.NOT_READY, None if ready else "after wrap-up")

    def can_serve(self, agent: Agent, queue: str) -> bool:
        """The agent has the queue's skills at the base minimum."""
        q = self.queues[queue]
        return all(agent.config.skills.get(s, 0) >= m for s, m in q.skills.items())

    # ------------------------------------------------------------------ calls
    def call_arrived(self, entry: CallEntry) -> None:
        if entry.queue not in self.queues:
            raise UnknownQueue(entry.queue)
        if entry.call_id in self.calls:
            return  # idempotent: a replay must not duplicate a call
        if len(self.waiting[entry.queue]) >= self.queues[entry.queue].max_length:
            raise QueueFull(entry.queue)
        self.calls[entry.call_id] = entry
        bisect.insort(self.waiting[entry.queue], entry, key=self._order_key)
        log.event("acd.call.queued", call=entry.call_id, queue=entry.queue, position=len(self.waiting[entry.queue]))

    def position(self, call_id: str) -> int | None:
        entry = self.calls.get(call_id)
        if entry is None:
            return None
        ordered = self._ordered(entry.queue)
        return ordered.index(entry) + 1 if entry in ordered else None

    def _drop_call(self, call_id: str) -> CallEntry | None:
        entry = self.calls.pop(call_id, None)
        if entry is not None and entry in self.waiting.get(entry.queue, []):
            self.waiting[entry.queue].remove(entry)
        return entry

    def call_abandoned(self, call_id: str) -> Offer | None:
        """The caller hung up while waiting. Returns the offer to cancel, if one was ringing."""
        entry = self._drop_call(call_id)
        if entry is None:
            return None
        offer = self.offers.pop(entry.offer_id, None) if entry.offer_id else None
        if offer is not None:
            agent = self.agents[offer.agent_id]
            agent.offer_id = agent.call_id = None
            self._set_state(agent, S.READY)
        return offer

    # ------------------------------------------------------------------ offers
    def offer_ringing(self, offer_id: str) -> None:
        offer = self.offers.get(offer_id)
        if offer is not None and self.agents[offer.agent_id].state == S.RESERVED:
            self._set_state(self.agents[offer.agent_id], S.RINGING)

    def claim(self, offer_id: str) -> bool:
        """The agent leg answered and asks to bridge. True for exactly one leg per call."""
        offer = self.offers.get(offer_id)
        if offer is None:
            return False
        entry = self.calls.get(offer.call_id)
        return entry is not None and entry.offer_id == offer_id and offer.call_id not in self.connected

    def offer_answered(self, offer_id: str) -> Offer | None:
        """The caller entered the bridge with this offer's agent."""
        offer = self.offers.pop(offer_id, None)
        if offer is None:
            return None
        agent = self.agents[offer.agent_id]
        self._drop_call(offer.call_id)
        self.connected[offer.call_id] = agent.id
        agent.call_id, agent.offer_id = offer.call_id, None
        self._set_state(agent, S.ON_CALL)
        return offer

    def to_callback(self, call_id: str, number: str) -> CallEntry | None:
        """The caller asked to be called back: the entry keeps its place (arrival time, priority)
        with no caller channel; routing later reserves an agent, then the customer is dialled."""
        entry = self.calls.get(call_id)
        if entry is None or entry.offer_id is not None:
            return None
        entry.callback_number, entry.caller_channel = number, ""
        return entry

    def callback_not_answered(self, offer_id: str, retry_after_s: float, max_attempts: int) -> CallEntry | None:
        """The agent was reserved and the customer did not answer: the agent is free again (not
        their fault) and the callback waits ``retry_after_s`` for another try, or is given up
        after ``max_attempts``. Returns the entry if it was given up."""
        offer = self.offers.get(offer_id)
        if offer is None:
            return None
        entry = self.calls.get(offer.call_id)
        self.offer_failed(offer_id, "customer did not answer", agent_at_fault=False)
        if entry is None:
            return None
        entry.callback_attempts += 1
        if entry.callback_attempts >= max_attempts:
            self._drop_call(entry.call_id)
            return entry
        entry.not_before = self.clock.now() + retry_after_s
        return None

    def adopt_connected(self, agent_id: str, call_id: str) -> bool:
        """State repair: Asterisk shows this agent bridged on a call the engine does not know (a
        restart, or a BridgeEnter lost with the AMI link). The agent is marked on that call so
        it is never offered another one. Returns False when there was nothing to repair."""
        agent = self.agent(agent_id)
        if agent.state not in (S.READY, S.NOT_READY) or agent.call_id is not None or call_id in self.connected:
            return False
        self._drop_call(call_id)
        self.connected[call_id] = agent.id
        agent.call_id = call_id
        self._set_state(agent, S.ON_CALL)
        return True

    def offer_failed(self, offer_id: str, reason: str, *, agent_at_fault: bool = True) -> Offer | None:
        """No answer (RONA), busy, or unreachable: the agent goes not ready, the call keeps its
        place at the head and is offered to someone else. When the failure is not the agent's
        (the PBX link was down), the agent goes back to ready instead."""
        offer = self.offers.pop(offer_id, None)
        if offer is None:
            return None
        agent = self.agents[offer.agent_id]
        agent.offer_id = agent.call_id = None
        if agent.state in (S.RESERVED, S.RINGING):
            self._set_state(agent, S.NOT_READY if agent_at_fault else S.READY, reason if agent_at_fault else None)
        entry = self.calls.get(offer.call_id)
        if entry is not None:
            entry.offer_id = None
            if agent_at_fault:
                entry.refused_by.add(agent.id)
        return offer

    def record_handle_time(self, queue: str, seconds: float, weight: float = 0.2) -> None:
        """Recent handle time per queue (exponentially weighted), for EWT."""
        prev = self._handle.get(queue)
        self._handle[queue] = seconds if prev is None else prev + weight * (seconds - prev)

    def estimated_wait(self, call_id: str) -> float | None:
        """EWT for this call: its position, the agents who can serve its queue (staffing), and
        the queue's recent handle time. Not a queue-wide average wait."""
        entry = self.calls.get(call_id)
        if entry is None:
            return None
        position = self.position(call_id) or 1
        q = self.queues[entry.queue]
        staffed = sum(1 for a in self.agents.values() if a.state not in (S.LOGGED_OUT, S.NOT_READY) and self.can_serve(a, entry.queue))
        if staffed == 0:
            return None
        handle = self._handle.get(entry.queue, q.default_handle_s)
        ready_now = sum(1 for a in self._ready if self.can_serve(self.agents[a], entry.queue))
        if position <= ready_now:
            return 0.0
        return (position - ready_now) * handle / staffed

    def agents_who_could_serve(self, queue: str) -> int:
        return sum(1 for a in self.agents.values() if a.state != S.LOGGED_OUT and self.can_serve(a, queue))

    def move(self, call_id: str, queue: str) -> Offer | None:
        """Overflow: the call moves to another queue, keeping its original arrival time (its
        place is earned). Returns a withdrawn offer whose leg must be cancelled."""
        if queue not in self.queues:
            raise UnknownQueue(queue)
        entry = self.calls.get(call_id)
        if entry is None:
            return None
        withdrawn = None
        if entry.offer_id is not None:
            withdrawn = self.offers.pop(entry.offer_id, None)
            if withdrawn is not None:
                agent = self.agents[withdrawn.agent_id]
                agent.offer_id = agent.call_id = None
                self._set_state(agent, S.READY)
            entry.offer_id = None
        self.waiting[entry.queue].remove(entry)
        entry.queue = queue
        bisect.insort(self.waiting[queue], entry, key=self._order_key)
        log.event("acd.call.overflow", call=call_id, queue=queue)
        return withdrawn

    def call_ended(self, call_id: str) -> str | None:
        """A connected call ended; its agent goes to wrap-up. Returns the agent id."""
        agent_id = self.connected.pop(call_id, None)
        if agent_id is None:
            return None
        agent = self.agents[agent_id]
        agent.call_id = None
        agent.calls_handled += 1
        self._set_state(agent, S.WRAP_UP)
        return agent_id

    # ------------------------------------------------------------------ routing
    def _effective_priority(self, entry: CallEntry, now: float) -> float:
        aging = self.queues[entry.queue].priority_aging_s
        return entry.priority + ((now - entry.enqueued_at) / aging if aging > 0 else 0.0)

    def _order_key(self, entry: CallEntry) -> tuple[float, float]:
        """Within a queue every call ages at the same rate, so the order by effective priority
        (priority + waited / aging) never changes while calls wait: sort once, on arrival."""
        aging = self.queues[entry.queue].priority_aging_s
        return ((entry.enqueued_at / aging if aging > 0 else 0.0) - entry.priority, entry.enqueued_at)

    def _ordered(self, queue: str) -> list[CallEntry]:
        return self.waiting[queue]

    def _min_proficiency(self, q: QueueConfig, waited: float) -> int | None:
        """None: the base requirement; otherwise the relaxed minimum now in force."""
        relaxed = None
        for step in q.relax:
            if waited >= step.after_s and step.team is None:
                relaxed = step.min_proficiency
        return relaxed

    @staticmethod
    def _team_in_force(q: QueueConfig, waited: float) -> str | None:
        """The team any of whose agents may take the call now (a ``team`` relax step), if any."""
        team = None
        for step in q.relax:
            if waited >= step.after_s and step.team is not None:
                team = step.team
        return team

    def _sticky_holder(self, entry: CallEntry) -> str | None:
        """The agent the call is reserved for right now (sticky routing), if any."""
        if entry.preferred_agent is None or entry.sticky_s <= 0:
            return None
        agent = self.agents.get(entry.preferred_agent)
        if agent is None or agent.state == S.LOGGED_OUT:
            return None
        if self.clock.now() - entry.enqueued_at >= entry.sticky_s:
            return None
        return agent.id

    def _agent_fits(self, agent: Agent, entry: CallEntry, required: dict[str, int], relaxed: int | None, team: str | None = None) -> bool:
        holder = self._sticky_holder(entry)
        if holder is not None and holder != agent.id:
            return False
        if team is not None and agent.config.team == team:
            return not entry.language or entry.language in agent.config.languages
        skills = agent.config.skills
        for skill, minimum in required.items():
            need = min(minimum, relaxed) if relaxed is not None else minimum
            if skills.get(skill, 0) < need:
                return False
        return not entry.language or entry.language in agent.config.languages

    def _eligible(self, entry: CallEntry, q: QueueConfig, waited: float) -> tuple[list[Agent], int]:
        """Ready agents that may take this call now. Walks the smaller of the ready set and the
        rarest required skill's index: never every agent."""
        required = {**q.skills, **entry.skills}
        relaxed = self._min_proficiency(q, waited)
        team = self._team_in_force(q, waited)
        pool: set[str] = self._ready
        if team is None:  # with a team step in force, agents without the skills may fit too
            for skill in required:
                ids = self._skill_index.get(skill, set())
                if len(ids) < len(pool):
                    pool = ids
        out = [
            self.agents[a] for a in pool
            if a in self._ready and self._agent_fits(self.agents[a], entry, required, relaxed, team)
        ]
        if len(out) > 1 and entry.refused_by:
            fresh = [a for a in out if a.id not in entry.refused_by]
            out = fresh or out
        floor = min((min(m, relaxed) if relaxed is not None else m for m in required.values()), default=1)
        return out, floor

    def _best_call_for(self, agent: Agent, now: float, scan_limit: int = 1024) -> CallEntry | None:
        """The best waiting call this agent may take: the first fitting call of each queue it
        serves (queues are kept in order), best effective priority across queues."""
        best: CallEntry | None = None
        best_key: tuple[float, float] | None = None
        for name in self._agent_queues.get(agent.id, ()):
            q = self.queues[name]
            for i, entry in enumerate(self.waiting[name]):
                if i >= scan_limit:
                    break
                if entry.offer_id is not None or entry.not_before > now:
                    continue
                required = {**q.skills, **entry.skills}
                waited = now - entry.enqueued_at
                if self._agent_fits(agent, entry, required, self._min_proficiency(q, waited), self._team_in_force(q, waited)):
                    key = (-self._effective_priority(entry, now), entry.enqueued_at)
                    if best_key is None or key < best_key:
                        best, best_key = entry, key
                    break
        return best

    def _choose(self, q: QueueConfig, agents: list[Agent], entry: CallEntry | None = None) -> Agent:
        if entry is not None and entry.preferred_skills:
            # preferred skills never filter; among the eligible, those who have them come first
            def preference(a: Agent) -> int:
                return sum(1 for s, m in entry.preferred_skills.items() if a.config.skills.get(s, 0) >= m)

            top = max(preference(a) for a in agents)
            agents = [a for a in agents if preference(a) == top]
        if q.strategy == "most_skilled":
            return max(agents, key=lambda a: (sum(a.config.skills.get(s, 0) for s in q.skills), -a.idle_since, a.id))
        if q.strategy == "least_occupied":
            return min(agents, key=lambda a: (self.occupancy(a), a.idle_since, a.id))
        if q.strategy == "round_robin":
            ordered = sorted(agents, key=lambda a: a.id)
            i = self._rr.get(q.name, 0) % len(ordered)
            self._rr[q.name] = i + 1
            return ordered[i]
        return min(agents, key=lambda a: (a.idle_since, a.id))  # longest idle

    @staticmethod
    def _relax_step(q: QueueConfig, waited: float) -> int | None:
        step = None
        for i, relax in enumerate(q.relax):
            if waited >= relax.after_s:
                step = i
        return step

    def _scores(self, q: QueueConfig, agents: list[Agent], chosen: Agent, top: int = 10) -> tuple[tuple[str, float], ...]:
        """What the strategy compared, for the decision record: the chosen agent first, then up
        to ``top`` other candidates (a bounded cost, whatever the pool size)."""
        now = self.clock.now()

        def score(a: Agent) -> float:
            if q.strategy == "most_skilled":
                return float(sum(a.config.skills.get(s, 0) for s in q.skills))
            if q.strategy == "least_occupied":
                return round(self.occupancy(a), 4)
            return round(now - a.idle_since, 3)  # longest idle (and round robin: shown as idle time)

        others = [a for a in agents[: top * 4] if a is not chosen]
        reverse = q.strategy != "least_occupied"
        others.sort(key=score, reverse=reverse)
        return tuple((a.id, score(a)) for a in [chosen] + others[: top - 1])

    def _candidate_calls(self, now: float) -> list[CallEntry]:
        """Calls worth a routing pass, best first. When ready agents are fewer than waiting calls
        (the busy case), only the best call of each ready agent can be served now: look at those,
        not at every waiting call."""
        waiting = sum(len(v) for v in self.waiting.values())
        if len(self._ready) < waiting:
            chosen: dict[str, CallEntry] = {}
            for agent_id in self._ready:
                entry = self._best_call_for(self.agents[agent_id], now)
                if entry is not None:
                    chosen[entry.call_id] = entry
            entries = list(chosen.values())
        else:
            entries = [e for name in self.queues for e in self.waiting[name] if e.offer_id is None and e.not_before <= now]
        entries.sort(key=lambda e: (-self._effective_priority(e, now), e.enqueued_at))
        return entries

    def route(self) -> list[tuple[Offer, Decision]]:
        """Pair waiting calls with ready agents. The chosen agents are reserved before this
        returns, so no agent is ever offered two calls."""
        out: list[tuple[Offer, Decision]] = []
        while self._ready:
            made = self._route_pass(out)
            if not made:
                break
        return out

    def _route_pass(self, out: list[tuple[Offer, Decision]]) -> int:
        now = self.clock.now()
        made = 0
        for entry in self._candidate_calls(now):
            if not self._ready:
                break
            if entry.offer_id is not None or entry.not_before > now:
                continue
            q = self.queues[entry.queue]
            waited = now - entry.enqueued_at
            eligible, floor = self._eligible(entry, q, waited)
            if not eligible:
                continue
            agent = self._choose(q, eligible, entry)
            offer = Offer(self._new_id(), entry.call_id, agent.id, agent.config.endpoint, q.name, q.ring_timeout_s, now)
            self.offers[offer.offer_id] = offer
            entry.offer_id = offer.offer_id
            agent.offer_id, agent.call_id = offer.offer_id, entry.call_id
            self._set_state(agent, S.RESERVED)
            decision = Decision(
                entry.call_id, agent.id, offer.offer_id, q.name, now, waited, len(eligible), floor, q.strategy,
                required={**q.skills, **entry.skills}, relax_step=self._relax_step(q, waited), language=entry.language,
                sticky_agent=self._sticky_holder(entry), preferred=dict(entry.preferred_skills),
                scores=self._scores(q, eligible, agent),
            )
            log.event("acd.route.decision", call=entry.call_id, agent=agent.id, offer=offer.offer_id, queue=q.name, waited_s=round(waited, 3), candidates=len(eligible))
            out.append((offer, decision))
            made += 1
        return made

    def occupancy(self, agent: Agent) -> float:
        """Share of the agent's logged-in time spent handling calls (ringing, talking, wrap-up)."""
        spent = dict(agent.time_in_state)
        spent[agent.state.value] = spent.get(agent.state.value, 0.0) + max(0.0, self.clock.now() - agent.state_since)
        busy = sum(spent.get(s.value, 0.0) for s in (S.RESERVED, S.RINGING, S.ON_CALL, S.WRAP_UP))
        logged_in = busy + spent.get(S.READY.value, 0.0) + spent.get(S.NOT_READY.value, 0.0)
        return busy / logged_in if logged_in > 0 else 0.0

    # ------------------------------------------------------------------ views
    def snapshot(self) -> dict:
        now = self.clock.now()
        queues = {}
        for name, q in self.queues.items():
            waiting = self.waiting[name]
            queues[name] = {
                "waiting": len(waiting),
                "longest_wait_s": round(max((now - e.enqueued_at for e in waiting), default=0.0), 1),
                "service_level_s": q.service_level_s,
            }
        agents = {
            a.id: {"name": a.config.name, "state": a.state.value, "reason": a.reason, "in_state_s": round(now - a.state_since, 1), "calls": a.calls_handled, "call": a.call_id}
            for a in self.agents.values()
        }
        return {"queues": queues, "agents": agents}
