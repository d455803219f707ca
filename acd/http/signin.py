"""The KDF work that sign-ins cost, bounded per client address, and failures rate-limited.

A token not seen before costs one scrypt (~50 ms) in a worker thread. Without bounds, one client
sending many bad tokens at once fills the KDF slots and every other client's first request waits
behind them (issue #13, item 4). Here:

* at most ``slots`` KDFs run at a time in all, and at most ``per_address`` of them for one client
  address, so a flooding client holds one slot and the others stay free for everybody else;
* at most ``max_waiting`` requests of one address wait for a KDF; more are refused at once (429);
* ``max_failures`` refused tokens from one address within ``window_s`` make that address wait
  (429 with Retry-After) until the oldest failure leaves the window: no KDF at all meanwhile.

The clock is the engine's (virtual in tests), so the limits are tested without wall time.
"""

from __future__ import annotations

import asyncio
import collections
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from acd.clock import Clock

T = TypeVar("T")


class TooManySignIns(Exception):
    """This address must wait ``retry_after_s`` before presenting another token."""

    def __init__(self, retry_after_s: int) -> None:
        super().__init__(f"too many sign-in attempts from this address: retry after {retry_after_s} s")
        self.retry_after_s = retry_after_s


@dataclass
class _Address:
    slot: asyncio.Semaphore
    waiting: int = 0
    failures: collections.deque[float] = field(default_factory=collections.deque)


class SignInGuard:
    def __init__(self, clock: Clock, *, slots: int = 2, per_address: int = 1, max_waiting: int = 8,
                 max_failures: int = 20, window_s: float = 60.0, max_addresses: int = 10_000) -> None:
        self.clock = clock
        self.slots = asyncio.Semaphore(slots)
        self.per_address = per_address
        self.max_waiting = max_waiting
        self.max_failures = max_failures
        self.window_s = window_s
        self.max_addresses = max_addresses
        self._addresses: collections.OrderedDict[str, _Address] = collections.OrderedDict()
        self.kdf_runs = 0  # KDFs started, for tests and metrics

    def _entry(self, address: str) -> _Address:
        entry = self._addresses.get(address)
        if entry is None:
            entry = self._addresses[address] = _Address(asyncio.Semaphore(self.per_address))
            self._forget_idle()
        self._addresses.move_to_end(address)
        return entry

    def _forget_idle(self) -> None:
        """Keep the table bounded: drop the least recently seen addresses with nothing in flight."""
        for address in list(self._addresses):
            if len(self._addresses) <= self.max_addresses:
                return
            if self._addresses[address].waiting == 0:
                del self._addresses[address]

    def _expire(self, entry: _Address) -> None:
        since = self.clock.monotonic() - self.window_s
        while entry.failures and entry.failures[0] <= since:
            entry.failures.popleft()

    def refuse_if_limited(self, address: str) -> None:
        """Raise ``TooManySignIns`` when this address has failed too often lately."""
        entry = self._entry(address)
        self._expire(entry)
        if len(entry.failures) >= self.max_failures:
            wait = entry.failures[0] + self.window_s - self.clock.monotonic()
            raise TooManySignIns(max(1, math.ceil(wait)))

    def failed(self, address: str) -> None:
        """A token from ``address`` was refused."""
        entry = self._entry(address)
        self._expire(entry)
        entry.failures.append(self.clock.monotonic())

    async def run_kdf(self, address: str, check: Callable[[], T]) -> T:
        """Run the slow ``check`` in a thread within the address's and the global bounds."""
        self.refuse_if_limited(address)
        entry = self._entry(address)
        if entry.waiting >= self.max_waiting:
            raise TooManySignIns(1)
        entry.waiting += 1
        try:
            async with entry.slot, self.slots:
                self.kdf_runs += 1
                return await asyncio.to_thread(check)
        finally:
            entry.waiting -= 1

    def waiting(self, address: str) -> int:
        entry = self._addresses.get(address)
        return entry.waiting if entry else 0
