"""The flow schema check by steps (``acd.flows.schemacheck``) finds exactly what a check of the
whole document finds, and remembers a step's findings by its name and content only."""

from __future__ import annotations

import collections
import random

from acd.flows.compiler import SrcDict, _finding, _normalise, load_schema, load_yaml_text
from acd.flows.schemacheck import SchemaChecker, _content_key
from acd.yamlsrc import YamlError
from bench.fuzz_targets import _flow_texts, make_flow_text


def _docs(n: int, seed: int) -> list[SrcDict]:
    rng = random.Random(seed)
    out: list[SrcDict] = []
    while len(out) < n:
        try:
            raw = load_yaml_text(make_flow_text(rng), "fuzz.yaml")
        except YamlError:
            continue
        if isinstance(raw, SrcDict):
            out.append(_normalise(raw))
    return out


def _bag(findings: list) -> collections.Counter:
    return collections.Counter(repr(f) for f in findings)  # paths mix keys and indices: compare as a multiset


def test_checking_by_steps_finds_what_checking_whole_finds() -> None:
    schema = load_schema()
    by_step, whole = SchemaChecker(schema, _finding), SchemaChecker(schema, _finding, by_step=False)
    assert by_step._one_step is not None and whole._one_step is None
    docs = [_normalise(load_yaml_text(t, "bundled.yaml")) for t in _flow_texts()] + _docs(300, 13)
    found = 0
    for doc in docs + docs:  # the second time round from what was remembered
        expected = whole.findings(doc)
        assert _bag(by_step.findings(doc)) == _bag(expected)
        found += len(expected)
    assert found > 300  # the mutated flows do have problems to find


def test_a_steps_findings_are_remembered_by_name_and_content() -> None:
    checker = SchemaChecker(load_schema(), _finding)
    doc = _normalise(load_yaml_text("flow: f\nsteps:\n  a: {play: hello, next: b}\n  b: {hangup: {}}\n", "f.yaml"))
    assert checker.findings(doc) == []
    assert len(checker._steps) == 2
    assert checker.findings(doc) == [] and len(checker._steps) == 2  # nothing new to remember
    edited = _normalise(load_yaml_text("flow: f\nsteps:\n  a: {play: hello, next: 7}\n  b: {hangup: {}}\n", "f.yaml"))
    (path, message, _), = checker.findings(edited)
    assert path == ("steps", "a", "next") and "expected" in message
    assert len(checker._steps) == 3  # only the edited step was checked again
    renamed = _normalise(load_yaml_text("flow: f\nsteps:\n  c: {play: hello, next: 7}\n  b: {hangup: {}}\n", "f.yaml"))
    assert [p for p, _, _ in checker.findings(renamed)] == [("steps", "c", "next")]


def test_values_a_check_tells_apart_have_different_keys() -> None:
    values = [1, True, "1", 1.0, 0.0, -0.0, None, "null", [1], (1,), {"a": 1}, {"a": True}]
    keys = [_content_key(v) for v in values]
    assert len(set(keys)) == len(values)
    assert _content_key({"a": 1, "b": 2}) != _content_key({"b": 2, "a": 1})  # key order shows in messages
    assert _content_key({1, 2}) is None  # not remembered: checked each time


def test_a_schema_of_another_shape_is_checked_whole() -> None:
    schema = dict(load_schema())
    schema["properties"] = {**schema["properties"], "steps": {**schema["properties"]["steps"], "patternProperties": {"^x": {"type": "string"}}}}
    checker = SchemaChecker(schema, _finding)
    assert checker._one_step is None
    doc = _normalise(load_yaml_text("flow: f\nsteps:\n  xa: {play: hello}\n", "f.yaml"))
    assert [p for p, _, _ in checker.findings(doc)] == [("steps", "xa")]  # the pattern's "string" refuses the step
