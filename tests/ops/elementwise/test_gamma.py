"""ember.ops.elementwise.gamma: lgamma, digamma, polygamma, mvlgamma and the Hurwitz zeta,
against torch 2.13 over wide grids (negatives, near poles, huge values), at their special
values, and their first and second derivatives."""
import math

import numpy as np
import pytest

import ember
from ember.autograd import gradcheck, gradgradcheck
from tests.conftest import assert_close, float64_tensor

from ..op_table import (BadInputChecks, Case, CaseChecks, HalfChecks, SecondDerivativeChecks,
                        UNARY, ValueChecks)
from . import ELEMENTWISE_MODULES

OPS_MODULES = ELEMENTWISE_MODULES

# The op table's "positive" domain is (0.5, 2); -a / 4 maps it (exactly, float16 included) into
# (-0.5, -0.125), negative arguments clear of the poles at 0 and -1.
CASES = [
    Case("lgamma", lambda fw, a: fw.lgamma(a), UNARY, "positive"),
    Case("lgamma_negative", lambda fw, a: fw.lgamma(-a / 4), UNARY, "positive"),
    Case("lgamma_large", lambda fw, a: (a * 20).lgamma(), UNARY, "positive", rtol=2e-5),
    Case("digamma", lambda fw, a: fw.digamma(a), UNARY, "positive"),
    Case("digamma_negative", lambda fw, a: (-a / 4).digamma(), UNARY, "positive"),
    Case("trigamma", lambda fw, a: fw.polygamma(1, a), UNARY, "positive"),
    Case("polygamma_2_negative", lambda fw, a: fw.polygamma(2, -a / 4), UNARY,
         "positive", rtol=2e-5, grad_rtol=2e-5),
    Case("polygamma_3_method", lambda fw, a: a.polygamma(3), UNARY, "positive", rtol=2e-5,
         grad_rtol=2e-5),
    Case("polygamma_0", lambda fw, a: fw.polygamma(0, a), UNARY, "positive"),
    Case("mvlgamma", lambda fw, a: fw.mvlgamma(a + 1.5, 3), UNARY, "positive"),
    Case("mvlgamma_method", lambda fw, a: (a + 0.5).mvlgamma(2), UNARY, "positive"),
]

_INF = math.inf
_NAN = math.nan
_EDGES = [0.0, -0.0, -1.0, -2.0, -100.0, -_INF, _INF, _NAN, 1e308, 1e30, -1e30, -2.5, 1e-300,
          -1e-300, 1e-310, -1e-310, 1.0, 2.0, 1e-8, -1e-8, 0.5, -0.25]


def _widened(result):
    """A bfloat16 result as float32 (torch's has no NumPy form) and its dtype's name."""
    return result.float(), str(result.dtype).split(".")[-1]


def _edges(fw, dtype):
    return fw.tensor(np.array(_EDGES, dtype=dtype))


VALUES = {
    f"{name}_{dtype}_edges": (lambda function, dtype: lambda fw: function(fw, _edges(fw, dtype)))(
        function, dtype)
    for name, function in [
        ("lgamma", lambda fw, x: fw.lgamma(x)),
        ("digamma", lambda fw, x: fw.digamma(x)),
        ("trigamma", lambda fw, x: fw.polygamma(1, x)),
        ("polygamma_2", lambda fw, x: fw.polygamma(2, x)),
        ("polygamma_3", lambda fw, x: fw.polygamma(3, x)),
        ("polygamma_4", lambda fw, x: fw.polygamma(4, x)),
        ("mvlgamma_1", lambda fw, x: fw.mvlgamma(x, 1)),
        ("mvlgamma_3", lambda fw, x: fw.mvlgamma(x, 3)),
    ]
    for dtype in ("float32", "float64")
}
VALUES.update({
    "lgamma_int": lambda fw: fw.lgamma(fw.tensor([1, 2, 3, 0, -1])),
    "lgamma_bool": lambda fw: fw.lgamma(fw.tensor([True, False])),
    "digamma_int": lambda fw: fw.tensor([1, 2, 0, -3]).digamma(),
    "polygamma_int": lambda fw: fw.polygamma(2, fw.tensor([1, 2, 5])),
    "mvlgamma_int": lambda fw: fw.mvlgamma(fw.tensor([2, 3, 7]), 2),
    "lgamma_float16": lambda fw: fw.lgamma(fw.tensor([0.25, 1.5, -2.5, 30.0],
                                                     dtype=fw.float16)),
    "digamma_bfloat16": lambda fw: _widened(fw.digamma(fw.tensor([0.25, 1.5, -2.5, 30.0],
                                                                 dtype=fw.bfloat16))),
    "polygamma_bfloat16": lambda fw: _widened(fw.polygamma(1, fw.tensor([0.25, 1.5, -2.5, 30.0],
                                                                       dtype=fw.bfloat16))),
    "mvlgamma_below_its_domain": lambda fw: fw.mvlgamma(fw.tensor([0.5, 1.0, 0.2, -0.5]), 2),
    "lgamma_0d": lambda fw: fw.lgamma(fw.tensor(2.5, dtype=fw.float64)),
    "polygamma_0d": lambda fw: fw.polygamma(3, fw.tensor(2.5)),
    "lgamma_float32_overflow": lambda fw: fw.lgamma(fw.tensor([1e38, 4e36, 3e36, -1e38])),
})


def _inplace(fw, method, *arguments):
    x = fw.tensor([0.3, 2.5, -2.5, 7.0])
    returned = getattr(x, method)(*arguments)
    return x, returned


VALUES.update({
    f"inplace_{method}": (lambda method, arguments: lambda fw: _inplace(fw, method, *arguments))(
        method, arguments)
    for method, arguments in [("lgamma_", ()), ("digamma_", ()), ("polygamma_", (2,)),
                              ("mvlgamma_", (1,))]
})


BAD_INPUTS = {
    "polygamma_negative_n": lambda fw: fw.polygamma(-1, fw.tensor([1.0])),
    "polygamma_float_n": lambda fw: fw.polygamma(1.5, fw.tensor([1.0])),
    "polygamma_bool_n": lambda fw: fw.polygamma(True, fw.tensor([1.0])),
    "polygamma_number_input": lambda fw: fw.polygamma(1, 2.0),
    "lgamma_number": lambda fw: fw.lgamma(2.0),
    "digamma_list": lambda fw: fw.digamma([1.0]),
    "mvlgamma_p_zero": lambda fw: fw.mvlgamma(fw.tensor([2.0]), 0),
    "mvlgamma_float_p": lambda fw: fw.mvlgamma(fw.tensor([2.0]), 1.5),
    "mvlgamma_bool": lambda fw: fw.mvlgamma(fw.tensor([True]), 1),
    "lgamma_inplace_int": lambda fw: fw.tensor([1, 2]).lgamma_(),
    "polygamma_inplace_int": lambda fw: fw.tensor([1, 2]).polygamma_(1),
    "zeta_numbers": lambda fw: fw.special.zeta(2.0, 3.0),
}
MESSAGES = {
    "polygamma_negative_n": "polygamma(n, x) does not support negative n",
    "polygamma_float_n": "argument 'n' (position 1) must be int, not float",
    "polygamma_bool_n": "argument 'n' (position 1) must be int, not bool",
    "mvlgamma_p_zero": "p has to be greater than or equal to 1",
    "mvlgamma_float_p": "argument 'p' (position 2) must be int, not float",
    "mvlgamma_bool": "The input tensor may not be a boolean tensor.",
    "lgamma_inplace_int": "result type Float can't be cast to the desired output type Long",
}


class TestGamma(CaseChecks, SecondDerivativeChecks, HalfChecks, ValueChecks, BadInputChecks):
    """The op-table checks of every entry above."""


def _grid():
    """Both signs, close to every pole, huge magnitudes and the non-finite values."""
    rng = np.random.default_rng(0)
    integers = np.arange(-20.0, 21.0)
    return np.concatenate([
        np.linspace(-30, 30, 6001), rng.uniform(-5, 5, 2000), 10.0 ** rng.uniform(-10, 300, 500),
        -(10.0 ** rng.uniform(-10, 3, 500)), integers + 1e-9, integers - 1e-7, integers + 0.5,
        [1.4616321449683623, -2.4570247382208006, -0.5040830082644554]])


def _assert_like_torch(ours, theirs, rtol, atol):
    ours = ours.numpy().astype(np.float64)
    theirs = theirs.numpy().astype(np.float64)
    np.testing.assert_array_equal(np.isnan(ours), np.isnan(theirs))
    infinite = np.isinf(theirs)
    np.testing.assert_array_equal(ours[infinite], theirs[infinite])
    np.testing.assert_allclose(ours, theirs, rtol=rtol, atol=atol)


# (function, float64 rtol, float64 atol): the absolute part covers the zeros of each function
# (lgamma's at 1, 2 and between the negative poles; digamma's; polygamma's at half-integers
# below 0), where both libraries' last bits of the cancelling terms differ.
GRID_FUNCTIONS = {
    "lgamma": (lambda fw, x: fw.lgamma(x), 1e-13, 2e-14),
    "digamma": (lambda fw, x: fw.digamma(x), 1e-13, 1e-15),
    "trigamma": (lambda fw, x: fw.polygamma(1, x), 1e-13, 1e-15),
    "polygamma_2": (lambda fw, x: fw.polygamma(2, x), 1e-13, 1e-13),
    "polygamma_3": (lambda fw, x: fw.polygamma(3, x), 1e-13, 1e-13),
    # at negative half-integers polygamma(6) is a 1e-7 remainder of terms near 128 * 720: both
    # libraries keep about 6 of its digits there
    "polygamma_6": (lambda fw, x: fw.polygamma(6, x), 1e-13, 1e-10),
    "mvlgamma_4": (lambda fw, x: fw.mvlgamma(x, 4), 1e-12, 1e-13),
}


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name", sorted(GRID_FUNCTIONS))
def test_values_over_a_wide_grid_match_torch(torch, name, dtype):
    function, rtol, atol = GRID_FUNCTIONS[name]
    with np.errstate(over="ignore"):
        grid = _grid().astype(dtype)
    ours = function(ember, ember.tensor(grid))
    theirs = function(torch, torch.tensor(grid))
    assert ours.dtype == getattr(ember, dtype)
    if dtype == "float32":
        # torch computes digamma and trigamma in float arithmetic, ember in double rounded once
        rtol, atol = 5e-6, 2e-6
    _assert_like_torch(ours, theirs, rtol, atol)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name", ["lgamma", "digamma"])
def test_compiled_and_numpy_paths_agree_and_match_torch(torch, name, dtype):
    """lgamma (the C library's, compiled; else the NumPy series) and digamma (its shift loop
    compiled, else NumPy passes): both paths over the wide grid, poles, signed zeros,
    infinities and NaN, within float64 rounding of each other and torch's tolerance."""
    from ember import _jit
    function, rtol, atol = GRID_FUNCTIONS[name]
    with np.errstate(over="ignore"):
        grid = np.concatenate([_grid(), [0.0, -0.0, -3.0, np.inf, -np.inf, np.nan]]).astype(dtype)
    compiled = function(ember, ember.tensor(grid))
    with _jit.disabled():
        plain = function(ember, ember.tensor(grid))
    if dtype == "float32":
        rtol, atol = 5e-6, 2e-6
    _assert_like_torch(compiled, function(torch, torch.tensor(grid)), rtol, atol)
    _assert_like_torch(compiled, plain, 1e-13, 2e-14)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_hurwitz_zeta_matches_torch(torch, dtype):
    rng = np.random.default_rng(3)
    q = np.concatenate([rng.uniform(-40, 40, 1500), 10.0 ** rng.uniform(-8, 200, 300),
                        np.arange(-5.0, 3.0), [-2.5, 0.5, math.inf, -math.inf, math.nan]])
    x = np.concatenate([rng.uniform(1.0, 30.0, q.size - 13), np.full(8, 3.0),
                        [1.0, 0.5, 2.0, 2.5, 2.0]])
    x[::7] = np.round(x[::7])  # integer orders are the ones defined at negative q
    x, q = x.astype(dtype), q.astype(dtype)
    ours = ember.special.zeta(ember.tensor(x), ember.tensor(q))
    theirs = torch.special.zeta(torch.tensor(x), torch.tensor(q))
    assert ours.dtype == getattr(ember, dtype)
    # float32: the two round the float64 sum differently into float32's subnormals
    _assert_like_torch(ours, theirs, 1e-12 if dtype == "float64" else 1e-6,
                       1e-300 if dtype == "float64" else 1e-38)


def test_zeta_special_values_and_operands(torch):
    def values(fw):
        x = fw.tensor([2.0, 1.0, 0.5, -1.0, 3.0, 2.0, 2.0, math.inf, math.nan, 1.0, math.inf])
        q = fw.tensor([1.0, 1.0, 1.0, 1.0, -1.5, 0.0, -2.0, 1.0, 1.0, 0.0, 0.5])
        return [fw.special.zeta(x, q), fw.special.zeta(x[:3], 2.0),
                fw.special.zeta(2, fw.tensor([1.0, 2.0])),
                fw.special.zeta(fw.tensor([2, 3]), fw.tensor([1, 2])),
                fw.special.zeta(fw.tensor([2.0], dtype=fw.float64), fw.tensor([1.0]))]
    for ours, theirs in zip(values(ember), values(torch)):
        assert str(ours.dtype).split(".")[-1] == str(theirs.dtype).split(".")[-1]
        _assert_like_torch(ours, theirs, 1e-6, 0)


def test_zeta_gradient_in_q_as_torch_and_none_in_x(torch):
    """d/dq zeta(x, q) = -x zeta(x + 1, q), also for a number x; the derivative in x is
    NotImplementedError, raised only when that gradient is asked for."""
    x = np.array([2.0, 3.0])
    q = np.array([[1.0, 2.5], [0.5, 4.0]])
    grads = []
    for m in (ember, torch):
        order = m.tensor(x, requires_grad=True)
        shift = m.tensor(q, requires_grad=True)
        out = m.special.zeta(order, shift)
        grads.append(m.autograd.grad(out.sum(), shift, retain_graph=True)[0])
        with pytest.raises(NotImplementedError, match="the derivative for 'zeta' is not"):
            m.autograd.grad(out.sum(), order)
        grads.append(m.autograd.grad(m.special.zeta(2.0, shift).sum(), shift)[0])
    assert_close(grads[0], grads[2])
    assert_close(grads[1], grads[3])
    assert gradcheck(lambda shift: ember.special.zeta(ember.tensor(x), shift),
                     (float64_tensor((2, 2), low=0.5, high=3.0),))


DERIVATIVE_POINTS = np.array([-3.7, -2.2, -0.6, -0.15, 0.05, 0.4, 1.0, 1.46, 2.0, 3.3, 8.5,
                              30.0, 250.0])
DIFFERENTIABLE = {
    "lgamma": lambda fw, x: fw.lgamma(x),
    "digamma": lambda fw, x: fw.digamma(x),
    "polygamma_1": lambda fw, x: fw.polygamma(1, x),
    "polygamma_2": lambda fw, x: x.polygamma(2),
    "polygamma_5": lambda fw, x: fw.polygamma(5, x),
    "mvlgamma_3": lambda fw, x: fw.mvlgamma(x + 5, 3),
}


@pytest.mark.parametrize("name", sorted(DIFFERENTIABLE))
def test_first_and_second_derivatives_match_torch(torch, name):
    function = DIFFERENTIABLE[name]
    results = []
    for fw in (ember, torch):
        x = fw.tensor(DERIVATIVE_POINTS, requires_grad=True)
        (first,) = fw.autograd.grad(function(fw, x).sum(), x, create_graph=True)
        (second,) = fw.autograd.grad(first.sum(), x)
        results.append((first.detach().numpy(), second.numpy()))
    (first, second), (their_first, their_second) = results
    np.testing.assert_allclose(first, their_first, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(second, their_second, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name", sorted(DIFFERENTIABLE))
def test_gradcheck_and_gradgradcheck_away_from_poles(name):
    function = DIFFERENTIABLE[name]
    x = ember.tensor(DERIVATIVE_POINTS[:-2], requires_grad=True)
    assert gradcheck(lambda value: function(ember, value), (x,), eps=1e-6, atol=1e-5, rtol=1e-4)
    assert gradgradcheck(lambda value: function(ember, value), (x,), eps=1e-6, atol=1e-5,
                         rtol=1e-4)


def test_derivatives_are_the_next_polygamma():
    x = ember.tensor([0.3, 2.5, -1.5], dtype=ember.float64, requires_grad=True)
    (lgamma_grad,) = ember.autograd.grad(ember.lgamma(x).sum(), x)
    (digamma_grad,) = ember.autograd.grad(ember.digamma(x).sum(), x)
    (polygamma_grad,) = ember.autograd.grad(ember.polygamma(3, x).sum(), x)
    (mvlgamma_grad,) = ember.autograd.grad(ember.mvlgamma(x + 4, 3).sum(), x)
    detached = x.detach()
    np.testing.assert_array_equal(lgamma_grad.numpy(), ember.digamma(detached).numpy())
    np.testing.assert_array_equal(digamma_grad.numpy(), ember.polygamma(1, detached).numpy())
    np.testing.assert_array_equal(polygamma_grad.numpy(), ember.polygamma(4, detached).numpy())
    expected = sum(ember.digamma(detached + 4 - j / 2).numpy() for j in range(3))
    np.testing.assert_allclose(mvlgamma_grad.numpy(), expected, rtol=1e-15)


def test_closed_forms():
    """Values known exactly, independent of either library: Gamma(1/2) = sqrt(pi),
    psi(1) = -Euler's gamma, psi'(1) = pi^2/6 (to PyTorch's 1e-9), psi''(1) = -2 zeta(3)."""
    x = ember.tensor([0.5, 1.0, 5.0], dtype=ember.float64)
    np.testing.assert_allclose(ember.lgamma(x).numpy(), [0.5 * math.log(math.pi), 0.0,
                                                         math.log(24.0)], rtol=1e-15, atol=0)
    np.testing.assert_allclose(ember.digamma(x[1:2]).item(), -0.5772156649015329, rtol=1e-15)
    np.testing.assert_allclose(ember.polygamma(1, x[1:2]).item(), math.pi ** 2 / 6, rtol=1e-9)
    np.testing.assert_allclose(ember.polygamma(2, x[1:2]).item(), -2 * 1.2020569031595942,
                               rtol=1e-15)
    np.testing.assert_allclose(ember.special.zeta(ember.tensor([2.0, 4.0], dtype=ember.float64),
                                                  1.0).numpy(),
                               [math.pi ** 2 / 6, math.pi ** 4 / 90], rtol=1e-15)


def test_inplace_forms_write_the_functional_result():
    data = np.array([0.3, 1.5, -2.5, 7.0], np.float32)
    for method, arguments, function in [
            ("lgamma_", (), lambda x: ember.lgamma(x)),
            ("digamma_", (), lambda x: ember.digamma(x)),
            ("polygamma_", (2,), lambda x: ember.polygamma(2, x)),
            ("mvlgamma_", (2,), lambda x: ember.mvlgamma(x, 2))]:
        x = ember.tensor(data)
        assert getattr(x, method)(*arguments) is x
        np.testing.assert_array_equal(x.numpy(), function(ember.tensor(data)).numpy())


def test_special_aliases_are_the_ops():
    x = ember.tensor([0.3, 1.5, 4.0])
    assert ember.special.gammaln is ember.lgamma
    assert ember.special.digamma is ember.digamma
    assert ember.special.psi is ember.digamma
    assert ember.special.polygamma is ember.polygamma
    np.testing.assert_array_equal(ember.special.multigammaln(x + 2, 3).numpy(),
                                  ember.mvlgamma(x + 2, 3).numpy())


def _zeta_and_incomplete_gamma_second_derivatives(fw, dtype):
    """grad of grad of zeta(x, q) in q and of igamma / igammac(a, x) in x and in a (PyTorch's
    derivatives in q and x are composites: differentiable again, in a too)."""
    random = np.random.default_rng(0)
    first = np.abs(random.standard_normal(4)) + 1.5
    second = np.abs(random.standard_normal(4)) + 0.5
    results = []
    for function in (fw.special.zeta, fw.igamma, fw.igammac):
        left = fw.tensor(first.astype(dtype), requires_grad=True)
        right = fw.tensor(second.astype(dtype), requires_grad=True)
        (grad,) = fw.autograd.grad(function(left, right).sum(), right, create_graph=True)
        if function is fw.special.zeta:
            results += [grad, fw.autograd.grad((grad * grad).sum(), right)[0]]
            continue
        results += [grad, *fw.autograd.grad((grad * grad).sum(), (left, right))]
    return [result.detach().numpy() for result in results]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_zeta_and_incomplete_gamma_double_backward_match_torch(torch, dtype):
    # ember had refused create_graph through all three
    ours = _zeta_and_incomplete_gamma_second_derivatives(ember, dtype)
    theirs = _zeta_and_incomplete_gamma_second_derivatives(torch, dtype)
    tolerance = 2e-5 if dtype == np.float32 else 1e-10
    for mine, expected in zip(ours, theirs):
        assert mine.dtype == expected.dtype
        np.testing.assert_allclose(mine, expected, rtol=tolerance, atol=tolerance)


@pytest.mark.parametrize("name", ["igamma", "igammac"])
def test_incomplete_gamma_gradient_at_the_origin_matches_torch(torch, name):
    # PyTorch's (a - 1) log x is NaN at a = 1, x = 0 (ember had given the density's limit)
    grads = []
    for fw in (torch, ember):
        x = fw.tensor([0.0, 2.0, 0.0, 1.7], dtype=fw.float64, requires_grad=True)
        a = fw.tensor([1.0, 1.0, 2.5, 0.5], dtype=fw.float64)
        grads.append(fw.autograd.grad(getattr(fw, name)(a, x).sum(), x)[0].numpy())
    np.testing.assert_allclose(grads[1], grads[0], rtol=1e-14, atol=0, equal_nan=True)
