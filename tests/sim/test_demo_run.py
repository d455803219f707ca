"""``acd demo`` as shipped (config/, ivr_flows/, the demo traffic) for four minutes of virtual
time: some simulated callers book a callback, and the summary printed at the end counts them."""

from __future__ import annotations

import asyncio
import dataclasses
import shutil
from pathlib import Path

import pytest

from acd.app import _demo_summary, run_engine
from acd.settings import load_settings
from acd.vtime import running_virtual_clock

pytestmark = pytest.mark.virtual_time
ROOT = Path(__file__).resolve().parents[2]


async def _four_minutes(tmp_path, seed):
    tmp_path.mkdir(parents=True, exist_ok=True)
    shutil.copytree(ROOT / "config", tmp_path / "config")
    s = load_settings(tmp_path / "config", environ={})
    s = dataclasses.replace(
        s, http=dataclasses.replace(s.http, port=0), demo=dataclasses.replace(s.demo, seed=seed),
        database=dataclasses.replace(s.database, url=f"sqlite+aiosqlite:///{tmp_path}/acd.sqlite3", spool_dir=str(tmp_path / "spool")),
        flows=dataclasses.replace(s.flows, directory=str(ROOT / "ivr_flows")),
        recording=dataclasses.replace(s.recording, dir=str(tmp_path / "recordings")))
    async with run_engine(s, with_demo=True, clock=running_virtual_clock()) as engine:
        started = engine.clock.now()
        await asyncio.sleep(240)
        booked = [out.uniqueid for out in engine.pbx.outcomes
                  if any(e["kind"] == "callback_requested" for e in engine.calllog.timeline(out.uniqueid))]
        text = _demo_summary(engine, engine.clock.now() - started)
    lines = text.splitlines()
    assert lines[0].startswith("demo summary: ") and lines[0].endswith("calls placed in 240 s")
    assert f"callback booked {len(booked)}," in lines[1]
    general = next(line.split() for line in lines[4:] if line.split()[:1] == ["general"])
    assert int(general[1]) >= len(booked)  # offered: every booking was a call in the general queue
    return len(booked)


async def test_four_minute_demos_book_callbacks_and_their_summaries_show_them(tmp_path):
    """Four minutes of a Poisson stream is a small sample: one seed may book none, so three runs
    (seeds 1-3) together must book some, and every summary must count what its run booked."""
    booked = [await _four_minutes(tmp_path / str(seed), seed) for seed in (1, 2, 3)]
    assert sum(booked) > 0, f"no simulated caller booked a callback in three four-minute demos: {booked}"
