"""Dtype edge cases found by sweeping ops over every dtype against PyTorch: bool inputs that
PyTorch refuses, angle of real tensors, rsub's promotion, a tuple dim where one int is
expected."""
import math

import numpy as np
import pytest

import ember


def _outcome(fw, expression):
    try:
        result = expression(fw)
    except Exception as error:  # the type and message are what is compared
        return type(error).__name__, str(error)
    values = result.numpy().astype(np.float64)
    return str(result.dtype).split(".")[1], np.where(np.isnan(values), -7.0, values).tolist()


@pytest.mark.parametrize("expression", [
    lambda fw: fw.argmax(fw.tensor([True, False])),
    lambda fw: fw.tensor([True, False]).argmin(),
    lambda fw: fw.nn.functional.hardtanh(fw.tensor([True, False])),
    lambda fw: fw.nn.functional.relu6(fw.tensor([True, False])),
    lambda fw: fw.angle(fw.tensor([1.0, -2.0, 0.0, -0.0, math.nan])),
    lambda fw: fw.angle(fw.tensor([1, -2, 0])),
    lambda fw: fw.angle(fw.tensor([True, False])),
    lambda fw: fw.tensor([-1.5, 2.0], dtype=fw.float64).angle(),
    lambda fw: fw.rsub(fw.tensor([1, 200], dtype=fw.uint8), 2.5),
    lambda fw: fw.rsub(fw.tensor([1, 200], dtype=fw.uint8), 2, alpha=2),
    lambda fw: fw.rsub(fw.tensor([1.0, 2.0]), 3, alpha=2),
    lambda fw: fw.rsub(fw.tensor([True, False]), 2),
    lambda fw: fw.rsub(fw.tensor([1.0, 2.0]), True),
    lambda fw: fw.tensor([1, 2], dtype=fw.uint8) / -3,
    lambda fw: -3 / fw.tensor([1, 2], dtype=fw.uint8),
    lambda fw: fw.copysign(fw.tensor([1, 2], dtype=fw.uint8), -3),
    lambda fw: fw.tensor([True, False]) ** -3,
    lambda fw: fw.median(fw.tensor([[True, False]])),
    lambda fw: fw.median(fw.tensor([[True, False]]), 0)[0],
    lambda fw: fw.nanmedian(fw.tensor([[True, False]])),
    lambda fw: fw.kthvalue(fw.tensor([[True, False]]), 1)[0],
    lambda fw: fw.aminmax(fw.ones(2, 2), dim=(0, 1))[0],
    lambda fw: fw.argmax(fw.ones(2, 2), dim=(0,)),
    lambda fw: fw.argmin(fw.tensor([True, False]), dim=(0,)),
])
def test_like_pytorch(torch, expression):
    assert _outcome(ember, expression) == _outcome(torch, expression)


def test_angle_gradient_is_zero():
    x = ember.tensor([-1.0, 2.0], requires_grad=True)
    ember.angle(x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 0.0])


def test_rsub_needs_a_tensor_input():
    with pytest.raises(TypeError, match="rsub"):
        ember.rsub(2, ember.tensor([1.0]))
