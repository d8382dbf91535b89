"""ember.nn._kernels.conv's GEMM strategies (per-item batched or channel-major 2-D) and batch
chunking all give the same convolution: each is forced here on shapes the other tests run the
default on."""
import numpy as np
import pytest

import ember
import ember.nn.functional as F
import ember.nn._kernels.conv as conv
from ember.autograd import gradcheck

FORWARD_CASES = [
    # (functional name, input shape, weight shape, keyword arguments)
    ("conv1d", (2, 3, 9), (4, 3, 3), dict(stride=2, padding=1)),
    ("conv1d", (3, 10), (4, 3, 4), dict(padding="same", dilation=2)),
    ("conv2d", (2, 3, 7, 8), (4, 3, 3, 3), dict()),
    ("conv2d", (2, 4, 9, 8), (6, 2, 3, 2), dict(stride=(2, 1), padding=(1, 2), dilation=(1, 2),
                                                groups=2)),
    ("conv2d", (2, 3, 8, 7), (6, 3, 2, 4), dict(padding="same")),
    ("conv2d", (3, 6, 6), (6, 1, 3, 3), dict(padding=1, groups=3)),
    ("conv3d", (2, 2, 5, 6, 4), (3, 2, 2, 3, 2), dict(stride=2, padding=1)),
]
STRATEGIES = {
    # name: (_THREADED_GEMM_SIZE, _COLUMN_CHUNK_BYTES, _LARGE_CHUNK_BYTES)
    "batched, one item per chunk": (1 << 62, 1, 1 << 24),
    "channel-major, one item per chunk": (0, 1 << 20, 1),
    "channel-major, whole batch": (0, 1 << 20, 1 << 40),
}


def _pair(array, torch):
    return ember.tensor(array, requires_grad=True), torch.tensor(array, requires_grad=True)


@pytest.fixture(params=list(STRATEGIES))
def strategy(request, monkeypatch):
    threaded, small_chunk, large_chunk = STRATEGIES[request.param]
    monkeypatch.setattr(conv, "_THREADED_GEMM_SIZE", threaded)
    monkeypatch.setattr(conv, "_COLUMN_CHUNK_BYTES", small_chunk)
    monkeypatch.setattr(conv, "_LARGE_CHUNK_BYTES", large_chunk)
    return request.param


@pytest.mark.parametrize("name, input_shape, weight_shape, keywords", FORWARD_CASES)
def test_strategy_matches_torch_float64(torch, strategy, name, input_shape, weight_shape,
                                        keywords):
    random = np.random.default_rng(3)
    if len(input_shape) == len(weight_shape):
        input_shape = (3,) + input_shape[1:]  # an odd batch leaves a partial last chunk
    x, tx = _pair(random.standard_normal(input_shape), torch)
    w, tw = _pair(random.standard_normal(weight_shape), torch)
    b, tb = _pair(random.standard_normal(weight_shape[0]), torch)
    output = getattr(F, name)(x, w, b, **keywords)
    expected = getattr(torch.nn.functional, name)(tx, tw, tb, **keywords)
    np.testing.assert_allclose(output.detach().numpy(), expected.detach().numpy(), rtol=1e-10,
                               atol=1e-10)
    grad = random.standard_normal(tuple(expected.shape))
    output.backward(ember.tensor(grad))
    expected.backward(torch.tensor(grad))
    for mine, theirs in ((x, tx), (w, tw), (b, tb)):
        np.testing.assert_allclose(mine.grad.numpy(), theirs.grad.numpy(), rtol=1e-10,
                                   atol=1e-10)


def test_strategy_gradcheck(strategy):
    random = np.random.default_rng(4)
    x = ember.tensor(random.standard_normal((3, 4, 6, 5)), requires_grad=True)
    w = ember.tensor(random.standard_normal((6, 2, 3, 2)), requires_grad=True)
    b = ember.tensor(random.standard_normal(6), requires_grad=True)
    assert gradcheck(lambda *args: F.conv2d(*args, stride=(2, 1), padding=1, groups=2),
                     (x, w, b))


def test_strategy_float32(torch, strategy):
    random = np.random.default_rng(5)
    x, tx = _pair(random.standard_normal((5, 8, 9, 9)).astype(np.float32), torch)
    w, tw = _pair(random.standard_normal((16, 8, 3, 3)).astype(np.float32), torch)
    output = F.conv2d(x, w, padding=1)
    expected = torch.nn.functional.conv2d(tx, tw, padding=1)
    assert output.dtype == ember.float32
    np.testing.assert_allclose(output.detach().numpy(), expected.detach().numpy(), rtol=1e-4,
                               atol=1e-4)
    output.sum().backward()
    expected.sum().backward()
    assert x.grad.dtype == ember.float32 and w.grad.dtype == ember.float32
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(w.grad.numpy(), tw.grad.numpy(), rtol=1e-4, atol=1e-3)


@pytest.mark.parametrize("groups", [1, 3])
def test_strategy_empty_batch(torch, strategy, groups):
    x, tx = _pair(np.zeros((0, 3, 5, 5)), torch)
    w, tw = _pair(np.ones((6, 3 // groups, 3, 3)), torch)
    b, tb = _pair(np.ones(6), torch)
    output = F.conv2d(x, w, b, padding=1, groups=groups)
    expected = torch.nn.functional.conv2d(tx, tw, tb, padding=1, groups=groups)
    assert output.shape == tuple(expected.shape)
    output.sum().backward()
    expected.sum().backward()
    for mine, theirs in ((x, tx), (w, tw), (b, tb)):
        assert mine.grad.shape == tuple(theirs.grad.shape)
        np.testing.assert_array_equal(mine.grad.numpy(), theirs.grad.numpy())


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("chunk_bytes", [1, 1 << 12, 1 << 30], ids=["item", "few", "batch"])
@pytest.mark.parametrize("input_shape, weight_shape, stride, padding, dilation, groups", [
    ((5, 4, 9, 8), (6, 4, 3, 3), (1, 1), ((1, 1), (1, 1)), (1, 1), 1),
    ((3, 4, 10, 7), (6, 2, 3, 2), (2, 1), ((1, 1), (2, 2)), (1, 2), 2),
    ((4, 3, 6, 6), (5, 3, 1, 1), (2, 2), ((0, 0), (0, 0)), (1, 1), 1),
])
def test_batched_weight_grad_in_chunks_equals_the_whole_batch_product(
        torch, monkeypatch, dtype, chunk_bytes, input_shape, weight_shape, stride, padding,
        dilation, groups):
    """The small weight gradients copy each chunk of items' columns and multiply it while in
    cache: per item the same GEMM as on the whole batch's columns, the same sum over the batch,
    so bit for bit the whole-batch result; and torch's values."""
    monkeypatch.setattr(conv, "_COLUMN_CHUNK_BYTES", chunk_bytes)
    random = np.random.default_rng(4)
    input = random.standard_normal(input_shape).astype(dtype)
    kernel_size = weight_shape[2:]
    out_size = tuple((size + before + after - gap * (kernel - 1) - 1) // step + 1
                     for size, (before, after), gap, kernel, step
                     in zip(input_shape[2:], padding, dilation, kernel_size, stride))
    grad = random.standard_normal(input_shape[:1] + weight_shape[:1] + out_size).astype(dtype)
    geometry = conv.Geometry(input_shape[2:], kernel_size, stride, padding, dilation, groups,
                             out_size)
    result = conv.convolve_weight_grad(input, grad, geometry)
    columns = conv._im2col(input, kernel_size, stride, padding, dilation, out_size)
    columns = columns.reshape(input_shape[0], groups, -1, columns.shape[-1])
    grad_rows = grad.reshape(input_shape[0], groups, weight_shape[0] // groups, -1)
    whole = np.matmul(grad_rows, columns.swapaxes(-1, -2)).sum(axis=0).reshape(weight_shape)
    assert result.dtype == dtype
    np.testing.assert_array_equal(result, whole)
    torch_input = torch.tensor(input)
    torch_weight = torch.zeros(weight_shape, dtype=torch_input.dtype, requires_grad=True)
    torch.nn.functional.conv2d(torch_input, torch_weight, stride=stride,
                               padding=tuple(before for before, _ in padding), dilation=dilation,
                               groups=groups).backward(torch.tensor(grad))
    tolerance = 1e-5 if dtype == np.float32 else 1e-10
    np.testing.assert_allclose(result, torch_weight.grad.numpy(), rtol=tolerance, atol=tolerance)
