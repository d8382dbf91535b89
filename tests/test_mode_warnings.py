"""ModeWarning: evaluating in training mode under no_grad, stepping while Dropout/BatchNorm are in
eval mode; once per module, silent in correct code and in the deliberate tools, switchable off."""
import threading
import warnings

import pytest

import ember
from ember import nn
from ember.data import DataLoader, TensorDataset
from ember.nn.utils import freeze_batchnorm, mc_dropout, update_bn
from ember.training import evaluate, mc_predict, train_one_epoch
from ember.training.mode_checks import register_mode_checks


def _model(dropout=True, batchnorm=True):
    layers = [nn.Linear(4, 8)]
    if batchnorm:
        layers.append(nn.BatchNorm1d(8))
    layers.append(nn.ReLU())
    if dropout:
        layers.append(nn.Dropout(0.5))
    return nn.Sequential(nn.Sequential(*layers), nn.Linear(8, 3))


def _inputs():
    return ember.randn(6, 4)


def _loader():
    dataset = TensorDataset(ember.randn(12, 4), ember.randint(0, 3, (12,)))
    return DataLoader(dataset, batch_size=6)


def _mode_warnings(action):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        action()
    return [warning for warning in caught if issubclass(warning.category, ember.ModeWarning)]


def _train_step(model, optimizer):
    optimizer.zero_grad()
    nn.functional.cross_entropy(model(_inputs()), ember.tensor([0, 1, 2, 0, 1, 2])).backward()
    optimizer.step()


def test_mode_warning_is_a_user_warning():
    assert issubclass(ember.ModeWarning, UserWarning)


# ---- (a) forward in training mode with grad disabled ---------------------------------------------

@pytest.mark.parametrize("context", [ember.no_grad, ember.inference_mode])
def test_training_mode_forward_without_grad_warns_once_at_this_line(context):
    model = _model()

    def forgot_eval():
        with context():
            model(_inputs())
            model(_inputs())

    caught = _mode_warnings(forgot_eval)
    assert len(caught) == 1  # once, and only for the top-level module, not for each layer
    message = str(caught[0].message)
    assert "running statistics of BatchNorm '0.1' were just updated" in message
    assert "Dropout '0.3'" in message
    assert "model.eval()" in message and "ember.evaluating(model)" in message
    assert caught[0].filename == __file__
    assert _mode_warnings(forgot_eval) == []  # the same instance never warns again
    assert len(_mode_warnings(lambda: _no_grad_forward(_model()))) == 1  # a new one does


def _no_grad_forward(model):
    with ember.no_grad():
        return model(_inputs())


def test_dropout_only_model_warns_without_mentioning_statistics():
    caught = _mode_warnings(lambda: _no_grad_forward(_model(batchnorm=False)))
    assert len(caught) == 1
    assert "running statistics" not in str(caught[0].message)
    assert "Dropout '0.2'" in str(caught[0].message)


def test_dropout_that_drops_nothing_is_not_mode_dependent():
    model = nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.0), nn.Linear(8, 3), nn.Dropout(0.5))
    model[3].p = 0.0
    assert _mode_warnings(lambda: _no_grad_forward(model)) == []
    optimizer = ember.optim.SGD(model.parameters(), lr=0.1)
    model.eval()
    assert _mode_warnings(lambda: _train_step(model, optimizer)) == []
    model[1].p = 0.1
    model.train()
    caught = _mode_warnings(lambda: _no_grad_forward(model))
    assert len(caught) == 1 and "Dropout '1'" in str(caught[0].message)


def test_correct_forwards_are_silent():
    model = _model()

    def correct():
        model.eval()
        _no_grad_forward(model)         # evaluation
        model.train()
        model(_inputs())                # training forward
        model.eval()
        model(_inputs())                # eval with grad: saliency, adversarial examples
        _no_grad_forward(_model(dropout=False, batchnorm=False).train())  # nothing mode-dependent
        hand_made = _model().eval()
        hand_made[0][3].train()         # mc dropout by hand under an eval model: deliberate
        _no_grad_forward(hand_made)

    assert _mode_warnings(correct) == []


def test_deliberate_tools_are_silent():
    def deliberate():
        model = _model().train()
        with ember.evaluating(model):
            model(_inputs())
        mc_predict(model, _inputs(), samples=3)
        with mc_dropout(model), ember.no_grad():
            model(_inputs())
        update_bn([_inputs(), _inputs()], model)
        with ember.training_mode(model), ember.no_grad():
            model(_inputs())  # asked for training mode explicitly (e.g. recalibration by hand)
        locked = _model().train()
        locked[0][1].lock_mode(True)
        locked[0][3].lock_mode(True)
        _no_grad_forward(locked)
        evaluate(model, _loader(), nn.CrossEntropyLoss())

    assert _mode_warnings(deliberate) == []


def test_each_thread_checks_its_own_top_level_call():
    model = _model()
    caught = []

    def worker():
        caught.extend(_mode_warnings(lambda: _no_grad_forward(model)))

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join()
    assert len(caught) == 1


# ---- (b) optimizer step while Dropout/BatchNorm are in eval mode ---------------------------------

def test_step_after_an_evaluation_that_forgot_train_warns_once():
    model = _model()
    optimizer = ember.optim.SGD(model.parameters(), lr=0.1)

    def forgot_train():
        model.eval()
        _no_grad_forward(model)  # a correct evaluation ...
        _train_step(model, optimizer)  # ... but training goes on in eval mode
        _train_step(model, optimizer)

    caught = _mode_warnings(forgot_train)
    assert len(caught) == 1
    message = str(caught[0].message)
    assert message.startswith("SGD.step() is updating parameters of Sequential")
    assert "'0.1', '0.3'" in message and "model.train()" in message
    assert "freeze_batchnorm" in message
    assert caught[0].filename == __file__


@pytest.mark.parametrize("attach", ["setattr", "add_module", "insert", "setitem", "direct"])
def test_a_layer_attached_after_earlier_steps_is_checked(attach):
    # The step check reuses its walk of a model's layers while no children change; a layer put
    # in later, in eval mode, is still found (by the walk that follows any change through nn's
    # API, or by the periodic walk when code writes the _modules dict itself).
    model = _model(dropout=False, batchnorm=False)
    optimizer = ember.optim.SGD(model.parameters(), lr=0.1)
    assert _mode_warnings(lambda: _train_step(model, optimizer)) == []
    late = nn.BatchNorm1d(8).eval()
    inner = model[0]
    if attach == "setattr":
        inner.norm = late
    elif attach == "add_module":
        inner.add_module("norm", late)
    elif attach == "insert":
        inner.insert(1, late)
    elif attach == "setitem":
        inner[1] = nn.Sequential(inner[1], late)
    else:
        inner._modules["norm"] = late
    steps = 1 if attach != "direct" else 65

    def keep_training():
        for _ in range(steps):
            _train_step(model, optimizer)

    caught = _mode_warnings(keep_training)
    assert len(caught) == 1
    name = {"insert": "'0.1'", "setitem": "'0.1.1'"}.get(attach, "'0.norm'")
    assert f"layers {name} are in eval mode" in str(caught[0].message)


def test_correct_training_is_silent():
    model = _model()
    optimizer = ember.optim.Adam(model.parameters(), lr=0.01)

    def correct():
        for _ in range(2):
            model.train()
            _train_step(model, optimizer)
            with ember.evaluating(model):
                model(_inputs())
        train_one_epoch(model, _loader(), nn.CrossEntropyLoss(), optimizer)
        evaluate(model, _loader(), nn.CrossEntropyLoss())
        train_one_epoch(model, _loader(), nn.CrossEntropyLoss(), optimizer)

    assert _mode_warnings(correct) == []


def test_locked_layers_in_eval_are_deliberate():
    model = _model()
    optimizer = ember.optim.SGD(model.parameters(), lr=0.1)

    def fine_tune():
        freeze_batchnorm(model)
        model[0][3].lock_mode(False)
        model.train()
        _train_step(model, optimizer)

    assert _mode_warnings(fine_tune) == []


def test_an_optimizer_over_other_tensors_is_not_the_models_training():
    model = _model().eval()
    perturbation = ember.zeros(6, 4, requires_grad=True)
    optimizer = ember.optim.SGD([perturbation], lr=0.1)

    def adversarial():
        optimizer.zero_grad()
        (-model(_inputs() + perturbation).square().mean()).backward()
        optimizer.step()

    assert _mode_warnings(adversarial) == []


# ---- switching off -------------------------------------------------------------------------------

def _both_slips(model, optimizer):
    """An evaluation that forgot eval(), then training that forgot train()."""
    model.train()
    _no_grad_forward(model)
    model.eval()
    _train_step(model, optimizer)


def test_set_mode_checks_turns_both_checks_off():
    model = _model()
    optimizer = ember.optim.SGD(model.parameters(), lr=0.1)

    def misuse():
        _both_slips(model, optimizer)

    ember.set_mode_checks(False)
    try:
        assert _mode_warnings(misuse) == []
    finally:
        ember.set_mode_checks(True)
    assert len(_mode_warnings(misuse)) == 2


def test_the_warnings_module_silences_them():
    model = _model()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warnings.simplefilter("ignore", ember.ModeWarning)
        _no_grad_forward(model)
    assert caught == []


def test_set_mode_checks_wants_a_bool():
    with pytest.raises(TypeError, match="expected a bool, got int"):
        ember.set_mode_checks(0)


def test_modules_that_are_not_hashable_are_checked_too():
    class Comparable(nn.Sequential):
        def __eq__(self, other):
            return isinstance(other, Comparable)

    model = Comparable(nn.Linear(4, 8), nn.Dropout(0.5))
    with pytest.raises(TypeError):
        hash(model)
    assert len(_mode_warnings(lambda: _no_grad_forward(model))) == 1
    assert _mode_warnings(lambda: _no_grad_forward(model)) == []


def test_a_forward_that_raises_does_not_disable_later_checks():
    class Failing(nn.Module):
        def forward(self, inputs):
            raise ValueError("bad input")

    with pytest.raises(ValueError, match="bad input"):
        nn.Sequential(nn.Linear(4, 4), Failing())(_inputs())
    assert len(_mode_warnings(lambda: _no_grad_forward(_model()))) == 1


def test_a_failed_call_is_not_checked_and_a_call_in_an_except_block_is():
    class Failing(nn.Module):
        def forward(self, inputs):
            raise ValueError("bad input")

    failing = nn.Sequential(nn.Dropout(0.5), Failing())

    def fail():
        with ember.no_grad(), pytest.raises(ValueError, match="bad input"):
            failing(_inputs())

    assert _mode_warnings(fail) == []

    def evaluate_while_handling_an_error():
        try:
            raise KeyError("unrelated")
        except KeyError:
            _no_grad_forward(_model())

    assert len(_mode_warnings(evaluate_while_handling_an_error)) == 1


def test_an_interrupted_forward_does_not_disable_later_checks():
    class Interrupted(nn.Module):
        def forward(self, inputs):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        nn.Sequential(nn.Linear(4, 4), Interrupted())(_inputs())
    assert len(_mode_warnings(lambda: _no_grad_forward(_model()))) == 1


def test_the_checks_stop_when_their_hooks_are_removed():
    model = _model()
    optimizer = ember.optim.SGD(model.parameters(), lr=0.1)

    def misuse():
        _both_slips(model, optimizer)

    for handle in ember._mode_check_handles:
        handle.remove()
    try:
        assert _mode_warnings(misuse) == []
    finally:
        ember._mode_check_handles = register_mode_checks()
    assert len(_mode_warnings(misuse)) == 2


def test_checks_registered_inside_a_call_do_not_break_it():
    class Registering(nn.Module):
        def forward(self, inputs):
            ember._mode_check_handles = register_mode_checks()
            return inputs * 2

    model = Registering()
    model.register_forward_pre_hook(lambda module, args: None)
    for handle in ember._mode_check_handles:
        handle.remove()
    try:
        output = model(ember.ones(2))  # its forward hooks now include an end without a start
    finally:
        for handle in ember._mode_check_handles:
            handle.remove()
        ember._mode_check_handles = register_mode_checks()
    assert output.tolist() == [2.0, 2.0]
    assert len(_mode_warnings(lambda: _no_grad_forward(_model()))) == 1
