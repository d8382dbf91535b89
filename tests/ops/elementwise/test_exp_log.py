"""ember.ops.elementwise.exp_log: exponentials, logarithms, sqrt, rsqrt, sigmoid, logit,
logaddexp and xlogy."""
import numpy as np

from ..op_table import (
    BINARY, Case, CaseChecks, HalfChecks, SecondDerivativeChecks, UNARY, ValueChecks, ints)
from . import ELEMENTWISE_MODULES


# Ops of this family: their double backward must never be skipped as another family's.
OPS_MODULES = ELEMENTWISE_MODULES

CASES = [
    Case("exp", lambda fw, a: a.exp(), UNARY, numpy=np.exp),
    Case("log", lambda fw, a: a.log(), UNARY, "positive", numpy=np.log),
    Case("log1p", lambda fw, a: a.log1p(), UNARY, "positive", numpy=np.log1p),
    Case("sqrt", lambda fw, a: a.sqrt(), UNARY, "positive", numpy=np.sqrt),
    Case("rsqrt", lambda fw, a: a.rsqrt(), UNARY, "positive",
         numpy=lambda a: 1 / np.sqrt(a)),
    Case("sigmoid", lambda fw, a: a.sigmoid(), UNARY,
         numpy=lambda a: 1 / (1 + np.exp(-a))),
    Case("sigmoid_large", lambda fw, a: (a * 60).sigmoid(), UNARY[1:3], check_grad=False),
    Case("exp2", lambda fw, a: fw.exp2(a), UNARY),
    Case("log2", lambda fw, a: a.log2(), UNARY, "positive"),
    Case("log10", lambda fw, a: fw.log10(a), UNARY, "positive"),
    Case("logaddexp", lambda fw, a, b: fw.logaddexp(a, b), BINARY),
    Case("expm1", lambda fw, a: fw.expm1(a), UNARY),
    Case("logit", lambda fw, a: fw.logit(a), UNARY, "unit", check_grad=False),
    Case("logit_eps_outside", lambda fw, a: fw.logit(a, 0.3), UNARY, "unit", check_grad=False),
    Case("logit_positive", lambda fw, a: fw.logit(a * 0.4), UNARY, "positive"),
    Case("logit_eps", lambda fw, a: a.logit(eps=0.2), UNARY, "unit"),
    Case("xlogy", lambda fw, a, b: fw.xlogy(a, b), BINARY, ("with_zeros", "positive")),
    Case("xlogy_scalar", lambda fw, a: fw.xlogy(a, 3.0), UNARY, "with_zeros"),
    Case("logaddexp2", lambda fw, a, b: fw.logaddexp2(a, b), BINARY),
]


VALUES = {
    "int_exp": lambda fw: ints(fw).exp(),
    "int_sqrt": lambda fw: ints(fw).sqrt(),
    "log2_int": lambda fw: fw.log2(fw.tensor([1, 2, 8], dtype=fw.int32)),
    "xlogy_zero_and_nan": lambda fw: fw.xlogy(fw.tensor([0.0, 0.0, 2.0, 0.0]),
                                              fw.tensor([0.0, 3.0, 0.0, float("nan")])),
}


class TestExpLog(CaseChecks, SecondDerivativeChecks, HalfChecks, ValueChecks):
    """The op-table checks of every entry above."""
