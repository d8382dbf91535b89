"""Tensor factories (ember/_factories.py): values, dtypes and errors as torch's; seeded random
factories; logspace and normal."""
import array
import collections
import warnings

import numpy as np
import pytest

import ember
from ember.tensor import _warned_once
from tests.conftest import assert_raises_like_torch
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
    with pytest.raises(RuntimeError, match="zeros: Dimension size must be non-negative"):
        ember.zeros(-1)
    with pytest.raises(RuntimeError, match="negative dimension -1"):
        ember.ones(2, -1)
    with pytest.raises(TypeError):
        ember.from_numpy([1, 2])
    with pytest.raises(TypeError):
        ember.tensor(np.zeros(2, dtype=np.complex256))
    with pytest.raises(RuntimeError, match="Only Tensors of floating point and complex dtype"):
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
    "normal_no_size": lambda fw: fw.normal(0.0, 1.0),
    "normal_float_size": lambda fw: fw.normal(0.0, 1.0, (2.5,)),
    "normal_str_mean": lambda fw: fw.normal("a", 1.0, (2,)),
    "normal_shapes": lambda fw: fw.normal(fw.zeros(2), fw.ones(3)),
    "normal_integer_mean": lambda fw: fw.normal(fw.zeros(2, dtype=fw.int64), 1.0),
    "tensor_none": lambda fw: fw.tensor(None),
    "tensor_set": lambda fw: fw.tensor({1, 2}),
    "tensor_overflow_int64": lambda fw: fw.tensor([2 ** 63]),
    "tensor_uint8_overflow": lambda fw: fw.tensor([1, 300], dtype=fw.uint8),
    "tensor_str_dtype": lambda fw: fw.tensor([1, 2], dtype="float32"),
    "as_tensor_ragged": lambda fw: fw.as_tensor([[1], [2, 3]]),
    "from_numpy_objects": lambda fw: fw.from_numpy(np.array([1], dtype=object)),
    "bernoulli_integer": lambda fw: fw.bernoulli(fw.tensor([1, 0])),
    "bernoulli_probability": lambda fw: fw.bernoulli(fw.tensor([1.5])),
    "multinomial_negative": lambda fw: fw.multinomial(fw.tensor([1.0, -1.0]), 1),
    "multinomial_too_many": lambda fw: fw.multinomial(fw.tensor([1.0, 1.0]), 3),
    "multinomial_scalar": lambda fw: fw.multinomial(fw.tensor(1.0), 1),
    "multinomial_3d": lambda fw: fw.multinomial(fw.ones(2, 2, 2), 1),
    # pre-0.4 policy gradients (pytorch/examples' old actor_critic.py): probs.multinomial()
    "multinomial_no_count": lambda fw: fw.multinomial(fw.ones(2)),
    "multinomial_method_no_count": lambda fw: fw.ones(1, 2).multinomial(),
    "multinomial_none_count": lambda fw: fw.multinomial(fw.ones(2), None),
    "multinomial_float_count": lambda fw: fw.multinomial(fw.ones(2), 2.0),
    "multinomial_bool_count": lambda fw: fw.multinomial(fw.ones(2), True),
    "randint_like_bounds": lambda fw: fw.randint_like(fw.ones(2), 5, 2),
    "randint_like_no_bound": lambda fw: fw.randint_like(fw.ones(2)),
    "full_like_str": lambda fw: fw.full_like(fw.ones(2), "a"),
    "full_like_overflow": lambda fw: fw.full_like(fw.ones(2, dtype=fw.uint8), 300),
    "rand_like_integer": lambda fw: fw.rand_like(fw.ones(2, dtype=fw.int64)),
    "randn_like_integer": lambda fw: fw.randn_like(fw.ones(2), dtype=fw.int64),
}

# PyTorch's argument-parser texts, which Python's own TypeError words differently
MESSAGES = {
    "multinomial_no_count": 'multinomial() missing 1 required positional arguments: "num_samples"',
    "multinomial_method_no_count":
        'multinomial() missing 1 required positional arguments: "num_samples"',
    "multinomial_none_count":
        "multinomial(): argument 'num_samples' (position 2) must be int, not NoneType",
    "multinomial_float_count": "argument 'num_samples' (position 2) must be int, not float",
}


VALUES = {
    "logspace": lambda fw: (fw.logspace(0, 2, 3), fw.logspace(-1, 1, 5, base=2.0),
                            fw.logspace(0, 3, 4, dtype=fw.float64)),
    # PyHessian's Rademacher probes: randint_like(p, high=2)
    "randint_like_keywords": lambda fw: (fw.manual_seed(0), fw.randint_like(fw.zeros(2, 3), high=2),
                                         fw.randint_like(fw.zeros(4), low=1, high=3),
                                         fw.randint_like(fw.zeros(3, dtype=fw.int32), 5))[1:],
    "multinomial_integer_like_counts": lambda fw: (
        fw.multinomial(fw.ones(3), np.int64(2)).shape, fw.multinomial(fw.ones(3), fw.tensor(2)).shape),
}


class TestFactories(BadInputChecks, ValueChecks):
    """The op-table checks of every entry above."""


def test_multinomial_without_replacement_past_the_nonzero_categories_like_torch(torch):
    """PyTorch draws every category of nonzero probability first, then ones of probability 0."""
    weights = [[0.0, 1.0, 0.0, 0.0], [0.0, 0.5, 0.0, 0.5]]
    for fw in (torch, ember):
        picks = fw.multinomial(fw.tensor(weights), 3).numpy()
        assert picks.shape == (2, 3) and picks.dtype == np.int64
        assert picks[0, 0] == 1 and sorted(picks[1, :2]) == [1, 3]
        for row in picks:
            assert len(set(row.tolist())) == 3


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


# ---- bad arguments: torch's exception type and message (issue 13) ------------------------------
ERRORS = {
    # sizes
    **{f"{name}({arguments})": f"fw.{name}({arguments})"
       for name in ("zeros", "ones", "empty", "rand", "randn")
       for arguments in ("2.9", "'a'", "(2, 2.5)", "None", "True", "torch_tensor(2.)",
                         "(2,), 3" if name in ("zeros", "ones", "empty") else "2, (3,)",
                         "2, size=(2,)", "2, dtype='float32'", "2, 3.0",
                         "2, requires_grad=1" if name in ("zeros", "ones", "empty") else "-1",
                         "[2, -1]")},
    "zeros(-1)": "fw.zeros(-1)",
    "rand(int64)": "fw.rand(2, dtype=fw.int64)",
    "randn(int64)": "fw.randn(2, dtype=fw.int64)",
    "rand(bool)": "fw.rand(2, dtype=fw.bool)",
    # full
    "full(str)": "fw.full((2,), 'x')",
    "full(None)": "fw.full((2,), None)",
    "full(list)": "fw.full((2,), [1])",
    "full(float size)": "fw.full(2.5, 1)",
    "full(int size)": "fw.full(2, 1)",
    "full(float in size)": "fw.full([2.5], 1)",
    "full(1-d tensor)": "fw.full((2,), torch_tensor([1.5]))",
    "full(float overflow)": "fw.full((2,), 1e40, dtype=fw.float32)",
    "full(uint8 overflow)": "fw.full((2,), 300, dtype=fw.uint8)",
    "full(int64 overflow)": "fw.full((2,), 2 ** 63)",
    "full(nan int)": "fw.full((2,), float('nan'), dtype=fw.int64)",
    "full(float16 overflow)": "fw.full((2,), 70000.0, dtype=fw.float16)",
    # ranges
    "arange(str)": "fw.arange('a')",
    "arange(None)": "fw.arange(None)",
    "arange(step 0)": "fw.arange(0, 10, 0.0)",
    "arange(inf)": "fw.arange(float('inf'))",
    "arange(nan)": "fw.arange(0, float('nan'))",
    "arange(bool)": "fw.arange(10, dtype=fw.bool)",
    "arange(sign)": "fw.arange(1, 0)",
    "arange(1-d tensor)": "fw.arange(torch_tensor([3]))",
    "arange(huge)": "fw.arange(2 ** 70)",
    "linspace(negative)": "fw.linspace(0, 1, -1)",
    "linspace(1-d start)": "fw.linspace(torch_tensor([0.0, 1.0]), 1, 3)",
    "logspace(negative)": "fw.logspace(0, 1, -1)",
    "eye(negative)": "fw.eye(-1)",
    "eye(negative m)": "fw.eye(2, -1)",
    "eye(float)": "fw.eye(2.5)",
    "eye(str)": "fw.eye('a')",
    # random integers
    "randint(float size)": "fw.randint(10, (2.5,))",
    "randint(int size)": "fw.randint(0, 10)",
    "randint(order)": "fw.randint(5, 2, (3,))",
    "randint(bool)": "fw.randint(0, 10, (2,), dtype=fw.bool)",
    "randint(uint8 high)": "fw.randint(0, 300, (2,), dtype=fw.uint8)",
    "randint(uint8 low)": "fw.randint(-1, 3, (2,), dtype=fw.uint8)",
    "randint(str)": "fw.randint('a', (2,))",
    "randint(huge)": "fw.randint(0, 2 ** 70, (2,))",
    "randint(negative)": "fw.randint(0, 10, [2, -1])",
    "randperm(negative)": "fw.randperm(-1)",
    "randperm(float)": "fw.randperm(2.5)",
    "randperm(bool)": "fw.randperm(3, dtype=fw.bool)",
    # like factories
    **{f"{name}({argument})": f"fw.{name}({argument})"
       for name in ("zeros_like", "ones_like", "empty_like", "rand_like", "randn_like")
       for argument in ("3", "[1, 2]", "None", "np.zeros(2)")},
    "full_like(None)": "fw.full_like(fw.ones(2), None)",
    "full_like(int)": "fw.full_like(3, 1)",
    # data
    "tensor(str)": "fw.tensor('abc')",
    "tensor(str in list)": "fw.tensor([1, 'a'])",
    "tensor(str list)": "fw.tensor(['a'])",
    "tensor(ragged)": "fw.tensor([[1], [2, 3]])",
    "tensor(ragged deeper)": "fw.tensor([[[1]], [[2, 3]]])",
    "tensor(not a sequence)": "fw.tensor([[1, 2], 3])",
    "tensor(list where int)": "fw.tensor([1, [2, 3]])",
    "tensor(list where float)": "fw.tensor([1.0, [2]])",
    "tensor(None in list)": "fw.tensor([1, None])",
    "tensor(dict)": "fw.tensor({'a': 1})",
    "tensor(generator)": "fw.tensor(value for value in range(3))",
    "tensor(dict keys)": "fw.tensor({1: 2}.keys())",
    "tensor(object)": "fw.tensor(object())",
    "tensor(bytes)": "fw.tensor(b'ab')",
    "tensor(tensors)": "fw.tensor([torch_tensor([1.0, 2.0]), torch_tensor([3.0, 4.0])])",
    "tensor(int tensors)": "fw.tensor([torch_tensor([1, 2])])",
    "tensor(float tensor as int)": "fw.tensor([torch_tensor(1.0)], dtype=fw.int64)",
    "tensor(uint8 float)": "fw.tensor([-1.5], dtype=fw.uint8)",
    "tensor(int32)": "fw.tensor([2 ** 31], dtype=fw.int32)",
    "tensor(int64 float)": "fw.tensor([1e19], dtype=fw.int64)",
    "tensor(str as float)": "fw.tensor([1, 'a'], dtype=fw.float32)",
    "tensor(object array)": "fw.tensor(np.array([1, 2], dtype=object))",
    "as_tensor(None)": "fw.as_tensor(None)",
}


class _Rows:
    """A user sequence: only ``__len__`` and ``__getitem__``, which torch.tensor accepts."""

    def __init__(self, rows):
        self.rows = rows

    def __len__(self):
        return len(self.rows)

    def __getitem__(self, index):
        return self.rows[index]


def _evaluate(source, fw, torch):
    with_tensors = {"fw": fw, "np": np, "torch_tensor": fw.tensor, "collections": collections,
                    "array": array, "Rows": _Rows}
    return eval(source, with_tensors)


@pytest.mark.parametrize("name", sorted(ERRORS))
def test_bad_arguments_raise_torchs_error(name, torch):
    source = ERRORS[name]
    with pytest.raises(Exception) as theirs:
        _evaluate(source, torch, torch)
    with pytest.raises(Exception) as ours:
        _evaluate(source, ember, torch)
    assert type(ours.value) is type(theirs.value)
    expected = str(theirs.value)
    if "invalid combination of arguments" in expected:  # torch lists its overloads; ember
        return  # names the argument instead
    assert str(ours.value) == expected.replace("torch.", "ember.") \
        .replace("ember.dtype", "torch.dtype"), source


# ---- values (issue 10: size=, Python types as dtypes, legacy constructors) ---------------------
VALUE_CASES = {
    "zeros(size=)": "fw.zeros(size=(2, 3))",
    "ones(size=)": "fw.ones(size=[2])",
    "empty(size=) shape": "fw.empty(size=(2, 3)).shape",
    "rand(size=) shape": "fw.rand(size=(2, 3)).shape",
    "randn(size=) shape": "fw.randn(size=(4,)).shape",
    "zeros(numpy int)": "fw.zeros(np.int64(2))",
    "zeros(int tensor)": "fw.zeros(torch_tensor(2))",
    "zeros(Size)": "fw.zeros(fw.Size([2, 1]))",
    "zeros(())": "fw.zeros(())",
    "zeros(float)": "fw.zeros(2, dtype=float)",
    "zeros(int)": "fw.zeros(2, dtype=int)",
    "zeros(bool)": "fw.zeros(2, dtype=bool)",
    "full(size=)": "fw.full(size=(2,), fill_value=3)",
    "full(bool)": "fw.full((2,), True)",
    "full(float to int)": "fw.full((2,), 1.5, dtype=fw.int64)",
    "full(negative uint8)": "fw.full((2,), -1, dtype=fw.uint8)",
    "full(0-d tensor)": "fw.full((2,), torch_tensor(1.5))",
    "full(numpy float32)": "fw.full((2,), np.float32(1.5))",
    "full(numpy int32)": "fw.full((2,), np.int32(3))",
    "full(inf)": "fw.full((2,), float('inf'), dtype=fw.float16)",
    "arange(tensor)": "fw.arange(torch_tensor(3))",
    "arange(keywords)": "fw.arange(start=1, end=4)",
    "linspace(int64)": "fw.linspace(0, 1, 3, dtype=fw.int64)",
    "linspace(tensor steps)": "fw.linspace(0, 1, torch_tensor(3))",
    "eye(tensor)": "fw.eye(torch_tensor(2))",
    "eye(bool)": "fw.eye(2, dtype=fw.bool)",
    "randint(size=) shape": "fw.randint(10, size=(2,)).shape",
    "randint(float dtype) dtype": "fw.randint(0, 10, (2,), dtype=fw.float32).dtype",
    "randperm(float) sorted": "fw.randperm(3, dtype=fw.float32).sort()[0]",
    "tensor(mixed)": "fw.tensor([1, 2.5])",
    "tensor(bool and int)": "fw.tensor([True, 1])",
    "tensor(bool and float)": "fw.tensor([True, 1.5])",
    "tensor(numpy float64)": "fw.tensor([np.float64(1), 2])",
    "tensor(numpy float32)": "fw.tensor([np.float32(1), 2])",
    "tensor(numpy int32)": "fw.tensor([np.int32(1)])",
    "tensor(numpy int32 and int)": "fw.tensor([np.int32(1), 2])",
    "tensor(0-d tensors)": "fw.tensor([torch_tensor(1), 2.5])",
    "tensor(tensor as dimension)": "fw.tensor([[1], torch_tensor([2])])",
    "tensor(arrays)": "fw.tensor([np.array([1, 2]), np.array([1.5, 2])])",
    "tensor(range)": "fw.tensor(range(3))",
    "tensor(bytearray)": "fw.tensor(bytearray(b'ab'))",
    "tensor(empty nested)": "fw.tensor([[]])",
    "tensor(huge float)": "fw.tensor([1e40])",
    "tensor(uint8 wraps)": "fw.tensor([-1, -200], dtype=fw.uint8)",
    "tensor(float to int64)": "fw.tensor([1.7, -2.7], dtype=fw.int64)",
    "tensor(float to bool)": "fw.tensor([1.5, 0], dtype=fw.bool)",
    "tensor(float16 inf)": "fw.tensor([1e300], dtype=fw.float16)",
    "tensor(dtype=float)": "fw.tensor([1, 2], dtype=float)",
    "tensor(deque)": "fw.tensor(collections.deque([1.0, 2.5]))",
    "tensor(empty deque)": "fw.tensor(collections.deque())",
    "tensor(list of deques)": "fw.tensor([collections.deque([1, 2]), collections.deque([3, 4])])",
    "tensor(deque of 0-d tensors)": "fw.tensor(collections.deque([torch_tensor(1.5), 2]))",
    "tensor(deque, dtype)": "fw.tensor(collections.deque([1, 2]), dtype=fw.float64)",
    "as_tensor(deque)": "fw.as_tensor(collections.deque([1, 2]))",
    "tensor(UserList)": "fw.tensor(collections.UserList([1, 2]))",
    "tensor(array of doubles)": "fw.tensor(array.array('d', [1.0, 2.5]))",
    "tensor(array of ints)": "fw.tensor(array.array('i', [1, 2]))",
    "tensor(memoryview)": "fw.tensor(memoryview(b'ab'))",
    "tensor(class with __len__ and __getitem__)": "fw.tensor(Rows([[1, 2.5], [3, 4]]))",
}


@pytest.mark.parametrize("name", sorted(VALUE_CASES))
def test_values_and_dtypes_like_torch(name, torch):
    ours = _evaluate(VALUE_CASES[name], ember, torch)
    theirs = _evaluate(VALUE_CASES[name], torch, torch)
    if isinstance(theirs, torch.Tensor):
        assert str(ours.dtype).split(".")[-1] == str(theirs.dtype).split(".")[-1]
        assert ours.tolist() == theirs.tolist()
    elif isinstance(theirs, torch.dtype):
        assert str(ours).split(".")[-1] == str(theirs).split(".")[-1]
    else:
        assert tuple(ours) == tuple(theirs)


def test_out_writes_into_the_given_tensor():
    out = ember.empty(2, 3)
    result = ember.zeros(2, 3, out=out)
    assert result is out and out.tolist() == [[0.0] * 3] * 2
    ember.arange(4, out=out)
    assert out.shape == (4,) and out.dtype is ember.float32 and out.tolist() == [0, 1, 2, 3]
    integers = ember.zeros(0, dtype=ember.int64)
    ember.full((2,), 7, out=integers)
    assert integers.tolist() == [7, 7]
    with pytest.warns(UserWarning, match="was resized"):
        ember.ones(3, out=integers)
    with pytest.raises(RuntimeError, match="don't support automatic differentiation"):
        ember.zeros(2, out=ember.zeros(2, requires_grad=True))


def test_legacy_constructors_like_torch(torch):
    for source in ("T()", "T(16)", "T(3, 4)", "T(0)", "T([1, 2])", "T([[1, 2], [3, 4]])",
                   "T((1, 2))", "T([])", "T(fw.Size([2, 3]))", "T(np.int64(3))",
                   "T(np.array([1, 2]))", "T(np.array(3.0))", "T(range(3))",
                   "T(collections.deque([1, 2]))", "T(2, device='cpu')",
                   "fw.FloatTensor(2, 3)", "fw.LongTensor([1.7, -2.7])", "fw.LongTensor(3)",
                   "fw.DoubleTensor([1])", "fw.IntTensor([1])", "fw.BoolTensor([1, 0])",
                   "fw.ByteTensor([1, -1])", "fw.HalfTensor([1.5])", "fw.CharTensor([1])",
                   "fw.ShortTensor([1])", "fw.LongTensor(fw.Size([2, 3]))",
                   "fw.LongTensor((2, 3))", "fw.FloatTensor(np.array([1, 2]))",
                   "T(torch_tensor([1, 2]))", "fw.ones(2).new(2, 3)", "fw.ones(2).new([1, 2])",
                   "fw.ones(2).new()", "fw.ones(2).type(fw.LongTensor)",
                   "fw.ones(2).type('torch.IntTensor')", "fw.ones(2).type(fw.int32)",
                   "fw.ones(2, dtype=fw.float64).type(T)",
                   "fw.ones(2, dtype=fw.int64).type('torch.Tensor')"):
        theirs = eval(source, {"fw": torch, "T": torch.Tensor, "np": np,
                               "torch_tensor": torch.tensor, "collections": collections})
        ours = eval(source, {"fw": ember, "T": ember.Tensor, "np": np,
                             "torch_tensor": ember.tensor, "collections": collections})
        assert str(ours.dtype).split(".")[-1] == str(theirs.dtype).split(".")[-1], source
        assert tuple(ours.shape) == tuple(theirs.shape), source
        if theirs.numel() and not source.startswith(("T(1", "T(3", "T(0", "T(fw.Size", "T(np.int",
                                                     "T(2,", "fw.FloatTensor(2",
                                                     "fw.LongTensor(3", "fw.LongTensor(fw",
                                                     "fw.ones(2).new(2")):
            assert ours.tolist() == theirs.tolist(), source


def test_sizes_give_zeros_where_torch_leaves_memory_uninitialised():
    assert ember.Tensor(16).tolist() == [0.0] * 16
    assert ember.LongTensor(2, 2).tolist() == [[0, 0], [0, 0]]
    assert ember.empty(3).tolist() == [0.0, 0.0, 0.0]


@pytest.mark.parametrize("source", [
    "T(2.5)", "T(-1)", "T(2, 3.0)", "T(True)", "T([1, 2], requires_grad=True)",
    "T(2, dtype=fw.float64)", "T([1, 'a'])", "T([[1], [2, 3]])", "T('abc')", "T(None)",
    "T(3, [2])", "T(2, device='cuda')", "fw.ByteTensor([1, 300])",
    "fw.LongTensor(fw.ones(2))", "fw.ones(2).type('foo')", "fw.ones(2).type('x.Foo')",
    "fw.ones(2).type(fw.nn.Parameter)", "fw.ones(2).type(int)"])
def test_legacy_constructor_errors_like_torch(torch, source):
    with pytest.raises(Exception) as theirs:
        eval(source, {"fw": torch, "T": torch.Tensor})
    with pytest.raises(Exception) as ours:
        eval(source, {"fw": ember, "T": ember.Tensor})
    assert type(ours.value) is type(theirs.value)
    first_line = str(theirs.value).splitlines()[0]
    assert str(ours.value).splitlines()[0] == first_line.replace("torch.", "ember.") or \
        "invalid combination" in first_line


def test_type_of_the_tensor_class_follows_the_default_dtype(torch):
    """``x.type(torch.Tensor)`` (PyTorch-GAN's ``Tensor = torch.Tensor`` on the CPU) converts to
    the default dtype, whichever it is."""
    for framework in (torch, ember):
        previous = framework.get_default_dtype()
        try:
            framework.set_default_dtype(framework.float64)
            converted = framework.ones(2, dtype=framework.int32).type(framework.Tensor)
        finally:
            framework.set_default_dtype(previous)
        assert str(converted.dtype).split(".")[-1] == "float64"
        assert converted.tolist() == [1.0, 1.0]


def test_tensor_types_answer_isinstance_as_torch(torch):
    for name in ("FloatTensor", "LongTensor", "DoubleTensor", "IntTensor", "BoolTensor",
                 "ByteTensor", "HalfTensor"):
        for value in ("fw.ones(2)", "fw.ones(2, dtype=fw.int64)", "fw.nn.Parameter(fw.ones(2))",
                      "3", "[1.0]"):
            expected = isinstance(eval(value, {"fw": torch}), getattr(torch, name))
            assert isinstance(eval(value, {"fw": ember}), getattr(ember, name)) is expected, \
                (name, value)
        assert not issubclass(getattr(ember, name), ember.Tensor)
        assert getattr(ember, name).dtype is getattr(ember, str(getattr(torch, name).dtype)[6:])
    assert type(ember.FloatTensor(2)) is ember.Tensor
    assert repr(ember.LongTensor) == "<class 'ember.LongTensor'>"


def test_tensor_of_a_tensor_is_a_differentiable_alias():
    leaf = ember.ones(2, requires_grad=True)
    alias = ember.Tensor(leaf)
    assert alias.requires_grad and alias.grad_fn is not None
    (alias * 3).sum().backward()
    assert leaf.grad.tolist() == [3.0, 3.0]
    alias.data[0] = 5.0
    assert leaf.tolist()[0] == 5.0


def test_read_only_numpy_warning_points_at_the_caller(torch):
    """from_numpy of a read-only array warns once, at the caller's line, as PyTorch does."""
    array = np.zeros(3)
    array.flags.writeable = False
    _warned_once.clear()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ember.from_numpy(array)
        ember.from_numpy(array)
    assert len(caught) == 1 and caught[0].filename == __file__
    assert str(caught[0].message).startswith("The given NumPy array is not writable")


def test_set_default_tensor_type(torch):
    """Its deprecation warning shows once a process, as PyTorch's."""
    _warned_once.clear()
    with pytest.warns(UserWarning, match="deprecated"):
        ember.set_default_tensor_type(ember.DoubleTensor)
    try:
        assert ember.get_default_dtype() is ember.float64
        assert ember.Tensor([1]).dtype is ember.float64
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            ember.set_default_tensor_type("torch.FloatTensor")
        assert ember.get_default_dtype() is ember.float32
        with pytest.raises(TypeError, match="only floating-point types"):
            ember.set_default_tensor_type(ember.LongTensor)
    finally:
        ember.set_default_dtype(ember.float32)


def test_tensor_of_a_tensor_warns_as_torch(torch):
    """torch.tensor(t) copies with a UserWarning every call (torch.as_tensor and a list of
    tensors do not warn)."""
    for fw in (torch, ember):
        with pytest.warns(UserWarning, match=r"To copy construct from a tensor, it is "
                                             r"recommended to use sourceTensor.detach\(\).clone"):
            copied = fw.tensor(fw.ones(2, requires_grad=True))
        assert not copied.requires_grad
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            fw.as_tensor(fw.ones(2))
            fw.tensor([fw.ones(()), fw.zeros(())])


def test_size_keyword_of_new_factories():
    base = ember.ones(2, dtype=ember.int32)
    for made in (base.new_zeros(size=(2, 3)), base.new_ones((2, 3)), base.new_empty(2, 3)):
        assert made.shape == (2, 3) and made.dtype is ember.int32
    assert base.new_empty(size=[4]).tolist() == [0, 0, 0, 0]


def _without_size(fw):
    """Each size-first factory and ``new_*`` method called with no size at all."""
    base = fw.ones(2)
    calls = {"zeros": fw.zeros, "ones": fw.ones, "empty": fw.empty, "rand": fw.rand,
             "randn": fw.randn, "new_zeros": base.new_zeros, "new_ones": base.new_ones,
             "new_empty": base.new_empty, "resize_": base.clone().resize_}
    outcomes = {}
    for name, call in calls.items():
        with pytest.raises(TypeError) as error:
            call()
        outcomes[name] = str(error.value)
    return outcomes


def test_size_is_required_as_in_torch(torch):
    """zeros() is an error in PyTorch (the 0-d shape is spelled zeros(()) or zeros([])); ember
    had returned a 0-d tensor."""
    assert _without_size(ember) == _without_size(torch)
    for made in (ember.zeros(()), ember.ones([]), ember.randn(size=())):
        assert made.shape == ()


def test_multinomial_frequencies_follow_the_weights():
    weights = ember.tensor([0.1, 0.6, 0.0, 0.3])
    picks = ember.multinomial(weights, 20000, replacement=True,
                              generator=ember.Generator().manual_seed(3)).numpy()
    frequencies = np.bincount(picks, minlength=4) / picks.size
    np.testing.assert_allclose(frequencies, [0.1, 0.6, 0.0, 0.3], atol=0.015)
    singles = [ember.multinomial(weights, 1, generator=ember.Generator().manual_seed(seed))
               .item() for seed in range(600)]
    assert 2 not in singles
    assert abs(singles.count(1) / 600 - 0.6) < 0.07


@pytest.mark.parametrize("start, end, step", [
    (-8.0, 8.0, 0.1), (-1.0, 1.0, 0.01), (0, 3, 0.07), (2.5, -3.1, -0.17), (0.1, 7.3, 0.011),
    (-5, 5, 0.13), (0, 1, 0.1), (3, 40.5, 1.5)])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_fractional_arange_is_bitwise_torch(torch, start, end, step, dtype):
    """Each value rounds as PyTorch's vectorised kernel rounds it: arange(-8., 8., 0.1)[80] is
    4.4e-16, not 0 (so relu's gradient there is 1, as d2l's plot shows)."""
    mine = ember.arange(start, end, step, dtype=getattr(ember, dtype)).numpy()
    theirs = torch.arange(start, end, step, dtype=getattr(torch, dtype)).numpy()
    assert mine.dtype == theirs.dtype
    np.testing.assert_array_equal(mine, theirs)


@pytest.mark.parametrize("arguments, dtype", [
    ((-2.7, 5.3, 1.37), "int64"), ((2.7, 9.3, 1.6), "int64"), ((-2.7, 9.3, 2.9), "int32"),
    ((0, 10.5, 2), "int64"), ((1.5, 10), "int64"), ((-3.5, 3, 1), "uint8"),
    ((-0.9, -5, -1.5), "int64"), ((-0.9, -5, -1.5), "int8"), ((5.5,), "int64"),
    ((5.5,), "int32"), ((0, 5, 0.37), "int32"), ((3.2, 3.9, 1), "int64"), ((3.2, 3.9, 1), "int32"),
    ((0, 5, 0.37), "int64"),
])
def test_integer_arange_of_floats_like_torch(torch, arguments, dtype):
    """An integer arange given floats truncates start and step to integers (int64 the end too,
    counting in integers); a step that truncates to 0 is int64's ValueError."""
    def make(fw):
        return fw.arange(*arguments, dtype=getattr(fw, dtype))

    try:
        theirs = make(torch)
    except ValueError:
        assert_raises_like_torch(lambda: make(torch), lambda: make(ember), ValueError,
                                 same_type=True)
        return
    mine = make(ember)
    assert str(mine.dtype).split(".")[-1] == dtype
    np.testing.assert_array_equal(mine.numpy(), theirs.numpy())


@pytest.mark.parametrize("make", [
    lambda lib, array: lib.from_numpy(array),
    lambda lib, array: lib.tensor(array),
    lambda lib, array: lib.tensor(array, dtype=lib.float32),
    lambda lib, array: lib.as_tensor(array),
    lambda lib, array: lib.asarray(array),
    lambda lib, array: lib.Tensor(array),
    lambda lib, array: lib.FloatTensor(array),
])
def test_numpy_arrays_with_negative_strides_are_refused_like_torch(torch, make):
    """PyTorch refuses ``a[::-1]`` (the reason diffusers writes ``.copy()``); a list of its
    rows is taken."""
    flipped = np.arange(6.0).reshape(2, 3)[:, ::-1]
    with pytest.raises(ValueError) as expected:
        make(torch, flipped)
    with pytest.raises(ValueError) as raised:
        make(ember, flipped)
    assert str(raised.value) == str(expected.value)
    copied = make(ember, flipped.copy())
    assert copied.tolist() == make(torch, flipped.copy()).tolist()
    assert ember.tensor([flipped[0], flipped[1]]).tolist() == [[2.0, 1.0, 0.0], [5.0, 4.0, 3.0]]


def test_from_numpy_lists_the_complex_dtypes_it_takes():
    with pytest.raises(TypeError, match="float16, complex64, complex128, int64"):
        ember.from_numpy(np.array(["a", "b"]))
    assert ember.from_numpy(np.ones(2, np.complex64)).dtype == ember.complex64


_BAD_WEIGHTS = [[[0.2, np.nan, 0.3]], [[0.2, np.inf, 0.3]], [[0.2, -0.1, 1.0]], [[0.0, 0.0, 0.0]],
                [[0.5, 0.5], [0.0, 0.0]], [[-np.inf, 1.0]]]


# (weights whose sum overflows only in float64: 1e308 is not a float32)
@pytest.mark.parametrize("dtype, weights",
                         [(dtype, weights) for dtype in ("float32", "float64")
                          for weights in _BAD_WEIGHTS] + [("float64", [[0.0, 1e308, 1e308]])])
def test_multinomial_refuses_bad_weights_as_torch(torch, dtype, weights):
    # ember checks the weights in one pass first and names the problem only when it fails
    results = []
    for fw in (torch, ember):
        tensor = fw.tensor(weights, dtype=getattr(fw, dtype))
        try:
            results.append(fw.multinomial(tensor, 1).shape)
        except RuntimeError as error:
            results.append(str(error))
    assert results[1] == results[0]


@pytest.mark.parametrize("arguments, keywords", [
    ((0, 5), {"dtype": "long"}), ((0, 0), {}), ((3, 9), {}), ((7,), {}), ((0, 128), {}),
    ((5, 2), {}), ((-3, 4), {}), ((0, 5), {"dtype": "float32"}), ((0, 5), {"requires_grad": True}),
    ((0, 2 ** 64), {}), ((0, 5, 1), {"dtype": "int32"}), ((True, 4), {}),
])
def test_integer_arange_matches_torch(torch, arguments, keywords):
    # the common int range takes a shortcut: the same values, dtype, flags and errors as torch
    results = []
    for fw in (torch, ember):
        options = {name: getattr(fw, value) if name == "dtype" else value
                   for name, value in keywords.items()}
        try:
            out = fw.arange(*arguments, **options)
        except (RuntimeError, ValueError, TypeError, OverflowError) as error:
            results.append(type(error).__name__)
            continue
        results.append((out.tolist(), str(out.dtype).split(".")[1], out.requires_grad,
                        out.is_leaf))
    assert results[1] == results[0]
    with ember.inference_mode():
        assert ember.arange(0, 3).is_inference()
