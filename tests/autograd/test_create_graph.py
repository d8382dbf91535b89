"""create_graph: gradients that carry their own history, through the engine and custom Functions."""
import numpy as np
import pytest

import ember
from ember.autograd.function import Op, once_differentiable


def _cube_function(framework):
    """x**3 as a custom Function whose backward is written with differentiable ops."""
    class Cube(framework.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x * x

        @staticmethod
        def backward(ctx, grad):
            (x,) = ctx.saved_tensors
            return grad * 3 * x * x
    return Cube


def _exp_function(framework):
    """exp(x) as a custom Function that saves its output: its double backward goes through it."""
    class Exp(framework.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            out = x.exp()
            ctx.save_for_backward(out)
            return out

        @staticmethod
        def backward(ctx, grad):
            (out,) = ctx.saved_tensors
            return grad * out
    return Exp


@pytest.mark.parametrize("make", [_cube_function, _exp_function])
def test_second_and_third_derivatives_of_custom_functions_match_torch(make, torch):
    values = [0.5, -1.25, 2.0]
    results = {}
    for name, framework in (("ember", ember), ("torch", torch)):
        x = framework.tensor(values, dtype=framework.float64, requires_grad=True)
        function = make(framework)
        (first,) = framework.autograd.grad(function.apply(x).sum(), x, create_graph=True)
        (second,) = framework.autograd.grad(first.sum(), x, create_graph=True)
        (third,) = framework.autograd.grad(second.sum(), x)
        results[name] = [t.detach().numpy() for t in (first, second, third)]
    for mine, theirs in zip(results["ember"], results["torch"]):
        np.testing.assert_allclose(mine, theirs, rtol=1e-12)


def test_backward_with_create_graph_leaves_a_grad_with_history(torch):
    results = {}
    for name, framework in (("ember", ember), ("torch", torch)):
        x = framework.tensor([1.5, -0.5], dtype=framework.float64, requires_grad=True)
        _cube_function(framework).apply(x).sum().backward(create_graph=True)
        grad = x.grad
        assert grad.requires_grad and grad.grad_fn is not None
        first = grad.detach().numpy().copy()
        x.grad = None
        grad.sum().backward()
        results[name] = (first, x.grad.numpy())
    for mine, theirs in zip(results["ember"], results["torch"]):
        np.testing.assert_allclose(mine, theirs, rtol=1e-12)


def test_create_graph_accumulates_out_of_place_and_implies_retain_graph():
    x = ember.tensor([2.0], dtype=ember.float64, requires_grad=True)
    y = _cube_function(ember).apply(x).sum()
    y.backward(create_graph=True)
    first = x.grad
    y.backward(create_graph=True)  # the graph was retained; .grad is a new, recorded sum
    assert x.grad is not first
    assert x.grad.grad_fn is not None
    np.testing.assert_allclose(x.grad.detach().numpy(), [24.0])
    np.testing.assert_allclose(first.detach().numpy(), [12.0])


def _grad_with_history_then_plain_backward(fw):
    """A .grad made by backward(create_graph=True), then a plain backward of its sum: PyTorch
    adds into that very tensor in place (no grad mode), keeping its grad_fn (CopyBackwards)."""
    w = fw.nn.Parameter(fw.tensor([1.0, -2.0, 0.5], dtype=fw.float64))
    (w ** 3).sum().backward(create_graph=True)
    history = w.grad
    first_repr = repr(history).split("grad_fn=")[1]
    history.sum().backward()
    return (first_repr, w.grad is history, repr(w.grad).split("grad_fn=")[1],
            history._version > 0, w.grad.detach().numpy().tolist())


def test_plain_backward_adds_in_place_into_a_grad_with_history_as_torch(torch):
    ours = _grad_with_history_then_plain_backward(ember)
    theirs = _grad_with_history_then_plain_backward(torch)
    assert ours == theirs
    assert ours[:4] == ("<CopyBackwards>)", True, "<CopyBackwards>)", True)


def test_grad_mode_during_backward_follows_create_graph():
    seen = []
    x = ember.tensor([1.0], requires_grad=True)
    y = _cube_function(ember).apply(x)
    y.register_hook(lambda grad: seen.append(ember.is_grad_enabled()))
    y.sum().backward(retain_graph=True)
    y.sum().backward(create_graph=True)
    assert seen == [False, True]


def test_once_differentiable_backward_refuses_a_second_differentiation(torch):
    messages = []
    for framework, decorator in ((ember, once_differentiable),
                                 (torch, torch.autograd.function.once_differentiable)):
        class Square(framework.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                ctx.save_for_backward(x)
                return x * x

            @staticmethod
            @decorator
            def backward(ctx, grad):
                (x,) = ctx.saved_tensors
                return grad * 2 * x

        x = framework.tensor([3.0], requires_grad=True)
        y = Square.apply(x)
        grad_output = framework.ones_like(y, requires_grad=True)
        (first,) = framework.autograd.grad(y, x, grad_output, create_graph=True)
        assert first.requires_grad
        with pytest.raises(RuntimeError) as error:
            first.sum().backward()
        messages.append(str(error.value))
    assert messages[0] == messages[1]


def test_ops_without_a_differentiable_backward_say_so():
    class Cube(Op):
        """An op whose backward is written on NumPy arrays only."""

        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x ** 3

        @staticmethod
        def backward(ctx, grad):
            (x,) = ctx.saved_tensors
            return grad * 3 * x ** 2

    x = ember.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="double backward") as error:
        ember.autograd.grad(Cube.apply(x).sum(), x, create_graph=True)
    node_name = str(error.value).split(":")[0]
    assert node_name == "CubeBackward0"


def test_gradgradcheck_passes_on_correct_second_derivatives_and_catches_wrong_ones():
    x = ember.tensor([0.3, -0.7, 1.1], dtype=ember.float64, requires_grad=True)
    assert ember.autograd.gradgradcheck(lambda t: (t * t * t).exp().sum(), (x,))

    class WrongSecond(ember.autograd.Function):
        """x**2 whose backward is right but hides its dependence on x from autograd."""

        @staticmethod
        def forward(ctx, t):
            ctx.save_for_backward(t)
            return t * t

        @staticmethod
        def backward(ctx, grad):
            (t,) = ctx.saved_tensors
            return grad * 2 * t.detach()  # the recorded second derivative is 0, not 2

    with pytest.raises(ember.autograd.GradcheckError):
        ember.autograd.gradgradcheck(WrongSecond.apply, (x,))


STOP_GRADIENT = {
    "mul_detach": lambda x: x * x.detach(),
    "detach_first": lambda x: x.detach() * x,
    "mul_data": lambda x: x * x.data,
    "exp_mul_detach": lambda x: x.exp() * x.exp().detach(),
    "div_detach": lambda x: x.detach() / x,
    "matmul_detach": lambda x: (x.reshape(2, 2) @ x.reshape(2, 2).detach()).reshape(-1),
}


@pytest.mark.parametrize("name", list(STOP_GRADIENT))
def test_a_detached_alias_is_a_constant_in_the_recorded_backward(torch, name):
    """An op whose inputs are a tensor and its detached alias (same memory) differentiates
    through the first only, under create_graph too: the second derivatives are torch's."""
    data = np.array([0.5, -1.0, 2.0, 0.25])
    results = []
    for fw in (torch, ember):
        x = fw.tensor(data, requires_grad=True)
        y = x * 1.5
        output = STOP_GRADIENT[name](y)
        (first,) = fw.autograd.grad(output.sum(), x, create_graph=True)
        second = None
        if first.requires_grad:
            (second,) = fw.autograd.grad((first * first).sum(), x)
        results.append((first.detach().numpy(), None if second is None else second.numpy()))
    for ours, theirs in zip(results[1], results[0]):
        assert (ours is None) == (theirs is None)
        if theirs is not None:
            np.testing.assert_allclose(ours, theirs, rtol=1e-12)
