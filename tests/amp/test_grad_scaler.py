"""GradScaler against torch 2.13: the disabled scaler passes everything through, the CPU scaler
scales, unscales, skips steps with inf/NaN gradients and grows/backs off its scale as PyTorch's
does, with its errors and state_dict keys; an autocast + GradScaler training loop computes what
PyTorch computes."""
import warnings

import numpy as np
import pytest

import ember

# PyTorch's state_dict keys and defaults for GradScaler("cpu") (its documentation).
DEFAULT_STATE = {"scale": 65536.0, "growth_factor": 2.0, "backoff_factor": 0.5,
                 "growth_interval": 2000, "_growth_tracker": 0}


class _CountingOptimizer:
    """Just enough of an optimizer for the scaler: param_groups and a step that counts."""

    def __init__(self, params):
        self.param_groups = [{"params": list(params)}]
        self.steps = 0

    def step(self, *args, **kwargs):
        self.steps += 1
        return ("stepped", args, kwargs)


def _parameter_with_grad(library, values):
    parameter = library.nn.Parameter(library.zeros(len(values)))
    parameter.grad = library.tensor(values)
    return parameter


def test_disabled_scaler_passes_everything_through():
    scaler = ember.amp.GradScaler("cpu", enabled=False)
    loss = ember.tensor(3.0)
    optimizer = _CountingOptimizer([_parameter_with_grad(ember, [1.0, float("inf")])])
    assert scaler.scale(loss) is loss
    assert scaler.step(optimizer, 1, key=2) == ("stepped", (1,), {"key": 2})
    assert optimizer.steps == 1
    assert scaler.update() is None
    assert scaler.update(4.0) is None
    assert scaler.unscale_(optimizer) is None
    assert scaler.get_scale() == 1.0
    assert scaler.state_dict() == {}
    assert scaler.load_state_dict({}) is None
    assert scaler.is_enabled() is False
    np.testing.assert_array_equal(optimizer.param_groups[0]["params"][0].grad.numpy(),
                                  [1.0, np.inf])


def test_cuda_scaler_without_cuda_warns_and_is_disabled(torch):
    for library in (torch, ember):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            default = library.amp.GradScaler()
            legacy = library.cuda.amp.GradScaler()
        assert not default.is_enabled() and not legacy.is_enabled()
        messages = [(type(warning.message), str(warning.message)) for warning in caught]
        if library is torch:
            expected = messages
        else:
            assert messages == expected


def test_cpu_scaler_defaults_and_state_dict_keys_equal_torch(torch):
    ours = ember.amp.GradScaler("cpu")
    theirs = torch.amp.GradScaler("cpu")
    assert ours.state_dict() == theirs.state_dict() == DEFAULT_STATE
    assert ours.get_scale() == theirs.get_scale() == 65536.0
    for library, scaler in ((ember, ours), (torch, theirs)):
        scaled = scaler.scale([library.ones(2), (library.tensor(2.0),)])
        assert isinstance(scaled, list) and isinstance(scaled[1], tuple)
        assert scaled[1][0].item() == 131072.0
        assert scaler.scale(library.ones(2, dtype=library.int64)).dtype == library.float32
        assert scaler.scale(library.ones(2, dtype=library.bfloat16)).dtype == library.bfloat16
        assert scaler.scale(library.ones(2, dtype=library.float64)).dtype == library.float64


def _scaler_errors(library):
    """Each misuse's (exception type, message) in order, from one library."""
    seen = []

    def record(action):
        try:
            action()
        except Exception as error:  # noqa: BLE001 - the type is what is compared
            seen.append((type(error).__name__, str(error)))
        else:
            seen.append(None)

    scaler = library.amp.GradScaler("cpu")
    optimizer = library.optim.SGD([_parameter_with_grad(library, [1.0, 2.0])], lr=0.1)
    record(lambda: scaler.update())
    record(lambda: scaler.unscale_(optimizer))
    record(lambda: scaler.step(optimizer))
    record(lambda: scaler.scale(3.0))
    record(lambda: library.amp.GradScaler("cpu", growth_factor=1.0))
    record(lambda: library.amp.GradScaler("cpu", backoff_factor=1.0))
    record(lambda: scaler.load_state_dict({}))
    scaler.scale(library.tensor(1.0))
    record(lambda: scaler.step(optimizer, closure=lambda: 0.0))
    record(lambda: scaler.unscale_(optimizer))
    record(lambda: scaler.unscale_(optimizer))
    record(lambda: scaler.step(optimizer))
    record(lambda: scaler.step(optimizer))
    record(lambda: scaler.unscale_(optimizer))
    record(lambda: scaler.update(library.tensor([1.0, 2.0])))
    record(lambda: scaler.update(library.tensor(8.0)))
    record(lambda: scaler.get_scale())
    empty = library.amp.GradScaler("cpu")
    empty.scale(library.tensor(1.0))
    record(lambda: empty.step(library.optim.SGD([library.nn.Parameter(library.ones(1))], lr=1)))
    return seen


def test_scaler_misuse_raises_what_torch_raises(torch):
    assert _scaler_errors(ember) == _scaler_errors(torch)


def _run_scaler_steps(library, gradients, **options):
    """Feed ``gradients`` (already scaled, one list per step) through scaler.step/update; the
    scale, growth tracker, parameter values and whether each step ran."""
    parameter = library.nn.Parameter(library.zeros(2))
    optimizer = library.optim.SGD([parameter], lr=1.0)
    scaler = library.amp.GradScaler("cpu", **options)
    history = []
    for values in gradients:
        optimizer.zero_grad()
        scaler.scale(library.tensor(0.0))
        parameter.grad = library.tensor(values)
        scaler.unscale_(optimizer)
        unscaled = parameter.grad.tolist()
        scaler.step(optimizer)
        scaler.update()
        history.append((scaler.get_scale(), scaler._get_growth_tracker(),
                        parameter.detach().tolist(), unscaled))
    return history, scaler.state_dict()


def test_skip_backoff_and_growth_equal_torch(torch):
    inf = float("inf")
    nan = float("nan")
    gradients = [[64.0, -32.0], [inf, 1.0], [8.0, 3.0], [nan, 0.0], [1.0, 1.0], [2.0, 2.0],
                 [4.0, 4.0], [1e30, 1.0], [0.5, 0.25]]
    options = {"init_scale": 8.0, "growth_factor": 3.0, "backoff_factor": 0.25,
               "growth_interval": 2}
    ours = _run_scaler_steps(ember, gradients, **options)
    theirs = _run_scaler_steps(torch, gradients, **options)
    # NaN != NaN: compare the printed values.
    assert repr(ours) == repr(theirs)


def test_growth_stops_at_float32_overflow_as_torch(torch):
    options = {"init_scale": 3e38, "growth_interval": 1}
    assert (_run_scaler_steps(ember, [[1.0, 1.0]], **options)
            == _run_scaler_steps(torch, [[1.0, 1.0]], **options))


def test_load_state_dict_round_trip_and_new_scale(torch):
    state = {"scale": 512.0, "growth_factor": 4.0, "backoff_factor": 0.125, "growth_interval": 7,
             "_growth_tracker": 3}
    results = []
    for library in (ember, torch):
        scaler = library.amp.GradScaler("cpu")
        scaler.load_state_dict(state)
        before = scaler.state_dict()
        scaler.scale(library.tensor(1.0))
        scaler.update(2.0)
        results.append((before, scaler.state_dict(), scaler.get_growth_factor(),
                        scaler.get_backoff_factor(), scaler.get_growth_interval()))
    assert results[0] == results[1]
    assert results[0][0] == state


def test_load_state_dict_missing_key_changes_nothing():
    scaler = ember.amp.GradScaler("cpu")
    with pytest.raises(KeyError):
        scaler.load_state_dict({"scale": 2.0, "growth_factor": 3.0})
    assert scaler.state_dict() == DEFAULT_STATE


def _train_mixed_precision(library, weights, inputs, targets, steps, dtype):
    """A two-layer classifier trained under CPU autocast with a GradScaler (one step with an
    injected inf gradient): per step the loss, the scale and the first layer's weight."""
    model = library.nn.Sequential(library.nn.Linear(6, 16), library.nn.ReLU(),
                                  library.nn.Linear(16, 3))
    with library.no_grad():
        for parameter, value in zip(model.parameters(), weights):
            parameter.copy_(library.tensor(value))
    optimizer = library.optim.SGD(model.parameters(), lr=0.5, momentum=0.9)
    scaler = library.amp.GradScaler("cpu", init_scale=2.0 ** 12, growth_interval=3)
    data = library.tensor(inputs)
    labels = library.tensor(targets)
    history = []
    for step in range(steps):
        optimizer.zero_grad()
        with library.autocast("cpu", dtype=getattr(library, dtype)):
            logits = model(data)
            loss = library.nn.functional.cross_entropy(logits, labels)
        assert logits.dtype == getattr(library, dtype) and loss.dtype == library.float32
        scaler.scale(loss).backward()
        if step == 4:
            model[2].weight.grad[0, 0] = float("inf")
        scaler.step(optimizer)
        scaler.update()
        history.append((loss.item(), scaler.get_scale(), model[0].weight.detach().numpy().copy()))
    return history


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
def test_autocast_grad_scaler_training_equals_torch(torch, dtype):
    random = np.random.default_rng(3)
    weights = [random.uniform(-0.4, 0.4, shape).astype(np.float32)
               for shape in ((16, 6), (16,), (3, 16), (3,))]
    inputs = random.normal(size=(32, 6)).astype(np.float32)
    targets = random.integers(0, 3, size=32)
    ours = _train_mixed_precision(ember, weights, inputs, targets, 12, dtype)
    theirs = _train_mixed_precision(torch, weights, inputs, targets, 12, dtype)
    # Products in the autocast dtype are rounded to 8 (bfloat16) or 11 (float16) bits: values
    # agree to the precision of that rounding, scales exactly.
    tolerance = 2e-2 if dtype == "bfloat16" else 2e-3
    assert [scale for _, scale, _ in ours] == [scale for _, scale, _ in theirs]
    np.testing.assert_allclose([loss for loss, _, _ in ours], [loss for loss, _, _ in theirs],
                               rtol=tolerance, atol=tolerance)
    for (_, _, our_weight), (_, _, their_weight) in zip(ours, theirs):
        np.testing.assert_allclose(our_weight, their_weight, rtol=tolerance, atol=tolerance)
    losses = [loss for loss, _, _ in ours]
    assert losses[-1] < losses[0]
