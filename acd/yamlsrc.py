"""YAML loading that remembers where every value came from.

Admins edit YAML by hand, so every error must name the file, line and column. ``load_yaml``
returns ordinary dicts/lists/scalars (``SrcDict``/``SrcList`` subclasses) that carry the
position of each key and item; ``where(node, key)`` gives a ``Location`` for messages.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml


@dataclass(frozen=True)
class Location:
    file: str
    line: int  # 1-based
    column: int  # 1-based

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


class SrcDict(dict[Any, Any]):
    """A dict that knows the location of itself and of each of its keys."""

    loc: Location
    key_locs: dict[Any, Location]


class SrcList(list[Any]):
    loc: Location
    item_locs: list[Location]


class YamlError(ValueError):
    def __init__(self, location: Location, message: str) -> None:
        super().__init__(f"{location}: {message}")
        self.location = location
        self.message = message


def _loc(file: str, node: yaml.Node) -> Location:
    return Location(file, node.start_mark.line + 1, node.start_mark.column + 1)


MAX_DEPTH = 64  # mappings and lists inside each other; hand-written config never comes close


def _build(file: str, node: yaml.Node, loader: yaml.SafeLoader, depth: int = 0) -> Any:
    if depth > MAX_DEPTH and isinstance(node, (yaml.MappingNode, yaml.SequenceNode)):
        raise YamlError(_loc(file, node), f"nested more than {MAX_DEPTH} levels deep")
    if isinstance(node, yaml.MappingNode):
        out = SrcDict()
        out.loc = _loc(file, node)
        out.key_locs = {}
        loader.flatten_mapping(node)
        for key_node, value_node in node.value:
            key = _build(file, key_node, loader, depth + 1)
            if isinstance(key, (dict, list)):
                raise YamlError(_loc(file, key_node), "a mapping key must be a plain value")
            if key in out:
                raise YamlError(_loc(file, key_node), f"duplicate key {key!r}")
            out[key] = _build(file, value_node, loader, depth + 1)
            out.key_locs[key] = _loc(file, key_node)
        return out
    if isinstance(node, yaml.SequenceNode):
        seq = SrcList(_build(file, item, loader, depth + 1) for item in node.value)
        seq.loc = _loc(file, node)
        seq.item_locs = [_loc(file, item) for item in node.value]
        return seq
    return loader.construct_object(node, deep=True)


def load_yaml_text(text: str, file: str = "<string>", *, loader_class: type[yaml.SafeLoader] = yaml.SafeLoader) -> Any:
    """Parse ``text``; ``loader_class`` may narrow YAML's implicit types (flows use YAML 1.2
    booleans, so a key ``on:`` or a step named ``yes`` stays a string).

    libyaml (PyYAML's C parser) reads the text when it is installed: the same nodes and marks,
    five times faster. Whatever it refuses is read again by the pure-Python loader, so every
    error is worded and placed exactly as before; text libyaml would read differently (a
    character YAML does not allow, a tab, ``?``, a tag: ``_LIBYAML_DIFFERS``) goes to the
    pure-Python loader at once."""
    fast = _c_loader(loader_class)
    if fast is not None and not _NOT_PRINTABLE.search(text) and not _LIBYAML_DIFFERS.search(text):
        try:
            return _load(fast(text), file)
        except YamlError:
            raise  # found in the nodes (a duplicate key, too deep), which both parsers give alike
        except (yaml.YAMLError, RecursionError, UnicodeError):
            pass  # refused: the pure-Python loader below says why, in its words
    try:
        loader = loader_class(text)
    except yaml.reader.ReaderError as exc:  # a control character YAML does not allow (checked up front)
        raise YamlError(_position(file, text, exc.position), f"YAML syntax: character U+{exc.character:04X} is not allowed in YAML") from None
    try:
        return _load(loader, file)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        loc = Location(file, mark.line + 1, mark.column + 1) if mark else Location(file, 1, 1)
        raise YamlError(loc, f"YAML syntax: {exc.problem or exc.context}") from None
    except RecursionError:  # the YAML parser itself recurses per level: "[[[[..." thousands deep
        raise YamlError(Location(file, 1, 1), f"nested more than {MAX_DEPTH} levels deep") from None


def _load(loader: Any, file: str) -> Any:
    """The one document of ``loader``'s text, with positions (None for an empty text)."""
    try:
        node = loader.get_single_node()
        return None if node is None else _build(file, node, loader)
    finally:
        loader.dispose()


# What the pure-Python reader refuses (``yaml.reader.Reader.NON_PRINTABLE``).
_NOT_PRINTABLE = yaml.reader.Reader.NON_PRINTABLE
# Where libyaml reads differently from the pure-Python loader (found by feeding both the same
# texts, ``tests/test_yaml_libyaml.py``): tabs, byte-order marks and Unicode line breaks,
# ``?`` (complex keys; ``?`` after a plain scalar in ``[...]``/``{...}``), tags, directives, and a
# comment right after a block scalar's ``|``/``>``. Such text is read by the pure-Python loader.
_LIBYAML_DIFFERS = re.compile(r"[\t\ufeff\x85\u2028\u2029?!]|^%|[|>][-+0-9]*#", re.MULTILINE)
_C_LOADERS: dict[type, type | None] = {}


def _c_loader(loader_class: type[yaml.SafeLoader]) -> type | None:
    """libyaml's loader with ``loader_class``'s implicit types and constructors (built once per
    class), or None without libyaml."""
    if loader_class not in _C_LOADERS:
        c_safe = getattr(yaml, "CSafeLoader", None) if yaml.__with_libyaml__ else None
        _C_LOADERS[loader_class] = None if c_safe is None else type(f"C{loader_class.__name__}", (c_safe,), {
            "yaml_implicit_resolvers": loader_class.yaml_implicit_resolvers,
            "yaml_constructors": loader_class.yaml_constructors,
            "yaml_multi_constructors": loader_class.yaml_multi_constructors,
        })
    return _C_LOADERS[loader_class]


def _position(file: str, text: str, offset: int) -> Location:
    before = text[:offset]
    return Location(file, before.count("\n") + 1, offset - (before.rfind("\n") + 1) + 1)


def load_yaml(path: str | Path) -> Any:
    path = Path(path)
    return load_yaml_text(path.read_text(encoding="utf-8"), str(path))


def where(node: Any, key: Any = None, default_file: str = "<unknown>") -> Location:
    """Location of ``node[key]`` (its key), or of ``node`` itself."""
    if key is not None:
        if isinstance(node, SrcDict) and key in node.key_locs:
            return node.key_locs[key]
        if isinstance(node, SrcList) and isinstance(key, int) and 0 <= key < len(node.item_locs):
            return node.item_locs[key]
    loc = getattr(node, "loc", None)
    return loc if loc is not None else Location(default_file, 1, 1)
