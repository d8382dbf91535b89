"""SyncBatchNorm in one process: BatchNorm when alone; in a mirrored two-rank world, BatchNorm on
the doubled batch (forward, running statistics, gradients); conversion as PyTorch's."""
import numpy as np
import pytest

import ember
import ember.nn as nn
from ember.autograd import gradcheck
from ember.distributed.comm import _DoneRequest
from ember.distributed.sync_batchnorm import _SumOverRanks
from ember.nn._kernels.normalization import BatchNorm


def _inputs(shape, seed=0, dtype=np.float32):
    rng = np.random.default_rng(seed)
    return rng.normal(0.5, 2.0, size=shape).astype(dtype)


def _pair(num_features, **options):
    ember.manual_seed(0)
    sync = nn.SyncBatchNorm(num_features, **options)
    plain = nn.BatchNorm1d(num_features, **options)
    for param in (sync.weight, sync.bias):
        if param is not None:
            with ember.no_grad():
                param.uniform_(0.5, 1.5)
    if sync.weight is not None:
        plain.load_state_dict(sync.state_dict())
    return sync, plain


def test_errors_match_torch():
    layer = nn.SyncBatchNorm(3)
    with pytest.raises(ValueError, match=r"expected at least 2D input \(got 1D input\)"):
        layer(ember.ones(3))
    with pytest.raises(ValueError, match="SyncBatchNorm number of input channels should be "
                                         "non-zero"):
        nn.SyncBatchNorm(0)(ember.ones(2, 0))
    with pytest.raises(ValueError, match="only the default process group"):
        nn.SyncBatchNorm(3, process_group="group")


@pytest.mark.parametrize("momentum", [0.1, None])
def test_alone_it_is_batchnorm(momentum):
    sync, plain = _pair(4, momentum=momentum)
    for step in range(2):
        array = _inputs((6, 4), seed=step)
        np.testing.assert_array_equal(sync(ember.tensor(array)).detach().numpy(),
                                      plain(ember.tensor(array)).detach().numpy())
    for key, value in plain.state_dict().items():
        np.testing.assert_array_equal(sync.state_dict()[key].numpy(), value.numpy())
    sync.eval()
    plain.eval()
    array = _inputs((3, 4, 2), seed=5)
    np.testing.assert_array_equal(sync(ember.tensor(array)).detach().numpy(),
                                  plain(ember.tensor(array)).detach().numpy())


@pytest.mark.parametrize("shape", [(5, 3), (4, 3, 6), (2, 3, 4, 5)])
@pytest.mark.parametrize("momentum", [0.1, None])
def test_mirrored_world_is_batchnorm_on_the_doubled_batch(mirror_world, shape, momentum):
    sync, plain = _pair(3, momentum=momentum)
    plain._check_input_dim = lambda input: None  # BatchNorm1d, used here for any rank
    array = _inputs(shape)
    weights = _inputs(shape, seed=1)
    local = ember.tensor(array, requires_grad=True)
    output = sync(local)
    (output * ember.tensor(weights)).sum().backward()
    doubled = ember.tensor(np.concatenate([array, array]), requires_grad=True)
    expected = plain(doubled)
    (expected * ember.tensor(np.concatenate([weights, weights]))).sum().backward()
    assert output.dtype == ember.float32 and local.grad.dtype == ember.float32
    np.testing.assert_allclose(output.detach().numpy(), expected.detach().numpy()[:shape[0]],
                               rtol=1e-5, atol=1e-5)
    for key in ("running_mean", "running_var", "num_batches_tracked"):
        np.testing.assert_allclose(sync.state_dict()[key].numpy(),
                                   plain.state_dict()[key].numpy(), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(local.grad.numpy(), doubled.grad.numpy()[:shape[0]],
                               rtol=1e-4, atol=1e-5)
    # Weight and bias gradients stay local: DistributedDataParallel averages them.
    np.testing.assert_allclose(2 * sync.weight.grad.numpy(), plain.weight.grad.numpy(),
                               rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(2 * sync.bias.grad.numpy(), plain.bias.grad.numpy(),
                               rtol=1e-5, atol=1e-5)
    assert len(mirror_world.allreduces) == 2  # one in forward, one in backward


def test_mirrored_world_eval_and_untracked(mirror_world):
    sync, plain = _pair(3, track_running_stats=False)
    array = _inputs((4, 3))
    sync.eval()
    plain.eval()
    np.testing.assert_allclose(sync(ember.tensor(array)).detach().numpy(),
                               plain(ember.tensor(array)).detach().numpy(), rtol=1e-6)
    assert mirror_world.allreduces == []  # no synchronisation in eval


def test_gradcheck_float64(mirror_world):
    rng = np.random.default_rng(3)
    inputs = ember.tensor(rng.normal(size=(4, 3, 2)), dtype=ember.float64, requires_grad=True)
    weight = ember.tensor(rng.uniform(0.5, 1.5, size=3), dtype=ember.float64, requires_grad=True)
    bias = ember.tensor(rng.normal(size=3), dtype=ember.float64, requires_grad=True)

    def function(x, w, b):
        return BatchNorm.apply(x, w, b, None, None, True, 0.1, 1e-5, _SumOverRanks(mirror_world))

    assert gradcheck(function, (inputs, weight, bias))


class _LonelyBackend(ember.distributed.Backend):
    """Two ranks of which only this one holds data: the all-reduce leaves the sums unchanged."""

    world_size = 2

    def iallreduce(self, array, op, label="", tag=0):
        return _DoneRequest()


def test_global_count_of_one_is_an_error():
    layer = nn.SyncBatchNorm(2)
    ember.distributed.init_process_group(_LonelyBackend())
    try:
        with pytest.raises(ValueError, match="Expected more than 1 value per channel"):
            layer(ember.ones(1, 2))
    finally:
        ember.distributed.destroy_process_group()


def _nested():
    ember.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2),
                         nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4, affine=False)),
                         nn.BatchNorm1d(4, momentum=None, bias=False))


def test_convert_shares_state_and_keeps_flags():
    model = _nested()
    model[2].eval()
    converted = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    assert converted is model
    assert isinstance(model[1], nn.SyncBatchNorm) and isinstance(model[2][1], nn.SyncBatchNorm)
    assert model[1].weight is not None and model[2][1].weight is None
    assert model[3].momentum is None and model[3].bias is None
    assert model[1].training and not model[2][1].training
    single = nn.BatchNorm1d(3)
    result = nn.SyncBatchNorm.convert_sync_batchnorm(single)
    assert isinstance(result, nn.SyncBatchNorm) and result is not single
    assert result.weight is single.weight and result.running_mean is single.running_mean


def test_convert_keys_and_repr_match_torch():
    torch = pytest.importorskip("torch")
    ours = nn.SyncBatchNorm.convert_sync_batchnorm(_nested())
    theirs = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.BatchNorm2d(2),
                                 torch.nn.Sequential(torch.nn.Linear(4, 4),
                                                     torch.nn.BatchNorm1d(4, affine=False)),
                                 torch.nn.BatchNorm1d(4, momentum=None, bias=False))
    theirs = torch.nn.SyncBatchNorm.convert_sync_batchnorm(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert repr(nn.SyncBatchNorm(3)) == repr(torch.nn.SyncBatchNorm(3))
