"""Who takes which call: the selection rules of the ACD over its state, pure and clock-free.

``RoutingState`` holds the queues, agents, waiting calls and offers; the core (``AcdCore``) adds
the event handlers and policy. Nothing here mutates state except ``_reserve`` (called by the
core's routing pass).
"""

from __future__ import annotations

import bisect
from typing import Any

from acd import kpi
from acd.routing.model import Agent, AgentConfig, AgentState, CallEntry, Offer, QueueConfig

S = AgentState


class RoutingState:
    def __init__(self) -> None:
        self.now = 0.0
        self.queues: dict[str, QueueConfig] = {}
        self.agents: dict[str, Agent] = {}
        self.waiting: dict[str, list[CallEntry]] = {}
        self.calls: dict[str, CallEntry] = {}  # waiting calls (callbacks included), by call id
        self.offers: dict[str, Offer] = {}
        self.connected: dict[str, str] = {}  # call_id -> agent_id
        self._skill_index: dict[str, set[str]] = {}
        self._agent_queues: dict[str, tuple[str, ...]] = {}  # queues an agent may ever serve
        self._ready: set[str] = set()
        self._rr: dict[str, int] = {}
        self._handle: dict[str, float] = {}

    # ------------------------------------------------------------------ indexes
    def _index_agent(self, cfg: AgentConfig) -> None:
        for ids in self._skill_index.values():
            ids.discard(cfg.id)
        for skill in cfg.skills:
            self._skill_index.setdefault(skill, set()).add(cfg.id)
        # relaxation never goes below proficiency 1, so having the skill at all is the bound
        self._agent_queues[cfg.id] = tuple(
            name for name, q in self.queues.items()
            if all(cfg.skills.get(sk, 0) >= 1 for sk in q.skills) or any(step.team == cfg.team for step in q.relax if step.team)
        )

    def _insert(self, entry: CallEntry) -> None:
        bisect.insort(self.waiting[entry.queue], entry, key=self._order_key)

    def can_serve(self, agent: Agent, queue: str) -> bool:
        """The agent has the queue's skills at the base minimum."""
        q = self.queues[queue]
        return all(agent.config.skills.get(s, 0) >= m for s, m in q.skills.items())

    def agents_who_could_serve(self, queue: str) -> int:
        return sum(1 for a in self.agents.values() if a.state != S.LOGGED_OUT and self.can_serve(a, queue))

    def position(self, call_id: str) -> int | None:
        entry = self.calls.get(call_id)
        if entry is None or entry.queue not in self.waiting:
            return None
        ordered = self.waiting[entry.queue]
        return ordered.index(entry) + 1 if entry in ordered else None

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

    def _record_handle_time(self, queue: str, seconds: float, weight: float = 0.2) -> None:
        """Recent handle time per queue (exponentially weighted), for EWT."""
        prev = self._handle.get(queue)
        self._handle[queue] = seconds if prev is None else prev + weight * (seconds - prev)

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
        if self.now - entry.enqueued_at >= entry.sticky_s:
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
        now = self.now

        def score(a: Agent) -> float:
            if q.strategy == "most_skilled":
                return float(sum(a.config.skills.get(s, 0) for s in q.skills))
            if q.strategy == "least_occupied":
                return round(self.occupancy(a), 4)
            return round(now - a.idle_since, 3)  # longest idle (and round robin: shown as idle time)

        others = [a for a in agents[: top * 4] if a is not chosen]  # explanatory only: any bounded sample will do
        reverse = q.strategy != "least_occupied"
        others.sort(key=lambda a: (score(a), a.id), reverse=reverse)
        return tuple((a.id, score(a)) for a in [chosen] + others[: top - 1])

    def _waiting_at_least(self, enough: int) -> int:
        """The number of waiting calls, counted only up to ``enough`` (the busy case stops at the
        first queue or two instead of walking every queue on every decision)."""
        waiting = 0
        for entries in self.waiting.values():
            waiting += len(entries)
            if waiting >= enough:
                break
        return waiting

    def _candidate_calls(self, now: float) -> list[CallEntry]:
        """Calls worth a routing pass, best first. When ready agents are fewer than waiting calls
        (the busy case), only the best call of each ready agent can be served now: look at those,
        not at every waiting call."""
        if len(self._ready) < self._waiting_at_least(len(self._ready) + 1):
            chosen: dict[str, CallEntry] = {}
            for agent_id in self._ready:
                entry = self._best_call_for(self.agents[agent_id], now)
                if entry is not None:
                    chosen[entry.call_id] = entry
            entries = list(chosen.values())
        else:
            entries = [e for name in self.queues for e in self.waiting[name] if e.offer_id is None and e.not_before <= now]
        entries.sort(key=lambda e: (-self._effective_priority(e, now), e.enqueued_at, e.call_id))
        return entries

    def occupancy(self, agent: Agent, now: float | None = None) -> float:
        """The agent's occupancy so far (:func:`acd.kpi.occupancy_from_states`: busy time over
        staffed time), 0.0 before any staffed time. This is the data source; the ratio is kpi's."""
        now = self.now if now is None else now
        spent = dict(agent.time_in_state)
        spent[agent.state.value] = spent.get(agent.state.value, 0.0) + max(0.0, now - agent.state_since)
        return kpi.occupancy_from_states(spent) or 0.0


    # ------------------------------------------------------------------ views
    def snapshot(self, now: float | None = None) -> dict[str, Any]:
        """The live view for the wallboard and the API, as of ``now`` (the caller's clock)."""
        now = self.now if now is None else now
        queues: dict[str, dict[str, Any]] = {}
        for name, q in self.queues.items():
            waiting = self.waiting[name]
            queues[name] = {
                "waiting": len(waiting),
                "longest_wait_s": round(max((now - e.enqueued_at for e in waiting), default=0.0), 1),
                "service_level_s": q.service_level_s,
            }
        agents = {
            a.id: {"name": a.config.name, "state": a.state.value, "reason": a.reason, "in_state_s": round(now - a.state_since, 1),
                   "calls": a.calls_handled, "call_id": a.call_id}
            for a in self.agents.values()
        }
        return {"queues": queues, "agents": agents}
