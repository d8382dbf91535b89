"""ember.ops.elementwise.trigonometric: trigonometric and hyperbolic functions and their
inverses, atan2, hypot, sinc and degree/radian conversion."""
import numpy as np

from ..op_table import BINARY, BadInputChecks, Case, CaseChecks, UNARY, ValueChecks


CASES = [
    Case("sin", lambda fw, a: a.sin(), UNARY, numpy=np.sin),
    Case("cos", lambda fw, a: a.cos(), UNARY, numpy=np.cos),
    Case("tanh", lambda fw, a: a.tanh(), UNARY, numpy=np.tanh),
    Case("sinh", lambda fw, a: a.sinh(), UNARY),
    Case("cosh", lambda fw, a: fw.cosh(a), UNARY),
    Case("tan", lambda fw, a: fw.tan(a), UNARY, "unit"),
    Case("asin", lambda fw, a: a.asin(), UNARY, "unit"),
    Case("acos", lambda fw, a: fw.acos(a), UNARY, "unit"),
    Case("atan", lambda fw, a: fw.arctan(a), UNARY),
    Case("atan2", lambda fw, a, b: fw.atan2(a, b), BINARY),
    Case("hypot", lambda fw, a, b: fw.hypot(a, b), BINARY),
    Case("asinh", lambda fw, a: a.asinh(), UNARY),
    Case("acosh", lambda fw, a: fw.acosh(a + 3), UNARY),
    Case("atanh", lambda fw, a: fw.arctanh(a), UNARY, "unit"),
    Case("deg2rad_rad2deg", lambda fw, a: (fw.deg2rad(a), fw.rad2deg(a)), UNARY),
    Case("sinc", lambda fw, a: fw.sinc(a), UNARY),
    Case("sinc_at_zero", lambda fw, a: (a * 0).sinc(), UNARY[1:3]),
]


BAD_INPUTS = {
    "atan2_shapes": lambda fw: fw.atan2(fw.ones(2), fw.ones(3)),
}


VALUES = {
    "atan2_int": lambda fw: fw.atan2(fw.tensor([1, 2]), fw.tensor([3, -1])),
    "hypot_float64": lambda fw: fw.hypot(fw.tensor([3.0], dtype=fw.float64), fw.tensor([4.0])),
    "atanh_int": lambda fw: fw.atanh(fw.tensor([0, 0])),
}


class TestTrigonometric(CaseChecks, BadInputChecks, ValueChecks):
    """The op-table checks of every entry above."""
