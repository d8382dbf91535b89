"""gradcheck itself: it passes correct gradients and reports wrong ones clearly."""
import numpy as np
import pytest

import ember
from tests.conftest import assert_close, float64_tensor, to_float64
from ember.autograd import Function, GradcheckError, gradcheck


def _double(shape, seed=0):
    return float64_tensor(shape, seed=seed)


class WrongSquare(Function):
    """x**2 whose backward forgets the factor 2 at one element."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        local = 2 * x
        flat = local.reshape(-1)
        flat[flat.shape[0] // 2] = flat[flat.shape[0] // 2] / 2
        return grad_output * local


def test_correct_gradients_pass_full_and_directional():
    small = _double((3, 4))
    other = _double((4,), seed=1)
    assert gradcheck(lambda a, b: (a * b).tanh().sum(1), (small, other))
    large = _double((20, 20))  # 400 elements: checked along random directions
    assert gradcheck(lambda a: (a.exp() * a).softmax(1), (large,))


def _gradcheck_failures(framework):
    """gradcheck's and gradgradcheck's messages for wrong backwards: two outputs and two
    inputs, then the first held fixed (the input is numbered by its position); a float32
    input against a float64 output (each Jacobian printed in its own dtype); the double
    backward tutorial's Sinh that keeps its saved tensors on ctx (wrong second derivatives)."""
    class Twice(framework.autograd.Function):
        @staticmethod
        def forward(ctx, a, b):
            ctx.save_for_backward(a, b)
            return a * b, (a + b).sum()

        @staticmethod
        def backward(ctx, grad_product, grad_sum):
            a, b = ctx.saved_tensors
            return grad_product * b + grad_sum, grad_product * a * 1.5 + grad_sum

    class SinhOnCtx(framework.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.expx = framework.exp(x)
            ctx.expnegx = framework.exp(-x)
            return (ctx.expx - ctx.expnegx) / 2

        @staticmethod
        def backward(ctx, grad_out):
            return grad_out * (ctx.expx + ctx.expnegx) / 2

    values = np.random.default_rng(0).uniform(0.5, 1.5, (3, 2, 2))
    a, b, x = (framework.tensor(value, requires_grad=True) for value in values)
    fixed = framework.tensor(values[0])
    calls = [lambda: framework.autograd.gradcheck(Twice.apply, (a, b)),
             lambda: framework.autograd.gradcheck(Twice.apply, (fixed, b)),
             lambda: framework.autograd.gradcheck(lambda v: (v * 2).double() * 1.01,
                                                  (framework.tensor([0.5, 0.25],
                                                                    requires_grad=True),)),
             lambda: framework.autograd.gradgradcheck(SinhOnCtx.apply, (x,))]
    messages = []
    for call in calls:
        with pytest.raises(RuntimeError) as error:
            call()
        messages.append((type(error.value).__name__, str(error.value)))
    return messages


def test_wrong_gradients_are_reported_as_torch(torch):
    ours = [(kind, message.replace("ember.", "torch."))
            for kind, message in _gradcheck_failures(ember)]
    assert ours == _gradcheck_failures(torch)


def _outputs_without_grad(framework):
    """Outputs that do not require grad go unchecked; with none that does, the numerical
    Jacobian must be zero."""
    x = framework.tensor([0.25, 0.5, 0.75], dtype=framework.float64, requires_grad=True)
    outcomes = []
    for function in (lambda v: (v * 2, v.detach() * 3), lambda v: (v.detach() * 3, v * 2),
                     lambda v: v.detach() * 3, lambda v: v.detach() * 0):
        try:
            outcomes.append(framework.autograd.gradcheck(function, (x,)))
        except RuntimeError as error:
            outcomes.append((type(error).__name__, str(error)))
    return outcomes


def test_outputs_that_do_not_require_grad_as_torch(torch):
    assert _outputs_without_grad(ember) == _outputs_without_grad(torch)


def test_wrong_gradient_detected_along_directions():
    x = _double((30, 30))
    with pytest.raises(GradcheckError, match="directional derivative mismatch with respect to "
                                             "input 0"):
        gradcheck(WrongSquare.apply, (x,))


def test_raise_exception_false_returns_false():
    assert gradcheck(WrongSquare.apply, (_double((3,)),), raise_exception=False) is False


def test_multiple_outputs_and_unused_inputs():
    a = _double((3,))
    unused = _double((2,), seed=2)
    assert gradcheck(lambda a, b: (a.sin(), a * 3), (a, unused))


def test_inputs_that_do_not_require_grad_are_held_fixed():
    a = _double((3,))
    constant = ember.tensor([1.0, 2.0, 3.0], dtype=ember.float64)
    assert gradcheck(lambda a, c: a * c, (a, constant))


def test_float32_input_warns():
    x = ember.tensor([0.5, 1.0], requires_grad=True)
    with pytest.warns(UserWarning, match="Input #0 requires gradient and is not a double "
                                         "precision floating point or complex. This check will "
                                         "likely fail if all the inputs are not of double "
                                         "precision floating point or complex. "):
        gradcheck(lambda a: a * 2, (x,), atol=1e-2, rtol=1e-2, eps=1e-3)


def test_no_input_requiring_grad_is_an_error():
    with pytest.raises(ValueError, match="at least one input tensor to require gradient"):
        gradcheck(lambda a: a * 2, (ember.ones(2, dtype=ember.float64),))


def test_zero_size_input_passes_trivially():
    assert gradcheck(lambda a: a * 2, (_double((0, 3)),))


def test_conftest_float64_helpers():
    x = ember.tensor([0.25, -0.5], requires_grad=True)
    copy = to_float64(x)
    assert copy.dtype is ember.float64 and copy.requires_grad and copy.is_leaf
    assert_close(copy, np.array([0.25, -0.5]))
    assert gradcheck(lambda a: a.exp() * a, (copy,))


def test_a_function_that_differentiates_its_input_inside_is_checked():
    # A gradient penalty's derivative: PyTorch's gradcheck evaluates fn with grad on and the
    # perturbed input still requiring grad, so autograd.grad inside fn works there too.
    x = _double((2, 3))

    def penalty_gradient(value):
        output = (value.tanh() * value).sum(1).exp().sum()
        (gradient,) = ember.autograd.grad(output, value, create_graph=True)
        return (gradient ** 2).sum(1)

    assert gradcheck(penalty_gradient, (x,))
    large = _double((20, 20))  # checked along random directions
    assert gradcheck(penalty_gradient, (large,))


def test_third_derivatives_of_layer_norm_and_batch_norm():
    x = _double((4, 3))
    weight = _double((3,), seed=1)

    def second(value, scale):
        first = ember.nn.functional.layer_norm(value, (3,), scale) ** 3
        (gradient,) = ember.autograd.grad(first.sum(), value, create_graph=True)
        normalized = ember.nn.functional.batch_norm(gradient, None, None, training=True)
        return ember.autograd.grad((normalized ** 3).sum(), (value, scale), create_graph=True)

    assert gradcheck(second, (x, weight))


def _draws_around_gradgradcheck(fw):
    """The default generator's draws after gradgradchecks that draw their own cotangents
    (float64 and complex128 outputs); complex128 inputs are double precision (no warning)."""
    import warnings
    fw.manual_seed(0)
    x = fw.randn(4, 3, dtype=fw.float64, requires_grad=True)
    z = fw.randn(3, dtype=fw.complex128, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert fw.autograd.gradgradcheck(lambda a: (a.sin() * a).sum(1), (x,))
        first = fw.rand(2)
        assert fw.autograd.gradgradcheck(lambda a: a * 2j, (z,))
        assert fw.autograd.gradgradcheck(lambda a: (a * a.conj()).real, (z,))
    return np.concatenate([first.numpy(), fw.rand(3).numpy()])


def test_gradgradcheck_draws_its_cotangents_from_the_default_generator_as_torch(torch):
    """PyTorch draws gradgradcheck's grad_outputs (U(-1, 1), a complex one through its real
    view) from the default generator: a program's later draws depend on it."""
    np.testing.assert_array_equal(_draws_around_gradgradcheck(ember),
                                  _draws_around_gradgradcheck(torch))
