"""ember.ops.elementwise.trigonometric: trigonometric and hyperbolic functions and their
inverses, atan2, hypot, sinc and degree/radian conversion."""
import numpy as np
import pytest

import ember
from ember.ops.elementwise.trigonometric import TanhBackward, TanhBackwardOut

from ..op_table import (
    BINARY, BadInputChecks, Case, CaseChecks, HalfChecks, SecondDerivativeChecks, UNARY,
    ValueChecks)
from . import ELEMENTWISE_MODULES


# Ops of this family: their double backward must never be skipped as another family's.
OPS_MODULES = ELEMENTWISE_MODULES

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
    # At the origin, where atan2 has no derivative, torch's gradients are 0 (issue 13: not NaN)
    # and its second derivatives NaN.
    Case("atan2_origin", lambda fw, a, b: fw.atan2(a * 0, b * 0), BINARY[1:3], check_grad=False),
    Case("asinh", lambda fw, a: a.asinh(), UNARY),
    Case("acosh", lambda fw, a: fw.acosh(a + 3), UNARY),
    Case("atanh", lambda fw, a: fw.arctanh(a), UNARY, "unit"),
    Case("deg2rad_rad2deg", lambda fw, a: (fw.deg2rad(a), fw.rad2deg(a)), UNARY),
    # Near 0 torch's float32 and float16 derivatives of sinc lose the digits that ember keeps
    # (a series there): away from 0 here, near 0 against float64 below. In float16 the quotient
    # of the derivative cancels, in torch and in ember (each ~1% off the exact value).
    Case("sinc", lambda fw, a: fw.sinc(a), UNARY, "nonzero", half_tolerance=(2e-2, 1e-3)),
    # At 0 torch's second derivative is NaN; ember's is sinc''(0) (checked below).
    Case("sinc_at_zero", lambda fw, a: (a * 0).sinc(), UNARY[1:3], torch_gradgrad=False),
]


BAD_INPUTS = {
    "atan2_shapes": lambda fw: fw.atan2(fw.ones(2), fw.ones(3)),
}


VALUES = {
    "atan2_int": lambda fw: fw.atan2(fw.tensor([1, 2]), fw.tensor([3, -1])),
    "hypot_float64": lambda fw: fw.hypot(fw.tensor([3.0], dtype=fw.float64), fw.tensor([4.0])),
    "atanh_int": lambda fw: fw.atanh(fw.tensor([0, 0])),
}


class TestTrigonometric(CaseChecks, SecondDerivativeChecks, HalfChecks, BadInputChecks,
                        ValueChecks):
    """The op-table checks of every entry above."""


def _sinc_derivatives(x):
    """sinc's first and second derivatives in float64: the quotients, exact to ~1e-12 for
    |x| >= 1e-3, and their limits at 0."""
    angle = np.pi * x
    with np.errstate(divide="ignore", invalid="ignore"):
        first = (np.cos(angle) * angle - np.sin(angle)) / (angle * x)
        second = -((angle * angle - 2) * np.sin(angle) + 2 * angle * np.cos(angle)) / (
            angle * x * x)
    return np.where(x == 0, 0.0, first), np.where(x == 0, -np.pi ** 2 / 3, second)


@pytest.mark.parametrize("dtype, rtol", [("float16", 2e-3), ("float32", 2e-6),
                                         ("float64", 1e-10)])
def test_sinc_derivatives_near_zero_are_accurate(dtype, rtol):
    values = np.array([0.0, 1e-3, -2.4e-3, 0.01, -0.05, 0.09, 0.11, 0.3, -0.7])
    x = ember.tensor(values, dtype=getattr(ember, dtype), requires_grad=True)
    (first,) = ember.autograd.grad(ember.sinc(x).sum(), x, create_graph=True)
    (second,) = ember.autograd.grad(first.sum(), x)
    exact_first, exact_second = _sinc_derivatives(x.detach().numpy().astype(np.float64))
    np.testing.assert_allclose(first.detach().numpy(), exact_first, rtol=rtol, atol=0)
    if dtype != "float16":
        np.testing.assert_allclose(second.numpy(), exact_second, rtol=rtol * 10, atol=0)


def test_tanh_third_derivative_matches_torch(torch):
    # Two create_graph differentiations record tanh's fused backward node and differentiate it.
    values = np.array([[-2.0, -0.3, 0.0], [0.4, 1.1, 3.0]])
    weights = np.array([0.5, -1.5, 2.0])
    results = []
    for fw in (ember, torch):
        for dtype in (fw.float32, fw.float64):
            x = fw.tensor(values, dtype=dtype, requires_grad=True)
            scale = fw.tensor(weights, dtype=dtype)
            (first,) = fw.autograd.grad((fw.tanh(x * scale) * scale).sum(), x, create_graph=True)
            (second,) = fw.autograd.grad((first * first).sum(), x, create_graph=True)
            (third,) = fw.autograd.grad((second * scale).sum(), x)
            results.append([item.detach().numpy() for item in (first, second, third)])
    for ours, theirs in zip(results[:2], results[2:]):
        for ours_item, theirs_item in zip(ours, theirs):
            np.testing.assert_allclose(ours_item, theirs_item, rtol=1e-5, atol=1e-6)


def test_tanh_backward_node_broadcasts_and_has_second_derivatives():
    rng = np.random.default_rng(3)
    grad = ember.tensor(rng.standard_normal((2, 3)), requires_grad=True)
    out = ember.tensor(np.tanh(rng.standard_normal(3)), requires_grad=True)
    np.testing.assert_allclose(TanhBackward.apply(grad, out).detach().numpy(),
                               grad.detach().numpy() * (1 - out.detach().numpy() ** 2))
    assert ember.autograd.gradcheck(TanhBackward.apply, (grad, out))
    assert ember.autograd.gradgradcheck(TanhBackward.apply, (grad, out))


def test_tanh_backward_out_node_broadcasts_and_has_second_derivatives():
    rng = np.random.default_rng(4)
    grad_output = ember.tensor(rng.standard_normal((2, 3)), requires_grad=True)
    grad = ember.tensor(rng.standard_normal(3), requires_grad=True)
    out = ember.tensor(np.tanh(rng.standard_normal((2, 1))), requires_grad=True)
    arrays = [value.detach().numpy() for value in (grad_output, grad, out)]
    np.testing.assert_allclose(TanhBackwardOut.apply(grad_output, grad, out).detach().numpy(),
                               -2 * arrays[0] * arrays[1] * arrays[2])
    assert ember.autograd.gradcheck(TanhBackwardOut.apply, (grad_output, grad, out))
    assert ember.autograd.gradgradcheck(TanhBackwardOut.apply, (grad_output, grad, out))
