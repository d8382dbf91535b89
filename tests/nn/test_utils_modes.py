"""ember.nn.utils: freeze_batchnorm / unfreeze_batchnorm, mc_dropout, update_bn (exact stats)."""
import warnings

import numpy as np
import pytest

import ember
from ember import nn
from ember.data import DataLoader, TensorDataset
from ember.nn.utils import freeze_batchnorm, mc_dropout, unfreeze_batchnorm, update_bn
from ember.training import train_one_epoch


def _model():
    return nn.Sequential(
        nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Dropout(0.5),
        nn.Sequential(nn.Linear(8, 8), nn.BatchNorm1d(8)), nn.Linear(8, 3))


def _state(model):
    return {name: tensor.numpy().copy() for name, tensor in model.state_dict().items()}


def _modes(model):
    return [module.training for module in model.modules()]


# ---- locks on an ancestor's train()/eval() -------------------------------------------------------

def test_train_and_eval_leave_a_locked_submodule_alone_and_recurse_below_it():
    model = _model()
    model[4].lock_mode(False)
    model.train()
    assert model[4].training is False
    assert model[4][1].training is True  # recursion continues below the locked module
    model.eval()
    model[4].lock_mode(True)
    model.eval()
    assert model[4].training is True and model[4][0].training is False
    model[4].unlock_mode()
    model.eval()
    assert model[4].training is False


# ---- freeze_batchnorm ----------------------------------------------------------------------------

def test_freeze_survives_train_and_leaves_state_dict_alone():
    model = _model()
    before = _state(model)
    keys = list(model.state_dict())
    assert freeze_batchnorm(model) is model
    model.train()
    assert model[1].training is False and model[4][1].training is False
    assert model[0].training is True and model[3].training is True
    assert model[1].weight.requires_grad is False and model[1].bias.requires_grad is False
    assert model[0].weight.requires_grad is True
    assert list(model.state_dict()) == keys
    for name, value in _state(model).items():
        np.testing.assert_array_equal(value, before[name])


def test_frozen_batchnorm_running_statistics_and_affine_stay_bit_identical_in_training():
    ember.manual_seed(0)
    model = _model()
    dataset = TensorDataset(ember.randn(64, 4) * 3 + 1, ember.randint(0, 3, (64,)))
    optimizer = ember.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    freeze_batchnorm(model)
    before = _state(model)
    train_one_epoch(model, DataLoader(dataset, batch_size=16), nn.CrossEntropyLoss(), optimizer)
    after = _state(model)
    frozen = [name for name in before if name.startswith(("1.", "4.1."))]
    assert len(frozen) == 10  # weight, bias, running_mean, running_var, num_batches_tracked x 2
    for name in frozen:
        assert after[name].tobytes() == before[name].tobytes(), name
    for name in ("0.weight", "0.bias", "4.0.weight", "5.weight", "5.bias"):
        assert not np.array_equal(after[name], before[name]), name


def test_freeze_without_affine_keeps_statistics_but_trains_weight_and_bias():
    ember.manual_seed(0)
    model = _model()
    dataset = TensorDataset(ember.randn(32, 4), ember.randint(0, 3, (32,)))
    optimizer = ember.optim.SGD(model.parameters(), lr=0.1)
    freeze_batchnorm(model, affine=False)
    before = _state(model)
    train_one_epoch(model, DataLoader(dataset, batch_size=16), nn.CrossEntropyLoss(), optimizer)
    after = _state(model)
    for name in ("1.running_mean", "1.running_var", "1.num_batches_tracked"):
        np.testing.assert_array_equal(after[name], before[name])
    assert not np.array_equal(after["1.weight"], before["1.weight"])


def test_unfreeze_undoes_exactly_what_freeze_changed():
    model = _model()
    model[4][1].lock_mode(True)          # a BatchNorm locked in train by the user
    model[1].bias.requires_grad_(False)  # a bias the user had already frozen
    freeze_batchnorm(model)
    freeze_batchnorm(model)  # freezing twice remembers the original state once
    assert model[4][1].training is False
    model.eval()
    assert unfreeze_batchnorm(model) is model
    assert model[4][1]._mode_lock is True and model[4][1].training is True
    assert model[1]._mode_lock is None
    assert model[1].training is False  # follows its parent's current mode (eval)
    assert model[1].weight.requires_grad is True
    assert model[1].bias.requires_grad is False
    assert model[4][1].weight.requires_grad is True
    model.train()
    assert model[1].training is True
    unfreeze_batchnorm(model)  # nothing frozen: no change
    assert model[4][1]._mode_lock is True


def test_unfreeze_a_lone_batchnorm_gets_its_previous_mode_back():
    norm = nn.BatchNorm2d(3)
    freeze_batchnorm(norm)
    assert norm.training is False
    unfreeze_batchnorm(norm)
    assert norm.training is True and norm._mode_lock is None


def test_freeze_applies_to_every_batchnorm_kind():
    model = nn.Sequential(nn.BatchNorm1d(2), nn.BatchNorm2d(2), nn.BatchNorm3d(2), nn.Dropout())
    freeze_batchnorm(model).train()
    assert _modes(model) == [True, False, False, False, True]


def test_freeze_bad_arguments():
    with pytest.raises(TypeError, match="expected an ember.nn.Module, got int"):
        freeze_batchnorm(3)
    with pytest.raises(TypeError, match="affine must be a bool"):
        freeze_batchnorm(_model(), affine=1)
    with pytest.raises(TypeError, match="expected an ember.nn.Module"):
        unfreeze_batchnorm("model")


# ---- mc_dropout ----------------------------------------------------------------------------------

def test_mc_dropout_activates_only_dropout_and_restores():
    model = _model()
    model.train()
    model[4].eval()
    before = _modes(model)
    with mc_dropout(model) as entered:
        assert entered is model
        kinds = {type(module).__name__: module.training for module in model.modules()}
        assert kinds == {"Sequential": False, "Linear": False, "BatchNorm1d": False,
                         "ReLU": False, "Dropout": True}
        assert ember.is_grad_enabled()  # the grad mode is not its business
        inputs = ember.randn(5, 4)
        first = model(inputs).detach().numpy()
        second = model(inputs).detach().numpy()
        assert not np.array_equal(first, second)
    assert _modes(model) == before


def test_mc_dropout_covers_every_dropout_class_and_restores_after_errors():
    model = nn.Sequential(nn.Dropout(), nn.Dropout1d(), nn.Dropout2d(), nn.Dropout3d(),
                          nn.AlphaDropout(), nn.FeatureAlphaDropout(), nn.BatchNorm1d(3))
    model.eval()
    with pytest.raises(RuntimeError, match="inside"):
        with mc_dropout(model):
            assert _modes(model) == [False] + [True] * 6 + [False]
            raise RuntimeError("inside")
    assert not any(_modes(model))


def test_mc_dropout_as_a_decorator():
    model = _model()

    @mc_dropout(model)
    def sample():
        return _modes(model)

    assert sample().count(True) == 1
    assert all(_modes(model))


# ---- update_bn -----------------------------------------------------------------------------------

def _population(values):
    """Per-channel mean and unbiased variance over every axis but 1, in float64."""
    values = np.asarray(values, dtype=np.float64)
    axes = (0,) + tuple(range(2, values.ndim))
    return values.mean(axis=axes), values.var(axis=axes, ddof=1)


@pytest.mark.parametrize("norm_class, shape", [
    (nn.BatchNorm1d, (3,)), (nn.BatchNorm1d, (3, 5)), (nn.BatchNorm2d, (3, 4, 2)),
    (nn.BatchNorm3d, (3, 2, 3, 2))])
def test_update_bn_gives_the_exact_population_statistics(norm_class, shape):
    random = np.random.default_rng(1)
    sizes = [7, 2, 13, 5]  # unequal batches: averaging per-batch statistics would be wrong
    scale = np.array([4.0, 1.0, 0.1]).reshape((3,) + (1,) * (len(shape) - 1))
    batches = [(random.normal(size=(size,) + shape) * scale + 2.0).astype(np.float32)
               for size in sizes]
    norm = norm_class(3, momentum=0.3)
    model = nn.Sequential(nn.Dropout(0.5), norm)
    model.train()
    loader = [(ember.tensor(batch), ember.zeros(batch.shape[0])) for batch in batches]
    update_bn(loader, model)
    mean, variance = _population(np.concatenate(batches))
    np.testing.assert_allclose(norm.running_mean.numpy(), mean, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(norm.running_var.numpy(), variance, rtol=1e-6)
    assert norm.running_mean.dtype == norm.running_var.dtype == ember.float32
    assert norm.num_batches_tracked.item() == len(sizes)
    assert norm.momentum == 0.3
    assert norm.track_running_stats is True
    assert all(_modes(model))


def test_update_bn_deeper_layers_see_batch_normalised_features():
    """The second BatchNorm's statistics are those of Linear(BatchNorm(x) with batch statistics)."""
    ember.manual_seed(0)
    first = nn.BatchNorm1d(3)
    linear = nn.Linear(3, 2)
    second = nn.BatchNorm1d(2)
    with ember.no_grad():
        first.weight.copy_(ember.tensor([1.5, 0.5, 2.0]))
        first.bias.copy_(ember.tensor([0.1, -0.2, 0.3]))
    model = nn.Sequential(first, nn.Dropout(0.9), linear, second)
    random = np.random.default_rng(2)
    batches = [(random.normal(size=(size, 3)) * 3 + 1).astype(np.float32) for size in (9, 4, 6)]
    features = []
    weight = linear.weight.detach().numpy().astype(np.float64)
    bias = linear.bias.detach().numpy().astype(np.float64)
    for batch in batches:
        values = batch.astype(np.float64)
        normalised = (values - values.mean(0)) / np.sqrt(values.var(0) + first.eps)
        normalised = normalised * first.weight.detach().numpy() + first.bias.detach().numpy()
        features.append(normalised @ weight.T + bias)
    update_bn([ember.tensor(batch) for batch in batches], model)
    mean, variance = _population(np.concatenate(features))
    np.testing.assert_allclose(second.running_mean.numpy(), mean, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(second.running_var.numpy(), variance, rtol=1e-5)
    mean, variance = _population(np.concatenate(batches))
    np.testing.assert_allclose(first.running_mean.numpy(), mean, rtol=1e-6)
    np.testing.assert_allclose(first.running_var.numpy(), variance, rtol=1e-6)


def test_update_bn_max_batches_restores_modes_and_stays_quiet():
    model = _model()
    model.train()
    model[3].eval()
    freeze_batchnorm(model)
    before = _modes(model)
    locks = [module._mode_lock for module in model.modules()]
    random = np.random.default_rng(3)
    batches = [random.normal(size=(size, 4)).astype(np.float32) for size in (5, 6, 7)]
    dataset = [(ember.tensor(batch),) for batch in batches]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        update_bn(dataset, model, max_batches=2)
    weight = model[0].weight.detach().numpy().astype(np.float64)
    bias = model[0].bias.detach().numpy().astype(np.float64)
    mean, variance = _population(np.concatenate(batches[:2]) @ weight.T + bias)
    np.testing.assert_allclose(model[1].running_mean.numpy(), mean, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model[1].running_var.numpy(), variance, rtol=1e-5)
    assert model[1].num_batches_tracked.item() == 2
    assert _modes(model) == before
    assert [module._mode_lock for module in model.modules()] == locks
    assert ember.is_grad_enabled()


def test_update_bn_with_no_data_or_zero_batches_changes_nothing():
    model = _model()
    before = _state(model)
    update_bn([], model)
    update_bn([ember.randn(4, 4)], model, max_batches=0)
    for name, value in _state(model).items():
        np.testing.assert_array_equal(value, before[name])


def test_update_bn_leaves_everything_as_it_was_when_the_loader_fails():
    model = _model()
    before = _state(model)
    modes = _modes(model)

    def failing():
        yield ember.randn(4, 4)
        raise OSError("disk")

    with pytest.raises(OSError, match="disk"):
        update_bn(failing(), model)
    for name, value in _state(model).items():
        np.testing.assert_array_equal(value, before[name])
    assert _modes(model) == modes
    assert model[1].track_running_stats is True
    assert not model[1]._forward_pre_hooks


def test_update_bn_bad_arguments():
    with pytest.raises(ValueError, match="max_batches must be None or a non-negative int"):
        update_bn([], _model(), max_batches=-1)
    with pytest.raises(ValueError, match="max_batches"):
        update_bn([], _model(), max_batches=True)
    with pytest.raises(TypeError, match="expected an ember.nn.Module, got list"):
        update_bn(_model(), [])
