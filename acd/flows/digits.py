"""Checks on digits a caller typed, and turning values into what Asterisk can say."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal, InvalidOperation, ROUND_HALF_UP
from typing import Any
from collections.abc import Sequence

from acd.flows.model import Validator

DTMF = "0123456789*#"


def luhn_ok(digits: str) -> bool:
    if not digits.isdigit() or len(digits) < 2:
        return False
    total = 0
    for i, c in enumerate(reversed(digits)):
        d = int(c)
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def parse_date_digits(digits: str, fmt: str) -> dt.date | None:
    """``digits`` in ``fmt`` (DDMMYYYY, YYYYMMDD, MMDDYYYY, DDMMYY, MMYY) as a date, or None."""
    if len(digits) != len(fmt) or not digits.isdigit():
        return None
    parts: dict[str, int] = {}
    i = 0
    for token in re.findall(r"DD|MM|YYYY|YY", fmt):
        parts[token] = int(digits[i:i + len(token)])
        i += len(token)
    year = parts.get("YYYY", 2000 + parts.get("YY", 0))
    try:
        return dt.date(year, parts.get("MM", 1), parts.get("DD", 1))
    except ValueError:
        return None


def check_digits(digits: str, validators: Sequence[Validator]) -> str | None:
    """None when ``digits`` passes every validator, else the name of the first that failed."""
    for v in validators:
        if v.kind == "luhn" and not luhn_ok(digits):
            return "luhn"
        if v.kind == "date" and parse_date_digits(digits, v.arg) is None:
            return "date"
        if v.kind == "range":
            lo, hi = v.arg
            if not digits.isdigit():
                return "range"
            n = int(digits)
            if (lo is not None and n < lo) or (hi is not None and n > hi):
                return "range"
        if v.kind == "regex" and re.fullmatch(v.arg, digits) is None:
            return "regex"
    return None


def to_decimal(value: Any) -> Decimal:
    if isinstance(value, bool):
        raise ValueError("true/false is not an amount")
    if isinstance(value, (int, float, Decimal)):
        d = Decimal(str(value))
    elif isinstance(value, str) and re.fullmatch(r"\s*[-+]?\d{1,15}(\.\d{1,6})?\s*", value):
        d = Decimal(value.strip())
    else:
        raise ValueError(f"{value!r} is not an amount")
    if not d.is_finite() or abs(d) >= Decimal(10) ** 15:
        raise ValueError(f"{value!r} is not an amount")
    return d


def currency_parts(value: Any) -> tuple[bool, int, int]:
    """(negative, major units, minor units) of an amount rounded to cents."""
    try:
        d = to_decimal(value).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    except InvalidOperation:
        raise ValueError(f"{value!r} is not an amount") from None
    negative = d < 0
    d = abs(d)
    major = int(d)
    minor = int((d - major) * 100)
    return negative, major, minor


def date_epoch(value: Any) -> int:
    """An epoch for SAY DATE: numbers are epoch seconds; 'YYYY-MM-DD' is noon UTC that day (so
    no time zone moves it to the day before or after); ISO date-times are taken as they are."""
    if isinstance(value, bool):
        raise ValueError("true/false is not a date")
    if isinstance(value, (int, float)):
        return int(value)
    if isinstance(value, str):
        text = value.strip()
        try:
            if len(text) == 10:
                d = dt.date.fromisoformat(text)
                return int(dt.datetime(d.year, d.month, d.day, 12, tzinfo=dt.UTC).timestamp())
            parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
            if parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=dt.UTC)
            return int(parsed.timestamp())
        except ValueError:
            pass
    raise ValueError(f"{value!r} is not a date (use YYYY-MM-DD or epoch seconds)")
