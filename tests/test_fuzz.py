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

INPUTS: dict[str, int] = {}  # 3,000 each (the flow compiler takes ~1.5 ms an input, no longer ~20)


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


def test_a_step_whose_typo_reads_as_an_action_with_a_number_is_a_problem_not_a_crash():
    """Found by the 1,000,000-input run (before 500,000): ``thanks: 10**30`` inside a step is read as
    the ``task`` it is close to, a number where a mapping belongs (an AssertionError before
    ``task`` given a word was made a schema problem)."""
    from acd.flows.compiler import FlowCompileError, compile_flow_text

    text = ("flow: survey\nsteps:\n  csat:\n    menu: {prompt: acme/survey-rate-us-1-to-5}\n    on: {'1': thanks}\n"
            "  thanks:\n    resolved: {menu: {prompt: x}}\n    thanks: 1000000000000000000000000000000\n")
    with pytest.raises(FlowCompileError) as err:
        compile_flow_text(text, "fuzz.yaml")
    assert any("thanks" in p.message and p.step == "thanks" for p in err.value.problems), str(err.value)
