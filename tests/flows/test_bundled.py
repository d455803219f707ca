"""The bundled flows (ivr_flows/): they compile, and every golden call takes its expected path."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from acd.clock import FakeClock
from acd.flows.cli import _build_ports, _load_fixtures
from acd.flows.interpreter import FlowInterpreter
from acd.flows.memory import ScriptedChannel
from acd.flows.ports_extra import CallContext
from acd.flows.registry import FlowRegistry
from acd.yamlsrc import load_yaml

FLOWS = Path(__file__).resolve().parents[2] / "ivr_flows"
GOLDEN = load_yaml(FLOWS / "testdata" / "golden.yaml")["calls"]


@pytest.fixture(scope="module")
def registry() -> FlowRegistry:
    reg = FlowRegistry(FLOWS)
    report = reg.reload()
    assert report.ok, {k: [str(p) for p in v] for k, v in report.refused.items()}
    return reg


def test_bundled_flows_compile(registry):
    assert {"main", "verify_caller"} <= set(registry.current.flows)
    main = registry.get("main")
    actions = {s.action for s in main.steps.values()} | {s.action for s in registry.get("verify_caller").steps.values()}
    assert {"play", "menu", "language", "schedule", "subflow", "branch", "http", "queue", "transfer", "callback",
            "voicemail", "hangup", "set", "lookup_caller", "collect_account", "verify_pin", "verify_date", "return"} <= actions


def test_bundled_flows_pass_the_sound_check_with_their_own_prompts(tmp_path, registry):
    """With a sound directory holding exactly the prompts the flows use, the check passes; remove one
    and it is reported with its location."""
    names = set().union(*(f.sounds for f in registry.current.flows.values()))
    assert {"acme/main-menu", "acme/pounds", "an-error-has-occurred", "option-is-invalid", "vm-goodbye"} <= names
    for name in names:
        f = tmp_path / "en" / f"{name}.gsm"
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_bytes(b"")
    reg = FlowRegistry(FLOWS, sound_dirs=[tmp_path])
    assert reg.reload().ok
    (tmp_path / "en" / "acme" / "main-menu.gsm").unlink()
    report = FlowRegistry(FLOWS, sound_dirs=[tmp_path]).reload()
    problems = [str(p) for ps in report.refused.values() for p in ps]
    assert all("sound file 'acme/main-menu' is missing" in p for p in problems)  # main and demo_line use it
    assert sorted(p.split(":")[0].rsplit("/", 1)[-1] for p in problems) == ["demo_line.yaml", "main.yaml"]
    assert any("step 'main_menu': sound file 'acme/main-menu' is missing" in p for p in problems)


@pytest.mark.parametrize("case", GOLDEN, ids=[c["name"] for c in GOLDEN])
async def test_golden_call(case, registry):
    snapshot = registry.current
    flow = snapshot.get(case["flow"])
    fixtures = _load_fixtures(FLOWS / "testdata" / "fixtures.yaml")
    ports, (queue, callbacks) = _build_ports(fixtures, case.get("queue_outcomes"), lambda event: None)
    at = dt.datetime.fromisoformat(case.get("at", "2026-11-24T10:00")).replace(tzinfo=ZoneInfo("Europe/London"))
    interp = FlowInterpreter(ports, FakeClock(at.timestamp()), fallback_queue="general")
    caller = case.get("caller", "+441234567890")
    channel = ScriptedChannel(case["keys"])
    call = CallContext("golden-1", None if caller == "withheld" else caller, "8000", "PJSIP/golden")
    result = await interp.run(flow, channel, call, flows=snapshot.flows)
    path = [("" if d["flow"] == flow.name else d["flow"] + ".") + d["step"]
            for _, k, d in ports.recorder.events if k == "flow_step"]
    it = iter(path)
    missing = [p for p in case.get("path", []) if p not in it]
    assert not missing, f"path {path} lacks {missing} (in order)"
    assert result.outcome == case["outcome"], (result, path)
    assert not result.failed
    if "verification" in case:
        assert result.verification == case["verification"]
    played = channel.played()
    for name in case.get("played", []):
        assert name in played, played
    if "queue" in case:
        req = queue.requests[-1][1]
        for key, want in case["queue"].items():
            got = getattr(req, key)
            assert (got.value if hasattr(got, "value") else got) == want, (key, req)
    if "callback" in case:
        assert callbacks.requests[-1].number == case["callback"]
