"""The one regex engine flows use: RE2 (the ``google-re2`` package), linear in the text's length.

Python's ``re`` backtracks: ``(1+)+2`` against 27 digits took 9.5 s and stopped the event loop
(issue #13.6). RE2 never backtracks, so every match is bounded by pattern size times text size.
The price is that RE2 refuses the features that need backtracking (backreferences such as
``\\1``, lookahead/lookbehind such as ``(?=...)``, possessive quantifiers); ``check_pattern``
says so, and the flow compiler reports it with file, line and field.

Compiled patterns are cached (flows reuse a handful of patterns on every call).
"""

from __future__ import annotations

from functools import lru_cache

import re2  # type: ignore[import-untyped]  # google-re2 ships no type information

MAX_PATTERN = 200  # characters; longer is not a digit or text check anyone writes by hand
# RE2's own memory budget for one compiled pattern; a pattern needing more is refused.
_MAX_MEM = 1 << 20


class RegexError(ValueError):
    """A pattern the flow engine will not run; ``message`` says why, in words for the flow author."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _options() -> re2.Options:
    options = re2.Options()
    options.log_errors = False  # RE2 would print every refused pattern on stderr
    options.max_mem = _MAX_MEM
    return options


_OPTIONS = _options()


@lru_cache(maxsize=512)
def _compiled(pattern: str) -> re2._Regexp:
    try:
        return re2.compile(pattern, _OPTIONS)
    except re2.error as exc:
        raise RegexError(_explain(pattern, exc)) from None


def _explain(pattern: str, exc: Exception) -> str:
    detail = exc.args[0] if exc.args else str(exc)
    if isinstance(detail, bytes):
        detail = detail.decode("utf-8", errors="replace")
    detail = str(detail)
    backreference = "invalid escape sequence: \\" in detail and detail[-1:].isdigit()
    if backreference or "invalid perl operator: (?" in detail:
        hint = " (backreferences and lookaround are not supported: flows run linear-time patterns only)"
    else:
        hint = ""
    return f"{detail}{hint}"


def check_pattern(pattern: object) -> str:
    """``pattern`` as a usable pattern, or ``RegexError`` saying why not."""
    if not isinstance(pattern, str):
        raise RegexError(f"a pattern must be text, not {type(pattern).__name__}")
    if len(pattern) > MAX_PATTERN:
        raise RegexError(f"pattern longer than {MAX_PATTERN} characters")
    if "\0" in pattern:
        raise RegexError("a pattern must not contain NUL")
    _compiled(pattern)
    return pattern


def fullmatch(pattern: str, text: str) -> bool:
    """True when the whole of ``text`` matches ``pattern`` (``RegexError`` for a bad pattern)."""
    return _compiled(check_pattern(pattern)).fullmatch(text) is not None
