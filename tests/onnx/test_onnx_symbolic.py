"""Sizes that follow the dynamic axes: fitted from the runs as polynomials in the axes' sizes."""
import pytest

from ember.onnx._symbolic import Axes, Dim, Unknown


@pytest.mark.parametrize("formula", [
    lambda batch, time: batch,
    lambda batch, time: 4 * batch + 1,
    lambda batch, time: batch * time * 3,
    lambda batch, time: batch * time - time + 7,
    lambda batch, time: 12,
], ids=["batch", "affine", "product", "mixed", "constant"])
def test_fit_recovers_sums_of_products_of_the_axes(formula):
    axes = Axes({"batch": 2, "time": 6})
    fitted = axes.fit([formula(run["batch"], run["time"]) for run in axes.runs], "a size")
    for batch, time in ((2, 6), (9, 1), (5, 40)):
        value = fitted.evaluate({"batch": batch, "time": time}) if isinstance(fitted, Dim) \
            else fitted
        assert value == formula(batch, time)


def test_runs_move_each_axis_by_one_then_every_axis_by_two():
    axes = Axes({"batch": 2, "time": 6})
    assert axes.runs == [{"batch": 2, "time": 6}, {"batch": 3, "time": 6},
                         {"batch": 2, "time": 5}, {"batch": 3, "time": 5},
                         {"batch": 4, "time": 4}]


def test_a_size_that_is_no_such_polynomial_is_unknown():
    axes = Axes({"batch": 6})
    fitted = axes.fit([run["batch"] // 2 for run in axes.runs], "dimension 0 of x")
    assert isinstance(fitted, Unknown)
    assert "dimension 0 of x is 3 in the example but 2 with batch=5" in str(fitted.error())


def test_dims_print_as_formulas():
    batch, time = Dim.symbol("batch"), Dim.symbol("time")
    assert str(2 * batch * time + batch - 1) == "2*batch*time + batch - 1"
    assert (batch + 1) * 1 - 1 == batch
    assert Dim.of(3).simplified() == 3
