"""ember.ops._select: the compiled select gives np.where's values and dtype (NaN, signed zeros,
numbers on either side), and NumPy's where runs wherever the operands do not fit it; the ops
that select through it (activations, clamp, maximum, where) match torch at sizes that use it."""
import numpy as np
import pytest

import ember
import ember.nn.functional as F
from ember.ops import _select

pytest.importorskip("numba")


def _operands(dtype, shape=(33, 17), seed=0):
    random = np.random.default_rng(seed)
    a = random.standard_normal(shape).astype(dtype)
    b = random.standard_normal(shape).astype(dtype)
    a.flat[:4] = [np.nan, -0.0, np.inf, -np.inf]
    b.flat[4:8] = [np.nan, -0.0, 0.0, -np.inf]
    return random.random(shape) < 0.5, a, b


def _assert_identical(mine, theirs):
    assert mine.dtype == theirs.dtype and mine.shape == theirs.shape
    np.testing.assert_array_equal(mine, theirs)
    np.testing.assert_array_equal(np.signbit(mine), np.signbit(theirs))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("form", ["arrays", "number_second", "number_first", "int_number",
                                  "zero_dim_value", "rows_condition", "column_condition",
                                  "strided_condition"])
def test_compiled_select_gives_numpys_where(dtype, form):
    condition, a, b = _operands(dtype)
    operands = {"arrays": (a, b), "number_second": (a, -0.0), "number_first": (2.5, b),
                "int_number": (a, 3), "zero_dim_value": (a, np.array(-np.inf, dtype)),
                "rows_condition": (a, b), "column_condition": (np.array(np.nan, dtype), b),
                "strided_condition": (a, 1.5)}[form]
    # a condition that broadcasts to the operands' shape is copied out to it
    condition = {"rows_condition": condition[:1], "column_condition": condition[:, :1],
                 "strided_condition": condition[::-1]}.get(form, condition)
    assert _select._compiled_select(condition, *operands) is not None  # the kernel ran
    _assert_identical(_select.select(condition, *operands), np.where(condition, *operands))


@pytest.mark.parametrize("case", ["small", "strided", "broadcast", "int_dtype", "mixed_dtypes",
                                  "int_condition", "large_int", "numpy_scalar",
                                  "zero_dim_of_another_dtype", "condition_beyond_the_operands",
                                  "condition_larger_than_rows"])
def test_select_leaves_what_does_not_fit_to_numpys_where(case):
    condition, a, b = _operands(np.float32)
    operands = {
        "small": (condition[:2, :3], a[:2, :3], b[:2, :3]),
        "strided": (condition, a[:, ::-1], b),
        "broadcast": (condition, a, b[:1]),
        "int_dtype": (condition, a.astype(np.int64), b.astype(np.int64)),
        "mixed_dtypes": (condition, a, b.astype(np.float64)),
        "int_condition": (condition.astype(np.int8), a, b),
        "large_int": (condition, a, 2 ** 40),
        "numpy_scalar": (condition, a, np.float64(0.5)),
        "zero_dim_of_another_dtype": (condition, a, np.array(0.5)),
        "condition_beyond_the_operands": (condition[None].repeat(2, 0), a, 0.5),
        "condition_larger_than_rows": (condition, a[:1], b[:1]),
    }[case]
    assert _select._compiled_select(*operands) is None
    _assert_identical(_select.select(*operands), np.where(*operands))


ACTIVATIONS = [
    ("leaky_relu", lambda fw, x: fw.nn.functional.leaky_relu(x, 0.1)),
    ("leaky_relu_steep", lambda fw, x: fw.nn.functional.leaky_relu(x, 3.0)),
    ("elu", lambda fw, x: fw.nn.functional.elu(x)),
    ("selu", lambda fw, x: fw.nn.functional.selu(x)),
    ("celu", lambda fw, x: fw.nn.functional.celu(x, 0.7)),
    ("hardtanh", lambda fw, x: fw.nn.functional.hardtanh(x)),
    ("hardswish", lambda fw, x: fw.nn.functional.hardswish(x)),
    ("hardsigmoid", lambda fw, x: fw.nn.functional.hardsigmoid(x)),
    ("softplus", lambda fw, x: fw.nn.functional.softplus(x, 2.0, 5.0)),
    ("clamp", lambda fw, x: x.clamp(-0.5, 0.7)),
    ("maximum", lambda fw, x: fw.maximum(x, x.flip(0))),
    ("where", lambda fw, x: fw.where(x > 0.3, x, x * 2)),
    ("masked_fill", lambda fw, x: x.masked_fill(x.flip(1) > 0, 0.5)),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name, call", ACTIVATIONS, ids=[name for name, _ in ACTIVATIONS])
def test_selecting_ops_match_torch_where_the_kernel_runs(torch, dtype, name, call):
    random = np.random.default_rng(1)
    values = (random.standard_normal((24, 40)) * 3).astype(dtype)
    values[0, :6] = [0.0, -0.0, 3.0, -3.0, 0.7, -0.5]  # the edges where slopes switch
    grad = random.standard_normal((24, 40)).astype(dtype)
    ours = ember.tensor(values, requires_grad=True)
    theirs = torch.tensor(values, requires_grad=True)
    our_out, their_out = call(ember, ours), call(torch, theirs)
    our_out.backward(ember.tensor(grad))
    their_out.backward(torch.tensor(grad))
    tolerance = {"rtol": 1e-6, "atol": 1e-6} if dtype == np.float32 else {"rtol": 1e-13,
                                                                            "atol": 1e-15}
    np.testing.assert_allclose(our_out.detach().numpy(), their_out.detach().numpy(),
                               **tolerance)
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), **tolerance)
