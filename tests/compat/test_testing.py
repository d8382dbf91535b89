"""ember.testing (torch.testing): assert_close passes and fails where torch's does, with the same
exception type and message; make_tensor's ranges, layouts and errors."""
import math

import numpy as np
import pytest

import ember
from ember.testing import assert_close, make_tensor

F32 = np.float32


def _both(torch, value):
    """The input as (ember's, torch's): arrays become tensors, containers are rebuilt."""
    if isinstance(value, np.ndarray):
        return ember.tensor(value), torch.tensor(value)
    if isinstance(value, (list, tuple)):
        pairs = [_both(torch, item) for item in value]
        return type(value)(pair[0] for pair in pairs), type(value)(pair[1] for pair in pairs)
    if isinstance(value, dict):
        pairs = {key: _both(torch, item) for key, item in value.items()}
        return ({key: pair[0] for key, pair in pairs.items()},
                {key: pair[1] for key, pair in pairs.items()})
    return value, value


CASES = {
    "equal": (np.arange(4, dtype=F32), np.arange(4, dtype=F32), {}),
    "within tolerance": (np.array([1.0, 2.0], F32), np.array([1.0, 2.0000005], F32), {}),
    "float32 values": (np.array([1.0, 2.5, 3.0], F32), np.array([1.0, 2.0, 3.1], F32), {}),
    "2-d index": (np.zeros((2, 3), F32), np.eye(2, 3, dtype=F32) * 0.5, {}),
    "0-d": (np.array(1.5, F32), np.array(1.0, F32), {}),
    "expected zero": (np.array([1.0, 0.5], F32), np.array([1.0, 0.0], F32), {}),
    "integers": (np.array([1, 5, 3]), np.array([1, 2, 3]), {}),
    "booleans": (np.array([True, False]), np.array([True, True]), {}),
    "float64": (np.array([1.0, 2.0]), np.array([1.0, 2.0 + 1e-6]), {}),
    "float16": (np.array([1.0, 2.0], np.float16), np.array([1.0, 2.01], np.float16), {}),
    "given tolerances": (np.array([1.0, 2.0], F32), np.array([1.1, 2.0], F32),
                         {"rtol": 0.0, "atol": 0.2}),
    "exact": (np.array([1.0, 2.0], F32), np.array([1.0, 2.5], F32), {"rtol": 0, "atol": 0}),
    "rtol only": (np.array([1.0], F32), np.array([1.0], F32), {"rtol": 0.1}),
    "nan": (np.array([1.0, np.nan], F32), np.array([1.0, np.nan], F32), {}),
    "nan equal": (np.array([1.0, np.nan], F32), np.array([1.0, np.nan], F32),
                  {"equal_nan": True}),
    "inf": (np.array([np.inf, 1.0], F32), np.array([np.inf, 1.0], F32), {}),
    "inf against large": (np.array([np.inf], F32), np.array([3e38], F32), {}),
    "shape": (np.zeros(2, F32), np.zeros(3, F32), {}),
    "dtype": (np.zeros(2, F32), np.zeros(2), {}),
    "dtype unchecked": (np.ones(2, F32), np.ones(2) + 1e-9, {"check_dtype": False}),
    "numbers": (1.0, 1.0 + 1e-6, {}),
    "int and float": (1, 1.0, {}),
    "int and float unchecked": (1, 1.0, {"check_dtype": False}),
    "numbers equal nan": (math.nan, math.nan, {"equal_nan": True}),
    "numpy scalar": (np.float64(2.0), 2.5, {}),
    "bools": (True, False, {}),
    "none": (None, 1, {}),
    "sequences": ([np.zeros(2, F32), 1.0], [np.zeros(2, F32)], {}),
    "nested item": ([np.zeros(2, F32), {"a": np.ones(2, F32)}],
                    [np.zeros(2, F32), {"a": np.array([1.0, 3.0], F32)}], {}),
    "mapping keys": ({"a": 1, "b": 2}, {"a": 1, "c": 2}, {}),
    "tensor and list": (np.zeros(2, F32), [0.0, 0.0], {}),
    "message": (np.zeros(2, F32), np.ones(2, F32), {"msg": "custom"}),
    "message callable": (np.zeros(2, F32), np.ones(2, F32),
                         {"msg": lambda generated: "prefix\n" + generated}),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_assert_close_like_torch(torch, name):
    actual, expected, options = CASES[name]
    ours = _both(torch, actual), _both(torch, expected)
    try:
        torch.testing.assert_close(ours[0][1], ours[1][1], **options)
        theirs = None
    except Exception as error:  # noqa: BLE001 (torch's outcome, whatever it is)
        theirs = error
    if theirs is None:
        assert_close(ours[0][0], ours[1][0], **options)
        return
    with pytest.raises(type(theirs)) as caught:
        assert_close(ours[0][0], ours[1][0], **options)
    assert type(caught.value) is type(theirs)
    # ember's Tensor class is ember.tensor.Tensor where torch's is torch.Tensor.
    assert str(caught.value).replace("ember.tensor.Tensor", "ember.Tensor") == \
        str(theirs).replace("torch.", "ember.")


def test_a_stride_mismatch_message_names_the_strides():
    transposed = ember.zeros(3, 2).t()
    with pytest.raises(AssertionError, match=r"'stride\(\)' do not match: \(3, 1\) != \(1, 2\)"):
        assert_close(ember.zeros(2, 3), transposed, check_stride=True)


@pytest.mark.parametrize("dtype, low, high", [
    (ember.float32, -9, 9), (ember.float64, -9, 9), (ember.int64, -9, 10), (ember.uint8, 0, 10),
    (ember.bool, 0, 2)])
def test_make_tensor_default_ranges(dtype, low, high):
    values = make_tensor(2000, dtype=dtype, device="cpu")
    assert values.dtype is dtype and values.shape == (2000,)
    array = values.numpy().astype(np.float64)
    assert array.min() >= low and array.max() < high
    assert array.min() < low + 1 and array.max() > high - 1.5  # the whole range is drawn


def test_make_tensor_options():
    values = make_tensor((3, 4), dtype=ember.float32, device="cpu", low=2, high=3,
                         requires_grad=True, noncontiguous=True)
    assert values.shape == (3, 4) and not values.is_contiguous() and values.requires_grad
    assert float(values.min()) >= 2 and float(values.max()) < 3
    no_zeros = make_tensor(500, dtype=ember.int64, device="cpu", low=-1, high=2,
                           exclude_zero=True)
    assert (no_zeros.numpy() != 0).all()
    with pytest.raises(ValueError, match="`low` must be less than `high`, but got 3 >= 2"):
        make_tensor(2, dtype=ember.float32, device="cpu", low=3, high=2)
    with pytest.raises(ValueError, match="`requires_grad=True` is not supported"):
        make_tensor(2, dtype=ember.int64, device="cpu", requires_grad=True)
    with pytest.raises(ValueError, match=r"only supports \[0, 256\)"):
        make_tensor(2, dtype=ember.uint8, device="cpu", low=300, high=400)
    with pytest.raises(RuntimeError, match="CPU only"):
        make_tensor(2, dtype=ember.float32, device="cuda")


def test_make_tensor_errors_like_torch(torch):
    for options in ({"low": 3, "high": 2}, {"low": math.nan}, {"low": 300, "high": 400},
                    {"low": -5, "high": -1}):
        for dtype in ("float32", "uint8", "bool"):
            try:
                torch.testing.make_tensor(2, dtype=getattr(torch, dtype), device="cpu",
                                          **options)
                theirs = None
            except ValueError as error:
                theirs = error
            if theirs is None:
                make_tensor(2, dtype=getattr(ember, dtype), device="cpu", **options)
                continue
            with pytest.raises(ValueError) as ours:
                make_tensor(2, dtype=getattr(ember, dtype), device="cpu", **options)
            assert str(ours.value) == str(theirs).replace("torch.", "ember.")
