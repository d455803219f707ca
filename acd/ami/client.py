"""Asyncio AMI client on the sans-I/O codec.

Behaviour (each point is a regression test in tests/ami/):
- ``start()`` connects and logs in, and fails loudly: ``AmiAuthError`` on bad credentials
  (Asterisk answers ``Response: Error`` then closes), ``AmiNotConnected`` when Asterisk cannot be
  reached, ``AmiTimeout`` when it does not answer the login. Then a named background task keeps
  the link up.
- Every action carries a fresh ActionID and has a time limit (``AmiTimeout``). List actions
  (``EventList: start``) are returned whole: the response, the events carrying the ActionID, and
  the ``...Complete`` event.
- The reader never blocks on subscribers. Plain functions run inline (they cannot await, so they
  cannot stall on I/O); coroutine functions each get a bounded queue drained by their own named
  task, so a slow subscriber cannot stall the socket (Asterisk drops AMI clients that stop
  reading). A full queue drops that subscriber's events, counted and logged.
- A ping watchdog: a Ping unanswered within ``ping_timeout`` declares the link dead; the socket
  is aborted and the link reconnects.
- Reconnect with exponential backoff and jitter. ``on_link`` callbacks get ``True`` after every
  (re)login and ``False`` on every drop, so state re-sync can hang on them.
- Every action pending when the link drops fails with ``AmiLinkLost`` and is NEVER re-sent:
  re-sending an Originate could ring an agent twice. Actions sent while the link is down fail
  at once with ``AmiNotConnected`` (they do not wait for the link: the caller knows best whether
  a late action still makes sense; ``wait_connected`` is there for those that want to wait).
- The Secret is sent in the Login action only and never logged.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import random
import uuid
from dataclasses import dataclass, field
from typing import Any
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Mapping

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
from acd.ami.frames import Banner, Event, Response
from acd.logs import get_logger
from acd.secrets import Secret

log = get_logger(__name__)

EventCallback = Callable[[Event], Awaitable[None] | None]
LinkCallback = Callable[[bool], Awaitable[None] | None]
HeaderArg = Iterable[tuple[str, object]] | Mapping[str, object]

READ_SIZE = 65536


@dataclass(frozen=True)
class ListResult:
    """A list action returned whole. ``complete`` is None when Asterisk did not start a list
    (``Response: Error``, e.g. Status of a channel that does not exist)."""

    response: Response
    events: list[Event] = field(default_factory=list)
    complete: Event | None = None

    @property
    def ok(self) -> bool:
        return self.response.ok


class _Pending:
    __slots__ = ("name", "future", "is_list", "response", "events", "forgotten")

    def __init__(self, name: str, is_list: bool, loop: asyncio.AbstractEventLoop) -> None:
        self.name = name
        self.future: asyncio.Future[Any] = loop.create_future()
        self.is_list = is_list
        self.response: Response | None = None
        self.events: list[Event] = []
        self.forgotten = False  # no longer counted as pending (answered, given up, or the link dropped)


class _Subscriber:
    """A coroutine subscriber: its own bounded queue and named task, so it cannot stall the
    reader. The task starts on the first event (``subscribe`` may be called before the loop
    runs) and again after a ``stop()``/``start()``."""

    def __init__(self, client_name: str, key: str, callback: EventCallback, maxsize: int) -> None:
        self.name = f"{client_name}-subscriber-{key}-{getattr(callback, '__qualname__', 'callback')}"
        self.callback = callback
        self.queue: asyncio.Queue[Event] = asyncio.Queue(maxsize)
        self.dropped = 0
        self.task: asyncio.Task[None] | None = None

    def offer(self, event: Event) -> None:
        if self.task is None or self.task.done():
            self.task = asyncio.create_task(self._run(), name=self.name)
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 1000 == 0:
                log.warn_event("ami.subscriber.overflow", subscriber=self.name, event_name=event.name, dropped=self.dropped)

    async def _run(self) -> None:
        while True:
            event = await self.queue.get()
            try:
                await self.callback(event)  # type: ignore[misc]
            except Exception as exc:  # a subscriber's bug must not kill the link
                log.error_event("ami.subscriber.error", subscriber=self.name, event_name=event.name, error=repr(exc))

    async def close(self) -> None:
        task, self.task = self.task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        while not self.queue.empty():
            self.queue.get_nowait()


def _pairs(headers: HeaderArg) -> list[tuple[str, object]]:
    return list(headers.items()) if isinstance(headers, Mapping) else list(headers)


class AmiClient:
    """One logged-in AMI link to one Asterisk, kept up in the background.

    Counters for the metrics layer: ``reconnects`` (successful re-logins after a drop),
    ``link_drops``, ``actions_lost`` (pending actions failed by a drop), ``protocol_errors``
    (malformed frames skipped), ``ping_timeouts``, ``events_dropped`` (subscriber overflow).
    """

    def __init__(
        self,
        host: str,
        port: int,
        username: str,
        secret: str | Secret,
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
        self.username = username
        self._secret = secret if isinstance(secret, Secret) else Secret(secret)
        self.connect_timeout = connect_timeout
        self.action_timeout = action_timeout
        self.ping_interval = ping_interval
        self.ping_timeout = ping_timeout
        self.reconnect_min, self.reconnect_max = reconnect_min, reconnect_max
        self.name = name
        self._subscriber_queue = subscriber_queue
        self._ids = itertools.count(1)
        self._prefix = f"{name}-{uuid.uuid4().hex[:8]}"
        self._pending: dict[str, _Pending] = {}
        self._lists_pending = 0
        self._subscribers: dict[str, list[_Subscriber]] = {}
        self._inline: dict[str, list[Callable[[Event], object]]] = {}
        self._link_callbacks: list[LinkCallback] = []
        self._tasks: set[asyncio.Task[Any]] = set()
        self._decoder = AmiClientDecoder()
        self._writer: asyncio.StreamWriter | None = None
        self._connected = asyncio.Event()
        self._supervisor: asyncio.Task[None] | None = None
        self._stopping = False
        self._watchdog_tripped = False
        self.banner: str | None = None
        self.last_error: str | None = None
        self.last_heard: float | None = None  # the loop's time of the last bytes from Asterisk
        self.reconnects = 0
        self.link_drops = 0
        self.actions_lost = 0
        self.protocol_errors = 0
        self.ping_timeouts = 0

    def __repr__(self) -> str:
        return f"AmiClient({self.name} {self.username}@{self.host}:{self.port} {'up' if self.is_connected else 'down'})"

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        """Connect and log in (raising ``AmiAuthError``/``AmiNotConnected``/``AmiTimeout`` on
        failure), then keep the link up in the background."""
        if self._supervisor is not None and not self._supervisor.done():
            raise RuntimeError(f"{self!r} is already started")
        self._stopping = False
        reader = await self._connect_and_login()
        self._supervisor = asyncio.create_task(self._supervise(reader), name=f"{self.name}-link")

    async def stop(self) -> None:
        """Log off (best effort), close the link, fail pending actions, stop subscriber tasks.
        Subscriptions and link callbacks stay registered for a later ``start()``."""
        self._stopping = True
        if self.is_connected:
            try:
                await self.action("Logoff", timeout=min(1.0, self.action_timeout))
            except AmiError:
                pass
        supervisor, self._supervisor = self._supervisor, None
        if supervisor is not None:
            supervisor.cancel()
            await asyncio.gather(supervisor, return_exceptions=True)
        await self._drop_link("client stopped")
        for subs in self._subscribers.values():
            for sub in subs:
                await sub.close()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def __aenter__(self) -> AmiClient:
        await self.start()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.stop()

    @property
    def is_connected(self) -> bool:
        return self._connected.is_set()

    async def wait_connected(self, timeout: float) -> None:
        """Return once the link is logged in; ``AmiNotConnected`` after ``timeout`` seconds."""
        try:
            async with asyncio.timeout(timeout):
                await self._connected.wait()
        except TimeoutError:
            raise AmiNotConnected(f"AMI {self.host}:{self.port} not connected within {timeout}s (last error: {self.last_error})") from None

    @property
    def events_dropped(self) -> int:
        return sum(s.dropped for subs in self._subscribers.values() for s in subs)

    # ------------------------------------------------------------------ subscriptions
    def subscribe(self, event_name: str, callback: EventCallback) -> Callable[[], None]:
        """Call ``callback(event)`` for each event named ``event_name`` (case-insensitive;
        ``"*"`` for all). Returns an unsubscribe function. Events that answer a pending list
        action go to that action, not to subscribers."""
        key = event_name.lower()
        if not asyncio.iscoroutinefunction(callback):
            # A plain function cannot await, so it cannot stall the reader on I/O: it runs
            # inline, in order, with no queue hop (the fast path for the engine's handlers).
            # If it returns a coroutine anyway, that runs as a tracked task.
            self._inline.setdefault(key, []).append(callback)

            def unsubscribe_inline() -> None:
                if callback in self._inline.get(key, []):
                    self._inline[key].remove(callback)

            return unsubscribe_inline
        sub = _Subscriber(self.name, key, callback, self._subscriber_queue)
        self._subscribers.setdefault(key, []).append(sub)

        def unsubscribe() -> None:
            if sub in self._subscribers.get(key, []):
                self._subscribers[key].remove(sub)
                if sub.task is not None:
                    sub.task.cancel()

        return unsubscribe

    def on_link(self, callback: LinkCallback) -> Callable[[], None]:
        """``callback(True)`` after every (re)login, ``callback(False)`` on every drop (sync or
        async). Returns an unsubscribe function."""
        self._link_callbacks.append(callback)

        def unsubscribe() -> None:
            if callback in self._link_callbacks:
                self._link_callbacks.remove(callback)

        return unsubscribe

    # ------------------------------------------------------------------ actions
    async def action(self, name: str, headers: HeaderArg = (), *, timeout: float | None = None, check: bool = False) -> Response:
        """Send one action and return its Response (``check=True``: ``AmiActionError`` unless
        Success). Raises ``AmiNotConnected`` (link down, nothing sent), ``AmiTimeout``,
        ``AmiLinkLost`` (link dropped while pending; never re-sent)."""
        response: Response = await self._send(name, headers, is_list=False, timeout=timeout)
        if check and not response.ok:
            raise AmiActionError(name, response)
        return response

    async def list_action(self, name: str, headers: HeaderArg = (), *, timeout: float | None = None) -> ListResult:
        """Send a list action (``EventList: start``) and return it whole once ``...Complete``
        arrives; the timeout covers the whole list."""
        result: ListResult = await self._send(name, headers, is_list=True, timeout=timeout)
        return result

    def action_now(self, name: str, headers: HeaderArg = (), *, timeout: float | None = None,
                   check: bool = False) -> Coroutine[Any, Any, Response]:
        """``action`` whose bytes are handed to the socket before this returns, in this step of
        the event loop (the ring path: the agent's Originate goes out before the rest of the
        routing decision's work). Await the result for the Response, with ``action``'s errors;
        ``AmiNotConnected`` is raised here, at once."""
        writer, action_id, pending, limit = self._write(name, headers, is_list=False, timeout=timeout)
        return self._finish_action(name, writer, action_id, pending, limit, check)

    async def _finish_action(self, name: str, writer: asyncio.StreamWriter, action_id: str, pending: _Pending,
                             limit: float, check: bool) -> Response:
        response: Response = await self._reply(name, writer, action_id, pending, limit)
        if check and not response.ok:
            raise AmiActionError(name, response)
        return response

    def _write(self, name: str, headers: HeaderArg, *, is_list: bool, timeout: float | None) -> tuple[asyncio.StreamWriter, str, _Pending, float]:
        """Register the action as pending and write it (no wait)."""
        writer = self._writer
        if not self.is_connected or writer is None or writer.transport.is_closing():
            raise AmiNotConnected(f"{name}: AMI link to {self.host}:{self.port} is down; not sent")
        limit = timeout if timeout is not None else self.action_timeout
        action_id = f"{self._prefix}-{next(self._ids)}"
        data = encode_action(name, [("ActionID", action_id), *_pairs(headers)])
        pending = _Pending(name, is_list, asyncio.get_running_loop())
        self._pending[action_id] = pending
        self._lists_pending += is_list
        # its entry goes when it is answered, even if nobody awaits the reply any more
        pending.future.add_done_callback(lambda _f: self._forget(action_id, pending))
        log.event("ami.action.sent", logging.DEBUG, action=name, action_id=action_id)
        try:
            writer.write(data)
        except (ConnectionError, OSError) as exc:
            self._forget(action_id, pending)
            raise AmiLinkLost(f"{name} ({action_id}): the AMI link failed while sending ({exc!r}); it was not re-sent") from None
        return writer, action_id, pending, limit

    def _forget(self, action_id: str, pending: _Pending) -> None:
        if self._pending.get(action_id) is pending:
            del self._pending[action_id]
        if not pending.forgotten:
            pending.forgotten = True
            self._lists_pending -= pending.is_list

    async def _send(self, name: str, headers: HeaderArg, *, is_list: bool, timeout: float | None) -> Any:
        writer, action_id, pending, limit = self._write(name, headers, is_list=is_list, timeout=timeout)
        return await self._reply(name, writer, action_id, pending, limit)

    async def _reply(self, name: str, writer: asyncio.StreamWriter, action_id: str, pending: _Pending, limit: float) -> Any:
        try:
            async with asyncio.timeout(limit):
                if writer.transport.get_write_buffer_size() > READ_SIZE:
                    await writer.drain()  # Asterisk is not reading: wait, within the limit
                return await pending.future
        except TimeoutError:
            log.warn_event("ami.action.timeout", action=name, action_id=action_id, timeout_s=limit)
            raise AmiTimeout(f"{name} ({action_id}): no reply from {self.host}:{self.port} within {limit}s") from None
        except (ConnectionError, OSError) as exc:
            raise AmiLinkLost(f"{name} ({action_id}): the AMI link failed while sending ({exc!r}); it was not re-sent") from None
        finally:
            self._forget(action_id, pending)

    # ------------------------------------------------------------------ link
    async def _connect_and_login(self, *, reconnect: bool = False) -> asyncio.StreamReader:
        try:
            async with asyncio.timeout(self.connect_timeout):
                reader, writer = await asyncio.open_connection(self.host, self.port)
        except (OSError, TimeoutError) as exc:
            self.last_error = f"cannot reach AMI at {self.host}:{self.port}: {exc!r}"
            raise AmiNotConnected(self.last_error) from None
        decoder = AmiClientDecoder()
        action_id = f"{self._prefix}-login-{next(self._ids)}"
        login = encode_action("Login", [("ActionID", action_id), ("Username", self.username), ("Secret", self._secret), ("Events", "on")])
        try:
            writer.write(login)
            async with asyncio.timeout(self.connect_timeout):
                response, early = await self._read_login_reply(reader, decoder, action_id)
        except TimeoutError:
            writer.transport.abort()
            self.last_error = f"AMI {self.host}:{self.port} did not answer the login within {self.connect_timeout}s"
            raise AmiTimeout(self.last_error) from None
        except BaseException:
            writer.transport.abort()
            raise
        if response.status != "Success":
            writer.transport.abort()
            self.last_error = f"AMI login to {self.host}:{self.port} as {self.username!r} refused: {response.message or response.status}"
            log.error_event("ami.login.refused", host=self.host, port=self.port, username=self.username, message=response.message)
            raise AmiAuthError(self.last_error)
        self._decoder = decoder
        self._writer = writer
        self._watchdog_tripped = False
        self.last_error = None
        if reconnect:
            self.reconnects += 1  # before the link-up signal, so its handlers see the count
        self._connected.set()
        log.event("ami.link.up", host=self.host, port=self.port, username=self.username, banner=self.banner, reconnects=self.reconnects)
        self._fire_link(True)
        for frame in early:
            self._dispatch(frame)
        return reader

    async def _read_login_reply(self, reader: asyncio.StreamReader, decoder: AmiClientDecoder, action_id: str) -> tuple[Response, list[Banner | Response | Event]]:
        """The login reply, and the frames that came after it in the same reads (events
        Asterisk sends right behind a login must not be lost)."""
        while True:
            try:
                data = await reader.read(READ_SIZE)
            except (ConnectionError, OSError) as exc:
                raise AmiNotConnected(f"AMI {self.host}:{self.port} failed before the login reply: {exc!r}") from None
            if not data:
                self.last_error = f"AMI {self.host}:{self.port} closed the connection before the login reply"
                raise AmiNotConnected(self.last_error)
            frames = decoder.feed(data)  # AmiProtocolError: not an Asterisk Manager -> loud
            for i, frame in enumerate(frames):
                if isinstance(frame, Banner):
                    self.banner = frame.text
                elif isinstance(frame, Response) and frame.action_id in (action_id, None):
                    return frame, frames[i + 1 :]

    async def _supervise(self, reader: asyncio.StreamReader) -> None:
        """Read until the link dies, then reconnect with exponential backoff and jitter."""
        while not self._stopping:
            try:
                reason = await self._run_link(reader)
            except Exception as exc:  # a bug in dispatch must not end the link for good
                log.error_event("ami.link.reader_error", error=repr(exc))
                reason = f"reader error: {exc!r}"
            await self._drop_link(reason)
            if self._stopping:
                return
            reader = await self._reconnect()

    async def _reconnect(self) -> asyncio.StreamReader:
        delay = self.reconnect_min
        attempt = 0
        while True:
            attempt += 1
            sleep = min(self.reconnect_max, delay) * random.uniform(0.5, 1.0)
            log.event("ami.link.retry", host=self.host, port=self.port, attempt=attempt, in_s=round(sleep, 3))
            await asyncio.sleep(sleep)
            delay = min(self.reconnect_max, delay * 2)
            try:
                return await self._connect_and_login(reconnect=True)
            except AmiError as exc:  # AmiAuthError too: the password may be fixed meanwhile
                self.last_error = str(exc)
                log.warn_event("ami.link.retry_failed", host=self.host, port=self.port, attempt=attempt, error=str(exc))
                continue

    async def _run_link(self, reader: asyncio.StreamReader) -> str:
        """Read and dispatch until the link ends; returns why it ended."""
        ping = asyncio.create_task(self._watchdog(), name=f"{self.name}-ping")
        try:
            while True:
                try:
                    data = await reader.read(READ_SIZE)
                except (ConnectionError, OSError) as exc:
                    data, error = b"", f"read failed: {exc!r}"
                else:
                    error = "connection closed by Asterisk"
                if data:
                    self.last_heard = asyncio.get_running_loop().time()  # the calls were alive at least until then (loop time: virtual in tests)
                if not data:
                    if self._watchdog_tripped:
                        return f"ping watchdog: no Pong within {self.ping_timeout}s"
                    return error
                try:
                    frames = self._decoder.feed(data)
                except AmiProtocolError as exc:
                    self.protocol_errors += 1
                    log.warn_event("ami.frame.malformed", host=self.host, error=str(exc))
                    frames = self._decoder.take_carried()
                for frame in frames:
                    self._dispatch(frame)
        finally:
            ping.cancel()
            await asyncio.gather(ping, return_exceptions=True)

    async def _watchdog(self) -> None:
        """Ping every ``ping_interval``; no answer within ``ping_timeout`` = the link is dead.
        The socket is aborted (not closed: a dead peer would never take the buffered bytes)."""
        while True:
            await asyncio.sleep(self.ping_interval)
            try:
                await self.action("Ping", timeout=self.ping_timeout)
            except AmiTimeout:
                self.ping_timeouts += 1
                self._watchdog_tripped = True
                log.warn_event("ami.ping.unanswered", host=self.host, port=self.port, timeout_s=self.ping_timeout)
                if self._writer is not None:
                    self._writer.transport.abort()  # the read loop sees the end and reports why
                return
            except AmiError:
                return

    async def _drop_link(self, reason: str) -> None:
        was_up = self._connected.is_set()
        self._connected.clear()
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.transport.abort()
        pending, self._pending = self._pending, {}
        for action_id, p in pending.items():
            if not p.future.done():
                self.actions_lost += 1
                p.future.set_exception(AmiLinkLost(f"{p.name} ({action_id}) was pending when the AMI link to {self.host}:{self.port} dropped ({reason}); it was not re-sent"))
                p.future.exception()  # mark retrieved: the waiter may already have timed out
        if was_up:
            if not self._stopping:
                self.link_drops += 1
                self.last_error = reason
            level = logging.INFO if self._stopping else logging.WARNING
            log.event("ami.link.down", level, host=self.host, port=self.port, reason=reason, failed_actions=len(pending))
            self._fire_link(False)

    def _fire_link(self, up: bool) -> None:
        for cb in list(self._link_callbacks):
            try:
                result = cb(up)
            except Exception as exc:
                log.error_event("ami.link.callback_error", up=up, error=repr(exc))
                continue
            if asyncio.iscoroutine(result):
                self._track(result, f"{self.name}-link-{'up' if up else 'down'}")

    def _track(self, coro: Any, name: str) -> None:
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error_event("ami.callback.error", task=task.get_name(), error=repr(task.exception()))

    # ------------------------------------------------------------------ dispatch
    def _dispatch(self, frame: Banner | Response | Event) -> None:
        if isinstance(frame, Response):
            pending = self._pending.get(frame.action_id or "")
            if pending is None or pending.future.done():
                return  # a reply to an action that already timed out
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
                    if not pending.future.done():
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
                        self._track(result, f"{self.name}-event-{frame.name}")
                for sub in self._subscribers.get(key, ()):
                    sub.offer(frame)
