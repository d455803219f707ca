"""Phone numbers normalised to E.164, the one form the store keeps and looks up."""

from __future__ import annotations

import re

import phonenumbers

from acd.ports import WITHHELD_IDS


class BadPhoneNumber(ValueError):
    pass


def normalise_phone(raw: str, region: str = "GB") -> str:
    """``'020 7946 0000'`` -> ``'+442079460000'``; raises ``BadPhoneNumber`` when it is not a
    possible number (the message names the value, which is a contact point, not a secret)."""
    text = (raw or "").strip()
    if text.lower() in WITHHELD_IDS:
        raise BadPhoneNumber("no number (withheld or empty)")
    if text.startswith("00"):
        text = "+" + text[2:]
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        why = re.sub(r"^\(\d+\) ", "", str(exc)).rstrip(".")  # phonenumbers numbers its errors: "(1) The string ..."
        raise BadPhoneNumber(f"{raw!r} is not a phone number: {why[:1].lower()}{why[1:]}") from None
    if not phonenumbers.is_possible_number(number):
        raise BadPhoneNumber(f"{raw!r} is not a possible phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalised_or_as_is(raw: str, region: str = "GB") -> str:
    """E.164 when the text is a phone number, else the text unchanged (for searching)."""
    try:
        return normalise_phone(raw, region)
    except BadPhoneNumber:
        return raw
