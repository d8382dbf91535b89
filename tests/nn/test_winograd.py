"""The Winograd F(2x2, 3x3) path of 3x3 stride-1 convolutions (ember.nn._kernels.winograd):
the convolution and its input and weight gradients agree with PyTorch and with the im2col path, the
compiled transforms give the NumPy transforms' bits, and the shapes at its edges (odd output
sizes, padding 0 to 2 and beyond, one row of tiles, batch 1) take the right path."""
import numpy as np
import pytest

import ember
import ember.nn.functional as F
from ember import _jit
from ember.autograd import gradcheck
from ember.nn._kernels import conv, winograd

CASES = [
    # (input shape, out channels, padding)
    ((2, 16, 7, 9), 16, 1),
    ((3, 20, 8, 8), 17, 0),
    ((1, 32, 5, 6), 24, 2),
    ((2, 16, 1, 1), 16, 1),
    ((2, 16, 3, 12), 18, (0, 1)),
    ((1, 16, 6, 5), 16, 3),  # the input gradient's padding would be negative: im2col for it
]


def test_winograd_is_off_unless_asked_for(monkeypatch):
    """Off by default (its rounding drifts float32 training away from PyTorch's); the switch is
    EMBER_WINOGRAD=1 in the environment, read at import."""
    import os
    import subprocess
    import sys
    monkeypatch.delenv("EMBER_WINOGRAD", raising=False)
    probe = ("import ember.nn._kernels.winograd as w, numpy as np; "
             "print(w.ENABLED, w.applies(np.ones((1, 64, 4, 4)), np.ones((64, 64, 3, 3)), 64, "
             "64, (3, 3), (1, 1), (1, 1), 1))")
    off = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         env=dict(os.environ), check=True)
    on = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                        env=dict(os.environ, EMBER_WINOGRAD="1"), check=True)
    assert off.stdout.split() == ["False", "False"] and on.stdout.split() == ["True", "True"]


@pytest.fixture(autouse=True)
def small_channel_pairs(request, monkeypatch):
    """The path switched on, from 16 x 16 channel pairs (by default it starts at 1024), so
    that the shapes here stay small."""
    if request.node.name == "test_winograd_is_off_unless_asked_for":
        return
    monkeypatch.setattr(winograd, "ENABLED", True)
    monkeypatch.setattr(winograd, "_MIN_CHANNEL_PAIRS", 256)
    monkeypatch.setattr(winograd, "_MIN_WEIGHT_GRAD_PAIRS", 256)


def _uses_winograd(monkeypatch):
    """Count calls of the Winograd convolution."""
    calls = []
    for name in ("convolve", "weight_grad"):
        original = getattr(winograd, name)

        def counted(*args, original=original, name=name):
            calls.append(name)
            return original(*args)
        monkeypatch.setattr(winograd, name, counted)
    return calls


@pytest.mark.parametrize("dtype, rtol", [("float32", 2e-5), ("float64", 1e-12)])
@pytest.mark.parametrize("input_shape, out_channels, padding", CASES)
def test_winograd_convolution_and_gradients_match_torch(torch, monkeypatch, dtype, rtol,
                                                        input_shape, out_channels, padding):
    random = np.random.default_rng(5)
    x_values = random.standard_normal(input_shape).astype(dtype)
    w_values = (random.standard_normal((out_channels, input_shape[1], 3, 3)) / 6).astype(dtype)
    b_values = random.standard_normal(out_channels).astype(dtype)
    calls = _uses_winograd(monkeypatch)
    x = ember.tensor(x_values, requires_grad=True)
    w = ember.tensor(w_values, requires_grad=True)
    output = F.conv2d(x, w, ember.tensor(b_values), padding=padding)
    assert calls == ["convolve"]
    tx = torch.tensor(x_values, requires_grad=True)
    tw = torch.tensor(w_values, requires_grad=True)
    expected = torch.nn.functional.conv2d(tx, tw, torch.tensor(b_values), padding=padding)
    scale = np.abs(expected.detach().numpy()).max()
    np.testing.assert_allclose(output.detach().numpy(), expected.detach().numpy(), rtol=rtol,
                               atol=rtol * scale)
    grad = random.standard_normal(tuple(expected.shape)).astype(dtype)
    output.backward(ember.tensor(grad))
    expected.backward(torch.tensor(grad))
    pads = padding if isinstance(padding, tuple) else (padding, padding)
    # the input gradient is a Winograd convolution too where its padding 2 - p is not negative
    assert sorted(calls) == ["convolve"] * (2 if max(pads) <= 2 else 1) + ["weight_grad"]
    for mine, theirs in ((x, tx), (w, tw)):
        reference = theirs.grad.numpy()
        np.testing.assert_allclose(mine.grad.numpy(), reference, rtol=rtol,
                                   atol=rtol * np.abs(reference).max())


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_compiled_transforms_give_the_numpy_bits(dtype):
    if not _jit.available():
        pytest.skip("numba is not installed: only the NumPy transforms exist")
    random = np.random.default_rng(6)
    for input_shape, out_channels, padding in CASES[:5]:
        x = random.standard_normal(input_shape).astype(dtype)
        w = random.standard_normal((out_channels, input_shape[1], 3, 3)).astype(dtype)
        pads = padding if isinstance(padding, tuple) else (padding, padding)
        pads = tuple((pad, pad) for pad in pads)
        compiled = winograd.convolve(x, w, pads)
        grad = random.standard_normal(compiled.shape).astype(dtype)
        compiled_adjoint = winograd.convolve_transpose(grad, w, pads)
        compiled_weight_grad = winograd.weight_grad(x, grad, pads)
        with _jit.disabled():
            assert np.array_equal(winograd.convolve(x, w, pads), compiled)
            assert np.array_equal(winograd.convolve_transpose(grad, w, pads), compiled_adjoint)
            assert np.array_equal(winograd.weight_grad(x, grad, pads), compiled_weight_grad)


def test_chunks_and_asymmetric_padding_agree_with_im2col(monkeypatch):
    """Several chunks of tiles (one partial), each chunk's GEMMs on its own, and the padding
    'same' gives an even kernel: the Winograd result is im2col's within float64 rounding."""
    monkeypatch.setattr(winograd, "_CHUNK_TILES", 7)
    random = np.random.default_rng(7)
    x = random.standard_normal((3, 16, 9, 11))
    w = random.standard_normal((20, 16, 3, 3))
    geometry = conv.Geometry((9, 11), (3, 3), (1, 1), ((2, 0), (1, 2)), (1, 1), 1, (9, 12))
    fast = conv.convolve(x, w, geometry)
    grad = random.standard_normal(fast.shape)
    fast_adjoint = conv.convolve_transpose(grad, w, geometry)
    fast_weight_grad = conv.convolve_weight_grad(x, grad, geometry)
    monkeypatch.setattr(winograd, "applies", lambda *args, **keywords: False)
    np.testing.assert_allclose(fast, conv.convolve(x, w, geometry), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(fast_adjoint, conv.convolve_transpose(grad, w, geometry),
                               rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(fast_weight_grad, conv.convolve_weight_grad(x, grad, geometry),
                               rtol=1e-12, atol=1e-11)


def test_winograd_path_gradchecks_in_float64():
    random = np.random.default_rng(8)
    x = ember.tensor(random.standard_normal((1, 16, 3, 4)), requires_grad=True)
    w = ember.tensor(random.standard_normal((16, 16, 3, 3)) / 4, requires_grad=True)
    assert winograd.applies(x._data, w._data, 16, 16, (3, 3), (1, 1), (1, 1), 1)
    assert gradcheck(lambda value, weight: F.conv2d(value, weight, padding=1), (x, w))
    # second order: the gradients (Winograd convolutions themselves) differentiated again
    assert ember.autograd.gradgradcheck(lambda value, weight: F.conv2d(value, weight, padding=1),
                                        (x, w))


def test_small_channel_counts_and_strides_keep_im2col(monkeypatch):
    calls = _uses_winograd(monkeypatch)
    x = ember.ones(2, 8, 6, 6)
    F.conv2d(x, ember.ones(16, 8, 3, 3), padding=1)  # 8 input channels
    F.conv2d(ember.ones(2, 16, 6, 6), ember.ones(16, 16, 3, 3), stride=2)
    F.conv2d(ember.ones(2, 16, 6, 6), ember.ones(16, 16, 3, 3), dilation=2)
    F.conv2d(ember.ones(2, 16, 6, 6), ember.ones(16, 8, 3, 3), groups=2)
    assert calls == []
    F.conv2d(ember.ones(2, 16, 6, 6, dtype=ember.float16), ember.ones(16, 16, 3, 3,
                                                                          dtype=ember.float16))
    assert len(calls) == 1  # float16 runs in float32
    monkeypatch.setattr(winograd, "_MIN_CHANNEL_PAIRS", 1024)
    monkeypatch.setattr(winograd, "_MIN_WEIGHT_GRAD_PAIRS", 4096)
    assert not winograd.applies(np.ones((1, 32, 4, 4)), np.ones((64, 32, 3, 3)), 32, 64, (3, 3),
                                (1, 1), (1, 1), 1, weight_grad=True)
    assert winograd.applies(np.ones((1, 64, 4, 4)), np.ones((64, 64, 3, 3)), 64, 64, (3, 3),
                            (1, 1), (1, 1), 1, weight_grad=True)
    F.conv2d(ember.ones(2, 16, 6, 6), ember.ones(32, 16, 3, 3))
    assert len(calls) == 1  # 512 pairs
    F.conv2d(ember.ones(2, 16, 6, 6), ember.ones(64, 16, 3, 3))
    assert len(calls) == 2
