"""DistributedDataParallel in one process: the fallback world and a mirrored two-rank world."""
import numpy as np
import pytest

import ember
import ember.nn as nn
import ember.nn.functional as F
from ember.autograd import engine
from ember.distributed import DistributedDataParallel


def _model():
    ember.manual_seed(0)
    return nn.Sequential(nn.Linear(5, 7), nn.Tanh(), nn.Linear(7, 6), nn.Tanh(), nn.Linear(6, 3))


def _data():
    rng = np.random.default_rng(0)
    return (ember.tensor(rng.normal(size=(8, 5)).astype(np.float32)),
            ember.tensor(rng.integers(0, 3, size=8)))


def _grads(module):
    return [param.grad.numpy().copy() for param in module.parameters()]


def test_needs_a_process_group_and_a_module_with_trainable_parameters(single_world):
    with pytest.raises(TypeError, match="module must be an ember.nn.Module"):
        DistributedDataParallel(lambda x: x)
    with pytest.raises(RuntimeError, match="doesn't have any parameter that requires a gradient"):
        DistributedDataParallel(nn.ReLU())
    with pytest.raises(ValueError, match="bucket_cap_mb must be positive"):
        DistributedDataParallel(_model(), bucket_cap_mb=0)


def test_without_process_group_is_an_error():
    with pytest.raises(ValueError, match="Default process group has not been initialized"):
        DistributedDataParallel(_model())


def test_wrapper_state_dict_and_forward(single_world):
    model = _model()
    ddp = DistributedDataParallel(model)
    assert ddp.module is model
    assert list(ddp.state_dict()) == ["module." + key for key in model.state_dict()]
    inputs, _ = _data()
    np.testing.assert_array_equal(ddp(inputs).detach().numpy(), model(inputs).detach().numpy())
    ddp.eval()
    assert not model.training
    assert isinstance(ember.nn.parallel.DistributedDataParallel(_model()),
                      DistributedDataParallel)


def test_one_process_world_trains_like_the_plain_model(single_world):
    inputs, targets = _data()
    reference = _model()
    F.cross_entropy(reference(inputs), targets).backward()
    ddp = DistributedDataParallel(_model())
    F.cross_entropy(ddp(inputs), targets).backward()
    for expected, got in zip(_grads(reference), _grads(ddp)):
        np.testing.assert_array_equal(got, expected)


def test_buckets_hold_parameters_in_reverse_order_under_the_cap(single_world):
    model = _model()
    ddp = DistributedDataParallel(model, bucket_cap_mb=100 / 2 ** 20)  # 100 bytes
    params = list(model.parameters())
    order = [param for bucket in ddp._buckets for param in bucket.params]
    assert [id(param) for param in order] == [id(param) for param in reversed(params)]
    for bucket in ddp._buckets:
        assert bucket.buffer.dtype == np.float32
        assert bucket.buffer.nbytes <= 100 or len(bucket.params) == 1
    assert len(DistributedDataParallel(model)._buckets) == 1


@pytest.mark.parametrize("overlap", [True, False])
def test_mirrored_world_averages_in_buckets_during_backward(mirror_world, overlap):
    inputs, targets = _data()
    reference = _model()
    F.cross_entropy(reference(inputs), targets).backward()
    model = _model()
    params = list(model.parameters())
    ddp = DistributedDataParallel(model, bucket_cap_mb=100 / 2 ** 20)
    ddp._overlap = overlap
    mirror_world.observe = lambda: sum(param.grad is not None for param in params)
    F.cross_entropy(ddp(inputs), targets).backward()
    sizes = [size for size, _ in mirror_world.allreduces]
    assert sizes == [bucket.buffer.size for bucket in ddp._buckets]
    ready_at_launch = [ready for _, ready in mirror_world.allreduces]
    if overlap:
        # The first bucket (the last layer's parameters) leaves before backward reaches the rest.
        assert ready_at_launch[0] < len(params)
        assert ready_at_launch == sorted(ready_at_launch)
    else:
        assert ready_at_launch == [len(params)] * len(ddp._buckets)
    for expected, got in zip(_grads(reference), _grads(ddp)):
        np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-7)
        assert got.dtype == np.float32


def test_no_sync_skips_communication_then_syncs_the_accumulated_sum(mirror_world):
    inputs, targets = _data()
    ddp = DistributedDataParallel(_model())
    with ddp.no_sync():
        F.cross_entropy(ddp(inputs), targets).backward()
    assert mirror_world.allreduces == []
    accumulated = _grads(ddp)
    F.cross_entropy(ddp(inputs), targets).backward()
    assert len(mirror_world.allreduces) == 1
    for single, total in zip(accumulated, _grads(ddp)):
        np.testing.assert_allclose(total, 2 * single, rtol=1e-6, atol=1e-7)


def test_forward_under_no_grad_arms_nothing(mirror_world):
    inputs, targets = _data()
    ddp = DistributedDataParallel(_model())
    with ember.no_grad():
        ddp(inputs)
    assert not ddp._armed
    assert mirror_world.allreduces == []


def test_a_dropped_wrapper_stops_syncing(mirror_world):
    inputs, targets = _data()
    model = _model()
    DistributedDataParallel(model)
    import gc
    gc.collect()
    F.cross_entropy(model(inputs), targets).backward()
    assert mirror_world.allreduces == []


def test_post_accumulate_hook_sees_the_updated_grad_and_callbacks_run_at_the_end():
    weight = ember.ones(3, requires_grad=True)
    events = []
    weight.register_post_accumulate_grad_hook(
        lambda tensor: events.append(("hook", tensor.grad.numpy().tolist())))
    weight.register_hook(lambda grad: engine.queue_callback(lambda: events.append("end")))
    (weight * 2).sum().backward()
    assert events == [("hook", [2.0, 2.0, 2.0]), "end"]
    with pytest.raises(RuntimeError, match="no backward pass is running"):
        engine.queue_callback(lambda: None)
    with pytest.raises(RuntimeError, match="non-leaf"):
        (weight * 2).register_post_accumulate_grad_hook(lambda tensor: None)
