"""Retention: old interactions anonymised (or purged) and old recordings deleted; a dry run
changes nothing; new data untouched. On SQLite and PostgreSQL."""

from __future__ import annotations

from acd.cli import main
from acd.store.records import Outcome
from acd.store.retention import run_retention
from tests.store.test_interactions import Timeline, answered_call

DAY = 86400.0




async def test_dry_run_then_anonymise(store, clock, tmp_path):
    old_rec, new_rec = tmp_path / "old.wav", tmp_path / "new.wav"
    old_rec.write_bytes(b"RIFF")
    new_rec.write_bytes(b"RIFF")
    tl = answered_call("old", ani="+442079460000")
    tl.events[9] = type(tl.events[9])(tl.events[9].uid, tl.events[9].seq, "old", "recording", tl.events[9].t, {"file": str(old_rec)})
    await store.write_events(tl.events)
    clock.advance(800 * DAY)
    recent = Timeline("new", clock.now() - DAY).add("call_start", ani="+442079460001").add(
        "connected", 5, agent="agent1", queue="q").add("recording", 0, file=str(new_rec)).add("ended", 60, talk_s=60)
    await store.write_events(recent.events)

    dry = await run_retention(store, interaction_days=730, recording_days=90, mode="anonymise", clock=clock, dry_run=True)
    assert (dry.interactions, dry.recordings) == (1, 1) and old_rec.exists()
    assert (await store.interaction("old")).ani == "+442079460000"

    report = await run_retention(store, interaction_days=730, recording_days=90, mode="anonymise", clock=clock)
    assert (report.interactions, report.recordings) == (1, 1) and "1 interactions" in report.summary()
    assert not old_rec.exists() and new_rec.exists()
    rec = await store.interaction("old")
    assert rec.ani is None and rec.dnis is None and rec.notes is None and rec.recording is None
    assert all("inputs" not in step for step in rec.ivr_path)
    assert rec.outcome is Outcome.ANSWERED and rec.agent == "agent2" and rec.talk_s == 120  # figures kept for reports
    assert all(e.get("ani") is None and e.get("inputs") is None for e in await store.timeline("old"))
    assert (await store.interaction("new")).ani == "+442079460001"
    again = await run_retention(store, interaction_days=730, recording_days=90, mode="anonymise", clock=clock)
    assert again.interactions == 0  # done once


async def test_purge(store, clock):
    await store.write_events(answered_call("old").events)
    clock.advance(800 * DAY)
    report = await run_retention(store, interaction_days=730, recording_days=90, mode="purge", clock=clock)
    assert report.interactions == 1 and report.events == 14
    assert await store.timeline("old") == [] and await store.interactions_between(0, 4e9) == []


def test_cli_dry_run(tmp_path, capsys):
    assert main(["retention", "run", "--dry-run", "--database", f"sqlite+aiosqlite:///{tmp_path}/r.sqlite3"]) == 0
    assert capsys.readouterr().out.startswith("dry run: 0 interactions")
