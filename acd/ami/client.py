"""Asyncio AMI client on the sans-I/O codec.

- Every action carries a fresh ActionID and has a time limit.
- List actions (``EventList: start``) are returned whole: the response, the events carrying the
  ActionID, and the ``...Complete`` event.
- The reader never blocks on subscribers: each subscriber has its own bounded queue drained by
  its own task, so a slow subscriber cannot stall the socket (Asterisk drops AMI clients that
  stop reading).
- A ping watchdog declares the link dead when a Ping goes unanswered.
- The link reconnects with exponential backoff and jitter; ``on_link`` callbacks fire on every
  up and down, so state re-sync can hang on them.
- An action pending when the link drops fails with ``AmiLinkLost`` and is never re-sent:
  re-sending an Originate could ring an agent twice.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import random
import uuid
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Iterable

from acd.ami.codec import AmiClientDecoder, encode_action
from acd.ami.errors import (
    AmiActionError,
    AmiAuthError,
    AmiError,
    AmiLinkLost,
    AmiNotConnected,
    AmiProtocolError,
    AmiTimeout,
)
from acd.ami.frames import Banner, Event, Headers, Response
from acd.logs import get_logger

log = get_logger(__name__)

EventCallback = Callable[[Event], Awaitable[None] | None]
LinkCallback = Callable[[bool], Awaitable[None] | None]


@dataclass(frozen=True)
class ListResult:
    response: Response
    events: list[Event]
    complete: Event | None


class _Pending:
    __slots__ = ("name", "future", "is_list", "response", "events")

    def __init__(self, name: str, is_list: bool, loop: asyncio.AbstractEventLoop) -> None:
        self.name = name
        self.future: asyncio.Future = loop.create_future()
        self.is_list = is_list
        self.response: Response | None = None
        self.events: list[Event] = []


class _Subscriber:
    """One subscriber: its own queue and task, so it cannot stall the reader."""

    def __init__(self, name: str, callback: EventCallback, maxsize: int) -> None:
        self.name = name
        self.callback = callback
        self.queue: asyncio.Queue[Event] = asyncio.Queue(maxsize)
        self.dropped = 0
        self.task = asyncio.create_task(self._run(), name=f"ami-subscriber-{name}")

    def offer(self, event: Event) -> None:
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            self.dropped += 1
            log.warn_event("ami.subscriber.overflow", subscriber=self.name, dropped=self.dropped)

    async def _run(self) -> None:
        while True:
            event = await self.queue.get()
            try:
                result = self.callback(event)
                if asyncio.iscoroutine(result):
                    await result
            except Exception as exc:  # a subscriber's bug must not kill the link
                log.error_event("ami.subscriber.error", subscriber=self.name, event_name=event.name, error=repr(exc))


class AmiClient:
    def __init__(
        self,
        host: str,
        port: int,
        username: str,
        secret: str,
        *,
        connect_timeout: float = 5.0,
        action_timeout: float = 10.0,
        ping_interval: float = 10.0,
        ping_timeout: float = 5.0,
        reconnect_min: float = 0.5,
        reconnect_max: float = 30.0,
        subscriber_queue: int = 10_000,
        name: str = "ami",
    ) -> None:
        self.host, self.port = host, port
        self._username, self._secret = username, secret
        self.connect_timeout = connect_timeout
        self.action_timeout = action_timeout
        self.ping_interval = ping_interval
        self.ping_timeout = ping_timeout
        self.reconnect_min, self.reconnect_max = reconnect_min, reconnect_max
        self.name = name
        self._subscriber_queue = subscriber_queue
        self._ids = itertools.count(1)
        self._prefix = uuid.uuid4().hex[:8]
        self._pending: dict[str, _Pending] = {}
        self._lists_pending = 0
        self._subscribers: dict[str, list[_Subscriber]] = {}
        self._inline: dict[str, list[Callable[[Event], object]]] = {}
        self._link_callbacks: list[LinkCallback] = []
        self._link_tasks: set[asyncio.Task] = set()
        self._writer: asyncio.StreamWriter | None = None
        self._connected = asyncio.Event()
        self._supervisor: asyncio.Task | None = None
        self._stopping = False
        self.banner: str | None = None
        self.reconnects = 0
        self.protocol_errors = 0

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        """Connect and log in (raising on failure), then keep the link up in the background."""
        self._stopping = False
        reader = await self._connect_and_login()
        self._supervisor = asyncio.create_task(self._supervise(reader), name=f"{self.name}-link")

    async def stop(self) -> None:
        self._stopping = True
        if self._supervisor:
            self._supervisor.cancel()
            await asyncio.gather(self._supervisor, return_exceptions=True)
            self._supervisor = None
        await self._drop_link("client stopped")
        for subs in self._subscribers.values():
            for sub in subs:
                sub.task.cancel()
        tasks = [s.task for subs in self._subscribers.values() for s in subs] + list(self._link_tasks)
        await asyncio.gather(*tasks, return_exceptions=True)
        self._subscribers.clear()

    async def __aenter__(self) -> "AmiClient":
        await self.start()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.stop()

    @property
    def is_connected(self) -> bool:
        return self._connected.is_set()

    async def wait_connected(self, timeout: float) -> None:
        try:
            await asyncio.wait_for(self._connected.wait(), timeout)
        except asyncio.TimeoutError:
            raise AmiNotConnected(f"AMI {self.host}:{self.port} not connected within {timeout}s") from None

    # ------------------------------------------------------------------ subscriptions
    def subscribe(self, event_name: str, callback: EventCallback) -> Callable[[], None]:
        """Call ``callback`` for each event named ``event_name`` (``"*"`` for all). Returns an
        unsubscribe function."""
        key = event_name.lower()
        if not asyncio.iscoroutinefunction(callback):
            # A plain function cannot await, so it cannot stall the reader on I/O: it runs
            # inline, in order, with no queue hop (the fast path for the engine's handlers).
            self._inline.setdefault(key, []).append(callback)

            def unsubscribe_inline() -> None:
                if callback in self._inline.get(key, []):
                    self._inline[key].remove(callback)

            return unsubscribe_inline
        sub = _Subscriber(f"{event_name}-{len(self._subscribers.get(key, []))}", callback, self._subscriber_queue)
        self._subscribers.setdefault(key, []).append(sub)

        def unsubscribe() -> None:
            if sub in self._subscribers.get(key, []):
                self._subscribers[key].remove(sub)
                sub.task.cancel()

        return unsubscribe

    def on_link(self, callback: LinkCallback) -> None:
        """``callback(True)`` after every (re)login, ``callback(False)`` when the link drops."""
        self._link_callbacks.append(callback)

    # ------------------------------------------------------------------ actions
    async def action(self, name: str, headers: Iterable[tuple[str, str]] | dict[str, str] = (), *, timeout: float | None = None, check: bool = False) -> Response:
        pending = await self._send(name, headers, is_list=False, timeout=timeout)
        response: Response = pending
        if check and not response.ok:
            raise AmiActionError(name, response)
        return response

    async def list_action(self, name: str, headers: Iterable[tuple[str, str]] | dict[str, str] = (), *, timeout: float | None = None) -> ListResult:
        return await self._send(name, headers, is_list=True, timeout=timeout)

    async def _send(self, name: str, headers, *, is_list: bool, timeout: float | None):
        if not self.is_connected or self._writer is None:
            raise AmiNotConnected(f"{name}: AMI link to {self.host}:{self.port} is down")
        action_id = f"{self._prefix}-{next(self._ids)}"
        pairs = list(headers.items()) if isinstance(headers, dict) else list(headers)
        pending = _Pending(name, is_list, asyncio.get_running_loop())
        self._pending[action_id] = pending
        self._lists_pending += is_list
        try:
            self._writer.write(encode_action(name, [("ActionID", action_id)] + pairs))
            async with asyncio.timeout(timeout or self.action_timeout):
                return await pending.future
        except TimeoutError:
            raise AmiTimeout(f"{name} ({action_id}): no reply within {timeout or self.action_timeout}s") from None
        finally:
            self._pending.pop(action_id, None)
            self._lists_pending -= is_list

    # ------------------------------------------------------------------ link
    async def _connect_and_login(self) -> asyncio.StreamReader:
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(self.host, self.port), self.connect_timeout)
        except (OSError, asyncio.TimeoutError) as exc:
            raise AmiNotConnected(f"cannot reach AMI at {self.host}:{self.port}: {exc!r}") from None
        decoder = AmiClientDecoder()
        action_id = f"{self._prefix}-login-{next(self._ids)}"
        try:
            writer.write(encode_action("Login", [("ActionID", action_id), ("Username", self._username), ("Secret", self._secret), ("Events", "on")]))
            response, early = await asyncio.wait_for(self._read_login_reply(reader, decoder, action_id), self.connect_timeout + 2)
        except BaseException:
            writer.close()
            raise
        if response.status != "Success":
            writer.close()
            log.error_event("ami.login.refused", host=self.host, port=self.port, username=self._username, message=response.message)
            raise AmiAuthError(f"AMI login to {self.host}:{self.port} as {self._username!r} refused: {response.message}")
        self._decoder = decoder
        self._writer = writer
        self._connected.set()
        log.event("ami.link.up", host=self.host, port=self.port, banner=self.banner)
        self._fire_link(True)
        for frame in early:
            self._dispatch(frame)
        return reader

    async def _read_login_reply(self, reader: asyncio.StreamReader, decoder: AmiClientDecoder, action_id: str) -> tuple[Response, list]:
        """Returns the login reply and the frames that arrived after it in the same reads (events
        Asterisk sends right after a login must not be lost)."""
        while True:
            data = await reader.read(65536)
            if not data:
                raise AmiNotConnected(f"AMI {self.host}:{self.port} closed before the login reply")
            frames = decoder.feed(data)
            for i, frame in enumerate(frames):
                if isinstance(frame, Banner):
                    self.banner = frame.text
                elif isinstance(frame, Response) and frame.action_id == action_id:
                    return frame, frames[i + 1 :]

    async def _supervise(self, reader: asyncio.StreamReader) -> None:
        delay = self.reconnect_min
        while not self._stopping:
            reason = await self._run_link(reader)
            await self._drop_link(reason)
            while not self._stopping:
                sleep = min(self.reconnect_max, delay) * random.uniform(0.5, 1.0)
                log.event("ami.link.retry", host=self.host, port=self.port, in_s=round(sleep, 2))
                await asyncio.sleep(sleep)
                delay = min(self.reconnect_max, delay * 2)
                try:
                    reader = await self._connect_and_login()
                except AmiAuthError:
                    continue
                except AmiError:
                    continue
                self.reconnects += 1
                delay = self.reconnect_min
                break

    async def _run_link(self, reader: asyncio.StreamReader) -> str:
        ping = asyncio.create_task(self._ping_loop(), name=f"{self.name}-ping")
        try:
            while True:
                try:
                    data = await reader.read(65536)
                except (ConnectionError, OSError) as exc:
                    return f"read failed: {exc!r}"
                if not data:
                    return "connection closed by Asterisk"
                try:
                    frames = self._decoder.feed(data)
                except AmiProtocolError as exc:
                    self.protocol_errors += 1
                    log.warn_event("ami.frame.malformed", error=str(exc))
                    frames = self._decoder.take_carried()
                for frame in frames:
                    self._dispatch(frame)
                if ping.done():
                    return "ping watchdog: Asterisk stopped answering"
        finally:
            ping.cancel()
            await asyncio.gather(ping, return_exceptions=True)

    async def _ping_loop(self) -> None:
        while True:
            await asyncio.sleep(self.ping_interval)
            try:
                await self.action("Ping", timeout=self.ping_timeout)
            except AmiTimeout:
                log.warn_event("ami.ping.unanswered", host=self.host, timeout_s=self.ping_timeout)
                if self._writer is not None:
                    self._writer.close()  # ends the read loop
                return
            except AmiError:
                return

    async def _drop_link(self, reason: str) -> None:
        was_up = self._connected.is_set()
        self._connected.clear()
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.close()
            try:
                await asyncio.wait_for(writer.wait_closed(), 1.0)
            except (asyncio.TimeoutError, OSError, ConnectionError):
                pass
        pending, self._pending = self._pending, {}
        for action_id, p in pending.items():
            if not p.future.done():
                p.future.set_exception(AmiLinkLost(f"{p.name} ({action_id}) was pending when the AMI link dropped ({reason}); it was not re-sent"))
                p.future.exception()  # mark retrieved: the waiter may already have timed out
        if was_up:
            level = logging.INFO if self._stopping else logging.WARNING
            log.event("ami.link.down", level, host=self.host, port=self.port, reason=reason, failed_actions=len(pending))
            self._fire_link(False)

    def _fire_link(self, up: bool) -> None:
        for cb in list(self._link_callbacks):
            try:
                result = cb(up)
            except Exception as exc:
                log.error_event("ami.link.callback_error", error=repr(exc))
                continue
            if asyncio.iscoroutine(result):
                task = asyncio.create_task(result, name=f"{self.name}-link-{'up' if up else 'down'}")
                self._link_tasks.add(task)
                task.add_done_callback(self._link_tasks.discard)

    # ------------------------------------------------------------------ dispatch
    def _dispatch(self, frame: Banner | Response | Event) -> None:
        if isinstance(frame, Response):
            pending = self._pending.get(frame.action_id or "")
            if pending is None or pending.future.done():
                return
            if pending.is_list and frame.headers.get("EventList") == "start":
                pending.response = frame
            elif pending.is_list:
                pending.future.set_result(ListResult(frame, [], None))
            else:
                pending.future.set_result(frame)
            return
        if isinstance(frame, Event):
            # Only list actions collect events; skip the header lookup when none is pending.
            pending = self._pending.get(frame.action_id or "") if self._lists_pending else None
            if pending is not None and pending.is_list and pending.response is not None:
                if frame.headers.get("EventList") == "Complete":
                    pending.future.set_result(ListResult(pending.response, pending.events, frame))
                else:
                    pending.events.append(frame)
                return
            name = frame.name.lower()
            for key in (name, "*"):
                for callback in self._inline.get(key, ()):
                    try:
                        result = callback(frame)
                    except Exception as exc:  # a handler's bug must not kill the link
                        log.error_event("ami.subscriber.error", event_name=frame.name, error=repr(exc))
                        continue
                    if result is not None and asyncio.iscoroutine(result):
                        task = asyncio.create_task(result, name=f"{self.name}-event-{frame.name}")
                        self._link_tasks.add(task)
                        task.add_done_callback(self._link_tasks.discard)
                for sub in self._subscribers.get(key, ()):
                    sub.offer(frame)
