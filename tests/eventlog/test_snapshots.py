"""Snapshots and rebuild: the last snapshot plus the tail gives exactly what a full replay gives."""

from __future__ import annotations

import random

import pytest

from acd.eventlog import LogGap, LogPosition, rebuild


def apply(state: dict, record: dict) -> dict:
    """A small deterministic fold with order-sensitive parts (a queue, a last-writer map)."""
    kind = record["kind"]
    queue = state.setdefault("queue", [])
    agents = state.setdefault("agents", {})
    if kind == "queued":
        queue.append(record["call"])
    elif kind == "answered" and queue:
        agents[record["agent"]] = queue.pop(0)
    elif kind == "ready":
        agents.pop(record["agent"], None)
    state["count"] = state.get("count", 0) + 1
    return state


def random_records(n: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        kind = rng.choice(["queued", "queued", "answered", "ready"])
        out.append({"kind": kind, "call": f"c{i}", "agent": f"a{rng.randrange(5)}"})
    return out


async def test_save_and_latest_keep_only_the_newest(backend):
    snaps = backend.snapshots
    assert await snaps.latest() is None
    assert await snaps.save(LogPosition(1, 5), {"queue": ["c1"], "n": 1})
    assert await snaps.latest() == (LogPosition(1, 5), {"queue": ["c1"], "n": 1})
    assert not await snaps.save(LogPosition(1, 4), {"n": "older"})
    assert not await snaps.save(LogPosition(1, 5), {"n": "same"})
    assert await snaps.save(LogPosition(2, 1), {"n": 2})  # a later epoch is newer whatever its seq
    assert await snaps.latest() == (LogPosition(2, 1), {"n": 2})


async def test_snapshot_plus_tail_equals_full_replay(backend):
    log, snaps = backend.log, backend.snapshots
    records = random_records(300, seed=11)
    token = await backend.lease.acquire("node-a")
    positions = []
    for i, record in enumerate(records):  # a leader's entries and other nodes' input events, mixed
        positions.append(await (log.fenced_append(token, record) if i % 3 else log.append(record)))
    at = 180
    replay_to_snapshot: dict = {}
    for r in records[: at + 1]:
        replay_to_snapshot = apply(replay_to_snapshot, r)
    assert await snaps.save(positions[at], replay_to_snapshot)

    from_snapshot = await rebuild(log, snaps, apply)
    full = await rebuild(log, None, apply)
    assert from_snapshot.state == full.state
    assert from_snapshot.position == full.position == positions[-1]
    assert from_snapshot.from_snapshot == positions[at]
    assert from_snapshot.replayed == len(records) - at - 1
    assert full.replayed == len(records)


async def test_rebuild_after_trimming_to_the_snapshot(backend):
    log, snaps = backend.log, backend.snapshots
    records = random_records(50, seed=3)
    positions = [await log.append(r) for r in records]
    full = await rebuild(log, None, apply)
    state: dict = {}
    for r in records[:30]:
        state = apply(state, r)
    await snaps.save(positions[29], state)
    await log.trim(positions[30])
    rebuilt = await rebuild(log, snaps, apply)
    assert rebuilt.state == full.state and rebuilt.replayed == 20


async def test_a_snapshot_older_than_the_trim_is_a_gap(backend):
    log, snaps = backend.log, backend.snapshots
    positions = [await log.append(r) for r in random_records(20, seed=5)]
    await snaps.save(positions[4], {"count": 5})
    await log.trim(positions[10])  # entries 6..10 are gone
    with pytest.raises(LogGap):
        await rebuild(log, snaps, apply)
    with pytest.raises(LogGap):
        await rebuild(log, None, apply)  # no snapshot at all: the start is missing


async def test_rebuild_of_an_empty_log(backend):
    rebuilt = await rebuild(backend.log, backend.snapshots, apply, initial={"queue": []})
    assert rebuilt.state == {"queue": []} and rebuilt.position is None and rebuilt.replayed == 0
