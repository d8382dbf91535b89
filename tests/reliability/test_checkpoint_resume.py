"""Resuming from a damaged training checkpoint: a CheckpointError that says what is wrong, and the
model, optimizer and random state exactly as they were before the attempt."""
import numpy as np
import pytest

import ember
from ember import nn
from ember.data import DataLoader, TensorDataset
from ember.io import CheckpointError
from ember.training import fit, restore_training_state


def _setup(seed):
    ember.manual_seed(seed)
    model = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 3))
    optimizer = ember.optim.Adam(model.parameters(), lr=0.01)
    inputs = ember.randn(32, 4)
    targets = ember.randint(0, 3, (32,))
    loader = DataLoader(TensorDataset(inputs, targets), batch_size=8, shuffle=True,
                        generator=ember.Generator().manual_seed(seed))
    return model, optimizer, loader


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    folder = tmp_path_factory.mktemp("resume")
    model, optimizer, loader = _setup(0)
    fit(model, loader, None, nn.CrossEntropyLoss(), optimizer, 1, checkpoint_dir=folder,
        progress=False)
    return folder / "epoch-001.safetensors"


def _damaged(tmp_path, checkpoint, change):
    state = ember.load(checkpoint)
    change(state)
    path = tmp_path / "damaged.safetensors"
    ember.save(state, path)
    return path


def _snapshot(model, optimizer, loader):
    return ({name: tensor.numpy().copy() for name, tensor in model.state_dict().items()},
            optimizer.state_dict()["param_groups"], repr(optimizer.state_dict()["state"]),
            ember.get_rng_state().tolist(), loader.generator.get_state().tolist())


def _same(left, right):
    weights_left, *rest_left = left
    weights_right, *rest_right = right
    assert weights_left.keys() == weights_right.keys()
    assert all(np.array_equal(weights_left[name], weights_right[name]) for name in weights_left)
    assert rest_left == rest_right


@pytest.mark.parametrize("label, change, message", [
    ("wrong shapes", lambda state: state["model"].update({"0.weight": ember.zeros(3, 3)}),
     "(?s)does not fit this training run: .*size mismatch for 0.weight"),
    ("empty param_groups", lambda state: state["optimizer"].update(param_groups=[]),
     "different number of parameter groups"),
    ("epoch a string", lambda state: state.update(epoch="1"), "epoch is '1'"),
    ("bad history", lambda state: state["history"].update(train_loss=[1.0, 2.0]),
     r"history\['train_loss'\] has 2 entries for 1 epochs"),
    ("lr a string", lambda state: state["optimizer"]["param_groups"][0].update(lr="fast"),
     r"param_groups\[0\]\['lr'\] is 'fast'"),
    ("rng not a state", lambda state: state["rng"].update(default=ember.zeros(8, dtype=ember.uint8)),
     "does not fit this training run"),
])
def test_a_failed_resume_changes_nothing(tmp_path, checkpoint, label, change, message):
    path = _damaged(tmp_path, checkpoint, change)
    model, optimizer, loader = _setup(7)
    before = _snapshot(model, optimizer, loader)
    with pytest.raises(CheckpointError, match=message):
        restore_training_state(path, model, optimizer, None, loader)
    _same(before, _snapshot(model, optimizer, loader))


def test_a_sound_checkpoint_restores_everything(checkpoint):
    model, optimizer, loader = _setup(7)
    epoch, history = restore_training_state(checkpoint, model, optimizer, None, loader)
    state = ember.load(checkpoint)
    assert epoch == 1 and history == state["history"]
    for name, tensor in state["model"].items():
        assert np.array_equal(model.state_dict()[name].numpy(), tensor.numpy())
    assert ember.equal(ember.get_rng_state(), state["rng"]["default"])
    assert ember.equal(loader.generator.get_state(), state["rng"]["train_loader"][0])
