"""Knowledge cards: front matter checked with file, line and field; versioned by front matter or
content hash; matched to a call's queue, intent and IVR path, the best match first."""

from __future__ import annotations

from pathlib import Path

import pytest

from acd.knowledge.cards import load_cards, matching_cards, parse_card
from acd.settings import ConfigError

REPO = Path(__file__).resolve().parents[2] / "config" / "knowledge"
CARD = """---
title: Refunds
queues: [sales]
intents: [refund]
ivr_steps: [demo_line:sales]
---
Check the order number first.
"""


def test_a_card_is_versioned_by_its_front_matter_or_its_content(tmp_path):
    card = parse_card(CARD, "k/refunds.md")
    assert (card.id, card.title, card.body) == ("refunds", "Refunds", "Check the order number first.")
    assert len(card.version) == 12 and parse_card(CARD.replace("first", "first!"), "k/refunds.md").version != card.version
    assert parse_card(CARD.replace("title: Refunds", "title: Refunds\nversion: 7"), "k/r.md").version == "7"


def test_bad_front_matter_names_file_line_and_field(tmp_path):
    with pytest.raises(ConfigError) as bad:
        parse_card(CARD.replace("queues: [sales]", "queues: sales\ncolour: red"), "k/x.md")
    assert bad.value.problems == ["k/x.md:4:1: colour: unknown key (one of id, title, version, queues, intents, ivr_steps)",
                                  "k/x.md:3:1: queues: a list of names"]
    with pytest.raises(ConfigError, match="k/y.md:1:1: front matter: a card starts"):
        parse_card("Refunds\n", "k/y.md")
    (tmp_path / "a.md").write_text(CARD)
    (tmp_path / "b.md").write_text(CARD.replace("title: Refunds", "title: Other\nid: a").replace("[sales]", "[nowhere]"))
    with pytest.raises(ConfigError) as bad:
        load_cards(tmp_path, ["sales"])
    assert any("queues: 'nowhere' is not a queue" in p for p in bad.value.problems)
    assert any("id 'a' is used by more than one card" in p for p in bad.value.problems)


def test_matching_by_queue_intent_and_ivr_step_best_first():
    refunds = parse_card(CARD, "refunds.md")
    general = parse_card(CARD.replace("title: Refunds", "title: General").replace("intents: [refund]\n", "")
                         .replace("ivr_steps: [demo_line:sales]\n", ""), "general.md")
    step = parse_card("---\ntitle: Menu help\nivr_steps: [menu]\n---\nx", "menu.md")
    path = [{"flow": "demo_line", "step": "menu"}, {"flow": "demo_line", "step": "sales"}]
    found = matching_cards([general, step, refunds], queue="sales", intent="refund", ivr_path=path)
    assert [c.title for c in found] == ["Refunds", "General", "Menu help"]
    assert matching_cards([refunds], queue="general", intent=None, ivr_path=[]) == []


def test_the_bundled_cards_load():
    cards = load_cards(REPO, ["general", "support", "sales", "cards", "collections", "security"])
    assert {c.id for c in cards} >= {"refunds", "verify-locked"}
