"""Every Prometheus metric of the acd engine, defined once on a dedicated registry.

The rest of the engine never touches ``prometheus_client`` directly: it calls the typed recording
methods of :class:`Telemetry` (``call_answered(queue, wait_s, sl_target_s)``, ``ami_link(up)``...).
``Telemetry()`` builds its own ``CollectorRegistry`` (tests get a fresh one each time) and
``render()`` returns the text exposition served at ``/metrics``.

Conventions: every name starts with ``acd_``; durations are in seconds (``_seconds``); counters end
in ``_total``; ratios are 0..1 (``_ratio``). Labels are only low-cardinality names an admin
configures or the code enumerates: queue, flow, step, state, outcome, result, method, reason,
kind, command, definition, part, direction. Never a caller number, a call id or a uniqueid: the
:class:`LabelGuard` replaces any label value that looks like one by ``"other"`` (and counts it).

Two families of figures:

* Counters and histograms ("since start"), from which Prometheus computes anything over any
  window (``increase(...[30m])``); the alert rules and most dashboard panels use these.
* "Today" gauges (``..._today_...``) computed at scrape time by a custom collector. The queue
  figures and occupancy come from the store (``store_day``, refreshed by
  :class:`acd.telemetry.today.TodayGaugeJob`, so they survive a restart); until it has answered,
  and for IVR containment, from per-day accumulators in memory. "Today" is the calendar day in
  ``day_tz`` (default UTC) of the injected :class:`~acd.clock.Clock`; the accumulators reset at
  midnight. A figure whose denominator is
  zero is not exposed at all (no sample), rather than exposed as 0 or NaN.

Formulas: every ratio comes from :mod:`acd.kpi` (one function per KPI, shared with the reports,
the live view and the wallboard); in short (T = the queue's service-level threshold passed with
each call, N = the short-abandon threshold; "within T" means wait <= T; a short abandon is an
abandon with wait < N):

* service level, definition ``answered``:
  ``answered_within_T / answered``
* service level, definition ``abandon_adjusted``:
  ``answered_within_T / (answered + abandoned_after_T)`` where ``abandoned_after_T`` counts
  abandons with wait > T that are not short abandons. Abandons within T are neutral.
* ASA (average speed of answer): ``sum(wait of answered calls) / answered``
* AHT (average handle time): ``sum(talk + hold + wrap) / completed calls``
* abandon rate: ``(abandoned - short_abandoned) / (offered - short_abandoned)``
* occupancy: ``time in busy states / time in staffed states`` with busy = on_call, wrap_up and
  staffed = ready, reserved, ringing, on_call, wrap_up (not_ready and logged_out excluded).
* IVR containment: ``sessions ended contained (self-service done) / sessions ended``.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from datetime import date, datetime
from collections.abc import Callable, Iterable, Iterator, Mapping
from zoneinfo import ZoneInfo

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector

from acd import kpi
from acd.clock import Clock, SystemClock
from acd.logs import get_logger
from acd.reports.today import day_start
from acd.telemetry.today import QueueToday, StoreDay

log = get_logger(__name__)

CONTENT_TYPE = CONTENT_TYPE_LATEST

# Contact-centre bucket layouts (seconds).
WAIT_BUCKETS = (5.0, 10.0, 15.0, 20.0, 30.0, 45.0, 60.0, 90.0, 120.0, 180.0, 300.0, 600.0, 900.0, 1800.0)
TALK_BUCKETS = (15.0, 30.0, 60.0, 90.0, 120.0, 180.0, 240.0, 300.0, 420.0, 600.0, 900.0, 1200.0, 1800.0, 3600.0)
ROUTING_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
EWT_ERROR_BUCKETS = (5.0, 10.0, 15.0, 30.0, 45.0, 60.0, 90.0, 120.0, 180.0, 300.0, 600.0)
AGI_COMMAND_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)

# Agent states as the routing model names them (acd.routing.model.AgentState values).
AGENT_STATES = ("logged_out", "ready", "reserved", "ringing", "on_call", "wrap_up", "not_ready")
AGENT_BUSY_STATES = kpi.BUSY_STATES
AGENT_STAFFED_STATES = kpi.STAFFED_STATES

SL_DEFINITIONS = kpi.SL_DEFINITIONS

# The FastAGI commands of Asterisk 22 (``agi show commands``): the only values of label ``command``.
AGI_COMMANDS = frozenset({
    "ANSWER", "ASYNCAGI BREAK", "CHANNEL STATUS", "CONTROL STREAM FILE", "DATABASE DEL", "DATABASE DELTREE",
    "DATABASE GET", "DATABASE PUT", "EXEC", "GET DATA", "GET FULL VARIABLE", "GET OPTION", "GET VARIABLE",
    "GOSUB", "HANGUP", "NOOP", "RECEIVE CHAR", "RECEIVE TEXT", "RECORD FILE", "SAY ALPHA", "SAY DATE",
    "SAY DATETIME", "SAY DIGITS", "SAY NUMBER", "SAY PHONETIC", "SAY TIME", "SEND IMAGE", "SEND TEXT",
    "SET AUTOHANGUP", "SET CALLERID", "SET CONTEXT", "SET EXTENSION", "SET MUSIC", "SET PRIORITY",
    "SET VARIABLE", "SPEECH ACTIVATE GRAMMAR", "SPEECH CREATE", "SPEECH DEACTIVATE GRAMMAR", "SPEECH DESTROY",
    "SPEECH LOAD GRAMMAR", "SPEECH RECOGNIZE", "SPEECH SET", "SPEECH UNLOAD GRAMMAR", "STREAM FILE",
    "TDD MODE", "VERBOSE", "WAIT FOR DIGIT",
})
OTHER = "other"


# --------------------------------------------------------------------------- label guard
_ALLOWED = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.:/ -]{0,63}$")
_DIGITS = re.compile(r"\d")
_UUIDISH = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-|^\d{6,}\.\d+$")


class LabelGuard:
    """Keeps label values low-cardinality.

    A value is replaced by ``"other"`` when it contains 6 or more digits (a phone number, a call
    id, an Asterisk uniqueid ``1795355634.142``), looks like a UUID, is longer than 64 characters
    or uses other characters than letters, digits and ``_ . : / - space``, or when the label
    already has ``max_values`` distinct values. Each replacement is counted in
    ``acd_telemetry_label_values_rejected_total{label, reason}`` and logged once per label and
    reason, without the value (it may be personal data).
    """

    def __init__(self, max_values: int = 500) -> None:
        self.max_values = max_values
        self._seen: dict[str, set[str]] = {}
        self._warned: set[tuple[str, str]] = set()
        self.rejected: Counter | None = None

    @staticmethod
    def problem(value: str) -> str | None:
        """Why ``value`` may not be a label value (None if it may)."""
        if len(_DIGITS.findall(value)) >= 6:
            return "digits"
        if _UUIDISH.search(value):
            return "identifier"
        if not _ALLOWED.match(value):
            return "format"
        return None

    def __call__(self, label: str, value: object) -> str:
        text = value.value if hasattr(value, "value") and isinstance(value.value, str) else str(value)
        reason = self.problem(text)
        if reason is None:
            seen = self._seen.setdefault(label, set())
            if text in seen:
                return text
            if len(seen) < self.max_values:
                seen.add(text)
                return text
            reason = "too_many_values"
        if self.rejected is not None:
            self.rejected.labels(label=label, reason=reason).inc()
        if (label, reason) not in self._warned:
            self._warned.add((label, reason))
            log.warn_event("telemetry.label.rejected", label=label, reason=reason)
        return OTHER


# --------------------------------------------------------------------------- per-day accumulators
@dataclass
class QueueDay:
    """One queue's figures for the current day; the ratios are None when undefined."""

    offered: int = 0
    answered: int = 0
    answered_within_sl: int = 0
    abandoned: int = 0
    abandoned_short: int = 0
    abandoned_after_sl: int = 0
    wait_answered_s: float = 0.0
    completed: int = 0
    handle_s: float = 0.0

    def service_level(self, definition: str = "answered") -> float | None:
        return kpi.service_level_by(definition, self.answered_within_sl, self.answered, self.abandoned_after_sl)

    @property
    def asa_s(self) -> float | None:
        return kpi.asa(self.wait_answered_s, self.answered)

    @property
    def aht_s(self) -> float | None:
        return kpi.aht(self.handle_s, self.completed)

    @property
    def abandon_rate(self) -> float | None:
        return kpi.abandon_rate(self.abandoned, self.abandoned_short, self.offered)


@dataclass
class _Day:
    day: date
    queues: dict[str, QueueDay] = field(default_factory=dict)
    agent_state_s: dict[str, float] = field(default_factory=dict)
    ivr_ended: dict[str, int] = field(default_factory=dict)
    ivr_contained: dict[str, int] = field(default_factory=dict)

    def queue(self, name: str) -> QueueDay:
        q = self.queues.get(name)
        if q is None:
            q = self.queues[name] = QueueDay()
        return q

    def occupancy(self) -> float | None:
        return kpi.occupancy_from_states(self.agent_state_s)

    def containment(self, flow: str) -> float | None:
        ended = self.ivr_ended.get(flow, 0)
        return self.ivr_contained.get(flow, 0) / ended if ended else None


class _TodayCollector(Collector):
    """Computes the "today" gauges at scrape time from the per-day accumulators."""

    def __init__(self, telemetry: Telemetry) -> None:
        self._t = telemetry

    def describe(self) -> Iterable[Metric]:
        return list(self._families())

    def collect(self) -> Iterable[Metric]:
        return list(self._families(self._t._today_snapshot(), self._t.current_store_day()))

    def _families(self, day: _Day | None = None, stored: StoreDay | None = None) -> Iterator[Metric]:
        """Queues and occupancy from the store's figures of today when there are (they survive a
        restart: ``acd.telemetry.today``), else from the counters in memory."""
        sl = GaugeMetricFamily(
            "acd_queue_service_level_today_ratio",
            "Service level today: definition=answered is answered within T / answered; "
            "definition=abandon_adjusted is answered within T / (answered + abandoned after T).",
            labels=["queue", "definition"],
        )
        asa = GaugeMetricFamily("acd_queue_asa_today_seconds", "Average speed of answer today.", labels=["queue"])
        aht = GaugeMetricFamily(
            "acd_queue_aht_today_seconds", "Average handle time (talk + hold + wrap) today.", labels=["queue"]
        )
        abandon = GaugeMetricFamily(
            "acd_queue_abandon_rate_today_ratio",
            "Abandon rate today: (abandoned - short abandoned) / (offered - short abandoned).",
            labels=["queue"],
        )
        calls = GaugeMetricFamily(
            "acd_queue_calls_today",
            "Calls today by outcome (offered, answered, answered_within_sl, abandoned, abandoned_short, completed).",
            labels=["queue", "outcome"],
        )
        occupancy = GaugeMetricFamily(
            "acd_agent_occupancy_today_ratio", "Agent occupancy today: busy time / staffed time."
        )
        containment = GaugeMetricFamily(
            "acd_ivr_containment_today_ratio",
            "IVR self-service completion today: contained sessions / ended sessions.",
            labels=["flow"],
        )
        if day is not None:
            queues: Mapping[str, QueueDay | QueueToday] = stored.queues if stored is not None else day.queues
            for name, q in sorted(queues.items()):
                for definition in SL_DEFINITIONS:
                    v = q.service_level(definition)
                    if v is not None:
                        sl.add_metric([name, definition], v)
                if q.asa_s is not None:
                    asa.add_metric([name], q.asa_s)
                if q.aht_s is not None:
                    aht.add_metric([name], q.aht_s)
                if q.abandon_rate is not None:
                    abandon.add_metric([name], q.abandon_rate)
                for outcome, n in (
                    ("offered", q.offered),
                    ("answered", q.answered),
                    ("answered_within_sl", q.answered_within_sl),
                    ("abandoned", q.abandoned),
                    ("abandoned_short", q.abandoned_short),
                    ("completed", q.completed),
                ):
                    calls.add_metric([name, outcome], n)
            occ = stored.occupancy if stored is not None else day.occupancy()
            if occ is not None:
                occupancy.add_metric([], occ)
            for flow in sorted(day.ivr_ended):
                c = day.containment(flow)
                if c is not None:
                    containment.add_metric([flow], c)
        yield from (sl, asa, aht, abandon, calls, occupancy, containment)


# --------------------------------------------------------------------------- the facade
class Telemetry:
    """All metrics of the engine on one registry, with typed recording methods.

    ``Telemetry(registry=None, clock=None, day_tz="UTC")``: without a registry a fresh
    ``CollectorRegistry`` is made (never the global default one), so several engines or tests
    never share counters.
    """

    def __init__(
        self,
        registry: CollectorRegistry | None = None,
        clock: Clock | None = None,
        day_tz: str = "UTC",
        max_label_values: int = 500,
    ) -> None:
        self.registry = registry if registry is not None else CollectorRegistry(auto_describe=True)
        self.clock: Clock = clock if clock is not None else SystemClock()
        self._tz = ZoneInfo(day_tz)
        self._lock = threading.Lock()
        self.guard = LabelGuard(max_label_values)
        self._day = _Day(self._today())
        r = self.registry

        # ---- per queue
        self.calls_offered = Counter("acd_queue_calls_offered", "Calls that entered the queue.", ["queue"], registry=r)
        self.calls_answered = Counter("acd_queue_calls_answered", "Queued calls answered by an agent.", ["queue"], registry=r)
        self.calls_answered_within_sl = Counter(
            "acd_queue_calls_answered_within_sl",
            "Queued calls answered with wait <= the queue's service-level threshold T.",
            ["queue"],
            registry=r,
        )
        self.calls_abandoned = Counter(
            "acd_queue_calls_abandoned", "Queued calls whose caller hung up before an answer (short abandons included).",
            ["queue"], registry=r,
        )
        self.calls_abandoned_short = Counter(
            "acd_queue_calls_abandoned_short",
            "Abandons with wait < the short-abandon threshold (also counted in acd_queue_calls_abandoned_total).",
            ["queue"],
            registry=r,
        )
        self.calls_abandoned_after_sl = Counter(
            "acd_queue_calls_abandoned_after_sl",
            "Abandons, short ones excluded, with wait > the service-level threshold T.",
            ["queue"],
            registry=r,
        )
        self.wait_seconds = Histogram(
            "acd_queue_wait_seconds", "Time in queue, by how the wait ended (answered or abandoned).",
            ["queue", "outcome"], buckets=WAIT_BUCKETS, registry=r,
        )
        self.talk_seconds = Histogram(
            "acd_queue_talk_seconds", "Talk time of completed calls.", ["queue"], buckets=TALK_BUCKETS, registry=r
        )
        self.handle_seconds = Counter(
            "acd_queue_handle_seconds", "Handle time of completed calls by part (talk, hold, wrap).",
            ["queue", "part"], registry=r,
        )
        self.calls_completed = Counter(
            "acd_queue_calls_completed", "Answered calls that finished (after wrap-up).", ["queue"], registry=r
        )
        self.calls_waiting = Gauge("acd_queue_calls_waiting", "Callers waiting in the queue now.", ["queue"], registry=r)
        self.longest_wait = Gauge(
            "acd_queue_longest_wait_seconds", "Wait of the longest-waiting caller now (0 if none).", ["queue"], registry=r
        )
        self.agents_logged_in = Gauge(
            "acd_queue_agents_logged_in", "Agents logged in (any state but logged_out) who serve the queue.",
            ["queue"], registry=r,
        )
        self.agents_available = Gauge(
            "acd_queue_agents_available", "Agents in state ready who serve the queue.", ["queue"], registry=r
        )
        self.sl_target = Gauge(
            "acd_queue_service_level_threshold_seconds", "The queue's service-level threshold T.", ["queue"], registry=r
        )
        self.sl_goal = Gauge(
            "acd_queue_service_level_goal_ratio", "The queue's service-level goal (e.g. 0.8 for 80/20).",
            ["queue"], registry=r,
        )

        # ---- agents
        self.agents = Gauge("acd_agents", "Agents by state now.", ["state"], registry=r)
        self.agent_state_seconds = Counter(
            "acd_agent_state_seconds", "Agent time spent per state (occupancy = busy / staffed time).",
            ["state"], registry=r,
        )

        # ---- IVR
        self.ivr_sessions = Counter("acd_ivr_sessions", "IVR sessions started, by flow.", ["flow"], registry=r)
        self.ivr_step_visits = Counter("acd_ivr_step_visits", "IVR step visits.", ["flow", "step"], registry=r)
        self.ivr_sessions_ended = Counter(
            "acd_ivr_sessions_ended",
            "IVR sessions ended, by outcome: contained (self-service completed) or not_contained.",
            ["flow", "outcome"],
            registry=r,
        )
        self.verification_attempts = Counter(
            "acd_ivr_verification_attempts", "Caller verification attempts by method and result.",
            ["method", "result"], registry=r,
        )

        # ---- engine
        self.routing_decision_seconds = Histogram(
            "acd_routing_decision_seconds", "Time the routing engine took for one decision.",
            buckets=ROUTING_BUCKETS, registry=r,
        )
        self.ewt_error_seconds = Histogram(
            "acd_ewt_error_seconds",
            "Absolute error of the announced estimated wait time against the actual wait; "
            "direction=late: waited longer than announced, early: shorter.",
            ["direction"], buckets=EWT_ERROR_BUCKETS, registry=r,
        )
        self.ami_link_up = Gauge("acd_ami_link_up", "1 when the AMI link to Asterisk is logged in and alive.", registry=r)
        self.ami_reconnects = Counter("acd_ami_reconnects", "AMI reconnections after a lost link.", registry=r)
        self.spool_backlog_bytes = Gauge(
            "acd_spool_backlog_bytes", "Call-record bytes in the local spool not yet written to the database.", registry=r
        )
        self.database_write_failures = Counter(
            "acd_database_write_failures", "Failed attempts to write a batch of call records to the database "
            "(the records stay in the spool and are retried).", registry=r,
        )
        self.redis_outages = Counter("acd_redis_outages", "Redis outages (down, then up again count once).", registry=r)
        self.redis_down = Gauge("acd_redis_down", "1 while this node cannot reach Redis (the shared log and lease), else 0.", registry=r)
        self.is_leader = Gauge("acd_node_leader", "1 while this node holds the leader lease and routes.", registry=r)
        self.replicas_behind = Gauge("acd_redis_replicas_behind", "1 while the leader waits for Redis replicas to hold an "
                                     "appended input (live_state.wait_replicas): routing is paused, else 0.", registry=r)
        self.replica_waits = Counter("acd_redis_replica_waits", "Appends to the shared log that waited past "
                                     "live_state.wait_replicas_ms for Redis replicas.", registry=r)
        self.state_repairs = Counter(
            "acd_state_repairs", "Live-state corrections made by reconciliation, by kind.", ["kind"], registry=r
        )
        self.agi_sessions_active = Gauge("acd_agi_sessions_active", "FastAGI sessions open now.", registry=r)
        self.agi_sessions = Counter("acd_agi_sessions", "FastAGI sessions accepted, by script (ivr, claim).",
                                    ["script"], registry=r)
        self.agent_offers = Counter(
            "acd_agent_offers", "Calls offered to agents (agent legs originated), by result "
            "(answered, rona, busy, failed, cancelled, lost_claim).", ["result"], registry=r,
        )
        self.agi_sessions_rejected = Counter(
            "acd_agi_sessions_rejected", "FastAGI connections refused at the concurrent-session limit.", registry=r
        )
        self.agi_command_seconds = Histogram(
            "acd_agi_command_seconds", "FastAGI command round trip (command sent to reply read).",
            ["command"], buckets=AGI_COMMAND_BUCKETS, registry=r,
        )
        self.guard.rejected = Counter(
            "acd_telemetry_label_values_rejected",
            "Label values replaced by 'other' because they looked high-cardinality.",
            ["label", "reason"], registry=r,
        )
        self.ami_link_up.set(0)
        self._scrape_hooks: list[Callable[[Telemetry], None]] = []
        self._queues_seen: set[str] = set()
        self.store_day: StoreDay | None = None  # today's figures from the store (acd.telemetry.today.TodayGaugeJob)
        r.register(_TodayCollector(self))

    # ------------------------------------------------------------------ helpers
    def _today(self) -> date:
        return datetime.fromtimestamp(self.clock.now(), self._tz).date()

    def _current_day(self) -> _Day:
        """The accumulators of today (reset when the clock crossed midnight); hold the lock."""
        today = self._today()
        if today != self._day.day:
            self._day = _Day(today)
        return self._day

    def current_store_day(self) -> StoreDay | None:
        """The store's figures if they are of today (not yesterday's, just after midnight)."""
        stored = self.store_day
        return stored if stored is not None and stored.day_start == day_start(self.clock.now(), self._tz) else None

    def _today_snapshot(self) -> _Day:
        with self._lock:
            return self._current_day()

    def _q(self, queue: str) -> str:
        """The guarded queue label; the first time a queue is seen, all its counters are created
        at 0, so that ratios in PromQL (within SL / answered, (abandoned - short) / ...) exist
        from the start instead of being absent until the first event of each kind."""
        q = self.guard("queue", queue)
        if q not in self._queues_seen:
            self._queues_seen.add(q)
            for counter in (self.calls_offered, self.calls_answered, self.calls_answered_within_sl,
                            self.calls_abandoned, self.calls_abandoned_short, self.calls_abandoned_after_sl,
                            self.calls_completed):
                counter.labels(q)
            for part in ("talk", "hold", "wrap"):
                self.handle_seconds.labels(q, part)
        return q

    # ------------------------------------------------------------------ queues
    def set_queue_targets(self, queue: str, sl_threshold_s: float, sl_goal: float) -> None:
        """Publish the queue's service-level threshold T and goal (used by the breach alert)."""
        q = self._q(queue)
        self.sl_target.labels(q).set(sl_threshold_s)
        self.sl_goal.labels(q).set(sl_goal)

    def call_offered(self, queue: str) -> None:
        q = self._q(queue)
        self.calls_offered.labels(q).inc()
        with self._lock:
            self._current_day().queue(q).offered += 1

    def call_answered(self, queue: str, wait_s: float, sl_target_s: float) -> None:
        q = self._q(queue)
        wait_s = max(0.0, wait_s)
        within = kpi.within_service_level(wait_s, sl_target_s)
        self.calls_answered.labels(q).inc()
        if within:
            self.calls_answered_within_sl.labels(q).inc()
        self.wait_seconds.labels(q, "answered").observe(wait_s)
        with self._lock:
            d = self._current_day().queue(q)
            d.answered += 1
            d.answered_within_sl += within
            d.wait_answered_s += wait_s

    def call_abandoned(self, queue: str, wait_s: float, sl_target_s: float, short_abandon_s: float) -> None:
        q = self._q(queue)
        wait_s = max(0.0, wait_s)
        short = kpi.is_short_abandon(wait_s, short_abandon_s)
        after_sl = kpi.abandoned_after_service_level(wait_s, sl_target_s, short_abandon_s)
        self.calls_abandoned.labels(q).inc()
        if short:
            self.calls_abandoned_short.labels(q).inc()
        if after_sl:
            self.calls_abandoned_after_sl.labels(q).inc()
        self.wait_seconds.labels(q, "abandoned").observe(wait_s)
        with self._lock:
            d = self._current_day().queue(q)
            d.abandoned += 1
            d.abandoned_short += short
            d.abandoned_after_sl += after_sl

    def call_completed(self, queue: str, talk_s: float, hold_s: float = 0.0, wrap_s: float = 0.0) -> None:
        q = self._q(queue)
        talk_s, hold_s, wrap_s = max(0.0, talk_s), max(0.0, hold_s), max(0.0, wrap_s)
        self.calls_completed.labels(q).inc()
        self.talk_seconds.labels(q).observe(talk_s)
        self.handle_seconds.labels(q, "talk").inc(talk_s)
        self.handle_seconds.labels(q, "hold").inc(hold_s)
        self.handle_seconds.labels(q, "wrap").inc(wrap_s)
        with self._lock:
            d = self._current_day().queue(q)
            d.completed += 1
            d.handle_s += kpi.handle_time(talk_s, hold_s, wrap_s)

    def set_queue_snapshot(
        self,
        queue: str,
        waiting: int,
        longest_wait_s: float,
        agents_logged_in: int | None = None,
        agents_available: int | None = None,
    ) -> None:
        q = self._q(queue)
        self.calls_waiting.labels(q).set(waiting)
        self.longest_wait.labels(q).set(max(0.0, longest_wait_s) if waiting else 0.0)
        if agents_logged_in is not None:
            self.agents_logged_in.labels(q).set(agents_logged_in)
        if agents_available is not None:
            self.agents_available.labels(q).set(agents_available)

    def queue_today(self, queue: str) -> QueueDay:
        """A copy of the queue's figures today (for the API and the wallboard)."""
        with self._lock:
            d = self._current_day().queues.get(queue)
            return QueueDay(**vars(d)) if d is not None else QueueDay()

    def forget_queue(self, queue: str) -> None:
        """Drop the live gauges of a queue removed by a config reload."""
        for g in (self.calls_waiting, self.longest_wait, self.agents_logged_in, self.agents_available,
                  self.sl_target, self.sl_goal):
            try:
                g.remove(queue)
            except KeyError:
                pass

    # ------------------------------------------------------------------ agents
    def set_agent_states(self, counts: Mapping[str, int]) -> None:
        """Agents by state now; every known state is exposed, absent ones as 0."""
        values = {s: 0 for s in AGENT_STATES}
        for state, n in counts.items():
            key = self.guard("state", state)
            values[key] = values.get(key, 0) + n
        for state, n in values.items():
            self.agents.labels(state).set(n)

    def agent_time(self, state: str, seconds: float) -> None:
        """Time one agent spent in ``state`` (call it when the agent leaves the state)."""
        st = self.guard("state", state)
        seconds = max(0.0, seconds)
        self.agent_state_seconds.labels(st).inc(seconds)
        with self._lock:
            acc = self._current_day().agent_state_s
            acc[st] = acc.get(st, 0.0) + seconds

    def occupancy_today(self) -> float | None:
        with self._lock:
            return self._current_day().occupancy()

    # ------------------------------------------------------------------ IVR
    def ivr_session(self, flow: str) -> None:
        self.ivr_sessions.labels(self.guard("flow", flow)).inc()

    def ivr_step(self, flow: str, step: str) -> None:
        self.ivr_step_visits.labels(self.guard("flow", flow), self.guard("step", step)).inc()

    def ivr_contained(self, flow: str, contained: bool) -> None:
        """An IVR session ended: contained = the caller's need was served in self-service."""
        f = self.guard("flow", flow)
        other = "not_contained" if contained else "contained"
        self.ivr_sessions_ended.labels(f, other)  # exists at 0, so the containment ratio is 0, not absent
        self.ivr_sessions_ended.labels(f, "contained" if contained else "not_contained").inc()
        with self._lock:
            d = self._current_day()
            d.ivr_ended[f] = d.ivr_ended.get(f, 0) + 1
            if contained:
                d.ivr_contained[f] = d.ivr_contained.get(f, 0) + 1

    def verification_attempt(self, method: str, result: str) -> None:
        self.verification_attempts.labels(self.guard("method", method), self.guard("result", result)).inc()

    # ------------------------------------------------------------------ engine
    def routing_decision(self, seconds: float) -> None:
        self.routing_decision_seconds.observe(max(0.0, seconds))

    def ewt_error(self, seconds: float) -> None:
        """``seconds`` = actual wait - announced wait (positive: the caller waited longer)."""
        self.ewt_error_seconds.labels("late" if seconds > 0 else "early").observe(abs(seconds))

    def agent_offer(self, result: str) -> None:
        """One agent leg ended its offer: answered, rona (no answer), busy, failed, cancelled..."""
        self.agent_offers.labels(self.guard("result", result)).inc()

    def ami_link(self, up: bool) -> None:
        self.ami_link_up.set(1 if up else 0)

    def spool_backlog(self, nbytes: int) -> None:
        self.spool_backlog_bytes.set(max(0, nbytes))

    def database_write_failed(self) -> None:
        self.database_write_failures.inc()

    def ami_reconnect(self) -> None:
        self.ami_reconnects.inc()

    def redis_outage(self, down: bool, lasted_s: float = 0.0) -> None:
        """Redis went down (counted once per outage) or came back."""
        if down:
            self.redis_outages.inc()
        self.redis_down.set(1 if down else 0)

    def redis_replicas_behind(self, behind: bool) -> None:
        """An append waits for lagging Redis replicas (counted once per append), or they caught up."""
        if behind:
            self.replica_waits.inc()
        self.replicas_behind.set(1 if behind else 0)

    def leader(self, leading: bool) -> None:
        self.is_leader.set(1 if leading else 0)

    def state_repair(self, kind: str) -> None:
        self.state_repairs.labels(self.guard("kind", kind)).inc()

    def agi_session_started(self, script: str = "ivr") -> None:
        self.agi_sessions.labels(self.guard("script", script)).inc()
        self.agi_sessions_active.inc()

    def agi_session_ended(self) -> None:
        self.agi_sessions_active.dec()

    def agi_session_rejected(self) -> None:
        self.agi_sessions_rejected.inc()

    def agi_command(self, name: str, seconds: float) -> None:
        """The label is the AGI command words ("STREAM FILE", "EXEC"), never its arguments; a
        name that is not an Asterisk AGI command is labelled "UNKNOWN"."""
        words = name.upper().split()
        command = next(
            (" ".join(words[:n]) for n in (3, 2, 1) if " ".join(words[:n]) in AGI_COMMANDS), "UNKNOWN"
        )
        self.agi_command_seconds.labels(self.guard("command", command)).observe(max(0.0, seconds))

    # ------------------------------------------------------------------ exposition
    def add_scrape_hook(self, hook: Callable[[Telemetry], None]) -> None:
        """``hook(telemetry)`` runs at each ``render()`` before the exposition is made, e.g. to
        push ``set_queue_snapshot``/``set_agent_states`` from the live state. A hook that raises
        is logged and skipped: a scrape never fails because of one."""
        self._scrape_hooks.append(hook)

    def render(self) -> bytes:
        """The text exposition format (``Content-Type: CONTENT_TYPE``)."""
        for hook in self._scrape_hooks:
            try:
                hook(self)
            except Exception as exc:  # noqa: BLE001 - a scrape must not die of a hook
                log.error_event("telemetry.scrape_hook.failed", error=type(exc).__name__)
        return generate_latest(self.registry)

    def sample_names(self) -> set[str]:
        """Every sample name this registry can expose (``_total``, ``_bucket``... included),
        whether or not a labelled child exists yet. For tests that check dashboards and rules."""
        suffixes = {
            "counter": ("_total", "_created"),
            "histogram": ("_bucket", "_sum", "_count", "_created"),
            "gauge": ("",),
            "summary": ("_sum", "_count", "_created"),
            "info": ("_info",),
        }
        names: set[str] = set()
        for family in self.registry.collect():
            for suffix in suffixes.get(family.type, ("",)):
                names.add(family.name + suffix)
        return names
