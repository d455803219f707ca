"""Helpers for flow tests: compile YAML text, in-memory ports, a scripted caller."""

from __future__ import annotations

import datetime as dt
import textwrap
from dataclasses import dataclass, field
from typing import Any

import pytest

from acd.clock import FakeClock
from acd.flows.compiler import compile_flow_text
from acd.flows.interpreter import FlowInterpreter, FlowPorts, FlowResult
from acd.flows.memory import (
    ListRecorder,
    MemoryCallbacks,
    MemoryDirectory,
    MemoryRecording,
    MemoryVerification,
    ScriptedChannel,
    ScriptedQueue,
    StubHttp,
)
from acd.flows.model import CompiledFlow
from acd.flows.ports_extra import CallContext
from acd.ports import CustomerSummary

# Tuesday 24 November 2026, 10:00 in London (UTC in winter)
TUESDAY_10AM = dt.datetime(2026, 11, 24, 10, 0, tzinfo=dt.UTC).timestamp()


def compile_yaml(text: str, file: str = "test.yaml", **kwargs: Any) -> CompiledFlow:
    return compile_flow_text(textwrap.dedent(text), file, **kwargs)


@dataclass
class Harness:
    directory: MemoryDirectory = field(default_factory=MemoryDirectory)
    verification: MemoryVerification = field(default_factory=MemoryVerification)
    recorder: ListRecorder = field(default_factory=ListRecorder)
    queue: ScriptedQueue = field(default_factory=ScriptedQueue)
    http: Any = field(default_factory=StubHttp)
    callbacks: MemoryCallbacks = field(default_factory=MemoryCallbacks)
    clock: FakeClock = field(default_factory=lambda: FakeClock(TUESDAY_10AM))
    recording: MemoryRecording = field(default_factory=MemoryRecording)
    channel: ScriptedChannel | None = None

    def ports(self) -> FlowPorts:
        return FlowPorts(self.directory, self.verification, self.recorder, self.queue, self.http, self.callbacks)

    def add_customer(self, cid: str = "c1", *, phones=("+441234567890",), account: str = "12345674", pin: str | None = "2345",
                     dob: str | None = None, **kw: Any) -> CustomerSummary:
        c = CustomerSummary(cid, kw.pop("name", "Ada Lovelace"), account_number=account, **kw)
        self.directory.add(c, phones)
        if pin:
            self.verification.set_pin(cid, pin)
        if dob:
            self.verification.set_date(cid, "dob", dob)
        return c

    async def run(self, flow: CompiledFlow | str, keys: str | list[str] = "", *, caller: str | None = "+441234567890",
                  dnis: str | None = "8000", flows: dict[str, CompiledFlow] | None = None, max_steps: int = 200,
                  recording: bool = False, hangup_at_end: bool = True) -> FlowResult:
        if isinstance(flow, str):
            flow = compile_yaml(flow)
        self.channel = ScriptedChannel(keys, hangup_at_end=hangup_at_end)
        interp = FlowInterpreter(self.ports(), self.clock, fallback_queue="fallback", max_steps=max_steps)
        return await interp.run(flow, self.channel, CallContext("call-1", caller, dnis, "PJSIP/caller-1"),
                                flows=flows, recording=self.recording if recording else None)

    def steps(self) -> list[tuple[str, str]]:
        return self.recorder.steps()

    def step_data(self, name: str) -> dict[str, Any]:
        return [d for _, k, d in self.recorder.events if k == "flow_step" and d["step"] == name][-1]


@pytest.fixture
def h() -> Harness:
    return Harness()
