"""ember's array-API namespace (what an op's backward uses under create_graph) computes what the
NumPy function of the same name computes, on Tensors, and stays differentiable."""
import numpy as np
import pytest

import ember
from ember.ops import array_api

RANDOM = np.random.default_rng(0)
X = RANDOM.standard_normal((2, 1, 3))

# name -> (call on the namespace, the same call written for NumPy)


def _square(xp, x):
    """Invertible (2, 3, 3) matrices made from ``x``."""
    return xp.matmul(xp.matrix_transpose(x), x) + 3 * np.eye(3)


def _linalg(xp, x):
    square = _square(xp, x)
    determinant = xp.expand_dims(xp.linalg.det(square), (-2, -1))
    return xp.linalg.solve(square, xp.linalg.inv(square)) * determinant


CASES = {
    "asarray": lambda xp, x: x * xp.asarray(np.array([2.0, -1.0, 0.5])),
    "asarray_list": lambda xp, x: xp.asarray([[1.5, 2.0]], dtype=np.float32),
    "astype": lambda xp, x: xp.astype(x, np.float32),
    "broadcast_to": lambda xp, x: xp.broadcast_to(x, (4, 2, 5, 3)),
    "diagonal": lambda xp, x: xp.diagonal(x, 0, 0, 2),
    "einsum": lambda xp, x: xp.einsum("abc,dbc->ad", x, x),
    "cos": lambda xp, x: xp.cos(x),
    "cosh": lambda xp, x: xp.cosh(x),
    "concat": lambda xp, x: xp.concat([np.ones((1, 1, 3)), x, x], axis=0),
    "cumulative_prod": lambda xp, x: xp.cumulative_prod(x, axis=2),
    "cumulative_sum": lambda xp, x: xp.cumulative_sum(x, axis=0, dtype=np.float64),
    "exp": lambda xp, x: xp.exp(x),
    "exp2": lambda xp, x: xp.exp2(x),
    "expand_dims": lambda xp, x: xp.expand_dims(x, (0, 2)),
    "flip": lambda xp, x: xp.flip(x, axis=(0, 2)),
    "flip_all": lambda xp, x: xp.flip(x),
    "linalg": _linalg,
    "matmul": lambda xp, x: xp.matmul(x, xp.matrix_transpose(x)),
    "matrix_transpose": lambda xp, x: xp.matrix_transpose(x),
    "permute_dims": lambda xp, x: xp.permute_dims(x, (2, 0, 1)),
    "log": lambda xp, x: xp.log(abs(x)),
    "reshape": lambda xp, x: xp.reshape(x, (3, 2)),
    "roll": lambda xp, x: xp.roll(x, 1, axis=2),
    "roll_all": lambda xp, x: xp.roll(x, 2),
    "split": lambda xp, x: xp.split(x, [1], axis=2)[1],
    "sum": lambda xp, x: xp.sum(x, axis=(0, 2), keepdims=True),
    "sum_all": lambda xp, x: xp.sum(x),
    "tril": lambda xp, x: xp.tril(x),
    "triu": lambda xp, x: xp.triu(x, 1),
    "unstack": lambda xp, x: xp.unstack(x, axis=2)[1],
    "asarray_float32": lambda xp, x: xp.asarray(np.ones((2, 3), np.float32)) * x[0],
    "matmul_column": lambda xp, x: xp.matmul(x, xp.reshape(x, (2, 3, 1))),
    "stack": lambda xp, x: xp.stack([x, x * 2.0], axis=-1),
    "tanh": lambda xp, x: xp.tanh(x),
    "reshape_same_shape": lambda xp, x: xp.reshape(x, (2, 1, 3)) * 2.0,
    "reshape_inferred": lambda xp, x: xp.reshape(x, (-1, 2)),
    "broadcast_to_same_shape": lambda xp, x: xp.broadcast_to(x, (2, 1, 3)) * 2.0,
    "sum_int_axis": lambda xp, x: xp.sum(x, axis=-1),
    "sum_negative_axes": lambda xp, x: xp.sum(x, axis=(-1, 0)),
    "permute_dims_negative": lambda xp, x: xp.permute_dims(x, (-1, 0, 1)),
    "log1p": lambda xp, x: xp.log1p(x * x),
    "max": lambda xp, x: xp.max(x, axis=2, keepdims=True),
    "max_all": lambda xp, x: xp.max(x),
    "maximum": lambda xp, x: xp.maximum(x, 0.25),
    "mean": lambda xp, x: xp.mean(x, axis=(0, 2), keepdims=True),
    "mean_all": lambda xp, x: xp.mean(x),
    "minimum": lambda xp, x: xp.minimum(0.25, x),
    "sqrt": lambda xp, x: xp.sqrt(x * x + 0.5),
    "where": lambda xp, x: xp.where(x > 0, x, 0.5),
    "where_array_condition": lambda xp, x: xp.where(X > 0, 0.5, x),
    "floor_divide": lambda xp, x: xp.floor_divide(x, 0.3),
    "floor_divide_all": lambda xp, x: xp.floor_divide(2.5, x),
    "sign": lambda xp, x: xp.sign(x),
    "sin": lambda xp, x: xp.sin(x),
    "sinh": lambda xp, x: xp.sinh(x),
    "trunc": lambda xp, x: xp.trunc(x * 3),
    "zeros_like": lambda xp, x: xp.zeros_like(x),
    "abs": lambda xp, x: xp.abs(x),
    "real": lambda xp, x: xp.real(x * (2 - 1j)),
    "imag": lambda xp, x: xp.imag(x * (2 - 1j)),
    "conj": lambda xp, x: xp.imag(xp.conj(x * (1 + 2j)) * (3 + 1j)),

}
# Results that are constants, as PyTorch's are (zeros_like), or not float64 (gradcheck needs it).
NOT_DIFFERENTIATED = {"asarray_list", "astype", "zeros_like"}


def test_every_namespace_function_has_a_case():
    covered = {name.split("_all")[0].split("_array")[0] for name in CASES}
    assert set(array_api.__all__) <= covered


@pytest.mark.parametrize("name", sorted(CASES))
def test_matches_numpy(name):
    case = CASES[name]
    expected = case(np, X)
    actual = case(array_api, ember.tensor(X))
    assert actual.dtype == ember.from_numpy(np.ascontiguousarray(expected)).dtype
    np.testing.assert_allclose(actual.numpy(), expected, rtol=1e-6)


@pytest.mark.parametrize("name", sorted(set(CASES) - NOT_DIFFERENTIATED))
def test_is_differentiable(name):
    x = ember.tensor(X, requires_grad=True)
    out = CASES[name](array_api, x)
    assert out.requires_grad
    assert ember.autograd.gradcheck(lambda t: CASES[name](array_api, t), (x,))


def test_zeros_like_is_a_constant():
    zeros = array_api.zeros_like(ember.tensor(X, requires_grad=True))
    assert not zeros.requires_grad and zeros.grad_fn is None
