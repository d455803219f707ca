"""A node's view of the log: it applies every entry in order to a callback (the hot copy), and
campaigns for the lease whenever nobody holds it. On winning it first catches up with the log
(older leaders can no longer append, their tokens are refused), then becomes leader."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from acd.clock import Clock, SystemClock
from acd.eventlog.base import EventLog, LeaderLease
from acd.eventlog.errors import LogGap, Unavailable
from acd.eventlog.heartbeat import Heartbeat
from acd.eventlog.timing import STOP_TIMEOUT_S, Backoff, RealSleeper, Sleeper, raise_if_cancelled, stop_tasks
from acd.eventlog.types import Entry, FencingToken, LogPosition, follows
from acd.eventlog.logfields import log_event

log = logging.getLogger(__name__)


class Follower:
    def __init__(
        self, log: EventLog, lease: LeaderLease, node_id: str, apply: Callable[[Entry], None], *,
        after: LogPosition | None = None, ttl_s: float | None = None, campaign_every_s: float | None = None,
        campaign: bool = True, sleeper: Sleeper | None = None, clock: Clock | None = None,
        on_leader: Callable[[FencingToken], None] | None = None, on_lost: Callable[[FencingToken, str], None] | None = None,
        on_gap: Callable[[LogGap], None] | None = None, tail_timeout_s: float = 1.0, catch_up_timeout_s: float = 5.0,
        backoff: Backoff | None = None,
    ) -> None:
        self.log = log
        self.lease = lease
        self.node_id = node_id
        self.apply = apply
        self.position = after
        self.highest_epoch = after.epoch if after else 0
        self.ttl_s = lease.ttl_s if ttl_s is None else ttl_s
        self.campaign_every_s = self.ttl_s / 8 if campaign_every_s is None else campaign_every_s
        self.campaigns = campaign
        self.sleeper = sleeper or RealSleeper()
        self.clock = clock or SystemClock()
        self.on_leader = on_leader
        self.on_lost = on_lost
        self.on_gap = on_gap
        self.tail_timeout_s = tail_timeout_s
        self.catch_up_timeout_s = catch_up_timeout_s
        self.backoff = backoff or Backoff()
        self.heartbeat: Heartbeat | None = None
        self.leader = asyncio.Event()  # set while this node leads
        self.gap: LogGap | None = None
        self.applied = 0
        self._progress = asyncio.Condition()
        self._tasks: list[asyncio.Task[None]] = []

    # -------------------------------------------------------------- state
    @property
    def token(self) -> FencingToken | None:
        hb = self.heartbeat
        return hb.token if hb is not None and not hb.lost.is_set() else None

    @property
    def is_leader(self) -> bool:
        return self.heartbeat is not None and self.heartbeat.holds_lease()

    # -------------------------------------------------------------- lifecycle
    def start(self) -> None:
        if self._tasks:
            raise RuntimeError("the follower is already running")
        self._tasks.append(asyncio.create_task(self._tail_loop(), name=f"eventlog-tail-{self.node_id}"))
        if self.campaigns:
            self._tasks.append(asyncio.create_task(self._campaign_loop(), name=f"eventlog-campaign-{self.node_id}"))

    async def stop(self, release: bool = True) -> None:
        """Stop tailing and campaigning. ``release=False`` is a crash as far as the others can
        tell: the lease lapses only after its TTL."""
        for task in self._tasks:
            task.cancel()
        await stop_tasks(self._tasks, STOP_TIMEOUT_S, f"eventlog-follower-{self.node_id}")
        self._tasks.clear()
        if self.heartbeat is not None:
            await self.heartbeat.stop(release=release)
        self.leader.clear()

    # -------------------------------------------------------------- the hot copy
    async def _tail_loop(self) -> None:
        while self.gap is None:
            try:
                entries = await self.log.tail(self.position, self.tail_timeout_s)
            except Unavailable:
                raise_if_cancelled()
                await self.sleeper.sleep(self.backoff.next_delay())
                continue
            raise_if_cancelled()
            if not entries and await self._log_lost_what_we_applied():
                break
            for entry in entries:
                if not follows(self.position, entry.position):
                    self._gap(LogGap(self.position, entry.position))
                    break
                self.apply(entry)
                self.position = entry.position
                self.highest_epoch = max(self.highest_epoch, entry.position.epoch)
                self.applied += 1
            if entries:
                async with self._progress:
                    self._progress.notify_all()

    async def _log_lost_what_we_applied(self) -> bool:
        """A quiet log whose last position is behind ours: the server lost entries this node had
        applied (an async replica promoted after a failover). The hot copy is then ahead of the
        truth and must be rebuilt, so it is reported as a gap."""
        if self.position is None:
            return False
        try:
            last = await self.log.last_position()
        except Unavailable:
            raise_if_cancelled()
            return False
        if last is None or last < self.position:
            self._gap(LogGap(self.position, f"the log's end {last} (entries this node applied were lost)"))
            return True
        return False

    def _gap(self, gap: LogGap) -> None:
        self.gap = gap
        log_event(log, logging.ERROR, "eventlog.follower.gap", node=self.node_id, after=str(gap.after), got=str(gap.got))
        if self.on_gap is not None:
            self.on_gap(gap)

    async def wait_applied(self, position: LogPosition, timeout_s: float) -> bool:
        """Wait until the hot copy has applied ``position``; False after ``timeout_s``."""
        def reached() -> bool:
            return self.position is not None and self.position >= position

        async with self._progress:
            try:
                async with asyncio.timeout(timeout_s):
                    await self._progress.wait_for(reached)
            except TimeoutError:
                return False
        return True

    # -------------------------------------------------------------- leadership
    async def campaign(self) -> FencingToken | None:
        """One attempt at the lease. On winning: renew it from now on, apply the whole log, then
        lead (``on_leader``). None if another node holds it, or the catch-up did not finish."""
        token = await self.lease.acquire(self.node_id, self.ttl_s, at_least=self.highest_epoch)
        if token is None:
            return None
        heartbeat = Heartbeat(self.lease, token, self.ttl_s, sleeper=self.sleeper, clock=self.clock, on_lost=self._lost)
        heartbeat.start()
        self.heartbeat = heartbeat
        last = await self.log.last_position()
        if last is not None and not await self.wait_applied(last, self.catch_up_timeout_s):
            log_event(log, logging.WARNING, "eventlog.follower.catch_up_slow", node=self.node_id, at=str(self.position), last=str(last))
            await heartbeat.stop(release=True)
            return None
        if heartbeat.lost.is_set():
            return None
        self.leader.set()
        log_event(log, logging.WARNING, "eventlog.follower.leader", node=self.node_id, epoch=token.value)
        if self.on_leader is not None:
            self.on_leader(token)
        return token

    def _lost(self, token: FencingToken, reason: str) -> None:
        self.leader.clear()
        if self.on_lost is not None:
            self.on_lost(token, reason)

    async def _campaign_loop(self) -> None:
        while True:
            heartbeat = self.heartbeat
            if heartbeat is not None and not heartbeat.lost.is_set():
                await heartbeat.lost.wait()
                continue
            try:
                won = await self.campaign()
            except Unavailable:
                raise_if_cancelled()
                await self.sleeper.sleep(self.backoff.next_delay())
                continue
            raise_if_cancelled()
            self.backoff.reset()
            if won is None:
                await self.sleeper.sleep(self.campaign_every_s)
