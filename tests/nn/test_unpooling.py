"""max_unpool1d/2d/3d and MaxUnpool modules against PyTorch: values, gradients, output sizes,
reprs and errors; the *_with_indices spellings of max pooling."""
import re

import numpy as np
import pytest

import ember


def _pooled(module, dims, shape, seed=0, kernel=2, stride=None, padding=0):
    values = np.random.default_rng(seed).standard_normal(shape)
    x = module.tensor(values, requires_grad=True)
    pool = getattr(module.nn.functional, f"max_pool{dims}d")
    out, indices = pool(x, kernel, stride, padding, return_indices=True)
    return x, out, indices


@pytest.mark.parametrize("dims,shape,kernel,stride,padding,output_size", [
    (1, (2, 3, 8), 2, None, 0, None), (1, (3, 9), 3, 2, 1, None),
    (2, (1, 2, 5, 5), 2, None, 0, (5, 5)), (2, (2, 2, 6, 7), 3, 2, 1, (6, 7)),
    (2, (2, 4, 4), 2, 2, 0, (2, 4, 5, 5)), (3, (1, 2, 4, 4, 4), 2, None, 0, None)])
def test_max_unpool_matches_torch(torch, dims, shape, kernel, stride, padding, output_size):
    results = []
    for module in (ember, torch):
        x, out, indices = _pooled(module, dims, shape, kernel=kernel, stride=stride,
                                  padding=padding)
        unpool = getattr(module.nn.functional, f"max_unpool{dims}d")
        restored = unpool(out, indices, kernel, stride, padding, output_size=output_size)
        weights = module.tensor(np.random.default_rng(1).standard_normal(tuple(restored.shape)))
        (restored * weights).sum().backward()
        layer = getattr(module.nn, f"MaxUnpool{dims}d")(kernel, stride, padding)
        again = layer(out, indices, output_size=output_size)
        results.append((restored.detach().numpy(), x.grad.numpy(), again.detach().numpy(),
                        repr(layer)))
    (mine, mine_grad, mine_layer, mine_repr), (theirs, theirs_grad, theirs_layer, theirs_repr) = \
        results
    np.testing.assert_array_equal(mine, theirs)
    np.testing.assert_array_equal(mine_layer, theirs_layer)
    np.testing.assert_allclose(mine_grad, theirs_grad, rtol=1e-12)
    assert mine_repr == theirs_repr


def test_max_unpool_errors_match_torch(torch):
    messages = []
    for module in (ember, torch):
        _, out, indices = _pooled(module, 2, (1, 2, 4, 4))
        F = module.nn.functional
        found = []
        for call in [lambda: F.max_unpool2d(out, indices, 2, output_size=(7, 7)),
                     lambda: F.max_unpool2d(out, indices, 2, output_size=(3, 3)),
                     lambda: F.max_unpool2d(out, indices.float(), 2),
                     lambda: F.max_unpool2d(out, indices[..., :1], 2),
                     lambda: F.max_unpool2d(out, indices + 100, 2)]:
            with pytest.raises((RuntimeError, ValueError)) as caught:
                call()
            # Which invalid index PyTorch names depends on its threads' order: not compared.
            found.append((caught.type, re.sub(r"index: \d+", "index: N", str(caught.value))))
        messages.append(found)
    assert messages[0] == messages[1]


def test_with_indices_spellings_match_torch(torch):
    values = np.random.default_rng(2).standard_normal((2, 3, 6, 6))
    for name, args in [("max_pool2d_with_indices", (2,)), ("max_pool1d_with_indices", (3,)),
                       ("adaptive_max_pool2d_with_indices", ((3, 2),)),
                       ("adaptive_max_pool1d_with_indices", (4,))]:
        shape = values.shape if "2d" in name else values.shape[:2] + (36,)
        mine = getattr(ember.nn.functional, name)(ember.tensor(values.reshape(shape)), *args)
        theirs = getattr(torch.nn.functional, name)(torch.tensor(values.reshape(shape)), *args)
        np.testing.assert_array_equal(mine[0].numpy(), theirs[0].numpy())
        np.testing.assert_array_equal(mine[1].numpy(), theirs[1].numpy())
