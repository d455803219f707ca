"""Edits of ``config/users.yaml`` that keep the admin's comments and layout: a new user appended as
text at the end of the ``users:`` list, a token hash replaced on its own line. Each edit is
checked by reading the result back: it must parse to exactly the intended document, or the file
is written the plain way (re-dumped, comments lost) rather than left wrong."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import yaml

from acd.yamlsrc import YamlError, load_yaml_text

_ITEM = re.compile(r"^(?P<indent>\s*)-\s+")


def _plain(header: str, doc: dict[str, Any]) -> str:
    return header + yaml.safe_dump(doc, sort_keys=False, allow_unicode=True)


def _scalar(value: str) -> str:
    """``value`` as one YAML scalar on a line (quoted when plain text would read otherwise)."""
    return yaml.safe_dump(value, default_style=None, allow_unicode=True, width=10_000).splitlines()[0]


def _users_indent(lines: list[str]) -> str | None:
    """The indentation of the ``- `` items of the top-level block list ``users:``, or None when
    the list is not in that form (flow style, empty, absent)."""
    start = next((i for i, line in enumerate(lines) if re.match(r"^users:\s*(#.*)?$", line)), None)
    if start is None:
        return None
    for line in lines[start + 1:]:
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        m = _ITEM.match(line)
        return m.group("indent") if m else None
    return None


def append_user(text: str, header: str, doc: dict[str, Any], item: dict[str, str]) -> str:
    """``text`` with ``item`` appended to its ``users:`` list (``doc`` is ``text`` parsed)."""
    want = {**doc, "users": [*doc.get("users", []), item]}
    lines = text.splitlines()
    indent = _users_indent(lines)
    if indent is not None:  # (a list that does not end the file reads back wrong: the plain way then)
        keys = [f"{k}: {_scalar(v)}" for k, v in item.items()]
        block = [f"{indent}- {keys[0]}", *(f"{indent}  {k}" for k in keys[1:])]
        edited = text.rstrip("\n") + "\n" + "\n".join(block) + "\n"
        return _checked(edited, want, lambda: _plain(header, want))
    return _plain(header, want)


def replace_token_hash(text: str, header: str, doc: dict[str, Any], user_id: str, digest: str) -> str:
    """``text`` with ``user_id``'s ``token_hash`` set to ``digest``, on its own line."""
    want = {**doc, "users": [{**u, "token_hash": digest} if u.get("id") == user_id else u for u in doc.get("users", [])]}
    lines = text.splitlines()
    for i, line in enumerate(lines):
        m = re.match(r"^(?P<lead>\s*-\s+|\s*)id:\s*(?P<id>\S+)\s*(#.*)?$", line)
        if not m or m.group("id").strip("'\"") != user_id:
            continue
        key_col = len(m.group("lead"))
        begin = i
        while begin > 0 and not _ITEM.match(lines[begin]):  # the item's first line ("- ...")
            begin -= 1
        end = i + 1
        while end < len(lines) and (not lines[end].strip() or len(lines[end]) - len(lines[end].lstrip()) >= key_col
                                    and not _ITEM.match(lines[end])):
            end += 1
        value = f"token_hash: {_scalar(digest)}"
        for j in range(begin, end):  # the item's own token_hash line, wherever it is in the item
            old = re.match(rf"^(?P<lead>\s*-\s+|\s{{{key_col}}})token_hash:", lines[j])
            if old:
                lines[j] = old.group("lead") + value
                break
        else:
            lines.insert(i + 1, " " * key_col + value)
        return _checked("\n".join(lines) + "\n", want, lambda: _plain(header, want))
    return _plain(header, want)


def _checked(edited: str, want: dict[str, Any], fallback: Callable[[], str]) -> str:
    """``edited`` when it reads back (as the engine reads it: a duplicate key is an error) as
    exactly ``want``; else the plain rewrite."""
    try:
        ok = load_yaml_text(edited) == want
    except (yaml.YAMLError, YamlError):
        ok = False
    return edited if ok else fallback()
