"""Custom ops by subclassing ``ember.autograd.Function`` at the Tensor level, as in PyTorch."""
import numpy as np
import pytest

import ember
from ember.autograd import Function, gradcheck
from tests.conftest import assert_same_outcome_as_torch, outcome


class Cube(Function):
    """x**3 with the derivative from the saved input."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x * x

    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        return grad_output * 3 * x * x


class ScaledAdd(Function):
    """a * scale + b, with a Python number argument and needs_input_grad checks."""

    @staticmethod
    def forward(ctx, a, scale, b):
        ctx.scale = scale
        ctx.calls = []
        return a * scale + b

    @staticmethod
    def backward(ctx, grad_output):
        needs_a, needs_scale, needs_b = ctx.needs_input_grad
        assert not needs_scale
        grad_a = grad_output * ctx.scale if needs_a else None
        grad_b = grad_output if needs_b else None
        return grad_a, None, grad_b


class SortWithIndices(Function):
    """Two outputs, the second (indices) marked non-differentiable."""

    @staticmethod
    def forward(ctx, x):
        order = np.argsort(x.detach().numpy(), kind="stable")
        indices = ember.tensor(order)
        values = x[indices]
        ctx.mark_non_differentiable(indices)
        ctx.save_for_backward(indices)
        ctx.size = x.shape[0]
        return values, indices

    @staticmethod
    def backward(ctx, grad_values, grad_indices):
        (indices,) = ctx.saved_tensors
        grad = ember.zeros(ctx.size, dtype=grad_values.dtype)
        grad[indices] = grad_values
        return grad


class ExpSavingOutput(Function):
    @staticmethod
    def forward(ctx, x):
        out = x.exp()
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad_output):
        (out,) = ctx.saved_tensors
        return grad_output * out


def test_custom_function_forward_backward():
    x = ember.tensor([1.0, -2.0, 0.5], requires_grad=True)
    y = Cube.apply(x)
    assert y.grad_fn is not None and y.grad_fn.name() == "CubeBackward"
    assert repr(y.grad_fn).startswith("<ember.autograd.function.CubeBackward object at 0x")
    assert y.requires_grad and not y.is_leaf
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 3 * np.array([1.0, 4.0, 0.25]))


def test_custom_function_gradcheck():
    x = ember.tensor([0.3, -1.2, 2.0], dtype=ember.float64, requires_grad=True)
    assert gradcheck(Cube.apply, (x,))
    a = ember.tensor([[0.1, 0.2]], dtype=ember.float64, requires_grad=True)
    b = ember.tensor([1.0, 2.0], dtype=ember.float64, requires_grad=True)
    assert gradcheck(lambda a, b: ScaledAdd.apply(a, 2.5, b), (a, b)) is True


def test_custom_function_inside_a_graph():
    x = ember.tensor([1.0, 2.0], requires_grad=True)
    y = Cube.apply(x * 2) + x
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 3 * (2 * np.array([1.0, 2.0])) ** 2 * 2 + 1)


def test_needs_input_grad_reflects_inputs():
    seen = []

    class Probe(Function):
        @staticmethod
        def forward(ctx, a, b, number):
            seen.append(ctx.needs_input_grad)
            return a * b

        @staticmethod
        def backward(ctx, grad_output):
            seen.append(ctx.needs_input_grad)
            return grad_output, None, None

    a = ember.ones(2, requires_grad=True)
    b = ember.ones(2)
    Probe.apply(a, b, 3).sum().backward()
    assert seen == [(True, False, False), (True, False, False)]
    np.testing.assert_allclose(a.grad.numpy(), [1.0, 1.0])


def test_forward_runs_without_recording_inside():
    class Inner(Function):
        @staticmethod
        def forward(ctx, x):
            inner = x * 2
            assert inner.grad_fn is None and not ember.is_grad_enabled()
            return inner

        @staticmethod
        def backward(ctx, grad_output):
            return grad_output * 2

    x = ember.ones(2, requires_grad=True)
    Inner.apply(x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 2.0])


def test_mark_non_differentiable_and_multiple_outputs():
    x = ember.tensor([3.0, 1.0, 2.0], requires_grad=True)
    values, indices = SortWithIndices.apply(x)
    np.testing.assert_array_equal(values.detach().numpy(), [1.0, 2.0, 3.0])
    assert indices.dtype is ember.int64 and not indices.requires_grad
    assert values.requires_grad
    (values * ember.tensor([1.0, 10.0, 100.0])).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [100.0, 1.0, 10.0])


def test_saved_output_modified_in_place_is_detected():
    x = ember.tensor([1.0, 2.0], requires_grad=True)
    y = ExpSavingOutput.apply(x)
    y.mul_(2)
    with pytest.raises(RuntimeError, match="is at version 1; expected version 0"):
        y.sum().backward()


def test_saved_input_modified_in_place_is_detected():
    x = ember.tensor([1.0, 2.0], requires_grad=True)
    h = x * 1
    y = Cube.apply(h)
    h.add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


def test_saved_tensors_after_backward_raise():
    x = ember.tensor([1.0, 2.0], requires_grad=True)
    y = Cube.apply(x)
    y.sum().backward()
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        y.grad_fn.saved_tensors


def test_wrong_number_of_gradients_raises():
    class TooMany(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 1

        @staticmethod
        def backward(ctx, grad_output):
            return grad_output, grad_output

    x = ember.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="incorrect number of gradients"):
        TooMany.apply(x).sum().backward()


def test_apply_under_no_grad_records_nothing():
    x = ember.ones(2, requires_grad=True)
    with ember.no_grad():
        y = Cube.apply(x)
    assert not y.requires_grad and y.grad_fn is None


def test_inputs_without_grad_give_outputs_without_grad():
    y = Cube.apply(ember.ones(2))
    assert not y.requires_grad and y.grad_fn is None


def test_custom_function_matches_torch(torch):
    class TorchCube(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x * x

        @staticmethod
        def backward(ctx, grad_output):
            (x,) = ctx.saved_tensors
            return grad_output * 3 * x * x

    data = np.array([0.5, -1.5, 2.0], dtype=np.float32)
    ember_x = ember.tensor(data, requires_grad=True)
    torch_x = torch.tensor(data, requires_grad=True)
    (Cube.apply(ember_x) * ember_x).sum().backward()
    (TorchCube.apply(torch_x) * torch_x).sum().backward()
    np.testing.assert_allclose(ember_x.grad.numpy(), torch_x.grad.numpy(), rtol=1e-6)
    assert ember_x.grad.dtype is ember.float32


def _scaled_cube(fw):
    """PyTorch 2's form of a custom Function: forward without ctx, then setup_context."""
    class ScaledCube(fw.autograd.Function):
        generate_vmap_rule = True

        @staticmethod
        def forward(x, scale):
            return x * x * x * scale

        @staticmethod
        def setup_context(ctx, inputs, output):
            x, scale = inputs
            ctx.save_for_backward(x)
            ctx.scale = scale

        @staticmethod
        def backward(ctx, grad_output):
            (x,) = ctx.saved_tensors
            return grad_output * 3 * x * x * ctx.scale, None
    return ScaledCube


def test_setup_context_form_matches_torch_under_grad_and_func(torch):
    data = np.array([0.5, -1.5, 2.0])
    results = []
    for fw in (torch, ember):
        function = _scaled_cube(fw)
        x = fw.tensor(data, requires_grad=True)
        output = function.apply(x, 2.0)
        (first,) = fw.autograd.grad(output.sum(), x, create_graph=True)
        (second,) = fw.autograd.grad(first.sum(), x)
        by_func = fw.func.grad(lambda value: function.apply(value, 2.0).sum())(fw.tensor(data))
        batched = fw.func.vmap(lambda value: function.apply(value, 2.0))(
            fw.tensor(data).reshape(3, 1))
        results.append([value.detach().numpy() for value in
                        (output, first, second, by_func, batched)])
    for ours, theirs in zip(results[1], results[0]):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12)


def _doubled_in_place(fw):
    class DoubleInPlace(fw.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            x.mul_(2)
            ctx.mark_dirty(x)
            return x

        @staticmethod
        def backward(ctx, grad_output):
            return grad_output * 2
    return DoubleInPlace


def test_mark_dirty_returns_the_input_with_its_history_rebased_like_torch(torch):
    data = np.array([0.5, -1.5, 2.0])
    results = []
    for fw in (torch, ember):
        x = fw.tensor(data, requires_grad=True)
        hidden = x * x
        output = _doubled_in_place(fw).apply(hidden)
        assert output is hidden and output.grad_fn is not None
        (output * fw.tensor([1.0, 2.0, 3.0], dtype=fw.float64)).sum().backward()
        results.append((output.detach().numpy(), x.grad.numpy()))
        with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
            _doubled_in_place(fw).apply(fw.tensor(data, requires_grad=True))
    for ours, theirs in zip(results[1], results[0]):
        np.testing.assert_allclose(ours, theirs)


def test_mark_dirty_counts_one_more_version_like_torch(torch):
    """PyTorch bumps each dirty input's version once more after forward (with grad or not);
    an output saved for backward stays valid, a later in-place change still invalidates it."""
    def versions(fw):
        class TripleSaved(fw.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                x.mul_(3)
                ctx.mark_dirty(x)
                ctx.save_for_backward(x)
                return x

            @staticmethod
            def backward(ctx, grad_output):
                (output,) = ctx.saved_tensors
                return grad_output * 3 + output * 0

        leaf = fw.ones(3, requires_grad=True)
        seen = []
        for make in (lambda: leaf.clone(), lambda: fw.ones(3)):
            value = make()
            _doubled_in_place(fw).apply(value)
            seen.append(value._version)
        with fw.no_grad():
            value = fw.ones(3)
            _doubled_in_place(fw).apply(value)
            seen.append(value._version)
        value = leaf.clone()
        TripleSaved.apply(value).sum().backward()
        seen.append((value._version, leaf.grad.tolist()))
        value = leaf.clone()
        output = TripleSaved.apply(value)
        value.add_(1)
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            output.sum().backward()
        return seen
    assert versions(ember) == versions(torch) == [2, 2, 2, (2, [3.0, 3.0, 3.0])]


def test_gradient_of_broadcast_shape_is_summed_to_input_shape():
    class AddRow(Function):
        @staticmethod
        def forward(ctx, matrix, row):
            return matrix + row

        @staticmethod
        def backward(ctx, grad_output):
            return grad_output, grad_output  # the row's gradient still has the matrix's shape

    matrix = ember.ones(3, 2, requires_grad=True)
    row = ember.ones(2, requires_grad=True)
    AddRow.apply(matrix, row).sum().backward()
    np.testing.assert_allclose(row.grad.numpy(), [3.0, 3.0])
    assert row.grad.shape == (2,)


def test_gradient_of_incompatible_shape_raises():
    class Wrong(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 1

        @staticmethod
        def backward(ctx, grad_output):
            return ember.ones(5)

    with pytest.raises(RuntimeError, match="invalid gradient at index 0"):
        Wrong.apply(ember.ones(2, requires_grad=True)).sum().backward()


def test_unused_outputs_get_zero_gradients_in_backward():
    received = []

    class Split(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2, x * 3

        @staticmethod
        def backward(ctx, grad_first, grad_second):
            received.append(grad_second.numpy().copy())
            return grad_first * 2 + grad_second * 3

    x = ember.ones(2, requires_grad=True)
    first, _ = Split.apply(x)
    first.sum().backward()
    np.testing.assert_array_equal(received[0], [0.0, 0.0])
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 2.0])


def test_backward_may_return_extra_nones_but_not_extra_gradients(torch):
    """The conv + batch-norm fusion tutorial returns seven gradients for two inputs, the rest
    None: PyTorch accepts that, and refuses an extra gradient that is not None."""
    messages = []
    for library in (torch, ember):
        class Extra(library.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                return x * 2

            @staticmethod
            def backward(ctx, grad):
                return grad * 2, None, None

        class Wrong(Extra):
            @staticmethod
            def backward(ctx, grad):
                return grad * 2, grad

        x = library.ones(2, requires_grad=True)
        Extra.apply(x).sum().backward()
        assert x.grad.tolist() == [2.0, 2.0]
        with pytest.raises(RuntimeError) as error:
            Wrong.apply(library.ones(2, requires_grad=True)).sum().backward()
        messages.append(str(error.value))
    assert messages[0] == messages[1] == ("function WrongBackward returned an incorrect number "
                                          "of gradients (expected 1, got 2)")


def test_node_is_an_instance_of_the_generated_backward_class():
    from ember.autograd import function as function_module
    seen = []

    class SortF(Function):
        @staticmethod
        def forward(ctx, x):
            seen.append(type(ctx))
            ctx.save_for_backward(x)
            return x * 2

        @staticmethod
        def backward(ctx, grad):
            seen.append(type(ctx))
            (x,) = ctx.saved_tensors
            return grad * 2 + x * 0

    x = ember.ones(3, requires_grad=True)
    y = SortF.apply(x)
    node = y.grad_fn
    assert type(node).__name__ == "SortFBackward" and node.name() == "SortFBackward"
    assert isinstance(node, function_module.BackwardCFunction)
    assert isinstance(node, function_module.FunctionCtx)
    assert not isinstance(node, SortF)
    assert node._forward_cls is SortF and SortF._backward_cls is type(node)
    assert type(SortF) is function_module.FunctionMeta
    assert issubclass(SortF, function_module.FunctionCtx)
    assert node.needs_input_grad == (True,)
    assert node.apply(ember.ones(3)).tolist() == [2.0] * 3
    assert "autograd.function.SortFBackward object at" in repr(node)
    y.sum().backward()
    assert seen == [type(node)] * 3 and x.grad.tolist() == [2.0] * 3
    assert issubclass(function_module.InplaceFunction, Function)
    assert issubclass(function_module.NestedIOFunction, Function)
    assert function_module.InplaceFunction(inplace=True).inplace


def test_node_classes_match_torch(torch):
    def run(lib):
        class SortF(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                return x.sort()[0]

            @staticmethod
            def backward(ctx, grad):
                return grad

        node = SortF.apply(lib.ones(3, requires_grad=True)).grad_fn
        module = lib.autograd.function
        return (type(node).__name__, node.name(), node._forward_cls is SortF,
                isinstance(node, module.BackwardCFunction), isinstance(node, SortF),
                isinstance(node, module.FunctionCtx), type(SortF).__name__,
                [hasattr(module, name) for name in ("FunctionCtx", "InplaceFunction",
                                                      "NestedIOFunction", "once_differentiable")])
    assert run(ember) == run(torch)


@pytest.mark.parametrize("defines", ["nothing", "vjp", "jvp_only_under_func_jvp"])
def test_a_function_without_backward_uses_vjp_or_raises_like_torch(torch, defines):
    """``vjp`` is ``backward``'s other name; with neither, backward mode raises PyTorch's
    NotImplementedError, while forward mode through a jvp still works."""
    def run(fw):
        class Scale(fw.autograd.Function):
            @staticmethod
            def forward(x):
                return x * 2

            @staticmethod
            def setup_context(ctx, inputs, output):
                pass

            @staticmethod
            def jvp(ctx, tangent):
                return tangent * 2

        if defines == "vjp":
            Scale.vjp = staticmethod(lambda ctx, grad: grad * 3)
        x = fw.tensor([1.0, -2.0], dtype=fw.float64, requires_grad=True)
        try:
            if defines == "jvp_only_under_func_jvp":
                return fw.func.jvp(Scale.apply, (x.detach(),), (fw.ones(2, dtype=fw.float64),))
            return fw.autograd.grad(Scale.apply(x).sum(), x)
        except NotImplementedError as error:
            return str(error)
    ours, theirs = run(ember), run(torch)
    if isinstance(theirs, str):
        assert ours == theirs
    else:
        for mine, expected in zip(ours, theirs):
            np.testing.assert_allclose(mine.detach().numpy(), expected.detach().numpy())


def _function_class(fw, forward, backward):
    return type("F", (fw.autograd.Function,), {"forward": staticmethod(forward),
                                               "backward": staticmethod(backward)})


def _dirty_not_returned(ctx, x):
    x.add_(1)
    ctx.mark_dirty(x)
    return x * 2


def _hooked(fw, hook):
    x = fw.ones(2, requires_grad=True)
    x.register_hook(hook)
    (x * 2).sum().backward()


@pytest.mark.parametrize("call", [
    lambda fw: _function_class(fw, lambda ctx, x: x * 2, lambda ctx, g: 3).apply(
        fw.ones(2, requires_grad=True)).sum().backward(),
    lambda fw: _function_class(fw, lambda ctx, x: x * 2, lambda ctx, g: g)()(fw.ones(2)),
    lambda fw: _function_class(fw, lambda ctx, x: (ctx.save_for_backward(x, 3), x * 1)[1],
                               lambda ctx, g: g).apply(fw.ones(2, requires_grad=True)),
    lambda fw: _function_class(fw, _dirty_not_returned, lambda ctx, g: g).apply(
        fw.ones(2, requires_grad=True).clone()),
    lambda fw: (lambda x: fw.autograd.grad([x.sum(), x.sum()], x,
                                           grad_outputs=[fw.ones(())]))(
        fw.ones(2, requires_grad=True)),
    lambda fw: (lambda x: fw.autograd.backward([x.sum(), x.sum()], [fw.ones(())]))(
        fw.ones(2, requires_grad=True)),
    lambda fw: _hooked(fw, lambda g: fw.ones(3)),
    lambda fw: _hooked(fw, lambda g: 3)])
def test_autograd_misuse_raises_torchs_error(torch, call):
    assert outcome(call, torch)[0] == "raised"
    assert_same_outcome_as_torch(torch, call)


def test_extra_grad_outputs_are_ignored_as_torch(torch):
    results = []
    for fw in (torch, ember):
        x = fw.ones(2, requires_grad=True)
        (gradient,) = fw.autograd.grad([(x * 3).sum()], x,
                                       grad_outputs=[fw.ones(()), fw.ones(())])
        results.append(gradient.tolist())
    assert results[1] == results[0]
