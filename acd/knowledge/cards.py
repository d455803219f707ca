"""Knowledge cards: Markdown files with YAML front matter in ``config/knowledge/``, each naming
the queues, intents or IVR steps it helps with. The screen-pop shows the cards that match the
call's queue, intent and IVR path (pure matching here: no I/O but the loader).

```markdown
---
title: Refunds
version: 3                      # optional; otherwise the content's hash is the version
queues: [billing]
intents: [refund]
ivr_steps: [demo_line:sales]    # a step name, or flow:step
---
Check the order number first...
```

The body is shown formatted: a safe Markdown subset rendered on the server, everything else
escaped (``acd.knowledge.markdown``). A card is versioned by its file: ``version`` in the front matter, else the first 12 hex digits of
the SHA-256 of the file's bytes, so any edit is a new version the record can name."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from collections.abc import Iterable, Mapping, Sequence

from acd.knowledge import markdown
from acd.settings import ConfigError
from acd.yamlsrc import YamlError, load_yaml_text, where

KEYS = ("id", "title", "version", "queues", "intents", "ivr_steps")
MAX_BODY = 20_000


@dataclass(frozen=True)
class Card:
    id: str
    title: str
    version: str
    body: str  # Markdown
    file: str
    queues: frozenset[str] = frozenset()
    intents: frozenset[str] = frozenset()
    ivr_steps: frozenset[str] = frozenset()
    html: str = ""  # the body rendered by acd.knowledge.markdown (escaped; the safe subset's tags only)

    def view(self) -> dict[str, Any]:
        return {"id": self.id, "title": self.title, "version": self.version, "body": self.body, "html": self.html}


def _front_matter(text: str, file: str) -> tuple[str, str, int]:
    """(front matter, body, line of the body's first line) of a card's text."""
    lines = text.split("\n")
    if not lines or lines[0].strip() != "---":
        raise ConfigError([f"{file}:1:1: front matter: a card starts with a '---' line"])
    for i, line in enumerate(lines[1:], start=1):
        if line.strip() == "---":
            return "\n".join(lines[1:i]), "\n".join(lines[i + 1:]).strip(), i + 2
    raise ConfigError([f"{file}:1:1: front matter: no closing '---' line"])


def parse_card(text: str, file: str, raw: bytes | None = None) -> Card:
    head, body, _ = _front_matter(text, file)
    try:
        meta = load_yaml_text("\n" + head, file)  # the leading newline keeps the file's line numbers
    except YamlError as exc:
        raise ConfigError([str(exc)]) from None
    if not isinstance(meta, dict):
        raise ConfigError([f"{file}:2:1: front matter: a mapping of {', '.join(KEYS)}"])
    problems = [f"{where(meta, k, file)}: {k}: unknown key (one of {', '.join(KEYS)})" for k in meta if k not in KEYS]
    title = meta.get("title")
    if not isinstance(title, str) or not title.strip():
        problems.append(f"{where(meta, 'title', file)}: title: required text")
    lists: dict[str, frozenset[str]] = {}
    for key in ("queues", "intents", "ivr_steps"):
        value = meta.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            problems.append(f"{where(meta, key, file)}: {key}: a list of names")
            value = []
        lists[key] = frozenset(value)
    if not any(lists.values()):
        problems.append(f"{where(meta, default_file=file)}: front matter: name at least one of queues, intents, ivr_steps")
    version = meta.get("version")
    if version is not None and not isinstance(version, (str, int)):
        problems.append(f"{where(meta, 'version', file)}: version: text or a number")
    if len(body) > MAX_BODY:
        problems.append(f"{file}:1:1: body: longer than {MAX_BODY} characters")
    if problems:
        raise ConfigError(problems)
    digest = hashlib.sha256(raw if raw is not None else text.encode()).hexdigest()[:12]
    card_id = str(meta.get("id") or Path(file).stem)
    return Card(card_id, str(title).strip(), str(version) if version is not None else digest, body, file,
                lists["queues"], lists["intents"], lists["ivr_steps"], markdown.render(body))


def load_cards(directory: Path, queues: Iterable[str] | None = None) -> tuple[Card, ...]:
    """Every ``*.md`` card in ``directory`` (none when it does not exist); all problems together."""
    if not directory.is_dir():
        return ()
    problems: list[str] = []
    cards: list[Card] = []
    known = frozenset(queues) if queues is not None else None
    for path in sorted(directory.glob("*.md")):
        raw = path.read_bytes()
        try:
            card = parse_card(raw.decode("utf-8"), str(path), raw)
        except ConfigError as exc:
            problems += exc.problems
            continue
        except UnicodeDecodeError:
            problems.append(f"{path}:1:1: not UTF-8 text")
            continue
        if known is not None:
            problems += [f"{path}: queues: {q!r} is not a queue in queues.yaml" for q in sorted(card.queues - known)]
        cards.append(card)
    ids = [c.id for c in cards]
    problems += [f"{directory}: id {i!r} is used by more than one card" for i in sorted({i for i in ids if ids.count(i) > 1})]
    if problems:
        raise ConfigError(problems)
    return tuple(cards)


def matching_cards(cards: Sequence[Card], *, queue: str | None, intent: str | None,
                   ivr_path: Iterable[Mapping[str, Any]], limit: int = 5) -> list[Card]:
    """The cards for a call: those naming its queue, its intent or a step of its IVR path
    (``step`` or ``flow:step``), the ones matching more of them first, then by title."""
    steps: set[str] = set()
    for s in ivr_path:
        if s.get("step"):
            steps.add(str(s["step"]))
            if s.get("flow"):
                steps.add(f"{s['flow']}:{s['step']}")
    scored = []
    for card in cards:
        score = (queue in card.queues) + (intent is not None and intent in card.intents) + len(card.ivr_steps & steps)
        if score:
            scored.append((-score, card.title, card))
    return [c for _, _, c in sorted(scored, key=lambda x: (x[0], x[1]))][:limit]
