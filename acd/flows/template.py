"""Templates: prompts built from sound files and data, and text with ``{{ expression }}`` holes.

A *prompt template* is a line of sound file names and spoken values::

    "custom/your-balance-is {{ balance | currency }} custom/thank-you"

plays ``custom/your-balance-is``, says the balance as money, then plays ``custom/thank-you``.
A hole is ``{{ expression }}`` or ``{{ expression | how }}`` with *how* one of ``number``,
``digits``, ``date``, ``currency``, ``sound`` (the value names a sound file) or nothing (numbers
are said as numbers, texts of digits digit by digit).

A *text template* (URLs, headers, bodies, queue names, languages) is text where each hole is
replaced by the value as text; a template that is a single hole keeps the value's type.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from collections.abc import Callable

from acd.flows.expr import Expr, ExprError, ExprEvalError, ExprSyntaxError, Scope, parse_expr, _str
from acd.secrets import Secret

SAY_KINDS = ("number", "digits", "date", "currency", "sound")
SOUND_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]*(/[A-Za-z0-9_][A-Za-z0-9_.\-]*)*$")


class TemplateError(ExprSyntaxError):
    pass


@dataclass(frozen=True)
class SoundPart:
    name: str


@dataclass(frozen=True)
class SayPart:
    expr: Expr
    kind: str = "auto"  # auto | number | digits | date | currency | sound


PromptPart = SoundPart | SayPart


@dataclass(frozen=True)
class Prompt:
    """One prompt line; a step's prompt is a tuple of these, played in order."""

    source: str
    parts: tuple[PromptPart, ...]

    def sounds(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.parts if isinstance(p, SoundPart))

    def names(self) -> frozenset[str]:
        out: set[str] = set()
        for p in self.parts:
            if isinstance(p, SayPart):
                out |= p.expr.names()
        return frozenset(out)


def valid_sound_name(name: str) -> bool:
    return bool(SOUND_NAME.match(name)) and ".." not in name


def _holes(text: str) -> list[tuple[int, int, str]]:
    """(start, end, inner) of each ``{{ ... }}``; ``}}`` inside quotes does not close a hole."""
    out: list[tuple[int, int, str]] = []
    i = 0
    while True:
        start = text.find("{{", i)
        close = text.find("}}", i)
        if start < 0:
            if close >= 0:
                raise TemplateError("'}}' without '{{'", close)
            return out
        if 0 <= close < start:
            raise TemplateError("'}}' without '{{'", close)
        j = start + 2
        quote: str | None = None
        while j < len(text):
            c = text[j]
            if quote:
                if c == "\\":
                    j += 2
                    continue
                if c == quote:
                    quote = None
            elif c in "'\"":
                quote = c
            elif text.startswith("}}", j):
                break
            elif text.startswith("{{", j):
                raise TemplateError("'{{' inside a hole: close the first one with '}}'", j)
            j += 1
        else:
            raise TemplateError("'{{' is not closed with '}}'", start)
        out.append((start, j + 2, text[start + 2:j]))
        i = j + 2


def _split_how(inner: str) -> tuple[str, str | None, int]:
    """Split ``expr | how`` at a top-level '|' (not inside quotes)."""
    quote = None
    for k, c in enumerate(inner):
        if quote:
            if c == quote:
                quote = None
        elif c in "'\"":
            quote = c
        elif c == "|":
            return inner[:k], inner[k + 1:].strip(), k
    return inner, None, -1


def _parse_hole(inner: str, offset: int) -> tuple[Expr, str | None]:
    expr_text, how, bar = _split_how(inner)
    lead = len(expr_text) - len(expr_text.lstrip())
    try:
        expr = parse_expr(expr_text.strip())
    except ExprError as exc:
        raise TemplateError(exc.message, offset + lead + exc.pos) from None
    return expr, how


def parse_prompt(text: str) -> Prompt:
    """Parse a prompt line; raises ``TemplateError`` with the offset of the problem."""
    if not isinstance(text, str) or not text.strip():
        raise TemplateError("empty prompt", 0)
    parts: list[PromptPart] = []
    pos = 0

    def words(chunk: str, base: int) -> None:
        for m in re.finditer(r"\S+", chunk):
            name = m.group(0)
            if not valid_sound_name(name):
                raise TemplateError(
                    f"{name!r} is not a sound file name (letters, digits, _ - . and / only, no extension needed)",
                    base + m.start(),
                )
            parts.append(SoundPart(name))

    for start, end, inner in _holes(text):
        words(text[pos:start], pos)
        expr, how = _parse_hole(inner, start + 2)
        if how is not None and how not in SAY_KINDS:
            raise TemplateError(f"unknown way to say a value {how!r} (use one of: {', '.join(SAY_KINDS)})", start)
        parts.append(SayPart(expr, how or "auto"))
        pos = end
    words(text[pos:], pos)
    return Prompt(text, tuple(parts))


# --------------------------------------------------------------------------- text templates
@dataclass(frozen=True)
class TextTemplate:
    source: str
    parts: tuple[str | Expr, ...]

    @property
    def is_constant(self) -> bool:
        return all(isinstance(p, str) for p in self.parts)

    def names(self) -> frozenset[str]:
        out: set[str] = set()
        for p in self.parts:
            if isinstance(p, Expr):
                out |= p.names()
        return frozenset(out)

    def render(self, scope: Scope, escape: Callable[[str], str] | None = None) -> str:
        out: list[str] = []
        for p in self.parts:
            if isinstance(p, str):
                out.append(p)
                continue
            value = p.evaluate(scope)
            if isinstance(value, Secret):
                raise ExprEvalError(f"a secret cannot be put into text ({p.text})")
            text = _str(value) if not isinstance(value, (list, dict)) else None
            if text is None:
                raise ExprEvalError(f"cannot put a {type(value).__name__} into text ({p.text})")
            out.append(escape(text) if escape else text)
        return "".join(out)

    def value(self, scope: Scope) -> Any:
        """A template that is one hole gives the value itself (number, list...); else the text."""
        if len(self.parts) == 1 and isinstance(self.parts[0], Expr):
            value = self.parts[0].evaluate(scope)
            if isinstance(value, Secret):
                raise ExprEvalError(f"a secret cannot be put into text ({self.parts[0].text})")
            return value
        return self.render(scope)


def parse_text(text: str) -> TextTemplate:
    if not isinstance(text, str):
        text = "" if text is None else str(text)
    parts: list[str | Expr] = []
    pos = 0
    for start, end, inner in _holes(text):
        if start > pos:
            parts.append(text[pos:start])
        expr, how = _parse_hole(inner, start + 2)
        if how is not None:
            raise TemplateError("'|' is only for prompts; in text write the expression alone", start)
        parts.append(expr)
        pos = end
    if pos < len(text) or not parts:
        parts.append(text[pos:])
    return TextTemplate(text, tuple(parts))
