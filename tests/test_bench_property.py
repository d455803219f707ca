"""The million-step property command (bench/property.py): a short run finds nothing wrong with the
core, and the same driver catches a core that breaks an invariant."""

from acd.routing.core import AcdCore
from bench.property import explore


class QueueJumpingCore(AcdCore):
    """A broken core: every caller joins at the back, whatever its priority."""

    def _insert(self, entry):
        self.waiting[entry.queue].append(entry)


def test_a_short_run_of_the_core_breaks_no_invariant():
    result = explore(3_000, seed=3)
    assert result.steps == 3_000 and result.runs == 15
    assert result.violations == []


def test_the_driver_catches_a_core_that_breaks_priority_order():
    result = explore(3_000, seed=3, make_core=QueueJumpingCore)
    assert result.violations
    assert {v.invariant for v in result.violations} <= {"queues_stay_in_priority_order", "snapshot_plus_tail_equals_replay", "more"}
    assert "queues_stay_in_priority_order" in {v.invariant for v in result.violations}
