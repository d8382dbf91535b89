"""torch.library's Python custom operators (custom_op, register_autograd, register_fake,
torch.ops namespaces, opcheck) against PyTorch's, as its "Python Custom Operators" tutorial
uses them."""
import re

import numpy as np
import pytest

import ember


def _tutorial_ops(lib, namespace):
    @lib.library.custom_op(f"{namespace}::numpy_sin", mutates_args=())
    def numpy_sin(x: lib.Tensor, scale: float = 1.0) -> lib.Tensor:
        return lib.from_numpy(np.sin(x.numpy()) * scale)

    @numpy_sin.register_fake
    def _(x, scale=1.0):
        return lib.empty_like(x)

    def setup_context(ctx, inputs, output):
        x, scale = inputs
        ctx.save_for_backward(x)
        ctx.scale = scale

    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * x.cos() * ctx.scale, None

    numpy_sin.register_autograd(backward, setup_context=setup_context)

    @lib.library.custom_op(f"{namespace}::numpy_sin_out", mutates_args={"out"})
    def numpy_sin_out(x: lib.Tensor, out: lib.Tensor) -> None:
        out.copy_(lib.from_numpy(np.sin(x.numpy())))

    @lib.library.custom_op(f"{namespace}::no_backward", mutates_args=())
    def no_backward(x: lib.Tensor) -> lib.Tensor:
        return x.clone()

    return numpy_sin, numpy_sin_out, no_backward


def _run(lib, namespace, ops):
    numpy_sin, numpy_sin_out, no_backward = _tutorial_ops(lib, namespace)
    x = lib.tensor([0.5, -1.0, 2.0], dtype=lib.float64, requires_grad=True)
    y = numpy_sin(x, scale=2.0)
    y.sum().backward()
    by_namespace = getattr(ops, namespace).numpy_sin.default(x.detach())
    out = lib.empty(3, dtype=lib.float64)
    numpy_sin_out(x.detach(), out)
    checks = lib.library.opcheck(numpy_sin, (lib.tensor([1.0, 2.0]),))
    lost = no_backward(x)
    with pytest.raises(RuntimeError) as missing:
        lost.sum().backward()
    return ([y.detach().numpy(), x.grad.numpy(), by_namespace.numpy(), out.numpy()],
            y.requires_grad, lost.requires_grad, str(missing.value).replace(namespace, "NS"),
            {name: checks[name] for name in ("test_schema", "test_faketensor")})


def test_custom_ops_match_torch(torch):
    import ember._torch_ops  # torch.ops under ember (ember.ops is ember's own op package)
    ours = _run(ember, "ember_library_test", ember._torch_ops)
    theirs = _run(torch, "ember_library_test", torch.ops)
    for mine, reference in zip(ours[0], theirs[0]):
        np.testing.assert_allclose(mine, reference, rtol=1e-12)
    assert ours[1:] == theirs[1:]
    np.testing.assert_allclose(ours[0][1], 2 * np.cos([0.5, -1.0, 2.0]), rtol=1e-12)


def test_opcheck_reports_a_missing_fake_and_undeclared_mutation():
    @ember.library.custom_op("ember_library_checks::scale_", mutates_args=())
    def scale_(x: ember.Tensor) -> ember.Tensor:
        x.mul_(2)
        return x.clone()

    with pytest.raises(ember.library.OpCheckError, match="test_schema failed"):
        ember.library.opcheck(scale_, (ember.ones(2),))
    results = ember.library.opcheck(scale_, (ember.ones(2),), raise_exception=False)
    assert "no fake impl registered" in str(results["test_faketensor"])
    import ember._torch_ops as torch_ops
    assert torch_ops.ember_library_checks.scale_ is scale_
    with pytest.raises(AttributeError, match="ops.ember_library_checks.missing is not provided"):
        torch_ops.ember_library_checks.missing


def _opcheck_outcomes(lib, namespace):
    """opcheck's results (each "SUCCESS" or the failure's type and message) and raised errors
    for the ops of the tutorial's kinds: no fake, a fake of the wrong shape or dtype, an
    undeclared mutation, a mutating op returning nothing (which needs no fake), inputs that
    require grad with no backward registered, and a chosen subset of the checks."""
    @lib.library.custom_op(f"{namespace}::no_fake", mutates_args=())
    def no_fake(x: lib.Tensor) -> lib.Tensor:
        return x.sin()

    @lib.library.custom_op(f"{namespace}::bad_fake", mutates_args=())
    def bad_fake(x: lib.Tensor) -> tuple[lib.Tensor, lib.Tensor]:
        return x.sin(), x.cos()

    @bad_fake.register_fake
    def _(x):
        return lib.empty_like(x), lib.empty_like(x, dtype=lib.float64)

    @lib.library.custom_op(f"{namespace}::sin_out", mutates_args={"out"})
    def sin_out(x: lib.Tensor, out: lib.Tensor) -> None:
        out.copy_(x.sin())

    @lib.library.custom_op(f"{namespace}::sneaky", mutates_args=())
    def sneaky(x: lib.Tensor) -> lib.Tensor:
        x.add_(1)
        return x.sin()

    @sneaky.register_fake
    def _(x):
        return lib.empty(3)

    def outcome(op, arguments, **options):
        try:
            results = lib.library.opcheck(op, arguments, **options)
        except Exception as error:
            return type(error).__name__, str(error).replace(namespace, "NS")
        return [(name, value if value == "SUCCESS" else
                 (type(value).__name__, str(value).replace(namespace, "NS")))
                for name, value in results.items()]
    quiet = dict(raise_exception=False)
    return [outcome(no_fake, (lib.ones(2),), **quiet),
            outcome(no_fake, (lib.ones(2, requires_grad=True),), **quiet),
            outcome(no_fake, (lib.ones(2),)),
            outcome(bad_fake, (lib.ones(2),), **quiet),
            outcome(sin_out, (lib.ones(2), lib.empty(2))),
            outcome(sneaky, (lib.ones(2),), **quiet),
            outcome(no_fake, (lib.ones(2),), test_utils="test_schema"),
            outcome(no_fake, (lib.ones(2),), test_utils=("test_faketensor", "test_schema"),
                    **quiet),
            outcome(no_fake, (lib.ones(2),), test_utils="test_bogus")]


def test_opcheck_results_and_errors_match_torch(torch):
    ours = _opcheck_outcomes(ember, "ember_opcheck_outcomes")
    theirs = _opcheck_outcomes(torch, "ember_opcheck_outcomes")
    assert str(ours).replace("ember.", "torch.") == str(theirs)


def _vmap_rule_annotations_and_aliasing(lib, namespace):
    """register_vmap's rule under vmap (in_dims 0 and 1, a keyword-only argument passed on);
    PyTorch's refusals of a function without annotations; and of outputs that alias an input
    or each other (the message's module, where the op's implementation lives, left out)."""
    @lib.library.custom_op(f"{namespace}::numpy_scale", mutates_args=(),
                           tags=(lib.Tag.pointwise,))
    def numpy_scale(x: lib.Tensor, *, scale: float) -> lib.Tensor:
        return lib.from_numpy(np.sin(x.numpy()) * scale)

    calls = []

    def rule(info, in_dims, x, *, scale):
        calls.append((info.batch_size, len(in_dims), scale))
        return numpy_scale(x.movedim(in_dims[0], 0), scale=scale), 0

    lib.library.register_vmap(f"{namespace}::numpy_scale", rule)
    x = lib.tensor(np.linspace(-1.0, 1.0, 12).reshape(3, 4))
    results = [lib.func.vmap(lambda v: numpy_scale(v, scale=2.0))(x).tolist(),
               lib.func.vmap(lambda v: numpy_scale(v, scale=3.0), in_dims=1)(x).tolist(), calls]

    def body(x):
        return x

    def returns_nothing_declared(x: lib.Tensor):
        return x

    for function in (body, returns_nothing_declared):
        with pytest.raises(ValueError) as error:
            lib.library.custom_op(f"{namespace}::{function.__name__}", function,
                                  mutates_args=())
        # the annotation as the framework's class prints (torch.Tensor, ember.tensor.Tensor)
        results.append(re.sub(r"\b\w+(\.tensor)?\.Tensor\b", "Tensor", str(error.value)))
    for name, function in (("same", lambda x: x), ("view", lambda x: x.view(2)),
                           ("pair", lambda x: (lambda y: (y, y))(x.clone()))):
        function.__annotations__ = {"x": lib.Tensor, "return": lib.Tensor}
        op = lib.library.custom_op(f"{namespace}::{name}", function, mutates_args=())
        with pytest.raises(RuntimeError) as error:
            op(lib.ones(2))
        message = str(error.value)
        results.append((message.partition(" (")[0], message.partition("): ")[2]))
    return results


def test_vmap_rules_annotations_and_aliasing_match_torch(torch):
    ours = _vmap_rule_annotations_and_aliasing(ember, "ember_library_vmap")
    theirs = _vmap_rule_annotations_and_aliasing(torch, "ember_library_vmap")
    np.testing.assert_allclose(ours[0], theirs[0], rtol=1e-12)
    np.testing.assert_allclose(ours[1], theirs[1], rtol=1e-12)
    assert ours[2:] == theirs[2:]
