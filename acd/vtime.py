"""Virtual time for asyncio: an event loop whose clock jumps over idle stretches.

``VirtualTimeLoop.time()`` is virtual. Callbacks, I/O and CPU work take no virtual time; when the
loop has nothing to do, time jumps straight to the next timer. A ten-minute busy hour on the
simulated PBX then runs as fast as the CPU allows, with every ``asyncio.sleep``, ``wait_for``,
``asyncio.timeout`` and ``call_later`` (engine and simulator alike) on the same clock.
``VirtualClock`` is the ``acd.clock.Clock`` read from that loop, shared by the engine and the
``SimPbx`` (whose ``SimTime`` is a view of it).

The rule for a jump, and why it is safe
---------------------------------------
Time may only jump when the loop would otherwise block, and then only when all of these hold:

1. nothing is ready: no callback queued, and a non-blocking ``select(0)`` reports no socket
   readable or writable. Sockets between two ends in this process (the simulator's AMI and
   FastAGI, the engine's HTTP server and a test's client) are loopback TCP: on Linux a ``send``
   puts the bytes in the peer's receive queue before it returns, and asyncio turns Nagle off,
   so anything one side has written is already visible to the other side's ``select(0)``;
2. no thread work is outstanding: ``run_in_executor`` / ``asyncio.to_thread`` (and so aiohttp's
   resolver) and aiosqlite's per-connection worker thread are counted from submission until the
   loop has taken their result. A thread's answer arrives through ``call_soon_threadsafe``, which
   the select above would only see after the fact; counting the request closes that gap;
3. no other process owes us an answer: a socket this loop opened as a client to a port it does not
   itself listen on (PostgreSQL, Redis) holds time from each write until it has been read from and
   then quiet for ``settle_s`` of real time (a reply can come in several segments).

While 2 or 3 holds the loop polls the real selector in short real slices with virtual time frozen,
so a slow database costs no virtual time and a test does not depend on the machine's load. A hold
in which no answer arrives for ``hold_limit_s`` of real time (a peer that never answers, a
``BLOCK``ing read) lets virtual time run at the real rate until one does, so every outside wait's
timeout still fires; thread work gets ``thread_hold_limit_s`` (threads finish; a slow migration on
a loaded machine must not let time slip).

Thread work that bypasses these two paths is invisible: a library that does it must be counted
with ``VirtualTimeLoop.track_thread_future``. So are TLS connections (asyncio builds their raw
transport without ``_make_socket_transport``): the tests talk to PostgreSQL and Redis in clear.

A read that blocks on the other process's clock (Redis ``XREAD BLOCK``, ``BLPOP``) holds virtual
time like any request until ``hold_limit_s`` and then lets it run at the real rate: correct, but
a test then runs at wall speed. Code that tails that way should ask ``on_virtual_time()`` and,
when true, poll with a non-blocking read and an ``asyncio.sleep`` between polls (each poll is a
real round trip of ~0.1 ms; the sleep is virtual and costs nothing).
"""

from __future__ import annotations

import asyncio
import selectors
import time
from asyncio import selector_events
from collections.abc import Callable
from typing import Any

DEFAULT_EPOCH = 1_772_442_000.0  # Monday 2 March 2026, 09:00 UTC: office hours in Europe/London
HOLD_POLL_S = 0.02
DEFAULT_SETTLE_S = 0.002
DEFAULT_HOLD_LIMIT_S = 2.0
DEFAULT_THREAD_HOLD_LIMIT_S = 30.0


class VirtualClock:
    """``acd.clock.Clock`` on a virtual loop's time: ``now()`` is epoch seconds from ``epoch``."""

    def __init__(self, loop: VirtualTimeLoop, epoch: float = DEFAULT_EPOCH) -> None:
        self.loop = loop
        self._epoch = float(epoch)
        self._mono0 = loop.time()

    def now(self) -> float:
        return self._epoch + (self.loop.time() - self._mono0)

    def monotonic(self) -> float:
        return self.loop.time()


class _JumpingSelector(selectors.DefaultSelector):
    """The real selector, asked first without blocking; when the loop would block, the virtual
    clock jumps to the next timer instead (see the module's rule)."""

    loop: VirtualTimeLoop

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        events = super().select(0)
        if events or timeout == 0:
            return events
        loop = self.loop
        if loop.held():
            return self._poll_while_held()
        loop.hold_started = None
        if timeout is None:  # no timer at all: only outside I/O can wake the loop
            return super().select(None)
        loop.jump(timeout)
        return []

    def _poll_while_held(self) -> list[tuple[selectors.SelectorKey, int]]:
        loop = self.loop
        started = time.monotonic()
        if loop.hold_started is None:
            loop.hold_started = started
        events = super().select(HOLD_POLL_S)
        limit = loop.thread_hold_limit_s if loop.thread_work else loop.hold_limit_s
        if started - loop.hold_started > limit:  # a peer (or thread) that keeps us waiting: real rate
            loop.advance(time.monotonic() - started)
        return events


class _TrackedSocketTransport(selector_events._SelectorSocketTransport):  # type: ignore[name-defined, misc]
    """A socket transport that tells the loop when another process owes it an answer."""

    _vloop: VirtualTimeLoop
    _external = False

    def write(self, data: Any) -> None:
        super().write(data)
        if self._external and data:
            self._vloop.awaiting_reply(self)

    def _read_ready(self) -> None:
        if self._external:
            self._vloop.replied(self)
        super()._read_ready()

    def _call_connection_lost(self, exc: BaseException | None) -> None:
        self._vloop.forget(self)
        super()._call_connection_lost(exc)


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    """An event loop on virtual time (see the module docstring for when time jumps)."""

    def __init__(self, *, start: float = 0.0, epoch: float = DEFAULT_EPOCH, settle_s: float = DEFAULT_SETTLE_S,
                 hold_limit_s: float = DEFAULT_HOLD_LIMIT_S, thread_hold_limit_s: float = DEFAULT_THREAD_HOLD_LIMIT_S) -> None:
        self._vnow = float(start)
        selector = _JumpingSelector()
        selector.loop = self
        super().__init__(selector)
        self.settle_s = settle_s
        self.hold_limit_s = hold_limit_s
        self.thread_hold_limit_s = thread_hold_limit_s
        self.hold_started: float | None = None
        self.jumps = 0
        self._thread_work = 0
        self._awaiting: set[_TrackedSocketTransport] = set()
        self._last_outside_io = 0.0
        self._listening_ports: set[int] = set()
        self.clock = VirtualClock(self, epoch)
        track_aiosqlite()

    # ------------------------------------------------------------------ time
    def time(self) -> float:
        return self._vnow

    def jump(self, seconds: float) -> None:
        """Move to the next timer (``seconds`` ahead, as the loop computed it)."""
        target = self._vnow + max(0.0, seconds)
        scheduled = self._scheduled  # type: ignore[attr-defined]  # BaseEventLoop's timer heap
        if scheduled:  # land exactly on it: no float residue keeps it from being due
            target = max(target, scheduled[0]._when)
        self._vnow = target
        self.jumps += 1

    def advance(self, seconds: float) -> None:
        self._vnow += max(0.0, seconds)

    # ------------------------------------------------------------------ holds
    @property
    def thread_work(self) -> int:
        """Thread requests submitted and not yet answered on this loop."""
        return self._thread_work

    def held(self) -> bool:
        """True while a thread or another process may still deliver something."""
        if self._thread_work > 0 or self._awaiting:
            return True
        return time.monotonic() - self._last_outside_io < self.settle_s

    def track_thread_future(self, future: asyncio.Future[Any]) -> None:
        """Hold time until ``future`` (completed by another thread) is done on this loop."""
        self._thread_work += 1
        future.add_done_callback(self._thread_work_done)

    def _thread_work_done(self, _future: asyncio.Future[Any]) -> None:
        self._thread_work -= 1
        self.hold_started = None  # progress: the hold limit counts from here

    def run_in_executor(self, executor: Any, func: Callable[..., Any], *args: Any) -> asyncio.Future[Any]:  # type: ignore[override]
        future = super().run_in_executor(executor, func, *args)
        self.track_thread_future(future)
        return future

    def awaiting_reply(self, transport: _TrackedSocketTransport) -> None:
        self._awaiting.add(transport)
        self._last_outside_io = time.monotonic()

    def replied(self, transport: _TrackedSocketTransport) -> None:
        self._awaiting.discard(transport)
        self._last_outside_io = time.monotonic()
        self.hold_started = None  # progress: the hold limit counts from here

    def forget(self, transport: _TrackedSocketTransport) -> None:
        self._awaiting.discard(transport)

    # ------------------------------------------------------------------ sockets
    def _start_serving(self, protocol_factory: Any, sock: Any, *args: Any, **kwargs: Any) -> None:
        self._listening_ports.add(sock.getsockname()[1])
        super()._start_serving(protocol_factory, sock, *args, **kwargs)  # type: ignore[misc]

    def _make_socket_transport(self, sock: Any, protocol: Any, waiter: Any = None, *, extra: Any = None, server: Any = None) -> Any:
        transport = _TrackedSocketTransport(self, sock, protocol, waiter, extra, server)
        transport._vloop = self
        transport._external = server is None and self._is_outside_peer(sock)
        return transport

    def _is_outside_peer(self, sock: Any) -> bool:
        """A client socket whose peer is not a server of this loop: another process answers it."""
        try:
            peer = sock.getpeername()
        except OSError:
            return True
        port = peer[1] if isinstance(peer, tuple) and len(peer) >= 2 else None
        return port not in self._listening_ports


_AIOSQLITE_TRACKED = False


class _TrackedQueue:
    """aiosqlite's request queue, counting each request on its future's loop until answered."""

    def __init__(self, queue: Any) -> None:
        self._queue = queue

    def put_nowait(self, item: Any) -> None:
        future = item[0]
        if future is not None:
            loop = future.get_loop()
            if isinstance(loop, VirtualTimeLoop):
                loop.track_thread_future(future)
        self._queue.put_nowait(item)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._queue, name)


def track_aiosqlite() -> None:
    """Count aiosqlite's worker-thread requests (idempotent; no effect on other loops)."""
    global _AIOSQLITE_TRACKED
    if _AIOSQLITE_TRACKED:
        return
    try:
        import aiosqlite.core
    except ImportError:  # pragma: no cover - aiosqlite is a dependency
        return
    original_init = aiosqlite.core.Connection.__init__

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        self._tx = _TrackedQueue(self._tx)  # the worker thread keeps reading the queue it was given

    aiosqlite.core.Connection.__init__ = init  # type: ignore[method-assign]
    _AIOSQLITE_TRACKED = True


def running_virtual_clock() -> VirtualClock | None:
    """The running loop's virtual clock, or None on an ordinary loop."""
    loop = asyncio.get_running_loop()
    return loop.clock if isinstance(loop, VirtualTimeLoop) else None


def on_virtual_time() -> bool:
    """True when the running loop is a ``VirtualTimeLoop`` (see "A read that blocks" above)."""
    return running_virtual_clock() is not None
