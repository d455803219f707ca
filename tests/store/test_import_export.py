"""CSV import (nothing dropped silently, secrets never in the rejected report) and the export of
one customer with their history, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import json
import xml.etree.ElementTree as ET

import pytest

from acd.cli import main
from acd.secrets import Secret, verify_secret
from acd.store.dataio import ImportFileError, export_customer, from_xml, import_customers, to_xml
from tests.store.test_interactions import answered_call

CSV = """name,account_number,phones,emails,segment,vip,pin,dob
Ada Lovelace,1001,+44 20 7946 0001;07700 900001,ada@example.org,gold,yes,4321,1815-12-10
Alan Turing,1002,02079460002,,silver,no,,
,1003,02079460003,,,no,,
Grace Hopper,1004,12,,,no,,
Edsger Dijkstra,1005,02079460005,,,maybe,,
Barbara Liskov,1006,02079460006,,,no,99,
Donald Knuth,1007,02079460007,,,no,,1938-13-45
Ada Again,1001,02079460008,,,no,,
Frances Allen,1009,02079460009,not-an-email,,no,,
"""


async def test_import_reports_every_rejected_row_without_secrets(store, tmp_path):
    path = tmp_path / "customers.csv"
    path.write_text(CSV)
    report = await import_customers(store, path, by="ops")
    assert (report.rows, report.created, report.updated, report.rejected) == (9, 2, 0, 7)
    rejected = list(csv.DictReader(report.rejected_file.read_text().splitlines()))
    errors = {r["row"]: r["error"] for r in rejected}
    assert errors["4"] == "name: required"
    assert "phones: '12' is not a possible phone number" in errors["5"]
    assert "vip: 'maybe'" in errors["6"]
    assert errors["7"] == "pin: 4 to 8 digits"
    assert errors["8"] == "dob: not a date as YYYY-MM-DD"
    assert "account_number: 1001 is also on row 2" in errors["9"]
    assert "emails: 'not-an-email'" in errors["10"]
    text = report.rejected_file.read_text()
    assert "1938-13-45" not in text and ",99," not in text  # secrets blanked in the report
    ada = await store.find_by_account("1001")
    assert ada.vip and (await store.get_customer(ada.customer_id))["phones"] == ["+442079460001", "+447700900001"]
    assert verify_secret(Secret("4321"), await store.secret_hash(ada.customer_id, "pin"))
    assert verify_secret(Secret("18151210"), await store.secret_hash(ada.customer_id, "dob"))
    assert [r["by"] for r in await store.revisions(ada.customer_id)][0] == "ops"


async def test_import_again_updates_by_account_number_and_dry_run_writes_nothing(store, tmp_path):
    path = tmp_path / "c.csv"
    path.write_text("name,account_number,segment\nAda Lovelace,1001,gold\n")
    await import_customers(store, path)
    path.write_text("name,account_number,segment\nAda Lovelace,1001,platinum\nNew Person,2000,\n")
    report = await import_customers(store, path, dry_run=True)
    assert (report.created, report.updated, report.rejected) == (1, 1, 0)
    assert await store.find_by_account("2000") is None
    report = await import_customers(store, path, by="crm-sync")
    assert (report.created, report.updated) == (1, 1) and report.rejected_file is None
    ada = await store.find_by_account("1001")
    assert ada.segment == "platinum"
    assert [(r["old"], r["new"], r["by"]) for r in await store.revisions(ada.customer_id) if r["field"] == "segment"] == [("gold", "platinum", "crm-sync")]


async def test_a_bad_file_is_refused_whole(store, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("name,shoe_size\nAda,9\n")
    with pytest.raises(ImportFileError, match="unknown column"):
        await import_customers(store, path)


async def test_export_json_and_xml_have_the_whole_history(store):
    cid = await store.create_customer(name="Ada Lovelace", phones=["+442079460000"], account_number="1001", by="t")
    await store.set_secret(cid, "pin", Secret("4321"), by="t")
    await store.write_events(answered_call("c1", customer_id=cid).events)
    data = json.loads(await export_customer(store, cid, "json"))
    assert data["customer"]["name"] == "Ada Lovelace" and data["interactions"][0]["call_id"] == "c1"
    assert data["interactions"][0]["disposition"] == "resolved"
    assert [e["kind"] for e in data["interactions"][0]["timeline"]][:2] == ["call_start", "flow_start"]
    xml = await export_customer(store, cid, "xml")
    root = ET.fromstring(xml)
    assert root.tag == "customer-export" and root.findtext("customer/name") == "Ada Lovelace"
    assert root.findtext("interactions/item/call_id") == "c1"
    assert [k.text for k in root.findall("interactions/item/timeline/item/kind")][:2] == ["call_start", "flow_start"]
    for text in (xml, json.dumps(data)):
        assert "scrypt$" not in text and "4321" not in text


def test_cli_import_and_export(tmp_path, capsys):
    db = f"sqlite+aiosqlite:///{tmp_path}/cli.sqlite3"
    path = tmp_path / "c.csv"
    path.write_text("name,account_number,phones\nAda Lovelace,1001,02079460000\nNobody,,12\n")
    assert main(["customers", "import", str(path), "--database", db]) == 1  # a row was rejected
    out = capsys.readouterr()
    assert out.out.startswith("1 imported (1 created, 0 updated, 0 unchanged), 1 rejected, of 2 rows; rejected rows in ")
    assert "imported 2/2 rows" in out.err and "row 3: phones: '12' is not a possible phone number" in out.err
    assert main(["customers", "export", "nope", "--database", db]) == 1
    import asyncio

    from acd.store.sql import SqlStore

    async def find():
        s = await SqlStore(db).open()
        try:
            return (await s.find_by_account("1001")).customer_id
        finally:
            await s.close()

    cid = asyncio.run(find())
    assert main(["customers", "export", cid, "--format", "xml", "--database", db, "-o", str(tmp_path / "ada.xml")]) == 0
    assert ET.parse(tmp_path / "ada.xml").getroot().findtext("customer/account_number") == "1001"


async def test_quoted_line_breaks_extra_cells_and_blank_vip(store, tmp_path):
    path = tmp_path / "c.csv"
    path.write_text(
        'name,account_number,vip,notes,pin,memorable_date\n'
        'Ada Lovelace,1001,yes,"first line\nsecond line \u2028 same cell",1234,1999-01-31\n'
        'Shifted Row,1002,no,a note,,,5678\n'
        'Alan Turing,1003,no,,,2999-01-01\n', newline="")
    report = await import_customers(store, path, by="ops")
    assert (report.rows, report.created, report.rejected) == (3, 1, 2)
    assert report.messages == ["row 3: 7 cells, the header has 6 (cells blanked here)",
                               "row 4: memorable_date: in the future"]
    ada = await store.get_customer((await store.find_by_account("1001")).customer_id)
    assert ada["notes"] == "first line\nsecond line \u2028 same cell" and ada["vip"] is True
    assert verify_secret(Secret("19990131"), await store.secret_hash(ada["customer_id"], "memorable_date"))
    text = report.rejected_file.read_text()
    assert "5678" not in text and "2999" not in text and "a note" not in text  # a shifted row is blanked whole
    # a blank vip cell on a later import leaves the flag alone; "no" clears it
    path.write_text("name,account_number,vip\nAda Lovelace,1001,\n")
    await import_customers(store, path)
    assert (await store.find_by_account("1001")).vip is True
    path.write_text("name,account_number,vip\nAda Lovelace,1001,no\n")
    await import_customers(store, path)
    assert (await store.find_by_account("1001")).vip is False


async def test_a_duplicated_column_is_refused(store, tmp_path):
    path = tmp_path / "c.csv"
    path.write_text("name,pin,pin\nAda,1234,5678\n")
    with pytest.raises(ImportFileError, match="pin given twice"):
        await import_customers(store, path)


async def test_xml_reads_back_exactly_as_the_json(store):
    cid = await store.create_customer(name="Ada <&> Lovelace", phones=["+442079460000"], account_number="1001",
                                      vip=True, notes="bell \x07 and tab\t, line\nbreak", by="t")
    await store.update_customer(cid, {"segment": "gold"}, by="ops")
    tl = answered_call("c1", customer_id=cid)
    tl.add("callback_requested", 1, **{"2nd key": [], "xmlish": {}, "empty": "", "n": 3, "ratio": 0.1, "yes": False})
    await store.write_events(tl.events)
    as_json = json.loads(await export_customer(store, cid, "json"))
    xml = await export_customer(store, cid, "xml")
    assert from_xml(xml) == as_json
    assert as_json["customer"]["notes"] == "bell \x07 and tab\t, line\nbreak"
    assert as_json["interactions"][0]["timeline"][-1]["2nd key"] == []
    root = ET.fromstring(xml)
    assert root.find("customer/vip").get("type") == "bool" and root.find("customer/notes").get("encoding") == "json"
    assert [r.findtext("field") for r in root.findall("revisions/item")] == ["created", "segment"]
    assert to_xml(from_xml(xml)) == xml


async def test_many_rows_written_a_few_at_a_time_with_progress(store, tmp_path):
    lines = ["name,account_number,phones,pin"]
    for i in range(40):
        lines.append(f"Customer {i},A{i:03},0207946{i:04},{1000 + i}" if i % 10 else f"Customer {i},A{i:03},12,{1000 + i}")
    path = tmp_path / "many.csv"
    path.write_text("\n".join(lines) + "\n")
    seen = []
    report = await import_customers(store, path, progress=lambda done, total: seen.append((done, total)), concurrency=4)
    assert (report.created, report.rejected) == (36, 4)
    assert report.messages == [f"row {i + 2}: phones: '12' is not a possible phone number" for i in (0, 10, 20, 30)]
    assert seen == [(n, 40) for n in range(1, 41)]
    c = await store.find_by_account("A017")
    assert verify_secret(Secret("1017"), await store.secret_hash(c.customer_id, "pin"))
    assert "1010" not in report.rejected_file.read_text()


def test_progress_is_a_bar_on_a_terminal_and_lines_otherwise():
    import io

    from acd.store.dataio import progress_printer

    class Tty(io.StringIO):
        def isatty(self):
            return True

    tty, pipe = Tty(), io.StringIO()
    for done in range(1, 2501):
        progress_printer(tty)(done, 2500)
        progress_printer(pipe)(done, 2500)
    assert pipe.getvalue() == "imported 1000/2500 rows\nimported 2000/2500 rows\nimported 2500/2500 rows\n"
    frames = tty.getvalue().split("\r")[1:]
    assert 200 <= len(frames) <= 210 and frames[-1] == "[" + "#" * 30 + "] 2500/2500\n"


async def test_imported_secrets_are_nowhere_in_clear(store, tmp_path, capsys):
    from sqlalchemy import text

    from acd.store.models import Base

    path = tmp_path / "c.csv"
    path.write_text("name,account_number,phones,pin,dob,memorable_date\n"
                    "Ada Lovelace,1001,02079460000,735194,1961-07-23,1984-02-29\n"
                    "Bad Phone,1002,12,735194,1961-07-23,1984-02-29\n")
    report = await import_customers(store, path)
    assert (report.created, report.rejected) == (1, 1)
    dumped = []
    async with store.engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            dumped += [repr(tuple(r)) for r in (await conn.execute(text(f"SELECT * FROM {table.name}"))).all()]
    everything = "\n".join(dumped) + report.rejected_file.read_text() + "\n".join(report.messages) + report.summary()
    everything += repr(await store.customer_timeline((await store.find_by_account("1001")).customer_id))
    for secret in ("735194", "1961-07-23", "19610723", "1984-02-29", "19840229"):
        assert secret not in everything
    assert "Ada Lovelace" in everything  # the scan did see the data


def test_cli_dry_run_import_and_json_export_to_stdout(tmp_path, capsys):
    db = f"sqlite+aiosqlite:///{tmp_path}/cli.sqlite3"
    path = tmp_path / "c.csv"
    path.write_text("name,account_number\nAda Lovelace,1001\n")
    assert main(["customers", "import", str(path), "--dry-run", "--database", db]) == 0
    assert capsys.readouterr().out == "1 would be imported (1 created, 0 updated, 0 unchanged), 0 would be rejected, of 1 rows\n"
    assert main(["customers", "import", str(path), "--by", "crm", "--database", db]) == 0
    capsys.readouterr()
    import asyncio

    from acd.store.sql import SqlStore

    async def find():
        s = await SqlStore(db).open()
        try:
            return (await s.find_by_account("1001")).customer_id
        finally:
            await s.close()

    cid = asyncio.run(find())
    assert main(["customers", "export", cid, "--database", db]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["customer"]["account_number"] == "1001" and data["revisions"][0]["by"] == "crm"
    assert main(["customers", "import", str(tmp_path / "missing.csv"), "--database", db]) == 2
    assert "cannot read" in capsys.readouterr().err


async def test_dry_run_writes_nothing_not_even_the_rejected_file_and_counts_right(store, tmp_path):
    path = tmp_path / "customers.csv"
    path.write_text(CSV)
    report = await import_customers(store, path, dry_run=True)
    assert (report.rows, report.created, report.updated, report.unchanged, report.rejected) == (9, 2, 0, 0, 7)
    assert report.rejected_file is None and not (tmp_path / "customers.csv.rejected.csv").exists()
    assert [p for p in tmp_path.iterdir() if "acd.sqlite3" not in p.name] == [path]
    assert await store.find_by_account("1001") is None
    assert report.summary().startswith("2 would be imported (2 created, 0 updated, 0 unchanged), 7 would be rejected, of 9 rows")
    assert len(report.messages) >= 7  # the reasons are still shown


async def test_reimporting_an_unchanged_file_creates_no_revision(store, tmp_path):
    path = tmp_path / "customers.csv"
    path.write_text(CSV)
    await import_customers(store, path, by="ops")
    ada = await store.find_by_account("1001")
    alan = await store.find_by_account("1002")
    before = (await store.revisions(ada.customer_id), await store.revisions(alan.customer_id))
    stamp = (await store.get_customer(ada.customer_id))["updated_at"]
    dry = await import_customers(store, path, by="ops", dry_run=True)
    assert (dry.created, dry.updated, dry.unchanged) == (0, 0, 2)
    again = await import_customers(store, path, by="ops")
    assert (again.created, again.updated, again.unchanged, again.rejected) == (0, 0, 2, 7)
    assert (await store.revisions(ada.customer_id), await store.revisions(alan.customer_id)) == before
    assert (await store.get_customer(ada.customer_id))["updated_at"] == stamp
    # one changed cell: one revision, for that field only
    path.write_text(CSV.replace("Alan Turing,1002,02079460002,,silver", "Alan Turing,1002,02079460002,,gold"))
    third = await import_customers(store, path, by="ops")
    assert (third.updated, third.unchanged) == (1, 1)
    added = (await store.revisions(alan.customer_id))[len(before[1]):]
    assert [(r["field"], r["old"], r["new"]) for r in added] == [("segment", "silver", "gold")]


def test_cli_dry_run_says_checked_not_imported_and_reasons_read_plainly(tmp_path, capsys):
    """A dry run's progress line does not claim rows were imported; a bad phone's reason is a
    sentence, not the phone library's numbered error."""
    db = f"sqlite+aiosqlite:///{tmp_path}/cli.sqlite3"
    path = tmp_path / "c.csv"
    path.write_text("name,account_number,phones\nAda Lovelace,1001,notaphone\nAlan Turing,1002,\n")
    assert main(["customers", "import", str(path), "--dry-run", "--database", db]) == 1
    err = capsys.readouterr().err
    assert "checked 2/2 rows" in err and "imported 2/2" not in err
    assert "row 2: phones: 'notaphone' is not a phone number: the string supplied did not seem to be a phone number" in err
    assert "(1)" not in err
    assert main(["customers", "import", str(path), "--database", db]) == 1
    assert "imported 2/2 rows" in capsys.readouterr().err
