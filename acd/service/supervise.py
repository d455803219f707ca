"""Listen, whisper, barge: a supervisor's phone is rung (AMI ``Originate``) straight into
Asterisk's ``ChanSpy`` on the agent's channel, and the call's record says who did what when.

ChanSpy options (Asterisk 22, app_chanspy): ``b`` only channels in a bridge (the agent is on a
call, not ringing); ``q`` quiet: no beep and no channel name spoken, so neither the agent nor
the caller hears the supervisor join; ``E`` the supervisor's leg ends when the agent's channel
hangs up; ``S`` it ends when there is no channel to spy on; ``w`` whisper: the supervisor is
heard by the agent only; ``B`` barge: heard by both the agent and the caller. The channel prefix
is the agent's endpoint followed by ``-`` (``PJSIP/agent1-``): Asterisk names a leg
``<endpoint>-<sequence>``, and the dash keeps ``agent1`` from matching ``agent10``'s calls."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from acd import events as rec
from acd.ami.actions import originate_application
from acd.logs import get_logger
from acd.routing.model import AgentState

if TYPE_CHECKING:
    from acd.service.acd import AcdService

log = get_logger(__name__)

SPY_OPTIONS = {"listen": "bqES", "whisper": "bqwES", "barge": "bqBES"}
RING_TIMEOUT_MS = 30_000


class CannotSupervise(Exception):
    """The agent is not on a call, or the supervisor has no phone to ring."""


@dataclass(frozen=True)
class SpyStarted:
    agent_id: str
    call_id: str
    mode: str
    endpoint: str
    spy_leg: str

    def view(self) -> dict[str, Any]:
        return {"agent_id": self.agent_id, "call_id": self.call_id, "mode": self.mode, "endpoint": self.endpoint,
                "spy_leg": self.spy_leg}


def chanspy_data(agent_endpoint: str, mode: str) -> str:
    """``Data`` of the ChanSpy Originate: the agent's channel prefix and the mode's options."""
    return f"{agent_endpoint}-,{SPY_OPTIONS[mode]}"


async def start_spy(acd: AcdService, agent_id: str, mode: str, *, supervisor_id: str, endpoint: str | None) -> SpyStarted:
    """Ring ``endpoint`` into ChanSpy on ``agent_id``'s call. Raises ``CannotSupervise`` when the
    agent is not on a call or there is no endpoint; an AMI refusal (``AmiActionError``) or a
    lost link propagates."""
    if mode not in SPY_OPTIONS:
        raise ValueError(f"mode must be one of {', '.join(SPY_OPTIONS)}")
    agent = acd.core.agent(agent_id)
    if not endpoint:
        raise CannotSupervise(f"user {supervisor_id} has no phone: set its endpoint in config/users.yaml")
    if agent.state != AgentState.ON_CALL or agent.call_id is None:
        raise CannotSupervise(f"agent {agent_id} is not on a call (it is {agent.state.value})")
    call_id, spy_leg = agent.call_id, f"spy-{uuid.uuid4().hex[:16]}"
    await originate_application(acd.ami, endpoint, "ChanSpy", chanspy_data(agent.config.endpoint, mode), channel_id=spy_leg,
                                timeout_ms=RING_TIMEOUT_MS, caller_id=f'"{mode.title()} {agent_id}" <{agent_id}>')
    acd.recorder.event(call_id, rec.Supervised(mode=mode, by=supervisor_id, agent=agent_id, spy_leg=spy_leg))
    log.event("acd.supervise.started", call=call_id, agent=agent_id, mode=mode, by=supervisor_id)
    return SpyStarted(agent_id, call_id, mode, endpoint, spy_leg)
