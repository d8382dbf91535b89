"""ember.autograd.forward_ad against torch.autograd.forward_ad: dual tensors, tangents, levels,
errors, and the forward-mode tutorial's function and module patterns."""
import numpy as np
import pytest

import ember
import ember.autograd.forward_ad as fwAD


def _pair(torch, *shape, dtype=np.float32):
    array = np.random.randn(*shape).astype(dtype)
    return ember.tensor(array), torch.tensor(array)


def _close(ember_tensor, torch_tensor, tolerance=1e-5):
    np.testing.assert_allclose(ember_tensor.detach().numpy(), torch_tensor.detach().numpy(),
                               rtol=tolerance, atol=tolerance)


def _error(call):
    with pytest.raises(Exception) as info:
        call()
    return type(info.value), str(info.value).replace("torch.", "ember.")  # dtype names


def _run_both(torch, program):
    """``program(framework, forward_ad)`` on torch and on ember: both results."""
    import torch.autograd.forward_ad as torch_fwAD
    return program(torch, torch_fwAD), program(ember, fwAD)


def test_function_of_dual_inputs(torch):
    primal, primal_t = _pair(torch, 4, 3)
    tangent, tangent_t = _pair(torch, 4, 3)
    other, other_t = _pair(torch, 3)

    def function(framework, x, y):
        return (x.sin() * y).exp().sum(dim=1) + x.tanh().mean()

    with fwAD.dual_level():
        out = function(ember, fwAD.make_dual(primal, tangent), other)
        result = fwAD.unpack_dual(out)
    import torch.autograd.forward_ad as torch_fwAD
    with torch_fwAD.dual_level():
        out_t = function(torch, torch_fwAD.make_dual(primal_t, tangent_t), other_t)
        expected = torch_fwAD.unpack_dual(out_t)
    assert type(result).__name__ == "UnpackedDualTensor"
    assert result._fields == ("primal", "tangent")
    _close(result.primal, expected.primal)
    _close(result.tangent, expected.tangent)
    assert result.primal.requires_grad is expected.primal.requires_grad is False
    assert result.tangent.requires_grad is expected.tangent.requires_grad is False


def test_two_duals_and_a_dual_unpacked(torch):
    (a, a_t), (b, b_t) = _pair(torch, 5), _pair(torch, 5)
    (ta, ta_t), (tb, tb_t) = _pair(torch, 5), _pair(torch, 5)
    import torch.autograd.forward_ad as torch_fwAD
    results = []
    for framework, module, values in ((ember, fwAD, (a, b, ta, tb)),
                                      (torch, torch_fwAD, (a_t, b_t, ta_t, tb_t))):
        x, y, tx, ty = values
        with module.dual_level() as level:
            dual_x = module.make_dual(x, tx)
            dual_y = module.make_dual(y, ty)
            unpacked_dual = module.unpack_dual(dual_x)
            out = dual_x * dual_y + dual_x ** 2
            results.append((level, module.unpack_dual(out), unpacked_dual, tx))
    (level, result, dual_result, tangent), (level_t, expected, dual_expected, _) = results
    assert level == level_t == 0
    _close(result.tangent, expected.tangent)
    assert dual_result.tangent is tangent  # the tangent as given, as in torch
    _close(dual_result.primal, dual_expected.primal)


def test_no_tangent_without_a_dual_or_outside_the_level(torch):
    def program(framework, module):
        x = framework.ones(3)
        outside = module.unpack_dual(x)
        with module.dual_level():
            dual = module.make_dual(x, framework.ones(3))
            out = dual * 2
            plain = module.unpack_dual(x * 3)
            other_level = module.unpack_dual(x * 3, level=7)
        after = module.unpack_dual(out)
        return (outside.tangent, outside.primal is x, plain.tangent, other_level.tangent,
                after.tangent, after.primal is out)
    expected, result = _run_both(torch, program)
    assert result == expected == (None, True, None, None, None, True)


def test_dual_of_a_parameter_keeps_its_gradient(torch):
    weight, weight_t = _pair(torch, 4)
    tangent, tangent_t = _pair(torch, 4)
    import torch.autograd.forward_ad as torch_fwAD
    results = []
    for framework, module, w, t in ((ember, fwAD, weight, tangent),
                                    (torch, torch_fwAD, weight_t, tangent_t)):
        w = w.clone().requires_grad_(True)
        with module.dual_level():
            dual = module.make_dual(w, t)
            out = (dual * dual.sin()).sum()
            primal, tangent_out = module.unpack_dual(out)
            (tangent_out * 3).backward()
        results.append((primal, tangent_out, w.grad))
    (primal, tangent_out, grad), (primal_t, tangent_out_t, grad_t) = results
    assert primal.requires_grad and tangent_out.requires_grad
    _close(primal, primal_t)
    _close(tangent_out, tangent_out_t)
    _close(grad, grad_t)  # the tangent differentiated with respect to the primal


def test_tangent_that_requires_grad(torch):
    primal, primal_t = _pair(torch, 3)
    tangent, tangent_t = _pair(torch, 3)
    import torch.autograd.forward_ad as torch_fwAD
    results = []
    for module, x, t in ((fwAD, primal, tangent), (torch_fwAD, primal_t, tangent_t)):
        t = t.clone().requires_grad_(True)
        with module.dual_level():
            out = module.make_dual(x, t).exp()
            tangent_out = module.unpack_dual(out).tangent
            tangent_out.sum().backward()
        results.append((tangent_out.requires_grad, t.grad))
    (requires, grad), (requires_t, grad_t) = results
    assert requires is requires_t is True
    _close(grad, grad_t)


@pytest.mark.parametrize("case", ["tutorial_functional_call", "tutorial_setattr"])
def test_module_with_dual_parameters(torch, case):
    import torch.autograd.forward_ad as torch_fwAD
    import torch.func
    layer_t = torch.nn.Sequential(torch.nn.Linear(5, 4), torch.nn.Tanh(), torch.nn.Linear(4, 2))
    layer = ember.nn.Sequential(ember.nn.Linear(5, 4), ember.nn.Tanh(), ember.nn.Linear(4, 2))
    layer.load_state_dict({name: ember.tensor(value.detach().numpy())
                           for name, value in layer_t.state_dict().items()})
    inputs, inputs_t = _pair(torch, 8, 5)
    tangents_t = {name: torch.rand_like(value) for name, value in layer_t.named_parameters()}
    tangents = {name: ember.tensor(value.numpy()) for name, value in tangents_t.items()}
    results = []
    for framework, module, model, x, tangent_of, call in (
            (ember, fwAD, layer, inputs, tangents, ember.func.functional_call),
            (torch, torch_fwAD, layer_t, inputs_t, tangents_t, torch.func.functional_call)):
        params = dict(model.named_parameters())
        with module.dual_level():
            if case == "tutorial_functional_call":
                duals = {name: module.make_dual(value, tangent_of[name])
                         for name, value in params.items()}
                out = call(model, duals, (x,))
            else:
                for name, value in params.items():
                    owner_name, _, attribute = name.rpartition(".")
                    owner = model.get_submodule(owner_name)
                    delattr(owner, attribute)
                    setattr(owner, attribute, module.make_dual(value, tangent_of[name]))
                out = model(x)
            results.append(module.unpack_dual(out))
    result, expected = results
    _close(result.primal, expected.primal)
    _close(result.tangent, expected.tangent)


def test_errors(torch):
    def program(framework, module):
        x = framework.ones(3)
        errors = [_error(lambda: module.make_dual(x, framework.ones(3))),
                  _error(lambda: module.exit_dual_level())]
        with module.dual_level():
            errors.append(_error(lambda: module.enter_dual_level()))
            errors.append(_error(lambda: module.make_dual(x, framework.ones(4))))
            errors.append(_error(lambda: module.make_dual(x, framework.ones(3, 1))))
            errors.append(_error(lambda: module.make_dual(framework.ones(3).long(), x)))
            errors.append(_error(lambda: module.make_dual(x, framework.ones(3).long())))
            errors.append(_error(lambda: module.make_dual(x, x, level=3)))
            errors.append(_error(lambda: module.exit_dual_level(level=5)))
            dual = module.make_dual(x, x)
            errors.append(_error(lambda: module.make_dual(dual, x)))
            errors.append(_error(lambda: module.make_dual(dual.exp(), x)))
            errors.append(_error(lambda: module.unpack_dual(dual * 2, level=7)))
        return errors
    expected, result = _run_both(torch, program)
    assert result == expected


def test_dual_level_restores_after_an_exception():
    with pytest.raises(KeyError):
        with fwAD.dual_level():
            fwAD.make_dual(ember.ones(2), ember.ones(2))
            raise KeyError("inside")
    assert fwAD.enter_dual_level() == 0
    fwAD.exit_dual_level()


def test_tangent_matches_func_jvp():
    x = ember.randn(4, dtype=ember.float64)
    v = ember.randn(4, dtype=ember.float64)

    def function(value):
        return (value.sigmoid() * value).cumsum(0)

    _, expected = ember.func.jvp(function, (x,), (v,))
    with fwAD.dual_level():
        tangent = fwAD.unpack_dual(function(fwAD.make_dual(x, v))).tangent
    np.testing.assert_allclose(tangent.numpy(), expected.numpy(), rtol=1e-12)


def _exp_with_jvp(library):
    """The forward-mode tutorial's Function: exp with a jvp and no backward, its result kept
    on ctx for the jvp (and deleted there)."""

    class Exp(library.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            result = library.exp(x)
            ctx.result = result
            return result

        @staticmethod
        def jvp(ctx, tangent):
            out = tangent * ctx.result
            del ctx.result
            return out

    return Exp


def _product_with_saved_for_forward(library):
    class Product(library.autograd.Function):
        @staticmethod
        def forward(ctx, a, b):
            ctx.save_for_forward(a, b)
            return a * b, a + b

        @staticmethod
        def jvp(ctx, tangent_a, tangent_b):
            a, b = ctx.saved_tensors
            return tangent_a * b + a * tangent_b, tangent_a + tangent_b

    return Product


def _function_tangents(library):
    forward_ad = library.autograd.forward_ad
    rng = np.random.default_rng(4)
    primal = library.tensor(rng.standard_normal((3, 4)), requires_grad=True)
    tangent = library.tensor(rng.standard_normal((3, 4)))
    other = library.tensor(rng.standard_normal((3, 4)))
    with forward_ad.dual_level():
        dual = forward_ad.make_dual(primal, tangent)
        exp = _exp_with_jvp(library).apply(dual)
        product, total = _product_with_saved_for_forward(library).apply(exp * 2, other)
        downstream = (product.sin() + total).sum(0)
        return [forward_ad.unpack_dual(value).tangent.detach().numpy()
                for value in (exp, product, total, downstream)]


def test_custom_function_jvp_matches_torch(torch):
    for got, expected in zip(_function_tangents(ember), _function_tangents(torch)):
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


def test_gradcheck_checks_forward_mode():
    Exp = _exp_with_jvp(ember)
    x = ember.tensor(np.linspace(-1, 1, 6).reshape(2, 3), requires_grad=True)
    assert ember.autograd.gradcheck(Exp.apply, (x,), check_forward_ad=True,
                                    check_backward_ad=False)

    class WrongJvp(Exp):
        @staticmethod
        def jvp(ctx, tangent):
            return tangent * ctx.result * 1.01

    with pytest.raises(ember.autograd.GradcheckError, match="forward-mode Jacobian mismatch"):
        ember.autograd.gradcheck(WrongJvp.apply, (x,), check_forward_ad=True,
                                 check_backward_ad=False)
    # built-in ops, through the double-vjp tangents, in the random-direction mode too
    assert ember.autograd.gradcheck(lambda t: (t.tanh() * t).cumsum(1), (x,),
                                    check_forward_ad=True)
    big = ember.tensor(np.linspace(-1, 1, 300), requires_grad=True)
    assert ember.autograd.gradcheck(lambda t: t.sin() * t, (big,), check_forward_ad=True,
                                    full_jacobian_limit=10)


def _tangents_through_function_with_backward(library):
    """A Function with both jvp and backward (its jvp 3x what backward implies) on a dual, and
    one without jvp: forward AD uses the jvp, or raises as PyTorch does."""
    forward_ad = library.autograd.forward_ad

    class Scale(library.autograd.Function):
        @staticmethod
        def forward(x, factor):
            return x * factor

        @staticmethod
        def setup_context(ctx, inputs, output):
            ctx.factor = inputs[1]

        @staticmethod
        def backward(ctx, grad):
            return grad * ctx.factor, None

        @staticmethod
        def jvp(ctx, tangent, tangent_factor):
            assert tangent_factor is None
            return tangent * ctx.factor * 3

    class NoJvp(Scale):
        jvp = library.autograd.Function.jvp

    primal = library.tensor([1.0, -2.0, 0.5], dtype=library.float64)
    tangent = library.tensor([0.3, 1.0, -1.0], dtype=library.float64)
    with forward_ad.dual_level():
        dual = forward_ad.make_dual(primal, tangent)
        result = forward_ad.unpack_dual(Scale.apply(dual, 2.0).exp()).tangent.numpy()
        try:
            forward_ad.unpack_dual(NoJvp.apply(dual, 2.0)).tangent
        except NotImplementedError as error:
            return result, str(error)
    return result, None


def test_custom_function_with_backward_uses_its_jvp_like_torch(torch):
    (ours, our_error), (theirs, their_error) = (_tangents_through_function_with_backward(ember),
                                                _tangents_through_function_with_backward(torch))
    np.testing.assert_allclose(ours, theirs, rtol=1e-12)
    assert our_error == their_error and their_error is not None


def _unpacked_twice(fw):
    """Whether unpacking a result twice gives the very same tangent, and its values."""
    forward_ad = fw.autograd.forward_ad
    layer = fw.nn.Linear(3, 2).double()
    with forward_ad.dual_level():
        dual = forward_ad.make_dual(fw.ones(4, 3, dtype=fw.float64),
                                    fw.full((4, 3), 0.5, dtype=fw.float64))
        out = layer(dual).tanh()
        first = forward_ad.unpack_dual(out).tangent
        second = forward_ad.unpack_dual(out).tangent
        return first is second, second.detach().numpy().copy()


def test_unpacking_a_tensor_again_gives_the_same_tangent_as_torch(torch):
    torch.manual_seed(0)
    theirs = _unpacked_twice(torch)
    ember.manual_seed(0)
    ours = _unpacked_twice(ember)
    assert ours[0] and theirs[0]
    np.testing.assert_allclose(ours[1], theirs[1], rtol=1e-12)


def _tangents_of_other_layouts(framework, forward_ad):
    """The tutorial's ``make_dual(primal, tangent.T)``: a tangent laid out otherwise than its
    primal is copied into the primal's layout (values, strides, identity); one laid out alike
    is kept as it is."""
    framework.manual_seed(0)
    primal = framework.randn(3, 4)
    seen = []
    with forward_ad.dual_level():
        for tangent in (framework.randn(4, 3).T, framework.randn(3, 8)[:, ::2],
                        framework.randn(1, 4).expand(3, 4), framework.randn(3, 4),
                        framework.randn(4, 3, requires_grad=True).T):
            unpacked = forward_ad.unpack_dual(forward_ad.make_dual(primal, tangent)).tangent
            seen.append((unpacked is tangent, unpacked.stride(), unpacked.is_contiguous(),
                         unpacked.requires_grad, unpacked.detach().numpy().tolist(),
                         tangent.detach().numpy().tolist()))
        transposed = framework.randn(4, 3).T
        unpacked = forward_ad.unpack_dual(forward_ad.make_dual(transposed, framework.ones(3, 4)))
        seen.append(unpacked.tangent.stride())
    return seen


def test_tangent_is_laid_out_as_its_primal_like_torch(torch):
    theirs, ours = _run_both(torch, _tangents_of_other_layouts)
    assert ours == theirs
