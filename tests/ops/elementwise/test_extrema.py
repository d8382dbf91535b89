"""ember.ops.elementwise.extrema: maximum, minimum, fmax, fmin, clamp and relu."""
import contextlib

import numpy as np
import pytest

import ember

from ..op_table import (
    BINARY, BINARY_SHAPES, BadInputChecks, Case, CaseChecks, HalfChecks, SecondDerivativeChecks,
    UNARY, ValueChecks, ints)
from . import ELEMENTWISE_MODULES


# Ops of this family: their double backward must never be skipped as another family's.
OPS_MODULES = ELEMENTWISE_MODULES

CASES = [
    Case("maximum", lambda fw, a, b: fw.maximum(a, b), BINARY_SHAPES, numpy=np.maximum),
    Case("minimum", lambda fw, a, b: fw.minimum(a, b), BINARY_SHAPES, numpy=np.minimum),
    Case("maximum_ties", lambda fw, a, b: fw.maximum(a, b), BINARY_SHAPES[1:3], "ties",
         check_grad=False),
    Case("minimum_ties", lambda fw, a, b: fw.minimum(a, b), BINARY_SHAPES[1:3], "ties",
         check_grad=False),
    Case("clamp_", lambda fw, a: (a * 1).clamp_(-0.5, 0.5), UNARY),
    Case("relu", lambda fw, a: a.relu(), UNARY, "nonzero",
         numpy=lambda a: np.maximum(a, 0)),
    Case("relu_function", lambda fw, a: fw.relu(a), UNARY, "nonzero"),
    Case("clamp", lambda fw, a: a.clamp(-0.5, 0.7), UNARY,
         numpy=lambda a: np.clip(a, -0.5, 0.7)),
    Case("clamp_min", lambda fw, a: a.clamp(min=0.1), UNARY),
    Case("clamp_max", lambda fw, a: fw.clamp(a, max=-0.2), UNARY),
    Case("clip", lambda fw, a: fw.clip(a, -1, 1), UNARY),
    Case("clamp_tensor_bounds", lambda fw, a, low, high: a.clamp(low, high),
         [((3, 4), (3, 4), (3, 4)), ((3, 4), (4,), ()), ((), (), ())]),
    Case("clamp_tensor_min", lambda fw, a, low: fw.clamp(a, min=low), [((3, 4), (1, 4))]),
    Case("clamp_tensor_max", lambda fw, a, high: fw.clamp(a, max=high), [((3, 4), (3, 1))]),
    Case("clamp_min_function", lambda fw, a: fw.clamp_min(a, 0.2), UNARY),
    Case("clamp_max_method", lambda fw, a: a.clamp_max(-0.1), UNARY),
    Case("fmax_fmin", lambda fw, a, b: (fw.fmax(a, b), fw.fmin(a, b)), BINARY),
    Case("fmax_nan", lambda fw, a, b: a.masked_fill(a > 1, float("nan")).fmax(b), BINARY[1:3],
         check_grad=False),
]


BAD_INPUTS = {
    "maximum_number": lambda fw: fw.maximum(fw.ones(2), 1.0),
    "clamp_no_bounds": lambda fw: fw.clamp(fw.ones(2)),
}


VALUES = {
    "int_clamp_float": lambda fw: ints(fw, "int32").clamp(0.5),
    "int_relu": lambda fw: ints(fw).relu(),
    "int_maximum_float": lambda fw: fw.maximum(ints(fw), fw.ones(3)),
}


class TestExtrema(CaseChecks, SecondDerivativeChecks, HalfChecks, BadInputChecks, ValueChecks):
    """The op-table checks of every entry above."""


@pytest.mark.parametrize("path", ["compiled", "numpy", "create_graph"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_relu_gradient_is_exactly_zero_where_masked_as_in_torch(torch, path, dtype):
    # threshold_backward: a NaN, inf or negative incoming gradient gives +0 where the output
    # is 0, not NaN or -0 (grad * mask would); a NaN output passes its gradient
    x = np.array([[-1.0, np.nan, -3.0, 0.0], [4.0, -0.5, 0.0, 1.5]], dtype)
    grad = np.array([[np.nan, 1.0, -2.0, 5.0], [np.inf, -np.inf, -1.0, np.nan]], dtype)
    expected_leaf = torch.tensor(x, requires_grad=True)
    torch.relu(expected_leaf).backward(torch.tensor(grad))
    leaf = ember.tensor(x, requires_grad=True)
    context = ember._jit.disabled() if path == "numpy" else contextlib.nullcontext()
    with context:
        if path == "create_graph":
            (ours,) = ember.autograd.grad(ember.relu(leaf), leaf, ember.tensor(grad),
                                          create_graph=True)
        else:
            ember.relu(leaf).backward(ember.tensor(grad))
            ours = leaf.grad
    expected = expected_leaf.grad.numpy()
    np.testing.assert_array_equal(ours.detach().numpy(), expected)
    assert not np.signbit(ours.detach().numpy()[expected == 0]).any()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("bounds", [(0.0, None), (None, 0.0), (-0.0, None), (None, -0.0), (1, None),
                                    (-1, 1), (2.0, -2.0), (float("nan"), None),
                                    (None, float("inf"))])
def test_clamp_number_bounds_bit_equal_to_torch(torch, dtype, bounds):
    # number bounds on float32/float64 take NumPy's clip: NaN inputs, infinities and the sign
    # of zero come out as PyTorch's, bit for bit, with gradients where PyTorch has them
    x = np.array([np.nan, -0.0, 0.0, np.inf, -np.inf, 2.0, -2.0, 0.5, 1.0, -1.0, 3e38], dtype)
    low, high = bounds
    mine = ember.tensor(x, requires_grad=True)
    theirs = torch.tensor(x, requires_grad=True)
    out, expected = mine.clamp(low, high), theirs.clamp(low, high)
    assert out.dtype == ember.float64 if dtype == np.float64 else out.dtype == ember.float32
    assert out.grad_fn.name() == expected.grad_fn.name()
    np.testing.assert_array_equal(out.detach().numpy().view(np.uint8),
                                  expected.detach().numpy().view(np.uint8))
    grad = np.linspace(-1, 1, x.size).astype(dtype)
    out.backward(ember.tensor(grad))
    expected.backward(torch.tensor(grad))
    np.testing.assert_array_equal(mine.grad.numpy(), theirs.grad.numpy())


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_relu_keeps_negative_zero_and_nan_as_torch(torch, dtype):
    x = np.array([np.nan, -0.0, 0.0, -1.0, 1.0, np.inf, -np.inf], dtype)
    np.testing.assert_array_equal(ember.relu(ember.tensor(x)).numpy().view(np.uint8),
                                  torch.relu(torch.tensor(x)).numpy().view(np.uint8))


@pytest.mark.parametrize("path", ["compiled", "numpy"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_relu_of_channels_last_and_strided_tensors_matches_torch(torch, path, dtype):
    # channels_last input and gradient: clip and the gradient kernel run in memory order; the
    # output and the input's gradient keep PyTorch's layout, -0.0 and NaN as PyTorch's
    x = np.random.default_rng(0).standard_normal((2, 3, 4, 5)).astype(dtype)
    x[0, 0, 0, :3] = [np.nan, -0.0, 0.0]
    grad = np.random.default_rng(1).standard_normal(x.shape).astype(dtype)
    grad[1, 2, 3, 4] = np.nan
    for layout in ("channels_last", "transposed", "sliced"):
        def prepare(fw, array, leaf):
            tensor = fw.tensor(array)
            if layout == "channels_last":
                tensor = tensor.contiguous(memory_format=fw.channels_last)
            elif layout == "transposed":
                tensor = tensor.transpose(1, 3)
            else:
                tensor = tensor[:, :, ::2]
            return tensor.detach().requires_grad_(leaf)
        theirs = prepare(torch, x, True)
        expected = torch.relu(theirs)
        expected.backward(prepare(torch, grad, False))
        with ember._jit.disabled() if path == "numpy" else contextlib.nullcontext():
            mine = prepare(ember, x, True)
            out = ember.relu(mine)
            out.backward(prepare(ember, grad, False))
        np.testing.assert_array_equal(np.ascontiguousarray(out.detach().numpy()).view(np.uint8),
                                      np.ascontiguousarray(expected.detach().numpy()).view(np.uint8))
        assert out.stride() == expected.stride(), layout
        np.testing.assert_array_equal(mine.grad.numpy(), theirs.grad.numpy())
        assert mine.grad.stride() == theirs.grad.stride(), layout
