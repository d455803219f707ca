"""Admins' use cases: the flows serving now, checking a flow file's text, reloading flows and
``config/``."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from acd.flows.compiler import Problem
from acd.flows.registry import FlowRegistry
from acd.usecases.errors import Refused


def problem_view(p: Problem) -> dict[str, Any]:
    return {"file": p.location.file, "line": p.location.line, "column": p.location.column, "step": p.step, "message": p.message}


class Administration:
    def __init__(self, flows: FlowRegistry | None, reload_config: Callable[[], dict[str, Any]]) -> None:
        self._flows = flows  # None: flows are off (flows.directory is empty)
        self._reload_config = reload_config

    def _registry(self) -> FlowRegistry:
        """The flow registry; ``Refused`` when flows are off."""
        if self._flows is None:
            raise Refused("flows are off in this engine (flows.directory is empty)")
        return self._flows

    def check_flows_on(self) -> None:
        self._registry()

    def flows(self) -> dict[str, Any]:
        registry = self._registry()
        report = registry.last_report
        return {"flows": [{"name": f.name, "version": str(f.version), "file": f.file} for f in registry.current.flows.values()],
                "errors": [problem_view(p) for ps in (report.refused.values() if report else ()) for p in ps]}

    async def validate(self, text: str, file: str) -> dict[str, Any]:
        problems = await asyncio.to_thread(self._registry().validate_text, text, file)
        return {"ok": not problems, "errors": [problem_view(p) for p in problems]}

    async def reload_flows(self) -> dict[str, Any]:
        report = await asyncio.to_thread(self._registry().reload)
        return {"loaded": list(report.loaded), "unchanged": list(report.unchanged), "removed": list(report.removed),
                "refused": [{"file": f, "errors": [problem_view(p) for p in ps]} for f, ps in report.refused.items()]}

    async def reload_config(self) -> dict[str, Any]:
        """Re-read config/ (``acd.service.configreload``): ``ok`` false with the problems, or what applied."""
        return await asyncio.to_thread(self._reload_config)
