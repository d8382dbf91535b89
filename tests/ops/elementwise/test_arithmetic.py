"""ember.ops.elementwise.arithmetic: add, sub, mul, div, floor_divide, remainder, fmod, pow,
neg, abs, sign, and their composites and in-place forms."""
import contextlib
import os
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest

import ember
from tests.conftest import assert_raises_like_torch

from ..op_table import (
    BINARY, BINARY_SHAPES, BadInputChecks, Case, CaseChecks, HalfChecks, INPLACE,
    SecondDerivativeChecks, UNARY, ValueChecks, ints)
from . import ELEMENTWISE_MODULES

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))


def _iadd(fw, a, b):
    out = a * 1
    out += b
    return out


def _isub(fw, a, b):
    out = a * 1
    out -= b
    return out


def _imul(fw, a, b):
    out = a * 1
    out *= b
    return out


def _idiv(fw, a, b):
    out = a * 1
    out /= b
    return out


def _square_(fw, a):
    return (a * 1).square_()


def _inplace_chain(fw, a, b):
    out = (a * 1).abs_().addcmul_(a, b, value=0.5).addcdiv_(a, b.abs() + 1, value=-2)
    return out.clamp_min_(0.1).clamp_max_(2.5)


def _lerp_(fw, a, b):
    return (a * 1).lerp_(b, 0.3)


def _inplace_unary(fw, a):
    # Ops that save their output (exp2, expm1, reciprocal, tan) end a chain: torch and ember
    # both refuse to differentiate after that output is changed in place.
    out = (a * 1).abs_().add_(0.5).log_().sin_().erf_().frac_()
    return (out * 1).exp2_(), (out * 1).expm1_(), (out * 1).reciprocal_(), out.tan_()


def _inplace_more(fw, a, b):
    out = (a * 1).atan_().atan2_(b).sinh_().deg2rad_().subtract_(b, alpha=2)
    out = out.multiply_(b).divide_(b.abs() + 1).negative_().absolute_().xlogy_(b.abs() + 0.5)
    return (out * 1).hypot_(b), out  # hypot saves its output: it ends a chain


# Ops of this family: their double backward must never be skipped as another family's.
OPS_MODULES = ELEMENTWISE_MODULES

CASES = [
    Case("add", lambda fw, a, b: a + b, BINARY_SHAPES, numpy=np.add),
    Case("add_alpha", lambda fw, a, b: fw.add(a, b, alpha=2.5), BINARY_SHAPES[:4]),
    Case("sub", lambda fw, a, b: a - b, BINARY_SHAPES, numpy=np.subtract),
    Case("sub_alpha", lambda fw, a, b: fw.sub(a, b, alpha=-3), BINARY_SHAPES[:4]),
    Case("mul", lambda fw, a, b: a * b, BINARY_SHAPES, numpy=np.multiply),
    Case("div", lambda fw, a, b: a / b, BINARY_SHAPES, ("real", "nonzero"), numpy=np.divide),
    # torch has no derivative for floor_divide: forward only (backward raises, see BAD_INPUTS).
    Case("floordiv", lambda fw, a, b: a // b, BINARY_SHAPES, ("real", "nonzero"),
         numpy=np.floor_divide, grad=False),
    Case("remainder", lambda fw, a, b: a % b, BINARY_SHAPES, ("real", "nonzero"),
         numpy=np.remainder),
    Case("pow", lambda fw, a, b: a ** b, BINARY_SHAPES, ("positive", "real"), numpy=np.power),
    Case("radd", lambda fw, a: 2.5 + a, UNARY, numpy=lambda a: 2.5 + a),
    Case("add_int", lambda fw, a: a + 2, UNARY, numpy=lambda a: a + 2),
    Case("rsub", lambda fw, a: 2.5 - a, UNARY, numpy=lambda a: 2.5 - a),
    Case("sub_scalar", lambda fw, a: a - 1.5, UNARY, numpy=lambda a: a - 1.5),
    Case("rmul", lambda fw, a: 3 * a, UNARY, numpy=lambda a: 3 * a),
    Case("rdiv", lambda fw, a: 2.0 / a, UNARY, "nonzero", numpy=lambda a: 2.0 / a),
    Case("div_scalar", lambda fw, a: a / 4, UNARY, numpy=lambda a: a / 4),
    Case("rfloordiv", lambda fw, a: 3.0 // a, UNARY, "nonzero", grad=False),
    # torch leaves the derivative of number % tensor unimplemented; ember's is checked here.
    Case("rmod", lambda fw, a: 3.0 % a, UNARY, "nonzero", torch_grad=False),
    Case("mod_scalar", lambda fw, a: a % 0.7, UNARY),
    Case("pow_int", lambda fw, a: a ** 2, UNARY, numpy=lambda a: a ** 2),
    Case("pow_three", lambda fw, a: a ** 3, UNARY),
    Case("pow_zero", lambda fw, a: a ** 0, UNARY),
    Case("pow_half", lambda fw, a: a ** 0.5, UNARY, "positive"),
    Case("pow_negative", lambda fw, a: a ** -1.5, UNARY, "positive"),
    Case("rpow", lambda fw, a: 2.5 ** a, UNARY, numpy=lambda a: 2.5 ** a),
    Case("iadd", _iadd, INPLACE),
    Case("isub", _isub, INPLACE),
    Case("imul", _imul, INPLACE),
    Case("idiv", _idiv, INPLACE, ("real", "nonzero")),
    Case("add_", lambda fw, a, b: (a * 1).add_(b, alpha=2), INPLACE),
    Case("sub_", lambda fw, a, b: (a * 1).sub_(b), INPLACE),
    Case("mul_", lambda fw, a, b: (a * 1).mul_(b), INPLACE),
    Case("div_", lambda fw, a, b: (a * 1).div_(b), INPLACE, ("real", "nonzero")),
    Case("mul_scalar_", lambda fw, a: (a * 1).mul_(3.0), UNARY),
    Case("neg", lambda fw, a: -a, UNARY, numpy=np.negative),
    Case("abs", lambda fw, a: a.abs(), UNARY, "nonzero", numpy=np.abs),
    Case("square", lambda fw, a: fw.square(a), UNARY, numpy=np.square),
    Case("reciprocal", lambda fw, a: a.reciprocal(), UNARY, "nonzero"),
    Case("sign", lambda fw, a: a.sign(), UNARY, check_grad=False),
    Case("lerp_scalar", lambda fw, a, b: fw.lerp(a, b, 0.3), BINARY[1:4]),
    Case("lerp_scalar_high", lambda fw, a, b: a.lerp(b, 0.8), BINARY[1:3]),
    Case("lerp_tensor", lambda fw, a, b, w: fw.lerp(a, b, w), [((3, 4), (3, 4), (3, 4)),
                                                               ((3, 4), (1, 4), (3, 1))]),
    Case("square_", _square_, UNARY),
    Case("abs_addcmul_addcdiv_clamp_", _inplace_chain, [((3, 4), (3, 4)), ((3, 4), (4,))]),
    Case("lerp_", _lerp_, [((3, 4), (3, 4)), ((3, 4), (1, 4))]),
    Case("fmod", lambda fw, a, b: fw.fmod(a, b), BINARY, ("real", "positive")),
    Case("fmod_scalar", lambda fw, a: a.fmod(0.7), UNARY),
    # torch's sgn gradient is a ZeroTensor (cannot be read): forward only.
    Case("sgn", lambda fw, a: fw.sgn(a), UNARY, grad=False),
    Case("inplace_unary_chain", _inplace_unary, UNARY[1:3]),
    Case("inplace_more_chain", _inplace_more, [((3, 4), (3, 4)), ((3, 4), (4,))], "positive"),
    Case("copysign", lambda fw, a, b: fw.copysign(a, b), BINARY[1:4], ("real", "real")),
    Case("copysign_scalar", lambda fw, a: a.copysign(-1.0), UNARY),
    # Rounded quotients are piecewise constant: zero gradients (torch's div), not an error.
    Case("div_floor", lambda fw, a, b: fw.div(a, b, rounding_mode="floor"), BINARY_SHAPES,
         ("real", "nonzero")),
    Case("div_trunc", lambda fw, a, b: a.div(b, rounding_mode="trunc"), BINARY_SHAPES[:5],
         ("real", "nonzero")),
    Case("addcmul", lambda fw, a, b, c: fw.addcmul(a, b, c, value=-1.5),
         [((3, 4), (3, 4), (3, 4)), ((3, 1), (1, 4), (4,)), ((), (), ())]),
    Case("addcdiv", lambda fw, a, b, c: fw.addcdiv(a, b, c, value=0.5),
         [((3, 4), (3, 4), (3, 4)), ((3, 1), (1, 4), (4,)), ((), (), ())],
         ("real", "real", "nonzero")),
    Case("frexp_mantissa", lambda fw, a: fw.frexp(a).mantissa, UNARY),
    Case("ldexp", lambda fw, a, b: fw.ldexp(a, b), BINARY),
    # PyTorch's conventions at a zero base: d/dx x**0 = 0, d/dy 0**y = 0 for y >= 0; exponents
    # 0, 1 and 2 against zeros (finite differences cannot see conventions: torch only).
    Case("pow_zero_base", lambda fw, a, b: a ** b, BINARY[1:3], ("with_zeros", "ties"),
         check_grad=False),
    Case("rpow_zero_base", lambda fw, a: 0.0 ** a, UNARY, "ties", check_grad=False),
    Case("pow_zero_base_scalar", lambda fw, a: (a ** 2, a ** 1, a ** 0.0), UNARY, "with_zeros",
         check_grad=False),
    # float_power computes in float64 by definition.
    Case("float_power", lambda fw, a, b: fw.float_power(a, b), BINARY[1:3], ("positive", "real"),
         float32_out=False),
]


BAD_INPUTS = {
    "add_shape_mismatch": lambda fw: fw.ones(2, 3) + fw.ones(4),
    "mul_shape_mismatch": lambda fw: fw.ones(2, 3) * fw.ones(2, 2),
    "add_string": lambda fw: fw.ones(2) + "a",
    "floordiv_backward": lambda fw: (fw.ones(2, requires_grad=True) // 2).sum().backward(),
    "sub_bools": lambda fw: fw.tensor([True]) - fw.tensor([False]),
    "neg_bool": lambda fw: -fw.tensor([True]),
    "int_pow_negative_int": lambda fw: fw.tensor([2]) ** -1,
    "int_floordiv_zero": lambda fw: fw.tensor([2]) // 0,
    "int_mod_zero": lambda fw: fw.tensor([2]) % 0,
    "add__broadcast_self": lambda fw: fw.ones(3).add_(fw.ones(2, 3)),
    "lerp_int": lambda fw: fw.lerp(fw.tensor([1, 2]), fw.tensor([3, 4]), 0.5),
    "lerp_dtype_mismatch": lambda fw: fw.lerp(fw.ones(2), fw.ones(2, dtype=fw.float64), 0.5),
    "frexp_int": lambda fw: fw.frexp(fw.tensor([1, 2])),
    "fmod_int_zero": lambda fw: fw.fmod(fw.tensor([1, 2]), fw.tensor([0, 1])),
}


VALUES = {
    "int_abs": lambda fw: ints(fw, "int32").abs(),
    "int_neg": lambda fw: -ints(fw, "int32"),
    "fmod_int": lambda fw: fw.fmod(fw.tensor([-7, 7, 5]), fw.tensor([2, -3, 5])),
    "frexp_ldexp": lambda fw: tuple(fw.frexp(fw.tensor([8.0, 0.3, -5.0, 0.0]))) + (
        fw.ldexp(fw.tensor([1.0, 0.5]), fw.tensor([3, -1])),),
    "float_power_int": lambda fw: fw.float_power(fw.tensor([2, 3]), 2),
    "copysign_int": lambda fw: fw.copysign(fw.tensor([1, -2]), fw.tensor([-1, 1])),
}


class TestArithmetic(CaseChecks, SecondDerivativeChecks, HalfChecks, BadInputChecks, ValueChecks):
    """The op-table checks of every entry above."""


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("exponent", [2, 3, 0.5, -0.5, -1, -2, 2.0, 3.0])
def test_pow_by_special_exponents_is_computed_as_pytorch_does(torch, dtype, exponent):
    # products, square roots and reciprocals as PyTorch's pow_tensor_scalar_optimized: the
    # values and gradients agree to the last bit (0.5: np.sqrt is correctly rounded, 1 ulp)
    random = np.random.default_rng(2)
    values = (random.standard_normal((16, 20)) * 4).astype(dtype)
    values[0, :5] = [0.0, -0.0, np.inf, -np.inf, np.nan]
    grad = random.standard_normal((16, 20)).astype(dtype)
    ours = ember.tensor(values, requires_grad=True)
    theirs = torch.tensor(values, requires_grad=True)
    with np.errstate(all="ignore"):
        our_out = ours ** exponent
        our_out.backward(ember.tensor(grad))
    their_out = theirs ** exponent
    their_out.backward(torch.tensor(grad))
    ulp = 2.5e-7 if dtype == np.float32 else 5e-16
    for mine, their in ((our_out, their_out), (ours.grad, theirs.grad)):
        np.testing.assert_allclose(mine.detach().numpy(), their.detach().numpy(), rtol=ulp,
                                   atol=0)


@pytest.mark.parametrize("value", [0.5, 1.9, -1.5, True])
def test_addcmul_of_integers_truncates_a_float_value_like_torch(torch, value):
    """PyTorch's integer addcmul takes the scalar as an integer: the result stays int64."""
    data = np.array([-7, -3, 0, 3, 7])
    results = []
    for fw in (torch, ember):
        integers = fw.tensor(data)
        results.append(fw.addcmul(integers, integers, integers, value=value))
    assert results[1].dtype == ember.int64
    np.testing.assert_array_equal(results[1].numpy(), results[0].numpy())


def test_number_divided_by_tensor_is_reciprocal_times_number_like_torch(torch):
    """PyTorch computes ``number / t`` as reciprocal(t) * number: its rounding, and a backward
    that keeps the reciprocal, so changing t in place afterwards does not break backward."""
    data = np.array([3.0, 7.0, -0.5], dtype=np.float32)
    results = []
    for fw in (torch, ember):
        x = fw.tensor(data, requires_grad=True)
        y = x * 1
        out = 7 / y
        y.add_(1)
        (grad,) = fw.autograd.grad(out.sum(), x)
        results.append((out.detach().numpy(), grad.numpy()))
    for ours, theirs in zip(results[1], results[0]):
        np.testing.assert_array_equal(ours, theirs)


@pytest.mark.parametrize("dtype", ["float32", "float16", "bfloat16"])
def test_sign_of_nan_and_zeros_is_positive_zero_like_torch(torch, dtype):
    values = np.array([np.nan, -np.nan, -0.0, 0.0, np.inf, -2.0], dtype=np.float32)
    results = []
    for fw in (torch, ember):
        for name in ("sign", "sgn"):
            out = getattr(fw.tensor(values).to(getattr(fw, dtype)), name)().float().numpy()
            results.append((out, np.signbit(out)))
    for ours, theirs in zip(results[2:], results[:2]):
        np.testing.assert_array_equal(ours[0], theirs[0])
        np.testing.assert_array_equal(ours[1], theirs[1])


def _parameter_step(fw, value, grad):
    param = fw.nn.Parameter(value)
    with fw.no_grad():
        param.sub_(grad, alpha=0.1)  # a hand-written SGD step
    return param.detach()


@pytest.mark.parametrize("call", [
    lambda fw, a, b, w, d: fw.lerp(a, b, 0.1), lambda fw, a, b, w, d: fw.lerp(a, b, 0.8),
    lambda fw, a, b, w, d: fw.lerp(a, b, w), lambda fw, a, b, w, d: (a * 1).lerp_(b[:1], -0.3),
    lambda fw, a, b, w, d: fw.addcdiv(a, b, d, value=0.3),
    lambda fw, a, b, w, d: (a * 1).addcdiv_(b, d, value=-0.01),
    lambda fw, a, b, w, d: fw.add(a, b, alpha=0.37), lambda fw, a, b, w, d: a.sub(w, alpha=3),
    lambda fw, a, b, w, d: (a * 1).add_(b[:1], alpha=-0.01),
    lambda fw, a, b, w, d: _parameter_step(fw, a, b)],
    ids=["lerp_small", "lerp_large", "lerp_tensor", "lerp_broadcast", "addcdiv", "addcdiv_",
         "add_alpha", "sub_alpha", "add_alpha_", "parameter_sub_alpha_"])
def test_float32_lerp_addcdiv_and_alpha_round_as_torch(torch, call):
    # PyTorch's lerp is one fused multiply-add on the rounded difference, and so is add/sub
    # with alpha; its addcdiv divides value * tensor1 by tensor2: a quarter of the values were
    # an ulp off before
    generator = np.random.RandomState(1)
    arrays = [generator.randn(3, 4099), generator.randn(3, 4099), generator.rand(3, 4099),
              np.abs(generator.randn(3, 4099)) + 0.5]
    ours, theirs = (call(fw, *[fw.tensor(array.astype(np.float32)) for array in arrays])
                    for fw in (ember, torch))
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


def test_add_and_sub_with_alpha_differentiate_like_torch(torch):
    generator = np.random.RandomState(2)
    arrays = [generator.randn(3, 4).astype(np.float32), generator.randn(4).astype(np.float32)]
    results = []
    for fw in (torch, ember):
        a, b = (fw.tensor(array, requires_grad=True) for array in arrays)
        out = fw.add(a, b, alpha=0.3) * fw.sub(a, b, alpha=-2.5)
        out.sum().backward()
        results.append((out.detach().numpy(), a.grad.numpy(), b.grad.numpy(),
                        out.grad_fn.next_functions[0][0].name()))
    for ours, theirs in zip(results[1], results[0]):
        np.testing.assert_array_equal(ours, theirs)
    double = [ember.tensor(array.astype(np.float64), requires_grad=True) for array in arrays]
    assert ember.autograd.gradcheck(lambda a, b: ember.sub(a, b, alpha=0.7), double)


def test_scaled_add_compiled_and_numpy_paths_agree():
    """add(alpha=) on float32: the compiled pass (out of place and in place) rounds as the
    NumPy float64 path, once."""
    from ember import _jit
    generator = np.random.default_rng(6)
    a = ember.tensor(generator.standard_normal(30_000).astype(np.float32))
    b = ember.tensor(generator.standard_normal(30_000).astype(np.float32))
    compiled = ember.add(a, b, alpha=-0.37).numpy()
    in_place = a.clone().add_(b, alpha=-0.37).numpy()
    with _jit.disabled():
        plain = ember.add(a, b, alpha=-0.37).numpy()
        plain_in_place = a.clone().add_(b, alpha=-0.37).numpy()
    expected = (a.numpy().astype(np.float64)
                + np.float64(np.float32(-0.37)) * b.numpy().astype(np.float64)).astype(np.float32)
    for result in (compiled, in_place, plain, plain_in_place):
        np.testing.assert_array_equal(result, expected)


@pytest.mark.parametrize("value", [1, 0.5, 0.3, -2.7])
def test_float32_addcmul_rounds_as_torch_bit_for_bit(torch, value):
    """PyTorch's kernel: value * tensor1 rounded, then one fused multiply-add (a two-step
    product is an ulp off in about a fifth of the elements)."""
    rng = np.random.default_rng(5)
    shapes = [(200, 1), (1, 300), (300,)]
    arrays = [rng.standard_normal(shape).astype(np.float32) for shape in shapes]
    results = []
    for library in (torch, ember):
        tensors = [library.tensor(array, requires_grad=True) for array in arrays]
        out = library.addcmul(*tensors, value=value)
        (out * out).sum().backward()
        in_place = library.tensor(np.broadcast_to(arrays[0], (200, 300)).copy())
        in_place.addcmul_(library.tensor(arrays[1]), library.tensor(arrays[2]), value=value)
        results.append([out.detach().numpy(), in_place.numpy()]
                       + [tensor.grad.numpy() for tensor in tensors])
    np.testing.assert_array_equal(results[1][0], results[0][0])
    np.testing.assert_array_equal(results[1][1], results[0][1])
    for got, expected in zip(results[1][2:], results[0][2:]):  # sums in another order
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6 * np.abs(expected).max())


@pytest.mark.parametrize("divisor", [2.0, 3, np.float32(0.5), 0.0, 0, -np.inf, np.nan])
@pytest.mark.parametrize("requires_grad", [False, True])
def test_division_by_a_number_is_silent_and_matches_torch(torch, divisor, requires_grad):
    """Divisions never warn (PyTorch's never do), whether or not the divisor lets ember skip
    NumPy's error state; the values are PyTorch's."""
    values = np.array([1.0, 0.0, -1.0, np.inf, -np.inf, np.nan, 3e30], np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ours = ember.tensor(values, requires_grad=requires_grad) / divisor
    theirs = torch.tensor(values) / divisor
    np.testing.assert_array_equal(ours.detach().numpy(), theirs.numpy())


@pytest.mark.parametrize("path", ["compiled", "numpy"])
def test_float32_lerp_and_addcmul_bit_equal_to_torch(torch, path):
    # one compiled pass each, with the NumPy path's float64 steps: PyTorch's fused rounding
    random = np.random.default_rng(8)
    start = (random.standard_normal(3000) * 100).astype(np.float32)
    end = (random.standard_normal(3000) * 100).astype(np.float32)
    other = random.standard_normal(3000).astype(np.float32)
    start[:4] = [np.nan, np.inf, -np.inf, 0.0]
    weight = random.uniform(-1, 2, 3000).astype(np.float32)
    weight[:3] = [np.nan, 0.5, 1.0]
    cases = [lambda fw, a, b, c, w: a.lerp(b, 0.3), lambda fw, a, b, c, w: a.lerp(b, 0.7),
             lambda fw, a, b, c, w: fw.lerp(a, b, w),
             lambda fw, a, b, c, w: a.addcmul(b, c, value=0.37)]
    for case in cases:
        with (contextlib.nullcontext() if path == "compiled" else ember._jit.disabled()):
            mine = case(ember, *(ember.tensor(array) for array in (start, end, other, weight)))
        theirs = case(torch, *(torch.tensor(array) for array in (start, end, other, weight)))
        np.testing.assert_array_equal(mine.numpy().view(np.int32), theirs.numpy().view(np.int32))


@pytest.mark.parametrize("path", ["compiled", "numpy"])
def test_float32_sign_bit_equal_to_torch(torch, path):
    values = np.random.default_rng(9).standard_normal(1000).astype(np.float32)
    values[:6] = [np.nan, -0.0, 0.0, -np.inf, np.inf, -1e-40]
    with (contextlib.nullcontext() if path == "compiled" else ember._jit.disabled()):
        mine = ember.tensor(values).sign()
    np.testing.assert_array_equal(mine.numpy().view(np.int32),
                                  torch.tensor(values).sign().numpy().view(np.int32))


SCALAR_FIRST_CALLS = [
    "a.add(2, b)", "a.clone().add_(0.1, b)", "torch.add(a, 2, b)", "a.sub(2, b)",
    "a.clone().sub_(2, b)", "torch.sub(a, 2, b)", "a.addcmul(0.5, b, c)",
    "a.clone().addcmul_(0.5, b, c)", "torch.addcmul(a, 0.5, b, c)", "a.addcdiv(0.5, b, c)",
    "a.clone().addcdiv_(0.5, b, c)", "torch.addcdiv(a, 0.5, b, c)",
    "a.clone().add_(torch.tensor(2.0), b)", "a.long().add_(2, b.long())",
    "a.clone().mul_(0.9).add_(1 - 0.9, b)"]


@pytest.mark.parametrize("source", SCALAR_FIRST_CALLS)
def test_deprecated_scalar_first_overloads_compute_as_torch(torch, source):
    """Optimizers written for PyTorch 0.x (``exp_avg.mul_(beta1).add_(1 - beta1, grad)``,
    ``addcmul_(1 - beta2, grad, grad)``, ``p.data.addcdiv_(-step, m, denom)``) still run."""
    values = {"a": [1.0, 2.0], "b": [3.0, 4.0], "c": [2.0, 8.0]}
    results = []
    for fw in (torch, ember):
        names = {key: fw.tensor(value) for key, value in values.items()}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            results.append(eval(source, {"torch": fw, **names}))
    theirs, ours = results
    assert str(ours.dtype).split(".")[-1] == str(theirs.dtype).split(".")[-1]
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-6)


def test_deprecated_scalar_first_overloads_warn_once_per_process_and_keep_gradients(
        torch, tmp_path):
    """PyTorch warns once per process, for whichever deprecated overload comes first."""
    script = tmp_path / "scalar_first.py"
    script.write_text(textwrap.dedent("""
        import warnings, torch
        a = torch.ones(2, requires_grad=True); b = torch.tensor([3.0, 4.0], requires_grad=True)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            out = a.add(2, b).addcmul(0.5, b, b).sub(3, a)
            a.detach().add_(0.5, b.detach()).addcdiv_(0.5, b.detach(), b.detach())
        out.sum().backward()
        print([str(w.message).split(' (Triggered')[0] for w in caught], a.grad.tolist(),
              b.grad.tolist())
    """))
    outputs = []
    for runner in ([sys.executable, str(script)],
                   [sys.executable, "-m", "ember.run", str(script)]):
        completed = subprocess.run(runner, capture_output=True, text=True, timeout=120,
                                   env={**os.environ, "PYTHONPATH": REPO})
        outputs.append(completed.stdout.strip() or completed.stderr[-2000:])
    assert outputs[1] == outputs[0]


def test_division_by_zero_matches_torch_without_warnings(torch):
    """x / 0 and 0 / 0 in grad mode and without: inf and NaN quietly, as torch, and NumPy's
    error state of the caller untouched."""
    numerator, denominator = [1.0, -1.0, 0.0, 2.0], [0.0, 0.0, 0.0, 4.0]
    before = np.geterr()
    results = {}
    for fw in (ember, torch):
        a = fw.tensor(numerator, dtype=fw.float64, requires_grad=True)
        b = fw.tensor(denominator, dtype=fw.float64, requires_grad=True)
        with np.errstate(all="raise"):
            out = a / b
            plain = a.detach() / b.detach()
            out.backward(fw.ones_like(out))
        results[fw] = [out.detach().numpy(), plain.numpy(), a.grad.numpy(), b.grad.numpy()]
    assert np.geterr() == before
    for ours, theirs in zip(results[ember], results[torch]):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12)


@pytest.mark.parametrize("exponent", [4, 5, 8.0, 16])
def test_float32_integer_powers_within_an_ulp_of_torch(torch, exponent):
    """float32 x ** n for n in 4..16 (the continuous-Bernoulli VAE's ``pow(lam - 0.5, 4)``):
    squared in float64 and rounded once, within an ulp of PyTorch's vectorised pow; special
    values and signed zeros as PyTorch."""
    rng = np.random.default_rng(0)
    values = np.concatenate([(rng.random(4000, dtype=np.float32) - 0.5) * 6,
                             np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1e10, -1e10, 1e-30,
                                       -3.0], np.float32)])
    ours = ember.pow(ember.from_numpy(values), exponent).numpy()
    theirs = torch.pow(torch.from_numpy(values), exponent).numpy()
    assert ours.dtype == np.float32
    np.testing.assert_array_equal(np.isnan(ours), np.isnan(theirs))
    finite = np.isfinite(theirs) & (theirs != 0)
    np.testing.assert_array_max_ulp(ours[finite], theirs[finite], maxulp=1)
    same = ~finite & ~np.isnan(theirs)
    np.testing.assert_array_equal(ours[same], theirs[same])
    np.testing.assert_array_equal(np.signbit(ours[same]), np.signbit(theirs[same]))
    exact = (values.astype(np.float64) ** int(exponent)).astype(np.float32)
    assert np.mean(ours[finite] == exact[finite]) > 0.999
    grad_input = ember.tensor([1.5, -0.7], requires_grad=True)
    (grad_input ** exponent).sum().backward()
    reference = torch.tensor([1.5, -0.7], requires_grad=True)
    (reference ** exponent).sum().backward()
    np.testing.assert_allclose(grad_input.grad.numpy(), reference.grad.numpy(), rtol=1e-6)


def _grad_of_grad(fw, function):
    """Differentiate twice (create_graph) a loss of ``function(x, y)``: the second call is where
    PyTorch refuses ops it has no derivative of."""
    x = fw.tensor([1.5, -2.0, 3.0], dtype=fw.float64, requires_grad=True)
    y = fw.tensor([0.7, 1.1, 2.0], dtype=fw.float64, requires_grad=True)
    out = function(fw, x, y)
    grads = fw.autograd.grad((out * out).sum(), (x, y), create_graph=True, allow_unused=True)
    return lambda: fw.autograd.grad(sum((grad * 1.3).sum() for grad in grads
                                        if grad is not None and grad.requires_grad), (x, y),
                                    allow_unused=True)


def test_floor_divide_refuses_create_graph_like_torch(torch):
    # ember had raised its generic "double backward is not implemented" instead
    def function(fw, x, y):
        return fw.floor_divide(x, y)
    assert_raises_like_torch(lambda: _grad_of_grad(torch, function)(),
                             lambda: _grad_of_grad(ember, function)(), RuntimeError,
                             same_type=True)


@pytest.mark.parametrize("create_graph", [False, True])
def test_complex_exponent_gradient_at_a_zero_base_matches_torch(torch, create_graph):
    # PyTorch zeroes d/dy x**y at x == 0 only for a real y >= 0 (ember had compared complex y
    # with >= 0: zeros for 1 + 1j, and a refusal under create_graph)
    grads = []
    for fw in (torch, ember):
        base = fw.tensor([0j, 0j, 0j, 1 + 1j, 0j], requires_grad=True)
        exponent = fw.tensor([1 + 1j, 2 + 0j, -1 + 0j, 0.5 - 0.3j, 1j], requires_grad=True)
        grad = fw.autograd.grad(fw.view_as_real(base ** exponent).sum(), exponent,
                                create_graph=create_graph)[0]
        grads.append(grad.detach().resolve_conj().numpy())
    np.testing.assert_allclose(grads[1], grads[0], rtol=1e-6, equal_nan=True)
