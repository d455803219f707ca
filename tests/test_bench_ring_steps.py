"""The ring-latency step timer (bench/ring_steps.py) sees every step of every call, in order,
and puts everything back as it was."""

import asyncio

import acd.service.acd as acd_service
import acd.service.legs as acd_legs
from bench import ring_latency
from bench.ring_steps import STEPS, Marks


def test_every_call_passes_every_step_and_the_wrappers_come_off():
    before = acd_service.AcdService.submit, acd_legs.originate_now
    marks = Marks()
    with marks.installed():
        total = asyncio.run(ring_latency.measure(3))
    assert len(total) == 3
    steps = marks.steps()
    assert list(steps) == list(STEPS[1:])
    assert all(len(ms) == 4 and min(ms) >= 0 for ms in steps.values())  # the warm-up call and the three
    assert (acd_service.AcdService.submit, acd_legs.originate_now) == before
