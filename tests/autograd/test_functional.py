"""ember.autograd.functional against torch.autograd.functional: values, output structure (tensor
or tuple inputs and outputs, nested tuples of Jacobian and Hessian blocks), create_graph, strict
mode and the errors users see."""
import numpy as np
import pytest

import ember
from ember.autograd import functional
from tests.conftest import assert_raises_like_torch
from tests.func.helpers import assert_same_tree, inputs, requires_double_backward


# Functions written once for either framework, from ops whose double backward ember has.
def exp_reducer(x):
    return x.exp().sum(1)


def adder(x, y):
    return 2 * x + 3 * y


def cube_sum(x):
    return (x * x * x).sum()


def mixed(x, y):
    return (x * y).exp(), (x * x).sum() - y.sum()


def scalar_of_two(x, y):
    return (x * x * y + y.exp()).sum()


def linear_of(x):
    return 3 * x


def ignores_second(x, y):
    return (x * x).sum()


def _both(torch, check):
    """Run ``check(framework)`` for ember and torch; return (ours, theirs)."""
    return check(ember), check(torch)


# ---- vjp ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("case", ["single", "tuple_inputs", "tuple_outputs", "scalar_no_v"])
def test_vjp_values_and_structure_match_torch(torch, case):
    def run(fw):
        F = fw.autograd.functional
        if case == "single":
            (x,) = inputs(fw, (4, 3))
            (v,) = inputs(fw, (4,), seed=1)
            return F.vjp(exp_reducer, x, v)
        if case == "tuple_inputs":
            x, y = inputs(fw, (2,), (2,))
            return F.vjp(adder, (x, y), fw.ones(2, dtype=fw.float64))
        if case == "tuple_outputs":
            x, y = inputs(fw, (3,), (3,))
            v = (fw.ones(3, dtype=fw.float64), fw.tensor(2.0, dtype=fw.float64))
            return F.vjp(mixed, (x, y), v)
        (x,) = inputs(fw, (3,))
        return F.vjp(cube_sum, x)
    ours, theirs = _both(torch, run)
    assert_same_tree(ours, theirs)
    assert not any(value.requires_grad for value in _leaves(ours))


def _leaves(tree):
    if isinstance(tree, ember.Tensor):
        return [tree]
    return [leaf for item in tree for leaf in _leaves(item)]


def test_vjp_with_create_graph_is_differentiable_like_torch(torch):
    def run(fw):
        (x,) = inputs(fw, (4, 3), requires_grad=True)
        (v,) = inputs(fw, (4,), seed=1)
        output, product = fw.autograd.functional.vjp(exp_reducer, x, v, create_graph=True)
        assert output.requires_grad and product.requires_grad
        (second,) = fw.autograd.grad((product * product).sum(), x)
        return product, second
    assert_same_tree(*_both(torch, run))


def test_vjp_fills_zeros_for_unused_inputs_unless_strict(torch):
    def run(fw):
        x, y = inputs(fw, (3,), (2,))
        return fw.autograd.functional.vjp(ignores_second, (x, y))
    assert_same_tree(*_both(torch, run))

    def strict(fw):
        x, y = inputs(fw, (3,), (2,))
        return lambda: fw.autograd.functional.vjp(ignores_second, (x, y), strict=True)
    assert_raises_like_torch(strict(torch), strict(ember), RuntimeError)


@pytest.mark.parametrize("bad", ["length", "size", "none_for_vector", "not_tensor", "constant"])
def test_vjp_errors_match_torch(torch, bad):
    def call(fw):
        x, y = inputs(fw, (3,), (3,))
        F = fw.autograd.functional
        if bad == "length":
            return lambda: F.vjp(mixed, (x, y), (fw.ones(3, dtype=fw.float64),))
        if bad == "size":
            return lambda: F.vjp(linear_of, x, fw.ones(2, dtype=fw.float64))
        if bad == "none_for_vector":
            return lambda: F.vjp(linear_of, x)
        if bad == "not_tensor":
            return lambda: F.vjp(linear_of, (x, 2.0))
        return lambda: F.vjp(lambda value: fw.ones(3), x, fw.ones(3), strict=True)
    assert_raises_like_torch(call(torch), call(ember), same_type=True)


# ---- jvp ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("case", ["single", "tuple_inputs", "tuple_outputs"])
def test_jvp_values_and_structure_match_torch(torch, case):
    def run(fw):
        F = fw.autograd.functional
        if case == "single":
            (x,) = inputs(fw, (4, 3))
            (v,) = inputs(fw, (4, 3), seed=1)
            return F.jvp(exp_reducer, x, v)
        x, y = inputs(fw, (3,), (3,))
        v = inputs(fw, (3,), (3,), seed=2)
        return F.jvp(adder if case == "tuple_inputs" else mixed, (x, y), v)
    assert_same_tree(*_both(torch, run))


def test_jvp_strict_errors_match_torch(torch):
    def independent(fw):
        x, y = inputs(fw, (3,), (2,))
        return lambda: fw.autograd.functional.jvp(
            lambda a, b: a * 2, (x, y), (x, y), strict=True)

    def none_output(fw):
        (x,) = inputs(fw, (3,))
        return lambda: fw.autograd.functional.jvp(
            lambda a: (a * a, fw.ones(2, dtype=fw.float64)), x, x, strict=True)
    assert_raises_like_torch(independent(torch), independent(ember), same_type=True)
    assert_raises_like_torch(none_output(torch), none_output(ember), same_type=True)


# ---- jacobian -----------------------------------------------------------------------------------
@pytest.mark.parametrize("vectorize", [False, True])
@pytest.mark.parametrize("case", ["single", "tuple_inputs", "tuple_outputs", "both"])
def test_jacobian_values_and_structure_match_torch(torch, case, vectorize):
    def run(fw):
        x, y = inputs(fw, (2, 3), (2, 3))
        function = {"single": exp_reducer, "tuple_inputs": adder,
                    "tuple_outputs": lambda a: mixed(a, a), "both": mixed}[case]
        arguments = (x, y) if case in ("tuple_inputs", "both") else x
        return fw.autograd.functional.jacobian(function, arguments, vectorize=vectorize)
    assert_same_tree(*_both(torch, run))


@pytest.mark.parametrize("case", ["single", "both"])
def test_forward_mode_jacobian_matches_torch(torch, case):
    def run(fw):
        x, y = inputs(fw, (2, 3), (2, 3))
        function, arguments = (exp_reducer, x) if case == "single" else (mixed, (x, y))
        return fw.autograd.functional.jacobian(function, arguments, vectorize=True,
                                               strategy="forward-mode")
    assert_same_tree(*_both(torch, run))


def test_forward_mode_jacobian_keeps_the_graph_of_inputs_that_require_grad_like_torch(torch):
    """PyTorch's forward-mode Jacobian is differentiable with respect to inputs that require
    grad (its tangents carry their graph), without create_graph; each output's blocks alike."""
    def run(fw):
        (x,) = inputs(fw, (3,), requires_grad=True)
        (y,) = inputs(fw, (2,))
        blocks = fw.autograd.functional.jacobian(
            lambda a, b: (a.sin() * a.sum() * b[0], b * 2, (a * a).sum()), (x, y),
            vectorize=True, strategy="forward-mode")
        flags = [[block.requires_grad for block in row] for row in blocks]
        total = sum((block * block).sum() for row in blocks for block in row
                    if block.requires_grad)
        return flags, blocks, fw.autograd.grad(total, x)
    ours, theirs = _both(torch, run)
    assert ours[0] == theirs[0] == [[True, True], [False, False], [True, True]]
    assert_same_tree(ours[1:], theirs[1:])


@pytest.mark.parametrize("use", ["captured_parameter", "plain", "hessian", "hessian_captured",
                                 "hessian_reverse"])
def test_forward_mode_results_require_grad_where_torchs_do(torch, use):
    """PyTorch's forward-mode Jacobian keeps a graph when its function's outputs reach a tensor
    that requires grad (a captured parameter), and its forward-over-reverse Hessian always
    (the inner gradient has a graph of its own); the reverse-mode ones detach."""
    def run(fw):
        (x,) = inputs(fw, (3,))
        (weight,) = inputs(fw, (3,), seed=1, requires_grad=True)
        functional = fw.autograd.functional
        result = {
            "captured_parameter": lambda: functional.jacobian(
                lambda a: a.sin() * weight, x, vectorize=True, strategy="forward-mode"),
            "plain": lambda: functional.jacobian(lambda a: a.sin() * 2, x, vectorize=True,
                                                 strategy="forward-mode"),
            "hessian": lambda: functional.hessian(lambda a: (a.sin() * a).sum(), x,
                                                  vectorize=True,
                                                  outer_jacobian_strategy="forward-mode"),
            "hessian_captured": lambda: functional.hessian(
                lambda a: (a.sin() * weight).sum(), x, vectorize=True,
                outer_jacobian_strategy="forward-mode"),
            "hessian_reverse": lambda: functional.hessian(
                lambda a: (a.sin() * weight).sum(), x, vectorize=True),
        }[use]()
        return result.requires_grad, result
    ours, theirs = _both(torch, run)
    assert ours[0] == theirs[0]
    assert_same_tree(ours[1], theirs[1])


def test_forward_mode_jacobian_of_a_scalar_is_a_scalar_like_torch(torch):
    def run(fw):
        x = fw.tensor(1.5, dtype=fw.float64)
        return fw.autograd.functional.jacobian(lambda a: a * a, x, vectorize=True,
                                               strategy="forward-mode")
    torch_result, ember_result = _both(torch, run)
    assert tuple(ember_result.shape) == tuple(torch_result.shape) == ()
    assert_same_tree(torch_result, ember_result)


def test_jacobian_of_an_output_that_ignores_an_input_is_zero(torch):
    def run(fw):
        x, y = inputs(fw, (3,), (2,))
        return fw.autograd.functional.jacobian(ignores_second, (x, y))
    assert_same_tree(*_both(torch, run))


def test_jacobian_with_create_graph_is_differentiable_like_torch(torch):
    def run(fw):
        (x,) = inputs(fw, (2, 3), requires_grad=True)
        jacobian = fw.autograd.functional.jacobian(exp_reducer, x, create_graph=True)
        assert jacobian.requires_grad
        (second,) = fw.autograd.grad((jacobian * jacobian).sum(), x)
        return jacobian, second
    assert_same_tree(*_both(torch, run))


def test_vectorized_jacobian_with_create_graph_links_blocks_like_torch(torch):
    """vectorize=True cuts each input's blocks from one batched backward over all outputs: a
    zero block of an input that another output reaches requires grad too, as in PyTorch."""
    def run(fw):
        x, y, unused = inputs(fw, (3,), (3,), (2,), requires_grad=True)
        blocks = fw.autograd.functional.jacobian(
            lambda a, b, c: (a * b.exp(), (a * a).sum()), (x, y, unused), create_graph=True,
            vectorize=True)
        flags = [[block.requires_grad for block in row] for row in blocks]
        total = sum((block * block).sum() for row in blocks for block in row
                    if block.requires_grad)
        return flags, blocks, fw.autograd.grad(total, (x, y))
    ours, theirs = _both(torch, run)
    assert ours[0] == theirs[0] == [[True, True, False], [True, True, False]]
    assert_same_tree(ours[1:], theirs[1:])


@pytest.mark.parametrize("as_tuples", [False, True])
def test_vectorized_jacobian_with_create_graph_of_a_linear_function_like_torch(torch, as_tuples):
    """A linear function's rows carry no graph: they are still its Jacobian, not zeros."""
    def run(fw):
        x, y = inputs(fw, (3,), (2,))
        if as_tuples:
            return fw.autograd.functional.jacobian(lambda a, b: (a * 2, 3 * b), (x, y),
                                                   create_graph=True, vectorize=True)
        return fw.autograd.functional.jacobian(linear_of, x, create_graph=True, vectorize=True)
    assert_same_tree(*_both(torch, run))


@pytest.mark.parametrize("bad", ["strategy", "forward_graph", "forward_strict",
                                 "forward_unvectorized", "vectorized_strict", "strict_unused",
                                 "strict_linear_graph", "output_type"])
def test_jacobian_errors_match_torch(torch, bad):
    def call(fw):
        x, y = inputs(fw, (3,), (2,))
        jacobian = fw.autograd.functional.jacobian
        if bad == "strategy":
            return lambda: jacobian(linear_of, x, strategy="sideways")
        if bad == "forward_graph":
            return lambda: jacobian(linear_of, x, create_graph=True, strategy="forward-mode")
        if bad == "forward_strict":
            return lambda: jacobian(linear_of, x, strict=True, strategy="forward-mode")
        if bad == "forward_unvectorized":
            return lambda: jacobian(linear_of, x, strategy="forward-mode")
        if bad == "vectorized_strict":
            return lambda: jacobian(linear_of, x, strict=True, vectorize=True)
        if bad == "strict_unused":
            return lambda: jacobian(ignores_second, (x, y), strict=True)
        if bad == "strict_linear_graph":
            (leaf,) = inputs(fw, (3,), requires_grad=True)
            return lambda: jacobian(linear_of, leaf, strict=True, create_graph=True)
        return lambda: jacobian(lambda value: [value], x)
    assert_raises_like_torch(call(torch), call(ember), same_type=True)


# ---- hessian, vhp, hvp --------------------------------------------------------------------------
@pytest.mark.parametrize("strategy", [
    "reverse-mode",
    # The double backward trick over a gradient: third derivatives.
    pytest.param("forward-mode", marks=requires_double_backward("mul", "sum", "exp", order=3))])
@pytest.mark.parametrize("tupled", [False, True])
def test_hessian_values_and_structure_match_torch(torch, tupled, strategy):
    def run(fw):
        x, y = inputs(fw, (2, 2), (2, 2))
        function, arguments = (scalar_of_two, (x, y)) if tupled else (cube_sum, x)
        return fw.autograd.functional.hessian(function, arguments, vectorize=True,
                                              outer_jacobian_strategy=strategy)
    assert_same_tree(*_both(torch, run))


@requires_double_backward("mul", "sum", order=3)
def test_hessian_with_create_graph_is_differentiable_like_torch(torch):
    def run(fw):
        (x,) = inputs(fw, (3,), requires_grad=True)
        hessian = fw.autograd.functional.hessian(cube_sum, x, create_graph=True)
        (third,) = fw.autograd.grad(hessian.sum(), x)
        return hessian, third
    assert_same_tree(*_both(torch, run))


@pytest.mark.parametrize("bad", ["tuple_output", "vector_output", "strategy", "strict_linear",
                                 "strict_unused"])
def test_hessian_errors_match_torch(torch, bad):
    def call(fw):
        x, y = inputs(fw, (3,), (2,))
        hessian = fw.autograd.functional.hessian
        if bad == "tuple_output":
            return lambda: hessian(lambda value: (value.sum(), value.sum()), x)
        if bad == "vector_output":
            return lambda: hessian(linear_of, x)
        if bad == "strategy":
            return lambda: hessian(cube_sum, x, outer_jacobian_strategy="sideways")
        if bad == "strict_linear":
            return lambda: hessian(lambda value: (3 * value).sum(), x, strict=True)
        return lambda: hessian(ignores_second, (x, y), strict=True)
    assert_raises_like_torch(call(torch), call(ember), same_type=True)


@pytest.mark.parametrize("name", [
    "vhp",
    # hvp differentiates the gradient's graph with create_graph: third derivatives of the ops.
    pytest.param("hvp", marks=requires_double_backward("mul", "sum", "exp", order=3))])
@pytest.mark.parametrize("tupled", [False, True])
def test_vhp_and_hvp_match_torch(torch, name, tupled):
    def run(fw):
        x, y = inputs(fw, (2, 2), (2, 2))
        u, w = inputs(fw, (2, 2), (2, 2), seed=3)
        product = getattr(fw.autograd.functional, name)
        if tupled:
            return product(scalar_of_two, (x, y), (u, w))
        return product(cube_sum, x, u)
    assert_same_tree(*_both(torch, run))


@pytest.mark.parametrize("name", ["vhp", "hvp"])
def test_vhp_and_hvp_strict_and_shape_errors_match_torch(torch, name):
    def call(fw, bad):
        x, y = inputs(fw, (3,), (2,))
        product = getattr(fw.autograd.functional, name)
        if bad == "unused":
            return lambda: product(ignores_second, (x, y), (x, y), strict=True)
        if bad == "linear":
            return lambda: product(lambda value: (3 * value).sum(), x, x, strict=True)
        if bad == "vector":
            return lambda: product(linear_of, x, x)
        return lambda: product(cube_sum, x)
    for bad in ("unused", "linear", "vector", "no_v"):
        assert_raises_like_torch(call(torch, bad), call(ember, bad), same_type=True)


def test_results_detach_unless_create_graph():
    x = ember.tensor([1.0, 2.0], dtype=ember.float64, requires_grad=True)
    for product in (functional.vjp, functional.jvp):
        output, result = product(lambda value: value * value, x, ember.ones(2, dtype=ember.float64))
        assert not output.requires_grad and not result.requires_grad
    jacobian = functional.jacobian(lambda value: value * value, x)
    assert not jacobian.requires_grad
    np.testing.assert_allclose(jacobian.numpy(), [[2.0, 0.0], [0.0, 4.0]])


def test_a_function_capturing_its_input_is_differentiated_through_the_argument_only():
    """The input is a fresh tensor inside: the closure's copy stays a constant (PyTorch's
    _grad_preprocess makes the same distinction)."""
    x = ember.tensor([1.0, 2.0], dtype=ember.float64, requires_grad=True)
    jacobian = functional.jacobian(lambda value: value * x, x)
    np.testing.assert_allclose(jacobian.detach().numpy(), np.diag([1.0, 2.0]))
    _, product = functional.vjp(lambda value: (value * x).sum(), x, create_graph=True)
    (second,) = ember.autograd.grad(product.sum(), x)
    np.testing.assert_allclose(second.numpy(), [1.0, 1.0])


@pytest.mark.parametrize("options", [{}, {"create_graph": True}, {"strict": True},
                                     {"vectorize": True},
                                     {"vectorize": True, "create_graph": True}], ids=str)
@pytest.mark.parametrize("case", ["output empty", "one output empty", "input empty",
                                  "one input empty", "hessian of empty"])
def test_jacobian_of_empty_outputs_fails_or_runs_as_torch(torch, case, options):
    """PyTorch's reverse-mode jacobian stacks no rows for an output without elements (a
    RuntimeError), and its vectorized form fails only when every output is empty."""
    def call(fw):
        functional = fw.autograd.functional
        calls = {
            "output empty": lambda: functional.jacobian(lambda v: v[:0] * 2, fw.ones(3),
                                                        **options),
            "one output empty": lambda: functional.jacobian(lambda v: (v * 2, v[:0]),
                                                            fw.ones(3), **options),
            "input empty": lambda: functional.jacobian(lambda v: v.sum() + fw.ones(2),
                                                       fw.ones(0), **options),
            "one input empty": lambda: functional.jacobian(lambda a, b: a * 2 + b.sum(),
                                                           (fw.ones(3), fw.ones(0)), **options),
            "hessian of empty": lambda: functional.hessian(lambda v: (v ** 2).sum(),
                                                           fw.ones(0), **options),
        }
        return calls[case]
    try:
        expected = call(torch)()
    except (RuntimeError, IndexError):
        assert_raises_like_torch(call(torch), call(ember), Exception, same_type=True)
        return
    result = call(ember)()

    def flat(value):
        return list(value) if isinstance(value, tuple) else [value]
    assert [tuple(item.shape) for item in flat(result)] == \
        [tuple(item.shape) for item in flat(expected)]
    for mine, theirs in zip(flat(result), flat(expected)):
        np.testing.assert_array_equal(mine.detach().numpy(), theirs.detach().numpy())
