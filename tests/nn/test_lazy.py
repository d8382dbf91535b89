"""Lazy layers against PyTorch: reprs and state_dict keys before and after the first call, the
inferred shapes, the class each becomes, outputs from identical weights, and shapes taken from
a checkpoint."""
import numpy as np
import pytest

import ember


def _build(module, layers):
    return module.nn.Sequential(*[getattr(module.nn, name)(*args, **kwargs)
                                  for name, args, kwargs in layers])


CASES = [
    ([("LazyLinear", (5,), {}), ("ReLU", (), {}), ("LazyLinear", (2,), {"bias": False})],
     (3, 7)),
    ([("LazyConv2d", (4, 3), {"padding": 1}), ("LazyBatchNorm2d", (), {}), ("ReLU", (), {}),
      ("Flatten", (), {}), ("LazyLinear", (3,), {})], (2, 3, 5, 5)),
    ([("LazyConv1d", (6, 2), {"groups": 2}), ("LazyInstanceNorm1d", (), {"affine": True}),
      ("LazyConvTranspose1d", (4, 3), {"stride": 2})], (2, 4, 9)),
    ([("LazyConvTranspose2d", (3, 2), {}), ("LazyBatchNorm2d", (), {"affine": False})],
     (1, 2, 4, 4)),
    ([("LazyConv3d", (2, 2), {}), ("LazyBatchNorm3d", (), {})], (2, 1, 3, 3, 3)),
]


@pytest.mark.parametrize("layers,shape", CASES)
def test_lazy_layers_match_torch(torch, layers, shape):
    mine, theirs = _build(ember, layers), _build(torch, layers)
    assert repr(mine) == repr(theirs)
    assert list(mine.state_dict()) == list(theirs.state_dict())
    values = np.random.default_rng(0).standard_normal(shape).astype("float32")
    theirs_out = theirs(torch.tensor(values))
    mine(ember.tensor(values))
    assert repr(mine) == repr(theirs)
    assert [type(m).__name__ for m in mine] == [type(m).__name__ for m in theirs]
    state = theirs.state_dict()
    assert list(mine.state_dict()) == list(state)
    for key, value in mine.state_dict().items():
        assert tuple(value.shape) == tuple(state[key].shape), key
    # From PyTorch's weights (its running statistics already hold the first batch): equal.
    mine.load_state_dict({key: ember.tensor(value.numpy()) for key, value in state.items()})
    mine.eval()
    theirs.eval()
    np.testing.assert_allclose(mine(ember.tensor(values)).detach().numpy(),
                               theirs(torch.tensor(values)).detach().numpy(), rtol=1e-5,
                               atol=1e-5)
    assert theirs_out is not None


def test_lazy_layers_take_their_shapes_from_a_checkpoint(torch):
    layers = CASES[1][0]
    theirs = _build(torch, layers)
    theirs(torch.zeros(2, 3, 5, 5))
    mine = _build(ember, layers)
    mine.load_state_dict({key: ember.tensor(value.numpy())
                          for key, value in theirs.state_dict().items()})
    assert repr(mine) == repr(theirs)
    assert all(type(p).__name__ == "Parameter" for p in mine.parameters())
    values = np.random.default_rng(1).standard_normal((2, 3, 5, 5)).astype("float32")
    mine.eval()
    theirs.eval()
    np.testing.assert_allclose(mine(ember.tensor(values)).detach().numpy(),
                               theirs(torch.tensor(values)).detach().numpy(), rtol=1e-5,
                               atol=1e-5)


def test_lazy_linear_trains_after_its_first_call():
    ember.manual_seed(0)
    layer = ember.nn.LazyLinear(1)
    assert isinstance(layer.weight, ember.nn.UninitializedParameter)
    x = ember.randn(8, 3)
    target = x @ ember.tensor([[1.0], [-2.0], [0.5]])
    layer(x)
    assert type(layer) is ember.nn.Linear and layer.in_features == 3
    assert abs(layer.weight.detach().numpy()).max() <= 1 / np.sqrt(3)
    optimizer = ember.optim.SGD(layer.parameters(), lr=0.1)
    for _ in range(200):
        loss = ((layer(x) - target) ** 2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    np.testing.assert_allclose(layer.weight.detach().numpy(), [[1.0, -2.0, 0.5]], atol=1e-3)
    with pytest.raises(ValueError, match="divisible by groups"):
        ember.nn.LazyConv2d(4, 3, groups=2)(ember.ones(1, 3, 5, 5))


def test_uninitialized_shape_raises_as_torch(torch):
    """An uninitialised weight's shape is refused with PyTorch's RuntimeError, not reported as
    the placeholder's (0,)."""
    for module in (ember, torch):
        layer = module.nn.LazyBatchNorm1d()
        for tensor in (layer.weight, layer.running_mean):
            with pytest.raises(RuntimeError, match="Can't access the shape of an uninitialized"):
                tensor.shape
        layer(module.ones(2, 3))
        assert tuple(layer.weight.shape) == (3,) and tuple(layer.running_mean.shape) == (3,)
