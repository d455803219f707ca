"""Customers in and out: a validated CSV import that drops nothing silently, and the export of
one customer with their whole history as JSON or XML."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import re
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO
from collections.abc import Callable

from acd.secrets import Secret, verify_secret
from acd.store.sql import SqlStore, StoreError
from acd.store.validation import CustomerRules

COLUMNS = ("name", "account_number", "phones", "emails", "segment", "vip", "language", "owner_agent", "notes",
           "pin", "dob", "memorable_date")
SECRET_COLUMNS = ("pin", "dob", "memorable_date")
_EXTRA = "\x00extra"  # DictReader key for cells beyond the header


class ImportFileError(ValueError):
    """The file as a whole cannot be imported (unreadable, no header, unknown columns)."""


@dataclass
class Row:
    number: int  # line in the file (the header is line 1)
    raw: dict[str, str]
    fields: dict[str, Any] = field(default_factory=dict)
    phones: list[str] = field(default_factory=list)
    emails: list[str] = field(default_factory=list)
    secrets: dict[str, Secret] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    misaligned: bool = False  # more cells than the header

    def messages(self) -> list[str]:
        """``row 14: phones: '12' is not a possible phone number``: the row as a spreadsheet
        numbers it (the header is row 1), the field, the reason; never a secret's value."""
        return [f"row {self.number}: {e}" for e in self.errors]


@dataclass
class ImportReport:
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0  # rows equal to the stored customer: nothing written, no revision
    rejected: int = 0
    rejected_file: Path | None = None
    dry_run: bool = False
    messages: list[str] = field(default_factory=list)  # "row N: field: reason", one per problem

    @property
    def imported(self) -> int:
        return self.created + self.updated + self.unchanged

    def summary(self) -> str:
        """``8 imported (5 created, 3 updated, 0 unchanged), 2 rejected, of 10 rows; rejected rows
        in FILE``; a dry run says "would be" and writes no file."""
        would = "would be " if self.dry_run else ""
        text = (f"{self.imported} {would}imported ({self.created} created, {self.updated} updated, {self.unchanged} unchanged), "
                f"{self.rejected} {would}rejected, of {self.rows} rows")
        if self.rejected_file is not None:
            text += f"; rejected rows in {self.rejected_file}"
        return text


def validate_row(number: int, raw: dict[str, str], region: str, rules: CustomerRules | None = None) -> Row:
    """One CSV row through the same rules the API and the desktop use (``acd.store.validation``)."""
    rules = rules or CustomerRules(region=region)
    row = Row(number, raw)
    checked = rules.check({k: (raw.get(k) or "") for k in COLUMNS if k in raw or k == "name"}, creating=True)
    row.fields, row.phones, row.emails, row.secrets = checked.fields, checked.phones, checked.emails, checked.secrets
    row.errors = [str(p) for p in checked.problems]
    return row


def _progress(done: int, total: int, out: TextIO, verb: str = "imported") -> None:
    """A bar redrawn in place on a terminal (at most ~200 times); a plain line every 1000 rows
    (and at the end) when stderr is a file or a pipe, so logs stay readable (``verb``: what was
    done to the rows, "checked" in a dry run)."""
    if out.isatty():
        if done != total and done % max(1, total // 200):
            return
        width = 30
        filled = int(width * done / max(total, 1))
        out.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total}")
        if done == total:
            out.write("\n")
        out.flush()
    elif done == total or done % 1000 == 0:
        out.write(f"{verb} {done}/{total} rows\n")
        out.flush()


async def _write_row(store: SqlStore, row: Row, by: str, dry_run: bool, report: ImportReport) -> None:
    """Create the customer, or update the one with the row's account number with only what
    differs (revision history by ``by``; a row equal to the record writes nothing and is counted
    unchanged); secrets through ``set_secret`` (hashed). A dry run decides the same and writes
    nothing. A store error rejects the row."""
    try:
        existing = await store.find_by_account(row.fields["account_number"]) if row.fields.get("account_number") else None
        if existing is None:
            if not dry_run:
                cid = await store.create_customer(phones=row.phones, emails=row.emails, by=by, **row.fields)
                for kind, secret in row.secrets.items():
                    await store.set_secret(cid, kind, secret, by=by)
            report.created += 1
            return
        cid = existing.customer_id
        current = await store.get_customer(cid)
        changes = {k: v for k, v in row.fields.items() if (k != "name" or v) and current.get(k) != v}
        phones = [p for p in row.phones if p not in current["phones"]]
        emails = [e for e in row.emails if e.strip().lower() not in current["emails"]]
        secrets = {kind: secret for kind, secret in row.secrets.items() if not await _same_secret(store, cid, kind, secret)}
        if not (changes or phones or emails or secrets):
            report.unchanged += 1
            return
        if not dry_run:
            if changes:
                await store.update_customer(cid, changes, by=by)
            for phone in phones:
                await store.add_contact(cid, "phone", phone, by=by)
            for email in emails:
                await store.add_contact(cid, "email", email, by=by)
            for kind, secret in secrets.items():
                await store.set_secret(cid, kind, secret, by=by)
    except StoreError as exc:  # the store's own refusals name no secret
        row.errors.append(f"store: {exc}")
        return
    except Exception as exc:  # noqa: BLE001 - one bad row is reported, the rest go on
        # only the type: a driver's message may quote the statement's parameters (hashes, notes)
        row.errors.append(f"store: {type(exc).__name__} (the row was not written, or only in part)")
        return
    report.updated += 1


async def _same_secret(store: SqlStore, customer_id: str, kind: str, secret: Secret) -> bool:
    stored = await store.secret_hash(customer_id, kind)
    return stored is not None and await asyncio.to_thread(verify_secret, secret, stored)


async def import_customers(store: SqlStore, path: Path, *, by: str = "import", dry_run: bool = False,
                           progress: Callable[[int, int], None] | None = None, concurrency: int = 4,
                           rules: CustomerRules | None = None) -> ImportReport:
    """Validate every row; write the good ones (an account number already in the store updates
    that customer, with revision history); write the rejected ones, secrets blanked, with their
    reasons, to ``<file>.rejected.csv``. ``concurrency`` rows are written at a time."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ImportFileError(f"{path}: cannot read: {exc}") from None
    # newline="": quoted cells may hold line breaks (notes), and only \r / \n end a record
    reader = csv.DictReader(io.StringIO(text, newline=""), restkey=_EXTRA)
    if not reader.fieldnames:
        raise ImportFileError(f"{path}:1: no header line")
    header = [h.strip() for h in reader.fieldnames]
    unknown = [h for h in header if h not in COLUMNS]
    if unknown:
        raise ImportFileError(f"{path}:1: unknown column(s) {', '.join(unknown)}; the columns are {', '.join(COLUMNS)}")
    if "name" not in header:
        raise ImportFileError(f"{path}:1: the column 'name' is required")
    duplicated = sorted({h for h in header if header.count(h) > 1})
    if duplicated:
        raise ImportFileError(f"{path}:1: column(s) {', '.join(duplicated)} given twice")
    try:
        records = list(reader)
    except csv.Error as exc:
        raise ImportFileError(f"{path}:{reader.line_num}: not CSV: {exc}") from None
    rows = []
    for i, raw in enumerate(records):
        row = validate_row(i + 2, {k.strip(): v for k, v in raw.items() if k and k != _EXTRA}, store.region, rules)
        extra = raw.get(_EXTRA)
        if extra:  # never dropped silently: a shifted row would put values under the wrong columns
            row.misaligned = True
            row.errors.insert(0, f"{len(header) + len(extra)} cells, the header has {len(header)} (cells blanked here)")
        rows.append(row)
    seen_accounts: dict[str, int] = {}
    for row in rows:
        account = row.fields.get("account_number")
        if account and not row.errors:
            if account in seen_accounts:
                row.errors.append(f"account_number: {account} is also on row {seen_accounts[account]} of this file")
            else:
                seen_accounts[account] = row.number
    report = ImportReport(rows=len(rows), dry_run=dry_run)
    pending: asyncio.Queue[Row] = asyncio.Queue()
    for row in rows:
        pending.put_nowait(row)
    done = 0

    async def worker() -> None:
        nonlocal done
        while True:
            try:
                row = pending.get_nowait()
            except asyncio.QueueEmpty:
                return
            if not row.errors:
                await _write_row(store, row, by, dry_run, report)
            done += 1
            if progress:
                progress(done, len(rows))

    # Rows are independent (an account number appears once in a file), and most of a row's time
    # is the secrets' slow hashes in worker threads: a few rows at a time keep the CPUs busy.
    async with asyncio.TaskGroup() as tg:
        for n in range(max(1, min(concurrency, len(rows)))):
            tg.create_task(worker(), name=f"acd-import-{n}")
    report.rejected = sum(1 for r in rows if r.errors)
    report.messages = [m for r in rows for m in r.messages()]
    rejected = [r for r in rows if r.errors]
    if rejected and not dry_run:  # a dry run writes nothing: the reasons are in report.messages
        report.rejected_file = path.with_name(path.name + ".rejected.csv")
        with open(report.rejected_file, "w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=["row", *header, "error"])
            writer.writeheader()
            for r in rejected:
                writer.writerow({"row": r.number, **_cleared(r, header), "error": "; ".join(r.errors)})
    return report


def _cleared(row: Row, header: list[str]) -> dict[str, str]:
    """The row's cells for the rejected report: secret columns blanked; every cell blanked when
    the row has more cells than the header (its values may have shifted, a PIN into ``notes``)."""
    if row.misaligned:
        return {k: "" for k in header}
    return {k: ("" if k in SECRET_COLUMNS else (v or "")) for k, v in row.raw.items() if k in header}


async def export_customer(store: SqlStore, customer_id: str, fmt: str, shape: Callable[[Any], Any] | None = None) -> str:
    """The whole customer: fields, contacts, revisions, every interaction with its timeline.
    Secret hashes are never part of it. ``shape`` rewrites the data first (the API's times as
    ISO 8601: ``acd.http.times.api_shape``)."""
    from acd.store.contacts import full_timeline

    data = await full_timeline(store, customer_id)
    if shape is not None:
        data = shape(data)
    if fmt == "json":
        return json.dumps(data, indent=2, ensure_ascii=False, default=str)
    if fmt == "xml":
        return to_xml(data)
    raise ValueError(f"format must be json or xml, not {fmt!r}")


XML_VERSION = "2"
_XML_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")
# characters XML 1.0 cannot carry, even escaped: such a string is written as a JSON string literal
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


def _xml_value(parent: ET.Element, tag: str, value: Any) -> None:
    """One value as one element; see ``to_xml`` for the rules."""
    safe = tag if _XML_NAME.fullmatch(tag) and not tag.lower().startswith("xml") else "field"
    node = ET.SubElement(parent, safe)
    if safe != tag:
        node.set("name", tag)
    if isinstance(value, dict):
        node.set("type", "map")
        for k, v in value.items():
            _xml_value(node, str(k), v)
    elif isinstance(value, (list, tuple)):
        node.set("type", "list")
        for v in value:
            _xml_value(node, "item", v)
    elif value is None:
        node.set("null", "true")
    elif isinstance(value, bool):
        node.set("type", "bool")
        node.text = "true" if value else "false"
    elif isinstance(value, (int, float)):
        node.set("type", "int" if isinstance(value, int) else "float")
        node.text = repr(value)
    else:
        text = str(value)
        if _NOT_XML.search(text):
            node.set("encoding", "json")
            text = json.dumps(text)
        node.text = text


def to_xml(data: dict[str, Any]) -> str:
    """The export as XML (stdlib ``xml.etree``), read back exactly by ``from_xml``.

    Element names: the root ``<customer-export version="2">`` holds ``<customer>`` (the fields,
    ``<phones>``/``<emails>`` lists), ``<revisions>``, ``<interactions>``, ``<contacts>`` (other channels), ``<tasks>``
    (follow-up tasks) and ``<touchpoints>`` (calls, contacts and task events in one list); each interaction has the
    record's fields and ``<timeline>``, whose entries have ``<kind>``, ``<t>`` and the event's data.
    A field is an element named after its key; a key that is not an XML name is
    ``<field name="the key">``. A list is ``type="list"`` with one ``<item>`` per entry, a mapping
    ``type="map"``; numbers and booleans carry ``type="int"``, ``"float"`` or ``"bool"``, null is
    ``null="true"``, a string holding characters XML cannot carry is ``encoding="json"`` (its JSON
    literal). Everything else is text."""
    root = ET.Element("customer-export", version=XML_VERSION)
    for key in ("customer", "revisions", "interactions", "contacts", "tasks", "touchpoints"):
        _xml_value(root, key, data.get(key))
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def _xml_read(node: ET.Element) -> Any:
    kind = node.get("type")
    if node.get("null") == "true":
        return None
    if kind == "map":
        return {child.get("name", child.tag): _xml_read(child) for child in node}
    if kind == "list":
        return [_xml_read(child) for child in node]
    text = node.text or ""
    if kind == "bool":
        return text == "true"
    if kind == "int":
        return int(text)
    if kind == "float":
        return float(text)
    if node.get("encoding") == "json":
        return json.loads(text)
    return text


def from_xml(text: str) -> dict[str, Any]:
    """An export read back: the same structure ``export_customer(..., "json")`` gives."""
    root = ET.fromstring(text)
    if root.tag != "customer-export":
        raise ValueError(f"not a customer export: <{root.tag}>")
    return {child.tag: _xml_read(child) for child in root}


def progress_printer(out: TextIO = sys.stderr, verb: str = "imported") -> Callable[[int, int], None]:
    return lambda done, total: _progress(done, total, out, verb)
