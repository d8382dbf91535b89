"""ember.ops._broadcast: broadcasting forward and undone in backward, for any pair of
broadcastable shapes."""
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import ember


def _reduce_to(array, shape):
    """Sum ``array`` down to ``shape`` (the NumPy reference for undoing broadcasting)."""
    while array.ndim > len(shape):
        array = array.sum(axis=0)
    for axis, size in enumerate(shape):
        if size == 1 and array.shape[axis] != 1:
            array = array.sum(axis=axis, keepdims=True)
    return array


@settings(max_examples=40, deadline=None)
@given(shapes=hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3,
                                                max_side=3),
       operation=st.sampled_from(["add", "sub", "mul", "div", "maximum"]))
def test_broadcasting_forward_and_gradients_property(shapes, operation):
    shape_a, shape_b = shapes.input_shapes
    rng = np.random.default_rng(len(shape_a) * 7 + len(shape_b))
    a = rng.uniform(0.5, 2.0, shape_a) * rng.choice([-1.0, 1.0], shape_a)
    b = rng.uniform(0.5, 2.0, shape_b) * rng.choice([-1.0, 1.0], shape_b)
    x = ember.tensor(a, dtype=ember.float64, requires_grad=True)
    y = ember.tensor(b, dtype=ember.float64, requires_grad=True)
    functions = {"add": (lambda p, q: p + q, np.add),
                 "sub": (lambda p, q: p - q, np.subtract),
                 "mul": (lambda p, q: p * q, np.multiply),
                 "div": (lambda p, q: p / q, np.divide),
                 "maximum": (ember.maximum, np.maximum)}
    ember_function, numpy_function = functions[operation]
    out = ember_function(x, y)
    expected = numpy_function(a, b)
    assert out.shape == expected.shape == shapes.result_shape
    np.testing.assert_allclose(out.detach().numpy(), expected)
    out.sum().backward()
    assert x.grad.shape == shape_a and y.grad.shape == shape_b
    ones = np.ones(shapes.result_shape)
    local_a = {"add": ones, "sub": ones, "mul": np.broadcast_to(b, ones.shape),
               "div": np.broadcast_to(1 / b, ones.shape),
               "maximum": (np.broadcast_to(a, ones.shape) > b).astype(float)}[operation]
    np.testing.assert_allclose(x.grad.numpy(), _reduce_to(local_a * ones, shape_a))
