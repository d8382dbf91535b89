"""F.pad and the padding layers against PyTorch: every mode, values, gradients, errors."""
import contextlib

import numpy as np
import pytest

import ember
import ember.nn.functional as F
from ember.autograd import gradgradcheck
from tests.conftest import (
    assert_close, assert_raises_like_torch, compare_with_torch, float_array, gradcheck_arrays)
from tests.nn.higher_order import assert_derivatives_match_torch, random_arrays


PAD_CASES = [
    ("constant", (1, 2), (2, 3, 4)), ("constant", (-1, 2, 0, 3), (2, 3, 4, 5)),
    ("constant", (1, 1, 1, 1, 1, 1), (3, 4, 5)), ("reflect", (2, 1), (2, 3, 4)),
    ("reflect", (-1, 3), (2, 5)), ("reflect", (1, 2, 2, 1), (2, 3, 4, 5)),
    ("replicate", (3, 1), (2, 3, 4)), ("replicate", (1, 2, 0, -1), (2, 3, 4, 5)),
    ("circular", (2, 1), (2, 3, 4)), ("circular", (-1, 3, 1, 1), (2, 3, 4, 5)),
]


@pytest.mark.parametrize("mode, padding, shape", PAD_CASES)
def test_pad_matches_torch(torch, mode, padding, shape):
    array = float_array(shape)
    compare_with_torch(torch, lambda x: F.pad(x, padding, mode),
             lambda x: torch.nn.functional.pad(x, padding, mode), [array])
    gradcheck_arrays(lambda x: F.pad(x, padding, mode), [array])


def test_constant_pad_value_and_integer_input_match_torch(torch):
    compare_with_torch(torch, lambda x: F.pad(x, (1, 2, 2, 0), value=-1.5),
             lambda x: torch.nn.functional.pad(x, (1, 2, 2, 0), value=-1.5), [float_array((2, 3))])
    ours = F.pad(ember.arange(5).reshape(1, 5), (1, 1), value=2.7)
    theirs = torch.nn.functional.pad(torch.arange(5).reshape(1, 5), (1, 1), value=2.7)
    assert_close(ours, theirs)


def test_pad_returns_a_copy_when_nothing_is_padded():
    source = ember.ones(2, 3)
    padded = F.pad(source, (0, 0))
    padded[0, 0] = 5.0
    assert source[0, 0].item() == 1.0


@pytest.mark.parametrize("layout", ["transposed", "channels_last", "sliced", "sliced_transposed"])
@pytest.mark.parametrize("widths", [(0, 0), (0, 0, 0, 0), (1, 0), (2, -1, 1, 1)])
def test_constant_pad_layout_matches_torch(torch, layout, widths):
    """Zero widths clone the input in its own layout, as PyTorch's constant_pad_nd does; real
    padding of a channels_last input stays channels_last; values and gradients as PyTorch's."""
    array = float_array((3, 8, 5, 4))
    results = []
    for library in (ember, torch):
        tensor = library.tensor(array)
        tensor = {"transposed": lambda t: t.transpose(1, 3),
                  "channels_last": lambda t: t.contiguous(memory_format=library.channels_last),
                  "sliced": lambda t: t[:, ::2],
                  "sliced_transposed": lambda t: t.transpose(0, 2)[::2]}[layout](tensor)
        leaf = tensor.detach().requires_grad_(True)
        padded = library.nn.functional.pad(leaf, widths, value=0.25)
        padded.backward(library.tensor(float_array(tuple(padded.shape), seed=3)))
        results.append((padded, leaf.grad))
    (ours, our_grad), (theirs, their_grad) = results
    assert ours.stride() == theirs.stride()
    assert_close(ours, theirs, rtol=0, atol=0)
    assert_close(our_grad, their_grad, rtol=0, atol=0)


PAD_MODULES = [
    "ZeroPad1d(1)", "ZeroPad2d(2)", "ZeroPad2d((1, 2, 3, 4))", "ConstantPad1d(2, 3.5)",
    "ConstantPad2d((1, 0, 2, 1), -1.0)", "ConstantPad3d(1, 2.0)", "ReflectionPad1d(2)",
    "ReflectionPad2d((1, 2, 2, 1))", "ReplicationPad1d((1, 2))", "ReplicationPad2d(1)",
    "CircularPad1d(1)", "CircularPad2d((1, 2, 0, 1))", "ZeroPad3d(1)",
    "ReflectionPad3d((1, 0, 2, 1, 1, 1))", "ReplicationPad3d(2)", "CircularPad3d(1)",
]


@pytest.mark.parametrize("expression", PAD_MODULES)
def test_pad_modules_match_torch(torch, expression):
    ours = eval("ember.nn." + expression)
    theirs = eval("torch.nn." + expression)
    assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict()) == []
    kind = expression.split("(")[0][-2:]
    shape = {"1d": (2, 3, 5), "2d": (2, 3, 4, 5), "3d": (2, 2, 4, 5, 3)}[kind]
    compare_with_torch(torch, ours, theirs, [float_array(shape)])


@pytest.mark.parametrize("call", [
    lambda lib, x: lib.nn.functional.pad(x, (1, 2, 3)),
    lambda lib, x: lib.nn.functional.pad(x, (1,) * 10),
    lambda lib, x: lib.nn.functional.pad(x, (1, 1), mode="reflect"),
    lambda lib, x: lib.nn.functional.pad(x[0], (5, 1), mode="reflect"),
    lambda lib, x: lib.nn.functional.pad(x, (1, 1, 4, 1), mode="reflect"),
    lambda lib, x: lib.nn.functional.pad(x[0], (1, 1), mode="reflect", value=1.0),
    lambda lib, x: lib.nn.functional.pad(x[0], (6, 1), mode="circular"),
    lambda lib, x: lib.nn.functional.pad(x[0], (1, 1), mode="mirror"),
    lambda lib, x: lib.nn.functional.pad(x, (1, 1, 0, -5)),
])
def test_pad_errors_match_torch(torch, call):
    array = np.zeros((1, 2, 4, 5), dtype=np.float32)
    assert_raises_like_torch(lambda: call(torch, torch.tensor(array)),
                             lambda: call(ember, ember.tensor(array)),
                             (RuntimeError, NotImplementedError), same_type=True)


@pytest.mark.parametrize("mode, padding, shape", PAD_CASES)
def test_pad_third_derivatives_match_torch(torch, mode, padding, shape):
    """Padding's gradient scatters back through the index maps; its own gradient pads again."""
    assert_derivatives_match_torch(
        torch, lambda fw, x: fw.nn.functional.pad(x, padding, mode),
        random_arrays([shape]), orders=3)


@pytest.mark.parametrize("mode", ["constant", "reflect", "replicate", "circular"])
def test_pad_gradgradcheck(mode):
    x = ember.tensor(np.random.default_rng(3).standard_normal((2, 3, 4)), requires_grad=True)
    assert gradgradcheck(lambda x: F.pad(x, (2, 1), mode), (x,))


@pytest.mark.parametrize("mode, padding, shape", [
    ("reflect", (2, 2, 2, 2), (2, 3, 9, 8)), ("replicate", (3, 1, 0, 2), (2, 3, 5, 7)),
    ("circular", (-1, 3, 2, 1), (2, 3, 4, 6)), ("reflect", (1, 2, 2, 1, 1, 1), (1, 2, 3, 4, 5)),
    ("replicate", (0, 0, 2, 3), (3, 4, 6)), ("circular", (2, 2), (2, 3, 5))])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_pad_row_kernel_and_numpy_paths_match_torch(torch, mode, padding, shape, dtype):
    """The compiled row kernels (whole rows moved, the border columns by index) and the NumPy
    per-axis gathers give torch's values and gradients, non-contiguous input included."""
    from ember import _jit
    array = np.random.default_rng(5).standard_normal(shape).astype(dtype)
    strided = np.swapaxes(np.swapaxes(array, -1, -2).copy(), -1, -2)  # not C-contiguous
    weights = np.random.default_rng(6).standard_normal(
        tuple(torch.nn.functional.pad(torch.tensor(array), padding, mode).shape)).astype(dtype)
    theirs = torch.tensor(array, requires_grad=True)
    their_out = torch.nn.functional.pad(theirs, padding, mode)
    (their_out * torch.tensor(weights)).sum().backward()
    for disabled in (False, True):
        leaf = ember.tensor(strided, requires_grad=True)
        with _jit.disabled() if disabled else contextlib.nullcontext():
            out = F.pad(leaf, padding, mode)
            (out * ember.tensor(weights)).sum().backward()
        assert out.dtype == leaf.dtype
        np.testing.assert_array_equal(out.detach().numpy(), their_out.detach().numpy())
        tolerance = 1e-6 if dtype == np.float32 else 1e-13
        np.testing.assert_allclose(leaf.grad.numpy(), theirs.grad.numpy(), rtol=tolerance,
                                   atol=tolerance)


def test_one_element_integer_tensors_as_widths_as_pytorch():
    """Pytorch-UNet's Up block pads by ``torch.tensor([diff]) // 2``: one-element integer
    tensors are widths; float, bool or longer tensors are refused with PyTorch's errors."""
    torch = pytest.importorskip("torch")
    values = np.arange(12.0, dtype=np.float32).reshape(1, 1, 3, 4)
    ours = ember.tensor(values, requires_grad=True)
    theirs = torch.tensor(values, requires_grad=True)
    mine = ember.nn.functional.pad(ours, [ember.tensor([1]) // 2 + 1, ember.tensor(2), 0,
                                          ember.tensor([1], dtype=ember.uint8)])
    reference = torch.nn.functional.pad(theirs, [torch.tensor([1]) // 2 + 1, torch.tensor(2), 0,
                                                 torch.tensor([1], dtype=torch.uint8)])
    np.testing.assert_array_equal(mine.detach().numpy(), reference.detach().numpy())
    mine.sum().backward()
    reference.sum().backward()
    np.testing.assert_array_equal(ours.grad.numpy(), theirs.grad.numpy())
    for framework in (ember, torch):
        for bad, kind in (([framework.tensor([1.0]), 0], TypeError),
                          ([framework.tensor([1, 2]), 0], TypeError),
                          ([0, framework.tensor([True])], RuntimeError)):
            with pytest.raises(kind) as caught:
                framework.nn.functional.pad(framework.zeros(1, 2), bad)
            if kind is TypeError:
                assert str(caught.value) == ("pad(): argument 'pad' (position 2) must be tuple of "
                                             "ints, but found element of type Tensor at pos 0")


@pytest.mark.parametrize("widths", [[1, 1, 1, 1], [-1, 2, 0, -2], [3, -2], [-2, -1, 1, 0, 2, 2],
                                    [0, 0, -3, 5], [0, 0]])
def test_constant_pad_from_widths_values_and_double_backward_as_pytorch(widths):
    """Constant pads take their slices straight from the widths (cropping included); the
    index maps are built only for a recorded backward: values, grads and grads of grads."""
    torch = pytest.importorskip("torch")
    array = np.random.RandomState(len(widths)).randn(2, 3, 5, 6)
    results = []
    for framework in (ember, torch):
        x = framework.tensor(array, requires_grad=True)
        y = framework.nn.functional.pad(x, widths, value=2.5)
        (grad,) = framework.autograd.grad((y * y).sum(), x, create_graph=True)
        (grad * grad).sum().backward()
        results.append([y.detach().numpy(), grad.detach().numpy(), x.grad.numpy()])
    for mine, reference in zip(*results):
        np.testing.assert_allclose(mine, reference, rtol=1e-12, atol=0)


@pytest.mark.parametrize("shape, pad", [
    ((1, 1, 0), (1, 1)), ((1, 0, 3), (1, 1)), ((0, 3), (1, 1)), ((2, 0), (1, 1)),
    ((1, 1, 0), (0, 0)), ((1, 1, 0, 3), (1, 1, 1, 1)), ((1, 1, 3, 0), (1, 1, 1, 1)),
    ((1, 1, 1, 3, 0), (1, 1, 1, 1, 1, 1)), ((0, 1, 3), (1, 1))])
@pytest.mark.parametrize("mode", ["reflect", "replicate"])
def test_reflect_and_replicate_refuse_empty_non_batch_dims_like_torch(torch, shape, pad, mode):
    """Only the batch dim may be empty: PyTorch checks that before the padding sizes."""
    def call(fw):
        return lambda: fw.nn.functional.pad(fw.ones(shape), pad, mode=mode)
    try:
        expected = call(torch)()
    except RuntimeError:
        assert_raises_like_torch(call(torch), call(ember), RuntimeError)
    else:
        assert tuple(call(ember)().shape) == tuple(expected.shape)
