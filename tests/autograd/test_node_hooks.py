"""Node hooks against torch: ``grad_fn.register_prehook``, ``grad_fn.register_hook``, their
replacement tuples, errors and order, and ``Node.metadata``."""
import numpy as np
import pytest

import ember


def _leaves(framework, count=2):
    return [framework.tensor(np.random.randn(3).astype(np.float32), requires_grad=True)
            for _ in range(count)]


def _values(items):
    """Hook arguments and results in a comparable form: arrays for tensors, None kept."""
    converted = []
    for item in items:
        if isinstance(item, (tuple, list)):
            converted.append(tuple(_values(item)))
        elif hasattr(item, "detach"):
            converted.append(item.detach().numpy())
        else:
            converted.append(item)
    return converted


def _both(torch, program):
    """``program(framework)`` on torch and on ember, from the same NumPy draws."""
    np.random.seed(0)
    expected = program(torch)
    np.random.seed(0)
    return expected, program(ember)


def _assert_same(expected, result):
    assert len(expected) == len(result)
    for left, right in zip(expected, result):
        if isinstance(left, np.ndarray):
            np.testing.assert_allclose(right, left, rtol=1e-6, atol=1e-6)
        elif isinstance(left, tuple):
            _assert_same(left, right)
        else:
            assert right == left


def test_hooks_see_the_gradients_and_run_in_order(torch):
    def program(framework):
        a, b = _leaves(framework)
        constant = framework.ones(3)
        product = a * b * constant
        node = product.grad_fn
        seen = []
        node.register_prehook(lambda grad_outputs: seen.append(("pre", grad_outputs)))
        product.register_hook(lambda grad: seen.append(("tensor", grad)))
        node.register_hook(lambda grad_inputs, grad_outputs:
                           seen.append(("post", grad_inputs, grad_outputs)))
        (product * 2).sum().backward()
        return _values(seen)
    expected, result = _both(torch, program)
    assert [entry[0] for entry in result] == ["tensor", "pre", "post"]
    assert result[2][1][1] is None  # the constant's gradient
    _assert_same(expected, result)


def test_replacement_tuples(torch):
    def program(framework):
        a, b = _leaves(framework)
        product = a * b
        handle = product.grad_fn.register_prehook(lambda grad_outputs: (grad_outputs[0] * 2,))
        product.sum().backward(retain_graph=True)
        doubled = (a.grad.clone(), b.grad.clone())
        handle.remove()
        a.grad = b.grad = None
        with product.grad_fn.register_hook(lambda grad_inputs, _: (grad_inputs[0] * 10, None)):
            product.sum().backward(retain_graph=True)
        replaced = (a.grad.clone(), b.grad)
        a.grad = None
        product.sum().backward()
        return _values([doubled, replaced, a.grad])
    expected, result = _both(torch, program)
    _assert_same(expected, result)


def test_hooks_under_grad_and_create_graph(torch):
    def program(framework):
        (a,) = _leaves(framework, 1)
        square = a * a
        square.grad_fn.register_hook(lambda grad_inputs, _: (grad_inputs[0] * 2, grad_inputs[1]))
        (gradient,) = framework.autograd.grad(square.sum(), a, create_graph=True)
        (second,) = framework.autograd.grad(gradient.sum(), a)
        counted = []
        cube = a ** 3
        cube.grad_fn.register_prehook(lambda grad_outputs: counted.append(1))
        framework.autograd.grad(cube.sum(), a)
        return _values([gradient, gradient.requires_grad, second, len(counted)])
    expected, result = _both(torch, program)
    _assert_same(expected, result)


def test_hook_errors(torch):
    def program(framework):
        a, b = _leaves(framework)
        product = a * b
        errors = []
        bad_prehooks = [lambda go: (go[0], go[0]), lambda go: go[0], lambda go: [go[0]]]
        bad_hooks = [lambda gi, go: (gi[0],), lambda gi, go: gi[0],
                     lambda gi, go: (gi[0], framework.ones(2)), lambda gi, go: (gi[0], 3)]
        for register, hooks in ((product.grad_fn.register_prehook, bad_prehooks),
                                (product.grad_fn.register_hook, bad_hooks)):
            for hook in hooks:
                handle = register(hook)
                with pytest.raises(Exception) as info:
                    product.sum().backward(retain_graph=True)
                errors.append((type(info.value), str(info.value)))
                handle.remove()
        return errors
    expected, result = _both(torch, program)
    assert result[:6] == expected[:6]
    assert result[6][0] is expected[6][0] is TypeError  # a non-Tensor gradient


def test_multi_output_prehook_sees_none_for_unused_outputs(torch):
    def program(framework):
        (a,) = _leaves(framework, 1)
        first, _, _ = a.unbind(0)
        seen = []
        first.grad_fn.register_prehook(seen.append)
        first.backward()
        return _values(seen)
    expected, result = _both(torch, program)
    _assert_same(expected, result)


def test_metadata_is_one_dict_per_node(torch):
    def program(framework):
        (a,) = _leaves(framework, 1)
        out = a.exp()
        out.grad_fn.metadata["step"] = 3
        return type(out.grad_fn.metadata).__name__, dict(out.grad_fn.metadata), \
            (a * 2).grad_fn.metadata
    expected, result = _both(torch, program)
    assert result == expected == ("dict", {"step": 3}, {})


def _hook_on_reduction(lib):
    """A node hook of an op with options (sum's dim, keepdim): it sees only the tensor input,
    as next_functions lists it, and what it returns is the input's gradient."""
    x = lib.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    out = (x * 3).sum(dim=1, keepdim=True).sum()
    node = out.grad_fn.next_functions[0][0]
    seen = []

    def hook(grad_inputs, grad_outputs):
        seen.append(([None if g is None else g.tolist() for g in grad_inputs],
                     [g.tolist() for g in grad_outputs]))
        return (grad_inputs[0] * 2,)

    node.register_hook(hook)
    out.backward()
    return node.name(), len(node.next_functions), seen, x.grad.tolist()


def test_node_hook_sees_the_inputs_next_functions_lists_like_torch(torch):
    ours = _hook_on_reduction(ember)
    assert ours == _hook_on_reduction(torch)
    assert ours[2] == [([[[1.0, 1.0], [1.0, 1.0]]], [[[1.0], [1.0]]])]
    assert ours[3] == [[6.0, 6.0], [6.0, 6.0]]
