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
    "concat": lambda xp, x: xp.concat([np.ones((1, 1, 3)), x, x], axis=0),
    "cumulative_prod": lambda xp, x: xp.cumulative_prod(x, axis=2),
    "cumulative_sum": lambda xp, x: xp.cumulative_sum(x, axis=0, dtype=np.float64),
    "exp": lambda xp, x: xp.exp(x),
    "expand_dims": lambda xp, x: xp.expand_dims(x, (0, 2)),
    "log": lambda xp, x: xp.log(abs(x)),
    "reshape": lambda xp, x: xp.reshape(x, (3, 2)),
    "sum": lambda xp, x: xp.sum(x, axis=(0, 2), keepdims=True),
    "sum_all": lambda xp, x: xp.sum(x),
    "where": lambda xp, x: xp.where(X > 0, x, 0.5),
}


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


@pytest.mark.parametrize("name", sorted(name for name in CASES if name != "astype"))
def test_is_differentiable(name):
    x = ember.tensor(X, requires_grad=True)
    out = CASES[name](array_api, x)
    assert out.requires_grad
    assert ember.autograd.gradcheck(lambda t: CASES[name](array_api, t), (x,))
