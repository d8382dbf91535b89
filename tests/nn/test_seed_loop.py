"""The seed's loop, as written, on an ember model with Linear, BatchNorm1d, ReLU and Dropout."""
import warnings

import numpy as np

import ember
import ember.nn as nn
import ember.nn.functional as F


def _data(seed=0, count=256, features=10, classes=3):
    random = np.random.default_rng(seed)
    centers = random.standard_normal((classes, features)) * 2
    labels = random.integers(0, classes, count)
    points = centers[labels] + random.standard_normal((count, features))
    return ember.tensor(points.astype(np.float32)), ember.tensor(labels)


def _model():
    return nn.Sequential(nn.Linear(10, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Dropout(0.2),
                         nn.Linear(32, 3))


def _batches(x, y, size=32):
    for start in range(0, x.shape[0], size):
        yield x[start:start + size], y[start:start + size]


def _buffers(model):
    return {name: buffer.numpy().copy() for name, buffer in model.named_buffers()}


@ember.no_grad()
def _test(model, x):
    model.eval()
    return model(x)


def test_training_loop_lowers_the_loss():
    x, y = _data()
    model = _model()
    lr = 0.1
    first_epoch_loss = None
    for epoch in range(6):
        total = 0.0
        model.train()
        for batch_x, batch_y in _batches(x, y):
            loss = F.cross_entropy(model(batch_x), batch_y)
            model.zero_grad()
            loss.backward()
            for p in model.parameters():
                p.data -= lr * p.grad
            total += loss.item()
        if first_epoch_loss is None:
            first_epoch_loss = total
    assert total < 0.5 * first_epoch_loss
    assert model[1].num_batches_tracked.item() == 6 * 8
    assert all(parameter.dtype == ember.float32 for parameter in model.parameters())
    accuracy = (_test(model, x).argmax(1).numpy() == y.numpy()).mean()
    assert accuracy > 0.9


def test_evaluation_is_deterministic_builds_no_graph_and_keeps_buffers():
    x, y = _data(seed=1)
    model = _model()
    for batch_x, batch_y in _batches(x, y):  # a little training so the buffers are not trivial
        loss = F.cross_entropy(model(batch_x), batch_y)
        model.zero_grad()
        loss.backward()
        for p in model.parameters():
            p.data -= 0.1 * p.grad
    before = _buffers(model)
    first = _test(model, x)
    second = _test(model, x)
    np.testing.assert_array_equal(first.numpy(), second.numpy())
    assert first.grad_fn is None and not first.requires_grad
    after = _buffers(model)
    assert before.keys() == after.keys()
    for name in before:
        assert before[name].tobytes() == after[name].tobytes(), name
    assert not any(module.training for module in model.modules())


def test_eval_mode_still_computes_gradients():
    x, _ = _data(seed=2, count=16)
    model = _model().eval()
    before = _buffers(model)
    inputs = x.detach().requires_grad_(True)
    model(inputs).sum().backward()
    assert inputs.grad is not None and np.abs(inputs.grad.numpy()).sum() > 0
    assert all(parameter.grad is not None for parameter in model.parameters())
    for name, value in _buffers(model).items():
        assert value.tobytes() == before[name].tobytes()


def test_no_grad_leaves_train_mode_behaviour():
    x, _ = _data(seed=3, count=64)
    model = _model().train()
    with ember.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # deliberate: ember warns about train mode under no_grad
        first = model(x)
        second = model(x)
    assert first.grad_fn is None
    assert not np.array_equal(first.numpy(), second.numpy())  # dropout still active
    assert model[1].num_batches_tracked.item() == 2  # running statistics still update
    assert np.abs(model[1].running_mean.numpy()).sum() > 0
