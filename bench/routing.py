"""Routing: decisions per second and decision latency with many agents, skills and waiting calls,
against a naive full scan of every agent per decision (the ratio is the point)."""

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
    queues = [QueueConfig(name=f"q{i}", skills={skills[i]: 1}) for i in range(n_skills)]
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


def naive_route(core: AcdCore, agent_id: str) -> str | None:
    """The baseline: for the freed agent, scan every waiting call, and for each call every agent
    (no index), to find the best pair."""
    now = core.now
    best = None
    for entries in core.waiting.values():
        for entry in entries:
            if entry.offer_id is not None:
                continue
            q = core.queues[entry.queue]
            for agent in core.agents.values():  # full scan
                if agent.state != AgentState.READY:
                    continue
                if all(agent.config.skills.get(s, 0) >= m for s, m in q.skills.items()):
                    key = (-(entry.priority + (now - entry.enqueued_at) / 60), entry.enqueued_at)
                    if best is None or key < best[0]:
                        best = (key, entry.call_id)
    return best[1] if best else None


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


def measure(n_agents: int, n_skills: int, n_calls: int, decisions: int, naive_samples: int = 20) -> tuple[list[float], list[float]]:
    core, clock = build(n_agents, n_skills, n_calls)
    fast, naive = [], []
    for agent in agents_finishing_calls(core, decisions):
        if len(naive) < naive_samples:  # the baseline is slow: a few samples give its mean
            agent.state = AgentState.READY
            t1 = time.perf_counter()
            naive_route(core, agent.id)
            naive.append(time.perf_counter() - t1)
            agent.state = AgentState.NOT_READY
        t0 = time.perf_counter()
        offers = _decide(core, clock, agent.id)
        fast.append(time.perf_counter() - t0)
        for offer, _ in offers:  # answered at once: the agent is busy again
            _answer(core, clock, offer)
    return fast, naive


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
        fast, naive = measure(n_agents, n_skills, n_calls, decisions)
        p99 = percentile(fast, 99) * 1000
        ratio = (sum(naive) / len(naive)) / (sum(fast) / len(fast)) if fast else float("nan")
        rows.append(Row("routing", f"{n_agents} agents, {n_skills} skills, {n_calls} waiting, in-process", {
            "decisions/s": len(fast) / sum(fast) if fast else float("nan"),
            "p50 ms": percentile(fast, 50) * 1000, "p99 ms": p99,
        }, "p99 <= 1 ms", p99 <= 1.0 if n_agents >= 10_000 else None))
        rows.append(Row("routing", f"{n_agents} agents: naive full scan", {
            "p50 ms": percentile(naive, 50) * 1000, "speed-up": ratio,
        }, ">= 50x faster than naive", ratio >= 50 if n_agents >= 10_000 else None))
    n_agents, n_skills, n_calls, decisions = sizes[-1]
    with_redis = asyncio.run(measure_with_store(n_agents, n_skills, n_calls, decisions))
    p99 = percentile(with_redis, 99) * 1000
    rows.append(Row("routing", f"{n_agents} agents, reservations through Redis", {
        "decisions/s": len(with_redis) / sum(with_redis) if with_redis else float("nan"),
        "p50 ms": percentile(with_redis, 50) * 1000, "p99 ms": p99,
    }, "p99 <= 5 ms", None if smoke else p99 <= 5.0))
    return rows
