"""What a flow may name, from ``config/``: queues (``queues.yaml``), skills (of the queues and
agents) and languages (``customers.languages`` of ``engine.yaml``).

Without this check a flow that routes to a queue that does not exist validates clean and its calls
are silently re-routed to the fallback queue. Only constant names are checked: a name built from
an expression (``queue: "{{ q }}"``) is known only when the call runs.
"""

from __future__ import annotations

import difflib
import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from acd.yamlsrc import Location, SrcDict, where


@dataclass(frozen=True)
class FlowCatalogue:
    queues: frozenset[str]
    skills: frozenset[str]
    languages: frozenset[str]
    source: str = "config/"  # named in the messages: where to add a missing name


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """`` (did you mean `x`?)`` for the closest of ``choices``, or nothing."""
    close = closest(word, tuple(sorted(choices)))
    return f" (did you mean `{close}`?)" if close is not None else ""


@functools.lru_cache(maxsize=4096)
def closest(word: str, choices: tuple[str, ...]) -> str | None:
    """The first of ``choices`` closest to ``word`` (``difflib``, cut-off 0.6), or None. Remembered:
    a schema's field names are asked about again and again, for the same few misspellings."""
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return close[0] if close else None


def load_catalogue(config_dir: str | Path) -> FlowCatalogue | None:
    """The catalogue of ``config_dir``; None when its queues or agents do not load (their own
    errors are reported by the engine, and a flow is not refused for them)."""
    from acd.routing.config import load_agents, load_queues
    from acd.settings import ConfigError, load_settings

    d = Path(config_dir)
    try:
        queues = load_queues(d / "queues.yaml")
        agents = load_agents(d / "agents.yaml") if (d / "agents.yaml").exists() else []
        languages = load_settings(d, environ={}).customers.languages
    except (ConfigError, OSError):
        return None
    skills = {s for q in queues for s in q.skills} | {s for a in agents for s in a.skills}
    return FlowCatalogue(frozenset(q.name for q in queues), frozenset(skills), frozenset(languages), str(d))


def _constant(value: Any) -> str | None:
    return value if isinstance(value, str) and "{{" not in value and value.strip() else None


def catalogue_problems(doc: SrcDict, file: str, cat: FlowCatalogue) -> list[tuple[Location, str, str | None]]:
    """(location, message, step) for every queue, skill and language the flow names that
    ``config/`` does not define."""
    out: list[tuple[Location, str, str | None]] = []

    def check(kind: str, value: Any, known: frozenset[str], node: Any, key: Any, step: str | None, where_: str) -> None:
        name = _constant(value)
        if name is None or name in known:
            return
        out.append((where(node, key, file), f"{kind} {name!r} is not defined in {cat.source}/{where_}" + did_you_mean(name, known), step))

    if "language" in doc:
        check("language", doc["language"], cat.languages, doc, "language", None, "engine.yaml (customers.languages)")
    failure = doc.get("on_failure")
    if isinstance(failure, Mapping) and "queue" in failure:
        check("queue", failure["queue"], cat.queues, failure, "queue", None, "queues.yaml")
    steps = doc.get("steps")
    for sname, step in (steps.items() if isinstance(steps, Mapping) else ()):
        if not isinstance(step, SrcDict):
            continue
        if "language" in step:
            lang = step["language"]
            lang_node, lang_key = (lang, "language") if isinstance(lang, SrcDict) else (step, "language")
            check("language", lang.get("language") if isinstance(lang, Mapping) else lang, cat.languages, lang_node, lang_key,
                  sname, "engine.yaml (customers.languages)")
        queue = step.get("queue")
        if isinstance(queue, str):
            check("queue", queue, cat.queues, step, "queue", sname, "queues.yaml")
        elif isinstance(queue, SrcDict):
            check("queue", queue.get("name"), cat.queues, queue, "name", sname, "queues.yaml")
            if "language" in queue:
                check("language", queue["language"], cat.languages, queue, "language", sname, "engine.yaml (customers.languages)")
            skills = queue.get("skills")
            if isinstance(skills, SrcDict):
                for skill in skills:
                    check("skill", skill, cat.skills, skills, skill, sname, "queues.yaml or agents.yaml")
    return out


def directory_problems(directory: str | Path, cat: FlowCatalogue) -> list[str]:
    """``file:line:col: message`` for every flow file of ``directory`` that names a queue, skill or
    language ``cat`` does not know (the engine warns about these at start: such a call would
    go to the fallback queue)."""
    from acd.yamlsrc import YamlError, load_yaml

    out: list[str] = []
    for path in sorted(Path(directory).glob("*.y*ml")):
        if path.name == "schedules.yaml" or path.suffix not in (".yaml", ".yml"):
            continue
        try:
            doc = load_yaml(path)
        except (YamlError, OSError, UnicodeDecodeError):
            continue  # the flow registry reports it
        if isinstance(doc, SrcDict) and "steps" in doc:
            out += [f"{loc}: {message}" for loc, message, _ in catalogue_problems(doc, str(path), cat)]
    return out
