"""A person's name as search and duplicate detection compare it: accents, case, hyphens, dots and
spacing ignored, so an agent typing ``muller`` finds ``Müller`` and ``jean luc`` finds
``Jean-Luc``. Stored beside the name (``customers.name_key``) so the database can search it, on
SQLite and PostgreSQL alike (neither folds accents in ``lower()``/``LIKE`` on its own)."""

from __future__ import annotations

import unicodedata

# letters NFKD does not take apart into a base letter and an accent
_LETTERS = str.maketrans({"ø": "o", "Ø": "o", "ł": "l", "Ł": "l", "đ": "d", "Đ": "d", "ð": "d", "Ð": "d",
                          "þ": "th", "Þ": "th", "æ": "ae", "Æ": "ae", "œ": "oe", "Œ": "oe", "ı": "i"})


def name_key(name: str | None) -> str:
    """``'  Amélie  LAURENT '`` -> ``'amelie laurent'``; ``'Søren Łukasz-Müller'`` -> ``'soren lukasz muller'``."""
    text = unicodedata.normalize("NFKD", (name or "").translate(_LETTERS))
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return " ".join(text.casefold().replace("-", " ").replace(".", " ").split())
