"""Loading queues and agents from ``config/queues.yaml`` and ``config/agents.yaml``.

Every key is checked; a wrong, missing or mistyped key is refused with file, line and key named
(``acd.settings.ConfigError``), and all problems are reported together."""

from __future__ import annotations

import dataclasses
import difflib
from pathlib import Path
from typing import Any

from acd.routing.model import AgentConfig, QueueConfig, RelaxStep
from acd.settings import AT_LEAST_ONE, NOT_NEGATIVE, POSITIVE, Bound, ConfigError, build_section, register_bounds
from acd.yamlsrc import YamlError, load_yaml, where

STRATEGIES = ("longest_idle", "most_skilled", "least_occupied", "round_robin")
PROFICIENCY = Bound(1, 5)

register_bounds(
    QueueConfig,
    service_level_s=POSITIVE, ring_timeout_s=POSITIVE, max_wait_s=POSITIVE, moh_slice_s=POSITIVE,
    priority_aging_s=POSITIVE, default_handle_s=POSITIVE, callback_retry_s=POSITIVE,
    overflow_after_s=POSITIVE, overflow_if_ewt_s=POSITIVE,
    wrapup_s=NOT_NEGATIVE, callback_after_s=NOT_NEGATIVE, sticky_s=NOT_NEGATIVE, short_abandon_s=NOT_NEGATIVE,
    vip_priority=NOT_NEGATIVE,
    max_length=AT_LEAST_ONE, callback_attempts=AT_LEAST_ONE,
    service_level_goal=Bound(0, 1),
)
register_bounds(RelaxStep, after_s=NOT_NEGATIVE, min_proficiency=PROFICIENCY)


def _skill_levels(node: object, field_name: str, owner: str, path: Path, problems: list[str]) -> None:
    """Proficiencies (agents' skills, queues' minimums) are 1 to 5."""
    skills = node.get(field_name) if isinstance(node, dict) else None
    if not isinstance(skills, dict):
        return
    for skill, level in skills.items():
        if isinstance(level, int) and not isinstance(level, bool) and not 1 <= level <= 5:
            problems.append(f"{where(skills, skill, str(path))}: {owner}.{field_name}.{skill}: proficiency {level} is not between 1 and 5")


def _load_list(path: Path, section: str) -> list[Any]:  # YAML nodes (SrcDict), checked by build_section
    try:
        doc = load_yaml(path)
    except YamlError as exc:
        raise ConfigError([str(exc)]) from None
    if not isinstance(doc, dict) or section not in doc:
        raise ConfigError([f"{path}:1:1: {section}: required top-level key is missing"])
    items = doc[section]
    if not isinstance(items, list):
        raise ConfigError([f"{where(doc, section, str(path))}: {section}: expected a list"])
    return items


def load_queues(path: Path) -> list[QueueConfig]:
    problems: list[str] = []
    out: list[QueueConfig] = []
    index: dict[int, int] = {}  # position in out -> position in the file
    nodes = _load_list(path, "queues")
    for i, node in enumerate(nodes):
        try:
            raw = dict(node) if isinstance(node, dict) else node
            relax = raw.pop("relax", []) if isinstance(raw, dict) else []
            if isinstance(raw, dict):
                raw = type(node)(raw)
                raw.loc, raw.key_locs = node.loc, node.key_locs
            q = build_section(QueueConfig, raw, f"queues[{i}]", str(path))
            steps = tuple(build_section(RelaxStep, s, f"queues[{i}].relax[{j}]", str(path)) for j, s in enumerate(relax))
            q = dataclasses.replace(q, relax=steps)
            _skill_levels(node, "skills", f"queues[{i}]", path, problems)
            if q.strategy not in STRATEGIES:
                problems.append(f"{where(node, 'strategy', str(path))}: queues[{i}].strategy: {q.strategy!r} is not one of {', '.join(STRATEGIES)}")
            problems += _threshold_problems(q, node, i, str(path))
            index[len(out)] = i
            out.append(q)
        except ConfigError as exc:
            problems += exc.problems
    names = [q.name for q in out]
    problems += _overflow_problems(out, index, nodes, path)
    for name in {n for n in names if names.count(n) > 1}:
        problems.append(f"{path}: queues: the name {name!r} is used twice")
    if problems:
        raise ConfigError(problems)
    return out


def _overflow_problems(queues: list[QueueConfig], index: dict[int, int], nodes: list[Any], path: Path) -> list[str]:
    """An ``overflow_to`` must name a queue of the file. A queue refused for a bad value of its
    own still counts, so its one problem is not repeated for every queue overflowing to it."""
    named = {str(n["name"]) for n in nodes if isinstance(n, dict) and isinstance(n.get("name"), str)}
    out = []
    for j, q in enumerate(queues):
        if q.overflow_to is not None and q.overflow_to not in named:
            node = nodes[index[j]]
            close = difflib.get_close_matches(q.overflow_to, sorted(named), n=1)
            out.append(f"{where(node, 'overflow_to', str(path))}: queues[{index[j]}].overflow_to: {q.overflow_to!r} "
                       "is not a queue in this file" + (f" (did you mean `{close[0]}`?)" if close else ""))
    return out


def _threshold_problems(q: QueueConfig, node: object, i: int, file: str) -> list[str]:
    """The wallboard's colour thresholds are shares (0-1) and amber is not above green."""
    out = []
    for key in ("sl_green", "sl_amber", "service_level_goal"):
        value = getattr(q, key)
        if not 0.0 <= value <= 1.0:
            out.append(f"{where(node, key, file)}: queues[{i}].{key}: {value} is not a share between 0 and 1 (0.8 = 80 %)")
    if not out and q.sl_amber > q.sl_green:
        out.append(f"{where(node, 'sl_amber', file)}: queues[{i}].sl_amber: {q.sl_amber} is above sl_green {q.sl_green}")
    return out


def load_agents(path: Path) -> list[AgentConfig]:
    problems: list[str] = []
    out: list[AgentConfig] = []
    for i, node in enumerate(_load_list(path, "agents")):
        try:
            agent = build_section(AgentConfig, node, f"agents[{i}]", str(path))
            _skill_levels(node, "skills", f"agents[{i}]", path, problems)
            out.append(agent)
        except ConfigError as exc:
            problems += exc.problems
    if problems:
        raise ConfigError(problems)
    return out


@dataclasses.dataclass(frozen=True)
class CatalogueEntry:
    code: str
    label: str


@dataclasses.dataclass(frozen=True)
class DeskCatalogue:
    """What agents pick from: not-ready reasons and call dispositions (``config/desk.yaml``)."""

    not_ready_reasons: tuple[CatalogueEntry, ...] = ()
    dispositions: tuple[CatalogueEntry, ...] = ()

    def reason(self, code: str) -> CatalogueEntry | None:
        return next((r for r in self.not_ready_reasons if r.code == code), None)

    def disposition(self, code: str) -> CatalogueEntry | None:
        return next((d for d in self.dispositions if d.code == code), None)


def load_desk(path: Path) -> DeskCatalogue:
    """Reasons and dispositions; a missing file gives an empty catalogue (any reason accepted is
    NOT the fallback: with no catalogue, agents can only go not ready without a reason code)."""
    if not path.exists():
        return DeskCatalogue()
    try:
        doc = load_yaml(path)
    except YamlError as exc:
        raise ConfigError([str(exc)]) from None
    problems: list[str] = []
    sections: dict[str, tuple[CatalogueEntry, ...]] = {}
    for section in ("not_ready_reasons", "dispositions"):
        items = doc.get(section, []) if isinstance(doc, dict) else None
        if not isinstance(items, list):
            problems.append(f"{path}:1:1: {section}: expected a list of {{code, label}}")
            continue
        entries = []
        for i, node in enumerate(items):
            try:
                entries.append(build_section(CatalogueEntry, node, f"{section}[{i}]", str(path)))
            except ConfigError as exc:
                problems += exc.problems
        codes = [e.code for e in entries]
        for code in {c for c in codes if codes.count(c) > 1}:
            problems.append(f"{path}: {section}: the code {code!r} is used twice")
        sections[section] = tuple(entries)
    if problems:
        raise ConfigError(problems)
    return DeskCatalogue(**sections)
