"""Request bodies parsed in one place: odd JSON is a 422 naming the body, never a 500."""

from __future__ import annotations

import pytest

from acd.http.errors import Invalid
from acd.http.jsonbody import MAX_DEPTH, deeper_than, parse_json


@pytest.mark.parametrize("raw,reason", [
    (b'{"seconds": ' + b"9" * 5000 + b"}", "a number longer than"),
    (b'{"seconds": 1.' + b"5" * 5000 + b"}", "a number longer than"),
    (b"[" * 100_000 + b"]" * 100_000, "nested deeper than"),
    (b'{"a":' * 100_000, "nested deeper than"),
    (b'{"seconds": 1e999}', "out of range"),
    (b'{"seconds": NaN}', "NaN is not a JSON number"),
    (b'{"seconds": -Infinity}', "-Infinity is not a JSON number"),
    (b"\xff\xfe", "not UTF-8"),
    (b'{"a": "never closed [[[[', "not JSON"),
    (b'{"a": 1,}', "not JSON (line 1, column 9)"),
])
def test_odd_bodies_are_refused_naming_the_body(raw, reason):
    with pytest.raises(Invalid) as refused:
        parse_json(raw)
    assert refused.value.field == "body" and reason in refused.value.detail


def test_ordinary_bodies_parse_and_brackets_in_strings_do_not_count():
    assert parse_json(b'{"state": "not_ready", "reason": "[[[[{{{{"}') == {"state": "not_ready", "reason": "[[[[{{{{"}
    nested = "[" * MAX_DEPTH + "]" * MAX_DEPTH
    assert not deeper_than(nested, MAX_DEPTH) and deeper_than("[" + nested + "]", MAX_DEPTH)
    assert not deeper_than('"\\"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\\""', MAX_DEPTH)
    assert parse_json(b'{"seconds": 30}') == {"seconds": 30}
