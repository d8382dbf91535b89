"""ember.func's grad, grad_and_value, vjp, jvp, jacrev, jacfwd and hessian against torch.func:
values, output structure (argnums, pytrees, has_aux), composition and the errors users see."""
import numpy as np
import pytest

import ember
from tests.conftest import assert_raises_like_torch, assert_same_result_or_error
from tests.func.helpers import assert_same_tree, inputs, requires_double_backward


def _both(torch, check):
    return check(ember), check(torch)


def cube_sum(x):
    return (x * x * x).sum()


def product_sum(x, y):
    return (x * x * y).sum() + (x * y).exp().sum()


def dict_loss(params, x):
    return ((params["w"] * x).exp() * params["b"]).sum()


def two_outputs(x, y):
    return {"scaled": x * y, "total": (x * x).sum()}


# ---- grad and grad_and_value --------------------------------------------------------------------
@pytest.mark.parametrize("argnums", [0, 1, -1, (0, 1), (1, 0)])
def test_grad_argnums_match_torch(torch, argnums):
    def run(fw):
        x, y = inputs(fw, (3,), (3,))
        return fw.func.grad(product_sum, argnums=argnums)(x, y)
    assert_same_tree(*_both(torch, run))


def test_grad_of_a_dict_of_parameters_and_has_aux_match_torch(torch):
    def run(fw):
        w, b, x = inputs(fw, (2, 3), (3,), (2, 3))

        def loss(params, data):
            value = dict_loss(params, data)
            return value, {"double": value * 2, "pair": (data * 3, params["b"])}
        return fw.func.grad(loss, has_aux=True)({"w": w, "b": b}, x)
    assert_same_tree(*_both(torch, run))


def test_grad_and_value_matches_torch(torch):
    def run(fw):
        x, y = inputs(fw, (3,), (3,))
        plain = fw.func.grad_and_value(product_sum, argnums=(0, 1))(x, y)
        with_aux = fw.func.grad_and_value(lambda a: (cube_sum(a), a * 2), has_aux=True)(x)
        return plain, with_aux
    assert_same_tree(*_both(torch, run))


def test_grad_of_an_unused_argument_is_zero_and_keyword_arguments_pass_through(torch):
    def run(fw):
        x, y = inputs(fw, (3,), (2,))
        unused = fw.func.grad(lambda a, b: cube_sum(a), argnums=1)(x, y)
        keyword = fw.func.grad(lambda a, scale=1.0: cube_sum(a) * scale)(x, scale=3.0)
        return unused, keyword
    assert_same_tree(*_both(torch, run))


@requires_double_backward("mul", "exp", "sum", order=3)
def test_nested_grad_gives_higher_derivatives_like_torch(torch):
    def run(fw):
        (x,) = inputs(fw, (3,))
        first = fw.func.grad(lambda a: (a * a * a * a).exp().sum())
        second = fw.func.grad(lambda a: first(a).sum())
        third = fw.func.grad(lambda a: second(a).sum())
        return first(x), second(x), third(x)
    assert_same_tree(*_both(torch, run))


def test_nested_grad_keeps_variables_apart_like_torch(torch):
    """d/dx [x * d/dy (x * y)] = d/dx [x * x] = 2x: the inner grad must treat the outer x as a
    constant even though both are the same tensor (PyTorch's levels)."""
    def run(fw):
        (x,) = inputs(fw, ())
        return fw.func.grad(lambda a: a * fw.func.grad(lambda b: a * b)(a))(x)
    ours, theirs = _both(torch, run)
    assert_same_tree(ours, theirs)
    np.testing.assert_allclose(ours.numpy(), 2 * inputs(ember, ())[0].numpy())


def test_grad_result_carries_a_graph_only_when_it_reaches_tensors_that_require_grad(torch):
    def run(fw):
        x, w = inputs(fw, (3,), (3,))
        w.requires_grad_(True)
        detached = fw.func.grad(lambda a: (a * a * w.detach()).sum())(x)
        captured = fw.func.grad(lambda a: (a * a * w).sum())(x)
        assert not detached.requires_grad
        assert captured.requires_grad
        (outer,) = fw.autograd.grad(captured.sum(), w)
        return detached, captured, outer
    assert_same_tree(*_both(torch, run))


@pytest.mark.parametrize("outer", ["vjp", "jacrev", "jacfwd", "jvp", "grad"])
def test_an_inner_transform_over_a_tensor_made_inside_leaves_no_graph_like_torch(torch, outer):
    """The inner grad differentiates with respect to a tensor the function creates: once it is
    done, nothing outside requires grad, so the outer results carry no graph either."""
    def run(fw):
        (w,) = inputs(fw, (3,))
        scale = np.array([0.5, -1.0, 2.0])

        def inner_gradient(value):
            return fw.func.grad(lambda a, b: (a * b).sin().sum(), argnums=1)(value,
                                                                                fw.tensor(scale))
        if outer == "vjp":
            output, vjp_fn = fw.func.vjp(inner_gradient, w)
            results = (output, vjp_fn(fw.ones(3, dtype=fw.float64))[0])
        elif outer == "jvp":
            results = fw.func.jvp(inner_gradient, (w,), (fw.ones(3, dtype=fw.float64),))
        elif outer == "grad":
            results = (fw.func.grad(lambda value: inner_gradient(value).sum())(w),)
        else:
            results = (getattr(fw.func, outer)(inner_gradient)(w),)
        assert not any(result.requires_grad for result in results)
        return results
    assert_same_tree(*_both(torch, run))


def test_under_no_grad_results_carry_no_graph_but_are_computed_like_torch(torch):
    def run(fw):
        x, w = inputs(fw, (3,), (3,))
        w.requires_grad_(True)
        with fw.no_grad():
            gradient = fw.func.grad(lambda a: (a * a * w).sum())(x)
            output, vjp_fn = fw.func.vjp(lambda a: a * w, x)
            product = vjp_fn(fw.ones(3, dtype=fw.float64))
        assert not gradient.requires_grad and not output.requires_grad
        assert not product[0].requires_grad
        return gradient, product
    assert_same_tree(*_both(torch, run))


@pytest.mark.parametrize("bad", ["vector", "not_tensor_output", "aux_shape", "aux_type",
                                 "argnum_range", "argnum_type", "argnums_empty",
                                 "argnums_repeated", "argnums_float", "input_type", "int_input"])
def test_grad_errors_match_torch(torch, bad):
    def call(fw):
        (x,) = inputs(fw, (3,))
        grad = fw.func.grad
        if bad == "vector":
            return lambda: grad(lambda a: a * a)(x)
        if bad == "not_tensor_output":
            return lambda: grad(lambda a: 3.0)(x)
        if bad == "aux_shape":
            return lambda: grad(cube_sum, has_aux=True)(x)
        if bad == "aux_type":
            return lambda: grad(lambda a: (cube_sum(a), {"n": 3}), has_aux=True)(x)
        if bad == "argnum_range":
            return lambda: grad(cube_sum, argnums=2)(x)
        if bad == "argnum_type":
            return lambda: grad(cube_sum, argnums=(0, "a"))(x)
        if bad == "argnums_empty":
            return lambda: grad(cube_sum, argnums=())(x)
        if bad == "argnums_repeated":
            return lambda: grad(product_sum, argnums=(0, 0))(x, x)
        if bad == "argnums_float":
            return lambda: grad(cube_sum, argnums=0.0)(x)
        if bad == "input_type":
            return lambda: grad(cube_sum)(3.0)
        return lambda: grad(lambda a: a.sum() * 1.0)(fw.tensor([1, 2]))
    assert_raises_like_torch(call(torch), call(ember), same_type=True)


# ---- vjp and jvp --------------------------------------------------------------------------------
def test_vjp_matches_torch_for_pytrees_and_aux(torch):
    def run(fw):
        x, y = inputs(fw, (3,), (3,))
        output, vjp_fn = fw.func.vjp(two_outputs, x, y)
        cotangents = {"scaled": fw.ones(3, dtype=fw.float64) * 2,
                      "total": fw.tensor(3.0, dtype=fw.float64)}
        output_aux, vjp_aux, aux = fw.func.vjp(lambda a: (a.exp(), a * 5), x, has_aux=True)
        return output, vjp_fn(cotangents), output_aux, vjp_aux(fw.ones(3, dtype=fw.float64)), aux
    assert_same_tree(*_both(torch, run))


def test_vjp_fn_can_be_called_again_and_with_create_graph(torch):
    def run(fw):
        (x,) = inputs(fw, (3,))
        _, vjp_fn = fw.func.vjp(lambda a: (a * a).exp(), x)
        first = vjp_fn(fw.ones(3, dtype=fw.float64))
        again = vjp_fn(fw.ones(3, dtype=fw.float64) * 2)
        return first, again
    assert_same_tree(*_both(torch, run))


@pytest.mark.parametrize("bad", ["cotangent_structure", "output_type", "int_output", "aux"])
def test_vjp_errors_match_torch(torch, bad):
    def call(fw):
        (x,) = inputs(fw, (3,))
        if bad == "cotangent_structure":
            _, vjp_fn = fw.func.vjp(lambda a: (a * 2, a * 3), x)
            return lambda: vjp_fn(x)
        if bad == "output_type":
            return lambda: fw.func.vjp(lambda a: 3, x)
        if bad == "int_output":
            return lambda: fw.func.vjp(lambda a: (a * 2).long(), x)
        return lambda: fw.func.vjp(lambda a: a * 2, x, has_aux=True)
    ours, theirs = call(ember), call(torch)
    if bad == "int_output":  # the dtype prints as ember.int64 / torch.int64
        with pytest.raises(RuntimeError, match="All outputs of f must be floating-point"):
            ours()
        return
    assert_raises_like_torch(theirs, ours, same_type=True)


def test_jvp_matches_torch_for_pytrees_constants_and_aux(torch):
    def run(fw):
        x, y, u, v = inputs(fw, (3,), (3,), (3,), (3,))
        plain = fw.func.jvp(two_outputs, (x, y), (u, v))
        constant = fw.func.jvp(lambda a: fw.ones(3, dtype=fw.float64), (x,), (u,))
        with_aux = fw.func.jvp(lambda a: (a.exp(), a * 2), (x,), (u,), has_aux=True)
        return plain, constant, with_aux
    assert_same_tree(*_both(torch, run))


@pytest.mark.parametrize("bad", ["primals_type", "structure", "empty", "output_type",
                                 "tangent_type", "aux"])
def test_jvp_errors_match_torch(torch, bad):
    def call(fw):
        (x,) = inputs(fw, (3,))
        jvp = fw.func.jvp
        if bad == "primals_type":
            return lambda: jvp(cube_sum, x, x)
        if bad == "structure":
            return lambda: jvp(cube_sum, (x,), (x, x))
        if bad == "empty":
            return lambda: jvp(cube_sum, (), ())
        if bad == "output_type":
            return lambda: jvp(lambda a: 3, (x,), (x,))
        if bad == "tangent_type":
            return lambda: jvp(cube_sum, (x,), (3.0,))
        return lambda: jvp(cube_sum, (x,), (x,), has_aux=True)
    assert_raises_like_torch(call(torch), call(ember), same_type=True)


@pytest.mark.parametrize("bad", ["tangent_shape", "integer_primal", "integer_tangent",
                                 "jacfwd_integer"])
def test_forward_mode_dual_errors_match_torch(torch, bad):
    """PyTorch's make_dual refuses a tangent of another size, and non-floating primals or
    tangents (ValueError), before calling the function."""
    def call(fw):
        (x,) = inputs(fw, (3,))
        whole = fw.arange(3)
        jvp = fw.func.jvp
        if bad == "tangent_shape":
            return lambda: jvp(cube_sum, (x,), (fw.ones(4, dtype=x.dtype),))
        if bad == "integer_primal":
            return lambda: jvp(cube_sum, (whole,), (x,))
        if bad == "integer_tangent":
            return lambda: jvp(cube_sum, (x,), (whole,))
        return lambda: fw.func.jacfwd(lambda a: a * 2.0)(whole)
    with pytest.raises(Exception) as their_error:
        call(torch)()
    with pytest.raises(their_error.type) as our_error:
        call(ember)()
    assert str(our_error.value) == str(their_error.value).replace("torch.", "ember.")


def test_jvp_strict_refuses_an_output_independent_of_the_inputs():
    (x,) = inputs(ember, (3,))
    with pytest.raises(RuntimeError, match="The output of f is independent of the inputs"):
        ember.func.jvp(lambda a: ember.ones(3), (x,), (x,), strict=True)


# ---- Jacobians and Hessians --------------------------------------------------------------------
@pytest.mark.parametrize("transform", ["jacrev", "jacfwd"])
@pytest.mark.parametrize("argnums", [0, 1, (0, 1), (1,)])
def test_jacobians_match_torch_in_values_and_nesting(torch, transform, argnums):
    def run(fw):
        x, y = inputs(fw, (2, 3), (3,))
        jacobian = getattr(fw.func, transform)
        return jacobian(two_outputs, argnums=argnums)(x, y), \
            jacobian(product_sum, argnums=argnums)(x, y)
    assert_same_tree(*_both(torch, run))


@pytest.mark.parametrize("transform", ["jacrev", "jacfwd"])
def test_jacobians_of_dict_inputs_and_aux_match_torch(torch, transform):
    def run(fw):
        w, b, x = inputs(fw, (2, 3), (3,), (2, 3))
        jacobian = getattr(fw.func, transform)
        per_parameter = jacobian(dict_loss)({"w": w, "b": b}, x)
        with_aux = jacobian(lambda a: (a.exp(), a.sum()), has_aux=True)(x)
        return per_parameter, with_aux
    assert_same_tree(*_both(torch, run))


@pytest.mark.parametrize("argnums", [0, (0, 1)])
def test_hessian_matches_torch(torch, argnums):
    def run(fw):
        x, y = inputs(fw, (2,), (2,))
        return fw.func.hessian(product_sum, argnums=argnums)(x, y), \
            fw.func.hessian(dict_loss)({"w": x, "b": y}, x * 2)
    assert_same_tree(*_both(torch, run))


def test_hessian_is_the_jacobian_of_the_gradient():
    (x,) = inputs(ember, (3,))
    reference = ember.func.hessian(cube_sum)(x)
    composed = ember.func.jacrev(ember.func.grad(cube_sum))(x)
    np.testing.assert_allclose(composed.numpy(), reference.numpy())
    np.testing.assert_allclose(reference.numpy(), np.diag(6 * x.numpy()))


@requires_double_backward("mul", "sum", order=3)
@requires_double_backward("reshape", "stack", "index")
def test_forward_over_reverse_agrees_with_reverse_over_reverse():
    (x,) = inputs(ember, (3,))
    forward_over_reverse = ember.func.jacfwd(ember.func.jacrev(cube_sum))(x)
    np.testing.assert_allclose(forward_over_reverse.numpy(),
                               ember.func.hessian(cube_sum)(x).numpy())


def test_jacrev_refuses_a_chunk_size_below_one(torch):
    assert_raises_like_torch(lambda: torch.func.jacrev(cube_sum, chunk_size=0),
                             lambda: ember.func.jacrev(cube_sum, chunk_size=0), same_type=True)


def test_jacfwd_refuses_random_ops_by_default(torch):
    def call(fw):
        (x,) = inputs(fw, (3,))
        return lambda: fw.func.jacfwd(lambda a: a * fw.rand(3, dtype=fw.float64))(x)
    assert_raises_like_torch(call(torch), call(ember), same_type=True)
    (x,) = inputs(ember, (3,))
    jacobian = ember.func.jacfwd(lambda a: a * ember.rand(3, dtype=ember.float64),
                                 randomness="same")(x)
    assert jacobian.shape == (3, 3)


@requires_double_backward("tanh", "matmul")
def test_hessian_of_a_tanh_network_matches_torch(torch):
    def run(fw):
        w, x = inputs(fw, (4, 3), (3,))
        return fw.func.hessian(lambda v: (w @ v).tanh().sum())(x)
    assert_same_tree(*_both(torch, run))


def test_linearize_gives_torch_outputs_and_products_for_pytrees(torch):
    def run(fw):
        x, y, tangent_x, tangent_y = inputs(fw, (3,), (2, 3), (3,), (2, 3))
        output, jvp_fn = fw.func.linearize(
            lambda a, b: (a.sin() * b, {"square": (a * a).sum()}), x, y)
        return output, jvp_fn(tangent_x, tangent_y), jvp_fn(tangent_x * 2, tangent_y * 0)
    assert_same_tree(run(ember), run(torch))


@pytest.mark.parametrize("bad", ["shape", "dtype"])
def test_linearize_tangent_errors_match_torch(torch, bad):
    def call(fw):
        (x,) = inputs(fw, (3,))
        _, jvp_fn = fw.func.linearize(lambda a: a.sin(), x)
        tangent = fw.ones(4, dtype=x.dtype) if bad == "shape" else fw.ones(3, dtype=fw.float16)
        return lambda: jvp_fn(tangent)
    with pytest.raises(RuntimeError) as their_error:
        call(torch)()
    with pytest.raises(RuntimeError) as our_error:
        call(ember)()
    assert str(our_error.value) == str(their_error.value).replace("torch.", "ember.")


@pytest.mark.parametrize("made_inside", [False, True])
def test_transforms_differentiate_under_inference_mode_like_torch(torch, made_inside):
    """PyTorch's transforms give their derivatives inside inference_mode (of an inference tensor
    too), as under no_grad; the results carry no graph."""
    def run(fw):
        with fw.inference_mode(made_inside):
            (x,) = inputs(fw, (3,))
        with fw.inference_mode():
            results = (fw.func.grad(cube_sum)(x),
                       fw.func.vjp(lambda a: a.sin() * a, x)[1](fw.ones_like(x)),
                       fw.func.jvp(lambda a: a.sin() * a, (x,), (fw.ones_like(x),)),
                       fw.func.jacfwd(lambda a: a.sin() * a.sum())(x),
                       fw.func.hessian(cube_sum)(x))
        flat = [results[0], results[1][0], *results[2], results[3], results[4]]
        assert not any(value.requires_grad for value in flat)
        return results
    assert_same_tree(run(ember), run(torch))


def test_functionalize_gives_torchs_values_and_input_mutations(torch):
    def run(fw):
        def mutating(x):
            y = x.clone()
            y.add_(1)
            x.mul_(2)
            return y
        (x,) = inputs(fw, (3,))
        out = fw.func.functionalize(mutating)(x)
        again = fw.func.functionalize(mutating, remove="mutations_and_views")(x)
        gradient = fw.func.grad(fw.func.functionalize(lambda a: (a.clone().mul_(2) ** 2).sum()))(x)
        return out, again, x, gradient
    assert_same_tree(run(ember), run(torch))
    with pytest.raises(RuntimeError) as their_error:
        torch.func.functionalize(cube_sum, remove="views")
    with pytest.raises(RuntimeError) as our_error:
        ember.func.functionalize(cube_sum, remove="views")
    assert str(our_error.value) == str(their_error.value)


@pytest.mark.parametrize("transform", ["grad", "vjp", "jvp", "jacrev", "vmap"])
def test_backward_inside_a_transform_is_refused_like_torch(torch, transform):
    """Even on a tensor of the function's own making: the transform owns the backward sweep."""
    def call(fw):
        def function(x):
            weight = fw.ones(2, requires_grad=True)
            (weight * 2).sum().backward()
            return (x * x).sum()
        (x,) = inputs(fw, (3, 2) if transform == "vmap" else (2,))
        wrapped = {"grad": lambda: fw.func.grad(function)(x),
                   "vjp": lambda: fw.func.vjp(function, x),
                   "jvp": lambda: fw.func.jvp(function, (x,), (x,)),
                   "jacrev": lambda: fw.func.jacrev(function)(x),
                   "vmap": lambda: fw.func.vmap(function)(x)}[transform]
        return wrapped
    assert_raises_like_torch(call(torch), call(ember), RuntimeError, same_type=True)
    x = ember.ones(2, requires_grad=True)
    (x * 3).sum().backward()  # outside a transform again
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 3.0])


def test_jacfwd_checks_randomness_when_called_like_torch(torch):
    def call(fw):
        transformed = fw.func.jacfwd(lambda x: x * 2, randomness="sometimes")
        return lambda: transformed(fw.ones(2))
    assert_raises_like_torch(call(torch), call(ember), RuntimeError, same_type=True)


# ---- custom Functions under forward mode ---------------------------------------------------------
def _scaled_sin(fw, vmappable=True, with_jvp=True):
    """A Function whose jvp deliberately differs from its backward (1.5x on x's tangent), so
    that which one a transform used shows in the values; a float argument gets None in jvp."""

    class ScaledSin(fw.autograd.Function):
        generate_vmap_rule = vmappable

        @staticmethod
        def forward(x, scale, y):
            return x.sin() * y * scale, x * y

        @staticmethod
        def setup_context(ctx, inputs, output):
            x, scale, y = inputs
            ctx.scale = scale
            ctx.save_for_forward(x, y)
            ctx.save_for_backward(x, y)

        @staticmethod
        def backward(ctx, grad_sin, grad_product):
            x, y = ctx.saved_tensors
            return (grad_sin * x.cos() * y * ctx.scale + grad_product * y, None,
                    grad_sin * x.sin() * ctx.scale + grad_product * x)

    if with_jvp:
        def jvp(ctx, tangent_x, tangent_scale, tangent_y):
            assert tangent_scale is None
            x, y = ctx.saved_tensors
            return (1.5 * tangent_x * x.cos() * y * ctx.scale + x.sin() * tangent_y * ctx.scale,
                    tangent_x * y + 2 * x * tangent_y)
        ScaledSin.jvp = staticmethod(jvp)
    return ScaledSin


@pytest.mark.parametrize("transform", ["jvp", "jvp_y", "jacfwd", "linearize", "grad_of_jvp",
                                       "jvp_of_grad", "hessian", "jacrev", "jacfwd_of_vmap",
                                       "vmap_jacfwd", "vmap_hessian"])
def test_custom_function_jvp_is_what_forward_mode_uses_like_torch(torch, transform):
    def run(fw):
        function = _scaled_sin(fw)
        x, y, tangent = inputs(fw, (3,), (3,), (3,))
        f = lambda a: function.apply(a, 2.0, y)  # noqa: E731
        if transform == "jvp":
            return fw.func.jvp(f, (x,), (tangent,))
        if transform == "jvp_y":
            return fw.func.jvp(lambda a, b: function.apply(a, 2.0, b)[0].exp(), (x, y),
                               (tangent, tangent))
        if transform == "jacfwd":
            return fw.func.jacfwd(lambda a, b: function.apply(a, 2.0, b), argnums=(0, 1))(x, y)
        if transform == "linearize":
            return fw.func.linearize(f, x)[1](tangent)
        if transform == "grad_of_jvp":
            x.requires_grad_()
            _, product = fw.func.jvp(lambda a: f(a)[0], (x,), (tangent,))
            return fw.autograd.grad(product.sum(), x)
        if transform == "jvp_of_grad":
            return fw.func.jvp(fw.func.grad(lambda a: f(a)[0].sum()), (x,), (tangent,))
        if transform == "hessian":
            return fw.func.hessian(lambda a: f(a)[0].sum())(x)
        stacked = fw.stack([x, x * 0.5])
        if transform == "jacfwd_of_vmap":
            return fw.func.jacfwd(lambda a: fw.func.vmap(lambda row: f(row)[0])(a))(stacked)
        if transform == "vmap_jacfwd":
            return fw.func.vmap(fw.func.jacfwd(f))(stacked)
        if transform == "vmap_hessian":
            return fw.func.vmap(fw.func.hessian(lambda a: f(a)[0].sum()))(stacked)
        return fw.func.jacrev(f)(x)
    assert_same_tree(*_both(torch, run), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("case", ["no_jvp", "no_jvp_jacfwd", "no_vmap_jacfwd", "no_vmap_hessian",
                                  "ctx_forward_grad", "ctx_forward_jvp"])
def test_custom_function_refusals_under_forward_mode_like_torch(torch, case):
    def program(fw):
        def call():
            x, y, tangent = inputs(fw, (3,), (3,), (3,))
            if case == "no_jvp":
                function = _scaled_sin(fw, with_jvp=False)
                return fw.func.jvp(lambda a: function.apply(a, 2.0, y), (x,), (tangent,))
            if case == "no_jvp_jacfwd":
                function = _scaled_sin(fw, with_jvp=False)
                return fw.func.jacfwd(lambda a: function.apply(a, 2.0, y))(x)
            function = _scaled_sin(fw, vmappable=False)
            if case == "no_vmap_jacfwd":
                return fw.func.jacfwd(lambda a: function.apply(a, 2.0, y))(x)
            if case == "no_vmap_hessian":
                return fw.func.hessian(lambda a: function.apply(a, 2.0, y)[0].sum())(x)

            class Square(fw.autograd.Function):
                @staticmethod
                def forward(ctx, value):
                    return value * value

                @staticmethod
                def backward(ctx, grad):
                    return grad

                @staticmethod
                def jvp(ctx, tangent):
                    return tangent
            if case == "ctx_forward_grad":
                return fw.func.grad(lambda a: Square.apply(a).sum())(x)
            return fw.func.jvp(Square.apply, (x,), (tangent,))
        return call
    error = NotImplementedError if case == "no_jvp" else RuntimeError
    assert_raises_like_torch(program(torch), program(ember), error, same_type=True)


@pytest.mark.parametrize("transform", ["jvp", "jacfwd_weights", "hessian", "functional_hessian"])
def test_embedding_bag_refuses_forward_mode_like_torch(torch, transform):
    """PyTorch's embedding_bag has no forward-mode derivative (nor a double backward): every
    transform that needs one raises its NotImplementedError."""
    def program(fw):
        def call():
            weight, sample_weights = inputs(fw, (6, 3), (5,))
            indices, offsets = fw.tensor([0, 2, 4, 5, 1]), fw.tensor([0, 2])

            def loss(weight, sample_weights):
                bags = fw.nn.functional.embedding_bag(indices, weight, offsets, mode="sum",
                                                      per_sample_weights=sample_weights)
                return (bags ** 2).sum()
            if transform == "jvp":
                return fw.func.jvp(lambda w: loss(w, None), (weight,), (weight,))
            if transform == "jacfwd_weights":
                return fw.func.jacfwd(loss)(weight, sample_weights)
            if transform == "hessian":
                return fw.func.hessian(loss, argnums=1)(weight, sample_weights)
            return fw.autograd.functional.hessian(
                lambda p: loss(weight, p), sample_weights, vectorize=True,
                outer_jacobian_strategy="forward-mode")
        return call
    assert_raises_like_torch(program(torch), program(ember), NotImplementedError, same_type=True)


@pytest.mark.parametrize("source", ["captured_parameter", "primal", "tangent", "none"])
def test_linearize_products_require_grad_like_torch(torch, source):
    """linearize's jvp_fn keeps a graph where PyTorch's does: the function captures a tensor
    that requires grad, the primal or the tangent requires grad."""
    def run(fw):
        x, weight, tangent = inputs(fw, (4, 3), (3,), (4, 3))
        weight.requires_grad_(source == "captured_parameter")
        x.requires_grad_(source == "primal")
        tangent.requires_grad_(source == "tangent")
        _, jvp_fn = fw.func.linearize(lambda a: (a * weight).tanh(), x)
        product = jvp_fn(tangent)
        return product.requires_grad, product
    ours, theirs = _both(torch, run)
    assert ours[0] == theirs[0]
    assert_same_tree(ours[1], theirs[1])


FORWARD_MODE_OPS = {
    "hardsigmoid": lambda fw, a: fw.nn.functional.hardsigmoid(a * 4),
    "embedding_scale_grad_by_freq": lambda fw, a: fw.nn.functional.embedding(
        fw.tensor([0, 0, 2]), a, scale_grad_by_freq=True),
    "multi_margin_loss": lambda fw, a: fw.nn.functional.multi_margin_loss(
        a, fw.tensor([0, 3, 7, 2, 1]), p=2),
    "multilabel_margin_loss": lambda fw, a: fw.nn.functional.multilabel_margin_loss(
        a, fw.tensor([[1, 2, -1] + [0] * 5] * 5)),
    "ctc_loss": lambda fw, a: fw.nn.functional.ctc_loss(
        a.reshape(5, 1, 8).log_softmax(-1), fw.tensor([[1, 2]]), fw.tensor([5]), fw.tensor([2])),
    "pdist": lambda fw, a: fw.nn.functional.pdist(a),
    "cdist": lambda fw, a: fw.cdist(a, a * 2),
    "grid_sample": lambda fw, a: fw.nn.functional.grid_sample(
        a.reshape(1, 1, 5, 8), fw.tensor(np.linspace(-1, 1, 12).reshape(1, 2, 3, 2)),
        align_corners=False),
    "flash_attention": lambda fw, a: fw.nn.functional.multi_head_attention_forward(
        a.reshape(5, 1, 8), a.reshape(5, 1, 8), a.reshape(5, 1, 8), 8, 2,
        fw.eye(24, 8, dtype=a.dtype), None, None, None, False, 0.0, fw.eye(8, dtype=a.dtype),
        None, need_weights=False)[0],
}


@pytest.mark.parametrize("transform", ["jvp", "jacfwd", "forward_ad", "hessian"])
@pytest.mark.parametrize("name", list(FORWARD_MODE_OPS))
def test_forward_mode_through_ops_without_a_double_backward_like_torch(torch, name, transform):
    """Forward mode takes PyTorch's forward derivatives, not the transpose of a backward that
    PyTorch cannot differentiate (hardsigmoid's works, its Hessian raises), nor one that is no
    true transpose (embedding's scale_grad_by_freq); PyTorch's NotImplementedError where it
    has no forward mode (the margin losses, ctc, pdist, cdist, grid_sample, flash attention)."""
    def run(fw):
        x, tangent = inputs(fw, (5, 8), (5, 8))
        function = FORWARD_MODE_OPS[name]
        try:
            if transform == "jvp":
                return fw.func.jvp(lambda a: function(fw, a), (x,), (tangent,))[1]
            if transform == "jacfwd":
                return fw.func.jacfwd(lambda a: function(fw, a).sum())(x)
            if transform == "hessian":
                return fw.func.hessian(lambda a: function(fw, a).sum())(x)
            forward_ad = fw.autograd.forward_ad
            with forward_ad.dual_level():
                dual = forward_ad.make_dual(x, tangent)
                return forward_ad.unpack_dual(function(fw, dual)).tangent
        except NotImplementedError as error:
            return str(error)
    ours, theirs = _both(torch, run)
    if isinstance(theirs, str):
        assert ours == theirs
    else:
        assert_same_tree(ours, theirs, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", ["norm_of_a_zero_row", "normalize_zero_row", "prelu_at_zero",
                                  "cosine_similarity_zero", "model_loss"])
def test_hessian_is_forward_over_reverse_at_kinks_like_torch(torch, name):
    """torch.func.hessian is jacfwd(jacrev): at a norm's zero or prelu's kink its values are
    forward mode's (reverse over reverse gives NaN or other values there)."""
    def run(fw):
        data = np.array([[1.0, -2.0, 0.5], [0.0, 0.0, 0.0], [0.0, 3.0, -1.0]])
        x = fw.tensor(data)
        functional = fw.nn.functional
        function = {
            "norm_of_a_zero_row": lambda a: (a.norm(dim=1) ** 2).sum() + a.norm(dim=1).sum(),
            "normalize_zero_row": lambda a: (functional.normalize(a, dim=1) * a).sum(),
            "prelu_at_zero": lambda a: (functional.prelu(a, a.new_tensor([0.25])) ** 2).sum(),
            "cosine_similarity_zero": lambda a: functional.cosine_similarity(a, a.flip(0)).sum(),
            "model_loss": lambda a: (a.tanh() @ a.T).sin().sum(),
        }[name]
        return fw.func.hessian(function)(x)
    ours, theirs = _both(torch, run)
    assert_same_tree(ours, theirs, rtol=1e-9, atol=1e-9)


def _aux_graphs(fw):
    """(requires_grad, has a grad_fn) of each aux tensor that each transform returns, for aux
    that depends only on the transform's input, on a module's parameters, or on neither."""
    fw.manual_seed(0)
    layer = fw.nn.Linear(3, 2)
    x = fw.randn(4, 3)

    def through_layer(v):
        out = layer(v)
        return out.sum(), (v.sum(), out, v.detach() * 2, layer.weight.sum())

    def through_input(v):
        return (v ** 2).sum(), (v.sum(), layer(v))
    func = fw.func
    calls = {
        "grad": lambda f: func.grad(f, has_aux=True)(x)[1],
        "grad_and_value": lambda f: func.grad_and_value(f, has_aux=True)(x)[1][1],
        "vjp": lambda f: func.vjp(f, x, has_aux=True)[2],
        "jvp": lambda f: func.jvp(f, (x,), (fw.ones_like(x),), has_aux=True)[2],
        "jacrev": lambda f: func.jacrev(f, has_aux=True)(x)[1],
        "jacfwd": lambda f: func.jacfwd(f, has_aux=True)(x)[1],
        "vmap(grad)": lambda f: func.vmap(func.grad(f, has_aux=True))(x)[1],
    }
    results = {}
    for name, call in calls.items():
        for f in (through_layer, through_input):
            results[name, f.__name__] = [(value.requires_grad, value.grad_fn is not None)
                                         for value in call(f)]
        with fw.no_grad():
            results[name, "no_grad"] = [value.requires_grad for value in call(through_layer)]
    return results


def test_aux_keeps_a_graph_only_to_tensors_outside_the_transform_as_torch(torch):
    """PyTorch unwraps aux to the caller's level: an aux made from the transform's input alone
    has no graph, one through a module's parameters keeps it, whatever the main output needs."""
    assert _aux_graphs(ember) == _aux_graphs(torch)


def _cube_function(fw, vmap_support, with_jvp):
    """x ** 3 as a custom Function (setup_context form) with or without ``jvp``, and with a
    vmap staticmethod, a generated vmap rule or no vmap support."""
    class Cube(fw.autograd.Function):
        generate_vmap_rule = vmap_support == "generated"

        @staticmethod
        def forward(x):
            return x ** 3

        @staticmethod
        def setup_context(ctx, inputs, output):
            ctx.save_for_backward(inputs[0])
            ctx.save_for_forward(inputs[0])

        @staticmethod
        def backward(ctx, grad_output):
            (x,) = ctx.saved_tensors
            return grad_output * 3 * x ** 2

        if with_jvp:
            @staticmethod
            def jvp(ctx, tangent):
                (x,) = ctx.saved_tensors
                return tangent * 3 * x ** 2

        if vmap_support == "rule":
            @staticmethod
            def vmap(info, in_dims, x):
                return Cube.apply(x), in_dims[0]
    return Cube


_SECOND_ORDER = {
    "hessian": lambda func, f: func.hessian(f),
    "jacfwd(jacrev)": lambda func, f: func.jacfwd(func.jacrev(f)),
    "jacrev(jacrev)": lambda func, f: func.jacrev(func.jacrev(f)),
    "jvp(grad)": lambda func, f: lambda x: func.jvp(func.grad(f), (x,), (x * 0 + 1,))[1],
}


@pytest.mark.parametrize("transform", sorted(_SECOND_ORDER))
@pytest.mark.parametrize("vmap_support", ["rule", "generated", "none"])
@pytest.mark.parametrize("with_jvp", [True, False], ids=["jvp", "no-jvp"])
def test_second_order_transforms_through_a_custom_function_run_or_fail_as_torch(
        torch, transform, vmap_support, with_jvp):
    """Forward over reverse runs the Function's forward on dual tensors: PyTorch needs its jvp
    (and, batched under jacfwd, its vmap support); reverse over reverse needs neither."""
    def call(fw):
        cube = _cube_function(fw, vmap_support, with_jvp)
        x = fw.tensor([0.5, -1.0, 2.0], dtype=fw.float64)
        return lambda: _SECOND_ORDER[transform](fw.func, lambda v: cube.apply(v).sum())(x)
    try:
        expected = call(torch)()
    except (RuntimeError, NotImplementedError):
        assert_raises_like_torch(call(torch), call(ember), Exception, same_type=True)
        return
    np.testing.assert_allclose(call(ember)().numpy(), expected.numpy(), rtol=1e-12)


@pytest.mark.parametrize("transform", ["jacfwd", "jvp", "hessian", "jacrev"])
@pytest.mark.parametrize("vmap_support", ["rule", "none"])
def test_a_custom_function_on_weights_only_needs_no_jvp_as_torch(torch, transform, vmap_support):
    """A Function applied to tensors without tangents (a module's weights) does not run through
    forward mode: no jvp needed; jacfwd and hessian (vmap inside) still need its vmap support."""
    def call(fw):
        cube = _cube_function(fw, vmap_support, False)
        weight = fw.tensor([[0.5, -1.0], [2.0, 0.3]], dtype=fw.float64, requires_grad=True)
        x = fw.tensor([1.0, -2.0], dtype=fw.float64)

        def f(v):
            return cube.apply(weight) @ v.sin()
        calls = {"jacfwd": lambda: fw.func.jacfwd(f)(x),
                 "jvp": lambda: fw.func.jvp(f, (x,), (x,))[1],
                 "hessian": lambda: fw.func.hessian(lambda v: f(v).sum())(x),
                 "jacrev": lambda: fw.func.jacrev(f)(x)}
        return calls[transform]
    assert_same_result_or_error(call(torch), call(ember))


def test_jacfwd_takes_every_column_in_one_batched_sweep_like_torchs_vmapped_jvp(torch,
                                                                                monkeypatch):
    """The jacobians tutorial's jacfwd of a 48-input layer and hessian (jacfwd of jacrev): torch's
    values, from one backward-of-backward per Jacobian instead of one per input element."""
    from ember.func import _eager
    calls = []
    inner = _eager._autograd_grad
    monkeypatch.setattr(_eager, "_autograd_grad",
                        lambda *args, **kwargs: calls.append(1) or inner(*args, **kwargs))

    def run(fw):
        weight, bias, x = inputs(fw, (20, 48), (20,), (48,), dtype="float32")

        def predict(w, b, v):
            return fw.nn.functional.linear(v, w, b).tanh()
        jacobian = fw.func.jacfwd(predict, argnums=2)(weight, bias, x)
        hessian = fw.func.hessian(lambda v: predict(weight[:, :12], bias, v).sum())(x[:12])
        pair = fw.func.jacfwd(lambda a, c: (a * c).sin(), argnums=(0, 1))(x[:5], x[5:10])
        return jacobian, hessian, pair
    ours = run(ember)
    assert len(calls) < 12  # a loop over the 48 + 12 + 10 input elements made 70 and more
    assert_same_tree(ours, run(torch), rtol=1e-5, atol=1e-6)


def test_jacrev_chunk_size_takes_rows_in_chunks_like_torch(torch, monkeypatch):
    """``chunk_size`` bounds the rows one batched backward takes (as the 2**26-element basis
    limit does for large Jacobians): ten outputs in chunks of three are four backwards."""
    from ember.func import _eager
    calls = []
    inner = _eager._autograd_grad
    monkeypatch.setattr(_eager, "_autograd_grad",
                        lambda *args, **kwargs: calls.append(1) or inner(*args, **kwargs))

    def run(fw):
        weight, x = inputs(fw, (10, 6), (6,), dtype="float32")
        return fw.func.jacrev(lambda v: (weight @ v).sin() * v.sum(), chunk_size=3)(x)
    ours = run(ember)
    assert len(calls) == 4
    assert_same_tree(ours, run(torch), rtol=1e-5, atol=1e-6)


def _complex(library):
    return library.ones(2, dtype=library.complex64)


COMPLEX_MISUSE = {
    "jacrev complex output": lambda lib: lib.func.jacrev(lambda x: x * 1j)(lib.ones(2)),
    "jacrev second output complex": lambda lib: lib.func.jacrev(lambda x: (x, x * 1j))(
        lib.ones(2)),
    "jacrev complex input": lambda lib: lib.func.jacrev(lambda x: x.abs())(_complex(lib)),
    "jacrev complex non-differentiated input": lambda lib: lib.func.jacrev(
        lambda x, y: x * y.real)(lib.ones(2), _complex(lib)),
    "jacrev complex input before argnums": lambda lib: lib.func.jacrev(
        lambda x: x.abs(), argnums=3)(_complex(lib)),
    "jacfwd complex output": lambda lib: lib.func.jacfwd(lambda x: x * 1j)(lib.ones(2)),
    "jacfwd second output complex": lambda lib: lib.func.jacfwd(lambda x: (x, x * 1j))(
        lib.ones(2)),
    "jacfwd complex input": lambda lib: lib.func.jacfwd(lambda x: x.abs())(_complex(lib)),
    "jacfwd complex input before randomness": lambda lib: lib.func.jacfwd(
        lambda x: x.abs(), randomness="x")(_complex(lib)),
    "hessian complex input": lambda lib: lib.func.hessian(lambda x: x.abs().sum())(
        _complex(lib)),
    "grad of a complex output": lambda lib: lib.func.grad(lambda x: x.sum() * 1j)(lib.ones(2)),
    "vjp_fn of a float cotangent": lambda lib: lib.func.vjp(lambda x: x * 2, lib.ones(2))[1](1.0),
    "vjp_fn of a str in the cotangents": lambda lib: lib.func.vjp(
        lambda x: (x, x), lib.ones(2))[1]((lib.ones(2), "a")),
}


@pytest.mark.parametrize("case", sorted(COMPLEX_MISUSE))
def test_complex_and_non_tensor_misuse_fails_like_torch(torch, case):
    """jacrev and jacfwd refuse complex inputs (all of them, first) and outputs; grad refuses a
    complex output as autograd's implicit seed does; vjp_fn refuses a non-tensor cotangent."""
    make = COMPLEX_MISUSE[case]
    with pytest.raises(Exception) as theirs:
        make(torch)
    with pytest.raises(theirs.type) as ours:
        make(ember)
    # ember names its dtypes ember.complex64
    assert str(ours.value) == str(theirs.value).replace("torch.", "ember.")


@pytest.mark.parametrize("complex_input", [False, True])
def test_vjp_of_a_complex_output_matches_torch(torch, complex_input):
    """func.vjp takes complex outputs (ember refused them): the cotangent's conjugate flows back,
    as in PyTorch."""
    results = []
    for library in (ember, torch):
        dtype = library.complex128 if complex_input else library.float64
        primal = library.tensor([1.0, 2.0], dtype=dtype)
        output, vjp_fn = library.func.vjp(lambda x: (x * (1 + 2j)).exp(), primal)
        (gradient,) = vjp_fn(library.tensor([1 + 1j, 2 - 1j], dtype=library.complex128))
        results.append((output.numpy(), gradient.numpy(), str(gradient.dtype).split(".")[-1]))
    np.testing.assert_allclose(results[0][0], results[1][0], rtol=1e-12)
    np.testing.assert_allclose(results[0][1], results[1][1], rtol=1e-12)
    assert results[0][2] == results[1][2]
