"""The flow registry: every flow of a directory, compiled, served as immutable snapshots.

``reload()`` (called at start, by the file watcher, on SIGHUP and by the HTTP API) builds a new
``FlowSet`` and swaps it in with one assignment. A call takes the snapshot current when it starts
and keeps it (subflows included), so a reload never changes a call in progress. A file that does
not compile, or that breaks another flow (a subflow gone, a number served twice), is refused: its
problems are logged and the previous version keeps serving.
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from collections.abc import Mapping, Sequence

from acd.clock import Clock, SystemClock
from acd.flows.catalogue import FlowCatalogue
from acd.flows.compiler import (
    SCHEDULES_FILE,
    FlowCompileError,
    Problem,
    SoundIndex,
    compile_flow_text,
    compile_schedules_text,
    link_problems,
    load_schema,
)
from acd.flows.model import CompiledFlow, Schedule
from acd.logs import get_logger
from acd.yamlsrc import Location

log = get_logger(__name__)

FLOW_SUFFIXES = (".yaml", ".yml")


def normalise_number(number: str | None) -> str:
    return "".join(c for c in (number or "") if c.isdigit() or c == "+")


@dataclass(frozen=True)
class FlowSet:
    """One consistent set of compiled flows (a call keeps the one it started with)."""

    flows: Mapping[str, CompiledFlow]
    default_flow: str
    loaded_at: float
    by_number: Mapping[str, str] = field(default_factory=dict)

    def get(self, name: str) -> CompiledFlow | None:
        return self.flows.get(name)

    def for_dnis(self, dnis: str | None) -> CompiledFlow | None:
        """The flow whose ``numbers:`` lists ``dnis`` (with or without +), else the default flow."""
        n = normalise_number(dnis)
        name = self.by_number.get(n) or self.by_number.get(n.lstrip("+"))
        return self.flows.get(name) if name else self.flows.get(self.default_flow)


@dataclass(frozen=True)
class ReloadReport:
    loaded: tuple[str, ...] = ()  # flows new or changed, now serving
    unchanged: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    refused: Mapping[str, tuple[Problem, ...]] = field(default_factory=dict)  # file -> problems

    @property
    def ok(self) -> bool:
        return not self.refused


@dataclass(frozen=True)
class _FileState:
    digest: str
    flow: CompiledFlow


class FlowRegistry:
    def __init__(
        self,
        directory: str | Path,
        *,
        sound_dirs: Sequence[str | Path] = (),
        default_flow: str = "main",
        clock: Clock | None = None,
        poll_interval_s: float = 2.0,
        schema_path: str | Path | None = None,
        catalogue: FlowCatalogue | None = None,
    ) -> None:
        self.directory = Path(directory)
        self.catalogue = catalogue  # queue, skill and language names a flow may use (config/)
        self.sound_dirs = tuple(sound_dirs)
        self.default_flow = default_flow
        self.last_report: ReloadReport | None = None
        self.clock = clock or SystemClock()
        self.poll_interval_s = poll_interval_s
        self.schema_path = schema_path
        self._files: dict[str, _FileState] = {}
        self._shared: dict[str, Schedule] = {}
        self._shared_digest = ""
        self._current = FlowSet(MappingProxyType({}), default_flow, 0.0)
        self._watcher: asyncio.Task[None] | None = None
        self._stamp: tuple[tuple[str, int, int], ...] = ()
        self._lock = asyncio.Lock()

    # ------------------------------------------------------------------ reading
    @property
    def current(self) -> FlowSet:
        return self._current

    def snapshot(self) -> FlowSet:
        return self._current

    def get(self, name: str) -> CompiledFlow | None:
        return self._current.get(name)

    def for_dnis(self, dnis: str | None) -> CompiledFlow | None:
        return self._current.for_dnis(dnis)

    # ------------------------------------------------------------------ loading
    def _flow_files(self) -> list[Path]:
        if not self.directory.is_dir():
            return []
        return sorted(p for p in self.directory.iterdir()
                      if p.is_file() and p.suffix in FLOW_SUFFIXES and p.name != SCHEDULES_FILE and not p.name.startswith("."))

    def _file_stamp(self) -> tuple[tuple[str, int, int], ...]:
        paths = self._flow_files() + [self.directory / SCHEDULES_FILE]
        out = []
        for p in paths:
            try:
                s = p.stat()
                out.append((p.name, s.st_mtime_ns, s.st_size))
            except OSError:
                continue
        return tuple(out)

    def reload(self) -> ReloadReport:
        """Compile what changed and swap in the new set; refused files keep their old version."""
        now = self.clock.now()
        schema = load_schema(self.schema_path) if self.schema_path else load_schema(self._schema_file())
        refused: dict[str, list[Problem]] = {}
        self._stamp = self._file_stamp()
        # shared schedules
        shared_path = self.directory / SCHEDULES_FILE
        if shared_path.is_file():
            text = shared_path.read_text(encoding="utf-8")
            digest = hashlib.sha256(text.encode()).hexdigest()
            if digest != self._shared_digest:
                try:
                    self._shared = compile_schedules_text(text, str(shared_path), schema=schema)
                    self._shared_digest = digest
                except FlowCompileError as exc:
                    refused[str(shared_path)] = list(exc.problems)
        sounds = SoundIndex(self.sound_dirs)
        previous = dict(self._files)
        candidate: dict[str, _FileState] = {}
        changed: set[str] = set()
        for path in self._flow_files():
            key = str(path)
            try:
                text = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                refused[key] = [Problem(Location(key, 1, 1), f"cannot read the file: {exc}")]
                if key in previous:
                    candidate[key] = previous[key]
                continue
            digest = hashlib.sha256((text + "\0" + self._shared_digest).encode()).hexdigest()
            old = previous.get(key)
            if old is not None and old.digest == digest:
                candidate[key] = old
                continue
            try:
                flow = compile_flow_text(text, key, sound_index=sounds, shared_schedules=self._shared,
                                         shared_hash=self._shared_digest, loaded_at=now, schema=schema,
                                         catalogue=self.catalogue)
            except FlowCompileError as exc:
                refused[key] = list(exc.problems)
                if old is not None:
                    candidate[key] = old
                continue
            candidate[key] = _FileState(digest, flow)
            changed.add(key)
        # one name, one file
        by_name: dict[str, str] = {}
        for key in sorted(candidate, key=lambda k: (k not in previous, k)):
            name = candidate[key].flow.name
            if name in by_name:
                refused.setdefault(key, []).append(Problem(candidate[key].flow.loc, f"flow {name!r} is already defined in {by_name[name]}"))
                if key in previous and previous[key].flow.name != name:
                    candidate[key] = previous[key]
                else:
                    del candidate[key]
                continue
            by_name[name] = key
        # links between flows: refuse what breaks them, keep removed flows others still need
        for _ in range(len(candidate) + 2):
            flows = {s.flow.name: s.flow for s in candidate.values()}
            problems = link_problems(flows)
            if not problems:
                break
            for name, probs in problems.items():
                found = by_name.get(name) or next((k for k, s in candidate.items() if s.flow.name == name), None)
                if found is None:
                    continue
                key = found
                if key in changed or key not in previous:
                    refused.setdefault(key, []).extend(probs)
                    changed.discard(key)
                    if key in previous and previous[key].flow.name == name:
                        candidate[key] = previous[key]
                    else:
                        candidate.pop(key, None)
                        by_name.pop(name, None)
                else:  # an unchanged flow lost something it needs: keep what it needs serving
                    restored = False
                    for sub in candidate[key].flow.subflows:
                        if sub not in flows:
                            for pkey, pstate in previous.items():
                                if pstate.flow.name == sub and pkey not in candidate:
                                    candidate[pkey] = pstate
                                    refused.setdefault(pkey, []).append(Problem(Location(pkey, 1, 1),
                                        f"flow {sub!r} cannot be removed: flow {name!r} calls it (the previous version keeps serving)"))
                                    restored = True
                    if not restored:
                        refused.setdefault(key, []).extend(probs)
                        candidate.pop(key, None)
                        by_name.pop(name, None)
        flows = {s.flow.name: s.flow for s in candidate.values()}
        numbers: dict[str, str] = {}
        for f in flows.values():
            for n in f.numbers:
                numbers.setdefault(normalise_number(n), f.name)
                numbers.setdefault(normalise_number(n).lstrip("+"), f.name)
        self._files = candidate
        self._current = FlowSet(MappingProxyType(flows), self.default_flow, now, MappingProxyType(numbers))
        prev_names = {s.flow.name for s in previous.values()}
        report = ReloadReport(
            loaded=tuple(sorted(candidate[k].flow.name for k in changed if k in candidate)),
            unchanged=tuple(sorted(s.flow.name for k, s in candidate.items() if k not in changed)),
            removed=tuple(sorted(prev_names - set(flows))),
            refused=MappingProxyType({k: tuple(v) for k, v in refused.items()}),
        )
        self._log(report)
        self.last_report = report
        return report

    def validate_text(self, text: str, file: str) -> list[Problem]:
        """Every problem a flow file's text would have here (same schema, sounds and shared
        schedules as a reload), without loading it: the admin API's "validate"."""
        try:
            compile_flow_text(text, file, sound_dirs=self.sound_dirs, shared_schedules=self._shared,
                              shared_hash=self._shared_digest, catalogue=self.catalogue,
                              schema=load_schema(self.schema_path) if self.schema_path else load_schema(self._schema_file()))
        except FlowCompileError as exc:
            return list(exc.problems)
        return []

    def _schema_file(self) -> Path:
        local = self.directory / "schema.json"
        from acd.flows.compiler import default_schema_path

        packaged = default_schema_path()
        return packaged if packaged.is_file() else local

    def _log(self, report: ReloadReport) -> None:
        for file, problems in report.refused.items():
            log.error_event("flows.reload.refused", file=file, problems=len(problems))
            for p in problems:
                log.error_event("flows.problem", file=p.location.file, line=p.location.line,
                                column=p.location.column, step=p.step or "", message=p.message)
        for name in report.loaded:
            flow = self._current.get(name)
            log.event("flows.loaded", flow=name, version=str(flow.version) if flow else "")
        for name in report.removed:
            log.event("flows.removed", flow=name)
        if self._current.get(self.default_flow) is None:
            log.warn_event("flows.no_default_flow", default_flow=self.default_flow, directory=str(self.directory))

    # ------------------------------------------------------------------ watching
    def start_watching(self) -> asyncio.Task[None]:
        """Poll the directory every ``poll_interval_s`` and reload on a change; ``stop()`` ends it."""
        if self._watcher is None or self._watcher.done():
            self._watcher = asyncio.create_task(self._watch(), name="flows-watcher")
        return self._watcher

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(self.poll_interval_s)
            try:
                stamp = await asyncio.to_thread(self._file_stamp)
                if stamp != self._stamp:
                    async with self._lock:
                        await asyncio.to_thread(self.reload)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - the watcher must survive a bad moment
                log.error_event("flows.watch.failed", error=f"{type(exc).__name__}: {exc}")

    async def stop(self) -> None:
        task, self._watcher = self._watcher, None
        if task is not None:
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass
