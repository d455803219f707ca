"""Prometheus metrics of the engine, defined once on their own registry.

Names follow Prometheus conventions (``acd_`` prefix, seconds, ``_total`` counters) and carry no
high-cardinality labels: queue, state, result and command names only, never caller numbers or
call ids. Gauges that mirror live state are filled at scrape time by a collector callback.
"""

from __future__ import annotations

from typing import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily

WAIT_BUCKETS = (5, 10, 15, 20, 30, 45, 60, 90, 120, 180, 300, 600)
TALK_BUCKETS = (15, 30, 60, 120, 180, 300, 600, 900, 1800)
LATENCY_BUCKETS = (0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)


class _LiveCollector:
    def __init__(self, snapshot: Callable[[], dict]) -> None:
        self.snapshot = snapshot

    def collect(self):
        snap = self.snapshot()
        waiting = GaugeMetricFamily("acd_queue_calls_waiting", "Calls waiting in the queue now", labels=["queue"])
        longest = GaugeMetricFamily("acd_queue_longest_wait_seconds", "Wait of the longest-waiting call now", labels=["queue"])
        for name, q in snap.get("queues", {}).items():
            waiting.add_metric([name], q["waiting"])
            longest.add_metric([name], q["longest_wait_s"])
        states = GaugeMetricFamily("acd_agents", "Agents by state now", labels=["state"])
        counts: dict[str, int] = {}
        for agent in snap.get("agents", {}).values():
            counts[agent["state"]] = counts.get(agent["state"], 0) + 1
        for state in ("logged_out", "ready", "reserved", "ringing", "on_call", "wrap_up", "not_ready"):
            states.add_metric([state], counts.get(state, 0))
        yield waiting
        yield longest
        yield states

    def describe(self):
        return []


class Telemetry:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.calls_offered = Counter("acd_calls_offered_total", "Calls that entered a queue", ["queue"], registry=r)
        self.calls_answered = Counter("acd_calls_answered_total", "Queued calls connected to an agent", ["queue"], registry=r)
        self.calls_answered_in_sl = Counter("acd_calls_answered_within_sl_total", "Calls answered within the queue's service-level target", ["queue"], registry=r)
        self.calls_abandoned = Counter("acd_calls_abandoned_total", "Callers who hung up while waiting", ["queue"], registry=r)
        self.wait = Histogram("acd_queue_wait_seconds", "Time from queue entry to answer or abandon", ["queue", "outcome"], buckets=WAIT_BUCKETS, registry=r)
        self.talk = Histogram("acd_talk_seconds", "Time connected to the agent", ["queue"], buckets=TALK_BUCKETS, registry=r)
        self.offers = Counter("acd_offers_total", "Offers to agents by result", ["result"], registry=r)
        self.routing = Histogram("acd_routing_decision_seconds", "Time to take one routing pass", buckets=LATENCY_BUCKETS, registry=r)
        self.ami_up = Gauge("acd_ami_link_up", "1 while the AMI link is logged in", registry=r)
        self.ami_reconnects = Counter("acd_ami_reconnects_total", "AMI reconnects", registry=r)
        self.state_repairs = Counter("acd_state_repairs_total", "Live-state repairs after an AMI (re)connect", ["kind"], registry=r)
        self.agi_sessions = Counter("acd_agi_sessions_total", "FastAGI sessions accepted", ["script"], registry=r)
        self.agi_active = Gauge("acd_agi_sessions_active", "FastAGI sessions open now", registry=r)
        self.agi_command = Histogram("acd_agi_command_seconds", "FastAGI command round trip (includes caller time for prompts)", ["command"], buckets=LATENCY_BUCKETS + (5, 30), registry=r)
        self.ivr_sessions = Counter("acd_ivr_sessions_total", "Calls that entered the IVR", ["flow"], registry=r)

    def watch_live_state(self, snapshot: Callable[[], dict]) -> None:
        self.registry.register(_LiveCollector(snapshot))

    def render(self) -> bytes:
        return generate_latest(self.registry)
