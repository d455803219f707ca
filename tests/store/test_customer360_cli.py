"""``acd customers import|search|quality|export|erase`` and ``acd report channels`` on a SQLite
store, with the configured rules (languages, agents) applied to the import as to the API."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path

from acd.cli import main
from acd.clock import SystemClock
from acd.store import contacts
from acd.store.audit import access_log
from acd.store.sql import SqlStore

REPO_CONFIG = Path(__file__).resolve().parents[2] / "config"


def _config(tmp_path: Path) -> tuple[Path, str]:
    config = tmp_path / "config"
    config.mkdir()
    for name in ("agents.yaml", "queues.yaml", "desk.yaml"):
        shutil.copy(REPO_CONFIG / name, config / name)
    url = f"sqlite+aiosqlite:///{tmp_path}/cli.sqlite3"
    (config / "engine.yaml").write_text(f"database:\n  url: {url}\n  spool_dir: {tmp_path}/spool\n"
                                        "customers:\n  languages: [en, fr]\n  stale_days: 30\n")
    return config, url


def _store_call(url: str, fn):
    async def run():
        store = await SqlStore(url, clock=SystemClock()).open()
        try:
            return await fn(store)
        finally:
            await store.close()
    return asyncio.run(run())


def test_import_search_quality_export_erase_and_channels(tmp_path, capsys):
    config, url = _config(tmp_path)
    csv_file = tmp_path / "c.csv"
    csv_file.write_text("name,account_number,phones,emails,language,owner_agent,pin\n"
                        "Ada Lovelace,A-1,020 7946 0001,ada@example.org,en,agent1,1234\n"
                        "Ada Lovelace,A-2,020 7946 0001,,fr,,\n"
                        "Bad Language,A-3,,,xx,,\n"
                        "Bad Owner,A-4,,,en,agent99,\n")
    assert main(["customers", "import", str(csv_file), "--config", str(config)]) == 1
    err = capsys.readouterr().err
    assert "row 4: language: 'xx' is not one of the configured languages (en, fr)" in err
    assert "row 5: owner_agent: no agent 'agent99' in the configured agents" in err
    assert main(["customers", "import", str(csv_file), "--config", str(config)]) == 1  # again, unchanged
    ada = _store_call(url, lambda s: s.find_by_account("A-1"))
    revisions = _store_call(url, lambda s: s.revisions(ada.customer_id))
    assert [r["field"] for r in revisions] == ["created", "secret:pin"]  # re-importing made no revision
    capsys.readouterr()
    assert main(["customers", "search", "+44 20 7946 0001", "--config", str(config), "--by", "ops", "--reason", "ticket 5"]) == 0
    out = capsys.readouterr()
    assert out.out.count("Ada Lovelace") == 2 and "2 found" in out.err and "scrypt" not in out.out
    assert main(["customers", "search", "nobody-at-all", "--config", str(config)]) == 1
    capsys.readouterr()
    assert main(["customers", "quality", "--config", str(config), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["duplicates"][0]["reasons"] == ["same phone", "similar name"] and report["customers"] == 2
    _store_call(url, lambda s: contacts.log_contact(s, ada.customer_id, contacts.ContactInput("email", "outbound", s.clock.now() - 60),
                                                    source="ops"))
    assert main(["customers", "export", ada.customer_id, "--config", str(config), "--reason", "SAR 9", "--by", "dpo"]) == 0
    exported = json.loads(capsys.readouterr().out)
    assert exported["contacts"][0]["channel"] == "email"
    audit = _store_call(url, lambda s: access_log(s, ada.customer_id))
    assert [(a["who"], a["action"], a["reason"]) for a in audit] == [("dpo", "export", "SAR 9"), ("ops", "search", "ticket 5")]
    assert main(["customers", "erase", ada.customer_id, "--config", str(config), "--reason", "request 3", "--by", "dpo"]) == 0
    assert "erased customer" in capsys.readouterr().out
    assert main(["customers", "export", ada.customer_id, "--config", str(config)]) == 1
    assert main(["customers", "erase", ada.customer_id, "--config", str(config), "--reason", "again"]) == 1
    capsys.readouterr()
    import datetime as dt

    now = dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
    span = ["--from", (now - dt.timedelta(hours=1)).isoformat(), "--to", (now + dt.timedelta(hours=1)).isoformat()]
    assert main(["report", "channels", "--config", str(config), *span]) == 0
    table = capsys.readouterr().out
    email = next(line for line in table.splitlines() if line.startswith("email"))
    assert email.split() == ["email", "0", "1", "1"]  # the erased person's contact still counts, anonymously
