"""The short, deterministic fuzz run CI does (the long one is ``python -m bench.fuzz``, 1,000,000
inputs per target): a few thousand seeded inputs per target, none of which may crash (raise
anything but the target's documented errors, or break a round trip or a cap) or hang (> 1 s).
Every crash the long runs found is fixed and stays fixed here, because the generators reach the
same shapes: control characters and deep nesting in flow YAML, odd values where flow-wide
settings belong, big AMI frames trickled a byte at a time, replies with line breaks."""

from __future__ import annotations

import pytest

from bench.fuzz import fuzz
from bench.fuzz_targets import TARGETS

# the flow compiler takes ~20 ms an input (YAML and the JSON schema in pure Python)
INPUTS = {"flow-compiler": 400}


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_a_short_seeded_fuzz_run_finds_nothing(name, tmp_path):
    res = fuzz(TARGETS[name], INPUTS.get(name, 3000), seed=20261202, crash_dir=tmp_path, alarm=False)
    assert res.inputs == INPUTS.get(name, 3000)
    assert (res.crashes, res.hangs) == (0, 0), res.findings


def test_the_fuzzer_reports_a_crash_it_is_given(tmp_path):
    """A target whose code raises an undocumented error is reported, with the input saved."""
    from bench.fuzz_targets import Target

    def run(case):
        if case % 7 == 0:
            raise KeyError(case)

    res = fuzz(Target("broken", lambda rng: rng.randrange(100), run, ()), 200, seed=1, crash_dir=tmp_path, alarm=False)
    assert res.crashes > 0 and any(k.startswith("KeyError") for k in res.findings)
    assert list(tmp_path.glob("broken-*.txt"))
