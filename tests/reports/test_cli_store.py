"""``acd report`` end to end on a real (SQLite) store: timeline events written through the store,
folded by it, read back by the command through ``acd.store.open_store``."""

from __future__ import annotations

import asyncio
import csv
import io

from acd.cli import main
from acd.store.sql import SpooledEvent, SqlStore

from tests.reports.helpers import T0

QUEUES = """
queues:
  - name: sales
    service_level_s: 20
    short_abandon_s: 5
  - name: support
    service_level_s: 30
"""

CALLS = {
    # answered after 12 s by agent1: talk 90, hold 15, wrap-up 20
    "call-a": [("call_start", -3, {"ani": "+447700900102", "uniqueid": "1795424397.1"}), ("queue_enter", 0, {"queue": "sales"}),
               ("offer", 1, {"agent": "agent1", "ring_timeout_s": 15}), ("connected", 12, {"agent": "agent1", "queue": "sales", "waited_s": 12}),
               ("ivr_end", 12, {"outcome": "answered"}), ("hold", 50, {"seconds": 15}), ("ended", 117, {"agent": "agent1", "talk_s": 90}),
               ("wrapup_done", 137, {"agent": "agent1", "wrapup_s": 20})],
    # 10 minutes in, abandoned after 3 s (short)
    "call-b": [("call_start", 598, {"uniqueid": "1795425000.2"}), ("queue_enter", 600, {"queue": "sales"}),
               ("queue_exit", 603, {"queue": "sales", "reason": "abandoned"}), ("ivr_end", 603, {"outcome": "caller_hangup"})],
    # abandoned after 40 s
    "call-c": [("call_start", 1190, {"uniqueid": "1795425590.3"}), ("queue_enter", 1200, {"queue": "sales"}),
               ("queue_exit", 1240, {"queue": "sales", "reason": "abandoned"}), ("ivr_end", 1240, {"outcome": "caller_hangup"})],
}


def _seed(url: str) -> None:
    async def run() -> None:
        store = await SqlStore(url).open()
        try:
            events = [SpooledEvent(f"{cid}-{n}", n, cid, kind, T0 + dt, data)
                      for cid, evs in CALLS.items() for n, (kind, dt, data) in enumerate(evs)]
            await asyncio.wait_for(store.write_events(events), 30)
        finally:
            await store.close()

    asyncio.run(run())


def _config(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path}/acd.sqlite3"
    cfg = tmp_path / "config"
    cfg.mkdir()
    (cfg / "engine.yaml").write_text(f"database:\n  url: {url}\n")
    (cfg / "queues.yaml").write_text(QUEUES)
    (cfg / "agents.yaml").write_text("agents:\n  - {id: agent1, name: One, endpoint: PJSIP/agent1}\n  - {id: agent2, name: Two, endpoint: PJSIP/agent2}\n")
    _seed(url)
    return cfg


def test_report_and_queue_log_from_the_store(tmp_path, capsys):
    cfg = _config(tmp_path)
    out = tmp_path / "sales.csv"
    assert main(["report", "--config", str(cfg), "--from", "2026-11-23T09:00", "--to", "2026-11-23T10:00",
                 "--format", "csv", "--output", str(out)]) == 0
    rows = {r["queue"]: r for r in csv.DictReader(io.StringIO(out.read_text()))}
    assert set(rows) == {"sales", "support"}
    s = rows["sales"]
    assert (s["offered"], s["answered"], s["abandoned"], s["short_abandoned"], s["answered_in_sl"]) == ("3", "1", "2", "1", "1")
    assert (s["service_level"], s["service_level_abandons"], s["asa_s"], s["aht_s"]) == ("1.0000", "0.5000", "12.000", "125.000")
    assert rows["support"]["offered"] == "0"

    assert main(["report", "--config", str(cfg), "--from", "2026-11-23T09:00", "--to", "2026-11-23T10:00", "--by", "agent"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[3].split() == ["2026-11-23", "09:00", "agent1", "1", "90.0", "15.0", "20.0", "125.0", "-", "-"]
    assert set(table[4]) <= {"-", " "}  # agent2 is configured but took no call: not a row of zeros
    assert table[5].split() == ["total", "agent1", "1", "90.0", "15.0", "20.0", "125.0", "-", "-"]

    assert main(["report", "queue-log", "--config", str(cfg), "--from", "2026-11-23T09:00", "--to", "2026-11-23T10:00"]) == 0
    assert capsys.readouterr().out == (
        "1795424400|1795424397.1|sales|NONE|ENTERQUEUE||+447700900102|1\n"
        "1795424412|1795424397.1|sales|agent1|CONNECT|12||11\n"
        "1795424517|1795424397.1|sales|agent1|COMPLETECALLER|12|105|1\n"
        "1795425000|1795425000.2|sales|NONE|ENTERQUEUE|||1\n"
        "1795425003|1795425000.2|sales|NONE|ABANDON|1|1|3\n"
        "1795425600|1795425590.3|sales|NONE|ENTERQUEUE|||1\n"
        "1795425640|1795425590.3|sales|NONE|ABANDON|1|1|40\n")


def test_report_database_option_reads_another_store(tmp_path, capsys):
    """--database URL reads that store instead of database.url of the settings (an archive, a
    read replica)."""
    cfg = _config(tmp_path)
    url = (cfg / "engine.yaml").read_text().split("url: ", 1)[1].strip()
    (cfg / "engine.yaml").write_text("database:\n  url: postgresql+asyncpg://postgres@127.0.0.1:1/nothing\n")
    assert main(["report", "--config", str(cfg), "--from", "2026-11-23T09:00", "--to", "2026-11-23T10:00"]) == 1
    capsys.readouterr()
    assert main(["report", "--config", str(cfg), "--database", url, "--from", "2026-11-23T09:00", "--to", "2026-11-23T10:00"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[3].split()[:5] == ["2026-11-23", "09:00", "sales", "3", "1"]


def test_unreadable_store_is_reported(tmp_path, capsys):
    cfg = tmp_path / "config"
    cfg.mkdir()
    (cfg / "engine.yaml").write_text("database:\n  url: postgresql+asyncpg://postgres@127.0.0.1:1/test\n")  # nothing listens on port 1
    assert main(["report", "--config", str(cfg), "--from", "2026-11-23"]) == 1
    assert "cannot read the store" in capsys.readouterr().err


def test_a_database_without_the_schema_is_one_readable_line(tmp_path, capsys):
    """`--database` naming a file that is not an acd store (a typo, a fresh path) says so and
    how to make one, in one line: not SQLAlchemy's SQL, parameters and background link."""
    url = f"sqlite+aiosqlite:///{tmp_path}/typo.sqlite3"
    assert main(["report", "--config", str(tmp_path / "none"), "--database", url, "--from", "2026-11-23"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith("acd report: cannot read the store: no such table: interactions")
    assert "acd db upgrade" in err[0] and "SELECT" not in err[0] and "sqlalche.me" not in err[0]


def test_report_channels_reads_a_store_and_makes_none(tmp_path, capsys):
    """A report is a reader: `report channels` on a path with no store refuses, as `report`
    does, instead of making an empty store there and printing a table of zeros."""
    import sqlite3

    path = tmp_path / "typo.sqlite3"
    url = f"sqlite+aiosqlite:///{path}"
    assert main(["report", "channels", "--config", str(tmp_path / "none"), "--database", url, "--from", "2026-11-23"]) == 1
    assert "cannot read the store: no such table" in capsys.readouterr().err
    with sqlite3.connect(path) as db:
        assert db.execute("select name from sqlite_master").fetchall() == []
