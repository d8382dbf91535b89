"""ember's array-API namespace (what an op's backward uses under create_graph) computes what the
NumPy function of the same name computes, on Tensors, and stays differentiable."""
import numpy as np
import pytest

import ember
from ember.ops import array_api

RANDOM = np.random.default_rng(0)
X = RANDOM.standard_normal((2, 1, 3))

# name -> (call on the namespace, the same call written for NumPy)
CASES = {
    "astype": lambda xp, x: xp.astype(x, np.float32),
    "broadcast_to": lambda xp, x: xp.broadcast_to(x, (4, 2, 5, 3)),
    "cos": lambda xp, x: xp.cos(x),
    "cosh": lambda xp, x: xp.cosh(x),
    "exp": lambda xp, x: xp.exp(x),
    "exp2": lambda xp, x: xp.exp2(x),
    "expand_dims": lambda xp, x: xp.expand_dims(x, (0, 2)),
    "floor_divide": lambda xp, x: xp.floor_divide(x, 0.3),
    "floor_divide_all": lambda xp, x: xp.floor_divide(2.5, x),
    "log": lambda xp, x: xp.log(x * x + 0.5),
    "reshape": lambda xp, x: xp.reshape(x, (3, 2)),
    "sign": lambda xp, x: xp.sign(x),
    "sin": lambda xp, x: xp.sin(x),
    "sinh": lambda xp, x: xp.sinh(x),
    "sqrt": lambda xp, x: xp.sqrt(x * x + 0.5),
    "sum": lambda xp, x: xp.sum(x, axis=(0, 2), keepdims=True),
    "sum_all": lambda xp, x: xp.sum(x),
    "trunc": lambda xp, x: xp.trunc(x * 3),
    "where": lambda xp, x: xp.where(x > 0, x, x * -2.5),
    "zeros_like": lambda xp, x: xp.zeros_like(x),
}
# Results that are constants, as PyTorch's are (zeros_like), or not float64 (gradcheck needs it).
NOT_DIFFERENTIATED = {"astype", "zeros_like"}


def test_every_namespace_function_has_a_case():
    covered = {name.split("_all")[0] for name in CASES}
    assert set(array_api.__all__) <= covered


@pytest.mark.parametrize("name", sorted(CASES))
def test_matches_numpy(name):
    case = CASES[name]
    expected = case(np, X)
    actual = case(array_api, ember.tensor(X))
    assert actual.dtype == ember.from_numpy(np.asarray(expected)).dtype
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
