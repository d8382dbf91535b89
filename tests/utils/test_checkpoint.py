"""ember.utils.checkpoint (torch.utils.checkpoint): gradients equal to the model run without
checkpointing (dropout masks replayed), activations not kept, both variants' rules and
PyTorch's warnings and errors."""
import warnings

import numpy as np
import pytest

import ember
import ember.nn as nn
from ember.autograd import graph_stats
from ember.utils.checkpoint import checkpoint, checkpoint_sequential
from tests.conftest import assert_close, assert_same_result_or_error, load_torch_state


def _model(dropout=0.5, dtype=ember.float32):
    ember.manual_seed(0)
    return nn.Sequential(nn.Linear(6, 32), nn.Tanh(), nn.Dropout(dropout), nn.Linear(32, 32),
                         nn.GELU(), nn.Dropout(dropout), nn.Linear(32, 3)).to(dtype)


def _gradients(model, data, run):
    """The loss and the gradients of the parameters and the input from one backward."""
    for parameter in model.parameters():
        parameter.grad = None
    data = data.detach().requires_grad_(True)
    ember.manual_seed(123)
    loss = run(model, data * 1.5).pow(2).sum()
    loss.backward()
    return loss, [parameter.grad for parameter in model.parameters()] + [data.grad]


def _plain(model, data):
    return model(data)


@pytest.mark.parametrize("use_reentrant", [False, True])
def test_gradients_equal_the_unchecked_model_with_dropout(use_reentrant):
    model = _model()
    data = ember.randn(4, 6)
    expected_loss, expected = _gradients(model, data, _plain)
    loss, found = _gradients(
        model, data, lambda model, data: checkpoint(model, data, use_reentrant=use_reentrant))
    assert_close(loss, expected_loss)
    for ours, theirs in zip(found, expected):
        assert_close(ours, theirs)


def test_without_preserve_rng_state_the_recomputed_mask_differs():
    model = _model()
    data = ember.randn(4, 6)
    _, expected = _gradients(model, data, _plain)
    _, found = _gradients(model, data, lambda model, data: checkpoint(
        model, data, use_reentrant=False, preserve_rng_state=False))
    assert any(not np.allclose(ours.numpy(), theirs.numpy())
               for ours, theirs in zip(found, expected))


def test_random_state_after_checkpoint_is_the_caller_s():
    """The replay in backward leaves the default generator where the caller's draws left it."""
    model = _model()
    data = ember.randn(4, 6, requires_grad=True)
    ember.manual_seed(5)
    output = checkpoint(model, data, use_reentrant=False)
    after_forward = ember.randn(3)
    output.sum().backward()
    following = ember.randn(3)
    ember.manual_seed(5)
    model(data)
    assert_close(ember.randn(3), after_forward)
    assert_close(ember.randn(3), following)


def test_activations_are_not_kept():
    model = _model(dtype=ember.float64)
    data = ember.randn(64, 6, dtype=ember.float64, requires_grad=True)
    plain = graph_stats(model(data)).saved_bytes
    checkpointed = graph_stats(checkpoint(model, data, use_reentrant=False))
    parameter_bytes = sum(parameter.numel() * 8 for parameter in model.parameters())
    assert checkpointed.nodes == 1
    assert checkpointed.saved_bytes == data.numel() * 8 + parameter_bytes
    assert plain > checkpointed.saved_bytes + 64 * 32 * 8 * 3


def test_autograd_grad_reaches_the_parameters():
    model = _model(dropout=0.0)
    data = ember.randn(4, 6)
    _, expected = _gradients(model, data, _plain)
    output = checkpoint(model, data * 1.5, use_reentrant=False)
    found = ember.autograd.grad(output.pow(2).sum(), list(model.parameters()))
    for ours, theirs in zip(found, expected):
        assert_close(ours, theirs)


def test_create_graph_gives_the_unchecked_second_derivatives():
    model = _model(dropout=0.0, dtype=ember.float64)
    data = ember.randn(3, 6, dtype=ember.float64, requires_grad=True)

    def second(run):
        output = run(data)
        (first,) = ember.autograd.grad(output.pow(2).sum(), data, create_graph=True)
        return ember.autograd.grad(first.pow(2).sum(), [data] + list(model.parameters()))

    found = second(lambda data: checkpoint(model, data, use_reentrant=False))
    expected = second(model)
    for ours, theirs in zip(found, expected):
        assert_close(ours, theirs, rtol=1e-10, atol=1e-12)


def test_float64_gradcheck_through_checkpoint():
    model = _model(dropout=0.0, dtype=ember.float64).eval()
    data = ember.randn(2, 6, dtype=ember.float64, requires_grad=True)
    assert ember.autograd.gradcheck(
        lambda data: checkpoint(model, data, use_reentrant=False), [data])


def test_keyword_arguments_tuples_and_non_tensors_pass_through():
    weight = ember.randn(3, 3, requires_grad=True)

    def function(data, scale, *, bias, label):
        hidden = (data @ weight).tanh() * scale + bias
        return hidden, hidden.sum(), label

    data = ember.randn(2, 3, requires_grad=True)
    bias = ember.randn(3, requires_grad=True)
    hidden, total, label = checkpoint(function, data, 2.0, bias=bias, label="tag",
                                      use_reentrant=False)
    assert label == "tag"
    (hidden.pow(2).sum() + total).backward()
    found = [data.grad, weight.grad, bias.grad]
    data.grad = weight.grad = bias.grad = None
    hidden, total, _ = function(data, 2.0, bias=bias, label="tag")
    (hidden.pow(2).sum() + total).backward()
    for ours, theirs in zip(found, [data.grad, weight.grad, bias.grad]):
        assert_close(ours, theirs)


def test_a_captured_non_leaf_that_is_not_an_argument_is_refused():
    outside = ember.randn(3, requires_grad=True) * 2
    with pytest.raises(RuntimeError, match="pass that tensor as an argument"):
        checkpoint(lambda data: data * outside, ember.randn(3), use_reentrant=False)


def test_under_no_grad_it_is_the_plain_call():
    model = _model(dropout=0.0).eval()
    data = ember.randn(2, 6)
    with ember.no_grad():
        output = checkpoint(model, data, use_reentrant=False)
    assert output.grad_fn is None
    assert_close(output, model(data).detach())


def test_nothing_requiring_grad_returns_the_plain_output():
    output = checkpoint(lambda data: data * 2, ember.ones(2), use_reentrant=False)
    assert not output.requires_grad
    assert_close(output, ember.tensor([2.0, 2.0]))


def test_checkpoint_sequential_equals_the_unchecked_model():
    model = _model()
    data = ember.randn(4, 6)
    _, expected = _gradients(model, data, _plain)
    for segments in (1, 2, 3):
        _, found = _gradients(model, data, lambda model, data: checkpoint_sequential(
            model, segments, data, use_reentrant=False))
        for ours, theirs in zip(found, expected):
            assert_close(ours, theirs)


def _warning_texts(call):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        call()
    return [str(warning.message) for warning in caught]


def test_without_use_reentrant_torch_s_warning_and_the_reentrant_variant(torch):
    ember_model = _model(dropout=0.0)
    torch.manual_seed(0)
    torch_model = torch.nn.Sequential(
        torch.nn.Linear(6, 32), torch.nn.Tanh(), torch.nn.Dropout(0.0), torch.nn.Linear(32, 32),
        torch.nn.GELU(), torch.nn.Dropout(0.0), torch.nn.Linear(32, 3))
    load_torch_state(ember_model, torch_model)
    data = np.random.default_rng(0).standard_normal((4, 6)).astype(np.float32)
    ours_input = ember.tensor(data, requires_grad=True)
    theirs_input = torch.tensor(data, requires_grad=True)
    results = {}
    assert _warning_texts(lambda: results.setdefault(
        "ours", checkpoint(ember_model, ours_input))) == _warning_texts(
        lambda: results.setdefault("theirs", torch.utils.checkpoint.checkpoint(
            torch_model, theirs_input)))
    results["ours"].pow(2).sum().backward()
    results["theirs"].pow(2).sum().backward()
    assert_close(ours_input.grad, theirs_input.grad)
    for ours, theirs in zip(ember_model.parameters(), torch_model.parameters()):
        assert_close(ours.grad, theirs.grad, atol=1e-5)
    ours = _warning_texts(lambda: checkpoint_sequential(ember_model, 2, ours_input))
    theirs = _warning_texts(lambda: torch.utils.checkpoint.checkpoint_sequential(
        torch_model, 2, theirs_input))
    assert ours == theirs


def test_non_reentrant_gradients_match_torch(torch):
    ember_model = _model(dropout=0.0)
    torch_model = torch.nn.Sequential(
        torch.nn.Linear(6, 32), torch.nn.Tanh(), torch.nn.Dropout(0.0), torch.nn.Linear(32, 32),
        torch.nn.GELU(), torch.nn.Dropout(0.0), torch.nn.Linear(32, 3))
    load_torch_state(ember_model, torch_model)
    data = np.random.default_rng(1).standard_normal((4, 6)).astype(np.float32)
    ours = checkpoint(ember_model, ember.tensor(data), use_reentrant=False)
    theirs = torch.utils.checkpoint.checkpoint(torch_model, torch.tensor(data),
                                               use_reentrant=False)
    assert_close(ours, theirs)
    our_grads = ember.autograd.grad(ours.pow(2).sum(), list(ember_model.parameters()))
    their_grads = torch.autograd.grad(theirs.pow(2).sum(), list(torch_model.parameters()))
    for our_grad, their_grad in zip(our_grads, their_grads):
        assert_close(our_grad, their_grad, atol=1e-5)


def test_reentrant_warns_as_torch_when_no_input_requires_grad(torch):
    ours = _warning_texts(lambda: checkpoint(_model(), ember.randn(2, 6), use_reentrant=True))
    theirs = _warning_texts(lambda: torch.utils.checkpoint.checkpoint(
        torch.nn.Linear(6, 3), torch.randn(2, 6), use_reentrant=True))
    assert ours == theirs


ERRORS = [
    ("keywords with reentrant", dict(use_reentrant=True, flag=1)),
    ("context_fn with reentrant", dict(use_reentrant=True, context_fn=lambda: (None, None))),
    ("debug with reentrant", dict(use_reentrant=True, debug=True)),
    ("determinism_check", dict(use_reentrant=False, determinism_check="strict")),
]


@pytest.mark.parametrize("what, options", ERRORS, ids=[row[0] for row in ERRORS])
def test_bad_options_raise_torch_errors(torch, what, options):
    with pytest.raises(ValueError) as ours:
        checkpoint(lambda data: data * 2, ember.ones(2, requires_grad=True), **options)
    with pytest.raises(ValueError) as theirs:
        torch.utils.checkpoint.checkpoint(lambda data: data * 2,
                                          torch.ones(2, requires_grad=True), **options)
    assert str(ours.value) == str(theirs.value)


def test_checkpoint_sequential_refuses_unknown_keywords(torch):
    with pytest.raises(ValueError) as ours:
        checkpoint_sequential(_model(), 2, ember.ones(1, 6), use_reentrant=False, flag=1)
    with pytest.raises(ValueError) as theirs:
        torch.utils.checkpoint.checkpoint_sequential(torch.nn.Sequential(torch.nn.ReLU()), 1,
                                                     torch.ones(1, 6), use_reentrant=False,
                                                     flag=1)
    assert str(ours.value) == str(theirs.value)


def test_context_fn_wraps_the_forward_and_the_recomputation():
    entered = []

    class Recorder:
        def __init__(self, name):
            self.name = name

        def __enter__(self):
            entered.append(self.name)

        def __exit__(self, *exception):
            return False

    data = ember.randn(3, requires_grad=True)
    output = checkpoint(lambda data: data.exp(), data, use_reentrant=False,
                        context_fn=lambda: (Recorder("forward"), Recorder("recompute")))
    assert entered == ["forward"]
    output.sum().backward()
    assert entered == ["forward", "recompute"]
    assert_close(data.grad, data.detach().exp())


def test_reentrant_refuses_autograd_grad_as_torch(torch):
    data = ember.randn(2, 6, requires_grad=True)
    output = checkpoint(_model(dropout=0.0), data, use_reentrant=True)
    with pytest.raises(RuntimeError) as ours:
        ember.autograd.grad(output.sum(), data)
    their_data = torch.randn(2, 6, requires_grad=True)
    their_output = torch.utils.checkpoint.checkpoint(torch.nn.Linear(6, 3), their_data,
                                                     use_reentrant=True)
    with pytest.raises(RuntimeError) as theirs:
        torch.autograd.grad(their_output.sum(), their_data)
    assert str(ours.value) == str(theirs.value)


_TRANSFORMS = {
    "grad": lambda func, f, x: func.grad(lambda v: f(v).sum())(x),
    "vjp": lambda func, f, x: func.vjp(f, x)[1](x * 0 + 1)[0],
    "jacrev": lambda func, f, x: func.jacrev(f)(x),
    "hessian": lambda func, f, x: func.hessian(lambda v: f(v).sum())(x),
    "vmap": lambda func, f, x: func.vmap(f)(x.view(3, 1)),
    "jvp": lambda func, f, x: func.jvp(f, (x,), (x * 0 + 1,))[1],
    "jacfwd": lambda func, f, x: func.jacfwd(f)(x),
    "vmap(grad)": lambda func, f, x: func.vmap(func.grad(lambda v: f(v).sum()))(x.view(3, 1)),
}


@pytest.mark.parametrize("use_reentrant", [False, True])
@pytest.mark.parametrize("transform", sorted(_TRANSFORMS))
def test_checkpoint_under_torch_func_runs_or_fails_as_torch(torch, transform, use_reentrant):
    """PyTorch's non-reentrant checkpoint packs through saved tensor hooks: refused under grad,
    vjp, jacrev and hessian, run as it is under vmap, jvp and jacfwd; the reentrant one is a
    Function without setup_context, refused by every transform."""
    def call(fw):
        x = fw.tensor([0.5, 1.0, 2.0], dtype=fw.float64)

        def f(v):
            return fw.utils.checkpoint.checkpoint(fw.sin, v, use_reentrant=use_reentrant)
        return lambda: _TRANSFORMS[transform](fw.func, f, x)
    assert_same_result_or_error(call(torch), call(ember))


def test_set_checkpoint_early_stop_docstring_example_like_torch(torch):
    """PyTorch's example: a checkpoint made under set_checkpoint_early_stop(False) backpropagates
    the same gradients; the setting is restored on exit."""
    import ember.utils.checkpoint as ember_checkpoint
    import torch.utils.checkpoint as torch_checkpoint

    def gradient(library, module):
        x = library.tensor([0.5, -1.0, 2.0], dtype=library.float64, requires_grad=True)
        with module.set_checkpoint_early_stop(False):
            out = module.checkpoint(lambda value: (value.sin() * value).sum(), x,
                                    use_reentrant=False)
        out.backward()
        return x.grad.numpy()

    np.testing.assert_allclose(gradient(ember, ember_checkpoint),
                               gradient(torch, torch_checkpoint), rtol=1e-12)
    assert ember_checkpoint._early_stop is True
    with ember_checkpoint.set_checkpoint_debug_enabled(True):
        assert ember_checkpoint._debug_enabled is True
    assert ember_checkpoint._debug_enabled is None


def test_detach_variable_and_check_backward_validity_like_torch(torch):
    import ember.utils.checkpoint as ember_checkpoint
    import torch.utils.checkpoint as torch_checkpoint

    def detached(library, module):
        inputs = (library.ones(2, requires_grad=True) * 2, library.zeros(2), 3)
        out = module.detach_variable(inputs)
        return [(value.requires_grad, value.grad_fn is None) if hasattr(value, "grad_fn")
                else value for value in out]

    assert detached(ember, ember_checkpoint) == detached(torch, torch_checkpoint)
    for module in (ember_checkpoint, torch_checkpoint):
        with pytest.raises(RuntimeError, match="Only tuple of tensors is supported. Got "
                                               "Unsupported input type: list"):
            module.detach_variable([1])
    for library, module in ((ember, ember_checkpoint), (torch, torch_checkpoint)):
        with pytest.warns(UserWarning, match="None of the inputs have requires_grad=True"):
            module.check_backward_validity((library.ones(1), 2))
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            module.check_backward_validity((library.ones(1, requires_grad=True),))
