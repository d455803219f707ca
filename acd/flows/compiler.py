"""Flow compiler: YAML -> JSON Schema check -> typed steps -> semantic checks -> ``CompiledFlow``.

Every problem is collected (never only the first) as a ``Problem`` naming file, line, column and
step; ``FlowCompileError`` carries them all. Checks after the schema:

- targets that name no step, routes for outcomes a step cannot give, outcomes with nowhere to go;
- steps no path from ``start`` reaches;
- loops that take no caller input (they would spin until the max-steps guard);
- variables used but never set, or not set on every path to the step that uses them;
- prompts whose sound file is in none of the configured sound directories;
- expression, template, schedule and time-zone syntax.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import EllipsisType, MappingProxyType
from typing import Any
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import jsonschema
import yaml

from acd.flows.catalogue import FlowCatalogue, catalogue_problems, closest, did_you_mean
from acd.flows.schemacheck import Finding, checker_for
from acd.flows.expr import ExprError, FUNCTIONS, Expr, literal_expr, parse_expr
from acd.flows.model import (
    secret_input_ahead,
    ACTIONS,
    INPUT_ACTIONS,
    OUTCOME_DEFAULTS,
    WEEKDAYS,
    BranchCase,
    BranchParams,
    CallbackParams,
    TaskParams,
    CollectAccountParams,
    CollectParams,
    CompiledFlow,
    CurrencySounds,
    DigitSpec,
    FailurePolicy,
    FlowVersion,
    HangupParams,
    HttpParams,
    IdentifyParams,
    LanguageParams,
    LookupParams,
    MenuParams,
    PlayParams,
    QueueParams,
    ReturnParams,
    Schedule,
    ScheduleParams,
    SetParams,
    SkillSpec,
    Step,
    SubflowParams,
    TimeRange,
    TransferParams,
    Validator,
    VerificationPolicy,
    VerifyParams,
    VoicemailParams,
    freeze,
    step_edges,
    step_outcomes,
)
from acd.flows.template import Prompt, TemplateError, TextTemplate, parse_prompt, parse_text
from acd.flows.regex import RegexError, check_pattern
from acd import yamlsrc
from acd.yamlsrc import Location, SrcDict, SrcList, YamlError, where

GLOBAL_NAMES = frozenset({"call", "customer"})
DEFAULT_FAILURE_PROMPT = "an-error-has-occurred"
DEFAULT_INVALID_PROMPT = "option-is-invalid"
SCHEDULES_FILE = "schedules.yaml"
SCHEMA_FILE = "schema.json"
SAVE_PATH = re.compile(r"^(\$|[A-Za-z_][A-Za-z0-9_\-]*|\[\d+\])(\.[A-Za-z_][A-Za-z0-9_\-]*|\[\d+\])*$")


# --------------------------------------------------------------------------- YAML
class _FlowLoader(yaml.SafeLoader):
    """YAML 1.2 booleans: only true/false. In YAML 1.1 ``on``, ``off``, ``yes`` and ``no`` are
    booleans, which would turn the routing key ``on:`` or a step called ``no`` into true/false."""


_FlowLoader.yaml_implicit_resolvers = {
    k: [(tag, rx) for tag, rx in v if tag != "tag:yaml.org,2002:bool"]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_FlowLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))


def load_yaml_text(text: str, file: str) -> Any:
    """``acd.yamlsrc.load_yaml_text`` with YAML 1.2 booleans (positions kept the same way)."""
    return yamlsrc.load_yaml_text(text, file, loader_class=_FlowLoader)


# --------------------------------------------------------------------------- problems
@dataclass(frozen=True, order=True)
class Problem:
    location: Location
    message: str
    step: str | None = None

    def __str__(self) -> str:
        where_ = f"step {self.step!r}: " if self.step else ""
        return f"{self.location}: {where_}{self.message}"


class FlowCompileError(ValueError):
    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = sorted(set(problems), key=lambda p: (p.location.file, p.location.line, p.location.column, p.message))
        super().__init__("\n".join(str(p) for p in self.problems))


# --------------------------------------------------------------------------- schema
@functools.cache
def default_schema_path() -> Path:
    """``ivr_flows/schema.json`` of this source tree (looked up once)."""
    return Path(__file__).resolve().parents[2] / "ivr_flows" / SCHEMA_FILE


@functools.lru_cache(maxsize=4)
def _load_schema(path: str) -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(Path(path).read_text(encoding="utf-8"))
    return schema


def load_schema(path: str | Path | None = None) -> dict[str, Any]:
    return _load_schema(str(path or default_schema_path()))


def _normalise(node: Any) -> Any:
    """Menu keys like ``1:`` are read as numbers: make every key text again, keeping positions."""
    if isinstance(node, SrcDict):
        out = SrcDict()
        out.loc = node.loc
        out.key_locs = {}
        for k, v in node.items():
            key = "true" if k is True else "false" if k is False else "null" if k is None else str(k)
            out[key] = _normalise(v)
            out.key_locs[key] = node.key_locs.get(k, node.loc)
        return out
    if isinstance(node, SrcList):
        seq = SrcList(_normalise(v) for v in node)
        seq.loc = node.loc
        seq.item_locs = node.item_locs
        return seq
    return node


def _locate(doc: Any, path: Sequence[Any], file: str) -> tuple[Location, str | None]:
    """Location of the value at ``path`` (its key's position) and the step it is in."""
    node = doc
    loc = where(doc, default_file=file)
    for part in path:
        if isinstance(node, (SrcDict, SrcList)):
            try:
                loc = where(node, part, file)
                node = node[part]
                continue
            except (KeyError, IndexError, TypeError):
                break
        break
    step = str(path[1]) if len(path) >= 2 and path[0] == "steps" else None
    return loc, step


def _path_text(path: Sequence[Any]) -> str:
    out = ""
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else (("." if out else "") + str(p))
    return out


def _schema_message(err: jsonschema.ValidationError) -> str:
    field_ = _path_text(list(err.absolute_path)[-1:]) if err.absolute_path else ""
    v = err.validator
    if v == "oneOf" and isinstance(err.schema, dict) and all(
        isinstance(s, dict) and set(s) == {"required"} for s in err.schema.get("oneOf", [])
    ):
        actions = [s["required"][0] for s in err.schema["oneOf"]]
        present = [a for a in actions if isinstance(err.instance, dict) and a in err.instance]
        if present:
            return f"a step has exactly one action, this one has {len(present)}: {', '.join(present)}"
        return "a step needs one action: " + ", ".join(actions)
    if v == "additionalProperties":
        extra = [k for k in err.instance if k not in err.schema.get("properties", {})] if isinstance(err.instance, dict) else []
        properties = err.schema.get("properties", {})
        hints = [did_you_mean(str(k), properties) for k in extra]
        if extra and all(hints):
            return "; ".join(f"unknown field {k!r}{h.replace(' (', ': ').rstrip(')')}" for k, h in zip(extra, hints, strict=False))
        known = ", ".join(sorted(properties))
        return f"unknown field {', '.join(map(repr, extra))}" + (f" (expected one of: {known})" if known else "")
    if v == "required":
        message: str = err.message
        return message.replace("is a required property", "is missing")
    if v in ("anyOf", "oneOf") and err.context:
        kinds = {c.validator for c in err.context}
        if kinds <= {"type", "const", "pattern", "minLength", "minItems"}:
            expected = sorted({str(c.schema.get("type")) for c in err.context if isinstance(c.schema, dict) and "type" in c.schema})
            return f"{field_ or 'value'}: {err.instance!r} is not valid here (expected {' or '.join(expected) or 'another form'})"
        best = jsonschema.exceptions.best_match(err.context)
        return _schema_message(best)
    if v == "pattern" and isinstance(err.instance, str):
        return f"{field_ or 'value'}: {err.instance!r} is not valid (it must match {err.validator_value})"
    if v == "enum":
        return f"{field_ or 'value'}: {err.instance!r} is not one of {', '.join(map(repr, err.validator_value))}"
    if v == "type":
        return f"{field_ or 'value'}: expected {err.validator_value}, got {_yaml_type(err.instance)}"
    return f"{field_ + ': ' if field_ else ''}{err.message}"


def _yaml_type(v: Any) -> str:
    if isinstance(v, bool):
        return "true/false"
    if isinstance(v, dict):
        return "a mapping"
    if isinstance(v, list):
        return "a list"
    if v is None:
        return "nothing (null)"
    return type(v).__name__ + f" {v!r}"


def schema_problems(doc: Any, file: str, schema: Mapping[str, Any], *, defs_ref: str | None = None) -> list[Problem]:
    """Every schema problem of ``doc`` (a ``defs_ref`` checks it against that ``$defs`` entry).
    Unknown fields close to a known one are then read as that one (``_read_typo_as_meant``)."""
    findings = checker_for(schema, _finding, defs_ref=defs_ref).findings(doc)
    problems: list[Problem] = []
    for path, message, _ in findings:
        loc, step = _locate(doc, path, file)
        problems.append(Problem(loc, message, step))
    for _, _, typo in findings:
        if typo is not None:
            _read_typo_as_meant(_node_at(doc, typo[0]), typo[1])
    return problems


def _finding(err: jsonschema.ValidationError) -> Finding:
    """(path, message, typo) of one schema error: see ``acd.flows.schemacheck``."""
    path = list(err.absolute_path)
    if err.validator == "additionalProperties" and isinstance(err.instance, dict):
        extra = [k for k in err.instance if k not in err.schema.get("properties", {})]
        if extra:
            path = path + [extra[0]]
    message = _schema_message(err)
    if "propertyNames" in err.schema_path and isinstance(err.instance, str):
        path = path + [err.instance]  # the offending key itself
        message = f"the name {err.instance!r} is not allowed here" + (
            f" (it must match {err.validator_value})" if err.validator == "pattern" else f": {err.message}")
    typo = (tuple(err.absolute_path), tuple(err.schema.get("properties", {}))) if err.validator == "additionalProperties" else None
    return tuple(path), message, typo


def _node_at(doc: Any, path: Sequence[Any]) -> Any:
    node = doc
    for part in path:
        node = node[part]
    return node


def _read_typo_as_meant(node: Any, properties: Collection[str]) -> None:
    """A mistyped key (``nxt:``) is read as the one it is close to (``next``) for the rest of
    the checks, so one typo is reported once and not as a cascade of unreachable steps. The
    flow is refused all the same: the typo itself stays a problem."""
    if not isinstance(node, SrcDict):
        return
    known = tuple(sorted(properties))
    for key in [k for k in node if k not in properties]:
        close = closest(str(key), known)
        if close is not None and close not in node:
            node[close] = node[key]
            node.key_locs[close] = node.key_locs.get(key, node.loc)


# --------------------------------------------------------------------------- sounds
def _files_following_links(root: Path) -> Iterable[Path]:
    """Every file under ``root``, through symlinked folders too (Debian's
    /usr/share/asterisk/sounds/en is a symlink; ``Path.rglob`` does not follow it). A link loop
    is visited once."""
    seen: set[tuple[int, int]] = set()
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        st = os.stat(dirpath)
        if (st.st_dev, st.st_ino) in seen:
            dirnames[:] = []
            continue
        seen.add((st.st_dev, st.st_ino))
        base = Path(dirpath)
        for name in filenames:
            if (base / name).is_file():
                yield base / name


class SoundIndex:
    """Which sound files exist in the configured directories (Asterisk layout: ``dir/name.ext`` or
    ``dir/<language>/name.ext``)."""

    def __init__(self, dirs: Sequence[str | Path]) -> None:
        self.dirs = [Path(d) for d in dirs]
        self._names: set[str] = set()
        for d in self.dirs:
            if not d.is_dir():
                continue
            for p in _files_following_links(d):
                rel = p.relative_to(d).as_posix()
                self._names.add(rel.rsplit(".", 1)[0] if "." in p.name else rel)

    @property
    def enabled(self) -> bool:
        return bool(self.dirs)

    def has(self, name: str, languages: Iterable[str]) -> bool:
        if name in self._names:
            return True
        return any(f"{lang}/{name}" in self._names for lang in languages)


# --------------------------------------------------------------------------- build context
@dataclass
class _Ctx:
    file: str
    doc: SrcDict
    problems: list[Problem] = field(default_factory=list)
    step: str | None = None
    uses: dict[str, list[tuple[frozenset[str], Location]]] = field(default_factory=dict)
    prompts: list[tuple[Prompt, Location, str | None]] = field(default_factory=list)
    schedules: dict[str, Schedule] = field(default_factory=dict)
    shared_schedules: Mapping[str, Schedule] = field(default_factory=dict)
    used_shared: bool = False
    timezone: str = "UTC"
    languages: set[str] = field(default_factory=set)

    def err(self, loc: Location, message: str, step: str | None | EllipsisType = ...) -> None:
        """Record a problem; ``step`` defaults (``...``) to the step being compiled, ``None`` for none."""
        self.problems.append(Problem(loc, message, self.step if isinstance(step, EllipsisType) else step))

    def use(self, names: Iterable[str], loc: Location) -> None:
        if self.step is not None:
            self.uses.setdefault(self.step, []).append((frozenset(names), loc))

    # ---- typed readers (the schema has checked types; these turn YAML into value objects)
    def expr(self, text: Any, loc: Location) -> Expr | None:
        if isinstance(text, bool) or text is None or isinstance(text, (int, float)):
            return literal_expr(text)
        try:
            e = parse_expr(str(text))
        except ExprError as exc:
            self.err(loc, f"expression {str(text)!r}: {exc.message} (at character {exc.pos + 1})")
            return None
        self.use(e.names(), loc)
        return e

    def text(self, value: Any, loc: Location) -> TextTemplate | None:
        try:
            t = parse_text("" if value is None else str(value))
        except TemplateError as exc:
            self.err(loc, f"template {str(value)!r}: {exc.message} (at character {exc.pos + 1})")
            return None
        self.use(t.names(), loc)
        return t

    def prompt(self, value: Any, loc: Location) -> tuple[Prompt, ...]:
        if value is None:
            return ()
        lines = list(value) if isinstance(value, list) else [value]
        out: list[Prompt] = []
        for i, line in enumerate(lines):
            line_loc = where(value, i, self.file) if isinstance(value, SrcList) else loc
            try:
                p = parse_prompt(str(line))
            except TemplateError as exc:
                self.err(line_loc, f"prompt {str(line)!r}: {exc.message} (at character {exc.pos + 1})")
                continue
            self.use(p.names(), line_loc)
            self.prompts.append((p, line_loc, self.step))
            out.append(p)
        return tuple(out)


def _loc(node: Any, key: Any, ctx: _Ctx) -> Location:
    return where(node, key, ctx.file)


# --------------------------------------------------------------------------- schedules
_HOURS = re.compile(r"^\s*([0-2]\d):([0-5]\d)\s*-\s*([0-2]\d):([0-5]\d)\s*$")


def _parse_hours(text: str, loc: Location, ctx: _Ctx) -> tuple[TimeRange, ...]:
    text = str(text).strip()
    if text.lower() == "closed":
        return ()
    out: list[TimeRange] = []
    for part in text.split(","):
        m = _HOURS.match(part)
        if not m:
            ctx.err(loc, f"hours {part.strip()!r}: write HH:MM-HH:MM (e.g. 08:00-18:00) or closed")
            continue
        h1, m1, h2, m2 = map(int, m.groups())
        start, end = h1 * 60 + m1, h2 * 60 + m2
        if h1 > 23 or h2 > 24 or end > 1440:
            ctx.err(loc, f"hours {part.strip()!r}: not a time of day")
            continue
        if end <= start:
            ctx.err(loc, f"hours {part.strip()!r}: the end is not after the start (for hours past midnight, list the next day separately, e.g. 00:00-02:00)")
            continue
        out.append(TimeRange(start, end))
    return tuple(sorted(out, key=lambda r: r.start_min))


def _valid_tz(name: str) -> bool:
    try:
        ZoneInfo(name)
        return True
    except (ZoneInfoNotFoundError, ValueError):
        return False


def build_schedule(name: str, node: SrcDict, ctx: _Ctx, default_tz: str) -> Schedule:
    tz = node.get("timezone", default_tz)
    if not _valid_tz(str(tz)):
        ctx.err(_loc(node, "timezone", ctx), f"schedule {name!r}: unknown time zone {tz!r} (use an IANA name like Europe/London)")
        tz = "UTC"
    week: list[tuple[TimeRange, ...] | None] = [None] * 7
    hours = node.get("hours") or {}
    default: tuple[TimeRange, ...] = ()
    for key, value in hours.items():
        ranges = _parse_hours(value, _loc(hours, key, ctx), ctx)
        if key == "default":
            default = ranges
            continue
        first, _, last = key.partition("-")
        i, j = WEEKDAYS.index(first), WEEKDAYS.index(last or first)
        days = [(i + k) % 7 for k in range(((j - i) % 7) + 1)]
        for d in days:
            if week[d] is not None:
                ctx.err(_loc(hours, key, ctx), f"schedule {name!r}: {WEEKDAYS[d]} is given twice")
            week[d] = ranges
    holidays: set[str] = set()
    for i, h in enumerate(node.get("holidays") or []):
        text = h["date"] if isinstance(h, dict) else str(h)
        try:
            if len(text) == 10:
                dt.date.fromisoformat(text)
            else:
                dt.date.fromisoformat("2024-" + text)  # a leap year, so 02-29 is allowed
            holidays.add(text)
        except ValueError:
            ctx.err(where(node["holidays"], i, ctx.file), f"schedule {name!r}: holiday {text!r} is not a date")
    special: dict[str, tuple[TimeRange, ...]] = {}
    for day, value in (node.get("special") or {}).items():
        try:
            dt.date.fromisoformat(day)
        except ValueError:
            ctx.err(_loc(node["special"], day, ctx), f"schedule {name!r}: {day!r} is not a date")
            continue
        special[day] = _parse_hours(value, _loc(node["special"], day, ctx), ctx)
    return Schedule(
        name=name, timezone=str(tz), week=tuple(w if w is not None else default for w in week),
        holidays=frozenset(holidays), special=MappingProxyType(special), loc=where(node, default_file=ctx.file),
    )


def compile_schedules_text(text: str, file: str, *, schema: Mapping[str, Any] | None = None) -> dict[str, Schedule]:
    """The shared schedules file (``ivr_flows/schedules.yaml``); raises ``FlowCompileError``."""
    try:
        doc = _normalise(load_yaml_text(text, file))
    except YamlError as exc:
        raise FlowCompileError([Problem(exc.location, exc.message)]) from None
    problems = schema_problems(doc, file, schema or load_schema(), defs_ref="#/$defs/schedulesFile")
    if problems:
        raise FlowCompileError(problems)
    ctx = _Ctx(file, doc)
    out = {name: build_schedule(name, node, ctx, "UTC") for name, node in doc["schedules"].items()}
    if ctx.problems:
        raise FlowCompileError(ctx.problems)
    return out


# --------------------------------------------------------------------------- steps
def _digit_spec(node: SrcDict, ctx: _Ctx, *, secret: bool = False, defaults: Mapping[str, Any] | None = None) -> DigitSpec:
    d = dict(defaults or {})
    d.update({k: v for k, v in node.items()})
    validators: list[Validator] = []
    vnode = node.get("validate") or {}
    for kind, arg in vnode.items():
        vloc = _loc(vnode, kind, ctx)
        if kind == "luhn":
            if arg:
                validators.append(Validator("luhn"))
        elif kind == "regex":
            try:
                validators.append(Validator("regex", check_pattern(arg)))
            except RegexError as exc:
                ctx.err(vloc, f"validate.regex {arg!r}: {exc.message}")
        elif kind == "range":
            lo, hi = arg.get("min"), arg.get("max")
            if lo is not None and hi is not None and lo > hi:
                ctx.err(vloc, f"validate.range: min {lo} is above max {hi}")
            validators.append(Validator("range", (lo, hi)))
        elif kind == "date":
            validators.append(Validator("date", arg))
    min_d = int(d.get("min_digits", 1))
    max_d = int(d.get("max_digits", 20))
    if min_d > max_d:
        ctx.err(_loc(node, "min_digits", ctx), f"min_digits {min_d} is above max_digits {max_d}")
    return DigitSpec(
        prompt=ctx.prompt(node.get("prompt"), _loc(node, "prompt", ctx)),
        min_digits=min_d,
        max_digits=max_d,
        terminator=str(d.get("terminator", "#")),
        first_digit_timeout_s=float(d.get("first_digit_timeout_s", 5.0)),
        inter_digit_timeout_s=float(d.get("inter_digit_timeout_s", 3.0)),
        retries=int(d.get("retries", 2)),
        invalid_prompt=ctx.prompt(node.get("invalid_prompt"), _loc(node, "invalid_prompt", ctx)),
        no_input_prompt=ctx.prompt(node.get("no_input_prompt"), _loc(node, "no_input_prompt", ctx)),
        validators=tuple(validators),
        secret=bool(node.get("secret", secret)),
        interruptible=bool(node.get("interruptible", True)),
    )


def _pairs(node: Any, ctx: _Ctx, fn: Callable[[Any, Location], TextTemplate | None]) -> tuple[tuple[str, TextTemplate], ...]:
    if not node:
        return ()
    out = []
    for k, v in node.items():
        built = fn(v, _loc(node, k, ctx))
        if built is not None:
            out.append((str(k), built))
    return tuple(out)


def _json_template(value: Any, loc: Location, ctx: _Ctx) -> Any:
    if isinstance(value, dict):
        return MappingProxyType({str(k): _json_template(v, _loc(value, k, ctx), ctx) for k, v in value.items()})
    if isinstance(value, list):
        return tuple(_json_template(v, where(value, i, ctx.file), ctx) for i, v in enumerate(value))
    if isinstance(value, str):
        return ctx.text(value, loc)
    return value


def _mapping(node: SrcDict | None, action: str) -> SrcDict:
    """The action's mapping. Not one: a TypeError, which the compiler turns into the schema's
    problems (the schema requires a mapping for this action, so it has already said why)."""
    if node is None:
        raise TypeError(f"{action}: a mapping is required")
    return node


def _build_params(action: str, value: Any, step_node: SrcDict, ctx: _Ctx, flow_name: str) -> Any:
    loc = _loc(step_node, action, ctx)
    node = value if isinstance(value, SrcDict) else None
    if action == "play":
        if node is not None:
            return PlayParams(ctx.prompt(node.get("prompt"), _loc(node, "prompt", ctx)), bool(node.get("interruptible", False)))
        return PlayParams(ctx.prompt(value, loc))
    if action == "menu":
        node = _mapping(node, action)
        options = tuple(k for k in (step_node.get("on") or {}) if len(k) == 1 and k in "0123456789*#")
        if not options:
            ctx.err(loc, "a menu needs at least one option: route keys under on:, e.g. on: {\"1\": balance}")
        invalid = node.get("invalid_prompt", DEFAULT_INVALID_PROMPT)
        return MenuParams(
            prompt=ctx.prompt(node.get("prompt"), _loc(node, "prompt", ctx)),
            options=options,
            retries=int(node.get("retries", 2)),
            timeout_s=float(node.get("timeout_s", 5.0)),
            invalid_prompt=ctx.prompt(invalid, _loc(node, "invalid_prompt", ctx) if "invalid_prompt" in node else loc),
            no_input_prompt=ctx.prompt(node.get("no_input_prompt"), _loc(node, "no_input_prompt", ctx)),
            interruptible=bool(node.get("interruptible", True)),
        )
    if action == "collect":
        node = _mapping(node, action)
        return CollectParams(into=str(node["into"]), digits=_digit_spec(node, ctx))
    if action == "set":
        assignments = []
        for k, v in value.items():
            e = ctx.expr(v, _loc(value, k, ctx))
            if e is not None:
                assignments.append((str(k), e))
        return SetParams(tuple(assignments))
    if action == "branch":
        cases = []
        for case in value:
            cloc = where(case, "if", ctx.file)
            e = ctx.expr(case["if"], cloc)
            if e is not None:
                cases.append(BranchCase(e, str(case["goto"]), where(case, "goto", ctx.file)))
        return BranchParams(tuple(cases))
    if action == "schedule":
        name = str(value)
        sched = ctx.schedules.get(name)
        if sched is None and name in ctx.shared_schedules:
            sched = ctx.shared_schedules[name]
            ctx.used_shared = True
        if sched is None:
            known = sorted(set(ctx.schedules) | set(ctx.shared_schedules))
            ctx.err(loc, f"unknown schedule {name!r}" + (f" (known: {', '.join(known)})" if known else " (define it under schedules: or in schedules.yaml)"))
            return None
        return ScheduleParams(sched)
    if action == "lookup_caller":
        number = ctx.text(node["number"], _loc(node, "number", ctx)) if node is not None and "number" in node else None
        return LookupParams(number)
    if action == "identify":
        node = _mapping(node, action)
        account = ctx.text(node["account"], _loc(node, "account", ctx))
        return IdentifyParams(account) if account else None
    if action == "collect_account":
        node = _mapping(node, action)
        return CollectAccountParams(
            into=str(node.get("into", "account_number")),
            digits=_digit_spec(node, ctx, defaults={"min_digits": 6, "max_digits": 12}),
            not_found_prompt=ctx.prompt(node.get("not_found_prompt"), _loc(node, "not_found_prompt", ctx)),
        )
    if action in ("verify_pin", "verify_date"):
        node = _mapping(node, action)
        is_date = action == "verify_date"
        fmt = str(node.get("format", "DDMMYYYY"))
        defaults = {"min_digits": len(fmt), "max_digits": len(fmt)} if is_date else {"min_digits": 4, "max_digits": 8}
        spec = _digit_spec(node, ctx, secret=True, defaults=defaults)
        spec = DigitSpec(**{**spec.__dict__, "retries": 0, "secret": True,
                            "validators": (Validator("date", fmt),) if is_date else ()})
        return VerifyParams(
            digits=spec, attempts=int(node.get("attempts", 3)),
            failed_prompt=ctx.prompt(node.get("failed_prompt"), _loc(node, "failed_prompt", ctx)),
            date_kind=str(node.get("kind", "dob")), date_format=fmt,
        )
    if action == "http":
        node = _mapping(node, action)
        if "json" in node and "body" in node:
            ctx.err(_loc(node, "body", ctx), "give either json: or body:, not both")
        save = []
        for var, path in (node.get("save") or {}).items():
            if not SAVE_PATH.match(str(path)):
                ctx.err(_loc(node["save"], var, ctx), f"save {var}: {path!r} is not a response path (e.g. data.balance or items[0].amount, $ for the whole body)")
            save.append((str(var), str(path)))
        url = ctx.text(node["url"], _loc(node, "url", ctx))
        if url is not None and url.is_constant and not re.match(r"^https?://", url.source):
            ctx.err(_loc(node, "url", ctx), f"url {url.source!r} must start with http:// or https://")
        return HttpParams(
            method=str(node.get("method", "GET")),
            url=url or parse_text("http://invalid/"),
            query=_pairs(node.get("query"), ctx, ctx.text),
            headers=_pairs(node.get("headers"), ctx, ctx.text),
            json_body=_json_template(node["json"], _loc(node, "json", ctx), ctx) if "json" in node else None,
            body=ctx.text(node["body"], _loc(node, "body", ctx)) if "body" in node else None,
            timeout_s=float(node.get("timeout_s", 3.0)),
            retries=int(node.get("retries", 1)),
            retry_delay_s=float(node.get("retry_delay_s", 0.3)),
            wait_prompt=ctx.prompt(node.get("wait_prompt"), _loc(node, "wait_prompt", ctx)),
            save=tuple(save),
            status_into=node.get("status_into"),
        )
    if action == "queue":
        if node is None:
            queue_name = ctx.text(value, loc)
            return QueueParams(queue=queue_name) if queue_name else None
        skills = []
        for skill, spec in (node.get("skills") or {}).items():
            sloc = _loc(node["skills"], skill, ctx)
            st = ctx.text(skill, sloc)
            if st is None:
                continue
            if isinstance(spec, dict):
                when = ctx.expr(spec["when"], where(spec, "when", ctx.file)) if "when" in spec else None
                skills.append(SkillSpec(st, int(spec.get("min", 1)), bool(spec.get("required", True)), when))
            else:
                skills.append(SkillSpec(st, int(spec)))
        return QueueParams(
            queue=ctx.text(node["name"], _loc(node, "name", ctx)) or parse_text("general"),
            skills=tuple(skills),
            priority=ctx.expr(node["priority"], _loc(node, "priority", ctx)) if "priority" in node else None,
            language=ctx.text(node["language"], _loc(node, "language", ctx)) if "language" in node else None,
            vip=ctx.expr(node["vip"], _loc(node, "vip", ctx)) if "vip" in node else None,
            attributes=_pairs(node.get("attributes"), ctx, ctx.text),
            prompt=ctx.prompt(node.get("prompt"), _loc(node, "prompt", ctx)),
        )
    if action == "transfer":
        if node is None:
            number = ctx.text(value, loc)
            return TransferParams(number=number) if number else None
        has_number = "number" in node
        has_place = any(k in node for k in ("context", "exten", "priority"))
        if has_number == has_place:
            ctx.err(loc, "transfer needs either number: or context:/exten: (a dialplan location), not both")
        if has_place and "exten" not in node:
            ctx.err(loc, "a dialplan transfer needs exten:")
        return TransferParams(
            number=ctx.text(node["number"], _loc(node, "number", ctx)) if has_number else None,
            context=ctx.text(node.get("context", "default"), _loc(node, "context", ctx)) if has_place else None,
            exten=ctx.text(node["exten"], _loc(node, "exten", ctx)) if "exten" in node else None,
            priority=ctx.text(node.get("priority", 1), _loc(node, "priority", ctx)) if has_place else None,
            variables=_pairs(node.get("variables"), ctx, ctx.text),
            prompt=ctx.prompt(node.get("prompt"), _loc(node, "prompt", ctx)),
        )
    if action == "voicemail":
        if node is None:
            mailbox = ctx.text(value, loc)
            return VoicemailParams(mailbox=mailbox) if mailbox else None
        mailbox = ctx.text(node["mailbox"], _loc(node, "mailbox", ctx))
        return VoicemailParams(mailbox=mailbox, prompt=ctx.prompt(node.get("prompt"), _loc(node, "prompt", ctx))) if mailbox else None
    if action == "callback":
        node = _mapping(node, action)
        ask = node.get("ask_number")
        return CallbackParams(
            queue=ctx.text(node["queue"], _loc(node, "queue", ctx)) or parse_text("general"),
            number=ctx.text(node["number"], _loc(node, "number", ctx)) if "number" in node else None,
            ask_number=_digit_spec(ask, ctx, defaults={"min_digits": 6, "max_digits": 15}) if ask is not None else None,
            always_ask=bool(node.get("always_ask", False)),
            note=ctx.text(node["note"], _loc(node, "note", ctx)) if "note" in node else None,
        )
    if action == "task":
        node = _mapping(node, action)
        texts = {k: ctx.text(node[k], _loc(node, k, ctx)) if k in node else None
                 for k in ("title", "queue", "agent", "due", "note", "number")}
        if texts["queue"] is not None and texts["agent"] is not None:
            ctx.err(loc, "a task is owned by a queue or an agent, not both")
        return TaskParams(type=ctx.text(node["type"], _loc(node, "type", ctx)) or parse_text("follow_up"),
                          priority=str(node["priority"]) if "priority" in node else None, **texts)
    if action == "subflow":
        if node is None:
            return SubflowParams(flow=str(value))
        inputs = []
        for k, v in (node.get("with") or {}).items():
            e = ctx.expr(v, _loc(node["with"], k, ctx))
            if e is not None:
                inputs.append((str(k), e))
        if node["flow"] == flow_name:
            ctx.err(_loc(node, "flow", ctx), "a flow cannot call itself as a subflow")
        return SubflowParams(flow=str(node["flow"]), inputs=tuple(inputs), outputs=tuple(str(o) for o in node.get("outputs") or ()))
    if action == "language":
        lang = ctx.text(value, loc)
        if lang is not None and lang.is_constant:
            ctx.languages.add(lang.source)
        return LanguageParams(lang) if lang else None
    if action == "hangup":
        return HangupParams(ctx.prompt(node.get("prompt"), _loc(node, "prompt", ctx)) if node is not None else ())
    if action == "return":
        return ReturnParams(str(value))
    raise AssertionError(action)  # pragma: no cover


ROUTE_KEYS = {"on_invalid": "invalid", "on_timeout": "timeout", "on_error": "error"}


def _build_step(name: str, node: SrcDict, ctx: _Ctx, flow_name: str) -> Step | None:
    ctx.step = name
    actions = [a for a in ACTIONS if a in node]
    if len(actions) != 1:
        return None  # the schema reported it
    action = actions[0]
    params = _build_params(action, node[action], node, ctx, flow_name)
    routes: dict[str, str] = {}
    for key, outcome in ROUTE_KEYS.items():
        if key in node:
            routes[outcome] = str(node[key])
    on = node.get("on") or {}
    for outcome, target in on.items():
        if outcome in routes:
            ctx.err(_loc(on, outcome, ctx), f"outcome {outcome!r} is routed twice (on: and on_{outcome}:)")
        routes[str(outcome)] = str(target)
    if params is None:
        return None
    return Step(
        name=name, action=action, params=params, routes=MappingProxyType(routes),
        default=str(node["next"]) if "next" in node else None, loc=where(ctx.doc["steps"], name, ctx.file),
        note=str(node.get("note", "")),
    )


# --------------------------------------------------------------------------- semantic checks
def _route_loc(step_node: SrcDict, outcome: str, ctx: _Ctx) -> Location:
    for key, out in ROUTE_KEYS.items():
        if out == outcome and key in step_node:
            return _loc(step_node, key, ctx)
    on = step_node.get("on")
    if isinstance(on, SrcDict) and outcome in on:
        return _loc(on, outcome, ctx)
    return where(step_node, default_file=ctx.file)


def _check_routes(flow: CompiledFlow, ctx: _Ctx, all_names: set[str]) -> None:
    steps_node = ctx.doc["steps"]
    for step in flow.steps.values():
        ctx.step = step.name
        node = steps_node[step.name]
        # targets
        targets: list[tuple[str, Location]] = [(t, _route_loc(node, o, ctx)) for o, t in step.routes.items()]
        if step.default:
            targets.append((step.default, _loc(node, "next", ctx)))
        if step.action == "branch":
            targets += [(c.target, c.loc) for c in step.params.cases]
        for target, loc in targets:
            if target not in all_names:
                ctx.err(loc, f"goes to {target!r}, which is not a step of this flow" + _suggest(target, all_names))
        if step.action == "subflow":
            continue  # its outcomes are the subflow's returns: checked when flows are linked
        possible = set(step_outcomes(step)) | {"error"}
        for outcome in step.routes:
            if outcome not in possible:
                if step.action == "menu" and len(outcome) == 1:
                    continue
                ctx.err(_route_loc(node, outcome, ctx), f"{step.action} has no outcome {outcome!r} (its outcomes: {', '.join(sorted(possible))})")
        if step.action == "branch":
            continue
        defaults = OUTCOME_DEFAULTS.get(step.action, {})
        for outcome in step_outcomes(step):
            if step.is_terminal(outcome) or step.target(outcome) or outcome == "error":
                continue  # an unrouted error goes to the flow's on_failure
            if outcome in defaults and defaults[outcome] in step_outcomes(step):
                continue  # reported with the outcome it falls back to
            also = sorted(o for o, d in defaults.items() if d == outcome and not step.target(o))
            hint = f"on_{outcome}:" if outcome in ("invalid", "timeout") else f"on: {{{outcome}: <step>}}"
            ctx.err(step.loc, f"outcome {outcome!r} of {step.action} has nowhere to go (add {hint} or next:)" +
                    (f"; {', '.join(also)} go where {outcome} goes unless routed" if also else ""))


def _suggest(name: str, known: Iterable[str]) -> str:
    import difflib

    close = difflib.get_close_matches(name, list(known), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _reachable(flow: CompiledFlow) -> set[str]:
    """The steps a call can reach from the start. A route to a step that does not exist is
    followed to the step its name is close to (``next: manu`` to ``menu``): the typo is reported
    once by the route check, not again as every step behind it being unreachable."""
    seen: set[str] = set()
    todo = [flow.start]
    while todo:
        name = todo.pop()
        if name not in flow.steps:
            name = closest(name, tuple(flow.steps)) or name
        if name in seen or name not in flow.steps:
            continue
        seen.add(name)
        todo.extend(t for _, t in step_edges(flow.steps[name]))
    return seen


def _check_unreachable(flow: CompiledFlow, reachable: set[str], ctx: _Ctx) -> None:
    for step in flow.steps.values():
        if step.name not in reachable:
            ctx.err(step.loc, f"no path from the start step {flow.start!r} reaches this step", step.name)


def _check_spin_loops(flow: CompiledFlow, ctx: _Ctx) -> None:
    """Cycles among steps that take no caller input: Tarjan SCCs of the graph without input steps."""
    graph = {
        n: [t for _, t in step_edges(s) if t in flow.steps and flow.steps[t].action not in INPUT_ACTIONS]
        for n, s in flow.steps.items() if s.action not in INPUT_ACTIONS
    }
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    sccs: list[list[str]] = []
    counter = [0]

    def strong(v: str) -> None:  # iterative enough for flow sizes; recursion depth <= steps
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            sccs.append(comp)

    for v in graph:
        if v not in index:
            strong(v)
    order = list(flow.steps)
    for comp in sccs:
        if len(comp) == 1 and comp[0] not in graph.get(comp[0], ()):
            continue
        comp.sort(key=order.index)
        first = flow.steps[comp[0]]
        ctx.err(first.loc, "loop without caller input: " + " -> ".join(comp + [comp[0]]) +
                " would spin forever (put a menu or collect step in the loop, or leave it)", first.name)


def _defs(step: Step, outcome: str) -> frozenset[str]:
    p = step.params
    if outcome == "error":
        return frozenset({p.status_into}) if step.action == "http" and p.status_into else frozenset()
    if step.action == "set":
        return frozenset(n for n, _ in p.assignments)
    if step.action in ("collect", "collect_account"):
        return frozenset({p.into}) if outcome == "ok" else frozenset()
    if step.action == "http":
        names = {v for v, _ in p.save} if outcome == "ok" else set()
        if p.status_into:
            names.add(p.status_into)
        return frozenset(names)
    if step.action == "subflow":
        return frozenset(p.outputs)
    return frozenset()


def _uses(step: Step, ctx: _Ctx) -> list[tuple[str, Location]]:
    out: list[tuple[str, Location]] = []
    for names, loc in ctx.uses.get(step.name, []):
        out += [(n, loc) for n in names]
    return out


def _check_variables(flow: CompiledFlow, reachable: set[str], ctx: _Ctx) -> None:
    base = frozenset(GLOBAL_NAMES | set(flow.variables) | set(flow.inputs))
    assigned: set[str] = set()
    for step in flow.steps.values():
        for outcome in list(step_outcomes(step)) + ["error"]:
            assigned |= _defs(step, outcome)
        if step.action == "set":
            for n, _ in step.params.assignments:
                if n in GLOBAL_NAMES or n in FUNCTIONS:
                    ctx.err(step.loc, f"cannot set {n!r}: it is a built-in name", step.name)
        if step.action in ("collect", "collect_account") and (step.params.into in GLOBAL_NAMES):
            ctx.err(step.loc, f"cannot collect into {step.params.into!r}: it is a built-in name", step.name)
    universe = base | assigned
    # must-be-set analysis: IN[s] = intersection over incoming edges of (IN[pred] | defs(pred, outcome))
    incoming: dict[str, list[tuple[str, str]]] = {n: [] for n in flow.steps}
    for step in flow.steps.values():
        if step.name not in reachable:
            continue
        for outcome, target in step_edges(step):
            if target in incoming:
                incoming[target].append((step.name, outcome))
    in_sets: dict[str, frozenset[str]] = {n: frozenset(universe) for n in reachable}
    in_sets[flow.start] = base
    changed = True
    while changed:
        changed = False
        for name in flow.steps:
            if name not in reachable or name == flow.start:
                continue
            acc: frozenset[str] | None = None
            for pred, outcome in incoming[name]:
                out = in_sets[pred] | _defs(flow.steps[pred], outcome)
                acc = out if acc is None else acc & out
            acc = acc if acc is not None else base
            if acc != in_sets[name]:
                in_sets[name] = acc
                changed = True
        # the start step may also be re-entered: intersect its incoming edges with the base
        if incoming.get(flow.start):
            acc = base
            for pred, outcome in incoming[flow.start]:
                acc = acc & (in_sets[pred] | _defs(flow.steps[pred], outcome))
            if acc != in_sets[flow.start]:
                in_sets[flow.start] = acc
                changed = True
    for step in flow.steps.values():
        if step.name not in reachable:
            continue
        have = set(in_sets[step.name])
        reported: set[str] = set()
        seq_defined: set[str] = set()
        if step.action == "set":
            # assignments run in order: a later one may use an earlier one
            for n, e in step.params.assignments:
                for used in e.names():
                    if used not in have and used not in seq_defined and used not in reported:
                        _report_var(used, universe, step, _find_use_loc(ctx, step, used), ctx)
                        reported.add(used)
                seq_defined.add(n)
            continue
        for used, loc in _uses(step, ctx):
            if used in have or used in reported:
                continue
            reported.add(used)
            _report_var(used, universe, step, loc, ctx)


def _find_use_loc(ctx: _Ctx, step: Step, name: str) -> Location:
    for names, loc in ctx.uses.get(step.name, []):
        if name in names:
            return loc
    return step.loc


def _report_var(name: str, universe: frozenset[str], step: Step, loc: Location, ctx: _Ctx) -> None:
    if name not in universe:
        ctx.err(loc, f"undefined variable {name!r} (declare it under variables:, or set it in an earlier step)" +
                _suggest(name, universe), step.name)
    else:
        ctx.err(loc, f"variable {name!r} may not be set when this step runs: it is set on some paths from the start but not all "
                "(give it a starting value under variables:)", step.name)


def _check_sounds(sounds: SoundIndex, ctx: _Ctx, languages: set[str], extra: list[tuple[str, Location]]) -> None:
    seen: set[tuple[str, Location]] = set()
    items = [(name, loc, step) for p, loc, step in ctx.prompts for name in p.sounds()] + [(n, where_, None) for n, where_ in extra]
    for name, loc, step in items:
        if (name, loc) in seen or sounds.has(name, languages):
            continue
        seen.add((name, loc))
        ctx.err(loc, f"sound file {name!r} is missing from the sound directories ({', '.join(str(d) for d in sounds.dirs)})", step)


# --------------------------------------------------------------------------- the flow
def compile_flow_text(
    text: str,
    file: str,
    *,
    sound_dirs: Sequence[str | Path] = (),
    shared_schedules: Mapping[str, Schedule] | None = None,
    shared_hash: str = "",
    loaded_at: float | None = None,
    schema: Mapping[str, Any] | None = None,
    sound_index: SoundIndex | None = None,
    catalogue: FlowCatalogue | None = None,
) -> CompiledFlow:
    """Compile one flow file's text; raises ``FlowCompileError`` listing every problem found.
    With a ``catalogue``, queue, skill and language names are checked against ``config/``."""
    try:
        raw = load_yaml_text(text, file)
    except YamlError as exc:
        raise FlowCompileError([Problem(exc.location, exc.message)]) from None
    if not isinstance(raw, SrcDict):
        raise FlowCompileError([Problem(Location(file, 1, 1), "a flow file is a mapping with flow: and steps:")])
    doc = _normalise(raw)
    problems = schema_problems(doc, file, schema or load_schema())
    if problems:
        # build what can be built anyway, so expression errors are listed together with schema errors
        pass
    ctx = _Ctx(file, doc, problems=list(problems), shared_schedules=shared_schedules or {})
    if catalogue is not None:
        ctx.problems += [Problem(loc, message, step) for loc, message, step in catalogue_problems(doc, file, catalogue)]
    name = str(doc.get("flow", Path(file).stem))
    ctx.timezone = str(doc.get("timezone", "UTC"))
    if "timezone" in doc and not _valid_tz(ctx.timezone):
        ctx.err(_loc(doc, "timezone", ctx), f"unknown time zone {ctx.timezone!r} (use an IANA name like Europe/London)", None)
        ctx.timezone = "UTC"
    language = str(doc.get("language", "en"))
    ctx.languages.add(language)
    steps_node = doc.get("steps")
    if not isinstance(steps_node, SrcDict) or not steps_node or problems and not _steps_buildable(steps_node):
        raise FlowCompileError(ctx.problems or [Problem(where(doc, default_file=file), "steps: is missing or empty")])
    for sname, snode in (doc.get("schedules") or {}).items():
        if isinstance(snode, SrcDict) and isinstance(snode.get("hours"), dict):
            ctx.schedules[sname] = build_schedule(sname, snode, ctx, ctx.timezone)
    steps: dict[str, Step] = {}
    for sname, snode in steps_node.items():
        if not isinstance(snode, SrcDict):
            continue
        try:
            step = _build_step(sname, snode, ctx, name)
        except (KeyError, TypeError, ValueError, AttributeError):
            if not problems:
                raise
            step = None  # malformed: the schema problems already say why
        if step is not None:
            steps[sname] = step
    ctx.step = None
    # go on with the steps that could be built, so every kind of problem is listed in one go
    complete = len(steps) == len(steps_node)
    start = str(doc.get("start", next(iter(steps_node))))
    if start not in steps_node:
        ctx.err(_loc(doc, "start", ctx), f"start step {start!r} is not a step of this flow", None)
        raise FlowCompileError(ctx.problems)
    if start not in steps:
        raise FlowCompileError(ctx.problems)
    try:
        return _finish_flow(doc, ctx, steps, steps_node, complete=complete, start=start, name=name, language=language, text=text,
                            shared_hash=shared_hash, loaded_at=loaded_at, sound_dirs=sound_dirs, sound_index=sound_index)
    except FlowCompileError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError):
        # A flow the schema already refused can hold any YAML value where a mapping or a list
        # belongs; its problems say why. A flow the schema accepted must never fail here.
        if not problems:
            raise
        raise FlowCompileError(ctx.problems) from None


def _finish_flow(doc: SrcDict, ctx: _Ctx, steps: dict[str, Step], steps_node: SrcDict, *, complete: bool, start: str, name: str,
                 language: str, text: str, shared_hash: str, loaded_at: float | None, sound_dirs: Sequence[str | Path],
                 sound_index: SoundIndex | None) -> CompiledFlow:
    """The flow-wide settings, the checks that need the whole graph, and the compiled flow."""
    file = ctx.file
    fail_node = doc.get("on_failure") or {}
    fail_prompt = ctx.prompt(fail_node.get("prompt", DEFAULT_FAILURE_PROMPT), _loc(fail_node, "prompt", ctx) if "prompt" in fail_node else where(doc, default_file=file))
    cur = doc.get("currency") or {}
    currency = CurrencySounds(
        major=str(cur.get("major", "dollars")), minor=str(cur.get("minor", "cents")),
        conjunction=str(cur.get("and", "and")), minus=str(cur.get("minus", "minus")),
    )
    ver = doc.get("verification") or {}
    policy = VerificationPolicy(
        identified=tuple(ver.get("identified", VerificationPolicy.identified)),
        verified=tuple(tuple(g) for g in ver.get("verified", VerificationPolicy.verified)),
    )
    variables = doc.get("variables") or {}
    for vname in variables:
        if vname in GLOBAL_NAMES or vname in FUNCTIONS:
            ctx.err(_loc(variables, vname, ctx), f"variable name {vname!r} is built in; choose another name", None)
    inputs = tuple(str(i) for i in doc.get("inputs") or ())
    outputs = tuple(str(o) for o in doc.get("outputs") or ())
    content_hash = hashlib.sha256((text + "\0" + (shared_hash if ctx.used_shared else "")).encode()).hexdigest()
    flow = CompiledFlow(
        name=name, file=file, version=FlowVersion(content_hash, time.time() if loaded_at is None else loaded_at), start=start,
        steps=MappingProxyType(steps), description=str(doc.get("description", "")),
        numbers=tuple(str(n).replace(" ", "") for n in doc.get("numbers") or ()),
        language=language, timezone=ctx.timezone, inputs=inputs, outputs=outputs,
        variables=freeze(dict(variables)), verification=policy,
        on_failure=FailurePolicy(fail_prompt, fail_node.get("queue"), int(fail_node.get("priority", 0))),
        currency=currency,
        returns=frozenset(s.params.outcome for s in steps.values() if s.action == "return"),
        subflows=frozenset(s.params.flow for s in steps.values() if s.action == "subflow"),
        sounds=frozenset(n for p, _, _ in ctx.prompts for n in p.sounds()) | (
            frozenset({currency.major, currency.minor, currency.conjunction} | ({currency.minus} if _says_currency(steps.values(), ctx) else set()))
            if _says_currency(steps.values(), ctx) else frozenset()),
        loc=where(doc, default_file=file),
        secret_ahead=secret_input_ahead(steps),
    )
    _check_routes(flow, ctx, set(steps_node))
    if complete:  # these need the whole graph
        reachable = _reachable(flow)
        _check_unreachable(flow, reachable, ctx)
        _check_spin_loops(flow, ctx)
        _check_variables(flow, reachable, ctx)
    for out in outputs:
        if out not in set(flow.variables) and not any(out in _defs(s, "ok") | _defs(s, "done") for s in steps.values()):
            ctx.err(_loc(doc, "outputs", ctx), f"output {out!r} is never set in this flow", None)
    sounds = sound_index or SoundIndex(sound_dirs)
    if sounds.enabled:
        cur_loc = _loc(doc, "currency", ctx) if "currency" in doc else where(doc, default_file=file)
        extra: list[tuple[str, Location]] = []
        if _says_currency(steps.values(), ctx):
            extra = [(currency.major, cur_loc), (currency.minor, cur_loc), (currency.conjunction, cur_loc), (currency.minus, cur_loc)]
        _check_sounds(sounds, ctx, ctx.languages, extra)
    if ctx.problems:
        raise FlowCompileError(ctx.problems)
    return flow


def _steps_buildable(steps_node: SrcDict) -> bool:
    return all(isinstance(v, SrcDict) for v in steps_node.values())


def _says_currency(steps: Iterable[Step], ctx: _Ctx) -> bool:
    from acd.flows.template import SayPart

    return any(isinstance(part, SayPart) and part.kind == "currency" for p, _, _ in ctx.prompts for part in p.parts)


def compile_flow_file(path: str | Path, **kwargs: Any) -> CompiledFlow:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise FlowCompileError([Problem(Location(str(path), 1, 1), f"cannot read the file: {exc}")]) from None
    return compile_flow_text(text, str(path), **kwargs)


# --------------------------------------------------------------------------- linking flows together
def link_problems(flows: Mapping[str, CompiledFlow], docs_locs: Mapping[str, Mapping[str, Location]] | None = None) -> dict[str, list[Problem]]:
    """Checks across flows: subflows exist, their outcomes are routed, inputs/outputs match, no
    recursion, no number served by two flows. Returns problems per flow name."""
    out: dict[str, list[Problem]] = {}

    def add(flow: CompiledFlow, loc: Location, msg: str, step: str | None) -> None:
        out.setdefault(flow.name, []).append(Problem(loc, msg, step))

    for flow in flows.values():
        for step in flow.steps.values():
            if step.action != "subflow":
                continue
            p: SubflowParams = step.params
            sub = flows.get(p.flow)
            if sub is None:
                add(flow, step.loc, f"subflow {p.flow!r} is not a loaded flow" + _suggest(p.flow, flows), step.name)
                continue
            if not sub.returns:
                add(flow, step.loc, f"subflow {p.flow!r} has no return step, so it never comes back here", step.name)
            for outcome in sub.returns:
                if not step.target(outcome):
                    add(flow, step.loc, f"outcome {outcome!r} of subflow {p.flow!r} has nowhere to go (add on: {{{outcome}: <step>}} or next:)", step.name)
            for outcome in step.routes:
                if outcome != "error" and outcome not in sub.returns:
                    add(flow, step.loc, f"subflow {p.flow!r} never returns {outcome!r} (it returns: {', '.join(sorted(sub.returns)) or 'nothing'})", step.name)
            given = {n for n, _ in p.inputs}
            for missing in set(sub.inputs) - given:
                add(flow, step.loc, f"subflow {p.flow!r} needs input {missing!r} (add it under with:)", step.name)
            for extra in given - set(sub.inputs):
                add(flow, step.loc, f"subflow {p.flow!r} has no input {extra!r} (its inputs: {', '.join(sub.inputs) or 'none'})", step.name)
            for o in p.outputs:
                if o not in sub.outputs:
                    add(flow, step.loc, f"subflow {p.flow!r} has no output {o!r} (its outputs: {', '.join(sub.outputs) or 'none'})", step.name)
    # recursion
    for flow in flows.values():
        path = _cycle_from(flow.name, flows)
        if path:
            add(flow, flow.loc, "subflows call each other in a circle: " + " -> ".join(path), None)
    # numbers
    owner: dict[str, str] = {}
    for flow in sorted(flows.values(), key=lambda f: f.name):
        for number in flow.numbers:
            if number in owner and owner[number] != flow.name:
                add(flow, flow.loc, f"number {number} is already served by flow {owner[number]!r}", None)
            owner.setdefault(number, flow.name)
    return out


def _cycle_from(start: str, flows: Mapping[str, CompiledFlow]) -> list[str] | None:
    stack: list[tuple[str, list[str]]] = [(start, [start])]
    while stack:
        name, path = stack.pop()
        flow = flows.get(name)
        if flow is None:
            continue
        for sub in flow.subflows:
            if sub == start:
                return path + [sub]
            if sub not in path:
                stack.append((sub, path + [sub]))
    return None
