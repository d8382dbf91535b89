"""Tensor basics: factories, dtypes, printing in PyTorch's form, conversions, errors."""
import copy

import numpy as np
import pytest

import ember


# ---- factories and dtypes -----------------------------------------------------------------------
def test_default_dtypes_follow_pytorch():
    assert ember.tensor([1.0, 2.0]).dtype is ember.float32
    assert ember.tensor([1, 2]).dtype is ember.int64
    assert ember.tensor([True]).dtype is ember.bool
    assert ember.tensor([1, 2.5]).dtype is ember.float32
    assert ember.tensor(3).dtype is ember.int64 and ember.tensor(3).shape == ()
    assert ember.zeros(2).dtype is ember.float32
    assert ember.arange(3).dtype is ember.int64
    assert ember.arange(0, 1, 0.5).dtype is ember.float32
    assert ember.full((2,), 7).dtype is ember.int64
    assert ember.full((2,), 7.0).dtype is ember.float32
    assert ember.full((2,), True).dtype is ember.bool
    assert ember.randint(0, 5, (3,)).dtype is ember.int64
    assert ember.randperm(4).dtype is ember.int64
    assert ember.tensor(np.zeros(2, np.float64)).dtype is ember.float64
    assert ember.tensor(np.zeros(2, np.int32)).dtype is ember.int32


def test_dtype_aliases_and_properties():
    assert ember.float is ember.float32 and ember.double is ember.float64
    assert ember.long is ember.int64 and ember.int is ember.int32
    assert repr(ember.float32) == "ember.float32"
    assert ember.float64.is_floating_point and not ember.int64.is_floating_point
    assert ember.float32.itemsize == 4
    for dtype in (ember.float32, ember.float64, ember.int64, ember.int32, ember.bool):
        assert ember.zeros(2, dtype=dtype).dtype is dtype


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


# ---- metadata and conversions -------------------------------------------------------------------
def test_metadata():
    x = ember.zeros(2, 3, 4)
    assert x.shape == (2, 3, 4) and x.size() == (2, 3, 4) and x.size(1) == 3
    assert x.size(-1) == 4
    assert repr(x.shape) == "ember.Size([2, 3, 4])"
    assert x.ndim == 3 and x.dim() == 3 and x.numel() == 24
    assert x.device == "cpu"
    assert x.is_leaf and not x.requires_grad and x.grad is None and x.grad_fn is None
    assert x.is_floating_point() and not ember.tensor([1]).is_floating_point()
    assert x.element_size() == 4


def test_item_tolist_numpy_array_len_iter():
    x = ember.tensor([[1.0, 2.0], [3.0, 4.0]])
    assert ember.tensor(2.5).item() == 2.5 and isinstance(ember.tensor(2.5).item(), float)
    assert isinstance(ember.tensor(3).item(), int)
    assert isinstance(ember.tensor(True).item(), bool)
    assert x.tolist() == [[1.0, 2.0], [3.0, 4.0]]
    assert ember.tensor(5).tolist() == 5
    assert isinstance(x.numpy(), np.ndarray) and x.numpy().dtype == np.float32
    assert np.shares_memory(x.numpy(), np.asarray(x))
    assert np.asarray(x, dtype=np.float64).dtype == np.float64
    assert len(x) == 2
    rows = list(x)
    assert len(rows) == 2 and rows[1].tolist() == [3.0, 4.0]
    assert float(ember.tensor([1.5])) == 1.5 and int(ember.tensor(7)) == 7
    assert bool(ember.tensor([1.0])) is True
    assert [10, 20, 30][ember.tensor(1)] == 20


def test_conversion_errors():
    with pytest.raises(RuntimeError, match="elements cannot be converted to Scalar"):
        ember.ones(3).item()
    with pytest.raises(TypeError, match="len\\(\\) of a 0-d tensor"):
        len(ember.tensor(1.0))
    with pytest.raises(TypeError, match="iteration over a 0-d tensor"):
        iter(ember.tensor(1.0))
    with pytest.raises(RuntimeError, match="ambiguous"):
        bool(ember.ones(2))
    with pytest.raises(RuntimeError, match="Use tensor.detach\\(\\).numpy\\(\\) instead"):
        ember.ones(2, requires_grad=True).numpy()
    with pytest.raises(TypeError):
        [1, 2][ember.tensor(1.0)]


def test_to_and_dtype_methods():
    x = ember.tensor([1.5, -2.5])
    assert x.to(ember.float64).dtype is ember.float64
    assert x.double().dtype is ember.float64 and x.long().tolist() == [1, -2]
    assert x.int().dtype is ember.int32 and x.bool().dtype is ember.bool
    assert x.to(ember.float32) is x
    assert x.to(ember.ones(1, dtype=ember.float64)).dtype is ember.float64
    assert x.type() == "ember.FloatTensor"


def test_clone_contiguous_detach():
    x = ember.tensor([1.0, 2.0], requires_grad=True)
    c = x.clone()
    assert c.grad_fn is not None and not np.shares_memory(c.detach().numpy(), x.detach().numpy())
    d = x.detach()
    assert np.shares_memory(d.numpy(), x.detach().numpy())
    m = ember.ones(3, 4).t()
    assert not m.is_contiguous() and m.contiguous().is_contiguous()
    assert ember.ones(2).contiguous().is_contiguous()


def test_deepcopy_of_leaf_copies_data_and_grad():
    x = ember.tensor([1.0, 2.0], requires_grad=True)
    (x * 2).sum().backward()
    y = copy.deepcopy(x)
    assert y.requires_grad and y.grad is not None
    assert not np.shares_memory(y.detach().numpy(), x.detach().numpy())
    with pytest.raises(RuntimeError, match="graph leaves"):
        copy.deepcopy(x * 2)


# ---- printing -----------------------------------------------------------------------------------
REPR_CASES = {
    "float_decimals": lambda fw: fw.tensor([1.5, 2.25, -3.125]),
    "float_integral": lambda fw: fw.tensor([1.0, 2.0]),
    "float_scalar": lambda fw: fw.tensor(3.5),
    "float_scalar_integral": lambda fw: fw.tensor(2.0),
    "float_matrix": lambda fw: fw.tensor([[1.0, 2.5], [-3.0, 4.0]]),
    "float_small": lambda fw: fw.tensor([0.0001, 0.5]),
    "float_large": lambda fw: fw.tensor([1.0e9, 1.0]),
    "float_wide_range": lambda fw: fw.tensor([1000.5, 0.25]),
    "float_nan_inf": lambda fw: fw.tensor([float("nan"), float("inf"), -float("inf"), 1.5]),
    "float_negative_zero_one": lambda fw: fw.tensor([-1.0, 0.0, 1.0]),
    "float64": lambda fw: fw.tensor([1.5, 2.0], dtype=fw.float64),
    "float64_scalar": lambda fw: fw.tensor(1.0, dtype=fw.float64),
    "int": lambda fw: fw.tensor([1, 20, -300]),
    "int_matrix": lambda fw: fw.tensor([[1, 2], [30, 4]]),
    "int_scalar": lambda fw: fw.tensor(7),
    "int32": lambda fw: fw.tensor([1, 2], dtype=fw.int32),
    "bool": lambda fw: fw.tensor([True, False, True]),
    "bool_scalar": lambda fw: fw.tensor(False),
    "requires_grad": lambda fw: fw.tensor([1.0, 2.0], requires_grad=True),
    "requires_grad_float64": lambda fw: fw.tensor([1.5], dtype=fw.float64, requires_grad=True),
    "requires_grad_scalar": lambda fw: fw.tensor(2.5, requires_grad=True),
    "empty": lambda fw: fw.zeros(0),
    "empty_2d": lambda fw: fw.zeros(2, 0),
    "empty_int": lambda fw: fw.zeros(0, dtype=fw.int64),
    "three_dims": lambda fw: fw.arange(12.0).reshape(2, 3, 2),
    "long_row": lambda fw: fw.arange(20.0) / 3,
    "long_int_row": lambda fw: fw.arange(30),
    "summarized": lambda fw: fw.arange(2000.0),
    "summarized_matrix": lambda fw: fw.arange(3000).reshape(30, 100),
    "summarized_float_rows": lambda fw: fw.arange(3000.0).reshape(3, 1000) / 7,
    "summarized_three_dims": lambda fw: fw.arange(2400).reshape(4, 20, 30) - 1200,
    "wrapped_decimals": lambda fw: (fw.arange(25.0) - 12) / 7,
    "linspace": lambda fw: fw.linspace(-1, 1, 25),
    "integral_with_nan": lambda fw: fw.tensor([1.0, float("nan"), 3.0]),
    "only_nonfinite": lambda fw: fw.tensor([float("nan"), float("inf")]),
    "zeros_float": lambda fw: fw.zeros(3),
    "bool_matrix": lambda fw: fw.tensor([[True, False], [False, True]]),
    "int_negative_wide": lambda fw: fw.tensor([-100000, 5]),
    "nested_empty": lambda fw: fw.zeros(2, 0, 3),
}


@pytest.mark.parametrize("name", sorted(REPR_CASES))
def test_repr_matches_torch(name, torch):
    ember_text = repr(REPR_CASES[name](ember)).replace("ember.", "torch.")
    torch_text = repr(REPR_CASES[name](torch))
    assert ember_text == torch_text


def test_repr_of_result_names_its_grad_fn():
    y = ember.tensor([1.0, 2.0], requires_grad=True) * 2
    assert repr(y) == "tensor([2., 4.], grad_fn=<MulBackward0>)"
