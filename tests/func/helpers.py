"""Shared by the tests of ember.func and ember.autograd.functional: comparing pytrees of results
with PyTorch's, and skipping where an op's double backward is not in ember yet.

``requires_double_backward(*names)`` probes each named op once (float64, a tiny input): a test
needing derivatives of order ``order`` through those ops is skipped, with the missing ops in the
reason, until they support create_graph; it then runs by itself.
"""
import functools

import numpy as np
import pytest

import ember
from tests.conftest import load_torch_state

# name -> a scalar function of a (3,) float64 tensor built on that op.
PROBES = {
    "add": lambda x: (x + x * x).sum(),
    "mul": lambda x: (x * x * x).sum(),
    "div": lambda x: (x / (x * x + 2.0)).sum(),
    "exp": lambda x: x.exp().sum(),
    "sum": lambda x: (x * x).sum() * x.sum(),
    "mean": lambda x: (x * x).mean(),
    "pow": lambda x: (x ** 3).sum(),
    "tanh": lambda x: x.tanh().sum(),
    "sin": lambda x: x.sin().sum(),
    "reshape": lambda x: (x.reshape(3, 1) * x.reshape(1, 3)).sum(),
    "unsqueeze": lambda x: (x.unsqueeze(0) * x.unsqueeze(1)).sum(),
    "expand": lambda x: (x.expand(2, 3) * x).sum(),
    "transpose": lambda x: (x.reshape(3, 1).transpose(0, 1) * x).sum(),
    "index": lambda x: (x[1:] * x[:2]).sum(),
    "select": lambda x: x[0] * x[1] * x[2],
    "stack": lambda x: (ember.stack([x, x * x]) * x).sum(),
    "matmul": lambda x: (x.reshape(3, 1) @ (x * x).reshape(1, 3)).sum(),
    "linear": lambda x: (ember.nn.functional.linear(x.reshape(1, 3), x.reshape(1, 3).exp())
                         * x.sum()).sum(),
    "mse_loss": lambda x: ember.nn.functional.mse_loss(x * x, x.exp()),
    "cross_entropy": lambda x: ember.nn.functional.cross_entropy(
        (x * x).reshape(1, 3), ember.tensor([1])),
    "sigmoid": lambda x: x.sigmoid().sum(),
    "relu": lambda x: (x.relu() * x).sum(),
}


@functools.cache
def supports(name, order=2):
    """Whether derivatives of ``order`` go through the op ``name``; False only when an op says
    its double backward is not implemented (any other failure is the test's business)."""
    x = ember.tensor(np.array([0.3, -0.7, 1.1]), dtype=ember.float64, requires_grad=True)
    try:
        value = PROBES[name](x)
        for _ in range(order - 1):
            (value,) = ember.autograd.grad(value, x, create_graph=True)
            value = (value * ember.tensor([1.0, 2.0, 3.0], dtype=ember.float64)).sum()
        ember.autograd.grad(value, x, allow_unused=True)
    except RuntimeError as error:
        if "double backward (create_graph=True) is not implemented" in str(error):
            return False
        raise
    return True


def requires_double_backward(*names, order=2):
    """Skip until every named op supports derivatives of ``order``."""
    missing = [name for name in names if not supports(name, order)]
    return pytest.mark.skipif(
        bool(missing), reason=f"double backward (order {order}) not in ember yet for "
                              f"{', '.join(missing)} (issue 12: the ops are being converted)")


def tree_to_torch(tree, torch):
    """An ember pytree of tensors as torch's (same structure, same values and dtypes)."""
    if isinstance(tree, ember.Tensor):
        return torch.tensor(tree.detach().numpy())
    if isinstance(tree, tuple):
        return tuple(tree_to_torch(item, torch) for item in tree)
    if isinstance(tree, list):
        return [tree_to_torch(item, torch) for item in tree]
    if isinstance(tree, dict):
        return {key: tree_to_torch(value, torch) for key, value in tree.items()}
    return tree


def assert_same_tree(ours, theirs, rtol=1e-6, atol=1e-7):
    """Same nesting (tuple, list, dict with its key order, tensor), shapes, dtypes and values."""
    if hasattr(theirs, "detach") and hasattr(theirs, "numpy"):
        assert isinstance(ours, ember.Tensor), f"expected a Tensor, got {type(ours).__name__}"
        expected = theirs.detach().numpy()
        actual = ours.detach().numpy()
        assert actual.shape == expected.shape, f"shape {actual.shape} != {expected.shape}"
        assert actual.dtype == expected.dtype, f"dtype {actual.dtype} != {expected.dtype}"
        np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol)
        return
    assert type(ours) is type(theirs), f"{type(ours).__name__} != {type(theirs).__name__}"
    if isinstance(theirs, dict):
        assert list(ours) == list(theirs)
        for key in theirs:
            assert_same_tree(ours[key], theirs[key], rtol, atol)
    elif isinstance(theirs, (tuple, list)):
        assert len(ours) == len(theirs), f"length {len(ours)} != {len(theirs)}"
        for mine, other in zip(ours, theirs):
            assert_same_tree(mine, other, rtol, atol)
    else:
        assert ours == theirs


def inputs(framework, *shapes, seed=0, dtype="float64", requires_grad=False):
    """Tensors of the given shapes with the same values in either framework."""
    random = np.random.default_rng(seed)
    return tuple(framework.tensor(random.uniform(-1.0, 1.0, shape).astype(dtype),
                                  requires_grad=requires_grad) for shape in shapes)


def twin_modules(torch, build):
    """``build(framework)`` in torch (seeded) and in ember, ember's loaded with torch's state."""
    torch.manual_seed(0)
    theirs = build(torch)
    ours = build(ember)
    load_torch_state(ours, theirs)
    return ours, theirs
