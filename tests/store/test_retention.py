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


async def _snapshot(store):
    """Every row retention may touch, as plain data."""
    from sqlalchemy import select

    from acd.store.models import EventRow, InteractionRow, VerificationAttemptRow

    async with store.session() as s:
        interactions = {r.call_id: (r.ani, r.dnis, r.recording, r.anonymised_at, r.record)
                        for r in (await s.scalars(select(InteractionRow))).all()}
        events = {r.uid: (r.call_id, r.kind, r.t, r.data) for r in (await s.scalars(select(EventRow))).all()}
        attempts = {r.id: (r.at, r.caller_number, r.result) for r in (await s.scalars(select(VerificationAttemptRow))).all()}
    return interactions, events, attempts


def _call(call_id, t0, ani, recording, customer_id=None):
    return (Timeline(call_id, t0)
            .add("call_start", ani=ani, dnis="0800", channel="PJSIP/trunk-1", uniqueid=call_id)
            .add("flow_step", 1, step="acct", action="collect", outcome="ok", inputs={"account": "1001"})
            .add("queue_enter", 1, queue="support", customer_id=customer_id)
            .add("callback_requested", 1, queue="support", number=ani, note="call me at work", customer_id=customer_id)
            .add("connected", 5, agent="agent1", queue="support", waited_s=7.0)
            .add("recording", 0, file=str(recording))
            .add("ended", 60, agent="agent1", talk_s=60.0)
            .add("wrapup_done", 10, agent="agent1", disposition="resolved", notes="moved house", wrapup_s=10.0))


async def _three_ages(store, clock, tmp_path):
    """Calls 800 days old (past interaction_days), 100 days old (past recording_days only) and
    one day old, each with a recording file; the audit and agents' states of the same ages."""
    now = clock.now() + 800 * DAY
    cid = await store.create_customer(name="Ada", phones=["+442079460000"], by="t")
    files = {}
    for name, age in (("ancient", 800), ("middle", 100), ("fresh", 1)):
        files[name] = tmp_path / f"{name}.wav"
        files[name].write_bytes(b"RIFF")
        t0 = now - age * DAY
        await store.write_events(_call(name, t0, "+442079460000", files[name], customer_id=cid).events)
        await store.write_events(Timeline("agent:agent1", t0).add("agent_state", state="ready").events)
        clock.advance(max(0.0, t0 - clock.now()))
        await store.record_attempt(customer_id=cid, caller_number="+442079460000", method="pin", result="ok", call_id=name)
    clock.advance(now - clock.now())
    return cid, files


async def test_dry_run_changes_nothing_and_the_real_run_exactly_the_old_rows(store, clock, tmp_path):
    cid, files = await _three_ages(store, clock, tmp_path)
    before = await _snapshot(store)
    dry = await run_retention(store, interaction_days=730, recording_days=90, mode="anonymise", clock=clock, dry_run=True)
    assert (dry.interactions, dry.events, dry.recordings, dry.customers, dry.attempts) == (1, 8, 2, 1, 1)
    assert await _snapshot(store) == before and all(f.exists() for f in files.values())
    assert dry.summary().startswith("1 interactions (8 timeline events) would be anonymised; 2 recording files would be deleted")

    report = await run_retention(store, interaction_days=730, recording_days=90, mode="anonymise", clock=clock)
    assert (report.interactions, report.events, report.recordings, report.customers, report.attempts) == (1, 8, 2, 1, 1)
    assert [f.exists() for f in files.values()] == [False, False, True]
    after = await _snapshot(store)
    assert after[0]["fresh"] == before[0]["fresh"]  # new rows untouched
    assert {u: e for u, e in after[1].items() if e[0] in ("fresh", "agent:agent1")} == \
        {u: e for u, e in before[1].items() if e[0] in ("fresh", "agent:agent1")}
    middle = await store.interaction("middle")  # only its recording went
    assert middle.recording is None and middle.ani == "+442079460000" and middle.notes == "moved house"
    assert [e for e in await store.timeline("middle") if e["kind"] == "recording"][0]["file"] is None
    old = await store.interaction("ancient")
    assert (old.ani, old.dnis, old.notes, old.recording) == (None, None, None, None)
    assert all("inputs" not in step for step in old.ivr_path)
    assert (old.agent, old.queue, old.talk_s, old.wait_s, old.disposition, old.customer_id) == ("agent1", "support", 60.0, 7.0, "resolved", cid)
    text = repr(await store.timeline("ancient")) + repr(old)
    for personal in ("+442079460000", "PJSIP", "1001", "call me at work", "moved house", "ancient.wav"):
        assert personal not in text
    assert [a["caller_number"] for a in await store.attempts(customer_id=cid)] == [None, "+442079460000", "+442079460000"]
    # late events for an anonymised call do not bring the caller back
    await store.write_events(Timeline("ancient", clock.now()).add("hold", seconds=3).events)
    assert (await store.interaction("ancient")).ani is None


async def test_purge_deletes_old_calls_events_audit_and_agent_states(store, clock, tmp_path):
    cid, files = await _three_ages(store, clock, tmp_path)
    report = await run_retention(store, interaction_days=730, recording_days=90, mode="purge", clock=clock)
    assert (report.interactions, report.events, report.recordings, report.attempts, report.agent_events) == (1, 8, 2, 1, 1)
    assert [i.call_id for i in await store.interactions_between(0, 4e9)] == ["middle", "fresh"]
    assert await store.timeline("ancient") == [] and len(await store.timeline("agent:agent1")) == 2
    assert [a["call_id"] for a in await store.attempts(customer_id=cid)] == ["middle", "fresh"]
    assert [f.exists() for f in files.values()] == [False, False, True]


async def test_a_call_past_interaction_days_loses_its_recording_whatever_recording_days(store, clock, tmp_path):
    _, files = await _three_ages(store, clock, tmp_path)
    report = await run_retention(store, interaction_days=730, recording_days=3650, mode="anonymise", clock=clock)
    assert report.recordings == 1 and [f.exists() for f in files.values()] == [False, True, True]


async def test_a_recording_that_cannot_be_deleted_keeps_its_call_for_the_next_run(store, clock, tmp_path):
    stuck = tmp_path / "stuck.wav"
    stuck.mkdir()  # os.remove refuses a directory, whoever runs the tests
    await store.write_events(_call("old", clock.now(), "+442079460000", stuck).events)
    clock.advance(800 * DAY)
    report = await run_retention(store, interaction_days=730, recording_days=90, mode="purge", clock=clock)
    assert report.interactions == 0 and len(report.errors) == 1 and "recording of old" in report.errors[0]
    assert (await store.interaction("old")).recording == str(stuck)
    stuck.rmdir()
    report = await run_retention(store, interaction_days=730, recording_days=90, mode="purge", clock=clock)
    assert (report.interactions, report.missing_recordings, report.errors) == (1, 1, [])


async def test_retention_job_runs_on_its_interval(store, clock, tmp_path):
    import asyncio

    from acd.settings import RetentionSection, Settings
    from acd.store.retention import RetentionJob

    await store.write_events(_call("old", clock.now(), "+442079460000", tmp_path / "gone.wav").events)
    clock.advance(800 * DAY)
    job = RetentionJob(store, Settings(retention=RetentionSection(mode="purge")), clock)
    task = asyncio.create_task(job.run_forever(interval_s=0.01), name="test-retention")
    try:
        async with asyncio.timeout(10):
            while job.last_report is None:
                await asyncio.sleep(0.01)
    finally:
        task.cancel()
    assert job.last_report.interactions == 1 and await store.interactions_between(0, 4e9) == []


def test_cli_real_run_and_a_bad_setting(tmp_path, capsys, monkeypatch):
    db = f"sqlite+aiosqlite:///{tmp_path}/r.sqlite3"
    assert main(["retention", "run", "--database", db]) == 0
    assert capsys.readouterr().out.startswith("0 interactions (0 timeline events) were anonymised; 0 recording files were deleted; 0 customers")
    monkeypatch.setenv("ACD_RETENTION__INTERACTION_DAYS", "0")
    assert main(["retention", "run", "--database", db]) == 2
    assert "at least 1" in capsys.readouterr().err
