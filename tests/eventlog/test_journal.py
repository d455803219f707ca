"""The driver's journal over each log backend: every input is appended (fenced) before the core
handles it, a snapshot is taken every N entries, and a starting node rebuilt from the last
snapshot plus the tail has exactly the running core's state."""

from __future__ import annotations

from acd.eventlog import StaleLeader
from acd.routing import inputs as ev
from acd.routing.core import AcdCore
from acd.routing.model import AgentConfig, QueueConfig
from acd.routing.snapshot import to_state
from acd.service.journal import Journal, record_of

QUEUES = [QueueConfig("general")]
AGENTS = [AgentConfig(id=f"a{i}", name=f"A{i}", endpoint=f"PJSIP/a{i}", skills={"general": 1}) for i in range(3)]


def inputs() -> list[ev.AcdInput]:
    out: list[ev.AcdInput] = [ev.ConfigApplied(1.0, tuple(QUEUES), tuple(AGENTS), id_prefix="n1-test")]
    out += [ev.AgentLogin(2.0 + i, f"a{i}", ready=False) for i in range(3)]
    out += [ev.CallQueued(10.0 + i, f"c{i}", "general", f"PJSIP/caller-{i}", 10.0 + i, priority=i % 2) for i in range(5)]
    out += [ev.AgentReady(20.0, "a0"), ev.AgentNotReady(21.0, "a1", "break"), ev.CallerLeft(22.0, "c3", "abandoned")]
    return out


async def test_snapshot_plus_tail_equals_the_running_core(backend):
    token = await backend.lease.acquire("n1")
    journal = Journal(backend.log, backend.snapshots, snapshot_every=4)
    running = AcdCore(QUEUES, AGENTS, id_prefix="n1-test")
    for event in inputs():
        (position,) = await journal.append_fenced(token, [record_of(event)])
        running.handle(event)
        journal.applied(position, running)
        await journal.flush()
    assert journal.snapshots_taken == 3  # 12 entries, one snapshot every 4

    starting = Journal(backend.log, backend.snapshots, snapshot_every=4)
    rebuilt, replayed = await starting.restore(AcdCore(QUEUES, AGENTS, id_prefix="other", now=999.0))
    assert replayed == 0  # the last snapshot is at the last entry
    assert to_state(rebuilt) == to_state(running)
    assert [e.call_id for e in rebuilt.waiting["general"]] == [e.call_id for e in running.waiting["general"]]

    more = [ev.AgentReady(30.0, "a1"), ev.CallQueued(31.0, "c9", "general", "PJSIP/caller-9", 31.0)]
    for event in more:  # a tail after the snapshot
        (position,) = await journal.append_fenced(token, [record_of(event)])
        running.handle(event)
        journal.applied(position, running)
    rebuilt, replayed = await Journal(backend.log, backend.snapshots).restore(AcdCore(QUEUES, AGENTS, id_prefix="other"))
    assert replayed == 2
    assert to_state(rebuilt) == to_state(running)


async def test_a_stale_token_appends_nothing(backend):
    journal = Journal(backend.log, backend.snapshots)
    old = await backend.lease.acquire("n1")
    await journal.append_fenced(old, [record_of(inputs()[0])])
    await backend.lease.release(old)
    new = await backend.lease.acquire("n2")
    assert new is not None and new.value > old.value
    try:
        await journal.append_fenced(old, [record_of(inputs()[1])])
    except StaleLeader:
        pass
    else:
        raise AssertionError("a stale leader's append was accepted")
    assert len(await backend.log.read(None)) == 1


async def test_one_node_appends_and_handles_in_one_step():
    journal = Journal(snapshot_every=5)
    core = AcdCore(QUEUES, AGENTS, id_prefix="n1-test")
    for event in inputs():
        position = journal.append_now(event)
        core.handle(event)
        journal.applied(position, core)
        await journal.flush()
    assert journal.position is not None and journal.position.seq == len(inputs())
    rebuilt, _ = await Journal(journal.log, journal.snapshots).restore(AcdCore(QUEUES, AGENTS))
    assert to_state(rebuilt) == to_state(core)
    assert len(await journal.log.read(None)) < len(inputs())  # trimmed behind the snapshots: memory stays flat
