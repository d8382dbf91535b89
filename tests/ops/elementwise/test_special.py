"""ember.ops.elementwise.special: erf, erfc and erfinv."""
import numpy as np

import ember

from ..op_table import Case, CaseChecks, HalfChecks, SecondDerivativeChecks, UNARY, ValueChecks
from . import ELEMENTWISE_MODULES


# Ops of this family: their double backward must never be skipped as another family's.
OPS_MODULES = ELEMENTWISE_MODULES

CASES = [
    Case("erf", lambda fw, a: fw.erf(a * 1.5), UNARY),
    Case("erfc", lambda fw, a: fw.erfc(a * 2), UNARY),
    Case("erfc_far", lambda fw, a: (a * 3 + 6).erfc(), UNARY[1:3], "positive"),
    Case("erfinv", lambda fw, a: fw.erfinv(a), UNARY, "unit"),
]


VALUES = {
    "erf_int": lambda fw: fw.erf(fw.tensor([0, 1, 2])),
    "erfinv_edges": lambda fw: fw.erfinv(fw.tensor([-1.0, 1.0, 0.0, 1.5, 0.999999])),
    "erfc_int": lambda fw: fw.erfc(fw.tensor([0, 1, 3])),
}


class TestSpecial(CaseChecks, SecondDerivativeChecks, HalfChecks, ValueChecks):
    """The op-table checks of every entry above."""


def test_erf_float32_is_accurate_near_zero(torch):
    array = np.array([1e-6, -3e-4, 0.01, 0.5, 2.0, 4.0], np.float32)
    np.testing.assert_allclose(ember.erf(ember.tensor(array)).numpy(),
                               torch.erf(torch.tensor(array)).numpy(), rtol=3e-7, atol=0)
