"""The running engine as the CLI, the benches and the tests see it: a frozen record of the parts
``acd.app.run_engine`` built, made once every part is running. No part reads it (each was given
its own collaborators); nothing is written to it. What a config reload replaces lives in
``acd.service.liveconfig.LiveConfig`` (``Engine.live_config``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from acd.logs import get_logger

if TYPE_CHECKING:
    from aiohttp import web

    from acd.agi import FastAgiServer
    from acd.ami import AmiClient
    from acd.clock import Clock
    from acd.eventlog import OutageMonitor
    from acd.eventlog.inbox import RedisInbox
    from acd.eventlog.redis_lease import RedisLeaderLease
    from acd.flows.registry import FlowRegistry
    from acd.http.events import EventBus
    from acd.http.users import Users
    from acd.livestate import LiveStore
    from acd.routing.core import AcdCore
    from acd.service.acd import AcdService
    from acd.service.calllog import MemoryCallLog
    from acd.service.configreload import ConfigReload
    from acd.service.desk import AgentDesk
    from acd.service.flowports import RecordedCallbacks
    from acd.service.ivr import IvrEntry
    from acd.service.journal import Journal
    from acd.service.liveconfig import LiveConfig
    from acd.service.reconcile import Reconciler
    from acd.service.survey import PostCallSurvey
    from acd.settings import Settings
    from acd.sim import SimPbx
    from acd.sim.demo import DemoTraffic
    from acd.store.durable import DurableRecorder
    from acd.store.sql import SqlStore
    from acd.tasks.service import TaskRunner
    from acd.telemetry import Telemetry
    from acd.telemetry.quality import QualityMetrics

log = get_logger(__name__)

Listener = Callable[[str, dict[str, Any]], object]


class EventFanout:
    """The live push stream's source: ``emit`` hands each event to every listener (the HTTP
    event bus, a test's probe); a listener that fails is logged and never breaks call handling."""

    def __init__(self) -> None:
        self.listeners: list[Listener] = []

    def emit(self, kind: str, data: dict[str, Any]) -> None:
        for listener in list(self.listeners):
            try:
                listener(kind, data)
            except Exception as exc:  # noqa: BLE001 - a listener must never break call handling
                log.error_event("engine.listener_failed", kind=kind, error=f"{type(exc).__name__}: {exc}")


@dataclass(frozen=True)
class FlowParts:
    """What ``flows.directory`` adds to an engine (none of it when flows are off)."""

    registry: FlowRegistry
    callbacks: RecordedCallbacks
    survey: PostCallSurvey  # [acd-survey] sessions


@dataclass(frozen=True)
class HttpParts:
    app: web.Application
    bus: EventBus
    port: int


@dataclass(frozen=True)
class Engine:
    """The running engine's parts, already built (``acd.app.run_engine``)."""

    settings: Settings
    clock: Clock
    telemetry: Telemetry
    fanout: EventFanout
    live_config: LiveConfig  # desk, tasks and knowledge cards: what a config reload replaces
    core: AcdCore
    calllog: MemoryCallLog
    agi: FastAgiServer
    ami: AmiClient
    acd: AcdService
    ivr: IvrEntry
    store: LiveStore  # the live-state store (memory or Redis)
    customers: SqlStore  # the customer store (SQL)
    records: DurableRecorder
    journal: Journal  # the ACD's event log (acd.service.journal)
    redis_monitor: OutageMonitor  # one outage count for every Redis object of the node
    reconciler: Reconciler
    tasks: TaskRunner  # escalations and due call-backs
    quality: QualityMetrics  # CSAT and FCR on Prometheus
    desk: AgentDesk
    users: Users
    http: HttpParts
    reload_config: ConfigReload  # config/ re-read (POST /api/v1/config/reload, SIGHUP)
    flow_parts: FlowParts | None = None  # None: flows are off
    pbx: SimPbx | None = None  # pbx.mode: sim
    demo: DemoTraffic | None = None
    lease: RedisLeaderLease | None = None  # the leader lease (several nodes)
    inbox: RedisInbox | None = None  # other nodes' inputs for the leader (several nodes)

    @property
    def listeners(self) -> list[Listener]:
        return self.fanout.listeners

    def emit(self, kind: str, data: dict[str, Any]) -> None:
        self.fanout.emit(kind, data)

    @property
    def flows(self) -> FlowRegistry | None:
        return self.flow_parts.registry if self.flow_parts is not None else None

    @property
    def callbacks(self) -> RecordedCallbacks | None:
        return self.flow_parts.callbacks if self.flow_parts is not None else None

    @property
    def survey(self) -> PostCallSurvey | None:
        return self.flow_parts.survey if self.flow_parts is not None else None

    @property
    def bus(self) -> EventBus:
        return self.http.bus

    @property
    def http_app(self) -> web.Application:
        return self.http.app

    @property
    def http_port(self) -> int:
        return self.http.port
