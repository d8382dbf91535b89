"""BatchNorm1d/2d/3d against torch: outputs, every gradient, running statistics, modes, loading."""
from collections import OrderedDict

import numpy as np
import pytest

import ember
import ember.nn as nn
import ember.nn.functional as F
from ember.autograd import gradcheck


def _load_from_torch(module, torch_module):
    module.load_state_dict({key: ember.tensor(value.detach().numpy())
                            for key, value in torch_module.state_dict().items()})


def _assert_state_matches(module, torch_module):
    ours = module.state_dict()
    theirs = torch_module.state_dict()
    assert list(ours) == list(theirs)
    for key in theirs:
        expected = theirs[key].numpy()
        assert ours[key].numpy().dtype == expected.dtype, key
        np.testing.assert_allclose(ours[key].numpy(), expected, rtol=1e-5, atol=1e-6,
                                   err_msg=key)


def _step(module, torch_module, array, torch, grad_seed):
    """One forward/backward on both; compare output, input grad and parameter grads."""
    x = ember.tensor(array, requires_grad=True)
    tx = torch.tensor(array, requires_grad=True)
    module.zero_grad()
    torch_module.zero_grad()
    output = module(x)
    expected = torch_module(tx)
    assert output.dtype == ember.float32
    np.testing.assert_allclose(output.detach().numpy(), expected.detach().numpy(), rtol=1e-5,
                               atol=1e-5)
    grad = np.random.default_rng(grad_seed).standard_normal(array.shape).astype(np.float32)
    output.backward(ember.tensor(grad))
    expected.backward(torch.tensor(grad))
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-4, atol=1e-5)
    for (name, parameter), (_, torch_parameter) in zip(module.named_parameters(),
                                                      torch_module.named_parameters()):
        np.testing.assert_allclose(parameter.grad.numpy(), torch_parameter.grad.numpy(),
                                   rtol=1e-4, atol=1e-4, err_msg=name)


CONFIGURATIONS = [
    # (class name, constructor keywords, input shape, change applied after construction)
    ("BatchNorm1d", dict(), (8, 4), None),
    ("BatchNorm1d", dict(), (6, 4, 5), None),
    ("BatchNorm1d", dict(momentum=None), (6, 4, 5), None),
    # (N, C) inputs: the compiled row kernels, channels side by side
    ("BatchNorm1d", dict(), (33, 1031), None),
    ("BatchNorm1d", dict(momentum=None, affine=False), (200, 96), None),
    ("BatchNorm2d", dict(), (4, 3, 5, 6), None),
    ("BatchNorm2d", dict(momentum=None), (4, 3, 5, 6), None),
    ("BatchNorm2d", dict(momentum=0.3, eps=1e-3), (4, 3, 5, 6), None),
    ("BatchNorm2d", dict(affine=False), (4, 3, 5, 6), None),
    ("BatchNorm2d", dict(bias=False), (4, 3, 5, 6), None),
    ("BatchNorm2d", dict(track_running_stats=False), (4, 3, 5, 6), None),
    ("BatchNorm2d", dict(affine=False, track_running_stats=False), (4, 3, 5, 6), None),
    ("BatchNorm2d", dict(), (4, 3, 5, 6), "stop_tracking"),
    ("BatchNorm2d", dict(track_running_stats=False), (4, 3, 5, 6), "start_tracking"),
    ("BatchNorm3d", dict(), (3, 2, 4, 3, 5), None),
    ("BatchNorm3d", dict(momentum=None, affine=False), (3, 2, 4, 3, 5), None),
]


@pytest.mark.parametrize("name, keywords, shape, change", CONFIGURATIONS)
def test_training_then_eval_matches_torch(torch, name, keywords, shape, change):
    channels = shape[1]
    module = getattr(nn, name)(channels, **keywords)
    torch_module = getattr(torch.nn, name)(channels, **keywords)
    assert repr(module) == repr(torch_module)
    random = np.random.default_rng(7)
    if torch_module.weight is not None:
        with torch.no_grad():
            torch_module.weight.uniform_(0.5, 1.5)
    if torch_module.bias is not None:
        with torch.no_grad():
            torch_module.bias.uniform_(-0.5, 0.5)
    _load_from_torch(module, torch_module)
    _assert_state_matches(module, torch_module)
    if change == "stop_tracking":
        # Train with batch statistics without updating the buffers; eval uses the stale buffers.
        module.track_running_stats = torch_module.track_running_stats = False
    elif change == "start_tracking":
        module.track_running_stats = torch_module.track_running_stats = True
    for step in range(4):
        array = (random.standard_normal(shape) * (step + 1) + step).astype(np.float32)
        _step(module, torch_module, array, torch, grad_seed=step)
        _assert_state_matches(module, torch_module)
    module.eval()
    torch_module.eval()
    for step in range(2):
        array = (random.standard_normal(shape) * 2 + 1).astype(np.float32)
        before = {key: value.numpy().copy() for key, value in module.state_dict().items()}
        _step(module, torch_module, array, torch, grad_seed=10 + step)
        after = module.state_dict()
        for key, value in before.items():
            np.testing.assert_array_equal(after[key].numpy(), value)  # eval never mutates buffers
    _assert_state_matches(module, torch_module)


def test_running_statistics_formulas():
    module = nn.BatchNorm1d(3, momentum=0.25)
    array = np.random.default_rng(8).standard_normal((5, 3)).astype(np.float32) * 3 + 2
    module(ember.tensor(array))
    np.testing.assert_allclose(module.running_mean.numpy(), 0.25 * array.mean(0), rtol=1e-5)
    np.testing.assert_allclose(module.running_var.numpy(), 0.75 + 0.25 * array.var(0, ddof=1),
                               rtol=1e-5)
    assert module.num_batches_tracked.item() == 1
    assert module.num_batches_tracked.dtype == ember.int64
    cumulative = nn.BatchNorm1d(3, momentum=None)
    batches = [np.random.default_rng(seed).standard_normal((4, 3)).astype(np.float32)
               for seed in range(3)]
    for batch in batches:
        cumulative(ember.tensor(batch))
    np.testing.assert_allclose(cumulative.running_mean.numpy(),
                               np.mean([batch.mean(0) for batch in batches], axis=0), rtol=1e-5,
                               atol=1e-6)
    np.testing.assert_allclose(cumulative.running_var.numpy(),
                               np.mean([batch.var(0, ddof=1) for batch in batches], axis=0),
                               rtol=1e-5)


@pytest.mark.parametrize("mode", ["no_grad", "inference_mode"])
def test_running_statistics_update_whatever_the_grad_mode(mode):
    module = nn.BatchNorm2d(3)
    context = ember.no_grad() if mode == "no_grad" else ember.inference_mode()
    # Training-mode BatchNorm under a disabled grad mode is what ember's ModeWarning flags.
    with pytest.warns(ember.ModeWarning, match="running statistics"), context:
        output = module(ember.randn(4, 3, 2, 2) + 5)
    assert output.grad_fn is None
    assert module.num_batches_tracked.item() == 1
    assert np.all(module.running_mean.numpy() > 0.2)


def test_eval_still_computes_gradients():
    module = nn.BatchNorm2d(3)
    module(ember.randn(4, 3, 2, 2))
    module.eval()
    x = ember.randn(2, 3, 2, 2, requires_grad=True)
    module(x).sum().backward()
    assert x.grad is not None and module.weight.grad is not None
    expected = 1 / np.sqrt(module.running_var.numpy() + module.eps) * module.weight.detach().numpy()
    np.testing.assert_allclose(x.grad.numpy(), np.broadcast_to(expected[:, None, None],
                                                              (2, 3, 2, 2)), rtol=1e-6)


@pytest.mark.parametrize("training", [True, False])
def test_functional_gradcheck(training):
    random = np.random.default_rng(9)
    x = ember.tensor(random.standard_normal((3, 2, 2, 3)), requires_grad=True)
    weight = ember.tensor(random.uniform(0.5, 1.5, 2), requires_grad=True)
    bias = ember.tensor(random.standard_normal(2), requires_grad=True)
    running_mean = ember.tensor(random.standard_normal(2))
    running_var = ember.tensor(random.uniform(0.5, 2, 2))

    def function(x, weight, bias):
        # Fresh copies so every finite-difference evaluation sees the same running statistics.
        return F.batch_norm(x, running_mean.clone(), running_var.clone(), weight, bias,
                            training=training)
    assert gradcheck(function, (x, weight, bias))
    assert gradcheck(lambda x: F.batch_norm(x, None, None, training=True), (x,))


def test_functional_matches_torch_float64(torch):
    random = np.random.default_rng(10)
    array = random.standard_normal((5, 3, 4))
    x = ember.tensor(array, requires_grad=True)
    tx = torch.tensor(array, requires_grad=True)
    running = [ember.zeros(3, dtype=ember.float64), ember.ones(3, dtype=ember.float64)]
    torch_running = [torch.zeros(3, dtype=torch.float64), torch.ones(3, dtype=torch.float64)]
    output = F.batch_norm(x, *running, training=True, momentum=0.2, eps=1e-3)
    expected = torch.nn.functional.batch_norm(tx, *torch_running, training=True, momentum=0.2,
                                              eps=1e-3)
    np.testing.assert_allclose(output.detach().numpy(), expected.detach().numpy(), rtol=1e-12,
                               atol=1e-12)
    (output * output).sum().backward()
    (expected * expected).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-10, atol=1e-12)
    for mine, theirs in zip(running, torch_running):
        np.testing.assert_allclose(mine.numpy(), theirs.numpy(), rtol=1e-12)


def test_input_rank_and_batch_size_errors(torch):
    cases = [(nn.BatchNorm2d(3), torch.nn.BatchNorm2d(3), (2, 3, 4)),
             (nn.BatchNorm1d(3), torch.nn.BatchNorm1d(3), (2, 3, 4, 4)),
             (nn.BatchNorm3d(3), torch.nn.BatchNorm3d(3), (2, 3, 4, 4))]
    for module, torch_module, shape in cases:
        with pytest.raises(ValueError) as expected:
            torch_module(torch.zeros(shape))
        with pytest.raises(ValueError) as raised:
            module(ember.zeros(shape))
        assert str(raised.value) == str(expected.value)
    assert str(raised.value) == "expected 5D input (got 4D input)"
    with pytest.raises(ValueError, match=r"Expected more than 1 value per channel when training, "
                                         r"got input size ember.Size\(\[1, 3\]\)"):
        nn.BatchNorm1d(3)(ember.zeros(1, 3))
    with pytest.raises(ValueError, match=r"got input size ember.Size\(\[1, 3, 1, 1\]\)"):
        nn.BatchNorm2d(3, track_running_stats=False).eval()(ember.zeros(1, 3, 1, 1))
    assert nn.BatchNorm2d(3).eval()(ember.zeros(1, 3, 1, 1)).shape == (1, 3, 1, 1)


def test_state_dict_keys_version_and_reset(torch):
    module = nn.BatchNorm2d(3)
    torch_module = torch.nn.BatchNorm2d(3)
    assert list(module.state_dict()) == list(torch_module.state_dict())
    assert module.state_dict()._metadata[""]["version"] == 2
    assert list(nn.BatchNorm2d(3, affine=False, track_running_stats=False).state_dict()) == []
    module(ember.randn(4, 3, 2, 2) * 3 + 1)
    with ember.no_grad():
        module.weight.fill_(2.0)
    module.reset_running_stats()
    np.testing.assert_array_equal(module.running_mean.numpy(), np.zeros(3, np.float32))
    np.testing.assert_array_equal(module.running_var.numpy(), np.ones(3, np.float32))
    assert module.num_batches_tracked.item() == 0
    assert module.weight.detach().numpy().tolist() == [2.0, 2.0, 2.0]
    module.reset_parameters()
    assert module.weight.detach().numpy().tolist() == [1.0, 1.0, 1.0]
    assert module.bias.detach().numpy().tolist() == [0.0, 0.0, 0.0]


def test_loading_a_checkpoint_without_num_batches_tracked(torch):
    module = nn.BatchNorm1d(3)
    torch_module = torch.nn.BatchNorm1d(3)
    for _ in range(2):
        module(ember.randn(4, 3))
        torch_module(torch.randn(4, 3))
    fresh = nn.BatchNorm1d(3).state_dict()
    old = OrderedDict((key, value) for key, value in fresh.items()
                      if key != "num_batches_tracked")
    torch_old = OrderedDict((key, value) for key, value in
                            torch.nn.BatchNorm1d(3).state_dict().items()
                            if key != "num_batches_tracked")
    old._metadata = OrderedDict({"": {"version": 1}})
    torch_old._metadata = OrderedDict({"": {"version": 1}})
    result = module.load_state_dict(old)
    torch_result = torch_module.load_state_dict(torch_old)
    assert result.missing_keys == torch_result.missing_keys == []
    assert module.num_batches_tracked.item() == torch_module.num_batches_tracked.item() == 2
    np.testing.assert_array_equal(module.running_mean.numpy(), np.zeros(3, np.float32))
    current = OrderedDict(old)
    current._metadata = OrderedDict({"": {"version": 2}})
    with pytest.raises(RuntimeError, match='Missing key\\(s\\) in state_dict: '
                                           '"num_batches_tracked"'):
        module.load_state_dict(current)


@pytest.mark.parametrize("call, error", [
    (lambda F, lib: F.batch_norm(lib.randn(4, 3), lib.zeros(3), lib.ones(3), training=True,
                                 momentum=None), TypeError),
    (lambda F, lib: F.batch_norm(lib.randn(4, 3), None, None, training=False), RuntimeError),
    (lambda F, lib: F.batch_norm(lib.randn(4, 3), lib.zeros(4), lib.ones(4)), RuntimeError),
    (lambda F, lib: F.batch_norm(lib.randn(1, 3), None, None, training=True), ValueError),
])
def test_functional_errors_match_torch(torch, call, error):
    with pytest.raises(error) as expected:
        call(torch.nn.functional, torch)
    with pytest.raises(error) as raised:
        call(F, ember)
    assert str(raised.value) == str(expected.value).replace("torch.Size", "ember.Size")


def _stats(lib, size=3, mean_grad=True, var_grad=True, dtype=None):
    return (lib.zeros(size, requires_grad=mean_grad, dtype=dtype),
            lib.ones(size, requires_grad=var_grad))


RUNNING_STATS_REQUIRING_GRAD = {
    "train": lambda F, lib: F.batch_norm(lib.randn(4, 3, 5), *_stats(lib), training=True),
    "train_var_only": lambda F, lib: F.batch_norm(lib.randn(4, 3), *_stats(lib, mean_grad=False),
                                                  training=True),
    "eval": lambda F, lib: F.batch_norm(lib.randn(4, 3, requires_grad=True), *_stats(lib)),
    "momentum_zero": lambda F, lib: F.batch_norm(lib.randn(4, 3), *_stats(lib), training=True,
                                                 momentum=0.0),
    "then_sizes": lambda F, lib: F.batch_norm(lib.randn(4, 3), *_stats(lib, 4), training=True),
    "then_eps": lambda F, lib: F.batch_norm(lib.randn(4, 3), *_stats(lib), training=True,
                                            eps=0.0),
    "then_batch": lambda F, lib: F.batch_norm(lib.randn(1, 3), *_stats(lib), training=True),
    "before_dtypes": lambda F, lib: F.batch_norm(lib.randn(4, 3), *_stats(lib, dtype=lib.float64),
                                                 training=True),
    "before_integer_input": lambda F, lib: F.batch_norm(lib.ones(4, 3, dtype=lib.int64),
                                                        *_stats(lib), training=True),
    "bfloat16": lambda F, lib: F.batch_norm(lib.randn(4, 3).bfloat16(), *_stats(lib),
                                            training=True),
    "instance_norm": lambda F, lib: F.instance_norm(lib.randn(2, 3, 5), *_stats(lib)),
    "instance_norm_eval": lambda F, lib: F.instance_norm(lib.randn(2, 3, 5), *_stats(lib),
                                                         use_input_stats=False),
    "instance_norm_then_sizes": lambda F, lib: F.instance_norm(lib.randn(2, 3, 5),
                                                               *_stats(lib, 4)),
}


@pytest.mark.parametrize("name", list(RUNNING_STATS_REQUIRING_GRAD))
def test_running_statistics_requiring_grad_are_refused_like_torch(torch, name):
    """PyTorch's native_batch_norm is not differentiable in its running statistics: given ones
    that require grad (training or not, instance_norm's too) it raises, after the size and
    batch checks and before its kernel's dtype checks."""
    call = RUNNING_STATS_REQUIRING_GRAD[name]
    with pytest.raises(Exception) as expected:
        call(torch.nn.functional, torch)
    with pytest.raises(expected.type) as raised:
        call(F, ember)
    assert str(raised.value) == str(expected.value).replace("torch.Size", "ember.Size")


@pytest.mark.parametrize("case", ["no_grad", "empty", "empty_integer"])
def test_running_statistics_requiring_grad_pass_where_torch_lets_them(torch, case):
    """Without grad mode, or for an empty batch (which never reaches the kernel), PyTorch
    accepts them; the output and running statistics then equal its."""
    results = []
    for lib in (torch, ember):
        shape = (0, 3) if case != "no_grad" else (4, 3)
        dtype = lib.int64 if case == "empty_integer" else lib.float32
        x = lib.tensor(np.arange(12.0).reshape(4, 3)[:shape[0]]).to(dtype)
        running_mean, running_var = _stats(lib)
        with lib.no_grad() if case == "no_grad" else lib.enable_grad():
            output = lib.nn.functional.batch_norm(x, running_mean, running_var, training=True)
        results.append([tensor.detach().numpy() for tensor in (output, running_mean,
                                                                running_var)])
    for ours, theirs in zip(results[1], results[0]):
        assert ours.dtype == theirs.dtype
        np.testing.assert_allclose(ours, theirs, rtol=1e-6)


def test_batch_counter_counts_and_bumps_its_version_as_torch(torch):
    """num_batches_tracked goes up by one per training forward, its version with it (PyTorch's
    add_), and not in eval; a layer made under inference_mode refuses to count outside it."""
    counts = []
    for library in (ember, torch):
        layer = library.nn.BatchNorm2d(3)
        x = library.randn(4, 3, 2, 2)
        before = layer.num_batches_tracked._version
        layer(x)
        layer(x)
        layer.eval()
        layer(x)
        counts.append((int(layer.num_batches_tracked), layer.num_batches_tracked._version - before,
                       str(layer.num_batches_tracked.dtype).split(".")[-1]))
    assert counts[0] == counts[1]
    errors = []
    for library in (ember, torch):
        with library.inference_mode():
            layer = library.nn.BatchNorm1d(3)
        try:
            layer(library.randn(4, 3))
        except RuntimeError as error:
            errors.append(str(error))
    assert len(errors) == 2 and errors[0] == errors[1]
