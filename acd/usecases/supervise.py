"""Supervisors' live view of queues and agents, and listen / whisper / barge on an agent's call."""

from __future__ import annotations

from typing import Any

from acd.ami import AmiError
from acd.http.users import User
from acd.service.acd import AcdService
from acd.service.supervise import CannotSupervise, SpyStarted, start_spy
from acd.usecases.errors import Refused, Unreachable


class Supervision:
    def __init__(self, acd: AcdService) -> None:
        self._acd = acd

    def live(self) -> dict[str, Any]:
        """Queues and agents now (the wallboard's first load)."""
        return self._acd.live()

    def queues(self) -> list[dict[str, Any]]:
        """Each queue's live figures, its name under ``queue``."""
        return [{"queue": name, **figures} for name, figures in self._acd.live()["queues"].items()]

    async def spy(self, agent_id: str, mode: str, supervisor: User) -> SpyStarted:
        """Ring the supervisor's phone (``endpoint`` in config/users.yaml) into ChanSpy on the call."""
        try:
            return await start_spy(self._acd, agent_id, mode, supervisor_id=supervisor.id, endpoint=supervisor.endpoint)
        except CannotSupervise as exc:
            raise Refused(str(exc)) from None
        except AmiError as exc:
            raise Unreachable(f"Asterisk refused or did not answer the Originate: {exc}") from None
