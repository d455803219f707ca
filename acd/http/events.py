"""The live push stream: every state change gets a sequence number; a client that reconnects
with the last number it saw receives what it missed, then live events, with no gap.

The bus keeps the last ``retain`` events. Each subscriber has a bounded queue: a client too slow
to keep up is dropped (its stream ends, it reconnects and catches up from its last number), so a
slow browser never holds up the engine."""

from __future__ import annotations

import asyncio
import collections
from dataclasses import dataclass, field
from typing import Any
from collections.abc import AsyncGenerator


@dataclass(frozen=True)
class BusEvent:
    seq: int
    kind: str
    data: dict[str, Any]
    agent_id: str | None = None  # the agent the event is about (agents see only their own)
    agents: frozenset[str] = frozenset()  # other agents who see it too (those serving a queue-owned task's queue)

    def for_agent(self, agent_id: str | None) -> bool:
        """Whether an agent's stream carries this event: about the agent, or shared with it."""
        return agent_id is not None and (agent_id == self.agent_id or agent_id in self.agents)


class Reset(Exception):
    """The client's last sequence number is older than what the bus retains: it must re-fetch."""


@dataclass(eq=False)  # hashed by identity: kept in a set
class _Subscriber:
    queue: asyncio.Queue[BusEvent]
    dropped: bool = False


@dataclass
class EventBus:
    retain: int = 10_000
    queue_size: int = 1_000
    seq: int = 0
    _log: collections.deque[BusEvent] = field(init=False)
    _subscribers: set[_Subscriber] = field(default_factory=set, init=False)

    def __post_init__(self) -> None:
        self._log = collections.deque(maxlen=self.retain)

    def publish(self, kind: str, data: dict[str, Any], *, agent_id: str | None = None,
                agents: frozenset[str] = frozenset()) -> int:
        """Beside the supervisors, the event reaches ``agent_id`` (default: ``data``'s) and ``agents``."""
        self.seq += 1
        event = BusEvent(self.seq, kind, dict(data), agent_id if agent_id is not None else data.get("agent_id"), agents)
        self._log.append(event)
        for sub in list(self._subscribers):
            try:
                sub.queue.put_nowait(event)
            except asyncio.QueueFull:
                sub.dropped = True
                self._subscribers.discard(sub)
        return self.seq

    def backlog(self, after: int) -> list[BusEvent]:
        """Retained events with seq > ``after``; raises ``Reset`` when some were already dropped."""
        if after >= self.seq:
            return []
        oldest = self._log[0].seq if self._log else self.seq + 1
        if after + 1 < oldest:
            raise Reset(f"events after {after} are no longer retained (oldest {oldest})")
        return [e for e in self._log if e.seq > after]

    async def subscribe(self, after: int | None) -> AsyncGenerator[BusEvent, None]:
        """Backlog (if ``after`` is given) then live events, in order, without gaps or repeats.
        Ends when the subscriber falls ``queue_size`` events behind."""
        sub = _Subscriber(asyncio.Queue(self.queue_size))
        self._subscribers.add(sub)  # before reading the backlog: nothing published in between is lost
        try:
            last = after if after is not None else self.seq
            for event in self.backlog(last) if after is not None else []:
                last = event.seq
                yield event
            while True:
                if sub.dropped and sub.queue.empty():
                    return
                event = await sub.queue.get()
                if event.seq <= last:
                    continue  # already sent from the backlog
                last = event.seq
                yield event
        finally:
            self._subscribers.discard(sub)

    @property
    def subscribers(self) -> int:
        return len(self._subscribers)
