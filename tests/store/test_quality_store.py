"""CSAT and FCR read from the store (SQLite and PostgreSQL): a surveyed call's answers fold into
its record, the quality report reads the calls after the range and other contacts for FCR."""

from __future__ import annotations

from acd.reports.compute import UTC
from acd.reports.quality import DAY_S
from acd.reports.quality_load import quality_report
from acd.store import contacts
from acd.store.sql import SpooledEvent


async def _answered(store, call_id: str, t: float, customer_id: str, *, csat: int | None = None, queue: str = "general"):
    events = [SpooledEvent(f"{call_id}-1", 1, call_id, "call_start", t, {"ani": "+447700900001", "uniqueid": call_id}),
              SpooledEvent(f"{call_id}-2", 2, call_id, "identified", t + 1, {"customer_id": customer_id}),
              SpooledEvent(f"{call_id}-3", 3, call_id, "queue_enter", t + 2, {"queue": queue}),
              SpooledEvent(f"{call_id}-4", 4, call_id, "connected", t + 5, {"agent": "agent1", "queue": queue, "waited_s": 3}),
              SpooledEvent(f"{call_id}-5", 5, call_id, "ended", t + 60, {"by": "agent", "talk_s": 55})]
    if csat is not None:
        events.append(SpooledEvent(f"{call_id}-6", 6, call_id, "survey", t + 70, {
            "flow": "survey", "answers": {"csat": csat, "resolved": 1}, "completed": True, "agent": "agent1"}))
    await store.write_events(events)


async def test_survey_answers_on_the_record_and_the_quality_report(store, clock):
    day = clock.now() // DAY_S * DAY_S - 10 * DAY_S
    ada = await store.create_customer(name="Ada Lovelace")
    bob = await store.create_customer(name="Bob Smith")
    await _answered(store, "c1", day + 3600, ada, csat=5)
    await _answered(store, "c2", day + 7200, bob, csat=2)
    await _answered(store, "c3", day + DAY_S + 3600, bob)  # bob is back the next day: c2 not resolved
    await contacts.log_contact(store, ada, contacts.ContactInput("email", "inbound", day + 2 * DAY_S, subject="general"), source="t")
    rec = await store.interaction("c1")
    assert rec.survey is not None and rec.survey["answers"] == {"csat": 5, "resolved": 1} and rec.survey["agent"] == "agent1"
    report = await quality_report(store, day, day + DAY_S, as_of=clock.now(), fcr_days=7, satisfied_min=4, tz=UTC)
    (row,) = report.queues
    assert (row.surveys, row.satisfied, row.csat) == (2, 1, 0.5)
    assert (row.fcr_eligible, row.fcr_resolved, row.fcr) == (2, 0, 0.0)  # ada e-mailed about the same queue's matter
    (agent,) = report.agents
    assert agent.key == "agent1" and agent.csat == 0.5


def test_the_report_command(tmp_path, capsys):
    import asyncio
    import datetime as dt

    from acd.cli import main
    from acd.store.sql import SqlStore
    from tests.store.test_customer360_cli import _config

    config, url = _config(tmp_path)

    async def seed():
        store = await SqlStore(url).open()
        try:
            cid = await store.create_customer(name="Ada Lovelace")
            await _answered(store, "q1", store.clock.now() - 600, cid, csat=5)
        finally:
            await store.close()

    asyncio.run(seed())
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
    span = ["--from", (now - dt.timedelta(hours=1)).isoformat(), "--to", (now + dt.timedelta(hours=1)).isoformat()]
    assert main(["report", "quality", "--config", str(config), *span]) == 0
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if " general " in line)
    assert row.split()[1:6] == ["general", "1", "100.0%", "5.00", "–"] and row.split()[-1] == "1"  # FCR still pending
    assert main(["report", "quality", "--by", "agent", "--config", str(config), *span]) == 0
    assert " agent1 " in capsys.readouterr().out
