"""The in-process journal keeps a bounded window of the ACD core's inputs once bound to the core
(the service binds it at start; before, it was never bound and kept every input, found by
bench/soak.py as heap growing with every call)."""

from __future__ import annotations

from acd.routing import inputs as ev
from acd.routing.core import AcdCore
from acd.service.journal import Journal


def test_a_bound_journal_keeps_its_window_and_rebuilds():
    core = AcdCore()
    journal = Journal(keep=5)
    journal.bind(core)
    for i in range(23):
        event = ev.TimerFired(float(i), f"t{i}")
        journal.append(event)
        core.handle(event)
    assert len(journal.tail) <= 5 and journal.position == 23
    assert journal.rebuild() is not core


async def test_the_service_binds_its_journal(make_engine):
    engine = await make_engine(n_agents=1)
    assert engine.acd.journal.snapshot is not None  # bound: the window is bounded
