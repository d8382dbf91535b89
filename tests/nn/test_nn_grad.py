"""torch.nn.grad: a convolution's input and weight gradients as functions, against PyTorch, against
ember's own autograd, and inside a custom Function (the conv + batch-norm fusion tutorial's use)."""
import numpy as np
import pytest

import ember

RNG = np.random.default_rng(0)
CASES = {
    1: ((2, 4, 9), (6, 2, 3), dict(stride=2, padding=1, groups=2)),
    2: ((2, 3, 7, 8), (4, 3, 3, 2), dict(stride=(2, 1), padding=(1, 0), dilation=(1, 2))),
    3: ((1, 2, 5, 5, 4), (3, 2, 2, 3, 2), dict(padding=1)),
}


def _inputs(dims):
    input_size, weight_size, options = CASES[dims]
    x = RNG.standard_normal(input_size)
    w = RNG.standard_normal(weight_size)
    conv = getattr(ember.nn.functional, f"conv{dims}d")
    grad_output = RNG.standard_normal(tuple(conv(ember.tensor(x), ember.tensor(w),
                                                 **options).shape))
    return x, w, grad_output, options


@pytest.mark.parametrize("dims", [1, 2, 3])
def test_matches_torch(dims):
    torch = pytest.importorskip("torch")
    x, w, grad_output, options = _inputs(dims)
    for library in (torch, ember):
        grad = library.nn.grad
        got = (getattr(grad, f"conv{dims}d_input")(x.shape, library.tensor(w),
                                                    library.tensor(grad_output), **options),
               getattr(grad, f"conv{dims}d_weight")(library.tensor(x), w.shape,
                                                     library.tensor(grad_output), **options))
        if library is torch:
            expected = [value.numpy() for value in got]
    for value, reference in zip(got, expected):
        np.testing.assert_allclose(value.numpy(), reference, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("dims", [1, 2, 3])
def test_equal_autograd_of_the_convolution(dims):
    x, w, grad_output, options = _inputs(dims)
    input_tensor = ember.tensor(x, requires_grad=True)
    weight = ember.tensor(w, requires_grad=True)
    out = getattr(ember.nn.functional, f"conv{dims}d")(input_tensor, weight, **options)
    out.backward(ember.tensor(grad_output))
    grad = ember.nn.grad
    np.testing.assert_array_equal(
        getattr(grad, f"conv{dims}d_input")(x.shape, weight.detach(), ember.tensor(grad_output),
                                            **options).numpy(), input_tensor.grad.numpy())
    np.testing.assert_array_equal(
        getattr(grad, f"conv{dims}d_weight")(ember.tensor(x), w.shape, ember.tensor(grad_output),
                                             **options).numpy(), weight.grad.numpy())


def test_a_custom_convolution_function_passes_gradcheck():
    class Convolution(ember.autograd.Function):
        @staticmethod
        def forward(ctx, x, weight):
            ctx.save_for_backward(x, weight)
            return ember.nn.functional.conv2d(x, weight, padding=1)

        @staticmethod
        def backward(ctx, grad_output):
            x, weight = ctx.saved_tensors
            return (ember.nn.grad.conv2d_input(x.shape, weight, grad_output, padding=1),
                    ember.nn.grad.conv2d_weight(x, weight.shape, grad_output, padding=1))

    x = ember.tensor(RNG.standard_normal((2, 3, 4, 4)), requires_grad=True)
    weight = ember.tensor(RNG.standard_normal((2, 3, 3, 3)), requires_grad=True)
    assert ember.autograd.gradcheck(Convolution.apply, (x, weight))
    assert ember.autograd.gradgradcheck(Convolution.apply, (x, weight))


def test_a_gradient_of_the_wrong_size_is_refused():
    with pytest.raises(RuntimeError, match="conv2d_input: grad_output of size \\[2, 4, 5, 5\\] "
                                           "does not match"):
        ember.nn.grad.conv2d_input((2, 3, 8, 8), ember.ones(4, 3, 3, 3), ember.ones(2, 4, 5, 5))
