"""The engine's outside resources, each in one async context (aiohttp cleanup-context style):
the FastAGI server, the simulated PBX and its demo callers, the AMI link, the live-state store,
the ACD's event log and the customer store with its spool. ``acd.app`` enters them in order and
leaves them in reverse."""

from __future__ import annotations

import contextlib
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Generic, TypeVar

from acd.agi import AgiChannel, FastAgiServer
from acd.ami import AmiClient
from acd.clock import Clock
from acd.eventlog import OutageMonitor
from acd.livestate import LiveStore, MemoryLiveStore
from acd.logs import get_logger
from acd.routing.core import AcdCore
from acd.service.acd import AcdService
from acd.service.calllog import MemoryCallLog
from acd.service.ivr import IvrEntry
from acd.service.journal import Journal
from acd.service.survey import PostCallSurvey
from acd.settings import Settings
from acd.sim import SimPbx
from acd.sim.demo import DemoTraffic, demo_agents
from acd.store.durable import DurableRecorder
from acd.store.sql import SqlStore
from acd.telemetry import Telemetry
from acd.deadline import within

if TYPE_CHECKING:
    from acd.eventlog.inbox import RedisInbox
    from acd.eventlog.redis_lease import RedisLeaderLease

log = get_logger(__name__)

T = TypeVar("T")


class Slot(Generic[T]):
    """A part built after another that needs it already holds a reference (the FastAGI server is
    listening before the ACD exists: the simulated PBX needs its port)."""

    def __init__(self, what: str) -> None:
        self._what = what
        self._value: T | None = None

    def fill(self, value: T) -> None:
        self._value = value

    def clear(self) -> None:
        self._value = None

    def peek(self) -> T | None:
        return self._value

    def get(self) -> T:
        if self._value is None:
            raise RuntimeError(f"{self._what} is not running yet")
        return self._value


@dataclass(frozen=True)
class AgiSessions:
    """What the FastAGI scripts reach, filled once the ACD and the IVR are built."""

    acd: Slot[AcdService] = field(default_factory=lambda: Slot("the ACD"))
    ivr: Slot[IvrEntry] = field(default_factory=lambda: Slot("the IVR"))
    survey: Slot[PostCallSurvey] = field(default_factory=lambda: Slot("the post-call survey"))


@contextlib.asynccontextmanager
async def agi_server(settings: Settings, telemetry: Telemetry, sessions: AgiSessions) -> AsyncIterator[FastAgiServer]:
    cfg = settings.pbx.agi
    t = telemetry

    def counted(script: str, handler: Callable[[AgiChannel], Awaitable[None]]) -> Callable[[AgiChannel], Awaitable[None]]:
        async def session(channel: AgiChannel) -> None:
            t.agi_session_started(script)
            try:
                await handler(channel)
            finally:
                t.agi_session_ended()
        return session

    async def survey(channel: AgiChannel) -> None:  # [acd-survey]: the caller after the agent left
        run = sessions.survey.peek()
        if run is None:  # flows off: no survey
            await channel.hangup()
            return
        await run(channel)

    scripts = {"ivr": counted("ivr", lambda channel: sessions.ivr.get()(channel)),
               "claim": counted("claim", lambda channel: sessions.acd.get().handle_claim(channel)),
               "resume": counted("resume", lambda channel: sessions.ivr.get().resume(channel)),
               "survey": counted("survey", survey)}
    port = 0 if settings.pbx.mode == "sim" else cfg.port
    server = FastAgiServer(
        scripts, cfg.host, port,
        max_sessions=cfg.max_sessions, env_timeout=cfg.env_timeout_s, command_timeout=cfg.command_timeout_s,
        on_command=t.agi_command, on_reject=t.agi_session_rejected, allow_peers=cfg.allow_peers,
    )
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@contextlib.asynccontextmanager
async def sim_pbx(settings: Settings, core: AcdCore, agi: FastAgiServer, clock: Clock, rng: random.Random) -> AsyncIterator[SimPbx | None]:
    if settings.pbx.mode != "sim":
        yield None
        return
    endpoints = [a.config.endpoint for a in core.agents.values()]
    pbx = SimPbx(agi.host, agi.port, users={settings.pbx.ami.username: settings.pbx.ami.secret},
                 agents=demo_agents(endpoints, rng), clock=clock)
    await pbx.start()
    try:
        yield pbx
    finally:
        await pbx.stop()


@contextlib.asynccontextmanager
async def demo_traffic(settings: Settings, pbx: SimPbx, rng: random.Random) -> AsyncIterator[DemoTraffic]:
    """Demo callers; started by run_engine once the whole engine is up (no caller before the ACD)."""
    demo = DemoTraffic(pbx, settings.demo.calls_per_minute, rng)
    try:
        yield demo
    finally:
        await demo.stop()


@contextlib.asynccontextmanager
async def ami_client(settings: Settings, pbx: SimPbx | None) -> AsyncIterator[AmiClient]:
    cfg = settings.pbx.ami
    port = pbx.ami_port if pbx else cfg.port
    host = "127.0.0.1" if pbx else cfg.host
    ami = AmiClient(host, port, cfg.username, cfg.secret, action_timeout=cfg.action_timeout_s, ping_interval=cfg.ping_interval_s)
    try:
        yield ami
    finally:
        await ami.stop()


@contextlib.asynccontextmanager
async def live_store(settings: Settings, clock: Clock, monitor: OutageMonitor) -> AsyncIterator[LiveStore]:
    cfg = settings.live_state
    store: LiveStore
    if cfg.backend == "redis":
        from acd.livestate.redis import RedisLiveStore

        redis_store = RedisLiveStore(cfg.redis_url, cfg.key_prefix, monitor=monitor)
        await within(redis_store.redis.ping(), 5)  # unreachable Redis: refuse to start
        store = redis_store
    else:
        store = MemoryLiveStore(clock)
    try:
        yield store
    finally:
        await store.close()


@dataclass(frozen=True)
class EventLogParts:
    journal: Journal
    lease: RedisLeaderLease | None = None  # the leader lease (several nodes)
    inbox: RedisInbox | None = None  # other nodes' inputs for the leader (several nodes)


@contextlib.asynccontextmanager
async def event_log(settings: Settings, monitor: OutageMonitor,
                    on_replicas_behind: Callable[[bool], None] | None = None) -> AsyncIterator[EventLogParts]:
    """The ACD's log: in-process for one node; with ``live_state.backend: redis`` the shared
    Redis Stream, its snapshots, the leader lease and the inbox (``acd.service.replica``)."""
    cfg = settings.live_state
    if cfg.backend != "redis":
        yield EventLogParts(Journal(snapshot_every=cfg.snapshot_every))
        return
    from acd.eventlog.inbox import RedisInbox
    from acd.eventlog.redis_lease import RedisLeaderLease
    from acd.eventlog.redis_log import RedisEventLog, RedisSnapshotStore
    from acd.eventlog.redisconn import connect

    client = connect(cfg.redis_url)
    shared = RedisEventLog(client, cfg.key_prefix, monitor=monitor, wait_replicas=cfg.wait_replicas, wait_ms=cfg.wait_replicas_ms,
                           on_replicas_behind=on_replicas_behind)
    journal = Journal(shared, RedisSnapshotStore(client, cfg.key_prefix, monitor=monitor),
                      snapshot_every=cfg.snapshot_every)
    try:
        yield EventLogParts(journal, RedisLeaderLease(client, cfg.key_prefix, ttl_s=cfg.lease_ttl_s, monitor=monitor),
                        RedisInbox(client, cfg.key_prefix, monitor=monitor))
    finally:
        await journal.flush()
        await client.aclose()


@dataclass(frozen=True)
class CustomerStore:
    store: SqlStore
    records: DurableRecorder


@contextlib.asynccontextmanager
async def customer_store(settings: Settings, clock: Clock, telemetry: Telemetry, calllog: MemoryCallLog) -> AsyncIterator[CustomerStore]:
    """The SQL store and the durable spool in front of it. A database that is down at start does
    not stop the engine: calls are spooled and written when it returns."""
    cfg = settings.database
    store = SqlStore(cfg.url, clock=clock, region=cfg.phone_region)
    try:
        await within(store.open(), 30)
    except Exception as exc:  # noqa: BLE001 - spool until it is back
        log.error_event("store.unavailable_at_start", error=f"{type(exc).__name__}: {exc}", spool=cfg.spool_dir)
    records = DurableRecorder(cfg.spool_dir, store, clock)
    records.on_write_failure = telemetry.database_write_failed
    telemetry.add_scrape_hook(lambda t: t.spool_backlog(records.backlog_bytes()))
    records.start()
    calllog.observers.append(records)
    try:
        yield CustomerStore(store, records)
    finally:
        await records.close()
        await store.close()


async def seed_demo(store: SqlStore, demo: DemoTraffic) -> None:
    from acd.sim.democustomers import DEMO_CUSTOMERS, seed_demo_customers

    try:
        await within(seed_demo_customers(store), 30)
        demo.known_customers = list(DEMO_CUSTOMERS)
    except Exception as exc:  # noqa: BLE001 - the demo runs on without known callers
        log.warn_event("demo.customers_not_seeded", error=f"{type(exc).__name__}: {exc}")


def redis_outage_monitor(telemetry: Telemetry) -> OutageMonitor:
    """Redis down and up again: logged by the monitor, counted and alerted here."""
    t = telemetry
    return OutageMonitor(on_down=lambda op, exc: t.redis_outage(True), on_up=lambda lasted: t.redis_outage(False, lasted))
