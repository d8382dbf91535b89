"""ember.ops.elementwise._operands: PyTorch's type promotion of mixed operands (tensors of
other dtypes, Python numbers, NumPy arrays)."""
import numpy as np
import pytest

import ember

from ..op_table import (
    Case, CaseChecks, HalfChecks, SecondDerivativeChecks, UNARY, ValueChecks, _second_derivatives,
    dtype_name, ints)
from . import ELEMENTWISE_MODULES


# Ops of this family: their double backward must never be skipped as another family's.
OPS_MODULES = ELEMENTWISE_MODULES

CASES = [
    # torch cannot mix a tensor that requires grad with a NumPy array: ember's grads are
    # gradchecked, torch compares the forward.
    Case("add_ndarray", lambda fw, a: a + np.ones(tuple(a.shape)), UNARY[:3],
         float32_out=False, torch_grad=False),
    Case("mul_ndarray_float32", lambda fw, a: a * np.full(tuple(a.shape), 1.5, np.float32),
         UNARY[:3], torch_grad=False),
    Case("add_numpy_scalar", lambda fw, a: a + np.float64(0.25), UNARY),
]


VALUES = {
    "int_div_int": lambda fw: ints(fw) / ints(fw),
    "int32_div_number": lambda fw: ints(fw, "int32") / 2,
    "int_plus_float": lambda fw: ints(fw) + 2.5,
    "int32_plus_int": lambda fw: ints(fw, "int32") + 7,
    "int32_plus_int64_scalar_tensor": lambda fw: ints(fw, "int32") + fw.tensor(2),
    "int32_plus_float64_scalar_tensor": lambda fw: ints(fw, "int32") + fw.tensor(
        2.0, dtype=fw.float64),
    "int32_plus_int64": lambda fw: ints(fw, "int32") + ints(fw),
    "int32_floordiv": lambda fw: ints(fw, "int32") // 2,
    "int_mod_float": lambda fw: ints(fw) % 2.0,
    "int_pow_float": lambda fw: ints(fw) ** 2.0,
    "number_pow_int": lambda fw: 2 ** ints(fw),
    "int_pow_negative_int_tensor": lambda fw: fw.tensor([2, 1, -1, 0, -1, 3]) ** fw.tensor(
        [-1, -1, -1, -1, -2, 2]),
    "int_times_bool": lambda fw: ints(fw) * fw.tensor([True, False, True]),
    "bool_plus_int": lambda fw: fw.tensor([True, False]) + 1,
    "bool_plus_bool": lambda fw: fw.tensor([True, False]) + fw.tensor([True, True]),
    "bool_times_float": lambda fw: fw.tensor([True, False]) * 1.5,
    "float32_plus_float64_scalar_tensor": lambda fw: fw.ones(3) + fw.tensor(
        2.0, dtype=fw.float64),
    "float32_plus_float64": lambda fw: fw.ones(3) + fw.ones(3, dtype=fw.float64),
    "float64_plus_float32_scalar_tensor": lambda fw: fw.ones(3, dtype=fw.float64) + fw.tensor(
        1.0),
    "float32_scalar_plus_int_tensor": lambda fw: fw.tensor(1.5) + ints(fw),
    "float32_plus_numpy_float64_array": lambda fw: fw.ones(3) + np.ones(3),
    "float32_plus_numpy_float64_scalar": lambda fw: fw.ones(3) + np.float64(2.5),
    "float32_times_numpy_float32_array": lambda fw: fw.ones(3) * np.ones(3, np.float32),
    "int32_plus_numpy_int64_scalar": lambda fw: ints(fw, "int32") + np.int64(3),
    "float32_plus_numpy_float64_0d": lambda fw: fw.ones(3) + np.array(2.5),
    "scalar_plus_numpy_float64_0d": lambda fw: fw.tensor(1.0) - np.array(2.5),
    "int32_plus_numpy_int64_0d": lambda fw: ints(fw, "int32") + np.array(2),
    "float32_times_numpy_int64_array": lambda fw: fw.ones(3) * np.arange(3),
    "float64_plus_numpy_float32_0d": lambda fw: fw.ones(3, dtype=fw.float64) + np.array(
        2.5, dtype=np.float32),
    "int64_div_numpy_int32_array": lambda fw: ints(fw) / np.arange(1, 4, dtype=np.int32),
    "float32_times_large_number": lambda fw: fw.ones(3) * 1e300,
    "int64_plus_float32": lambda fw: ints(fw) + fw.ones(3),
    "float32_times_int32": lambda fw: fw.ones(3) * ints(fw, "int32"),
    "int64_div_float32": lambda fw: ints(fw) / fw.ones(3),
    "uint8_plus_int8": lambda fw: fw.ones(3, dtype=fw.uint8) + fw.ones(3, dtype=fw.int8),
    # float16 (issue 10): PyTorch's result dtypes, and its values where it computes in float32
    "half_plus_float32": lambda fw: halves(fw) + fw.ones(3),
    "half_plus_float32_0d": lambda fw: halves(fw) + fw.tensor(2.5),
    "half_0d_plus_float32": lambda fw: fw.tensor(2.5, dtype=fw.float16) + fw.ones(3),
    "half_plus_int": lambda fw: halves(fw) + ints(fw),
    "int_plus_half_0d": lambda fw: ints(fw) + fw.tensor(1.5, dtype=fw.float16),
    "half_div_int": lambda fw: halves(fw) / 3,
    "int_div_half": lambda fw: ints(fw) / halves(fw),
    "half_pow": lambda fw: (halves(fw) ** 3, halves(fw).abs() ** halves(fw), 2 ** halves(fw)),
    "half_floordiv_mod": lambda fw: (halves(fw) // 0.3, halves(fw) % 0.7,
                                     fw.div(halves(fw), 0.3, rounding_mode="trunc")),
    "half_compare": lambda fw: (halves(fw) > 0.5, halves(fw) == fw.tensor([0.5, 1.0, 3.0])),
    "half_extrema": lambda fw: (fw.maximum(halves(fw), fw.ones(3)),
                                fw.clamp(halves(fw), min=fw.zeros(3)), fw.clamp(halves(fw), -1, 1)),
    "half_atan2_int": lambda fw: fw.atan2(halves(fw), ints(fw)),
    "half_lerp_addcdiv": lambda fw: (fw.lerp(halves(fw), halves(fw) * 2, 0.3),
                                     fw.addcdiv(halves(fw), halves(fw), halves(fw) + 4, value=0.5)),
    "half_float_power": lambda fw: fw.float_power(halves(fw), 2),
    "half_frexp_ldexp": lambda fw: tuple(fw.frexp(halves(fw))) + (fw.ldexp(halves(fw), ints(fw)),),
    "half_round_decimals": lambda fw: fw.round(halves(fw) * 1.337, decimals=2),
    "half_casts": lambda fw: (halves(fw).to(fw.int32), ints(fw).half()),
    "half_copysign_remainder": lambda fw: (fw.copysign(halves(fw), ints(fw) - 2),
                                           fw.remainder(halves(fw), ints(fw))),
    "half_edges": lambda fw: (fw.sigmoid(fw.tensor([-20.0, 20.0, 0.0], dtype=fw.float16)),
                              fw.logit(fw.tensor([0.001, 0.5, 0.999], dtype=fw.float16)),
                              fw.erfinv(fw.tensor([0.1, -0.9, 0.999], dtype=fw.float16)),
                              fw.sinc(fw.tensor([0.0, 0.01, 1.5], dtype=fw.float16))),
}


def halves(fw):
    """[0.5, -1.25, 3.0] in float16: the float16 operand of the dtype tables."""
    return fw.tensor([0.5, -1.25, 3.0], dtype=fw.float16)


class TestPromotion(CaseChecks, SecondDerivativeChecks, HalfChecks, ValueChecks):
    """The op-table checks of every entry above."""


def test_numpy_array_on_the_left_defers_to_tensor():
    tensor = ember.tensor([1.0, 2.0])
    for result, expected in ((np.ones(2) + tensor, [2.0, 3.0]),
                             (np.full(2, 3.0, np.float32) - tensor, [2.0, 1.0]),
                             (np.ones(2) * tensor, [1.0, 2.0]),
                             (np.array([2.0, 4.0]) / tensor, [2.0, 2.0])):
        assert isinstance(result, ember.Tensor)
        np.testing.assert_allclose(result.numpy(), expected)
    assert (np.ones(2) + tensor).dtype is ember.float64
    assert (np.ones(2, np.float32) * tensor).dtype is ember.float32


def test_python_number_never_upcasts_float32():
    x = ember.ones(3, requires_grad=True)
    for result in (x + 1e-3, 2.5 * x, x / 3, x ** 2.5, 1.5 - x, x % 0.3, 7 // (x + 1)):
        assert result.dtype is ember.float32
    (x * 0.1).sum().backward()
    assert x.grad.dtype is ember.float32


# Binary ops whose operands of two floating dtypes are promoted inside: each needs grad, so the
# promotion is a recorded cast and the second derivatives reach both operands (protocol rule 4).
MIXED = {
    "add": lambda fw, a, b: a + b,
    "sub": lambda fw, a, b: a - b,
    "mul": lambda fw, a, b: a * b,
    "div": lambda fw, a, b: a / b,
    "pow": lambda fw, a, b: a.abs() ** b,
    "remainder": lambda fw, a, b: a % b,
    "fmod": lambda fw, a, b: fw.fmod(a, b),
    "atan2": lambda fw, a, b: fw.atan2(a, b),
    "hypot": lambda fw, a, b: fw.hypot(a, b),
    "copysign": lambda fw, a, b: fw.copysign(a, b),
    "xlogy": lambda fw, a, b: fw.xlogy(a, b.abs()),
    "logaddexp": lambda fw, a, b: fw.logaddexp(a, b),
    "maximum": lambda fw, a, b: fw.maximum(a, b),
    "minimum": lambda fw, a, b: fw.minimum(a, b) * a,
    "fmax": lambda fw, a, b: fw.fmax(a, b) * b,
    "clamp": lambda fw, a, b: fw.clamp(a * b, min=b, max=b + 1),
    "ldexp": lambda fw, a, b: fw.ldexp(a, b),
}


@pytest.mark.parametrize("name", sorted(MIXED))
@pytest.mark.parametrize("shapes", [((3, 4), (3, 4)), ((3, 4), ()), ((), (4,))],
                         ids=["same-shape", "0-d-float64", "0-d-float32"])
def test_mixed_float_dtypes_second_derivatives_match_torch(name, shapes, torch):
    rng = np.random.default_rng(3)
    arrays = [rng.uniform(0.5, 2.0, shape) * rng.choice([-1.0, 1.0], shape) for shape in shapes]
    results = []
    for framework in (ember, torch):
        inputs = [framework.tensor(arrays[0], dtype=framework.float32, requires_grad=True),
                  framework.tensor(arrays[1], dtype=framework.float64, requires_grad=True)]
        out = MIXED[name](framework, *inputs)
        first, second = _second_derivatives(framework, [out], inputs)
        (grads,) = [framework.autograd.grad(MIXED[name](framework, *inputs).sum(), inputs)]
        results.append((dtype_name(out.dtype), [dtype_name(grad.dtype) for grad in grads], first,
                        second))
    (out_dtype, grad_dtypes, first, second), expected = results
    assert (out_dtype, grad_dtypes) == expected[:2]
    for mine, theirs in zip(first + second, expected[2] + expected[3]):
        np.testing.assert_allclose(mine, theirs, rtol=1e-5, atol=1e-6)
