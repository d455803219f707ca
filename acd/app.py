"""The one place that wires the engine: settings -> clock, telemetry, call log, ACD core and
service, FastAGI server, AMI client, HTTP, and (in sim mode) the simulated PBX.

Built bottom-up: each resource has one async context (aiohttp cleanup-context style, in
``acd.resources`` for the outside ones) entered in order and left in reverse, so a failure at
start leaves nothing half-running; each takes the parts it needs, already built (constructor-
injected; what a config reload replaces is read through ``acd.service.liveconfig.LiveConfig``).
The HTTP layer gets the use cases (``acd.usecases``, from ``build_use_cases``). The ``Engine``
(``acd.engine``) is made last, a frozen record of the running parts for the CLI, the benches and
the tests: no part reads it."""

from __future__ import annotations

import asyncio
import sys
import contextlib
import random
import uuid
from dataclasses import dataclass
from pathlib import Path
from collections.abc import AsyncIterator

from aiohttp import web

from acd.agi import FastAgiServer
from acd.ami import AmiClient
from acd.clock import Clock, SystemClock
from acd.events import CallClosed
from acd.logs import get_logger
from acd.routing.config import load_agents, load_desk, load_queues
from acd.routing.core import AcdCore
from acd.service.acd import AcdService
from acd.service.replica import Replica
from acd.flows.httpport import AiohttpPort
from acd.flows.interpreter import FlowInterpreter, FlowPorts
from acd.flows.registry import FlowRegistry
from acd.service.calllog import IvrMetrics, MemoryCallLog
from acd.service.flowports import AcdQueuePort, CallChannels, RecordedCallbacks, engine_flow_runner
from acd.service.configreload import ConfigReload
from acd.service.liveconfig import ConfigFiles, LiveConfig
from acd.service.desk import AgentDesk
from acd.service.ivr import IvrEntry
from acd.service.reconcile import Reconciler
from acd.service.survey import PostCallSurvey
from acd.store.retention import RetentionJob
from acd.store.sql import SqlStore
from acd.store.verification import LockoutPolicy, SqlVerification
from acd.tasks.rules import load_task_config
from acd.knowledge.cards import load_cards
from acd.knowledge.popsection import CardsSection
from acd.reports.quality_load import FcrGaugeJob
from acd.reports.daycache import TodayReport
from acd.telemetry.today import TodayGaugeJob
from acd.tasks.flowport import StoreTaskPort
from acd.tasks.popsection import OpenTasksSection
from acd.service.surveypop import LastSurveySection
from acd.telemetry.quality import QualityMetrics
from acd.service.taskrelay import task_relay
from acd.tasks.service import TaskRunner, task_audience
from acd.telemetry import Telemetry
from acd.http.api import add_api
from acd.http.ops import add_ops
from acd.engine import Engine, EventFanout, FlowParts, HttpParts
from acd.http.events import EventBus
from acd.http.queuefeed import QueueFeed
from acd.http.users import Users, demo_tokens_refusal, load_users
from acd.service.web import create_web_app
from acd.settings import ConfigError, Settings
from acd.sim import SimPbx
from acd.resources import (
    AgiSessions, CustomerStore, agi_server, ami_client, customer_store, demo_traffic, event_log, live_store, redis_outage_monitor,
    seed_demo, sim_pbx,
)
from acd.usecases.admin import Administration
from acd.usecases.agents import AgentStates
from acd.usecases.customers import Customers
from acd.usecases.interactions import Interactions
from acd.usecases.ops import Readiness
from acd.usecases.reports import Reports
from acd.usecases.supervise import Supervision
from acd.usecases.tasks import Tasks
from acd.usecases.wallboard import Wallboard
from acd.usecases.wiring import UseCases
from acd.deadline import within

log = get_logger(__name__)
HTTP_SHUTDOWN_S = 5.0


@dataclass(frozen=True)
class Basics:
    """What nearly every part is built from: the settings, the clock, the telemetry, the live push
    stream's fan-out and the reloadable config files."""

    settings: Settings
    clock: Clock
    telemetry: Telemetry
    fanout: EventFanout
    live: LiveConfig


@contextlib.asynccontextmanager
async def _acd_service(acd: AcdService, ami: AmiClient, ivr: IvrEntry, calllog: MemoryCallLog, saved: CustomerStore,
                       agi: FastAgiServer) -> AsyncIterator[Reconciler]:
    reconciler = Reconciler(acd, ivr, calllog, saved.store, saved.records)
    reconciler.subscribe()  # before the first connect: its re-sync closes what a crash left open
    await acd.start()  # with a shared log, the core rebuilt from it (in place)
    await ami.start()  # fail loudly at start: wrong credentials, unreachable Asterisk
    try:
        yield reconciler
    finally:
        await acd.stop()
        await _end_sessions(acd, ivr, calllog, agi)
        reconciler.unsubscribe()


async def _end_sessions(acd: AcdService, ivr: IvrEntry, calllog: MemoryCallLog, agi: FastAgiServer) -> None:
    """A clean stop leaves no call open on the record: a caller still in its IVR is closed as
    ``engine_stopped``, then every FastAGI session ends now (Asterisk goes on to
    ``[acd-fallback]``), while the spool and the store are still open to take their last events."""
    for call_id in sorted(ivr.active):
        if call_id not in acd.core.live:
            calllog.event(call_id, CallClosed(outcome="engine_stopped", reason="engine stopped"))
    await agi.stop()


@contextlib.asynccontextmanager
async def _task_runner(b: Basics, store: SqlStore, acd: AcdService) -> AsyncIterator[TaskRunner]:
    """Escalations and due call-backs, every ``check_every`` of config/tasks.yaml."""
    runner = TaskRunner(store, acd, b.clock, b.live, fallback_queue=b.settings.flows.fallback_queue, emit=b.fanout.emit)
    runner.start()
    try:
        yield runner
    finally:
        await runner.stop()


def _today_report(b: Basics, store: SqlStore, acd: AcdService) -> TodayReport:
    """Today's figures from the store, shared by the wallboard and Prometheus' "today" gauges, with
    the queues' thresholds and the time zone read at each computation (a config reload applies)."""
    from acd.reports.compute import QueueThresholds

    def thresholds() -> dict[str, QueueThresholds]:
        return {n: QueueThresholds(q.service_level_s, q.short_abandon_s) for n, q in acd.core.queues.items()}

    return TodayReport(store, b.clock, thresholds, lambda: b.settings.engine.time_zone)


@contextlib.asynccontextmanager
async def _periodic_jobs(b: Basics, store: SqlStore, today: TodayReport) -> AsyncIterator[QualityMetrics]:
    """The store's periodic jobs: retention, the FCR gauge (CSAT and FCR on Prometheus), and the
    "today" gauges from the store (so they survive a restart)."""
    settings, clock = b.settings, b.clock
    quality = QualityMetrics(b.telemetry)
    c = settings.customers
    jobs = (RetentionJob(store, settings, clock), FcrGaugeJob(store, quality, clock, fcr_days=c.fcr_days, satisfied_min=c.csat_satisfied_min),
            TodayGaugeJob(today, b.telemetry))
    for job in jobs:
        job.start()
    try:
        yield quality
    finally:
        for job in reversed(jobs):
            await job.stop()


@contextlib.asynccontextmanager
async def _flows(b: Basics, ivr: IvrEntry, acd: AcdService, ami: AmiClient, store: SqlStore, calllog: MemoryCallLog,
                 sessions: AgiSessions, quality: QualityMetrics) -> AsyncIterator[FlowParts | None]:
    """Flows from ``flows.directory``, reloaded on change; every inbound call runs its flow."""
    s, clock = b.settings, b.clock
    if not s.flows.directory:  # flows off: every call hears the greeting and waits in the fallback queue
        yield None
        return
    registry = FlowRegistry(s.flows.directory, sound_dirs=s.flows.sound_dirs, default_flow=s.flows.default_flow, clock=clock)
    await asyncio.to_thread(registry.reload)
    await asyncio.to_thread(_warn_unknown_names, s)
    registry.start_watching()
    channels = CallChannels()
    callbacks = RecordedCallbacks(calllog)
    http = AiohttpPort()
    ports = FlowPorts(
        directory=store, verification=SqlVerification(store, clock, LockoutPolicy(s.verification.max_failures, s.verification.window_s),
                                                      on_attempt=b.telemetry.verification_attempt),
        recorder=calllog, queue=AcdQueuePort(acd, channels, clock), http=http, callbacks=callbacks,
        tasks=StoreTaskPort(store, acd.core, clock, b.live, fallback_queue=s.flows.fallback_queue, emit=b.fanout.emit),
    )
    interpreter = FlowInterpreter(ports, clock, fallback_queue=s.flows.fallback_queue)
    ivr.flow_runner = engine_flow_runner(registry, interpreter, channels, ami)
    survey = PostCallSurvey(acd.core, calllog, registry, interpreter, quality=quality,
                            csat_satisfied_min=s.customers.csat_satisfied_min, emit=b.fanout.emit)
    sessions.survey.fill(survey)
    try:
        yield FlowParts(registry, callbacks, survey)
    finally:
        ivr.flow_runner = None
        sessions.survey.clear()
        await registry.stop()
        await http.close()


def build_use_cases(b: Basics, acd: AcdService, desk: AgentDesk, saved: CustomerStore, calllog: MemoryCallLog, ami: AmiClient,
                    flows: FlowRegistry | None, reload: ConfigReload, today: TodayReport) -> UseCases:
    """Each use case from exactly the parts it needs (the HTTP handlers get these, not the engine)."""
    s, clock, store = b.settings, b.clock, saved.store
    return UseCases(
        agents=AgentStates(acd, desk, clock),
        supervision=Supervision(acd),
        wallboard=Wallboard(acd, store, clock, today),
        interactions=Interactions(store, calllog),
        reports=Reports(store, acd, clock, s.customers),
        customers=Customers(store, acd, calllog, saved.records, clock, s.customers, phone_region=s.database.phone_region,
                            spool_dir=s.database.spool_dir, webhook_token_hash=lambda: b.live.webhook_token_hash),
        tasks=Tasks(store, acd, clock, b.live.task_types, b.fanout.emit, callback_attempts=lambda: b.live.tasks.callback_attempts),
        admin=Administration(flows, reload),
        readiness=Readiness(ami, store, saved.records, s.http.ready_spool_max_bytes),
    )


async def _load_users(settings: Settings, core: AcdCore) -> Users:
    """config/users.yaml, validated before anything reaches the PBX; demo tokens are refused
    against a real PBX."""
    users = load_users(Path(settings.config_dir) / "users.yaml", set(core.agents))
    demo_users = await asyncio.to_thread(users.with_demo_tokens)
    if demo_users:  # public tokens: fine for the demo, never against a real PBX
        refusal = demo_tokens_refusal(settings.pbx.mode, demo_users, users.path)
        if refusal is not None:
            log.error_event("http.users.demo_tokens", users=",".join(demo_users), fix="acd users token <id>")
            raise ConfigError([refusal])
        log.warn_event("http.users.demo_tokens", users=",".join(demo_users), fix="acd users token <id>")
    return users


def _answer_supervisor_phones(users: Users, pbx: SimPbx | None) -> None:
    """The simulated PBX answers supervisors' phones (listen / whisper / barge)."""
    if pbx is None:
        return
    from acd.sim import AgentBehaviour

    for entry in users.entries.values():
        if entry.endpoint:
            pbx.agents.setdefault(entry.endpoint.partition("/")[2], AgentBehaviour(answer_after_s=1.0, talk_s=None))


@contextlib.asynccontextmanager
async def _http(b: Basics, cases: UseCases, users: Users, acd: AcdService, calllog: MemoryCallLog) -> AsyncIterator[HttpParts]:
    cfg = b.settings.http
    app = create_web_app(b.telemetry.render)
    bus = EventBus()
    b.fanout.listeners.append(lambda kind, data: bus.publish(kind, data, agents=task_audience(acd.core, kind, data)))
    feed = QueueFeed(acd, b.clock, b.fanout.emit)  # queue events: callers joining and leaving
    calllog.observers.append(feed)  # the records this node writes ...
    acd.feeds.append(feed)  # ... and, on a node that follows the log, the leader's
    add_api(app, cases, users, bus, b.clock)
    add_ops(app, cases.readiness, access_log=cfg.access_log)
    # a stop waits this long for requests in flight (aiohttp's default is 60 s): an event stream left
    # open by a browser must not hold the engine's stop, and the spool behind it, for a minute
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=HTTP_SHUTDOWN_S)
    await runner.setup()
    site = web.TCPSite(runner, cfg.host, cfg.port)
    await site.start()
    port: int = runner.addresses[0][1]
    log.event("http.listening", url=f"http://{cfg.host}:{port}/wallboard", agent_desktop=f"http://{cfg.host}:{port}/agent")
    try:
        yield HttpParts(app, bus, port)
    finally:
        await runner.cleanup()


def build_core(settings: Settings, clock: Clock, telemetry: Telemetry) -> tuple[AcdCore, MemoryCallLog, LiveConfig]:
    config_dir = Path(settings.config_dir)
    queues = load_queues(config_dir / "queues.yaml")
    agents = load_agents(config_dir / "agents.yaml")
    live = LiveConfig(ConfigFiles(desk=load_desk(config_dir / "desk.yaml"),
                                  tasks=load_task_config(config_dir / "tasks.yaml", frozenset(q.name for q in queues)),
                                  knowledge=load_cards(config_dir / "knowledge", [q.name for q in queues]),
                                  webhook_token_hash=settings.customers.webhook_token_hash))
    core = AcdCore(queues, agents, id_prefix=f"{settings.engine.node_id}-{uuid.uuid4().hex[:8]}", now=clock.now())
    calllog = MemoryCallLog(clock, observers=[IvrMetrics(telemetry)])
    return core, calllog, live


@contextlib.asynccontextmanager
async def run_engine(settings: Settings, *, with_demo: bool = False, clock: Clock | None = None) -> AsyncIterator[Engine]:
    """Build the engine bottom-up, each resource in its own context entered in order; yield the
    running engine (a frozen record of its parts); leave the contexts in reverse order."""
    clock_ = clock or SystemClock()  # one clock: "today" on /metrics is the day of the engine's clock
    telemetry = Telemetry(clock=clock_, day_tz=settings.engine.time_zone)
    core, calllog, live = build_core(settings, clock_, telemetry)
    if settings.flows.fallback_queue not in core.queues:
        raise ValueError(f"flows.fallback_queue {settings.flows.fallback_queue!r} is not a queue in {settings.config_dir}/queues.yaml")
    users = await _load_users(settings, core)  # every file checked before AMI, FastAGI or an agent is touched
    b = Basics(settings, clock_, telemetry, EventFanout(), live)
    sessions = AgiSessions()
    rng = random.Random(settings.demo.seed)  # the simulated agents', then the demo callers'
    async with contextlib.AsyncExitStack() as stack:
        agi = await stack.enter_async_context(agi_server(settings, telemetry, sessions))
        pbx = await stack.enter_async_context(sim_pbx(settings, core, agi, clock_, rng))
        _answer_supervisor_phones(users, pbx)
        demo = await stack.enter_async_context(demo_traffic(settings, pbx, rng)) if with_demo and pbx is not None else None
        ami = await stack.enter_async_context(ami_client(settings, pbx))
        monitor = redis_outage_monitor(telemetry)
        store = await stack.enter_async_context(live_store(settings, clock_, monitor))
        parts = await stack.enter_async_context(event_log(settings, monitor, telemetry.redis_replicas_behind))
        saved = await stack.enter_async_context(customer_store(settings, clock_, telemetry, calllog))
        if demo is not None:
            await seed_demo(saved.store, demo)
        acd = AcdService(core, ami, calllog, telemetry, clock_, store=store, node_id=settings.engine.node_id, config=live,
                         emit=b.fanout.emit, journal=parts.journal, recordings_dir=settings.recording.dir,
                         record_calls=settings.recording.enabled)
        if parts.lease is not None and parts.inbox is not None:
            acd.share_log(Replica(acd, parts.journal, parts.lease, parts.inbox, ttl_s=settings.live_state.lease_ttl_s))
            cfg = settings.live_state  # task events are not in the log: carried to every node (acd.service.taskrelay)
            await stack.enter_async_context(task_relay(cfg.redis_url, cfg.key_prefix, settings.engine.node_id, b.fanout.listeners,
                                                       b.fanout.emit))
        ivr = IvrEntry(acd, calllog, clock_, fallback_queue=settings.flows.fallback_queue, history=saved.store.timeline)
        sessions.acd.fill(acd)
        sessions.ivr.fill(ivr)
        desk = AgentDesk(acd, saved.store, calllog)
        desk.sections += [CardsSection(live, calllog), OpenTasksSection(saved.store), LastSurveySection(saved.store)]
        reconciler = await stack.enter_async_context(_acd_service(acd, ami, ivr, calllog, saved, agi))
        tasks = await stack.enter_async_context(_task_runner(b, saved.store, acd))
        today = _today_report(b, saved.store, acd)  # the wallboard's and the gauges' one day report
        quality = await stack.enter_async_context(_periodic_jobs(b, saved.store, today))
        flows = await stack.enter_async_context(_flows(b, ivr, acd, ami, saved.store, calllog, sessions, quality))
        reload = ConfigReload(Path(settings.config_dir), acd, live, users)
        cases = build_use_cases(b, acd, desk, saved, calllog, ami, flows.registry if flows else None, reload, today)
        http = await stack.enter_async_context(_http(b, cases, users, acd, calllog))
        engine = Engine(settings=settings, clock=clock_, telemetry=telemetry, fanout=b.fanout, live_config=live, core=acd.core,
                        calllog=calllog, agi=agi, ami=ami, acd=acd, ivr=ivr, store=store, customers=saved.store, records=saved.records,
                        journal=parts.journal, redis_monitor=monitor, reconciler=reconciler, tasks=tasks, quality=quality, desk=desk,
                        users=users, http=http, reload_config=reload, flow_parts=flows, pbx=pbx, demo=demo, lease=parts.lease,
                        inbox=parts.inbox)
        if demo is not None:
            demo.start()
        log.event("engine.started", node=settings.engine.node_id, mode=settings.pbx.mode, agi_port=agi.port)
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

    demo, pbx, calllog, core = engine.demo, engine.pbx, engine.calllog, engine.core
    assert demo is not None and pbx is not None  # a demo engine runs on the simulated PBX
    booked = frozenset(out.uniqueid for out in pbx.outcomes
                       if any(e["kind"] == "callback_requested" for e in calllog.timeline(out.uniqueid)))
    days = {name: engine.telemetry.queue_today(name) for name in core.queues}
    return summary_table(demo, days, booked, seconds)


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
        reloads: set[asyncio.Task[None]] = set()

        def on_sighup() -> None:
            task = asyncio.create_task(reload_on_signal(engine), name="acd-sighup-reload")
            reloads.add(task)
            task.add_done_callback(reloads.discard)

        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(signal.SIGHUP, on_sighup)
        started = engine.clock.now()
        try:
            await within(stop.wait(), duration_s)
        except TimeoutError:
            pass
        if engine.demo is not None:
            print(_demo_summary(engine, engine.clock.now() - started), file=sys.stderr)
