"""Task events between engine nodes (``live_state.backend: redis``).

Task changes (``task_created``, ``task_escalated``, ``task_overdue``, ``task_complete``...) are
not ACD inputs, so they are not in the shared log: each is emitted only on the node that made it
(the API request's, or the task runner's). So that desks and wallboards connected to any node see
them, every node publishes its task events on one Redis pub/sub channel (``<prefix>:task-events``)
and emits the other nodes' as if they were its own (its push stream and its listeners). A node
never publishes what it received, so nothing echoes. Pub/sub delivers at most once: a node that
is away misses events, as a disconnected desk does, and the desks' periodic re-read catches up.

One node (memory backend) has no relay: its task events stay in process."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

from acd.eventlog.redisconn import UNAVAILABLE_ERRORS, connect
from acd.logs import get_logger
from acd.deadline import within

log = get_logger(__name__)

Deliver = Callable[[str, dict[str, Any]], None]
PUBLISH_TIMEOUT_S = 2.0
RETRY_S = 1.0
DOWN: tuple[type[BaseException], ...] = (*UNAVAILABLE_ERRORS, TimeoutError)  # Redis away: tried again
OUTBOX_MAX = 10_000  # task events waiting for Redis; beyond, the oldest are dropped (counted)


def channel_name(prefix: str) -> str:
    return f"{prefix}:task-events"


class TaskEventRelay:
    def __init__(self, client: Any, prefix: str, node_id: str, deliver: Deliver) -> None:
        self.client, self.channel, self.node_id, self.deliver = client, channel_name(prefix), node_id, deliver
        self._outbox: asyncio.Queue[bytes] = asyncio.Queue(OUTBOX_MAX)
        self._delivering = False  # a received event is being emitted here: not to be published again
        self._tasks: list[asyncio.Task[None]] = []
        self._subscribed = asyncio.Event()
        self.sent = self.received = self.dropped = 0

    def listener(self, kind: str, data: dict[str, Any]) -> None:
        """An engine listener: this node's task events go out (never the ones it received)."""
        if self._delivering or not kind.startswith("task_"):
            return
        message = json.dumps({"node": self.node_id, "kind": kind, "data": data}, default=str).encode()
        if self._outbox.full():
            self._outbox.get_nowait()
            self.dropped += 1
        self._outbox.put_nowait(message)

    async def start(self) -> None:
        """Subscribe (within ``PUBLISH_TIMEOUT_S``; Redis away: the receiver keeps trying), then send."""
        self._tasks = [asyncio.create_task(self._receive(), name=f"acd-task-relay-receive-{self.node_id}"),
                       asyncio.create_task(self._send(), name=f"acd-task-relay-send-{self.node_id}")]
        with contextlib.suppress(TimeoutError):
            await within(self._subscribed.wait(), PUBLISH_TIMEOUT_S)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []

    async def _send(self) -> None:
        while True:
            message = await self._outbox.get()
            while True:
                try:
                    async with asyncio.timeout(PUBLISH_TIMEOUT_S):
                        await self.client.publish(self.channel, message)
                    self.sent += 1
                    break
                except DOWN as exc:
                    log.warn_event("tasks.relay_unavailable", node=self.node_id, error=type(exc).__name__)
                    await asyncio.sleep(RETRY_S)

    async def _receive(self) -> None:
        while True:
            pubsub = self.client.pubsub(ignore_subscribe_messages=True)
            try:
                async with asyncio.timeout(PUBLISH_TIMEOUT_S):
                    await pubsub.subscribe(self.channel)
                self._subscribed.set()
                while True:
                    message = await pubsub.get_message(timeout=1.0)
                    if message is not None:
                        self._deliver(message["data"])
            except DOWN as exc:
                self._subscribed.clear()
                log.warn_event("tasks.relay_unavailable", node=self.node_id, error=type(exc).__name__)
                await asyncio.sleep(RETRY_S)
            finally:
                with contextlib.suppress(*DOWN):
                    async with asyncio.timeout(PUBLISH_TIMEOUT_S):
                        await pubsub.aclose()

    def _deliver(self, raw: bytes) -> None:
        try:
            message = json.loads(raw)
            node, kind, data = message["node"], message["kind"], message["data"]
        except (ValueError, KeyError, TypeError):
            log.warn_event("tasks.relay_bad_message", node=self.node_id)
            return
        if node == self.node_id or not str(kind).startswith("task_") or not isinstance(data, dict):
            return  # our own, back from Redis
        self.received += 1
        self._delivering = True
        try:
            self.deliver(kind, data)
        finally:
            self._delivering = False


@contextlib.asynccontextmanager
async def task_relay(redis_url: str, prefix: str, node_id: str, listeners: list[Callable[[str, dict[str, Any]], object]],
                     deliver: Deliver) -> AsyncIterator[TaskEventRelay]:
    """A running relay on its own Redis connection, listening to ``listeners`` (the engine's)."""
    client = connect(redis_url)
    relay = TaskEventRelay(client, prefix, node_id, deliver)
    await relay.start()
    listeners.append(relay.listener)
    try:
        yield relay
    finally:
        with contextlib.suppress(ValueError):
            listeners.remove(relay.listener)
        await relay.stop()
        await client.aclose()
