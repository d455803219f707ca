"""The screen-pop's knowledge cards (an ``AgentDesk`` section): the cards matching the call, and
a ``knowledge_shown`` event on the call's record naming each card and version the first time it
is shown for that call."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from acd import events
from acd.knowledge.cards import Card, matching_cards

if TYPE_CHECKING:
    from acd.routing.model import CallEntry
    from acd.service.calllog import MemoryCallLog


class CardSource(Protocol):
    """Where the cards are read at each screen-pop (``acd.service.liveconfig.LiveConfig``: a
    config reload replaces them)."""

    @property
    def knowledge(self) -> tuple[Card, ...]: ...


class CardsSection:
    __name__ = "knowledge_cards"

    def __init__(self, cards: CardSource, calllog: MemoryCallLog) -> None:
        self.cards, self.calllog = cards, calllog
        self._shown: set[tuple[str, str, str]] = set()  # (call, card, version) already on the record

    async def __call__(self, entry: CallEntry, customer: dict[str, Any] | None) -> dict[str, Any]:
        cards, calllog = self.cards.knowledge, self.calllog
        path = [e for e in calllog.timeline(entry.call_id) if isinstance(events.from_timeline(e), events.FlowStep)]
        intent = entry.attributes.get("intent")
        found = matching_cards(cards, queue=entry.queue, intent=str(intent) if intent else None, ivr_path=path)
        new = [c for c in found if (entry.call_id, c.id, c.version) not in self._shown]
        if new:
            if len(self._shown) > 50_000:
                self._shown.clear()
            self._shown.update((entry.call_id, c.id, c.version) for c in new)
            calllog.event(entry.call_id, events.KnowledgeShown(cards=[{"id": c.id, "version": c.version} for c in new]))
        return {"cards": [c.view() for c in found]}
