"""swa_utils against PyTorch: AveragedModel (equal weights, EMA, buffers), SWALR's lr trace and
update_bn's running statistics, from identical weights and data."""
import numpy as np
import pytest

import ember


def _model(module):
    return module.nn.Sequential(module.nn.Linear(3, 4), module.nn.BatchNorm1d(4),
                                module.nn.ReLU(), module.nn.Linear(4, 2))


def _same_weights(mine, theirs):
    mine.load_state_dict({key: ember.tensor(value.numpy())
                          for key, value in theirs.state_dict().items()})


@pytest.mark.parametrize("kind", ["swa", "ema_multi", "ema_fn", "buffers"])
def test_averaged_model_matches_torch(torch, kind):
    models = [_model(ember), _model(torch)]
    _same_weights(*models)
    rng = np.random.default_rng(0)
    batches = [(rng.standard_normal((8, 3)).astype("float32"),
                rng.standard_normal((8, 2)).astype("float32")) for _ in range(5)]
    states = []
    for module, model in zip((ember, torch), models):
        swa = module.optim.swa_utils
        options = {"swa": {}, "ema_multi": {"multi_avg_fn": swa.get_ema_multi_avg_fn(0.9)},
                   "ema_fn": {"avg_fn": swa.get_ema_avg_fn(0.8)},
                   "buffers": {"use_buffers": True}}[kind]
        averaged = swa.AveragedModel(model, **options)
        optimizer = module.optim.SGD(model.parameters(), lr=0.1)
        for inputs, targets in batches:
            loss = ((model(module.tensor(inputs)) - module.tensor(targets)) ** 2).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            averaged.update_parameters(model)
        states.append({key: value.detach().numpy() for key, value in
                       averaged.state_dict().items()})
    assert list(states[0]) == list(states[1])
    for key in states[1]:
        np.testing.assert_allclose(states[0][key], states[1][key], rtol=1e-5, atol=1e-6,
                                   err_msg=key)


def test_update_bn_matches_torch(torch):
    models = [_model(ember), _model(torch)]
    _same_weights(*models)
    data = np.random.default_rng(1).standard_normal((30, 3)).astype("float32")
    for module, model in zip((ember, torch), models):
        model.eval()
        loader = [(module.tensor(data[i:i + 7]), 0) for i in range(0, 30, 7)]
        module.optim.swa_utils.update_bn(loader, model)
        assert not model.training and model[1].momentum == 0.1
    for key in ("1.running_mean", "1.running_var", "1.num_batches_tracked"):
        np.testing.assert_allclose(models[0].state_dict()[key].numpy(),
                                   models[1].state_dict()[key].numpy(), rtol=1e-5, err_msg=key)


@pytest.mark.parametrize("strategy,epochs", [("cos", 3), ("linear", 4), ("cos", 0)])
def test_swalr_matches_torch(torch, strategy, epochs):
    traces = []
    for module in (ember, torch):
        parameter = module.nn.Parameter(module.zeros(2))
        optimizer = module.optim.SGD([parameter], lr=0.5)
        scheduler = module.optim.swa_utils.SWALR(optimizer, swa_lr=0.05, anneal_epochs=epochs,
                                                 anneal_strategy=strategy)
        trace = []
        for _ in range(7):
            optimizer.step()
            scheduler.step()
            trace.append(scheduler.get_last_lr()[0])
        traces.append(trace)
    np.testing.assert_allclose(traces[0], traces[1], rtol=1e-12)
    for module in (ember, torch):
        optimizer = module.optim.SGD([module.nn.Parameter(module.zeros(1))], lr=0.1)
        with pytest.raises(ValueError, match="^anneal_strategy must be one of 'cos' or 'linear', "
                                             "instead got step$"):
            module.optim.swa_utils.SWALR(optimizer, 0.1, anneal_strategy="step")
        with pytest.raises(ValueError, match="anneal_epochs"):
            module.optim.swa_utils.SWALR(optimizer, 0.1, anneal_epochs=-1)


def test_swalr_state_dict_matches_torch(torch):
    """PyTorch's keys (the strategy as ``_anneal_strategy``), and a loaded state brings its
    strategy along: a cosine scheduler resumed from a linear one's state anneals linearly."""
    states, traces = [], []
    for module in (ember, torch):
        swa = module.optim.swa_utils
        optimizer = module.optim.SGD([module.nn.Parameter(module.zeros(1))], lr=0.5)
        linear = swa.SWALR(optimizer, swa_lr=0.05, anneal_epochs=4, anneal_strategy="linear")
        optimizer.step()
        linear.step()
        state = linear.state_dict()
        states.append(state)
        resumed_optimizer = module.optim.SGD([module.nn.Parameter(module.zeros(1))], lr=0.5)
        resumed = swa.SWALR(resumed_optimizer, swa_lr=0.05, anneal_epochs=4)
        resumed_optimizer.load_state_dict(optimizer.state_dict())
        resumed.load_state_dict(state)
        trace = []
        for _ in range(4):
            resumed_optimizer.step()
            resumed.step()
            trace.append(resumed.get_last_lr()[0])
        traces.append(trace)
        assert resumed.anneal_func(0.5) == 0.5
    assert sorted(states[0]) == sorted(states[1])
    assert states[0]["_anneal_strategy"] == states[1]["_anneal_strategy"] == "linear"
    np.testing.assert_allclose(traces[0], traces[1], rtol=1e-12)


def test_averaged_model_of_a_differently_shaped_model_fails_like_torch(torch):
    """The first update copies the model's parameters in: a wrong shape is copy_'s error."""
    def update(library):
        library.manual_seed(0)
        averaged = library.optim.swa_utils.AveragedModel(library.nn.Linear(2, 1))
        averaged.update_parameters(library.nn.Linear(3, 1))

    with pytest.raises(RuntimeError) as theirs:
        update(torch)
    with pytest.raises(RuntimeError) as ours:
        update(ember)
    assert str(ours.value) == str(theirs.value)
