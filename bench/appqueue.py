"""The app_queue-style baseline for the routing benchmark.

What Asterisk's ``app_queue`` does when a member becomes free (apps/app_queue.c, Asterisk 22):
each queue keeps its callers in one list ordered by priority, then arrival (``insert_entry``);
every waiting caller's own thread asks ``is_our_turn`` (count the available members with
``num_available_members``, a walk over every member of the queue, then walk the callers from the
head, skipping those already being rung, ``pending``, until the count is reached); the caller whose
turn it is runs ``try_calling``: one call attempt per member of the queue, each given its
strategy's metric by ``calc_metric`` (penalty, then for ``leastrecent`` the time of its last call),
and ``ring_one`` rings the best one that ``can_ring_entry`` (available, not paused, not in a call,
out of wrap-up).

So a freed agent, in every queue it is a member of, costs a walk of that queue's members, a walk of
its callers in order up to the first one not yet being rung, and for that caller a walk of the
members again to pick the best. This module does exactly that in Python, on the same data the core
sees (a queue's members = the agents with its skill; penalty = 5 - proficiency). What this leaves
out is in app_queue's favour: the callers' threads poll every second (``RECHECK``), so a freed
agent waits up to a second before anyone notices it; here the scan runs at once.

Across queues app_queue has no order: the heads of the agent's queues race (queue ``weight``
aside). The baseline settles the race as the core does (priority, then arrival), so both make the
same decision and only their cost differs; the benchmark checks that they agree.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

from acd.routing.core import AcdCore
from acd.routing.model import AgentState


@dataclass
class Member:
    """A queue member (``struct member``): its device status, pause, penalty and last call."""

    agent_id: str
    penalty: int
    paused: bool = False
    in_call: bool = True  # the benchmark starts with every agent busy
    lastcall: float = 0.0
    calls: int = 0

    def available(self) -> bool:
        """``num_available_members`` / ``can_ring_entry``: NOT_INUSE, not paused, not in a call."""
        return not self.paused and not self.in_call


@dataclass
class Caller:
    """A waiting caller (``struct queue_ent``)."""

    call_id: str
    priority: int
    start: float
    pending: bool = False  # being rung


@dataclass
class Queue:
    """A queue (``struct call_queue``): its members and its callers in order."""

    name: str
    members: list[Member] = field(default_factory=list)
    callers: list[Caller] = field(default_factory=list)
    _keys: list[tuple[int, float]] = field(default_factory=list)

    def insert(self, caller: Caller) -> None:
        """``insert_entry``: behind every caller of the same or higher priority."""
        key = (-caller.priority, caller.start)
        i = bisect.bisect_right(self._keys, key)
        self._keys.insert(i, key)
        self.callers.insert(i, caller)

    def remove(self, caller: Caller) -> None:
        i = self.callers.index(caller)
        del self.callers[i]
        del self._keys[i]

    def num_available_members(self) -> int:
        return sum(1 for m in self.members if m.available())

    def caller_whose_turn_it_is(self) -> Caller | None:
        """``is_our_turn`` as seen from the callers in order: the first caller within the first
        ``avl`` callers not already being rung (autofill on, the default)."""
        avl = self.num_available_members()
        if avl == 0:
            return None
        for caller in self.callers:  # idx 0 < avl: the first caller not being rung
            if not caller.pending:
                return caller
        return None

    def best_member(self) -> Member | None:
        """``try_calling`` + ``calc_metric`` + ``ring_one`` for ``leastrecent``: one attempt per
        member, metric by penalty then the oldest last call; the best one that can be rung."""
        best: Member | None = None
        best_metric: tuple[int, float, str] | None = None
        for m in self.members:
            metric = (m.penalty, m.lastcall, m.agent_id)
            if m.available() and (best_metric is None or metric < best_metric):
                best, best_metric = m, metric
        return best


class AppQueueBaseline:
    """The queues, members and callers of one core, shaped as app_queue holds them."""

    def __init__(self, core: AcdCore) -> None:
        self.queues: dict[str, Queue] = {name: Queue(name) for name in core.queues}
        self.members: dict[str, list[Member]] = {}  # agent id -> its membership in each queue
        for agent in core.agents.values():
            for name, q in core.queues.items():
                if all(agent.config.skills.get(s, 0) >= m for s, m in q.skills.items()):
                    penalty = 5 - min((agent.config.skills.get(s, 0) for s in q.skills), default=5)
                    member = Member(agent.id, penalty, in_call=agent.state != AgentState.READY, lastcall=agent.idle_since)
                    self.queues[name].members.append(member)
                    self.members.setdefault(agent.id, []).append(member)
        # each membership's queue (in app_queue the caller's thread already knows its queue)
        self.member_queue: dict[int, Queue] = {id(m): q for q in self.queues.values() for m in q.members}
        self.queue_of: dict[str, str] = {}
        self.callers: dict[str, Caller] = {}
        for name, entries in core.waiting.items():
            for e in entries:
                caller = Caller(e.call_id, e.priority, e.enqueued_at, pending=e.offer_id is not None)
                self.queues[name].insert(caller)
                self.callers[e.call_id] = caller
                self.queue_of[e.call_id] = name

    def agent_freed(self, agent_id: str, now: float) -> tuple[str, str] | None:
        """The agent's device goes NOT_INUSE: each of its queues' callers look whether it is
        their turn; the one that rings it wins. Returns (call id, agent id) or None."""
        memberships = self.members.get(agent_id, [])
        for m in memberships:
            m.in_call = False
            m.lastcall = now
        best: tuple[tuple[int, float], Queue, Caller, Member] | None = None
        for m in memberships:
            queue = self.member_queue[id(m)]
            caller = queue.caller_whose_turn_it_is()
            if caller is None:
                continue
            member = queue.best_member()
            if member is None:
                continue
            key = (-caller.priority, caller.start)
            if best is None or key < best[0]:
                best = (key, queue, caller, member)
        if best is None:
            return None
        _, queue, caller, member = best
        caller.pending = True
        for other in self.members[member.agent_id]:
            other.in_call = True  # ringing: no longer available in any queue (ringinuse=no)
        return caller.call_id, member.agent_id

    def answered(self, call_id: str) -> None:
        """The caller was bridged: it leaves the queue (``leave_queue``)."""
        caller = self.callers.pop(call_id)
        self.queues[self.queue_of.pop(call_id)].remove(caller)
