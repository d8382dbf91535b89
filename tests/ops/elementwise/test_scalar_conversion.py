"""Python numbers beside integer and half tensors, against PyTorch: arithmetic and comparisons
wrap an int into the tensor's dtype, fills and bounds check its range (c10's rule, with
PyTorch's message), float16 multiplies and divides by a number in float32, and remainder's
zeros keep the dividend's sign."""
import numpy as np
import pytest

import ember

DTYPES = ["uint8", "int8", "int16", "int32", "int64", "bool", "float16"]
VALUES = [300, -1, -129, -257, 2 ** 40, 2 ** 63 - 1, 1e10, 70000.5, float("inf")]
MASK = [True, False]
OPERATIONS = {
    "fill_": lambda fw, t, v: t.clone().fill_(v),
    "masked_fill": lambda fw, t, v: t.masked_fill(fw.tensor(MASK), v),
    "clamp_max": lambda fw, t, v: t.clamp(max=v),
    "clamp_min": lambda fw, t, v: t.clamp(min=v),
    "where": lambda fw, t, v: fw.where(fw.tensor(MASK), t, v),
    "add": lambda fw, t, v: t + v,
    "sub": lambda fw, t, v: t - v,
    "rsub": lambda fw, t, v: v - t,
    "mul": lambda fw, t, v: t * v,
    "floor_divide": lambda fw, t, v: t // v,
    "gt": lambda fw, t, v: t > v,
    "eq": lambda fw, t, v: t == v,
    "index_fill": lambda fw, t, v: t.index_fill(0, fw.tensor([0]), v),
    "scatter": lambda fw, t, v: t.scatter(0, fw.tensor([0]), v),
    "full_like": lambda fw, t, v: fw.full_like(t, v),
    "add_": lambda fw, t, v: t.clone().add_(v),
    "pow": lambda fw, t, v: t ** v,
}


def _outcome(fw, dtype, operation, value):
    tensor = fw.tensor([1, 2], dtype=getattr(fw, dtype))
    try:
        result = OPERATIONS[operation](fw, tensor, value)
    except (RuntimeError, OverflowError) as error:
        message = str(error)
        return type(error).__name__, message.split(": ", 1)[-1] if "cast" in message else message
    return str(result.dtype).split(".")[1], result.tolist()


@pytest.mark.parametrize("operation", sorted(OPERATIONS))
@pytest.mark.parametrize("dtype", DTYPES)
def test_number_operand_like_pytorch(torch, dtype, operation):
    for value in VALUES:
        if operation == "pow" and (isinstance(value, float) or value < 0):
            continue
        if operation == "floor_divide" and dtype == "bool":
            continue
        expected = _outcome(torch, dtype, operation, value)
        got = _outcome(ember, dtype, operation, value)
        assert got == expected, (dtype, operation, value)


def test_int_operands_wrap():
    small = ember.tensor([1, 2], dtype=ember.uint8)
    assert (small + 300).tolist() == [45, 46]
    assert (small > -1).tolist() == [False, False]  # -1 is 255 in uint8
    assert ember.tensor([1], dtype=ember.int32).add(2 ** 40).tolist() == [1]
    with pytest.raises(RuntimeError, match="value cannot be converted to type uint8_t"):
        small.clone().fill_(300)
    assert small.clone().fill_(-1).tolist() == [255, 255]


def test_float16_times_number_in_float32(torch):
    values = [3.0, 1.7, 65000.0, 0.001]
    for number in (0.1, 1e-8, 1e10, 3):
        for operation in (lambda t: t * number, lambda t: t / number, lambda t: number / t,
                          lambda t: t.clone().mul_(number), lambda t: t.clone().div_(number)):
            expected = operation(torch.tensor(values, dtype=torch.float16)).tolist()
            got = operation(ember.tensor(values, dtype=ember.float16)).tolist()
            assert got == expected, number


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
def test_remainder_zero_keeps_dividend_sign(torch, dtype):
    values = [0.0, -0.0, 2.0, -2.0, 3.5, -3.5]
    for divisor in (-1, 1, -2.0, 2.5):
        expected = torch.remainder(torch.tensor(values, dtype=getattr(torch, dtype)), divisor)
        got = ember.remainder(ember.tensor(values, dtype=getattr(ember, dtype)), divisor)
        np.testing.assert_array_equal(np.signbit(got.numpy().astype(np.float64)),
                                      np.signbit(expected.numpy().astype(np.float64)))
        np.testing.assert_array_equal(got.numpy(), expected.numpy())
