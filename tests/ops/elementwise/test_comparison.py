"""ember.ops.elementwise.comparison: comparisons, logical ops and predicates."""
import numpy as np

import ember

from ..op_table import BadInputChecks, Case, CaseChecks, ValueChecks, ints


def _compare_inplace(fw, a, b):
    return ((a * 1).ge_(b), (a * 1).lt_(b), (a > 0).logical_and_(b > 0),
            (a > 0).logical_not_())


CASES = [
    Case("inplace_compare", _compare_inplace, [((3, 4), (3, 4))], grad=False),
]


BAD_INPUTS = {
    "heaviside_number": lambda fw: fw.heaviside(fw.ones(2), 0.5),
    "heaviside_dtypes": lambda fw: fw.heaviside(fw.ones(2), fw.tensor(1)),
}


VALUES = {
    "comparison": lambda fw: fw.ones(3) > 0.5,
    "comparison_int_float": lambda fw: ints(fw) == fw.ones(3),
    "signbit": lambda fw: fw.signbit(fw.tensor([-0.0, 0.0, -2.0, 3.0])),
    "isposinf_isneginf_isreal": lambda fw: (fw.isposinf(fw.tensor([float("inf"), 1.0])),
                                            fw.isneginf(fw.tensor([-float("inf"), 1.0])),
                                            fw.isreal(fw.tensor([1, 2]))),
    "heaviside": lambda fw: fw.heaviside(fw.tensor([-1.0, 0.0, 2.0]), fw.tensor(0.5)),
}


class TestComparison(CaseChecks, BadInputChecks, ValueChecks):
    """The op-table checks of every entry above; comparisons have no gradient to check."""

    test_gradcheck_float64 = None
    test_gradgradcheck_float64 = None


def test_comparisons_return_bool_tensors():
    x = ember.tensor([1.0, 2.0, 3.0], requires_grad=True)
    for result in (x > 2, x >= 2, x < 2, x <= 2, x == 2, x != 2, 2 < x):
        assert result.dtype is ember.bool
        assert not result.requires_grad
    np.testing.assert_array_equal((x > 1.5).numpy(), [False, True, True])
