"""ember.ops.elementwise.rounding: floor, ceil, round, trunc, frac and nan_to_num."""
import numpy as np

from ..op_table import (
    BadInputChecks, Case, CaseChecks, HalfChecks, SecondDerivativeChecks, UNARY, ValueChecks)
from . import ELEMENTWISE_MODULES


# Ops of this family: their double backward must never be skipped as another family's.
OPS_MODULES = ELEMENTWISE_MODULES

CASES = [
    Case("floor", lambda fw, a: a.floor(), UNARY, numpy=np.floor, check_grad=False),
    Case("ceil", lambda fw, a: a.ceil(), UNARY, check_grad=False),
    Case("round", lambda fw, a: a.round(), UNARY, check_grad=False),
    Case("round_decimals", lambda fw, a: a.round(decimals=2), UNARY, check_grad=False),
    Case("trunc", lambda fw, a: a.trunc(), UNARY, check_grad=False),
    Case("nan_to_num", lambda fw, a: fw.nan_to_num(a.masked_fill(a > 1, float("nan")), 0.5),
         UNARY[1:]),
    Case("nan_to_num_inf", lambda fw, a: (a.masked_fill(a > 1, float("inf"))
                                          .masked_fill(a < -1, -float("inf")).nan_to_num()),
         UNARY[1:3], check_grad=False),
    # log gives NaN below 0: non-finite entries without masked_fill.
    Case("nan_to_num_log", lambda fw, a: fw.nan_to_num(fw.log(a), 0.5), UNARY),
    Case("frac", lambda fw, a: fw.frac(a * 3), UNARY),
]


BAD_INPUTS = {
    "frac_int": lambda fw: fw.frac(fw.tensor([1, 2])),
}


VALUES = {
    "nan_to_num_int": lambda fw: fw.nan_to_num(fw.tensor([1, 2])),
}


class TestRounding(CaseChecks, SecondDerivativeChecks, HalfChecks, BadInputChecks, ValueChecks):
    """The op-table checks of every entry above."""
