"""Module backward hooks (register_full_backward_hook / _pre_hook / the deprecated
register_backward_hook) against PyTorch: what the hooks see, replacements, removal."""
import warnings

import numpy as np
import pytest

import ember
from tests.conftest import assert_same_outcome_as_torch, outcome


def _model(fw):
    fw.manual_seed(0)
    model = fw.nn.Sequential(fw.nn.Linear(3, 4), fw.nn.Tanh(), fw.nn.Linear(4, 2))
    with fw.no_grad():
        for index, parameter in enumerate(model.parameters()):
            parameter.copy_(fw.tensor(np.linspace(-1, 1, parameter.numel()).reshape(
                parameter.shape).astype(np.float32) * 0.2 * (index + 1)))
    return model


def _run(fw, replace):
    model = _model(fw)
    seen = []

    def record(module, grad_input, grad_output):
        seen.append(("hook", type(module).__name__,
                     [None if grad is None else grad.numpy().copy() for grad in grad_input],
                     [None if grad is None else grad.numpy().copy() for grad in grad_output]))
        if replace:
            return tuple(None if grad is None else grad * 3 for grad in grad_input)

    def record_pre(module, grad_output):
        seen.append(("pre", type(module).__name__, [grad.numpy().copy() for grad in grad_output]))
        if replace:
            return (grad_output[0] * 0.5,)

    model[1].register_full_backward_hook(record)
    model[2].register_full_backward_pre_hook(record_pre)
    model[0].register_full_backward_hook(record)
    x = fw.tensor(np.linspace(-2, 2, 15).reshape(5, 3).astype(np.float32), requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        (model(x) ** 2).sum().backward()
    return seen, x.grad.numpy(), [p.grad.numpy() for p in model.parameters()]


def _assert_same(got, expected):
    if isinstance(got, (list, tuple)):
        assert len(got) == len(expected)
        for one, other in zip(got, expected):
            _assert_same(one, other)
    elif isinstance(got, np.ndarray):
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    else:
        assert got == expected


@pytest.mark.parametrize("replace", [False, True])
def test_hooks_see_and_replace_like_pytorch(torch, replace):
    _assert_same(_run(ember, replace), _run(torch, replace))


def test_hook_without_input_gradient_warns_and_gets_none(torch):
    for fw in (torch, ember):
        layer = fw.nn.Linear(3, 2)
        seen = []
        layer.register_full_backward_hook(lambda module, grad_input, grad_output: seen.append(
            (grad_input, tuple(grad.shape for grad in grad_output))))
        with pytest.warns(UserWarning, match="no inputs require gradients"):
            layer(fw.ones(4, 3)).sum().backward()
        assert seen == [((None,), ((4, 2),))]


def test_unused_input_gets_zeros_and_removed_hook_stays_silent():
    class Pair(ember.nn.Module):
        def forward(self, a, b):
            return a * 2, a + b

    pair = Pair()
    seen = []
    handle = pair.register_full_backward_hook(
        lambda module, grad_input, grad_output: seen.append((grad_input, grad_output)))
    a = ember.tensor([1.0, 2.0], requires_grad=True)
    first, _ = pair(a, ember.tensor([3.0, 4.0]))
    first.sum().backward()
    (grad_a, grad_b), (grad_first, grad_second) = seen[0]
    np.testing.assert_array_equal(grad_a.numpy(), [2.0, 2.0])
    np.testing.assert_array_equal(grad_b.numpy(), [0.0, 0.0])
    assert grad_second is None
    handle.remove()
    pair(a, ember.tensor([3.0, 4.0]))[0].sum().backward()
    assert len(seen) == 1
    assert first.grad_fn.name() == "BackwardHookFunctionBackward"


def test_deprecated_backward_hook_is_called():
    layer = ember.nn.Linear(3, 2)
    calls = []
    layer.register_backward_hook(lambda module, grad_input, grad_output: calls.append(1))
    layer(ember.ones(1, 3, requires_grad=True)).sum().backward()
    assert calls == [1]


def _non_full_run(fw, make_module, make_input):
    """What a deprecated (non-full) hook sees and the FutureWarnings of one forward/backward."""
    fw.manual_seed(0)
    module = make_module(fw)
    seen = []
    module.register_backward_hook(lambda m, grad_input, grad_output: seen.append(
        ([None if g is None else g.detach().numpy().copy() for g in grad_input],
         [g.detach().numpy().copy() for g in grad_output])))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        output = module(make_input(fw))
        outputs = output if isinstance(output, tuple) else (output,)
        sum(o.sum() for o in outputs).backward()
    return seen, [str(w.message) for w in caught if w.category is FutureWarning]


@pytest.mark.parametrize("make_module, make_input", [
    (lambda fw: fw.nn.Tanh(), lambda fw: fw.randn(3, 4, requires_grad=True)),
    (lambda fw: fw.nn.Sigmoid(), lambda fw: fw.randn(3, requires_grad=True) * 2),
    (lambda fw: fw.nn.Conv2d(2, 3, 3), lambda fw: fw.randn(1, 2, 5, 5, requires_grad=True)),
    (lambda fw: fw.nn.Sequential(fw.nn.Linear(4, 2), fw.nn.ReLU()), lambda fw: fw.randn(3, 4)),
])
def test_non_full_backward_hook_sees_the_last_node_and_warns_like_torch(torch, make_module,
                                                                          make_input):
    """register_backward_hook runs on the node that made the output (KFAC in
    pytorch-a2c-ppo-acktr reads grad_output[0] there), with PyTorch's FutureWarnings."""
    theirs, their_warnings = _non_full_run(torch, make_module, make_input)
    ours, our_warnings = _non_full_run(ember, make_module, make_input)
    assert our_warnings == their_warnings
    assert len(ours) == len(theirs) == 1
    for mine, reference in zip(ours[0], theirs[0]):
        assert [None if g is None else g.shape for g in mine] == \
            [None if g is None else g.shape for g in reference]
        for a, b in zip(mine, reference):
            if a is not None:
                np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_non_full_hook_replaces_node_gradients_and_refuses_mixing(torch):
    for fw in (torch, ember):
        module = fw.nn.Tanh()
        module.register_backward_hook(lambda m, grad_input, grad_output: (grad_input[0] * 0 + 1,))
        x = fw.tensor([0.5, -1.0], requires_grad=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            module(x).sum().backward()
        assert x.grad.tolist() == [1.0, 1.0]
    messages = []
    for fw in (torch, ember):
        hooked = [fw.nn.ReLU(), fw.nn.ReLU()]
        hooked[0].register_backward_hook(lambda *args: None)
        hooked[1].register_full_backward_hook(lambda *args: None)
        for module, register in ((hooked[0], "register_full_backward_hook"),
                                 (hooked[1], "register_backward_hook")):
            with pytest.raises(RuntimeError) as error:
                getattr(module, register)(lambda *args: None)
            messages.append(str(error.value))
    assert messages[:2] == messages[2:]


@pytest.mark.parametrize("pre", [False, True])
@pytest.mark.parametrize("replacement", ["wrong_size", "not_a_tensor"])
def test_full_backward_hooks_returning_bad_gradients_err_as_torch(torch, pre, replacement):
    def call(fw):
        layer = fw.nn.Linear(2, 2)
        value = fw.ones(3) if replacement == "wrong_size" else 3
        if pre:
            layer.register_full_backward_pre_hook(lambda module, grad_output: (value,))
        else:
            layer.register_full_backward_hook(lambda module, grad_input, grad_output: (value,))
        layer(fw.ones(2, requires_grad=True)).sum().backward()
    assert outcome(call, torch)[0] == "raised"
    assert_same_outcome_as_torch(torch, call)
