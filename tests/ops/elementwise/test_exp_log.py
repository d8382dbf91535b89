"""ember.ops.elementwise.exp_log: exponentials, logarithms, sqrt, rsqrt, sigmoid, logit,
logaddexp and xlogy."""
import math

import numpy as np
import pytest

import ember

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


# Ops that save their output for backward: on a 0-d input NumPy hands back a scalar, which must
# still be saved as the result tensor's own array, or create_graph sees a constant.
SAVED_OUTPUT = ["erfinv", "exp", "exp2", "expm1", "rsqrt", "sigmoid", "sqrt", "tan", "tanh"]


def test_exp_of_0d_input_second_derivative():
    x = ember.tensor(0.5, dtype=ember.float64, requires_grad=True)
    (first,) = ember.autograd.grad(x.exp(), x, create_graph=True)
    (second,) = ember.autograd.grad(first, x)
    assert second.shape == ()
    assert second.item() == pytest.approx(math.exp(0.5), rel=1e-15)


@pytest.mark.parametrize("name", SAVED_OUTPUT)
def test_0d_saved_output_second_derivative_matches_torch(name, torch):
    results = []
    for framework in (ember, torch):
        x = framework.tensor(0.5, dtype=framework.float64, requires_grad=True)
        (first,) = framework.autograd.grad(getattr(x, name)(), x, create_graph=True)
        (second,) = framework.autograd.grad(first, x)
        results.append((first.item(), second.item()))
    np.testing.assert_allclose(results[0], results[1], rtol=1e-12)


# torch refuses a change to these saved outputs too (its erfinv recomputes its output instead).
@pytest.mark.parametrize("name", [name for name in SAVED_OUTPUT if name != "erfinv"] + ["relu"])
def test_0d_saved_output_changed_in_place_is_refused(name):
    x = ember.tensor(0.5, dtype=ember.float64, requires_grad=True)
    out = getattr(x, name)()
    out.add_(1.0)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        out.backward()


@pytest.mark.parametrize("name", ["sigmoid", "rsqrt", "exp", "log"])
def test_bfloat16_computed_in_float32_and_rounded_once_as_torch(torch, name):
    # Rounding each step of the formula to bfloat16 put a third of sigmoid's values an ulp off.
    values = np.abs(np.random.default_rng(0).standard_normal(4000) * 3).astype(np.float32) + 0.1
    ours = getattr(ember, name)(ember.tensor(values).to(ember.bfloat16))
    theirs = getattr(torch, name)(torch.tensor(values).to(torch.bfloat16))
    assert ours.dtype == ember.bfloat16
    np.testing.assert_array_equal(ours.float().numpy(), theirs.float().numpy())


@pytest.mark.parametrize("name", ["erfinv", "var", "std", "logaddexp", "logaddexp2"])
def test_output_changed_in_place_before_backward_like_torch(torch, name):
    """PyTorch's erfinv, var and logaddexp gradients read the inputs, not the output, so scaling
    the result in place before backward works, with the same gradient; std's reads its output
    and refuses."""
    calls = {"erfinv": lambda t: (t.tanh() * 0.9).erfinv(), "var": lambda t: t.var(1),
             "std": lambda t: t.std(1), "logaddexp": lambda t: t.logaddexp(t.flip(0) * 2),
             "logaddexp2": lambda t: t.logaddexp2(t[:1] - 1)}
    data = np.random.default_rng(8).standard_normal((3, 5)).astype(np.float32)
    outcomes = []
    for library in (torch, ember):
        leaf = library.tensor(data, requires_grad=True)
        result = calls[name](leaf)
        result.mul_(3.0)
        try:
            result.sum().backward()
        except RuntimeError as error:
            outcomes.append(("raised", "modified by an inplace operation" in str(error)))
        else:
            outcomes.append(("ok", leaf.grad.numpy()))
    (their_kind, theirs), (our_kind, ours) = outcomes
    assert our_kind == their_kind == ("raised" if name == "std" else "ok")
    if our_kind == "ok":
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)
    else:
        assert ours and theirs


@pytest.mark.parametrize("name", ["log", "sqrt", "rsqrt", "log2"])
def test_quiet_ops_at_their_domain_edges_match_torch_without_warnings(torch, name):
    """Quiet ops compute under their own NumPy error state (no warning at 0 or below) and leave
    the caller's as it was."""
    data = [-1.0, 0.0, 0.25, 4.0]
    before = np.geterr()
    results = {}
    for fw in (ember, torch):
        x = fw.tensor(data, dtype=fw.float64, requires_grad=True)
        with np.errstate(all="raise"):  # a warning NumPy raised would be an error here
            out = getattr(fw, name)(x)
            out.backward(fw.ones_like(out))
        results[fw] = (out.detach().numpy(), x.grad.numpy())
    assert np.geterr() == before
    np.testing.assert_allclose(results[ember][0], results[torch][0], rtol=1e-12)
    np.testing.assert_allclose(results[ember][1], results[torch][1], rtol=1e-12)
    with pytest.warns(RuntimeWarning):
        np.log(np.zeros(1))  # the caller's state: warnings on
