"""The HTTP layer takes use cases, not the engine: a use case's refusal maps to one status in
``acd.http.errors``; no handler module imports ``acd.app``; a part built late is said to be
missing rather than read as None."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

import acd
from acd.http.errors import as_response
from acd.resources import Slot
from acd.usecases.errors import BadInput, NotAllowed, NotVisible, Refused, Unreachable


@pytest.mark.parametrize(("error", "status", "code"), [
    (NotVisible("no task t-1"), 404, "not_found"), (NotAllowed("an agent gives a task to itself"), 403, "forbidden"),
    (Refused("flows are off"), 409, "conflict"), (Unreachable("Asterisk did not answer"), 503, "unavailable"),
])
def test_each_use_case_refusal_has_its_status(error, status, code):
    response = as_response(error)
    assert response is not None and response.status == status
    assert json.loads(response.text or "") == {"error": code, "detail": error.detail}


def test_bad_input_names_its_field():
    response = as_response(BadInput("fcr_days", "between 1 and 90"))
    assert response is not None and response.status == 422
    assert json.loads(response.text or "") == {"error": "invalid", "detail": "fcr_days: between 1 and 90", "field": "fcr_days"}


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
    return names


def test_no_http_or_use_case_module_reaches_for_the_engine():
    root = Path(acd.__file__).parent
    modules = sorted((root / "http").glob("*.py")) + sorted((root / "usecases").glob("*.py"))
    assert len(modules) > 20
    offenders = [str(p.relative_to(root)) for p in modules if "acd.app" in _imports(p)]
    assert offenders == []
    source = "\n".join(p.read_text(encoding="utf-8") for p in modules)
    assert 'AppKey("engine"' not in source and "ENGINE]" not in source


def test_a_late_part_is_missing_until_filled():
    slot: Slot[str] = Slot("the ACD")
    assert slot.peek() is None
    with pytest.raises(RuntimeError, match="the ACD is not running yet"):
        slot.get()
    slot.fill("acd")
    assert slot.get() == "acd" and slot.peek() == "acd"


async def test_report_use_cases_refuse_periods_and_windows_out_of_bounds(api):
    status, body = await api.call("GET", "/api/v1/reports?from=2026-01-01T00:00:00%2B00:00&to=2026-06-01T00:00:00%2B00:00", "sup")
    assert (status, body["error"], body["field"]) == (422, "invalid", "to")
    status, body = await api.call("GET", "/api/v1/reports?from=2026-02-02T00:00:00%2B00:00&to=2026-02-01T00:00:00%2B00:00", "sup")
    assert (status, body["field"]) == (422, "from")
    status, body = await api.call("GET", "/api/v1/reports/quality?fcr_days=91", "sup")
    assert (status, body["field"], body["detail"]) == (422, "fcr_days", "fcr_days: between 1 and 90")
    status, body = await api.call("GET", "/api/v1/reports?from=2026-02-01T00:00:00%2B00:00&to=2026-02-02T00:00:00%2B00:00", "sup")
    assert status == 200 and body["by"] == "queue"
