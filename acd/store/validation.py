"""The one set of rules for a customer's fields, used by the CSV import (``acd.store.dataio``), the
API and the agent desktop (``acd.http.customers``): the same value is accepted or refused, with the
same message, whichever way it comes in.

Each check takes the value as given and returns the value to store, or raises ``FieldInvalid``
naming the field; a message never quotes a secret (PIN, dates)."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any
from collections.abc import Callable, Mapping

from acd.secrets import Secret
from acd.store.phones import BadPhoneNumber, normalise_phone

TRUE_WORDS, FALSE_WORDS = frozenset({"true", "yes", "y", "1"}), frozenset({"false", "no", "n", "0", ""})
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
ACCOUNT = re.compile(r"[A-Za-z0-9-]{1,64}")
PIN = re.compile(r"\d{4,8}")
LIMITS = {"name": 200, "segment": 40, "language": 16, "owner_agent": 64, "notes": 2000}
TEXT_FIELDS = ("segment", "language", "owner_agent", "notes")
SECRET_FIELDS = ("pin", "dob", "memorable_date")


class FieldInvalid(ValueError):
    """One field's value is refused; ``field`` names it, the message says why (never a secret)."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(f"{field_name}: {message}")
        self.field = field_name
        self.message = message


@dataclass(frozen=True)
class CustomerRules:
    """What a customer's fields must be: phones read in ``region``; ``languages`` and ``agents``
    are the configured lists (None: not checked, e.g. a tool with no configuration)."""

    region: str = "GB"
    languages: frozenset[str] | None = None
    agents: frozenset[str] | None = None

    # ------------------------------------------------------------------ one field each
    def name(self, value: Any) -> str:
        text = _text(value, "name").strip()
        if not text:
            raise FieldInvalid("name", "required")
        if len(text) > LIMITS["name"]:
            raise FieldInvalid("name", f"longer than {LIMITS['name']} characters")
        return text

    def account_number(self, value: Any) -> str | None:
        text = _text(value, "account_number").strip()
        if not text:
            return None
        if not ACCOUNT.fullmatch(text):
            raise FieldInvalid("account_number", f"{text[:40]!r} is not letters, digits or '-' (at most 64)")
        return text

    def phone(self, value: Any, field_name: str = "phones") -> str:
        try:
            return normalise_phone(_text(value, field_name), self.region)
        except BadPhoneNumber as exc:
            raise FieldInvalid(field_name, str(exc)) from None

    def email(self, value: Any, field_name: str = "emails") -> str:
        text = _text(value, field_name).strip()
        if not EMAIL.match(text) or len(text) > 254:
            raise FieldInvalid(field_name, f"{text[:60]!r} is not an e-mail address")
        return text.lower()

    def vip(self, value: Any) -> bool | None:
        """A bool, or a word (``yes``, ``0`` ...); a blank cell is None (left as it is)."""
        if isinstance(value, bool):
            return value
        word = _text(value, "vip").strip().lower()
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False if word else None
        raise FieldInvalid("vip", f"{word[:20]!r} is not true/false/yes/no/1/0")

    def language(self, value: Any) -> str | None:
        text = _text(value, "language").strip()
        if not text:
            return None
        if self.languages is not None and text not in self.languages:
            raise FieldInvalid("language", f"{text[:16]!r} is not one of the configured languages ({', '.join(sorted(self.languages))})")
        if len(text) > LIMITS["language"]:
            raise FieldInvalid("language", f"longer than {LIMITS['language']} characters")
        return text

    def owner_agent(self, value: Any) -> str | None:
        text = _text(value, "owner_agent").strip()
        if not text:
            return None
        if self.agents is not None and text not in self.agents:
            raise FieldInvalid("owner_agent", f"no agent {text[:64]!r} in the configured agents")
        if len(text) > LIMITS["owner_agent"]:
            raise FieldInvalid("owner_agent", f"longer than {LIMITS['owner_agent']} characters")
        return text

    def text(self, field_name: str, value: Any) -> str | None:
        text = _text(value, field_name)
        text = text.strip() if field_name != "notes" else text
        if not text.strip():
            return None
        if len(text) > LIMITS[field_name]:
            raise FieldInvalid(field_name, f"longer than {LIMITS[field_name]} characters")
        return text

    def pin(self, value: Any) -> Secret:
        text = value.reveal() if isinstance(value, Secret) else _text(value, "pin").strip()
        if not PIN.fullmatch(text):
            raise FieldInvalid("pin", "4 to 8 digits")
        return Secret(text)

    def date(self, field_name: str, value: Any, *, today: dt.date | None = None) -> Secret:
        """A date of birth or memorable date, kept only as the digits ``YYYYMMDD`` to hash."""
        text = value.reveal() if isinstance(value, Secret) else _text(value, field_name).strip()
        try:
            day = dt.date.fromisoformat(text)
        except ValueError:
            raise FieldInvalid(field_name, "not a date as YYYY-MM-DD") from None  # never the value
        if day > (today or dt.date.today()):
            raise FieldInvalid(field_name, "in the future")
        return Secret(day.strftime("%Y%m%d"))

    # ------------------------------------------------------------------ a whole record
    def check(self, values: Mapping[str, Any], *, creating: bool, blank_clears: bool = False) -> CheckedCustomer:
        """Every field of ``values`` checked, every problem collected. ``phones``/``emails`` are
        lists or ``;``-separated text. A blank value leaves the field as it is (the import's rule
        for a blank cell), or with ``blank_clears`` (an edit form) empties it; a name is never
        blank. ``creating`` requires a name."""
        out = CheckedCustomer()
        for key, value in values.items():
            try:
                self._one(out, key, value, blank_clears or (creating and key == "name"))
            except FieldInvalid as exc:
                out.problems.append(exc)
        if creating and "name" not in out.fields and not any(p.field == "name" for p in out.problems):
            out.problems.append(FieldInvalid("name", "required"))
        return out

    def _one(self, out: CheckedCustomer, key: str, value: Any, blank_clears: bool) -> None:
        if key in ("phones", "emails"):
            check = self.phone if key == "phones" else self.email
            for item in _items(value, key):
                try:
                    (out.phones if key == "phones" else out.emails).append(check(item, key))
                except FieldInvalid as exc:
                    out.problems.append(exc)
            return
        if key in SECRET_FIELDS:
            if value not in (None, ""):
                out.secrets[key] = self.pin(value) if key == "pin" else self.date(key, value)
            return
        checks: dict[str, Callable[[Any], Any]] = {"name": self.name, "account_number": self.account_number, "language": self.language,
                  "owner_agent": self.owner_agent, "vip": self.vip,
                  "segment": lambda v: self.text("segment", v), "notes": lambda v: self.text("notes", v)}
        if key not in checks:
            raise FieldInvalid(key, "unknown field")
        blank = value is None or (isinstance(value, str) and not value.strip())
        if blank and key == "name":
            if blank_clears:
                raise FieldInvalid("name", "required")
            return
        if blank:
            if blank_clears:
                out.fields[key] = False if key == "vip" else None
            return
        out.fields[key] = checks[key](value)


@dataclass
class CheckedCustomer:
    fields: dict[str, Any] = field(default_factory=dict)
    phones: list[str] = field(default_factory=list)
    emails: list[str] = field(default_factory=list)
    secrets: dict[str, Secret] = field(default_factory=dict)
    problems: list[FieldInvalid] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _text(value: Any, field_name: str) -> str:
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise FieldInvalid(field_name, "must be text")
    return str(value)


def _items(value: Any, field_name: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [p.strip() for p in value.split(";") if p.strip()]
    if isinstance(value, (list, tuple)):
        return [_text(v, field_name).strip() for v in value if _text(v, field_name).strip()]
    raise FieldInvalid(field_name, "must be a list or ';'-separated text")
