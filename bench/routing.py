"""Routing: decisions per second and decision latency with many agents, skills and waiting calls,
against the app_queue-style baseline (``bench.appqueue``): on an agent freed, scan the waiting
calls of that agent's queues in order, as Asterisk's app_queue does."""

from __future__ import annotations

import asyncio
import random
import time
import uuid

from acd.routing import inputs as ev
from acd.routing.commands import Ring
from acd.routing.core import AcdCore
from acd.routing.model import AgentConfig, AgentState, QueueConfig
from acd.clock import FakeClock
from bench.appqueue import AppQueueBaseline
from bench.common import Row, percentile


def _decide(core: AcdCore, clock: FakeClock, agent_id: str) -> list:
    """The freed agent becomes ready: one event through ``handle``, routing included."""
    out = core.handle(ev.AgentReady(clock.now(), agent_id))
    return [(c.offer, None) for c in out if isinstance(c, Ring)]


def _answer(core: AcdCore, clock: FakeClock, offer) -> None:
    core.handle(ev.CallerBridged(clock.now(), offer.call_id, "PJSIP/c"))


def build(n_agents: int, n_skills: int, n_calls: int, seed: int = 7) -> tuple[AcdCore, FakeClock]:
    rng = random.Random(seed)
    clock = FakeClock()
    skills = [f"s{i}" for i in range(n_skills)]
    # strict priority, then arrival (no aging): the order app_queue keeps, so both pick the same call
    queues = [QueueConfig(name=f"q{i}", skills={skills[i]: 1}, priority_aging_s=0) for i in range(n_skills)]
    agents = [
        AgentConfig(id=f"a{i}", name=f"a{i}", endpoint=f"PJSIP/a{i}", skills={s: rng.randint(1, 5) for s in rng.sample(skills, 3)})
        for i in range(n_agents)
    ]
    core = AcdCore(queues, agents, now=clock.now())
    for i in range(n_calls):
        q = queues[rng.randrange(n_skills)]
        core.handle(ev.CallQueued(clock.now(), f"c{i}", q.name, f"PJSIP/c-{i}", clock.now() - rng.uniform(0, 120), priority=rng.randint(0, 2)))
    for a in core.agents.values():  # every agent busy (set up directly): each decision starts from one freed agent
        a.state = AgentState.ON_CALL
    return core, clock


def agents_finishing_calls(core, decisions: int):
    """One decision each: a random busy agent ends its call (in wrap-up, about to be free), while
    calls still wait. The same sequence for every measure (a fixed seed)."""
    ids = list(core.agents)
    rng = random.Random(1)
    for _ in range(decisions):
        if not any(core.waiting.values()):
            return
        agent = core.agents[rng.choice(ids)]
        if agent.state != AgentState.ON_CALL:
            continue
        agent.state = AgentState.NOT_READY  # its call and wrap-up are over: the next event makes it ready
        yield agent


def measure(n_agents: int, n_skills: int, n_calls: int, decisions: int) -> tuple[list[float], list[float], int]:
    """The core's decision (one ``AgentReady`` through ``handle``) and the app_queue-style scan
    for the same freed agent, on the same state. Returns both latencies and how many times the
    two chose a different call or agent."""
    core, clock = build(n_agents, n_skills, n_calls)
    baseline = AppQueueBaseline(core)
    fast, appq, disagreements = [], [], 0
    for agent in agents_finishing_calls(core, decisions):
        t1 = time.perf_counter()
        theirs = baseline.agent_freed(agent.id, clock.now())
        appq.append(time.perf_counter() - t1)
        t0 = time.perf_counter()
        offers = _decide(core, clock, agent.id)
        fast.append(time.perf_counter() - t0)
        ours = (offers[0][0].call_id, offers[0][0].agent_id) if offers else None
        disagreements += ours != theirs
        for offer, _ in offers:  # answered at once: the agent is busy again
            _answer(core, clock, offer)
            if offer.call_id in baseline.callers:
                baseline.answered(offer.call_id)
    return fast, appq, disagreements


async def measure_with_store(n_agents: int, n_skills: int, n_calls: int, decisions: int) -> list[float]:
    """Decision latency when every reservation also goes through the Redis live store (an atomic
    Lua script on the real server), as it does with several engine nodes."""
    from acd.livestate.redis import RedisLiveStore

    core, clock = build(n_agents, n_skills, n_calls)
    prefix = f"acdbench:{uuid.uuid4().hex}"
    store = RedisLiveStore(prefix=prefix)
    out = []
    try:
        for agent in agents_finishing_calls(core, decisions):
            t0 = time.perf_counter()
            offers = _decide(core, clock, agent.id)
            for offer, _ in offers:
                await store.reserve(offer.agent_id, offer.offer_id, "bench", 30)
            out.append(time.perf_counter() - t0)
            for offer, _ in offers:
                _answer(core, clock, offer)
                await store.release(offer.agent_id, offer.offer_id)
    finally:
        keys = [k async for k in store.redis.scan_iter(f"{prefix}:*")]
        if keys:
            await store.redis.delete(*keys)
        await store.close()
    return out


def run(smoke: bool) -> list[Row]:
    sizes = [(100, 10, 50, 50)] if smoke else [(1_000, 100, 5_000, 2_000), (10_000, 100, 5_000, 2_000)]
    rows = []
    for n_agents, n_skills, n_calls, decisions in sizes:
        fast, appq, disagreements = measure(n_agents, n_skills, n_calls, decisions)
        p99 = percentile(fast, 99) * 1000
        judged = n_agents >= 10_000
        rows.append(Row("routing", f"{n_agents} agents, {n_skills} skills, {n_calls} waiting, in-process", {
            "decisions/s": len(fast) / sum(fast) if fast else float("nan"),
            "p50 ms": percentile(fast, 50) * 1000, "p99 ms": p99,
        }, "p99 <= 1 ms", p99 <= 1.0 if judged else None))
        ratio = percentile(appq, 50) / percentile(fast, 50) if fast else float("nan")
        rows.append(Row("routing", f"{n_agents} agents: app_queue-style scan of the freed agent's queues", {
            "p50 ms": percentile(appq, 50) * 1000, "p99 ms": percentile(appq, 99) * 1000,
            "core p50 speed-up": ratio, "decisions compared": len(fast), "different decisions": disagreements,
        }, "same decisions, core not slower", (disagreements == 0 and ratio >= 1.0) if judged else None))
    n_agents, n_skills, n_calls, decisions = sizes[-1]
    with_redis = asyncio.run(measure_with_store(n_agents, n_skills, n_calls, decisions))
    p99 = percentile(with_redis, 99) * 1000
    rows.append(Row("routing", f"{n_agents} agents, reservations through Redis", {
        "decisions/s": len(with_redis) / sum(with_redis) if with_redis else float("nan"),
        "p50 ms": percentile(with_redis, 50) * 1000, "p99 ms": p99,
    }, "p99 <= 5 ms", None if smoke else p99 <= 5.0))
    return rows
