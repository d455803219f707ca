"""A small reader of Asterisk's configuration syntax, for the tests of docker/asterisk/.

Covers what the files there use, as Asterisk's config parser (main/config.c) reads it:
``[name]``, ``[name](!)`` (a template), ``[name](tmpl[,tmpl])`` (built from templates),
``[name](!,tmpl)``, ``key = value`` and ``key => value`` (spaces around the operator ignored),
``;`` comments (``\\;`` is a literal semicolon), ``;-- ... --;`` block comments. Anything else is
a ParseError naming the file and line. Dialplan lines (``exten =>``, ``same =>``) are split into
extension, priority, label, application and arguments by :func:`dialplan`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path


class ParseError(ValueError):
    pass


@dataclass
class Item:
    key: str
    op: str
    value: str
    line: int


@dataclass
class Section:
    name: str
    line: int
    is_template: bool = False
    templates: tuple[str, ...] = ()
    items: list[Item] = field(default_factory=list)

    def get(self, key: str, default: str | None = None) -> str | None:
        for item in reversed(self.items):
            if item.key == key:
                return item.value
        return default

    def get_all(self, key: str) -> list[str]:
        return [i.value for i in self.items if i.key == key]


_HEADER = re.compile(r"^\[([^\]\s]+)\](?:\(([^)]*)\))?$")
_ITEM = re.compile(r"^([^=\s][^=]*?)\s*(=>|=)\s*(.*)$")


def _strip_comment(line: str) -> str:
    out = []
    i = 0
    while i < len(line):
        c = line[i]
        if c == "\\" and i + 1 < len(line) and line[i + 1] == ";":
            out.append(";")
            i += 2
            continue
        if c == ";":
            break
        out.append(c)
        i += 1
    return "".join(out).strip()


def parse(path: Path) -> list[Section]:
    sections: list[Section] = []
    in_block = False
    for lineno, raw in enumerate(path.read_text().splitlines(), 1):
        line = raw
        if in_block:
            if "--;" in line:
                in_block = False
                line = line.split("--;", 1)[1]
            else:
                continue
        if ";--" in line:
            before, _, after = line.partition(";--")
            if "--;" in after:
                line = before + after.split("--;", 1)[1]
            else:
                in_block = True
                line = before
        line = _strip_comment(line)
        if not line:
            continue
        if line.startswith("#"):
            raise ParseError(f"{path.name}:{lineno}: directive {line!r} not expected in these files")
        m = _HEADER.match(line)
        if m:
            opts = [o.strip() for o in (m.group(2) or "").split(",") if o.strip()] if m.group(2) is not None else []
            if m.group(2) is not None and not opts:
                raise ParseError(f"{path.name}:{lineno}: empty template list in {line!r}")
            sections.append(
                Section(m.group(1), lineno, "!" in opts, tuple(o for o in opts if o != "!"))
            )
            continue
        m = _ITEM.match(line)
        if not m:
            raise ParseError(f"{path.name}:{lineno}: not a section header nor 'key = value': {raw!r}")
        if not sections:
            raise ParseError(f"{path.name}:{lineno}: {raw!r} before any [section]")
        sections[-1].items.append(Item(m.group(1).strip(), m.group(2), m.group(3).strip(), lineno))
    if in_block:
        raise ParseError(f"{path.name}: unterminated ;-- block comment")
    return sections


def by_name(sections: list[Section]) -> dict[str, list[Section]]:
    out: dict[str, list[Section]] = {}
    for s in sections:
        out.setdefault(s.name, []).append(s)
    return out


def resolved(section: Section, sections: list[Section]) -> dict[str, str]:
    """The section's settings with its templates' settings underneath (as Asterisk copies them)."""
    templates = {s.name: s for s in sections if s.is_template}
    values: dict[str, str] = {}
    for t in section.templates:
        if t not in templates:
            raise ParseError(f"[{section.name}] line {section.line}: template {t!r} is not defined (as (!))")
        values.update(resolved(templates[t], sections))
    for item in section.items:
        values[item.key] = item.value
    return values


# ---------------------------------------------------------------------------------- dialplan
@dataclass
class Step:
    context: str
    exten: str
    priority: int
    label: str | None
    app: str
    args: str
    line: int


_PRIO = re.compile(r"^(\d+|n)(?:\(([A-Za-z0-9_-]+)\))?$")
_APP = re.compile(r"^([A-Za-z][A-Za-z0-9_]*)(?:\((.*)\))?$", re.S)


def balanced(text: str) -> bool:
    """Parentheses, ${...} and $[...] are balanced (quotes do not protect in Asterisk)."""
    stack: list[str] = []
    pairs = {")": "(", "}": "{", "]": "["}
    i = 0
    while i < len(text):
        c = text[i]
        if c == "\\":
            i += 2
            continue
        if c in "({[":
            stack.append(c)
        elif c in ")}]":
            if not stack or stack.pop() != pairs[c]:
                return False
        i += 1
    return not stack


def dialplan(sections: list[Section]) -> list[Step]:
    steps: list[Step] = []
    for sec in sections:
        if sec.name in ("general", "globals"):
            continue
        current: str | None = None
        prio = 0
        labels: dict[str, set[str]] = {}
        for item in sec.items:
            if item.op != "=>" or item.key not in ("exten", "same"):
                raise ParseError(f"extensions.conf:{item.line}: [{sec.name}] {item.key} {item.op}: expected exten => or same =>")
            if item.key == "exten":
                name, sep, rest = item.value.partition(",")
                if not sep:
                    raise ParseError(f"extensions.conf:{item.line}: exten without priority")
                current = name.strip()
            else:
                if current is None:
                    raise ParseError(f"extensions.conf:{item.line}: same => before any exten =>")
                rest = item.value
            prio_text, sep, app_text = rest.partition(",")
            if not sep:
                raise ParseError(f"extensions.conf:{item.line}: no application after the priority")
            m = _PRIO.match(prio_text.strip())
            if not m:
                raise ParseError(f"extensions.conf:{item.line}: bad priority {prio_text!r}")
            if m.group(1) == "n":
                if item.key == "exten" and not any(s.exten == current and s.context == sec.name for s in steps):
                    raise ParseError(f"extensions.conf:{item.line}: extension {current} starts with n, not 1")
                prio += 1
            else:
                number = int(m.group(1))
                if item.key == "exten" and number == 1:
                    prio = 1
                elif number != prio + 1:
                    raise ParseError(f"extensions.conf:{item.line}: priority {number} does not follow {prio}")
                else:
                    prio = number
            label = m.group(2)
            if label:
                seen = labels.setdefault(current, set())
                if label in seen:
                    raise ParseError(f"extensions.conf:{item.line}: label {label} twice in {current}")
                seen.add(label)
            a = _APP.match(app_text.strip())
            if not a or not balanced(app_text):
                raise ParseError(f"extensions.conf:{item.line}: bad application call {app_text!r}")
            steps.append(Step(sec.name, current, prio, label, a.group(1), a.group(2) or "", item.line))
    return steps


def pattern_matches(pattern: str, number: str) -> bool:
    """Asterisk extension matching for the patterns used here (exact names, _X. _+X. _8XXX)."""
    if not pattern.startswith("_"):
        return pattern == number
    rx = ""
    for ch in pattern[1:]:
        rx += {"X": "[0-9]", "Z": "[1-9]", "N": "[2-9]", ".": ".+", "!": ".*"}.get(ch, re.escape(ch))
    return re.fullmatch(rx, number) is not None
