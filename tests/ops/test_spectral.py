"""ember.fft against PyTorch (values, dtypes and gradients of every transform in every
normalisation mode, sizes that pad and cut, errors), plus checks that need only ember: round
trips, Parseval's identity and a float64 finite-difference gradient."""
import numpy as np
import pytest

import ember

RNG = np.random.default_rng(0)
SIGNAL = RNG.standard_normal((4, 6))
PAIRS = RNG.standard_normal((4, 6, 2))
WEIGHTS = {}


def _weights(shape):
    """Fixed random weights per shape: the loss sees every output element differently."""
    if shape not in WEIGHTS:
        WEIGHTS[shape] = np.random.default_rng(len(WEIGHTS) + 5).standard_normal(shape)
    return WEIGHTS[shape]


TRANSFORMS = {
    "fft_real": lambda fw, x, z, norm: fw.fft.fft(x, norm=norm),
    "fft": lambda fw, x, z, norm: fw.fft.fft(z, norm=norm),
    "fft_padded": lambda fw, x, z, norm: fw.fft.fft(z, n=8, norm=norm),
    "fft_cut_dim0": lambda fw, x, z, norm: fw.fft.fft(z, n=3, dim=0, norm=norm),
    "ifft": lambda fw, x, z, norm: fw.fft.ifft(z, norm=norm),
    "fft2": lambda fw, x, z, norm: fw.fft.fft2(z, norm=norm),
    "ifftn_sizes": lambda fw, x, z, norm: fw.fft.ifftn(z, s=(5, 3), norm=norm),
    "rfft": lambda fw, x, z, norm: fw.fft.rfft(x, norm=norm),
    "rfft_odd": lambda fw, x, z, norm: fw.fft.rfft(x, n=7, norm=norm),
    "rfft_dim0": lambda fw, x, z, norm: fw.fft.rfft(x, n=5, dim=0, norm=norm),
    "rfft2": lambda fw, x, z, norm: fw.fft.rfft2(x, norm=norm),
    "irfft": lambda fw, x, z, norm: fw.fft.irfft(z, norm=norm),
    "irfft_odd": lambda fw, x, z, norm: fw.fft.irfft(z, n=9, norm=norm),
    "irfft_cut": lambda fw, x, z, norm: fw.fft.irfft(z, n=4, norm=norm),
    "irfft2": lambda fw, x, z, norm: fw.fft.irfft2(z, norm=norm),
    "irfftn_sizes": lambda fw, x, z, norm: fw.fft.irfftn(z, s=(3, 7), norm=norm),
    "filter": lambda fw, x, z, norm: fw.fft.irfft(fw.fft.rfft(x, norm=norm) * z[:, :4], n=6,
                                                  norm=norm),
    "hfft": lambda fw, x, z, norm: fw.fft.hfft(z, norm=norm),
    "ihfft": lambda fw, x, z, norm: fw.fft.ihfft(x, norm=norm).resolve_conj(),
    "hfft2": lambda fw, x, z, norm: fw.fft.hfft2(z, norm=norm),
    "ihfftn": lambda fw, x, z, norm: fw.fft.ihfftn(x, norm=norm).resolve_conj(),
    "shifts": lambda fw, x, z, norm: fw.fft.fftshift(fw.fft.fft(x, norm=norm), dim=-1)
    * fw.fft.ifftshift(z),
    "power_spectrum": lambda fw, x, z, norm: fw.fft.rfft(x, norm=norm).abs() ** 2,
    "frequencies": lambda fw, x, z, norm: fw.fft.rfft(x, norm=norm) * fw.fft.rfftfreq(6, d=0.1)
    + fw.fft.fft(x, norm=norm)[:, :4] * fw.fft.fftfreq(6)[:4],
}


def _run(fw, name, norm, dtype):
    x = fw.tensor(SIGNAL, dtype=dtype, requires_grad=True)
    pairs = fw.tensor(PAIRS, dtype=dtype, requires_grad=True)
    out = TRANSFORMS[name](fw, x, fw.view_as_complex(pairs), norm)
    weights = fw.tensor(_weights(tuple(out.shape)), dtype=dtype)
    if out.is_complex():
        loss = (out.real * weights).sum() + (out.imag ** 2).sum()
        values = fw.view_as_real(out.detach())
    else:
        loss = (out * weights).sum() + (out ** 2).sum()
        values = out.detach()
    loss.backward()
    return [values.numpy()] + [np.zeros(1) if t.grad is None else t.grad.numpy()
                               for t in (x, pairs)]


@pytest.mark.parametrize("norm", [None, "backward", "ortho", "forward"])
@pytest.mark.parametrize("name", sorted(TRANSFORMS))
def test_transforms_and_gradients_match_pytorch(torch, name, norm):
    expected = _run(torch, name, norm, torch.float64)
    got = _run(ember, name, norm, ember.float64)
    for want, have in zip(expected, got):
        assert have.shape == want.shape
        np.testing.assert_allclose(have, want, rtol=1e-9, atol=1e-10)


@pytest.mark.parametrize("name", ["fft_real", "rfft", "irfft", "fft2"])
def test_single_precision_stays_single(torch, name):
    expected = _run(torch, name, None, torch.float32)
    got = _run(ember, name, None, ember.float32)
    for want, have in zip(expected, got):
        assert have.dtype == want.dtype
        np.testing.assert_allclose(have, want, rtol=1e-4, atol=1e-4)
    assert ember.fft.fft(ember.ones(4)).dtype == ember.complex64
    assert ember.fft.irfft(ember.ones(3, dtype=ember.cdouble)).dtype == ember.float64
    assert ember.fft.fft(ember.arange(4)).dtype == ember.complex64


def test_frequencies_and_shifts_match_pytorch(torch):
    pairs = [(ember.fft.fftfreq(5), torch.fft.fftfreq(5)),
             (ember.fft.rfftfreq(6, d=0.5), torch.fft.rfftfreq(6, d=0.5)),
             (ember.fft.fftfreq(4, dtype=ember.float64), torch.fft.fftfreq(4, dtype=torch.float64)),
             (ember.fft.fftshift(ember.arange(6)), torch.fft.fftshift(torch.arange(6))),
             (ember.fft.ifftshift(ember.arange(6).reshape(2, 3)),
              torch.fft.ifftshift(torch.arange(6).reshape(2, 3)))]
    for have, want in pairs:
        assert str(have.dtype).split(".")[1] == str(want.dtype).split(".")[1]
        np.testing.assert_array_equal(have.numpy(), want.numpy())


@pytest.mark.parametrize("call", [
    lambda fw, x: fw.fft.fft(x, dim=2),
    lambda fw, x: fw.fft.fft(x, norm="bad"),
    lambda fw, x: fw.fft.fft(x, n=0),
    lambda fw, x: fw.fft.irfft(fw.ones(1, dtype=fw.cfloat)),
    lambda fw, x: fw.fft.rfft(fw.ones(3, dtype=fw.cfloat)),
    lambda fw, x: fw.fft.fftn(fw.ones(2, 2), s=(3,), dim=(0, 1)),
])
def test_errors_match_pytorch(torch, call):
    with pytest.raises(Exception) as expected:
        call(torch, torch.ones(8))
    with pytest.raises(type(expected.value)) as got:
        call(ember, ember.ones(8))
    assert str(got.value) == str(expected.value)


def test_round_trips_and_parseval_without_torch():
    x = ember.tensor(RNG.standard_normal((3, 10)))
    np.testing.assert_allclose(ember.fft.irfft(ember.fft.rfft(x), n=10).numpy(), x.numpy(),
                               atol=1e-12)
    np.testing.assert_allclose(ember.fft.ifft(ember.fft.fft(x)).real.numpy(), x.numpy(),
                               atol=1e-12)
    spectrum = ember.fft.fft(x, norm="ortho")
    np.testing.assert_allclose((spectrum.abs() ** 2).sum(1).numpy(), (x ** 2).sum(1).numpy(),
                               rtol=1e-12)
    # one cosine: a single pair of bins of height n / 2
    cosine = ember.tensor(np.cos(2 * np.pi * 3 * np.arange(16) / 16))
    magnitudes = ember.fft.rfft(cosine).abs().numpy()
    assert abs(magnitudes[3] - 8) < 1e-9 and np.delete(magnitudes, 3).max() < 1e-9


@pytest.mark.parametrize("transform", [
    lambda fw, x: fw.fft.rfft(x, n=7),
    lambda fw, x: fw.fft.irfft(fw.fft.rfft(x) * (1 + 2j), n=5),
    lambda fw, x: fw.fft.fft2(x, s=(3, 4), norm="ortho"),
])
def test_gradients_match_finite_differences(transform):
    start = RNG.standard_normal((3, 5))

    def loss(values):
        out = transform(ember, ember.tensor(values))
        weights = _weights(tuple(out.shape))
        if out.is_complex():
            return float((out.real * ember.tensor(weights)).sum() + (out.imag ** 2).sum())
        return float((out * ember.tensor(weights)).sum() + (out ** 2).sum())

    x = ember.tensor(start, requires_grad=True)
    out = transform(ember, x)
    weights = ember.tensor(_weights(tuple(out.shape)))
    total = ((out.real * weights).sum() + (out.imag ** 2).sum()) if out.is_complex() else (
        (out * weights).sum() + (out ** 2).sum())
    total.backward()
    numeric = np.zeros_like(start)
    for index in np.ndindex(start.shape):
        step = np.zeros_like(start)
        step[index] = 1e-6
        numeric[index] = (loss(start + step) - loss(start - step)) / 2e-6
    np.testing.assert_allclose(x.grad.numpy(), numeric, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("options", [
    {"hop_length": 4, "window": "hann"}, {},
    {"hop_length": 5, "win_length": 10, "window": "hann", "center": False, "normalized": True},
    {"window": "hann", "pad_mode": "constant", "onesided": False},
    {"window": "hann", "return_complex": False}])
def test_stft_matches_pytorch(torch, options):
    signal = RNG.standard_normal((2, 100))
    results = []
    for fw in (torch, ember):
        arguments = {"return_complex": True, **options}
        if arguments.get("window") == "hann":
            arguments["window"] = fw.hann_window(arguments.get("win_length", 16),
                                                 dtype=fw.float64)
        x = fw.tensor(signal, requires_grad=True)
        warns = "window" not in options or options.get("return_complex") is False
        with pytest.warns(UserWarning) if warns else _no_warning():
            out = fw.stft(x, 16, **arguments)
        values = fw.view_as_real(out) if out.is_complex() else out
        (values ** 2).sum().backward()
        results.append((values.detach().numpy(), x.grad.numpy()))
    for want, have in zip(*results):
        assert have.shape == want.shape
        np.testing.assert_allclose(have, want, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("options", [{"hop_length": 4}, {"hop_length": 4, "length": 90},
                                     {"hop_length": 2, "win_length": 10}])
def test_istft_inverts_stft_as_pytorch(torch, options):
    signal = RNG.standard_normal((2, 100))
    results = []
    for fw in (torch, ember):
        window = fw.hann_window(options.get("win_length", 16), dtype=fw.float64)
        x = fw.tensor(signal, requires_grad=True)
        spectra = fw.stft(x, 16, hop_length=options["hop_length"],
                          win_length=options.get("win_length"), window=window,
                          return_complex=True)
        y = fw.istft(spectra, 16, hop_length=options["hop_length"],
                     win_length=options.get("win_length"), window=window,
                     length=options.get("length"))
        (y * fw.tensor(np.arange(y.shape[-1]) / 100.0)).sum().backward()
        results.append((y.detach().numpy(), x.grad.numpy()))
    for want, have in zip(*results):
        np.testing.assert_allclose(have, want, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(results[1][0][:, :90], signal[:, :90], atol=1e-12)


def test_stft_errors_match_pytorch(torch):
    for call in (lambda fw, x: fw.stft(x, 16),
                 lambda fw, x: fw.stft(x, 16, window=fw.hann_window(10), return_complex=True),
                 lambda fw, x: fw.stft(x, 200, return_complex=True)):
        with pytest.raises(Exception) as expected:
            call(torch, torch.ones(2, 100))
        with pytest.raises(type(expected.value)) as got:
            call(ember, ember.ones(2, 100))
        assert str(got.value).replace("ember", "torch") == str(expected.value)


class _no_warning:
    def __enter__(self):
        import warnings
        self._context = warnings.catch_warnings()
        self._context.__enter__()
        warnings.simplefilter("error")

    def __exit__(self, *exc):
        return self._context.__exit__(*exc)


def _second_order(fw, name, norm):
    """A gradient penalty through a transform: the gradient of the loss, kept with its graph,
    differentiated again."""
    x = fw.tensor(SIGNAL, dtype=fw.float64, requires_grad=True)
    pairs = fw.tensor(PAIRS, dtype=fw.float64, requires_grad=True)
    out = TRANSFORMS[name](fw, x, fw.view_as_complex(pairs), norm)
    weights = fw.tensor(_weights(tuple(out.shape)), dtype=fw.float64)
    parts = (out.real, out.imag) if out.is_complex() else (out, out)
    loss = (parts[0] * weights).sum() + (parts[1] ** 3).sum()
    inputs = [x, pairs]
    grads = fw.autograd.grad(loss, inputs, create_graph=True, allow_unused=True,
                             materialize_grads=True)
    penalty = sum(((grad * grad).sum() for grad in grads))
    second = fw.autograd.grad(penalty, inputs, allow_unused=True, materialize_grads=True)
    return [grad.detach().numpy() for grad in second]


@pytest.mark.parametrize("norm", [None, "ortho", "forward"])
@pytest.mark.parametrize("name", sorted(set(TRANSFORMS) - {"shifts", "frequencies"}))
def test_second_derivatives_match_pytorch(torch, name, norm):
    for got, expected in zip(_second_order(ember, name, norm), _second_order(torch, name, norm)):
        np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("transform", [
    lambda fw, x: fw.fft.rfft(x, n=7).abs(),
    lambda fw, x: fw.fft.irfft(fw.fft.rfft(x) * (1 + 2j), n=5),
    lambda fw, x: fw.view_as_real(fw.fft.fft2(x * (1 - 1j), s=(3, 4), norm="ortho")),
    lambda fw, x: fw.fft.hfft(fw.fft.ihfft(x) ** 2),
])
def test_gradgradcheck_without_torch(transform):
    x = ember.tensor(RNG.standard_normal((3, 5)), requires_grad=True)
    assert ember.autograd.gradgradcheck(lambda value: transform(ember, value), (x,))


@pytest.mark.parametrize("backend", ["scipy", "numpy"])
@pytest.mark.parametrize("name", ["fft2", "ifft2", "rfft2", "irfft2", "rfft", "hfft"])
def test_scipy_and_numpy_backends_match_torch(torch, monkeypatch, backend, name):
    """The transforms on scipy.fft (when installed) and on numpy.fft: torch's values and
    gradients in float32, single precision kept."""
    from ember.ops import spectral
    if backend == "scipy":
        scipy_fft = pytest.importorskip("scipy.fft")
        monkeypatch.setattr(spectral, "_BACKEND", [scipy_fft])
    else:
        monkeypatch.setattr(spectral, "_BACKEND", [np.fft])
    rng = np.random.default_rng(15)
    array = rng.standard_normal((3, 6, 8)).astype(np.float32)
    if name in ("ifft2", "fft2", "irfft2", "hfft"):
        array = (array + 1j * rng.standard_normal(array.shape)).astype(np.complex64)
    ours_leaf = ember.tensor(array, requires_grad=True)
    theirs_leaf = torch.tensor(array, requires_grad=True)
    ours = getattr(ember.fft, name)(ours_leaf)
    theirs = getattr(torch.fft, name)(theirs_leaf)
    assert str(ours.dtype).split(".")[-1] == str(theirs.dtype).split(".")[-1]
    np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol=1e-4,
                               atol=1e-4)
    weights = rng.standard_normal(tuple(theirs.shape)).astype(np.float32)
    (ours.abs() * ember.tensor(weights)).sum().backward()
    (theirs.abs() * torch.tensor(weights)).sum().backward()
    np.testing.assert_allclose(ours_leaf.grad.numpy(), theirs_leaf.grad.resolve_conj().numpy(),
                               rtol=1e-4, atol=1e-4)


# Mistakes with torch.fft's arguments whose error (or result) ember gave differently
FFT_MISUSES = [
    lambda fw: fw.fft.fft(fw.ones(4), n=-1),
    lambda fw: fw.fft.rfft(fw.ones(4), n=-1),
    lambda fw: fw.fft.irfft(fw.ones(4), n=-1),
    lambda fw: fw.fft.hfft(fw.ones(4), n=-1),
    lambda fw: fw.fft.fft(fw.tensor(1.0)),
    lambda fw: fw.fft.fft(fw.tensor(1.0), dim=0),
    lambda fw: fw.fft.fft2(fw.tensor(1.0)),
    lambda fw: fw.fft.fftn(fw.tensor(1.0)),
    lambda fw: fw.fft.fftn(fw.ones(4, 4), dim=(0, -2)),
    lambda fw: fw.fft.rfftn(fw.ones(4, 4), dim=(1, 1)),
    lambda fw: fw.fft.fftn(fw.ones(4, 4), s=(4, 4, 4)),
    lambda fw: fw.fft.rfftn(fw.ones(4), s=(4, 4)),
    lambda fw: fw.fft.fft(fw.ones(3, dtype=fw.float16)),
    lambda fw: fw.fft.rfft(fw.ones(4, dtype=fw.float16)),
    lambda fw: fw.fft.fft(fw.ones(4, dtype=fw.bfloat16)),
    lambda fw: fw.fft.ihfft(fw.ones(4, dtype=fw.complex64)),
    lambda fw: fw.fft.ihfft2(fw.ones(4, 4, dtype=fw.complex64)),
    lambda fw: fw.fft.rfft2(fw.ones(4, 4, dtype=fw.complex64)),
    lambda fw: fw.fft.fftfreq(-1),
    lambda fw: fw.fft.fftfreq(0, dtype=fw.float64),
    lambda fw: fw.fft.irfftn(fw.ones(4, 4), s=(-1, -1)),
    lambda fw: fw.fft.hfft2(fw.ones(4, 4), s=(4, -1)),
    lambda fw: fw.fft.irfft2(fw.ones(4, 4), s=(3, -1)),
]


@pytest.mark.parametrize("case", range(len(FFT_MISUSES)))
def test_fft_misuse_like_torch(torch, case):
    mistake = FFT_MISUSES[case]
    try:
        expected = mistake(torch)
    except (RuntimeError, IndexError) as error:
        with pytest.raises(type(error)) as ours:
            mistake(ember)
        assert str(ours.value) == str(error)
        return
    result = mistake(ember)
    assert str(result.dtype).split(".")[-1] == str(expected.dtype).split(".")[-1]
    np.testing.assert_allclose(result.numpy(), expected.numpy(), atol=1e-5)
