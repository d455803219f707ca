"""Adapters that let the flow interpreter drive the running engine: the queue hand-off to the
ACD service on the caller's own FastAGI channel, recording mute over AMI, and callback requests
kept on the call's durable record."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from acd import events
from acd.routing.model import CallEntry, QueueConfig
from acd.agi.channel import AgiChannel
from acd.ami import AmiClient, AmiError
from acd.ami.actions import mix_monitor_mute
from acd.clock import Clock
from acd.flows.ports_extra import CallbackRequest, CallContext, QueueOutcome
from acd.logs import get_logger
from acd.ports import InteractionRecorder, QueueRequest

if TYPE_CHECKING:
    from acd.flows.interpreter import FlowInterpreter
    from acd.flows.registry import FlowRegistry
    from acd.service.acd import AcdService
    from acd.service.ivr import FlowRunner

log = get_logger(__name__)

_RESULTS = {"answered": QueueOutcome.ANSWERED, "abandoned": QueueOutcome.ABANDONED,
            "timeout": QueueOutcome.TIMEOUT, "full": QueueOutcome.OVERFLOW, "empty": QueueOutcome.OVERFLOW,
            "callback": QueueOutcome.CALLBACK}


class CallChannels:
    """The FastAGI channel of every call now in a flow, by call id: the flow's ports see only a
    ``CallContext``, the queue needs the caller's session to play music on."""

    def __init__(self) -> None:
        self._by_call: dict[str, AgiChannel] = {}

    def bind(self, call_id: str, channel: AgiChannel) -> None:
        self._by_call[call_id] = channel

    def release(self, call_id: str) -> None:
        self._by_call.pop(call_id, None)

    def get(self, call_id: str) -> AgiChannel:
        try:
            return self._by_call[call_id]
        except KeyError:
            raise LookupError(f"call {call_id} has no live FastAGI channel") from None


def entry_for(request: QueueRequest, call: CallContext, channel: str, now: float, queue_cfg: QueueConfig) -> CallEntry:
    """The ACD's call entry from a flow's queue request (requirements built from data)."""
    required = {s.skill: s.min_proficiency for s in request.skills if s.required}
    preferred = {s.skill: s.min_proficiency for s in request.skills if not s.required}
    priority = max(request.priority, queue_cfg.vip_priority) if request.vip else request.priority
    attrs = dict(request.attributes)
    last_agent, owner_agent = attrs.pop("last_agent", None), attrs.pop("owner_agent", None)
    sticky_agent = last_agent or owner_agent
    return CallEntry(
        call_id=call.call_id, queue=request.queue, caller_channel=channel, enqueued_at=now, priority=int(priority),
        caller_number=call.caller or "", skills=required, preferred_skills=preferred, language=request.language,
        customer_id=request.customer_id, verification=request.verification.value, locked=request.locked, vip=request.vip,
        preferred_agent=sticky_agent, sticky_s=queue_cfg.sticky_s if sticky_agent else 0.0, attributes=attrs,
    )


class AcdQueuePort:
    """A flow's ``queue`` step: the caller waits in the ACD on its own FastAGI channel."""

    def __init__(self, acd: AcdService, channels: CallChannels, clock: Clock) -> None:
        self.acd = acd
        self.channels = channels
        self.clock = clock

    async def enqueue(self, call: CallContext, request: QueueRequest) -> QueueOutcome:
        queue_cfg = self.acd.core.queues.get(request.queue)
        if queue_cfg is None:  # the compiler checks names; a config reload may have removed one
            log.error_event("flow.queue.unknown", queue=request.queue)
            return QueueOutcome.OVERFLOW
        channel = self.channels.get(call.call_id)
        entry = entry_for(request, call, channel.env.channel, self.clock.now(), queue_cfg)
        result = await self.acd.wait_in_queue(channel, entry)
        return _RESULTS.get(result, QueueOutcome.OVERFLOW)


class AmiRecordingControl:
    """MixMonitorMute on the caller's channel while a secret is typed. The ACD records from the
    bridge on, but a dialplan may record the whole call (compliance recording), so the mute is
    always asked for; a call not recorded has nothing to mute: Asterisk says so, logged at debug."""

    def __init__(self, ami: AmiClient, channel: str) -> None:
        self.ami = ami
        self.channel = channel

    async def _set(self, state: bool) -> None:
        try:
            await mix_monitor_mute(self.ami, self.channel, "both", state)
        except AmiError as exc:
            log.event("recording.mute_skipped", 10, channel=self.channel, state=state, reason=type(exc).__name__)

    async def mute(self) -> None:
        await self._set(True)

    async def unmute(self) -> None:
        await self._set(False)


@dataclass
class RecordedCallbacks:
    """Callback requests, kept on the call's durable record (``callback_requested``) and listed
    for agents and supervisors until an agent calls back."""

    recorder: InteractionRecorder
    pending: dict[str, CallbackRequest] = field(default_factory=dict)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    async def request_callback(self, request: CallbackRequest) -> str:
        callback_id = f"cb-{request.call_id}-{next(self._ids)}"
        self.pending[callback_id] = request
        self.recorder.event(request.call_id, events.CallbackRequested(
            callback_id=callback_id, queue=request.queue, number=request.number, customer_id=request.customer_id, note=request.note,
        ))
        return callback_id


def engine_flow_runner(registry: FlowRegistry, interpreter: FlowInterpreter, channels: CallChannels,
                       ami: AmiClient | None) -> FlowRunner:
    """The ``FlowRunner`` for ``IvrEntry``: the call's flow (by dialled number, else the default)
    on the registry snapshot current when the call arrived, with its FastAGI channel bound for
    the queue step and its recording muted over AMI while a secret is typed."""
    from acd.flows.runner import run_call

    async def run(channel: AgiChannel) -> str:
        call = CallContext.from_agi(channel.env)
        channels.bind(call.call_id, channel)
        try:
            recording = AmiRecordingControl(ami, channel.env.channel) if ami is not None else None
            return (await run_call(registry, interpreter, channel, call, recording=recording)).outcome
        finally:
            channels.release(call.call_id)

    return run
