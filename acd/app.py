"""The one place that wires the engine: settings -> clock, telemetry, call log, ACD core and
service, FastAGI server, AMI client, HTTP, and (in sim mode) the simulated PBX.

Each resource has one async context (aiohttp cleanup-context style) entered in order and left in
reverse, so a failure at start leaves nothing half-running."""

from __future__ import annotations

import asyncio
import sys
import contextlib
import random
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from collections.abc import AsyncIterator

from aiohttp import web

from acd.agi import FastAgiServer
from acd.ami import AmiClient
from acd.clock import Clock, SystemClock
from acd.events import CallClosed
from acd.livestate import MemoryLiveStore
from acd.logs import get_logger
from acd.routing.config import DeskCatalogue, load_agents, load_desk, load_queues
from acd.routing.core import AcdCore
from acd.eventlog import OutageMonitor
from acd.service.acd import AcdService
from acd.service.journal import Journal
from acd.service.replica import Replica
from acd.flows.httpport import AiohttpPort
from acd.flows.interpreter import FlowInterpreter, FlowPorts
from acd.flows.registry import FlowRegistry
from acd.service.calllog import IvrMetrics, MemoryCallLog
from acd.service.flowports import AcdQueuePort, CallChannels, RecordedCallbacks, engine_flow_runner
from acd.service.configreload import reload_config
from acd.service.desk import AgentDesk
from acd.service.ivr import IvrEntry
from acd.service.reconcile import Reconciler
from acd.service.survey import PostCallSurvey
from acd.store.durable import DurableRecorder
from acd.store.retention import RetentionJob
from acd.store.sql import SqlStore
from acd.store.verification import LockoutPolicy, SqlVerification
from acd.tasks.rules import TaskConfig, load_task_config
from acd.knowledge.cards import load_cards
from acd.knowledge.popsection import CardsSection
from acd.reports.quality_load import FcrGaugeJob
from acd.tasks.flowport import StoreTaskPort
from acd.tasks.popsection import OpenTasksSection
from acd.service.surveypop import LastSurveySection
from acd.telemetry.quality import QualityMetrics
from acd.tasks.service import TaskRunner, task_audience
from acd.telemetry import Telemetry
from acd.http.api import add_api
from acd.http.ops import add_ops
from acd.http.events import EventBus
from acd.http.queuefeed import QueueFeed
from acd.http.users import Users, demo_tokens_refusal, load_users
from acd.service.web import create_web_app
from acd.settings import ConfigError, Settings
from acd.sim import SimPbx
from acd.sim.demo import DemoTraffic, demo_agents

log = get_logger(__name__)


@dataclass
class Engine:
    settings: Settings
    clock: Clock = field(default_factory=SystemClock)
    telemetry: Telemetry = field(default_factory=Telemetry)
    core: AcdCore | None = None
    calllog: MemoryCallLog | None = None
    agi: FastAgiServer | None = None
    ami: AmiClient | None = None
    acd: AcdService | None = None
    pbx: SimPbx | None = None
    demo: DemoTraffic | None = None
    ivr: IvrEntry | None = None
    store: object | None = None  # the live-state store (memory or Redis)
    customers: SqlStore | None = None  # the customer store (SQL)
    records: DurableRecorder | None = None
    flows: FlowRegistry | None = None
    callbacks: RecordedCallbacks | None = None
    catalogue: DeskCatalogue = field(default_factory=DeskCatalogue)
    task_config: TaskConfig = field(default_factory=TaskConfig)  # config/tasks.yaml
    tasks: TaskRunner | None = None  # escalations and due call-backs
    survey: PostCallSurvey | None = None  # [acd-survey] sessions (needs flows)
    quality: QualityMetrics | None = None  # CSAT and FCR on Prometheus
    knowledge: tuple = ()  # acd.knowledge.cards.Card from config/knowledge/

    @property
    def task_types(self) -> dict:
        return self.task_config.types
    desk: AgentDesk | None = None
    listeners: list = field(default_factory=list)  # (kind, data) -> None: the live push stream
    users: Users | None = None
    bus: EventBus | None = None
    http_app: web.Application | None = None
    http_port: int | None = None
    reconciler: Reconciler | None = None
    journal: Journal | None = None  # the ACD's event log (acd.service.journal)
    lease: object | None = None  # the leader lease (several nodes)
    inbox: object | None = None  # other nodes' inputs for the leader (several nodes)
    redis_monitor: OutageMonitor | None = None  # one outage count for every Redis object of the node

    def reload_config(self) -> dict:
        return reload_config(self)

    def emit(self, kind: str, data: dict) -> None:
        for listener in list(self.listeners):
            try:
                listener(kind, data)
            except Exception as exc:  # noqa: BLE001 - a listener must never break call handling
                log.error_event("engine.listener_failed", kind=kind, error=f"{type(exc).__name__}: {exc}")


@contextlib.asynccontextmanager
async def _agi_server(engine: Engine, ivr: IvrEntry) -> AsyncIterator[FastAgiServer]:
    cfg = engine.settings.pbx.agi
    t = engine.telemetry

    def counted(script, handler):
        async def session(channel):
            t.agi_session_started(script)
            try:
                await handler(channel)
            finally:
                t.agi_session_ended()
        return session

    ivr_session = counted("ivr", ivr)
    claim_session = counted("claim", lambda channel: engine.acd.handle_claim(channel))
    resume_session = counted("resume", lambda channel: ivr.resume(channel))

    async def survey(channel) -> None:  # [acd-survey]: the caller after the agent left
        if engine.survey is None:
            await channel.hangup()
            return
        await engine.survey(channel)

    survey_session = counted("survey", survey)

    port = 0 if engine.settings.pbx.mode == "sim" else cfg.port
    server = FastAgiServer(
        {"ivr": ivr_session, "claim": claim_session, "resume": resume_session, "survey": survey_session}, cfg.host, port,
        max_sessions=cfg.max_sessions, env_timeout=cfg.env_timeout_s, command_timeout=cfg.command_timeout_s,
        on_command=t.agi_command, on_reject=t.agi_session_rejected, allow_peers=cfg.allow_peers,
    )
    await server.start()
    engine.agi = server
    try:
        yield server
    finally:
        await server.stop()


@contextlib.asynccontextmanager
async def _sim_pbx(engine: Engine, with_demo: bool) -> AsyncIterator[SimPbx | None]:
    if engine.settings.pbx.mode != "sim":
        yield None
        return
    s = engine.settings
    rng = random.Random(s.demo.seed)
    endpoints = [a.config.endpoint for a in engine.core.agents.values()]
    pbx = SimPbx(engine.agi.host, engine.agi.port, users={s.pbx.ami.username: s.pbx.ami.secret}, agents=demo_agents(endpoints, rng), clock=engine.clock)
    await pbx.start()
    engine.pbx = pbx
    demo = None
    if with_demo:  # started by run_engine once the whole engine is up (no caller before the ACD)
        demo = DemoTraffic(pbx, s.demo.calls_per_minute, rng)
        engine.demo = demo
    try:
        yield pbx
    finally:
        if demo:
            await demo.stop()
        await pbx.stop()


@contextlib.asynccontextmanager
async def _ami_client(engine: Engine) -> AsyncIterator[AmiClient]:
    cfg = engine.settings.pbx.ami
    port = engine.pbx.ami_port if engine.pbx else cfg.port
    host = "127.0.0.1" if engine.pbx else cfg.host
    ami = AmiClient(host, port, cfg.username, cfg.secret, action_timeout=cfg.action_timeout_s, ping_interval=cfg.ping_interval_s)
    engine.ami = ami
    yield ami
    await ami.stop()


@contextlib.asynccontextmanager
async def _live_store(engine: Engine) -> AsyncIterator[object]:
    cfg = engine.settings.live_state
    if cfg.backend == "redis":
        from acd.livestate.redis import RedisLiveStore

        store = RedisLiveStore(cfg.redis_url, cfg.key_prefix, monitor=engine.redis_monitor)
        await asyncio.wait_for(store.redis.ping(), 5)  # unreachable Redis: refuse to start
    else:
        store = MemoryLiveStore(engine.clock)
    engine.store = store
    try:
        yield store
    finally:
        await store.close()


@contextlib.asynccontextmanager
async def _event_log(engine: Engine) -> AsyncIterator[Journal]:
    """The ACD's log: in-process for one node; with ``live_state.backend: redis`` the shared
    Redis Stream, its snapshots, the leader lease and the inbox (``acd.service.replica``)."""
    cfg = engine.settings.live_state
    if cfg.backend != "redis":
        engine.journal = Journal(snapshot_every=cfg.snapshot_every)
        yield engine.journal
        return
    from acd.eventlog.inbox import RedisInbox
    from acd.eventlog.redis_lease import RedisLeaderLease
    from acd.eventlog.redis_log import RedisEventLog, RedisSnapshotStore
    from acd.eventlog.redisconn import connect

    client = connect(cfg.redis_url)
    monitor = engine.redis_monitor
    engine.journal = Journal(RedisEventLog(client, cfg.key_prefix, monitor=monitor), RedisSnapshotStore(client, cfg.key_prefix, monitor=monitor),
                             snapshot_every=cfg.snapshot_every)
    engine.lease = RedisLeaderLease(client, cfg.key_prefix, ttl_s=cfg.lease_ttl_s, monitor=monitor)
    engine.inbox = RedisInbox(client, cfg.key_prefix, monitor=monitor)
    try:
        yield engine.journal
    finally:
        await engine.journal.flush()
        await client.aclose()


@contextlib.asynccontextmanager
async def _acd_service(engine: Engine) -> AsyncIterator[AcdService]:
    acd = engine.acd
    engine.reconciler = Reconciler(acd, engine.ivr, engine.calllog, engine.customers, engine.records)
    engine.reconciler.subscribe()  # before the first connect: its re-sync closes what a crash left open
    await acd.start()
    engine.core = acd.core  # with a shared log, the core rebuilt from it
    await engine.ami.start()  # fail loudly at start: wrong credentials, unreachable Asterisk
    try:
        yield acd
    finally:
        await acd.stop()
        await _end_sessions(engine)
        engine.reconciler.unsubscribe()


async def _end_sessions(engine: Engine) -> None:
    """A clean stop leaves no call open on the record: a caller still in its IVR is closed as
    ``engine_stopped``, then every FastAGI session ends now (Asterisk goes on to
    ``[acd-fallback]``), while the spool and the store are still open to take their last events."""
    for call_id in sorted(engine.ivr.active):
        if call_id not in engine.core.live:
            engine.calllog.event(call_id, CallClosed(outcome="engine_stopped", reason="engine stopped"))
    await engine.agi.stop()


@contextlib.asynccontextmanager
async def _task_runner(engine: Engine) -> AsyncIterator[TaskRunner]:
    """Escalations and due call-backs, every ``check_every`` of config/tasks.yaml."""
    runner = TaskRunner(engine.customers, engine.acd, engine.clock, engine.task_config,
                        fallback_queue=engine.settings.flows.fallback_queue, emit=engine.emit)
    engine.tasks = runner
    engine.quality = QualityMetrics(engine.telemetry)
    c = engine.settings.customers
    fcr = FcrGaugeJob(engine.customers, engine.quality, engine.clock, fcr_days=c.fcr_days, satisfied_min=c.csat_satisfied_min)
    runner.start()
    fcr.start()
    try:
        yield runner
    finally:
        await fcr.stop()
        await runner.stop()


@contextlib.asynccontextmanager
async def _http(engine: Engine) -> AsyncIterator[int]:
    cfg = engine.settings.http
    app = create_web_app(engine.telemetry.render)
    engine.users = load_users(Path(engine.settings.config_dir) / "users.yaml", set(engine.core.agents))
    if engine.pbx is not None:  # the simulated PBX answers supervisors' phones (listen / whisper / barge)
        from acd.sim import AgentBehaviour

        for entry in engine.users.entries.values():
            if entry.endpoint:
                engine.pbx.agents.setdefault(entry.endpoint.partition("/")[2], AgentBehaviour(answer_after_s=1.0, talk_s=None))
    demo_users = await asyncio.to_thread(engine.users.with_demo_tokens)
    if demo_users:  # public tokens: fine for the demo, never against a real PBX
        refusal = demo_tokens_refusal(engine.settings.pbx.mode, demo_users, engine.users.path)
        if refusal is not None:
            log.error_event("http.users.demo_tokens", users=",".join(demo_users), fix="acd users token <id>")
            raise ConfigError([refusal])
        log.warn_event("http.users.demo_tokens", users=",".join(demo_users), fix="acd users token <id>")
    bus = EventBus()
    engine.bus = bus
    engine.listeners.append(lambda kind, data: bus.publish(kind, data, agents=task_audience(engine.core, kind, data)))
    engine.calllog.observers.append(QueueFeed(engine))  # queue events: callers joining and leaving
    add_api(app, engine, engine.users, bus)
    add_ops(app, engine)
    engine.http_app = app
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, cfg.host, cfg.port)
    await site.start()
    engine.http_port = site._server.sockets[0].getsockname()[1]
    log.event("http.listening", url=f"http://{cfg.host}:{engine.http_port}/wallboard", agent_desktop=f"http://{cfg.host}:{engine.http_port}/agent")
    try:
        yield engine.http_port
    finally:
        await runner.cleanup()


@contextlib.asynccontextmanager
async def _customer_store(engine: Engine) -> AsyncIterator[SqlStore]:
    """The SQL store and the durable spool in front of it. A database that is down at start does
    not stop the engine: calls are spooled and written when it returns."""
    cfg = engine.settings.database
    store = SqlStore(cfg.url, clock=engine.clock, region=cfg.phone_region)
    try:
        await asyncio.wait_for(store.open(), 30)
    except Exception as exc:  # noqa: BLE001 - spool until it is back
        log.error_event("store.unavailable_at_start", error=f"{type(exc).__name__}: {exc}", spool=cfg.spool_dir)
    records = DurableRecorder(cfg.spool_dir, store, engine.clock)
    records.on_write_failure = engine.telemetry.database_write_failed
    engine.telemetry.add_scrape_hook(lambda t: t.spool_backlog(records.backlog_bytes()))
    records.start()
    retention = RetentionJob(store, engine.settings, engine.clock)
    retention.start()
    engine.customers, engine.records = store, records
    engine.ivr.history = store.timeline
    engine.calllog.observers.append(records)
    try:
        yield store
    finally:
        await retention.stop()
        await records.close()
        await store.close()


@contextlib.asynccontextmanager
async def _flows(engine: Engine, ivr: IvrEntry) -> AsyncIterator[FlowRegistry | None]:
    """Flows from ``flows.directory``, reloaded on change; every inbound call runs its flow."""
    s = engine.settings
    if not s.flows.directory:  # flows off: every call hears the greeting and waits in the fallback queue
        yield None
        return
    registry = FlowRegistry(s.flows.directory, sound_dirs=s.flows.sound_dirs, default_flow=s.flows.default_flow, clock=engine.clock)
    await asyncio.to_thread(registry.reload)
    await asyncio.to_thread(_warn_unknown_names, s)
    registry.start_watching()
    channels = CallChannels()
    engine.callbacks = RecordedCallbacks(engine.calllog)
    http = AiohttpPort()
    ports = FlowPorts(
        directory=engine.customers, verification=SqlVerification(engine.customers, engine.clock, LockoutPolicy(s.verification.max_failures, s.verification.window_s),
                                     on_attempt=engine.telemetry.verification_attempt),
        recorder=engine.calllog, queue=AcdQueuePort(engine.acd, channels, engine.clock), http=http, callbacks=engine.callbacks,
        tasks=StoreTaskPort(engine, emit=engine.emit),
    )
    interpreter = FlowInterpreter(ports, engine.clock, fallback_queue=s.flows.fallback_queue)
    ivr.flow_runner = engine_flow_runner(registry, interpreter, channels, engine.ami)
    engine.flows = registry
    engine.survey = PostCallSurvey(engine, registry, interpreter)
    try:
        yield registry
    finally:
        ivr.flow_runner = None
        engine.survey = None
        await registry.stop()
        await http.close()


async def _seed_demo(engine: Engine) -> None:
    from acd.sim.democustomers import DEMO_CUSTOMERS, seed_demo_customers

    try:
        await asyncio.wait_for(seed_demo_customers(engine.customers), 30)
        engine.demo.known_customers = list(DEMO_CUSTOMERS)
    except Exception as exc:  # noqa: BLE001 - the demo runs on without known callers
        log.warn_event("demo.customers_not_seeded", error=f"{type(exc).__name__}: {exc}")


def redis_outage_monitor(engine: Engine) -> OutageMonitor:
    """Redis down and up again: logged by the monitor, counted and alerted here."""
    t = engine.telemetry
    return OutageMonitor(on_down=lambda op, exc: t.redis_outage(True), on_up=lambda lasted: t.redis_outage(False, lasted))


def build_core(engine: Engine) -> None:
    config_dir = Path(engine.settings.config_dir)
    queues = load_queues(config_dir / "queues.yaml")
    agents = load_agents(config_dir / "agents.yaml")
    engine.catalogue = load_desk(config_dir / "desk.yaml")
    engine.task_config = load_task_config(config_dir / "tasks.yaml", frozenset(q.name for q in queues))
    engine.knowledge = load_cards(config_dir / "knowledge", [q.name for q in queues])

    engine.core = AcdCore(queues, agents, id_prefix=f"{engine.settings.engine.node_id}-{uuid.uuid4().hex[:8]}", now=engine.clock.now())
    engine.calllog = MemoryCallLog(engine.clock, observers=[IvrMetrics(engine.telemetry)])


@contextlib.asynccontextmanager
async def run_engine(settings: Settings, *, with_demo: bool = False, clock: Clock | None = None) -> AsyncIterator[Engine]:
    """Start everything; yield the running engine; stop everything in reverse order."""
    engine = Engine(settings, clock=clock or SystemClock(), telemetry=Telemetry(day_tz=settings.engine.time_zone))
    build_core(engine)
    if settings.flows.fallback_queue not in engine.core.queues:
        raise ValueError(f"flows.fallback_queue {settings.flows.fallback_queue!r} is not a queue in {settings.config_dir}/queues.yaml")
    async with contextlib.AsyncExitStack() as stack:
        ivr = IvrEntry(None, engine.calllog, engine.clock, fallback_queue=settings.flows.fallback_queue)  # acd set below
        engine.ivr = ivr
        await stack.enter_async_context(_agi_server(engine, ivr))
        await stack.enter_async_context(_sim_pbx(engine, with_demo))
        await stack.enter_async_context(_ami_client(engine))
        engine.redis_monitor = redis_outage_monitor(engine)
        await stack.enter_async_context(_live_store(engine))
        await stack.enter_async_context(_event_log(engine))
        await stack.enter_async_context(_customer_store(engine))
        if engine.demo is not None:
            await _seed_demo(engine)
        engine.acd = AcdService(engine.core, engine.ami, engine.calllog, engine.telemetry, engine.clock, store=engine.store,
                                node_id=settings.engine.node_id, catalogue=engine.catalogue, emit=engine.emit, journal=engine.journal,
                                recordings_dir=settings.recording.dir, record_calls=settings.recording.enabled)
        if engine.lease is not None and engine.inbox is not None:
            engine.acd.share_log(Replica(engine.acd, engine.journal, engine.lease, engine.inbox, ttl_s=settings.live_state.lease_ttl_s))  # type: ignore[arg-type]
        engine.desk = AgentDesk(engine.acd, engine.customers, engine.calllog)
        engine.desk.sections += [CardsSection(engine), OpenTasksSection(engine), LastSurveySection(engine)]
        ivr.acd = engine.acd
        await stack.enter_async_context(_acd_service(engine))
        await stack.enter_async_context(_task_runner(engine))
        await stack.enter_async_context(_flows(engine, ivr))
        await stack.enter_async_context(_http(engine))
        if engine.demo is not None:
            engine.demo.start()
        log.event("engine.started", node=settings.engine.node_id, mode=settings.pbx.mode, agi_port=engine.agi.port)
        yield engine
    log.event("engine.stopped", node=settings.engine.node_id)


async def reload_on_signal(engine: Engine) -> None:
    """SIGHUP: reload the flows and ``config/`` (each refuses bad files and keeps what serves)."""
    log.event("engine.sighup")
    if engine.flows is not None:
        await asyncio.to_thread(engine.flows.reload)
    result = await asyncio.to_thread(engine.reload_config)
    if not result["ok"]:
        for problem in result["errors"]:
            log.error_event("config.reload.problem", problem=problem)


def _demo_summary(engine: Engine, seconds: float) -> str:
    from acd.sim.demo import summary_table

    assert engine.demo is not None
    booked = sum(1 for out in engine.pbx.outcomes
                 if any("callback" in str(e.get("kind")) or e.get("outcome") == "callback"
                        for e in engine.calllog.timeline(out.uniqueid)))
    days = {name: engine.telemetry.queue_today(name) for name in engine.core.queues}
    return summary_table(engine.demo, days, booked, seconds)


def _warn_unknown_names(s: Settings) -> None:
    """A flow naming a queue, skill or language config/ does not define is still served (its
    calls go to the fallback queue), but said at start; `acd flows validate` refuses it."""
    from acd.flows.catalogue import directory_problems, load_catalogue

    catalogue = load_catalogue(s.config_dir)
    if catalogue is None:
        return
    for problem in directory_problems(s.flows.directory, catalogue):
        log.warn_event("flows.unknown_name", problem=problem)


async def serve_forever(settings: Settings, *, with_demo: bool, duration_s: float | None = None) -> None:
    async with run_engine(settings, with_demo=with_demo) as engine:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        import signal

        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, stop.set)
        reloads: set[asyncio.Task] = set()

        def on_sighup() -> None:
            task = asyncio.create_task(reload_on_signal(engine), name="acd-sighup-reload")
            reloads.add(task)
            task.add_done_callback(reloads.discard)

        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(signal.SIGHUP, on_sighup)
        started = engine.clock.now()
        try:
            await asyncio.wait_for(stop.wait(), duration_s)
        except TimeoutError:
            pass
        if engine.demo is not None:
            print(_demo_summary(engine, engine.clock.now() - started), file=sys.stderr)
