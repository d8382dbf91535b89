"""ember.evaluating / training_mode (exact per-module restore, grad mode, decorators) and
ember.training.mc_predict."""
import numpy as np
import pytest

import ember
from ember import nn
from ember.data import DataLoader, TensorDataset
from ember.nn.utils.modes import _deliberate_depth
from ember.training import evaluating, mc_predict, train_one_epoch, training_mode


def _model():
    return nn.Sequential(
        nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Dropout(0.5),
        nn.Sequential(nn.Linear(8, 8), nn.Dropout(0.2)), nn.Linear(8, 3))


def _modes(model):
    return [module.training for module in model.modules()]


def _mixed(model):
    """Train mode overall, with two submodules deliberately left in eval."""
    model.train()
    model[3].eval()
    model[4][1].eval()
    return _modes(model)


@pytest.mark.parametrize("scope, training, grad_inside", [
    (evaluating, False, False), (training_mode, True, True)])
def test_block_sets_the_mode_and_restores_each_submodule(scope, training, grad_inside):
    model = _model()
    before = _mixed(model)
    with scope(model) as entered:
        assert entered is model
        assert all(flag is training for flag in _modes(model))
        assert ember.is_grad_enabled() is grad_inside
    assert _modes(model) == before
    assert model[3].training is False  # left in eval, stays in eval (train(was) would flip it)
    assert ember.is_grad_enabled()


def test_evaluating_restores_an_eval_model_with_a_training_child():
    model = _model().eval()
    model[4].train()
    before = _modes(model)
    with training_mode(model):
        pass
    with evaluating(model):
        pass
    assert _modes(model) == before


def test_training_mode_leaves_the_grad_mode_alone():
    model = _model().eval()
    with ember.no_grad():
        with training_mode(model):
            assert not ember.is_grad_enabled()
            assert model.training
        assert not ember.is_grad_enabled()
    assert not model.training


@pytest.mark.parametrize("scope", [evaluating, training_mode])
def test_restores_after_an_exception(scope):
    model = _model()
    before = _mixed(model)
    with pytest.raises(KeyError, match="boom"):
        with scope(model):
            raise KeyError("boom")
    assert _modes(model) == before
    assert ember.is_grad_enabled()


def test_nesting_restores_level_by_level():
    model = _model()
    before = _mixed(model)
    with evaluating(model):
        with training_mode(model):
            assert all(_modes(model))
            assert not ember.is_grad_enabled()
            with evaluating(model[4]):
                assert not any(_modes(model[4])) and model[0].training
            assert all(_modes(model))
        assert not any(_modes(model))
        assert not ember.is_grad_enabled()
    assert _modes(model) == before
    assert ember.is_grad_enabled()


def test_one_instance_can_be_reentered():
    model = _model()
    before = _mixed(model)
    scope = evaluating(model)
    with scope:
        with ember.enable_grad():
            with scope:
                assert not ember.is_grad_enabled()
            assert ember.is_grad_enabled()
        assert not any(_modes(model))
    assert _modes(model) == before


def test_several_modules_and_shared_submodules():
    shared = nn.Dropout(0.5)
    first = nn.Sequential(nn.Linear(2, 2), shared)
    second = nn.Sequential(shared, nn.BatchNorm1d(2))
    second[1].eval()
    with evaluating(first, second) as entered:
        assert entered == (first, second)
        assert not any(_modes(first) + _modes(second))
    assert _modes(first) == [True, True, True]
    assert _modes(second) == [True, True, False]


def test_locked_modules_keep_their_lock():
    model = _model()
    model[1].lock_mode(True)
    model[3].lock_mode(False)
    with evaluating(model):
        assert model[1].training is True and model[0].training is False
    with training_mode(model):
        assert model[3].training is False and model[0].training is True
    assert model[1]._mode_lock is True and model[3]._mode_lock is False
    assert model[1].training is True and model[3].training is False


def test_a_lock_taken_inside_the_block_wins_over_the_restore():
    model = _model().train()
    with evaluating(model):
        model[1].lock_mode(False)
    assert model[1].training is False
    assert model[0].training is True


def test_decorates_functions_and_methods():
    model = _model()
    before = _mixed(model)

    @evaluating(model)
    def predict(inputs):
        assert not ember.is_grad_enabled()
        assert not any(_modes(model))
        return model(inputs)

    class Trainer:
        @training_mode(model)
        def step(self):
            return _modes(model)

    output = predict(ember.randn(5, 4))
    assert output.grad_fn is None
    assert _modes(model) == before
    assert all(Trainer().step())
    assert _modes(model) == before


def test_recursive_decorated_calls_restore_each_level():
    model = _model()
    before = _mixed(model)

    @evaluating(model)
    def depth(count):
        assert not any(_modes(model))
        return 0 if count == 0 else 1 + depth(count - 1)

    assert depth(5) == 5
    assert _modes(model) == before
    assert ember.is_grad_enabled()


def test_decorates_generators_step_by_step():
    model = _model()
    before = _mixed(model)

    @evaluating(model)
    def predictions(batches):
        for batch in batches:
            assert not any(_modes(model))
            assert not ember.is_grad_enabled()
            yield model(batch)

    seen = []
    for output in predictions([ember.randn(3, 4), ember.randn(3, 4)]):
        # Between steps the caller is back in its own modes.
        assert _modes(model) == before
        assert ember.is_grad_enabled()
        seen.append(output.grad_fn is None)
    assert seen == [True, True]
    assert _modes(model) == before


def test_generator_closed_early_restores():
    model = _model()
    before = _mixed(model)

    @training_mode(model)
    def forever():
        while True:
            yield all(_modes(model))

    generator = forever()
    assert next(generator) is True
    generator.close()
    assert _modes(model) == before


def test_bad_arguments():
    with pytest.raises(ValueError, match=r"evaluating\(\) needs at least one module"):
        evaluating()
    with pytest.raises(TypeError, match=r"expects ember.nn.Module arguments, got function"):
        @evaluating
        def predict():
            return None
    with pytest.raises(TypeError, match="got Tensor"):
        training_mode(ember.zeros(2))


def test_top_level_exports():
    assert ember.evaluating is evaluating
    assert ember.training_mode is training_mode


def test_train_one_epoch_trains_in_train_mode_and_restores():
    ember.manual_seed(0)
    model = _model()
    before = _mixed(model)
    seen = []
    model[1].register_forward_pre_hook(lambda module, args: seen.append(module.training))
    dataset = TensorDataset(ember.randn(20, 4), ember.randint(0, 3, (20,)))
    optimizer = ember.optim.SGD(model.parameters(), lr=0.1)
    train_one_epoch(model, DataLoader(dataset, batch_size=10), nn.CrossEntropyLoss(), optimizer)
    assert seen == [True, True]
    assert _modes(model) == before


# ---- mc_predict ---------------------------------------------------------------------------------

def _probe_outputs(model):
    """Record every output of ``model`` (one per stochastic pass)."""
    outputs = []
    model.register_forward_hook(lambda module, args, output: outputs.append(output.numpy()))
    return outputs


def test_mc_predict_is_the_mean_and_unbiased_variance_of_the_passes():
    model = _model()
    before = _mixed(model)
    outputs = _probe_outputs(model)
    inputs = ember.randn(6, 4)
    mean, variance = mc_predict(model, inputs, samples=12)
    assert len(outputs) == 12
    stacked = np.stack(outputs).astype(np.float64)
    assert mean.dtype == variance.dtype == ember.float32
    assert mean.shape == variance.shape == (6, 3)
    np.testing.assert_allclose(mean.numpy(), stacked.mean(axis=0), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(variance.numpy(), stacked.var(axis=0, ddof=1), rtol=1e-5,
                               atol=1e-8)
    assert float(variance.sum()) > 0
    assert mean.grad_fn is None and variance.grad_fn is None
    assert _modes(model) == before
    assert ember.is_grad_enabled()


def test_mc_predict_without_dropout_has_zero_variance():
    model = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 2))
    mean, variance = mc_predict(model, ember.randn(5, 4), samples=5)
    assert variance.shape == mean.shape == (5, 2)
    assert np.all(variance.numpy() == 0)


def test_mc_predict_keeps_batchnorm_in_eval_throughout():
    model = _model()
    model.train()
    norm_modes = []
    dropout_modes = []
    model[1].register_forward_pre_hook(lambda module, args: norm_modes.append(module.training))
    model[3].register_forward_pre_hook(lambda module, args: dropout_modes.append(module.training))
    buffers = {name: buffer.numpy().copy() for name, buffer in model.named_buffers()}
    mc_predict(model, ember.randn(4, 4), samples=4)
    assert norm_modes == [False] * 4
    assert dropout_modes == [True] * 4
    for name, buffer in model.named_buffers():
        np.testing.assert_array_equal(buffer.numpy(), buffers[name])


def test_mc_predict_matches_eval_output_without_dropout():
    model = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 2))
    inputs = ember.randn(5, 4)
    mean, _ = mc_predict(model, inputs, samples=3)
    with evaluating(model):
        expected = model(inputs)
    np.testing.assert_allclose(mean.numpy(), expected.numpy(), rtol=1e-6)


def test_mc_predict_bad_arguments():
    model = _model()
    with pytest.raises(ValueError, match="samples must be an int >= 2"):
        mc_predict(model, ember.randn(2, 4), samples=1)
    with pytest.raises(ValueError, match="samples must be an int >= 2"):
        mc_predict(model, ember.randn(2, 4), samples=2.0)
    with pytest.raises(TypeError, match="expected an ember.nn.Module, got function"):
        mc_predict(lambda x: x, ember.randn(2, 4))


def test_a_failing_train_override_leaves_nothing_switched():
    class Stubborn(nn.Module):
        def train(self, mode=True):
            raise RuntimeError("no")

    model = nn.Sequential(nn.Dropout(), Stubborn())
    before = _modes(model)  # all True: Sequential.train switches itself and the dropout first
    with pytest.raises(RuntimeError, match="no"):
        with evaluating(model):
            pass
    assert _modes(model) == before
    assert ember.is_grad_enabled()
    assert _deliberate_depth.get() == 0
