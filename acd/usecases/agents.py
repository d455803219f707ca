"""Agents' own desk: log in and out, ready / not ready, wrap-up, the screen-pop, the catalogue's
reasons and dispositions. A supervisor doing any of it for an agent forces it, by them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from acd.clock import Clock
from acd.http.users import User
from acd.logs import get_logger
from acd.service.acd import AcdService
from acd.service.desk import AgentDesk
from acd.usecases.errors import BadInput

log = get_logger(__name__)


@dataclass(frozen=True)
class StateChange:
    """The agent after a state change; ``pending``: not ready once the call and wrap-up end."""

    view: dict[str, Any]
    pending: bool


def acting_as(user: User, agent_id: str) -> str:
    """Who a change is by: the agent itself, or the supervisor forcing it."""
    return agent_id if user.agent_id == agent_id else user.id


class AgentStates:
    def __init__(self, acd: AcdService, desk: AgentDesk, clock: Clock) -> None:
        self._acd = acd  # its core and catalogue are read at each call: a reload may replace them
        self._desk = desk
        self._clock = clock

    def view(self, agent_id: str) -> dict[str, Any]:
        """One agent now; ``UnknownAgent`` for an id config/agents.yaml does not have."""
        core = self._acd.core
        a = core.agent(agent_id)
        now = self._clock.now()
        return {"agent_id": a.id, "name": a.config.name, "state": a.state.value, "reason": a.reason,
                "in_state_s": round(now - a.state_since, 1), "calls": a.calls_handled, "call_id": a.call_id,
                "occupancy": round(core.occupancy(a), 3), "not_ready_after_call": core.after_call.get(a.id)}

    def views(self) -> list[dict[str, Any]]:
        return [self.view(agent_id) for agent_id in self._acd.core.agents]

    async def login(self, agent_id: str) -> dict[str, Any]:
        self._acd.login(agent_id)
        await self._acd.settled()  # with a shared log: applied once the leader has it in the log
        return self.view(agent_id)

    async def logout(self, agent_id: str, user: User) -> dict[str, Any]:
        self._acd.core.agent(agent_id)
        self._acd.logout(agent_id, by=acting_as(user, agent_id))  # a supervisor's is forced
        await self._acd.settled()
        return self.view(agent_id)

    async def set_state(self, agent_id: str, state: str, reason: str | None, user: User) -> StateChange:
        """Ready, or not ready with a reason; not ready on a call or in wrap-up is pending."""
        agent = self._acd.core.agent(agent_id)
        by = acting_as(user, agent_id)
        pending = False
        if state == "ready":
            self._acd.set_ready(agent_id, by=by)
        else:
            if not reason:
                raise BadInput("reason", "required when the state is not_ready")
            pending = agent.state.value in ("on_call", "wrap_up")  # "not ready after this call"
            if pending:
                self._acd.set_not_ready_after_call(agent_id, reason, by=by)
            else:
                self._acd.set_not_ready(agent_id, reason, by=by)
        if user.agent_id != agent_id:
            log.event("http.agent.state_forced", agent=agent_id, by=user.id, state=state, reason=reason, after_call=pending)
        await self._acd.settled()
        return StateChange(self.view(agent_id), pending)

    def check_agent(self, agent_id: str) -> None:
        """``UnknownAgent`` unless the agent is in config/agents.yaml."""
        self._acd.core.agent(agent_id)

    async def finish_wrapup(self, agent_id: str, disposition: str, notes: str | None, *, ready: bool) -> dict[str, Any]:
        self._acd.finish_wrapup(agent_id, disposition, notes, ready=ready)
        await self._acd.settled()
        return self.view(agent_id)

    def extend_wrapup(self, agent_id: str, seconds: float) -> dict[str, Any]:
        self._acd.core.agent(agent_id)
        self._acd.extend_wrapup(agent_id, seconds)
        return self.view(agent_id)

    async def work(self, agent_id: str, viewer: str) -> dict[str, Any]:
        """The current offer or call with its screen-pop (``viewer`` goes to the access audit)."""
        return await self._desk.work(agent_id, viewer=viewer)

    def reasons(self) -> list[dict[str, str]]:
        return [{"code": r.code, "label": r.label} for r in self._acd.catalogue.not_ready_reasons]

    def dispositions(self) -> list[dict[str, str]]:
        return [{"code": d.code, "label": d.label} for d in self._acd.catalogue.dispositions]
