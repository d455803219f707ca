"""The time limit of a FastAGI command: one lazily re-armed timer per session.

``asyncio.timeout`` costs about 8 us a use on Python 3.11 (a ``Timeout`` object, a timer pushed
on the loop's heap and cancelled again, the current task looked up), half the engine's own time
per AGI command (``bench/agi.py``). A session runs one command at a time and most finish in
milliseconds against limits of seconds, so the session keeps one timer: a command sets its
deadline; the timer, when it fires, re-arms itself for the current deadline if that is later,
does nothing when no command is waiting, and cancels the waiting task when its deadline has
passed. The cancel is told apart from anyone else's as ``asyncio.timeout`` does it: only when
the deadline fired *and* ``Task.uncancel()`` leaves no other cancellation is it a timeout; a
cancel from outside always propagates (``acd.deadline`` says why a lost cancel is a hang).
"""

from __future__ import annotations

import asyncio
import math


class CommandDeadline:
    def __init__(self) -> None:
        self._when: float | None = None
        self._task: asyncio.Task[object] | None = None
        self._handle: asyncio.TimerHandle | None = None
        self._fired = False

    def start(self, seconds: float) -> None:
        """The running task's command must finish within ``seconds`` (inf: no limit)."""
        self._fired = False
        if math.isinf(seconds):
            self._when, self._task = None, None
            return
        loop = asyncio.get_running_loop()
        self._task = asyncio.current_task()
        self._when = loop.time() + seconds
        handle = self._handle
        if handle is None or handle.when() > self._when:
            if handle is not None:
                handle.cancel()
            self._handle = loop.call_at(self._when, self._check)

    def stop(self) -> bool:
        """The command is over (or failed); True when its deadline had fired and cancelled it."""
        fired = self._fired
        self._when, self._task, self._fired = None, None, False
        return fired

    def timed_out(self, task: asyncio.Task[object] | None) -> bool:
        """In the command's ``except CancelledError``: True when the cancel was the deadline's
        alone (it is then taken back from ``task``), False when it must propagate."""
        return self.stop() and task is not None and task.uncancel() == 0

    def close(self) -> None:
        """The session ended: no timer left behind."""
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        self.stop()

    def _check(self) -> None:
        self._handle = None
        when, task = self._when, self._task
        if when is None or task is None or task.done():
            return  # no command waiting: the timer stays off until the next one
        loop = asyncio.get_running_loop()
        if loop.time() < when:  # a later command's deadline: wait for that one
            self._handle = loop.call_at(when, self._check)
            return
        self._fired = True
        self._when = None  # once
        task.cancel()
