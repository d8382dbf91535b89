"""Tensor factories (ember/_factories.py): values, dtypes and errors as torch's; seeded random
factories; logspace and normal."""
import numpy as np
import pytest

import ember
from ops.op_table import BadInputChecks, ValueChecks


@pytest.mark.parametrize("name, make", [
    ("zeros", lambda fw: fw.zeros(2, 3)),
    ("zeros_tuple", lambda fw: fw.zeros((2, 3), dtype=fw.float64)),
    ("ones", lambda fw: fw.ones(4, dtype=fw.int32)),
    ("full", lambda fw: fw.full((2, 2), 1.5)),
    ("arange", lambda fw: fw.arange(5)),
    ("arange_float", lambda fw: fw.arange(0.0, 1.0, 0.25)),
    ("arange_negative_step", lambda fw: fw.arange(5, 0, -2)),
    ("linspace", lambda fw: fw.linspace(0, 1, 5)),
    ("linspace_odd", lambda fw: fw.linspace(-7.1, 3.3, 1001)),
    ("eye", lambda fw: fw.eye(3)),
    ("eye_rectangular", lambda fw: fw.eye(2, 3)),
    ("zeros_like", lambda fw: fw.zeros_like(fw.ones(2, dtype=fw.int32))),
    ("ones_like", lambda fw: fw.ones_like(fw.ones(2, 2))),
    ("full_like", lambda fw: fw.full_like(fw.ones(3), 2.0)),
    ("tensor_nested", lambda fw: fw.tensor([[1, 2], [3, 4]])),
    ("tensor_scalar", lambda fw: fw.tensor(2.5)),
    ("tensor_empty", lambda fw: fw.tensor([])),
])
def test_factories_match_torch(name, make, torch):
    ember_value = make(ember)
    torch_value = make(torch)
    assert str(ember_value.dtype).split(".")[-1] == str(torch_value.dtype).split(".")[-1]
    assert tuple(ember_value.shape) == tuple(torch_value.shape)
    np.testing.assert_allclose(ember_value.numpy(), torch_value.numpy(), rtol=1e-6)


def test_random_factories_are_seeded_and_shaped():
    ember.manual_seed(3)
    first = [ember.rand(2, 3), ember.randn(4), ember.randint(0, 10, (5,)), ember.randperm(6)]
    ember.manual_seed(3)
    second = [ember.rand(2, 3), ember.randn(4), ember.randint(0, 10, (5,)), ember.randperm(6)]
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert first[0].shape == (2, 3) and first[0].dtype is ember.float32
    assert np.all((first[0].numpy() >= 0) & (first[0].numpy() < 1))
    assert sorted(first[3].tolist()) == list(range(6))
    generator = ember.Generator().manual_seed(5)
    again = ember.Generator().manual_seed(5)
    np.testing.assert_array_equal(ember.randn(3, generator=generator).numpy(),
                                  ember.randn(3, generator=again).numpy())


def test_like_factories_keep_shape_and_dtype():
    base = ember.ones(2, 3, dtype=ember.float64)
    for made in (ember.zeros_like(base), ember.ones_like(base), ember.empty_like(base),
                 ember.rand_like(base), ember.randn_like(base), ember.full_like(base, 4.0)):
        assert made.shape == (2, 3) and made.dtype is ember.float64


def test_tensor_copies_and_from_numpy_shares_memory():
    array = np.arange(4, dtype=np.float32)
    copied = ember.tensor(array)
    shared = ember.from_numpy(array)
    as_tensor = ember.as_tensor(array)
    array[0] = 100.0
    assert copied[0].item() == 0.0
    assert shared[0].item() == 100.0
    assert as_tensor[0].item() == 100.0
    shared.add_(1)
    assert array[1] == 2.0
    converted = ember.as_tensor(array, dtype=ember.float64)
    array[2] = -5.0
    assert converted[2].item() == 3.0
    existing = ember.ones(2)
    assert ember.as_tensor(existing) is existing
    assert ember.as_tensor([1, 2]).dtype is ember.int64


def test_factory_errors():
    with pytest.raises(RuntimeError, match="negative dimension"):
        ember.zeros(-1)
    with pytest.raises(TypeError):
        ember.from_numpy([1, 2])
    with pytest.raises(TypeError):
        ember.tensor(np.zeros(2, dtype=np.complex64))
    with pytest.raises(RuntimeError, match="only Tensors of floating point"):
        ember.tensor([1, 2], requires_grad=True)
    with pytest.raises(RuntimeError):
        ember.arange(0, 5, 0)
    with pytest.raises(RuntimeError):
        ember.zeros(2, device="cuda")


def test_factory_errors_match_torch(torch):
    cases = [lambda fw: fw.zeros(-1), lambda fw: fw.tensor([1, 2], requires_grad=True),
             lambda fw: fw.arange(0, 5, 0), lambda fw: fw.tensor([[1, 2], [3]]),
             lambda fw: fw.randint(5, 2, (3,)), lambda fw: fw.ones(2).item(),
             lambda fw: fw.tensor("abc")]
    for case in cases:
        with pytest.raises(Exception) as torch_error:
            case(torch)
        with pytest.raises(Exception) as ember_error:
            case(ember)
        assert issubclass(ember_error.type, torch_error.type.__mro__[-3]) or \
            ember_error.type is torch_error.type, (ember_error.value, torch_error.value)


BAD_INPUTS = {
    "normal_negative_std": lambda fw: fw.normal(0.0, -1.0, size=(2,)),
}


VALUES = {
    "logspace": lambda fw: (fw.logspace(0, 2, 3), fw.logspace(-1, 1, 5, base=2.0),
                            fw.logspace(0, 3, 4, dtype=fw.float64)),
}


class TestFactories(BadInputChecks, ValueChecks):
    """The op-table checks of every entry above."""


def test_normal_shapes_dtypes_and_statistics():
    ember.manual_seed(1)
    samples = ember.normal(2.0, 3.0, size=(20000,))
    assert samples.dtype is ember.float32 and samples.shape == (20000,)
    assert abs(samples.mean().item() - 2.0) < 0.1 and abs(samples.std().item() - 3.0) < 0.1
    means = ember.zeros(2, 3, dtype=ember.float64)
    assert ember.normal(means, ember.ones(3, dtype=ember.float64)).shape == (2, 3)
    assert ember.normal(means, 0.0).abs().max().item() == 0.0
    ember.manual_seed(1)
    np.testing.assert_array_equal(ember.normal(2.0, 3.0, size=(20000,)).numpy(), samples.numpy())
