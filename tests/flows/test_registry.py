"""The registry: DNIS mapping, reload (new calls get the new version, calls in progress keep theirs),
invalid files refused while the previous version serves, the polling watcher."""

from __future__ import annotations

import asyncio
import logging
import os
import textwrap
from pathlib import Path

import pytest

from acd.clock import FakeClock
from acd.flows.interpreter import FlowInterpreter
from acd.flows.memory import ScriptedChannel
from acd.flows.ports_extra import CallContext
from acd.flows.registry import FlowRegistry

from .conftest import Harness

MAIN = """\
flow: main
numbers: ["+442071234567", "8000"]
steps:
  hello:
    play: hello-v1
    next: menu
  menu:
    menu: {prompt: pick}
    on: {"1": sub}
    next: bye
  sub:
    subflow: helper
    on: {done: bye}
  bye:
    hangup: true
"""
HELPER = """\
flow: helper
steps:
  say:
    play: helper-v1
    next: done
  done:
    return: done
"""
SALES = """\
flow: sales
numbers: ["+442079999999"]
steps:
  hours:
    schedule: office
    on: {open: bye, closed: bye}
  bye:
    hangup: true
"""
SCHEDULES = """\
schedules:
  office:
    timezone: Europe/London
    hours: {mon-fri: "09:00-17:00"}
"""


def write(d: Path, name: str, text: str) -> None:
    p = d / name
    p.write_text(textwrap.dedent(text))
    st = p.stat()  # make sure a quick rewrite still changes the stamp the watcher compares
    os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))


@pytest.fixture
def flows_dir(tmp_path: Path) -> Path:
    write(tmp_path, "main.yaml", MAIN)
    write(tmp_path, "helper.yaml", HELPER)
    write(tmp_path, "sales.yaml", SALES)
    write(tmp_path, "schedules.yaml", SCHEDULES)
    (tmp_path / "testdata").mkdir()
    write(tmp_path / "testdata", "ignored.yaml", "not: a flow")
    return tmp_path


def test_loads_all_flows_and_maps_numbers(flows_dir):
    reg = FlowRegistry(flows_dir, clock=FakeClock(1_800_000_000))
    report = reg.reload()
    assert report.ok and report.loaded == ("helper", "main", "sales")
    assert reg.for_dnis("+442071234567").name == "main"
    assert reg.for_dnis("442079999999").name == "sales"  # with or without +
    assert reg.for_dnis("8000").name == "main"
    assert reg.for_dnis("+3312345").name == "main"  # unknown number: the default flow
    assert reg.for_dnis(None).name == "main"
    assert str(reg.get("main").version).endswith("@2027-01-15T08:00:00Z")
    again = reg.reload()
    assert again.loaded == () and again.unchanged == ("helper", "main", "sales")


def test_invalid_file_is_refused_and_the_previous_version_keeps_serving(flows_dir, caplog):
    reg = FlowRegistry(flows_dir)
    reg.reload()
    v1 = reg.get("main").version
    write(flows_dir, "main.yaml", MAIN.replace("next: bye\n  sub:", "next: byebye\n  sub:"))
    with caplog.at_level(logging.ERROR, logger="acd.flows.registry"):
        report = reg.reload()
    assert not report.ok
    problems = report.refused[str(flows_dir / "main.yaml")]
    assert any("goes to 'byebye'" in str(p) and ":10:5:" in str(p) for p in problems)
    assert reg.get("main").version == v1
    assert any(r.getMessage() == "flows.reload.refused" for r in caplog.records)
    assert any(r.getMessage() == "flows.problem" for r in caplog.records)


def test_new_invalid_file_is_not_loaded(flows_dir):
    reg = FlowRegistry(flows_dir)
    reg.reload()
    write(flows_dir, "broken.yaml", "flow: broken\nsteps:\n  a:\n    play: [\n")
    report = reg.reload()
    assert str(flows_dir / "broken.yaml") in report.refused and reg.get("broken") is None


def test_removing_a_needed_subflow_is_refused(flows_dir):
    reg = FlowRegistry(flows_dir)
    reg.reload()
    (flows_dir / "helper.yaml").unlink()
    report = reg.reload()
    assert reg.get("helper") is not None and reg.get("main") is not None
    assert any("cannot be removed" in str(p) for ps in report.refused.values() for p in ps)


def test_a_changed_flow_calling_a_missing_subflow_is_refused(flows_dir):
    reg = FlowRegistry(flows_dir)
    reg.reload()
    v1 = reg.get("main").version
    write(flows_dir, "main.yaml", MAIN.replace("subflow: helper", "subflow: nothere"))
    report = reg.reload()
    assert reg.get("main").version == v1
    assert any("subflow 'nothere' is not a loaded flow" in str(p) for p in report.refused[str(flows_dir / "main.yaml")])


def test_a_number_served_twice_is_refused(flows_dir):
    reg = FlowRegistry(flows_dir)
    reg.reload()
    write(flows_dir, "sales.yaml", SALES.replace('"+442079999999"', '"8000"'))
    report = reg.reload()
    assert any("number 8000 is already served by flow 'main'" in str(p) for ps in report.refused.values() for p in ps)
    assert reg.for_dnis("+442079999999").name == "sales"  # the old sales keeps its number


def test_shared_schedule_change_gives_dependent_flows_a_new_version(flows_dir):
    reg = FlowRegistry(flows_dir)
    reg.reload()
    sales_v1 = reg.get("sales").version
    write(flows_dir, "schedules.yaml", SCHEDULES.replace("09:00", "08:00"))
    reg.reload()
    assert reg.get("sales").version != sales_v1
    assert reg.get("sales").steps["hours"].params.schedule.week[0][0].start_min == 8 * 60


async def test_calls_in_progress_keep_their_version(flows_dir):
    reg = FlowRegistry(flows_dir)
    reg.reload()
    h = Harness()
    interp = FlowInterpreter(h.ports(), h.clock)
    gate = asyncio.Event()

    class SlowChannel(ScriptedChannel):
        async def wait_for_digit(self, timeout_ms: int):
            await gate.wait()
            return await super().wait_for_digit(timeout_ms)

    old_snapshot = reg.current
    old_call = asyncio.create_task(interp.run(
        old_snapshot.for_dnis("8000"), (old_ch := SlowChannel(["", "1"])), CallContext("old", "+44", "8000"),
        flows=old_snapshot.flows), name="old-call")
    await asyncio.sleep(0.01)  # the old call waits at the menu
    write(flows_dir, "main.yaml", MAIN.replace("hello-v1", "hello-v2"))
    write(flows_dir, "helper.yaml", HELPER.replace("helper-v1", "helper-v2"))
    report = reg.reload()
    assert set(report.loaded) == {"main", "helper"}
    new_snapshot = reg.current
    new_ch = ScriptedChannel(["1"])
    await interp.run(new_snapshot.for_dnis("8000"), new_ch, CallContext("new", "+44", "8000"), flows=new_snapshot.flows)
    gate.set()
    await old_call
    assert old_ch.played() == ["hello-v1", "pick", "pick", "helper-v1"]  # the old call, old subflow too
    assert new_ch.played()[0] == "hello-v2" and "helper-v2" in new_ch.played()
    versions = {d["version"] for cid, k, d in h.recorder.events if k == "flow_step" and cid == "old" and d["flow"] == "main"}
    assert versions == {str(old_snapshot.get("main").version)}


async def test_watcher_reloads_on_change_and_stops(flows_dir):
    reg = FlowRegistry(flows_dir, poll_interval_s=0.02)
    reg.reload()
    v1 = reg.get("main").version
    task = reg.start_watching()
    assert task.get_name() == "flows-watcher" and reg.start_watching() is task
    write(flows_dir, "main.yaml", MAIN.replace("hello-v1", "hello-v3"))
    for _ in range(200):
        await asyncio.sleep(0.02)
        if reg.get("main").version != v1:
            break
    assert reg.get("main").version != v1
    assert reg.get("main").steps["hello"].params.prompts[0].source == "hello-v3"
    await reg.stop()
    assert task.done()


async def test_flow_runner_for_the_ivr_entry(flows_dir):
    from acd.agi.codec import AgiEnvironment
    from acd.flows.runner import make_flow_runner

    reg = FlowRegistry(flows_dir)
    reg.reload()
    h = Harness()
    runner = make_flow_runner(reg, FlowInterpreter(h.ports(), h.clock))
    channel = ScriptedChannel(["2"])
    channel.env = AgiEnvironment({"agi_uniqueid": "1795.1", "agi_callerid": "unknown", "agi_dnid": "442079999999",
                                  "agi_channel": "PJSIP/trunk-1", "agi_extension": "442079999999"})
    assert await runner(channel) == "hangup"
    start = [d for cid, k, d in h.recorder.events if k == "flow_start"][0]
    assert start["flow"] == "sales" and start["caller"] is None
