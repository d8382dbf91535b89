"""PyTorch <-> ember weights through safetensors files and in memory: same outputs and buffers."""
import os
import subprocess
import sys

import numpy as np
import pytest

import ember
from ember.io import load_torch_state_dict, to_torch_state_dict

torch = pytest.importorskip("torch")
safetensors_torch = pytest.importorskip("safetensors.torch")

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _cnn(nn):
    """The same architecture in either framework (``nn`` is torch.nn or ember.nn)."""
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(4 * 4 * 4, 16), nn.ReLU(), nn.Dropout(0.3), nn.Linear(16, 3))


def _data(seed):
    generator = np.random.default_rng(seed)
    inputs = generator.standard_normal((16, 1, 8, 8)).astype(np.float32)
    labels = generator.integers(0, 3, size=16)
    return inputs, labels


def _train_torch(model, steps=3):
    inputs, labels = _data(1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    model.train()
    for _ in range(steps):
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(torch.from_numpy(inputs)),
                                                 torch.from_numpy(labels))
        loss.backward()
        optimizer.step()
    return model


def _train_ember(model, steps=3):
    inputs, labels = _data(1)
    optimizer = ember.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    model.train()
    for _ in range(steps):
        optimizer.zero_grad()
        loss = ember.nn.functional.cross_entropy(model(ember.from_numpy(inputs)),
                                                 ember.from_numpy(labels))
        loss.backward()
        optimizer.step()
    return model


def _eval_outputs(torch_model, ember_model):
    inputs, _ = _data(2)
    torch_model.eval()
    ember_model.eval()
    with torch.no_grad():
        expected = torch_model(torch.from_numpy(inputs)).numpy()
    with ember.no_grad():
        actual = ember_model(ember.from_numpy(inputs)).numpy()
    return expected, actual


def _assert_same_state(torch_state, ember_state):
    assert list(torch_state) == list(ember_state)
    for name, tensor in torch_state.items():
        expected = tensor.detach().numpy()
        actual = ember_state[name].detach().numpy()
        assert actual.dtype == expected.dtype, name
        assert np.array_equal(actual, expected), name


def test_torch_trained_model_loads_into_ember(tmp_path):
    torch.manual_seed(0)
    torch_model = _train_torch(_cnn(torch.nn))
    path = tmp_path / "torch.safetensors"
    safetensors_torch.save_file(torch_model.state_dict(), str(path))

    ember_model = _cnn(ember.nn)
    ember_model.load_state_dict(ember.load(path))
    _assert_same_state(torch_model.state_dict(), ember_model.state_dict())
    assert ember_model.state_dict()["1.num_batches_tracked"].item() == 3
    expected, actual = _eval_outputs(torch_model, ember_model)
    np.testing.assert_allclose(actual, expected, rtol=1e-5, atol=1e-5)


def test_ember_trained_model_loads_into_torch(tmp_path):
    ember.manual_seed(0)
    ember_model = _train_ember(_cnn(ember.nn))
    path = tmp_path / "ember.safetensors"
    ember.save(ember_model.state_dict(), path)

    torch_model = _cnn(torch.nn)
    torch_model.load_state_dict(safetensors_torch.load_file(str(path)))
    _assert_same_state(torch_model.state_dict(), ember_model.state_dict())
    expected, actual = _eval_outputs(torch_model, ember_model)
    np.testing.assert_allclose(actual, expected, rtol=1e-5, atol=1e-5)


def test_training_continues_identically_after_the_transfer():
    """The same weights trained further in each framework stay together (train-mode BN, no dropout
    randomness: p is set to 0 on both sides)."""
    torch.manual_seed(0)
    torch_model = _train_torch(_cnn(torch.nn), steps=1)
    torch_model[7].p = 0.0
    ember_model = _cnn(ember.nn)
    ember_model.load_state_dict(load_torch_state_dict(torch_model.state_dict()))
    ember_model[7].p = 0.0
    _train_torch(torch_model, steps=2)
    _train_ember(ember_model, steps=2)
    for name, tensor in torch_model.state_dict().items():
        np.testing.assert_allclose(ember_model.state_dict()[name].numpy(),
                                   tensor.numpy(), rtol=1e-4, atol=1e-5, err_msg=name)


def test_in_memory_conversion_both_ways():
    torch.manual_seed(0)
    torch_model = _train_torch(_cnn(torch.nn))
    ember_model = _cnn(ember.nn)
    converted = load_torch_state_dict(torch_model.state_dict())
    assert all(type(value) is ember.Tensor for value in converted.values())
    ember_model.load_state_dict(converted)
    expected, actual = _eval_outputs(torch_model, ember_model)
    np.testing.assert_allclose(actual, expected, rtol=1e-5, atol=1e-5)

    fresh_torch_model = _cnn(torch.nn)
    fresh_torch_model.load_state_dict(to_torch_state_dict(ember_model.state_dict()))
    _assert_same_state(fresh_torch_model.state_dict(), ember_model.state_dict())


def test_converted_tensors_do_not_share_memory():
    weight = torch.zeros(3)
    converted = load_torch_state_dict({"w": weight})
    weight.add_(1)
    assert converted["w"].tolist() == [0.0, 0.0, 0.0]
    back = to_torch_state_dict(converted)
    converted["w"].add_(5.0)
    assert back["w"].tolist() == [0.0, 0.0, 0.0]


def test_conversion_rejects_non_tensors():
    with pytest.raises(TypeError, match="entry 'lr' is a float, expected a torch.Tensor"):
        load_torch_state_dict({"lr": 0.1})
    with pytest.raises(TypeError, match="entry 'w' is a ndarray, expected an ember.Tensor"):
        to_torch_state_dict({"w": np.zeros(2)})


def test_importing_ember_does_not_import_torch():
    # safetensors is a runtime dependency (ember.save is core API); torch is only for conversion.
    code = "import sys, ember, ember.io; print('torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                            env={**os.environ, "PYTHONPATH": REPO}, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"
