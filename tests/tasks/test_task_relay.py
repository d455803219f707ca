"""Task events between two engine nodes over real Redis (acd.service.taskrelay): what one node
emits reaches the other's listeners once, never comes back to its sender, and what a node received
is not published again (no echo between nodes)."""

from __future__ import annotations

import asyncio
import uuid

from acd.service.taskrelay import task_relay


async def _until(fn, timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not fn():
            await asyncio.sleep(0.02)


async def test_a_task_event_made_on_one_node_reaches_the_other_once_and_never_echoes():
    prefix = f"acdtest:{uuid.uuid4().hex}"
    got_a: list[tuple[str, dict]] = []
    got_b: list[tuple[str, dict]] = []
    listeners_a: list = []
    listeners_b: list = []

    def emit(listeners, got):
        def deliver(kind, data):  # like Engine.emit: every listener, the relay's included
            got.append((kind, data))
            for listener in list(listeners):
                listener(kind, data)
        return deliver

    async with task_relay("redis://127.0.0.1:6379/0", prefix, "node-a", listeners_a, emit(listeners_a, got_a)) as a, \
            task_relay("redis://127.0.0.1:6379/0", prefix, "node-b", listeners_b, emit(listeners_b, got_b)) as b:
        event = {"task_id": "t1", "owner": {"kind": "queue", "id": "general"}, "agent_id": None, "due_at": 100.5}
        for listener in listeners_a:  # node A's engine emits a task event (and an agent state, not relayed)
            listener("task_overdue", event)
            listener("agent_state", {"agent_id": "agent1"})
        await _until(lambda: got_b)
        assert got_b == [("task_overdue", event)]
        for listener in listeners_b:
            listener("task_escalated", {"task_id": "t2"})
        await _until(lambda: got_a)
        # an echo of t1 by B would have been published before t2 (one sender, in order), so it would be here by now
        assert got_a == [("task_escalated", {"task_id": "t2"})] and got_b == [("task_overdue", event)]
        assert (a.sent, a.received, b.sent, b.received) == (1, 1, 1, 1)
