"""``acd flows run --pbx``: one call through a flow on the real engine, against the simulated PBX
(real FastAGI and AMI bytes on loopback) and the configured customer store, with a readable
transcript: what the caller heard and typed, each flow step, the queue, the agent."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any, TextIO

from acd.app import run_engine
from acd.clock import ShiftedClock
from acd.settings import Settings
from acd.sim import AgentBehaviour, CallerScript


def _describe(kind: str, e: dict[str, Any]) -> str | None:
    if kind == "flow_step":
        inputs = e.get("inputs")
        prefix = f"{e['flow']}." if e.get("flow") and e.get("sub") else ""
        extra = f"  {inputs}" if inputs else ""
        err = f"  ERROR {e['error']}" if e.get("error") else ""
        return f"= {prefix}{e['step']} [{e['action']}] -> {e['outcome']}{extra}{err}"
    return {
        "call_start": f"call from {e.get('ani') or 'withheld'} to {e.get('dnis') or '-'} ({e.get('channel')})",
        "flow_start": f"flow {e.get('flow')} version {e.get('version')}",
        "flow_failure": f"! failure at {e.get('step')}: {e.get('reason')}",
        "queue_enter": f"queued in {e.get('queue')}: priority {e.get('priority')}, skills {e.get('skills')}, "
                       f"verification {e.get('verification')}, customer {e.get('customer_id')}",
        "routing_decision": f"routed to {e.get('agent')} ({e.get('strategy')}, {e.get('candidates')} candidates)",
        "offer": f"ringing {e.get('agent')}",
        "offer_failed": f"{e.get('agent')} did not take it: {e.get('reason')}",
        "connected": f"connected to {e.get('agent')} after {e.get('waited_s')} s",
        "queue_exit": f"left {e.get('queue')}: {e.get('reason')}",
        "ended": f"conversation ended after {e.get('talk_s')} s",
        "callback_requested": f"callback requested to {e.get('number')} in {e.get('queue')}",
        "flow_end": f"flow ended: {e.get('outcome')} (verification {e.get('verification')})",
    }.get(kind)


async def run_on_sim(settings: Settings, flow_name: str, *, caller: str, keys: str, dnis: str | None,
                     at: float | None, out: TextIO, timeout_s: float = 120.0) -> int:
    settings = dataclasses.replace(
        settings, pbx=dataclasses.replace(settings.pbx, mode="sim"),
        http=dataclasses.replace(settings.http, port=0),
        flows=dataclasses.replace(settings.flows, default_flow=flow_name),
    )
    clock = ShiftedClock(at) if at is not None else None
    async with run_engine(settings, clock=clock) as engine:
        engine.pbx.sound_seconds = lambda name: 0.3  # short prompts: a quick run
        for name in list(engine.pbx.agents):
            engine.pbx.agents[name] = AgentBehaviour(answer_after_s=0.3, talk_s=2.0)
        flow = engine.flows.current.get(flow_name)
        if flow is None:
            print(f"acd flows run: no flow {flow_name!r} loaded from {settings.flows.directory}", file=out)
            return 1
        number = dnis or (flow.numbers[0] if getattr(flow, "numbers", None) else "s")
        script = CallerScript(caller_id=caller or "anonymous", dnis=number, keys=keys, think_s=0.6,
                              hangup_after_bridge_s=1.0, fallback_patience_s=3.0, name="flows-run")
        call = await engine.pbx.place_call(script)
        outcome = await call.finished(timeout_s)
        await asyncio.sleep(0.3)  # the last events (ended, wrap-up) land on the record
        print(f"call {call.uniqueid}: {caller or 'withheld'} -> {number}; flow {flow.name} {flow.version} "
              f"(simulated PBX, store {settings.database.url})", file=out)
        timeline = engine.calllog.timeline(call.uniqueid)
        t_start = timeline[0]["t"] if timeline else 0.0
        for e in timeline:
            text = _describe(e["kind"], e)
            if text:
                print(f"  +{e['t'] - t_start:5.1f}s  {text}", file=out)
        print("  heard: " + (", ".join(outcome.prompts) or "-"), file=out)
        typed = "".join(k.digit if k.heard else f"({k.digit})" for k in outcome.keys)
        print("  typed: " + (typed or "-") + ("   (keys in brackets: nothing was listening)" if "(" in typed else ""), file=out)
        verdict = ("answered by " + outcome.agent) if outcome.connected else (
            "fallback (" + str(outcome.fallback_reason) + ")" if outcome.fallback else f"ended by {outcome.hung_up_by}")
        print(f"result: {verdict}; hangup by {outcome.hung_up_by}", file=out)
        return 0 if (outcome.connected or not outcome.fallback) else 1
