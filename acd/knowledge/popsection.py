"""The screen-pop's knowledge cards (an ``AgentDesk`` section): the cards matching the call, and
a ``knowledge_shown`` event on the call's record naming each card and version the first time it
is shown for that call."""

from __future__ import annotations

from typing import Any

from acd.knowledge.cards import Card, matching_cards


class CardsSection:
    __name__ = "knowledge_cards"

    def __init__(self, engine) -> None:
        self.engine = engine
        self._shown: set[tuple[str, str, str]] = set()  # (call, card, version) already on the record

    async def __call__(self, entry, customer: dict[str, Any] | None) -> dict[str, Any]:
        cards: tuple[Card, ...] = self.engine.knowledge
        path = [e for e in self.engine.calllog.timeline(entry.call_id) if e["kind"] == "flow_step"]
        intent = entry.attributes.get("intent")
        found = matching_cards(cards, queue=entry.queue, intent=str(intent) if intent else None, ivr_path=path)
        new = [c for c in found if (entry.call_id, c.id, c.version) not in self._shown]
        if new:
            if len(self._shown) > 50_000:
                self._shown.clear()
            self._shown.update((entry.call_id, c.id, c.version) for c in new)
            self.engine.calllog.event(entry.call_id, "knowledge_shown", {"cards": [{"id": c.id, "version": c.version} for c in new]})
        return {"cards": [c.view() for c in found]}
