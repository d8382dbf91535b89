"""torch.utils.benchmark's Timer and Measurement: structure and arithmetic, never timings."""
import re

import pytest

from ember.utils.benchmark import Measurement, TaskSpec, Timer


def test_measurement_arithmetic_and_repr():
    spec = TaskSpec("x + 1", "x = 1", label="add", sub_label="int", description="one")
    measurement = Measurement(10, [1e-5, 2e-5, 3e-5, 4e-5, 5e-5], spec)
    assert measurement.times == pytest.approx([1e-6, 2e-6, 3e-6, 4e-6, 5e-6])
    assert measurement.mean == pytest.approx(3e-6) and measurement.median == pytest.approx(3e-6)
    assert measurement.iqr == pytest.approx(2e-6) and measurement.title == "add: int"
    lines = repr(measurement).splitlines()
    assert re.fullmatch(r"<ember\.utils\.benchmark\.Measurement object at 0x[0-9a-f]+>", lines[0])
    assert lines[1:] == [
        "add: int", "one", "setup: x = 1", "  Median: 3.00 us", "  IQR:    2.00 us (2.00 to 4.00)",
        "  5 measurements, 10 runs per measurement, 1 thread",
        "  WARNING: Interquartile range is 66.7% of the median measurement.",
        "           This suggests significant environmental influence."]


def test_single_measurement_repr():
    measurement = Measurement(100, [2.5e-6], TaskSpec("x + 1", "pass", num_threads=2))
    assert repr(measurement).splitlines()[1:] == [
        "x + 1", "  25.00 ns", "  1 measurement, 100 runs , 2 threads"]


def test_timer_runs_with_globals():
    calls = []
    timer = Timer("record(1)", globals={"record": calls.append})
    measurement = timer.timeit(7)
    assert measurement.number_per_run == 7 and len(measurement.times) == 1
    assert len(calls) == 7 + 2  # the warm-up runs max(7 // 100, 2)
    blocked = Timer("pass").blocked_autorange(min_run_time=0.01)
    assert sum(blocked.raw_times) >= 0.01
    assert blocked.mean == pytest.approx(sum(blocked.times) / len(blocked.times))
    adaptive = Timer("pass").adaptive_autorange(max_run_time=0.05)
    assert len(adaptive.times) >= 1


@pytest.mark.parametrize("raw_times", [[1e-5, 2e-5, 3e-5, 4e-5, 5e-5], [2.5e-6],
                                       [1.00e-3, 1.01e-3, 0.99e-3, 1.02e-3, 1.00e-3, 0.98e-3]])
def test_measurement_fields_and_significant_figures_match_torch(raw_times):
    """env reads back as given (None unset), as_row_name, and PyTorch's significant figures."""
    torch = pytest.importorskip("torch")
    from torch.utils.benchmark.utils.common import Measurement as TorchMeasurement
    from torch.utils.benchmark.utils.common import TaskSpec as TorchTaskSpec
    for env, sub_label in ((None, None), ("A", "row")):
        ours = Measurement(10, raw_times, TaskSpec("x + 1", "pass", sub_label=sub_label,
                                                   env=env))
        theirs = TorchMeasurement(10, raw_times, TorchTaskSpec("x + 1", "pass",
                                                               sub_label=sub_label, env=env))
        assert ours.env == theirs.env
        assert ours.as_row_name == theirs.as_row_name
        assert ours.significant_figures == theirs.significant_figures


def test_statements_may_call_torch_without_importing_it(torch):
    """PyTorch's Timer puts ``torch`` in the statement's globals when they lack it (the
    Jacobians tutorial times ``compute_jac(xp)`` this way): ember's, the module the program
    calls torch (ember itself, or the drop-in module under ember.compat)."""
    import ember
    import ember.compat
    reference = torch.utils.benchmark.Timer("torch.ones(2).sum()").timeit(3)
    ours = Timer("torch.ones(2).sum()", setup="y = torch.zeros(1)").timeit(3)
    assert ours.number_per_run == reference.number_per_run == 3
    assert Timer("x = torch", globals={"torch": 5})._globals["torch"] == 5
    assert Timer("pass")._globals["torch"] is ember
    ember.compat.install(force=True)
    try:
        drop_in = __import__("torch")
        assert Timer("pass")._globals["torch"] is drop_in
    finally:
        ember.compat.uninstall()
