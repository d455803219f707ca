"""Request bodies parsed as JSON in one place, with limits on size, nesting depth and number length.

``json.loads`` alone turns odd but small bodies into an HTTP 500: a 5,000-digit integer passes
Python's int-string limit (``ValueError``), 100,000 nested arrays exhaust the recursion limit
(``RecursionError``). Here such a body is an ``Invalid("body", ...)``, a 422 naming the body
(issue #13, item 9); the depth is measured before parsing, so nothing deep is ever recursed into.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from typing import Any

from acd.http.errors import Invalid

MAX_BYTES = 2 * 1024 * 1024
MAX_DEPTH = 32
MAX_NUMBER_CHARS = 40  # far more than any count, second or id the API takes

# Tokens left to right: a whole string (possessive, so never re-scanned), a bracket, or a quote
# that opens a string never closed. One pass over the text: linear.
_TOKENS = re.compile(r'"(?:[^"\\]|\\.)*+"|[\[\]{}]|"', re.S)


def deeper_than(text: str, limit: int) -> bool:
    """True when arrays and objects in JSON ``text`` nest deeper than ``limit`` (strings skipped);
    stops at the first level past it, or at a string that is never closed (not JSON: the parser
    says so)."""
    if text.count("[") + text.count("{") <= limit:  # the usual body: nothing to scan
        return False
    depth = 0
    for m in _TOKENS.finditer(text):
        token = m.group()
        if token == "[" or token == "{":
            depth += 1
            if depth > limit:
                return True
        elif token == "]" or token == "}":
            depth -= 1
        elif token == '"':
            return False
    return False


def _number(kind: type[int] | type[float]) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        if len(text) > MAX_NUMBER_CHARS:
            raise Invalid("body", f"a number longer than {MAX_NUMBER_CHARS} characters")
        value = kind(text)
        if isinstance(value, float) and not math.isfinite(value):
            raise Invalid("body", f"{text} is out of range")
        return value
    return parse


def _constant(name: str) -> Any:
    raise Invalid("body", f"{name} is not a JSON number")


def parse_json(raw: bytes) -> Any:
    """The JSON value of ``raw``, or ``Invalid("body", reason)``."""
    if len(raw) > MAX_BYTES:
        raise Invalid("body", f"larger than {MAX_BYTES} bytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise Invalid("body", "not UTF-8") from None
    if deeper_than(text, MAX_DEPTH):
        raise Invalid("body", f"nested deeper than {MAX_DEPTH} levels")
    try:
        return json.loads(text, parse_int=_number(int), parse_float=_number(float), parse_constant=_constant)
    except json.JSONDecodeError as exc:
        raise Invalid("body", f"not JSON (line {exc.lineno}, column {exc.colno})") from None
