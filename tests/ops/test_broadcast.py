"""ember.ops._broadcast: broadcasting forward and undone in backward, for any pair of
broadcastable shapes."""
import numpy as np
import pytest
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


def _outcome(call, library):
    try:
        return ("value", call(library))
    except Exception as error:  # noqa: BLE001 (the outcome is what is compared)
        return ("error", type(error), str(error))


BROADCAST_CALLS = {
    "shapes": lambda lib: tuple(lib.broadcast_shapes((2,), (3, 1), (1, 1, 1))),
    "shapes_none_and_int": lambda lib: tuple(lib.broadcast_shapes((1, 2), None, 2)),
    "shapes_empty": lambda lib: tuple(lib.broadcast_shapes()),
    "shapes_mismatch": lambda lib: lib.broadcast_shapes((3, 1, 2), (1, 4, 5)),
    "shapes_mismatch_later": lambda lib: lib.broadcast_shapes((3,), (4, 2), (5,)),
    "shapes_negative": lambda lib: lib.broadcast_shapes((3, -1), (3, 1)),
    "shapes_negative_mismatch": lambda lib: lib.broadcast_shapes((2,), (-1,)),
    "shapes_not_a_shape": lambda lib: lib.broadcast_shapes([2, 3], 2.0),
    "tensors": lambda lib: [tuple(t.shape) for t in lib.broadcast_tensors(
        lib.zeros(3, 1), lib.zeros(1, 4), lib.zeros(()))],
    # rotary-embedding-torch's broadcat: the error names the pair that fails, from the right
    "tensors_mismatch": lambda lib: lib.broadcast_tensors(lib.zeros(3, 1, 2), lib.zeros(1, 4, 5)),
    "tensors_mismatch_third": lambda lib: lib.broadcast_tensors(
        lib.zeros(3, 1, 2), lib.zeros(1, 4, 2), lib.zeros(2, 1, 1)),
    "tensors_mismatch_ranks": lambda lib: lib.broadcast_tensors(lib.zeros(3), lib.zeros(4, 2)),
    "expand_two_bad_dims": lambda lib: lib.zeros(3, 2).expand(4, 5),
    "expand_leading_minus_one": lambda lib: lib.zeros(3).expand(2, -1, 3),
    "expand_bad_last_and_leading": lambda lib: lib.zeros(3, 2).expand(-1, 4, 5),
    "expand_negative_last": lambda lib: lib.zeros(3, 2).expand(4, -2),
    "broadcast_to_bad": lambda lib: lib.broadcast_to(lib.zeros(3, 2), (4, 5)),
}


@pytest.mark.parametrize("name", sorted(BROADCAST_CALLS))
def test_broadcast_shapes_tensors_and_expand_like_torch(torch, name):
    call = BROADCAST_CALLS[name]
    assert _outcome(call, ember) == _outcome(call, torch)
