"""A job that runs every so often in a named, tracked task: each run bounded by a timeout, and an
outside failure (the database away, a timeout) logged and tried again next time. Programming errors
are not caught: they end the task with their traceback."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

from acd.logs import get_logger
from acd.deadline import within

log = get_logger(__name__)


class PeriodicJob:
    def __init__(self, name: str, run_once: Callable[[], Awaitable[object]], every_s: Callable[[], float], *,
                 timeout_s: float, outside_errors: tuple[type[BaseException], ...], failed_event: str,
                 run_first: bool) -> None:
        """``every_s`` is read before each wait, so a reloaded setting applies at once;
        ``run_first``: run at start, or only after the first wait."""
        self.name, self.run_once, self.every_s = name, run_once, every_s
        self.timeout_s, self.outside_errors, self.failed_event = timeout_s, outside_errors, failed_event
        self.run_first = run_first
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name=self.name)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _loop(self) -> None:
        if not self.run_first:
            await asyncio.sleep(self.every_s())
        while True:
            try:
                await within(self.run_once(), self.timeout_s)
            except self.outside_errors as exc:
                log.warn_event(self.failed_event, error=type(exc).__name__)
            await asyncio.sleep(self.every_s())
