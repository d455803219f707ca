"""JSON Schema checking of flow documents, built once per schema and remembered per step.

``jsonschema`` walks a flow's every step on every compile, ~0.1 ms a step; a reload of a
directory, or a flow edited in one step, checks the same steps again. A ``SchemaChecker`` builds
its validators once, and when the schema has the shape of ``ivr_flows/schema.json`` (the steps
are ``steps: {additionalProperties: <step schema>}`` and nothing else at the top looks at them)
it checks the document without its steps and then each step on its own, remembering what it
found per step name and content. What a step's check finds depends on nothing but the two, so
the findings are the ones a check of the whole document gives (``tests/flows`` and
``tests/flows/test_schemacheck.py`` compare them). Any other schema is checked whole.

A finding is ``(path, message, typo)``: where in the document (keys and indices), what is wrong,
and for an unknown field the ``(path of its mapping, known field names)`` the compiler uses to
read a typo as the field it is close to (``None`` otherwise). ``describe`` turns one
``jsonschema.ValidationError`` into one.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping
from typing import Any

import jsonschema

Finding = tuple[tuple[Any, ...], str, "tuple[tuple[Any, ...], tuple[str, ...]] | None"]
Describe = Callable[[jsonschema.ValidationError], Finding]

STEPS_REMEMBERED = 4096  # per schema; a bundled flow has up to ~40 steps
CHECKERS_KEPT = 8  # schemas (a flows directory may bring its own schema.json)

# Top-level keywords that cannot look at the ``steps`` value but through ``properties``.
_ROOT_KEYWORDS = frozenset({"$schema", "$id", "$comment", "$defs", "title", "description", "type", "required",
                            "additionalProperties", "properties"})
# Keywords of the ``steps`` schema that do not apply a schema to its values.
_STEPS_KEYWORDS = frozenset({"type", "minProperties", "maxProperties", "propertyNames", "required", "description",
                             "title", "$comment", "additionalProperties"})


class SchemaChecker:
    """One schema's validators (built once) and the findings of the steps seen lately."""

    def __init__(self, schema: Mapping[str, Any], describe: Describe, *, by_step: bool = True) -> None:
        self.schema = schema
        self._describe = describe
        self._whole = jsonschema.Draft202012Validator(schema)
        self._without_steps: jsonschema.protocols.Validator | None = None
        self._one_step: jsonschema.protocols.Validator | None = None
        self._steps: OrderedDict[Hashable, list[Finding]] = OrderedDict()
        split = _split_at_steps(schema) if by_step else None
        if split is not None:
            self._without_steps = jsonschema.Draft202012Validator(split[0])
            self._one_step = jsonschema.Draft202012Validator(split[1])

    def findings(self, doc: Any) -> list[Finding]:
        """Every schema finding of ``doc``: the same as checking it whole."""
        steps = doc.get("steps") if isinstance(doc, dict) else None
        if self._without_steps is None or self._one_step is None or not isinstance(steps, dict):
            return [self._describe(e) for e in self._whole.iter_errors(doc)]
        out = [self._describe(e) for e in self._without_steps.iter_errors(doc)]
        for name, step in steps.items():
            out += self._step_findings(name, step)
        return out

    def _step_findings(self, name: Any, step: Any) -> list[Finding]:
        key = _content_key((name, step))
        if key is not None and key in self._steps:
            self._steps.move_to_end(key)
            return self._steps[key]
        found = [self._describe(e) for e in self._one_step.iter_errors({"steps": {name: step}})]  # type: ignore[union-attr]
        if key is not None:
            self._steps[key] = found
            if len(self._steps) > STEPS_REMEMBERED:
                self._steps.popitem(last=False)
        return found


def _split_at_steps(schema: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """(the schema without the check of each step, a schema checking ``{"steps": {name: step}}``
    as the whole schema checks that step), or None when the schema has another shape."""
    props = schema.get("properties")
    if not isinstance(props, dict):
        return None
    steps = props.get("steps")
    if not isinstance(steps, dict) or not set(schema) <= _ROOT_KEYWORDS or not set(steps) <= _STEPS_KEYWORDS:
        return None
    each = steps.get("additionalProperties")
    if not isinstance(each, dict) or isinstance(schema.get("additionalProperties"), dict):
        return None
    without = dict(schema)
    without["properties"] = {**props, "steps": {k: v for k, v in steps.items() if k != "additionalProperties"}}
    one = {k: schema[k] for k in ("$schema", "$id", "$defs") if k in schema}
    one["properties"] = {"steps": {"additionalProperties": each}}
    return without, one


def _content_key(value: Any) -> Hashable | None:
    """A key equal for two values exactly when a schema check sees them (and shows them) alike:
    types, key order and each scalar's text count; None for a value with no such key."""
    try:
        key = _key(value)
        hash(key)
    except TypeError:
        return None
    return key


def _key(v: Any) -> Hashable:
    if isinstance(v, dict):
        return ("d", tuple((_key(k), _key(x)) for k, x in v.items()))
    if isinstance(v, (list, tuple)):
        return ("l" if isinstance(v, list) else "t", tuple(_key(x) for x in v))
    if v is None or type(v) in (str, int, bool):
        return (type(v).__name__, v)
    if isinstance(v, (set, frozenset)):
        raise TypeError("a set has no order to key by")
    return (type(v).__qualname__, repr(v))  # floats (-0.0, nan), dates: what a message would show


_CHECKERS: OrderedDict[tuple[int, str | None], SchemaChecker] = OrderedDict()


def checker_for(schema: Mapping[str, Any], describe: Describe, *, defs_ref: str | None = None) -> SchemaChecker:
    """The checker of ``schema`` (of its ``$defs`` entry ``defs_ref``), built on first use. A
    schema is known by identity (``load_schema`` hands out the same dict for the same file), so
    a schema must not be changed once it is in use."""
    key = (id(schema), defs_ref)
    checker = _CHECKERS.get(key)
    if checker is None or checker.schema is not schema:
        effective = schema if defs_ref is None else {"$schema": schema.get("$schema"), "$defs": schema["$defs"], "$ref": defs_ref}
        checker = SchemaChecker(effective, describe)
        checker.schema = schema  # known by the schema asked for, kept alive so its id is not reused
        _CHECKERS[key] = checker
        if len(_CHECKERS) > CHECKERS_KEPT:
            _CHECKERS.popitem(last=False)
    return checker
