"""torch.func and torch.autograd.functional as scripts import them under ``ember run``: the
function transforms of ember.func and ember.autograd.functional, with PyTorch's values."""
import numpy as np

import ember.compat
from tests.conftest import assert_close

X = np.random.default_rng(0).normal(size=(4, 3)).astype(np.float32)
WEIGHT = np.random.default_rng(1).normal(size=(2, 3)).astype(np.float32)


def _transforms(torch):
    """A script's use of the transforms, written once against a ``torch`` module."""
    from torch.autograd.functional import hessian, jacobian
    from torch.func import functional_call, grad, jacrev, vmap

    x = torch.from_numpy(X)
    weight = torch.from_numpy(WEIGHT)

    def loss(w, row):
        return torch.tanh(row @ w.t()).pow(2).sum()

    model = torch.nn.Linear(3, 2)
    params = {"weight": weight, "bias": torch.zeros(2)}
    return {
        "vmap": vmap(lambda row: row.sin() * row.sum())(x),
        "per_sample_grad": vmap(grad(loss), in_dims=(None, 0))(weight, x),
        "jacrev": jacrev(lambda row: torch.tanh(row @ weight.t()))(x[0]),
        "torch.vmap": torch.vmap(torch.outer, in_dims=(0, None))(x, x[0]),
        "functional_call": functional_call(model, params, (x,)),
        "jacobian": jacobian(lambda w: torch.tanh(x @ w.t()), weight),
        "hessian": hessian(lambda row: loss(weight, row), x[1]),
    }


def test_transforms_under_compat_equal_torchs(torch):
    expected = _transforms(torch)
    ember.compat.install(force=True)
    try:
        import torch as ember_torch  # ember's, through the finder
        assert ember_torch.func.vmap is ember.func.vmap
        actual = _transforms(ember_torch)
    finally:
        ember.compat.uninstall()
    assert sorted(actual) == sorted(expected)
    for name in expected:
        assert_close(actual[name], expected[name].detach(), rtol=1e-5, atol=1e-6)


def test_transforms_under_compat_without_torch():
    """The same imports work where no PyTorch is installed (values checked against NumPy)."""
    ember.compat.install(force=True)
    try:
        import torch
        from torch.func import vmap
        from torch.autograd.functional import jacobian
        rows = vmap(lambda row: row * 2)(torch.from_numpy(X))
        jacobian_value = jacobian(lambda row: row.pow(2), torch.from_numpy(X[0]))
    finally:
        ember.compat.uninstall()
    np.testing.assert_allclose(rows.numpy(), X * 2)
    np.testing.assert_allclose(jacobian_value.numpy(), np.diag(2 * X[0]), rtol=1e-6)
