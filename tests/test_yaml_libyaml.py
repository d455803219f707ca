"""``acd.yamlsrc`` reads with libyaml when it can: what it gives (values, types, every position,
every error's text and place) must be what the pure-Python loader gives, for the bundled files,
for texts where the two parsers are known to differ, and for a seeded soup of YAML pieces."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest
import yaml

from acd import yamlsrc
from acd.flows.compiler import _FlowLoader

ROOT = Path(__file__).resolve().parents[1]


def _shape(node: Any) -> Any:
    """Everything a caller can see of a loaded value: types, values, key order, positions."""
    if isinstance(node, yamlsrc.SrcDict):
        return ("map", node.loc, tuple((_shape(k), node.key_locs[k], _shape(v)) for k, v in node.items()))
    if isinstance(node, yamlsrc.SrcList):
        return ("list", node.loc, tuple(node.item_locs), tuple(_shape(v) for v in node))
    return (type(node).__name__, repr(node))


def _outcome(text: str, loader: type[yaml.SafeLoader], *, libyaml: bool, monkeypatch: pytest.MonkeyPatch) -> Any:
    with monkeypatch.context() as m:
        if not libyaml:
            m.setitem(yamlsrc._C_LOADERS, loader, None)
        try:
            return "ok", _shape(yamlsrc.load_yaml_text(text, "f.yaml", loader_class=loader))
        except yamlsrc.YamlError as exc:
            return "error", str(exc)


def _assert_alike(text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    for loader in (yaml.SafeLoader, _FlowLoader):
        fast = _outcome(text, loader, libyaml=True, monkeypatch=monkeypatch)
        slow = _outcome(text, loader, libyaml=False, monkeypatch=monkeypatch)
        assert fast == slow, f"{text!r} with {loader.__name__}"


def test_libyaml_is_there_and_used(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without it this file would compare the pure-Python loader with itself."""
    assert yamlsrc._c_loader(_FlowLoader) is not None
    calls: list[str] = []
    real = yamlsrc._load
    monkeypatch.setattr(yamlsrc, "_load", lambda loader, file: calls.append(type(loader).__name__) or real(loader, file))
    yamlsrc.load_yaml_text("a: 1\n", "f.yaml", loader_class=_FlowLoader)
    assert calls == ["C_FlowLoader"]


@pytest.mark.parametrize("path", sorted([*ROOT.glob("ivr_flows/*.yaml"), *ROOT.glob("config/*.yaml")]), ids=lambda p: p.name)
def test_bundled_files_load_alike(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _assert_alike(path.read_text(encoding="utf-8"), monkeypatch)


# Texts libyaml reads differently from the pure-Python loader (each was found so): they must
# be read by the pure-Python loader, and so come out alike.
DIFFERING = ["a: \t", "\ufeff\ufeffa: 1", ">#", "|#'", "{? }", "{a? b}", "[...? ]", "!x~!!str\r- =}", "a:\u2028 1", "%YAML 1.1\n---\na: 1",
             "a: 1\x85b: 2"]
OTHERS = ["", " ", "#c", "a: 1\r\nb:\r\n  - x\r\n  - y", "a: 1\rb: 2", "a: é€😀\nb: [é, 😀]", "a: &x 1\nb: *x", "b: &b {x: 1}\na:\n  <<: *b\n  y: 2",
          "---\na: 1\n...\n", "a: 1\n---\nb: 2", "- - - x", "a: |\n  x\n   y\nb: >-\n  z\n", "a: 2026-01-01", "a: 12:30", "a: 0x1f", "a: .nan",
          "a: -0.0", "a: on", "a: yes", "1: x\n2: y", "a: 1\na: 2", "[" * 70 + "]" * 70, "[" * 2000, "a: &x [*x]", "a: \"\x1b\"", "a: [1, 2\n b",
          "a: b\n  c", "{a: 1, b}", "a: 'it''s'", "a: \"\\x41\\u263a\"", "a" * 2000 + ": 1", "a: \ud800"]


@pytest.mark.parametrize("text", DIFFERING + OTHERS)
def test_known_texts_load_alike(text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    _assert_alike(text, monkeypatch)


PIECES = [":", "-", "[", "]", "{", "}", ",", "#", " #", "&a", "*a", "|", ">", "|-", ">+", "|2", "'", '"', "%", "@", "`", " ", "  ", "\n", "\n  ",
          "\n    ", "a", "b", "1", "0x1", "~", "\\", "...", "---", "<<", "<<: *a", ".", "\r\n", "\r", "é", "😀", "-1", "1.5", "true", "on", ": ",
          "- ", "\n- ", "\n  - ", "k: v\n", '"\\n"', '"\\x4', "''", "\\\n", " \n", "2026-01-01", "12:30:00", "-.nan", "0o7", "a: b\n", "  a: b\n",
          "{a: 1}", "[1, 2]", "&x [*x]", ": :", "- - ", ",,", "]:", "*", "&", "a b", "#c\n", "?", "!", "\t"]


def test_a_soup_of_yaml_pieces_loads_alike(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(13)
    for _ in range(3000):
        _assert_alike("".join(rng.choice(PIECES) for _ in range(rng.randint(1, 16))), monkeypatch)
