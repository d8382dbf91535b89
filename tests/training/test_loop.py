"""ember.training: one epoch, evaluate (modes restored, buffers kept), metrics, fit + resume."""
import math
import os

import numpy as np
import pytest

import ember
from ember import nn
from ember.data import DataLoader, TensorDataset
from ember.io import CheckpointError
from ember.training import (Accuracy, RunningMean, evaluate, fit, latest_checkpoint,
                            train_one_epoch)

pytest.importorskip("safetensors")


def _dataset(count=120, seed=0):
    generator = np.random.default_rng(seed)
    inputs = generator.standard_normal((count, 4)).astype(np.float32)
    labels = (inputs[:, 0] + inputs[:, 1] > 0).astype(np.int64) + (inputs[:, 2] > 1)
    return TensorDataset(ember.from_numpy(inputs), ember.from_numpy(labels))


def _model():
    return nn.Sequential(nn.Linear(4, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Dropout(0.3),
                         nn.Linear(16, 3))


def _state_arrays(model):
    return {name: tensor.numpy().copy() for name, tensor in model.state_dict().items()}


def _assert_identical(left, right):
    assert list(left) == list(right)
    for name in left:
        assert np.array_equal(left[name], right[name]), name


# ---- metrics -----------------------------------------------------------------------------------

def test_accuracy_from_scores_and_from_labels():
    accuracy = Accuracy()
    assert math.isnan(accuracy.compute())
    accuracy.update(ember.tensor([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7]]), ember.tensor([1, 1, 1]))
    accuracy.update(ember.tensor([0, 1]), ember.tensor([0, 0]))
    assert accuracy.compute() == pytest.approx(3 / 5)
    accuracy.reset()
    assert math.isnan(accuracy.compute())
    with pytest.raises(ValueError, match=r"predictions of shape \(3,\) do not match targets of "
                                         r"shape \(2,\)"):
        accuracy.update(ember.tensor([0, 1, 1]), ember.tensor([0, 1]))


def test_running_mean_is_weighted():
    mean = RunningMean()
    assert math.isnan(mean.compute())
    mean.update(2.0, weight=3)
    mean.update(ember.tensor(6.0), weight=1)
    assert mean.compute() == pytest.approx(3.0)
    with pytest.raises(ValueError, match="non-negative"):
        mean.update(1.0, weight=-1)


# ---- train_one_epoch ---------------------------------------------------------------------------

def test_train_one_epoch_is_the_hand_written_loop():
    dataset = _dataset()
    results = []
    for use_helper in (True, False):
        ember.manual_seed(3)
        model = _model()
        optimizer = ember.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        loader = DataLoader(dataset, batch_size=32, shuffle=True,
                            generator=ember.Generator().manual_seed(5))
        loss_fn = nn.CrossEntropyLoss()
        model.eval()  # train_one_epoch must switch to train mode itself
        if use_helper:
            mean_loss = train_one_epoch(model, loader, loss_fn, optimizer)
        else:
            model.train()
            total, count = 0.0, 0
            for inputs, targets in loader:
                optimizer.zero_grad()
                loss = loss_fn(model(inputs), targets)
                loss.backward()
                optimizer.step()
                total += loss.item() * targets.shape[0]
                count += targets.shape[0]
            mean_loss = total / count
        results.append((mean_loss, _state_arrays(model), model.training))
    assert results[0][0] == pytest.approx(results[1][0], rel=1e-12)
    _assert_identical(results[0][1], results[1][1])
    assert results[0][2] is False  # afterwards the helper restores the eval mode it found


def test_train_one_epoch_steps_a_scheduler_per_batch():
    model = _model()
    optimizer = ember.optim.SGD(model.parameters(), lr=1.0)
    scheduler = ember.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5)
    loader = DataLoader(_dataset(), batch_size=40)
    train_one_epoch(model, loader, nn.CrossEntropyLoss(), optimizer, scheduler=scheduler)
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.5 ** 3)


# ---- evaluate ----------------------------------------------------------------------------------

class _Probe(nn.Module):
    """Records the mode and grad state it sees in forward."""

    def __init__(self):
        super().__init__()
        self.seen = []

    def forward(self, inputs):
        self.seen.append((self.training, ember.is_grad_enabled()))
        return inputs


def test_evaluate_uses_eval_and_no_grad_and_restores_each_module_mode():
    probe = _Probe()
    model = nn.Sequential(_model(), probe)
    model.train()
    model[0][3].eval()  # a deliberately mixed state: dropout already in eval mode
    modes = [module.training for module in model.modules()]
    before = _state_arrays(model)
    results = evaluate(model, DataLoader(_dataset(), batch_size=50), nn.CrossEntropyLoss())
    assert probe.seen == [(False, False)] * 3
    assert [module.training for module in model.modules()] == modes
    assert ember.is_grad_enabled()
    _assert_identical(before, _state_arrays(model))
    assert set(results) == {"loss", "accuracy"}


def test_evaluate_matches_a_manual_computation():
    model = _model()
    dataset = _dataset()
    results = evaluate(model, DataLoader(dataset, batch_size=32), nn.CrossEntropyLoss(),
                       metrics={"accuracy": Accuracy(), "also": Accuracy()})
    model.eval()
    inputs, labels = dataset.tensors
    with ember.no_grad():
        outputs = model(inputs)
        loss = nn.functional.cross_entropy(outputs, labels).item()
    accuracy = float(np.mean(outputs.numpy().argmax(1) == labels.numpy()))
    assert results["loss"] == pytest.approx(loss, rel=1e-5)
    assert results["accuracy"] == results["also"] == pytest.approx(accuracy)
    assert evaluate(model, DataLoader(dataset, batch_size=32), metrics={}) == {}


def test_evaluate_restores_modes_after_an_error():
    model = _model()
    model.train()

    def failing_loader():
        yield next(iter(DataLoader(_dataset(), batch_size=8)))
        raise OSError("disk went away")

    with pytest.raises(OSError, match="disk went away"):
        evaluate(model, failing_loader())
    assert all(module.training for module in model.modules())
    assert ember.is_grad_enabled()


# ---- fit, checkpoints and resume ---------------------------------------------------------------

def _fit_setup(seed=0):
    ember.manual_seed(seed)
    model = _model()
    optimizer = ember.optim.Adam(model.parameters(), lr=0.01, weight_decay=1e-4)
    scheduler = ember.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.7)
    # One loader with its own generator, shuffling; dropout draws from the default generator.
    train_loader = DataLoader(_dataset(), batch_size=16, shuffle=True,
                              generator=ember.Generator().manual_seed(11))
    val_loader = DataLoader(_dataset(40, seed=1), batch_size=20)
    return model, optimizer, scheduler, train_loader, val_loader


def test_resume_is_bit_identical(tmp_path):
    model, optimizer, scheduler, train_loader, val_loader = _fit_setup()
    straight = fit(model, train_loader, val_loader, nn.CrossEntropyLoss(), optimizer, 4,
                   scheduler=scheduler, checkpoint_dir=tmp_path / "straight", progress=False)
    expected = _state_arrays(model)
    expected_lr = optimizer.param_groups[0]["lr"]

    model, optimizer, scheduler, train_loader, val_loader = _fit_setup()
    fit(model, train_loader, val_loader, nn.CrossEntropyLoss(), optimizer, 2,
        scheduler=scheduler, checkpoint_dir=tmp_path / "split", progress=False)
    # A fresh process state: different weights and RNG until the checkpoint is restored.
    model, optimizer, scheduler, train_loader, val_loader = _fit_setup(seed=99)
    ember.manual_seed(1234)
    resumed = fit(model, train_loader, val_loader, nn.CrossEntropyLoss(), optimizer, 4,
                  scheduler=scheduler, checkpoint_dir=tmp_path / "split",
                  resume=tmp_path / "split" / "epoch-002.safetensors", progress=False)
    _assert_identical(expected, _state_arrays(model))
    assert optimizer.param_groups[0]["lr"] == expected_lr
    assert resumed == straight
    assert sorted(os.listdir(tmp_path / "split")) == [f"epoch-00{n}.safetensors"
                                                      for n in (1, 2, 3, 4)]
    final_straight = ember.load(tmp_path / "straight" / "epoch-004.safetensors")
    final_split = ember.load(tmp_path / "split" / "epoch-004.safetensors")
    _assert_identical({k: v.numpy() for k, v in final_straight["model"].items()},
                      {k: v.numpy() for k, v in final_split["model"].items()})
    assert ember.equal(final_straight["rng"]["default"], final_split["rng"]["default"])
    assert all(ember.equal(left, right) for left, right in zip(
        final_straight["rng"]["train_loader"], final_split["rng"]["train_loader"], strict=True))


def test_checkpoint_contents(tmp_path):
    model, optimizer, scheduler, train_loader, val_loader = _fit_setup()
    history = fit(model, train_loader, val_loader, nn.CrossEntropyLoss(), optimizer, 1,
                  scheduler=scheduler, checkpoint_dir=tmp_path, progress=False,
                  config={"note": "hello"})
    state = ember.load(tmp_path / "epoch-001.safetensors")
    assert state["epoch"] == 1 and state["config"] == {"note": "hello"}
    assert state["history"] == history
    assert set(history) == {"train_loss", "val_loss", "val_accuracy"}
    assert state["scheduler"] == scheduler.state_dict()
    assert state["optimizer"]["param_groups"] == optimizer.state_dict()["param_groups"]
    assert sorted(state["optimizer"]["state"]) == sorted(optimizer.state_dict()["state"])
    assert ember.equal(state["rng"]["default"], ember.get_rng_state())
    (saved_loader_state,) = state["rng"]["train_loader"]
    assert ember.equal(saved_loader_state, train_loader.generator.get_state())


def test_resume_from_a_directory_takes_the_latest(tmp_path):
    model, optimizer, scheduler, train_loader, val_loader = _fit_setup()
    fit(model, train_loader, None, nn.CrossEntropyLoss(), optimizer, 3, checkpoint_dir=tmp_path,
        progress=False)
    assert latest_checkpoint(tmp_path).endswith("epoch-003.safetensors")
    expected = _state_arrays(model)
    model, optimizer, _, train_loader, _ = _fit_setup(seed=5)
    history = fit(model, train_loader, None, nn.CrossEntropyLoss(), optimizer, 3,
                  resume=tmp_path, progress=False)
    assert len(history["train_loss"]) == 3
    _assert_identical(expected, _state_arrays(model))


def test_corrupt_checkpoint_never_half_loads_the_model(tmp_path):
    model, optimizer, scheduler, train_loader, val_loader = _fit_setup()
    fit(model, train_loader, None, nn.CrossEntropyLoss(), optimizer, 1, checkpoint_dir=tmp_path,
        progress=False)
    path = tmp_path / "epoch-001.safetensors"
    data = bytearray(path.read_bytes())
    data[-3] ^= 0x40
    path.write_bytes(bytes(data))
    model, optimizer, _, train_loader, _ = _fit_setup(seed=8)
    before = _state_arrays(model)
    with pytest.raises(CheckpointError, match="epoch-001.safetensors"):
        fit(model, train_loader, None, nn.CrossEntropyLoss(), optimizer, 2, resume=path,
            progress=False)
    _assert_identical(before, _state_arrays(model))
    assert optimizer.state_dict()["state"] == {}


def test_fit_argument_errors(tmp_path):
    model, optimizer, _, train_loader, _ = _fit_setup()
    with pytest.raises(ValueError, match="epochs must be a non-negative int, got -1"):
        fit(model, train_loader, None, nn.CrossEntropyLoss(), optimizer, -1, progress=False)
    ember.save({"model": model.state_dict()}, tmp_path / "weights.safetensors")
    with pytest.raises(CheckpointError, match="not a training checkpoint"):
        fit(model, train_loader, None, nn.CrossEntropyLoss(), optimizer, 1,
            resume=tmp_path / "weights.safetensors", progress=False)
    with pytest.raises(CheckpointError, match="no epoch-NNN.safetensors checkpoint"):
        fit(model, train_loader, None, nn.CrossEntropyLoss(), optimizer, 1,
            resume=tmp_path, progress=False)
    fit(model, train_loader, None, nn.CrossEntropyLoss(), optimizer, 2, checkpoint_dir=tmp_path,
        progress=False)
    with pytest.raises(ValueError, match="beyond the requested 1 epochs"):
        fit(model, train_loader, None, nn.CrossEntropyLoss(), optimizer, 1, resume=tmp_path,
            progress=False)


def test_fit_prints_one_line_per_epoch(capsys):
    model, optimizer, _, train_loader, val_loader = _fit_setup()
    fit(model, train_loader, val_loader, nn.CrossEntropyLoss(), optimizer, 2, progress=True)
    lines = capsys.readouterr().out.strip().splitlines()
    assert [line.split("  ")[0] for line in lines] == ["epoch 1/2", "epoch 2/2"]
    assert "val accuracy" in lines[-1]


def test_fit_without_tqdm_falls_back_silently(monkeypatch, capsys):
    import sys
    monkeypatch.setitem(sys.modules, "tqdm", None)  # `import tqdm...` now raises ImportError
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)
    model, optimizer, _, train_loader, _ = _fit_setup()
    history = fit(model, train_loader, None, nn.CrossEntropyLoss(), optimizer, 1, progress=True)
    captured = capsys.readouterr()
    assert captured.out.startswith("epoch 1/1  train loss ")
    assert captured.err == ""
    assert len(history["train_loss"]) == 1
