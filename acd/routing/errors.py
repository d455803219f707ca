"""Domain errors of the ACD, raised by the core's checks and mapped to HTTP in one place."""

from __future__ import annotations

from acd.routing.model import AgentState


class IllegalTransition(ValueError):
    def __init__(self, agent_id: str, old: AgentState, new: AgentState) -> None:
        super().__init__(f"agent {agent_id}: {old.value} -> {new.value} is not allowed")
        self.agent_id, self.old, self.new = agent_id, old, new


class UnknownAgent(KeyError):
    pass


class UnknownQueue(KeyError):
    pass


class QueueFull(RuntimeError):
    pass


class NotInWrapUp(RuntimeError):
    """Wrap-up can only be finished or extended by an agent in wrap-up."""
