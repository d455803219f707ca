"""The flows' ``task:`` step: compiled with its schema and checks, rendered by the interpreter
(the caller's number and customer by default), ``failed`` with the reason on the record when
the port refuses or the engine has no tasks; and in a running engine, stored as a task."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from acd.flows.compiler import FlowCompileError
from acd.flows.interpreter import FlowPorts
from acd.flows.ports_extra import TaskRefused, TaskRequest

from .conftest import Harness, compile_yaml

FLOW = """
flow: t
steps:
  look:
    lookup_caller: true
    next: book
  book:
    task: {type: callback, title: "Call back about {{ call.flow }}", queue: general, due: +1d, priority: high}
    on: {ok: thanks, failed: sorry}
  thanks:
    hangup: {prompt: thanks}
  sorry:
    hangup: {prompt: sorry}
"""


@dataclass
class MemoryTasks:
    requests: list[TaskRequest] = field(default_factory=list)
    refuse: str | None = None

    async def create_task(self, request: TaskRequest) -> str:
        if self.refuse:
            raise TaskRefused(self.refuse)
        self.requests.append(request)
        return f"task-{len(self.requests)}"


@dataclass
class TaskHarness(Harness):
    tasks: MemoryTasks | None = field(default_factory=MemoryTasks)

    def ports(self) -> FlowPorts:
        return FlowPorts(self.directory, self.verification, self.recorder, self.queue, self.http, self.callbacks, tasks=self.tasks)


async def test_the_step_renders_the_request_with_the_caller_and_customer():
    h = TaskHarness()
    h.add_customer("c9")
    result = await h.run(FLOW)
    assert result.outcome == "hangup" and ("book", "ok") in h.steps()
    (req,) = h.tasks.requests
    assert (req.type, req.title, req.queue, req.due, req.priority) == ("callback", "Call back about t", "general", "+1d", "high")
    assert req.customer_id == "c9" and req.number == "+441234567890" and req.call_id == "call-1" and req.step == "book"
    assert h.step_data("book")["inputs"]["task_id"] == "task-1"


async def test_refused_or_off_the_step_fails_with_the_reason():
    h = TaskHarness(tasks=MemoryTasks(refuse="type: one of callback, case"))
    await h.run(FLOW)
    assert ("book", "failed") in h.steps() and h.step_data("book")["inputs"]["problem"] == "type: one of callback, case"
    off = TaskHarness(tasks=None)
    await off.run(FLOW)
    assert ("book", "failed") in off.steps() and off.step_data("book")["inputs"]["problem"] == "tasks are off in this engine"


def test_the_compiler_checks_the_step():
    with pytest.raises(FlowCompileError) as bad:
        compile_yaml(FLOW.replace("queue: general,", "queue: general, agent: agent1,"))
    assert "a queue or an agent, not both" in str(bad.value)
    with pytest.raises(FlowCompileError) as bad:
        compile_yaml(FLOW.replace("priority: high", "priority: huge"))
    assert str(bad.value).startswith("test.yaml:8:") and "step 'book': priority" in str(bad.value)
    with pytest.raises(FlowCompileError):
        compile_yaml(FLOW.replace("type: callback, ", ""))  # type is required
