"""Glue for the FastAGI ``ivr`` entry: one call in, the right flow version run, its outcome out.

``acd.service.ivr.IvrEntry(flow_runner=make_flow_runner(registry, interpreter))`` runs every
inbound call through the flow its dialled number maps to (or the default flow), on the registry
snapshot current when the call arrived."""

from __future__ import annotations

from typing import Any
from collections.abc import Awaitable, Callable

from acd.flows.interpreter import FlowInterpreter, FlowResult
from acd.flows.ports_extra import CallContext, RecordingControl
from acd.flows.registry import FlowRegistry


class NoFlowError(RuntimeError):
    """No flow for this number and no default flow loaded."""


async def run_call(registry: FlowRegistry, interpreter: FlowInterpreter, channel: Any, call: CallContext,
                   *, recording: RecordingControl | None = None) -> FlowResult:
    snapshot = registry.current
    flow = snapshot.for_dnis(call.dnis)
    if flow is None:
        raise NoFlowError(f"no flow for {call.dnis!r} and no default flow {snapshot.default_flow!r}")
    return await interpreter.run(flow, channel, call, flows=snapshot.flows, recording=recording)


def make_flow_runner(
    registry: FlowRegistry,
    interpreter: FlowInterpreter,
    *,
    recording_for: Callable[[CallContext], RecordingControl | None] | None = None,
) -> Callable[[Any], Awaitable[str]]:
    """A ``FlowRunner`` for ``IvrEntry``: takes an ``AgiChannel`` (its ``env`` gives the call)."""

    async def run(channel: Any) -> str:
        call = CallContext.from_agi(channel.env)
        recording = recording_for(call) if recording_for else None
        return (await run_call(registry, interpreter, channel, call, recording=recording)).outcome

    return run
