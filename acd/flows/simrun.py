"""``acd flows run --pbx``: one call through a flow on the real engine, against the simulated PBX
(real FastAGI and AMI bytes on loopback) and the configured customer store, with a readable
transcript: what the caller heard and typed, each flow step, the queue, the agent."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import TextIO

from acd import events as rec
from acd.app import run_engine
from acd.clock import ShiftedClock
from acd.settings import Settings
from acd.sim import AgentBehaviour, CallerScript


def _describe(e: rec.CallEvent) -> str | None:  # noqa: PLR0911 - one line per kind
    match e:
        case rec.FlowStep():
            extra = f"  {dict(e.inputs)}" if e.inputs else ""
            err = f"  ERROR {e.error}" if e.error else ""
            return f"= {e.step} [{e.action}] -> {e.outcome}{extra}{err}"
        case rec.CallStarted():
            return f"call from {e.ani or 'withheld'} to {e.dnis or '-'} ({e.channel})"
        case rec.FlowStarted():
            return f"flow {e.flow} version {e.version}"
        case rec.FlowFailure():
            return f"! failure at {e.step}: {e.reason}"
        case rec.QueueEntered():
            return (f"queued in {e.queue}: priority {e.priority}, skills {dict(e.skills)}, "
                    f"verification {e.verification}, customer {e.customer_id}")
        case rec.RoutingDecision():
            return f"routed to {e.agent} ({e.strategy}, {e.candidates} candidates)"
        case rec.OfferRang():
            return f"ringing {e.agent}"
        case rec.OfferFailed():
            return f"{e.agent} did not take it: {e.reason}"
        case rec.OfferCancelled():
            return f"{e.agent} stopped ringing: {e.reason}"
        case rec.Connected():
            return f"connected to {e.agent} after {e.waited_s} s"
        case rec.QueueExited():
            return f"left {e.queue}: {e.reason}"
        case rec.Ended():
            return f"conversation ended after {e.talk_s} s"
        case rec.CallbackRequested():
            return f"callback requested to {e.number} in {e.queue}"
        case rec.Verification():
            return f"verification {e.method}: {e.outcome} (level {e.level})"
        case rec.FlowEnded():
            return f"flow ended: {e.outcome} (verification {e.verification})"
    return None


async def run_on_sim(settings: Settings, flow_name: str, *, caller: str, keys: str, dnis: str | None,
                     at: float | None, out: TextIO, timeout_s: float = 120.0) -> int:
    settings = dataclasses.replace(
        settings, pbx=dataclasses.replace(settings.pbx, mode="sim"),
        http=dataclasses.replace(settings.http, port=0),
        flows=dataclasses.replace(settings.flows, default_flow=flow_name),
    )
    clock = ShiftedClock(at) if at is not None else None
    async with run_engine(settings, clock=clock) as engine:
        pbx, flows, calllog = engine.pbx, engine.flows, engine.calllog
        assert pbx is not None and flows is not None and calllog is not None  # a sim-mode engine has all three
        pbx.sound_seconds = lambda name: 0.3  # short prompts: a quick run
        for name in list(pbx.agents):
            pbx.agents[name] = AgentBehaviour(answer_after_s=0.3, talk_s=2.0)
        flow = flows.current.get(flow_name)
        if flow is None:
            print(f"acd flows run: no flow {flow_name!r} loaded from {settings.flows.directory}", file=out)
            return 1
        number = dnis or (flow.numbers[0] if getattr(flow, "numbers", None) else "s")
        script = CallerScript(caller_id=caller or "anonymous", dnis=number, keys=keys, think_s=0.6,
                              hangup_after_bridge_s=1.0, fallback_patience_s=3.0, name="flows-run")
        call = await pbx.place_call(script)
        outcome = await call.finished(timeout_s)
        await asyncio.sleep(0.3)  # the last events (ended, wrap-up) land on the record
        print(f"call {call.uniqueid}: {caller or 'withheld'} -> {number}; flow {flow.name} {flow.version} "
              f"(simulated PBX, store {settings.database.url})", file=out)
        timeline = calllog.timeline(call.uniqueid)
        t_start = timeline[0]["t"] if timeline else 0.0
        for e in timeline:
            text = _describe(rec.from_timeline(e))
            if text:
                print(f"  +{e['t'] - t_start:5.1f}s  {text}", file=out)
        print("  heard: " + (", ".join(outcome.prompts) or "-"), file=out)
        typed = "".join(k.digit if k.heard else f"({k.digit})" for k in outcome.keys)
        print("  typed: " + (typed or "-") + ("   (keys in brackets: nothing was listening)" if "(" in typed else ""), file=out)
        verdict = f"answered by {outcome.agent}" if outcome.connected else (
            "fallback (" + str(outcome.fallback_reason) + ")" if outcome.fallback else f"ended by {outcome.hung_up_by}")
        print(f"result: {verdict}; hangup by {outcome.hung_up_by}", file=out)
        return 0 if (outcome.connected or not outcome.fallback) else 1
