"""A CNN with Conv, BatchNorm, pooling, Linear and Dropout: state_dict keys equal torch's, torch
weights load and give the same numbers, and the seed's manual SGD loop tracks torch step by step."""
import numpy as np
import pytest

import ember
import ember.nn as nn


def _cnn(library, dropout=0.5):
    layers = library.nn
    return layers.Sequential(
        layers.Conv2d(1, 8, 3, padding=1),
        layers.BatchNorm2d(8),
        layers.ReLU(),
        layers.MaxPool2d(2),
        layers.Conv2d(8, 16, 3, padding=1, bias=False),
        layers.BatchNorm2d(16, momentum=None),
        layers.ReLU(),
        layers.AdaptiveAvgPool2d(1),
        layers.Flatten(),
        layers.Dropout(dropout),
        layers.Linear(16, 10),
    )


class Net(nn.Module):
    """Attribute-registered layers: keys follow assignment order, as in PyTorch."""

    def __init__(self, library):
        super().__init__()
        layers = library.nn
        self.features = layers.Sequential(layers.Conv2d(3, 4, 3), layers.BatchNorm2d(4),
                                          layers.ReLU())
        self.pool = layers.AvgPool2d(2)
        self.drop = layers.Dropout(0.25)
        self.head = layers.Linear(4 * 3 * 3, 5)
        self.norm = layers.LayerNorm(5)


def _torch_net(torch):
    class TorchNet(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.features = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4),
                                                torch.nn.ReLU())
            self.pool = torch.nn.AvgPool2d(2)
            self.drop = torch.nn.Dropout(0.25)
            self.head = torch.nn.Linear(4 * 3 * 3, 5)
            self.norm = torch.nn.LayerNorm(5)
    return TorchNet()


def _load_from_torch(module, torch_module):
    module.load_state_dict({key: ember.tensor(value.detach().numpy())
                            for key, value in torch_module.state_dict().items()})


def test_state_dict_keys_and_shapes_equal_torch(torch):
    for model, torch_model in ((_cnn(ember), _cnn(torch)), (Net(ember), _torch_net(torch))):
        ours = model.state_dict()
        theirs = torch_model.state_dict()
        assert list(ours) == list(theirs)
        for key in theirs:
            assert tuple(ours[key].shape) == tuple(theirs[key].shape), key
            assert ours[key].numpy().dtype == theirs[key].numpy().dtype, key
        assert [name for name, _ in model.named_parameters()] == \
            [name for name, _ in torch_model.named_parameters()]
        assert [name for name, _ in model.named_buffers()] == \
            [name for name, _ in torch_model.named_buffers()]
    assert "1.num_batches_tracked" in list(_cnn(ember).state_dict())


def test_outputs_and_gradients_match_torch_in_eval_and_train(torch):
    model = _cnn(ember, dropout=0.0)
    torch_model = _cnn(torch, dropout=0.0)
    _load_from_torch(model, torch_model)
    random = np.random.default_rng(1)
    for training in (True, False):
        model.train(training)
        torch_model.train(training)
        array = random.standard_normal((6, 1, 8, 8)).astype(np.float32)
        target = random.integers(0, 10, 6)
        x = ember.tensor(array, requires_grad=True)
        tx = torch.tensor(array, requires_grad=True)
        model.zero_grad()
        torch_model.zero_grad()
        loss = nn.CrossEntropyLoss()(model(x), ember.tensor(target))
        torch_loss = torch.nn.CrossEntropyLoss()(torch_model(tx), torch.tensor(target))
        np.testing.assert_allclose(loss.item(), torch_loss.item(), rtol=1e-5)
        loss.backward()
        torch_loss.backward()
        np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-4, atol=1e-6)
        for (name, parameter), (_, torch_parameter) in zip(model.named_parameters(),
                                                          torch_model.named_parameters()):
            np.testing.assert_allclose(parameter.grad.numpy(), torch_parameter.grad.numpy(),
                                       rtol=1e-4, atol=1e-5, err_msg=name)


def test_manual_sgd_loop_tracks_torch(torch):
    model = _cnn(ember, dropout=0.0)
    torch_model = _cnn(torch, dropout=0.0)
    _load_from_torch(model, torch_model)
    random = np.random.default_rng(2)
    array = random.standard_normal((16, 1, 8, 8)).astype(np.float32)
    target = random.integers(0, 10, 16)
    learning_rate = 0.1
    losses = []
    for _ in range(5):
        model.zero_grad()
        torch_model.zero_grad()
        loss = nn.functional.cross_entropy(model(ember.tensor(array)), ember.tensor(target))
        torch_loss = torch.nn.functional.cross_entropy(torch_model(torch.tensor(array)),
                                                       torch.tensor(target))
        loss.backward()
        torch_loss.backward()
        for parameter in model.parameters():
            parameter.data -= learning_rate * parameter.grad
        with torch.no_grad():
            for parameter in torch_model.parameters():
                parameter -= learning_rate * parameter.grad
        losses.append(loss.item())
        np.testing.assert_allclose(loss.item(), torch_loss.item(), rtol=1e-4)
    assert losses[-1] < losses[0]
    ours = model.state_dict()
    for key, value in torch_model.state_dict().items():
        np.testing.assert_allclose(ours[key].numpy(), value.numpy(), rtol=1e-4, atol=1e-5,
                                   err_msg=key)


def test_eval_is_deterministic_and_leaves_buffers_untouched():
    model = _cnn(ember)
    data = ember.randn(8, 1, 8, 8)
    model(data)  # one training step so the running statistics are not the defaults
    model.eval()
    before = {key: value.numpy().copy() for key, value in model.state_dict().items()}
    with ember.no_grad():
        first = model(data)
        second = model(data)
    assert first.grad_fn is None
    np.testing.assert_array_equal(first.numpy(), second.numpy())
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(value.numpy(), before[key])


def test_round_trip_and_failed_load_change_nothing():
    model = _cnn(ember)
    model(ember.randn(4, 1, 8, 8))
    model.eval()
    copy = _cnn(ember).eval()
    copy.load_state_dict(model.state_dict())
    data = ember.randn(3, 1, 8, 8)
    np.testing.assert_array_equal(copy(data).detach().numpy(), model(data).detach().numpy())
    broken = dict(model.state_dict())
    broken["0.weight"] = ember.zeros(8, 1, 5, 5)
    broken["1.running_mean"] = ember.full((8,), 7.0)
    before = {key: value.numpy().copy() for key, value in copy.state_dict().items()}
    with pytest.raises(RuntimeError, match="size mismatch for 0.weight"):
        copy.load_state_dict(broken)
    for key, value in copy.state_dict().items():
        np.testing.assert_array_equal(value.numpy(), before[key])
