"""Discrete Fourier transforms (``torch.fft``): complex-to-complex, real-to-complex (one-sided)
and complex-to-real transforms over any dims, on pocketfft (single precision kept): SciPy's
where installed, else NumPy's.

Backward (PyTorch's formulas): a transform's adjoint is the opposite transform with the
normalisation mode swapped ("backward" <-> "forward"; "ortho" stays); a one-sided input's missing
half enters as zeros, and the gradient of a complex-to-real transform doubles the bins that stand
for two of the full spectrum.
"""
import warnings

import numpy as np

from .._dtype import (complex128, complex_dtype, default_complex, get_default_dtype,
                      real_dtype, scalar_type_name, tensor_type_name, to_dtype)
from ..autograd.function import Op
from ..tensor import Tensor
from .elementwise.complex import conj, real_part_for, view_as_real
from .index import index_select
from .shape import _normalize_dim, cat, narrow, require_tensor, roll

_BACKEND = []


def _transforms():
    """scipy.fft where SciPy is installed (an optional extra), else numpy.fft: the same
    pocketfft and signatures, but SciPy transforms all axes in one call where NumPy goes
    axis by axis through a Python loop with copies (complex64 (8, 16, 32, 32) fft2: NumPy
    5 ms, SciPy 0.37 ms, PyTorch 0.26 ms)."""
    if not _BACKEND:
        try:
            import scipy.fft as backend  # optional: imported on the first transform
        except ImportError:
            backend = np.fft
        _BACKEND.append(backend)
    return _BACKEND[0]


_NORMS = (None, "backward", "ortho", "forward")
_SWAPPED = {None: "forward", "backward": "forward", "ortho": "ortho", "forward": "backward"}


def _fitted(array, shape, axes):
    """``array`` cut or zero-padded at the end of ``axes`` to ``shape``'s sizes there."""
    index = [slice(None)] * array.ndim
    padding = [(0, 0)] * array.ndim
    for axis in axes:
        have, want = array.shape[axis], shape[axis]
        if have > want:
            index[axis] = slice(0, want)
        elif have < want:
            padding[axis] = (0, want - have)
    array = array[tuple(index)]
    if any(after for _, after in padding):
        array = np.pad(array, padding)
    return array


def _fitted_tensor(tensor, shape, axes):
    """``_fitted`` of a Tensor, recorded: a narrow or a concatenated block of zeros per axis."""
    for axis in axes:
        have, want = tensor._data.shape[axis], shape[axis]
        if have > want:
            tensor = narrow(tensor, axis, 0, want)
        elif have < want:
            zeros_shape = list(tensor._data.shape)
            zeros_shape[axis] = want - have
            tensor = cat([tensor, Tensor._wrap(np.zeros(zeros_shape, tensor._data.dtype))], axis)
    return tensor


class _Transform(Op):
    """One NumPy transform of ``x`` over ``axes`` with sizes ``sizes`` and ``norm``; ``kind``
    is "c2c", "r2c" or "c2r", ``inverse`` the direction (c2c). Its backward is a transform
    too, recorded under create_graph, so every transform has derivatives of any order."""

    differentiable_backward = True

    @staticmethod
    def forward(ctx, x, kind, axes, sizes, norm, inverse):
        ctx.options = (kind, axes, sizes, norm, inverse, x.shape, x.dtype)
        fft = _transforms()
        if kind == "c2c":
            work = x if x.dtype.kind == "c" else x.astype(complex_dtype(x.dtype))
            return (fft.ifftn if inverse else fft.fftn)(work, s=sizes, axes=axes, norm=norm)
        if kind == "r2c":
            return fft.rfftn(x, s=sizes, axes=axes, norm=norm)
        return fft.irfftn(x, s=sizes, axes=axes, norm=norm)

    @staticmethod
    def backward(ctx, grad):
        kind, axes, sizes, norm, inverse, shape, dtype = ctx.options
        if ctx.xp is not np:
            return (_adjoint_recorded(grad, *ctx.options), None, None, None, None, None)
        swapped = _SWAPPED[norm]
        fft = _transforms()
        if kind == "c2c":
            result = (fft.fftn if inverse else fft.ifftn)(grad, axes=axes, norm=swapped)
        elif kind == "r2c":
            last = axes[-1]
            full = list(grad.shape)
            full[last] = sizes[-1]
            # the half of the spectrum that rfft leaves out enters as zeros
            result = fft.ifftn(_fitted(grad, full, (last,)), axes=axes, norm=swapped)
        else:
            result = fft.rfftn(grad, axes=axes, norm=swapped)
            length = sizes[-1]
            doubled = length - result.shape[axes[-1]]
            if doubled > 0:
                index = [slice(None)] * result.ndim
                index[axes[-1]] = slice(1, 1 + doubled)
                result[tuple(index)] *= 2
        result = _fitted(result, shape, axes)
        result = real_part_for(result, dtype)
        return (result.astype(dtype if dtype.kind in "fc" else result.dtype, copy=False),
                None, None, None, None, None)


def _adjoint_recorded(grad, kind, axes, sizes, norm, inverse, shape, dtype):
    """``_Transform.backward`` on a Tensor gradient, as recorded transforms and shape ops."""
    swapped = _SWAPPED[norm]

    def transform(value, value_kind, value_inverse):
        value_sizes = tuple(value._data.shape[axis] for axis in axes)
        return _Transform.apply(value, value_kind, axes, value_sizes, swapped, value_inverse)

    last = axes[-1]
    if kind == "c2c":
        result = transform(grad, "c2c", not inverse)
    elif kind == "r2c":
        full = list(grad._data.shape)
        full[last] = sizes[-1]
        result = transform(_fitted_tensor(grad, full, (last,)), "c2c", True)
    else:
        result = transform(grad, "r2c", False)
        bins = result._data.shape[last]
        doubled = sizes[-1] - bins
        if doubled > 0:
            weights = np.ones(bins, real_dtype(result._data.dtype))
            weights[1:1 + doubled] = 2
            result = result * Tensor._wrap(weights.reshape((bins,) + (1,) * (grad.ndim - 1 - last)))
    result = real_part_for(_fitted_tensor(result, shape, axes), dtype)
    if dtype.kind in "fc" and result._data.dtype != dtype:
        result = result.to(to_dtype(dtype))
    return result


def _prepared(input, operation, real_only=False):
    """``input`` as floating or complex data for a transform: integers in the default dtype."""
    require_tensor(input, operation)
    data = input._data
    if real_only and data.dtype.kind == "c":
        got = scalar_type_name(data.dtype)
        if operation in ("rfft2", "rfftn"):
            raise RuntimeError(f"rfftn expects a real-valued input tensor, but got {got}")
        if operation in ("ihfft2", "ihfftn"):
            raise RuntimeError(f"Only supports floating-point dtypes, but found: {got}")
        raise RuntimeError(f"{operation} expects a real input tensor, but got {got}")
    if data.dtype.kind in "biu":
        return input.to(get_default_dtype())
    if data.dtype.kind not in "fc" or data.dtype == np.float16:
        # PyTorch's CPU transforms (pocketfft) have no half precision
        raise RuntimeError(f"Unsupported dtype {scalar_type_name(data.dtype)}")
    return input


def _check_norm(norm):
    if norm not in _NORMS:
        raise RuntimeError(f'Invalid normalization mode: "{norm}"')
    return norm


def _axes_and_sizes(input, s, dim, operation, one_sided_output=False):
    """PyTorch's resolution of ``s`` and ``dim``: the axes (normalised) and the transform's
    size along each (``s``, else the input's; a complex-to-real transform's last size defaults
    to 2 (m - 1) for m input points)."""
    ndim = input._data.ndim
    if dim is None:
        if s is not None and len(s) > ndim:
            raise RuntimeError(f"Got shape with {len(s)} values but input tensor only has {ndim} "
                               f"dimensions.")
        axes = list(range(ndim - len(s), ndim)) if s is not None else list(range(ndim))
    else:
        axes = [dim] if isinstance(dim, int) else list(dim)
    if s is not None and not isinstance(s, _Points):
        s = [s] if isinstance(s, int) else list(s)
        if len(s) != len(axes):
            raise RuntimeError("When given, dim and shape arguments must have the same length")
    if ndim == 0 and axes:
        raise IndexError(f"Dimension specified as {axes[0]} but tensor has no dimensions")
    axes = [_normalize_dim(axis, ndim) for axis in axes]
    if len(set(axes)) != len(axes):
        raise RuntimeError("FFT dims must be unique")
    shape = input._data.shape
    if s is None:
        sizes = [shape[axis] for axis in axes]
        if one_sided_output:
            sizes[-1] = 2 * (shape[axes[-1]] - 1)
    else:
        # -1 keeps the input's size in s, not in a 1-D transform's n
        sizes = [shape[axis] if size == -1 and not isinstance(s, _Points) else int(size)
                 for size, axis in zip(s, axes)]
        if one_sided_output and s[-1] == -1 and not isinstance(s, _Points):
            sizes[-1] = 2 * (shape[axes[-1]] - 1)
    for size in sizes:
        if size < 1:
            raise RuntimeError(f"Invalid number of data points ({size}) specified")
    return tuple(axes), tuple(sizes)


def _c2c(input, s, dim, norm, inverse, operation):
    input = _prepared(input, operation)
    axes, sizes = _axes_and_sizes(input, s, dim, operation)
    return _Transform.apply(input, "c2c", axes, sizes, _check_norm(norm), inverse)


def _r2c(input, s, dim, norm, operation):
    input = _prepared(input, operation, real_only=True)
    axes, sizes = _axes_and_sizes(input, s, dim, operation)
    return _Transform.apply(input, "r2c", axes, sizes, _check_norm(norm), False)


def _c2r(input, s, dim, norm, operation):
    input = _prepared(input, operation)
    if input._data.dtype.kind != "c":
        input = input.to(complex128 if input._data.dtype == np.float64 else default_complex())
    axes, sizes = _axes_and_sizes(input, s, dim, operation, one_sided_output=True)
    return _Transform.apply(input, "c2r", axes, sizes, _check_norm(norm), True)


class _Points(list):
    """A 1-D transform's ``n`` as a one-element ``s``."""


def _one(n):
    return None if n is None else _Points([n])


# ---- the public functions (torch.fft's signatures) --------------------------------------------
def fft(input, n=None, dim=-1, norm=None):
    return _c2c(input, _one(n), [dim], norm, False, "fft")


def ifft(input, n=None, dim=-1, norm=None):
    return _c2c(input, _one(n), [dim], norm, True, "ifft")


def fft2(input, s=None, dim=(-2, -1), norm=None):
    return _c2c(input, s, dim, norm, False, "fft2")


def ifft2(input, s=None, dim=(-2, -1), norm=None):
    return _c2c(input, s, dim, norm, True, "ifft2")


def fftn(input, s=None, dim=None, norm=None):
    return _c2c(input, s, dim, norm, False, "fftn")


def ifftn(input, s=None, dim=None, norm=None):
    return _c2c(input, s, dim, norm, True, "ifftn")


def rfft(input, n=None, dim=-1, norm=None):
    return _r2c(input, _one(n), [dim], norm, "rfft")


def irfft(input, n=None, dim=-1, norm=None):
    return _c2r(input, _one(n), [dim], norm, "irfft")


def rfft2(input, s=None, dim=(-2, -1), norm=None):
    return _r2c(input, s, dim, norm, "rfft2")


def irfft2(input, s=None, dim=(-2, -1), norm=None):
    return _c2r(input, s, dim, norm, "irfft2")


def rfftn(input, s=None, dim=None, norm=None):
    return _r2c(input, s, dim, norm, "rfftn")


def irfftn(input, s=None, dim=None, norm=None):
    return _c2r(input, s, dim, norm, "irfftn")


def hfft(input, n=None, dim=-1, norm=None):
    """The real signal of a Hermitian-symmetric one-sided spectrum: irfft of the conjugate with
    the opposite normalisation."""
    return irfft(conj(_prepared(input, "hfft")), n, dim, _SWAPPED[_check_norm(norm)])


def ihfft(input, n=None, dim=-1, norm=None):
    """The one-sided Hermitian spectrum of a real signal: conj(rfft) with the opposite
    normalisation."""
    _prepared(input, "ihfft", real_only=True)
    return conj(rfft(input, n, dim, _SWAPPED[_check_norm(norm)]))


def hfft2(input, s=None, dim=(-2, -1), norm=None):
    return irfftn(conj(_prepared(input, "hfft2")), s, dim, _SWAPPED[_check_norm(norm)])


def ihfft2(input, s=None, dim=(-2, -1), norm=None):
    _prepared(input, "ihfft2", real_only=True)
    return conj(rfftn(input, s, dim, _SWAPPED[_check_norm(norm)]))


def hfftn(input, s=None, dim=None, norm=None):
    return irfftn(conj(_prepared(input, "hfftn")), s, dim, _SWAPPED[_check_norm(norm)])


def ihfftn(input, s=None, dim=None, norm=None):
    _prepared(input, "ihfftn", real_only=True)
    return conj(rfftn(input, s, dim, _SWAPPED[_check_norm(norm)]))


def fftfreq(n, d=1.0, *, dtype=None, layout=None, device=None, requires_grad=False):
    """The sample frequencies of an n-point transform: [0, 1, ..., -1] / (d n)."""
    if type(n) is int and n < 0:
        raise RuntimeError(f"Trying to create tensor with negative dimension {n}: [{n}]")
    return _frequencies(np.fft.fftfreq(n, d) if n else np.zeros(0), dtype, requires_grad)


def rfftfreq(n, d=1.0, *, dtype=None, layout=None, device=None, requires_grad=False):
    """The non-negative sample frequencies of an n-point real transform."""
    return _frequencies(np.fft.rfftfreq(n, d), dtype, requires_grad)


def _frequencies(values, dtype, requires_grad):
    target = get_default_dtype() if dtype is None else to_dtype(dtype)
    tensor = Tensor._result(values.astype(target.numpy))
    if requires_grad:
        tensor._require_grad_on_creation()
    return tensor


def fftshift(input, dim=None):
    """Move the zero frequency to the centre: a roll by half of each dim's size."""
    require_tensor(input, "fftshift")
    axes = _shift_axes(input, dim)
    return roll(input, [input._data.shape[axis] // 2 for axis in axes], axes)


def ifftshift(input, dim=None):
    """fftshift's inverse."""
    require_tensor(input, "ifftshift")
    axes = _shift_axes(input, dim)
    return roll(input, [-(input._data.shape[axis] // 2) for axis in axes], axes)


def _shift_axes(input, dim):
    ndim = input._data.ndim
    if dim is None:
        return list(range(ndim))
    dims = [dim] if isinstance(dim, int) else list(dim)
    return [_normalize_dim(axis, max(ndim, 1)) for axis in dims]


__all__ = ["fft", "fft2", "fftfreq", "fftn", "fftshift", "hfft", "hfft2", "hfftn", "ifft",
           "ifft2", "ifftn", "ifftshift", "ihfft", "ihfft2", "ihfftn", "irfft", "irfft2",
           "irfftn", "rfft", "rfft2", "rfftfreq", "rfftn"]


# ---- short-time transforms (torch.stft / torch.istft) -----------------------------------------
def stft(input, n_fft, hop_length=None, win_length=None, window=None, center=True,
         pad_mode="reflect", normalized=False, onesided=None, return_complex=None,
         align_to_window=None):
    """The short-time Fourier transform of a 1-D signal or a batch of them: frames of ``n_fft``
    samples every ``hop_length``, each times the window (centred in n_fft), transformed;
    (..., frequencies, frames)."""
    require_tensor(input, "stft")
    data = input._data
    if return_complex is None and data.dtype.kind != "c":
        raise RuntimeError("stft requires the return_complex parameter be given for real "
                           "inputs, and will further require that return_complex=True in a "
                           "future PyTorch release.")
    if data.ndim not in (1, 2):
        raise RuntimeError(f"stft: expected a 1D or 2D tensor, but got {data.ndim}D")
    hop_length = n_fft // 4 if hop_length is None else hop_length
    win_length = n_fft if win_length is None else win_length
    if not 0 < win_length <= n_fft:
        raise RuntimeError(f"stft: expected 0 < win_length <= n_fft, but got win_length="
                           f"{win_length}")
    if hop_length <= 0:
        raise RuntimeError(f"stft: expected hop_length > 0, but got hop_length={hop_length}")
    signal = input if data.ndim == 2 else input.unsqueeze(0)
    if center:
        signal = _padded_ends(signal, n_fft // 2, pad_mode)
    length = signal._data.shape[-1]
    if not 0 < n_fft <= length:
        raise RuntimeError(f"stft: expected 0 < n_fft < {length}, but got n_fft={n_fft}")
    frames = signal.unfold(-1, n_fft, hop_length)  # (batch, frames, n_fft)
    if window is None:
        warnings.warn("A window was not provided. A rectangular window will be applied,which "
                      "is known to cause spectral leakage. Other windows such as "
                      "torch.hann_window or torch.hamming_window are recommended to reduce "
                      "spectral leakage.To suppress this warning and default to a rectangular "
                      "window, explicitly set `window=torch.ones(n_fft, device=<device>)`.",
                      UserWarning, stacklevel=2)
    else:
        if window._data.ndim != 1 or window._data.shape[0] != win_length:
            shape = ", ".join(str(size) for size in signal._data.shape)
            window_shape = ", ".join(str(size) for size in window._data.shape)
            raise RuntimeError(
                f"stft({tensor_type_name(signal._data.dtype)}[{shape}], n_fft={n_fft}, "
                f"hop_length={hop_length}, win_length={win_length}, "
                f"window={tensor_type_name(window._data.dtype)}{{[{window_shape}]}}, "
                f"normalized={int(bool(normalized))}, onesided={onesided}, "
                f"return_complex={int(bool(return_complex))}, align_to_window="
                f"{align_to_window}) : expected a 1D window tensor of size equal to "
                f"win_length={win_length}, but got window with size "
                f"{list(window._data.shape)}")
        frames = frames * _centred_window(window, n_fft)
    complex_input = frames._data.dtype.kind == "c"
    one_sided = (not complex_input) if onesided is None else onesided
    norm = "ortho" if normalized else "backward"
    spectra = rfft(frames, dim=-1, norm=norm) if one_sided else fft(frames, dim=-1, norm=norm)
    spectra = spectra.transpose(-1, -2)
    if data.ndim == 1:
        spectra = spectra.squeeze(0)
    if not return_complex:
        warnings.warn("stft with return_complex=False is deprecated. In a future pytorch "
                      "release, stft will return complex tensors for all inputs, and "
                      "return_complex=False will raise an error.\nNote: you can still call "
                      "torch.view_as_real on the complex output to recover the old return "
                      "format.", UserWarning, stacklevel=2)
        return view_as_real(spectra)
    return spectra


def istft(input, n_fft, hop_length=None, win_length=None, window=None, center=True,
          normalized=False, onesided=None, length=None, return_complex=False):
    """stft's inverse: each frame transformed back, windowed, overlapped and added, divided by
    the summed squared window (least squares, as PyTorch's)."""
    require_tensor(input, "istft")
    if input._data.dtype.kind != "c":
        raise RuntimeError("istft requires a complex-valued input tensor matching the output "
                           "from stft with return_complex=True.")
    hop_length = n_fft // 4 if hop_length is None else hop_length
    win_length = n_fft if win_length is None else win_length
    spectra = input if input._data.ndim == 3 else input.unsqueeze(0)
    frames_count = spectra._data.shape[-1]
    one_sided = (spectra._data.shape[-2] != n_fft) if onesided is None else onesided
    norm = "ortho" if normalized else "backward"
    spectra = spectra.transpose(-1, -2)  # (batch, frames, frequencies)
    if one_sided and not return_complex:
        frames = irfft(spectra, n=n_fft, dim=-1, norm=norm)
    else:
        frames = ifft(spectra, n=n_fft, dim=-1, norm=norm)
        if not return_complex:
            frames = frames.real
    if window is None:
        frames_windowed = frames
        window_values = np.ones(n_fft)
    else:
        centred = _centred_window(window, n_fft)
        frames_windowed = frames * centred
        window_values = centred._data
    expected = n_fft + hop_length * (frames_count - 1)
    starts = np.arange(frames_count) * hop_length
    positions = (starts[:, None] + np.arange(n_fft)[None, :]).reshape(-1)
    batch = frames_windowed._data.shape[0]
    flat = frames_windowed.reshape(batch, frames_count * n_fft)
    signal = input.new_zeros((batch, expected), dtype=flat.dtype).index_add(
        1, Tensor._result(positions.astype(np.int64)), flat)
    envelope = np.zeros(expected, np.float64)
    wide = np.complex128 if window_values.dtype.kind == "c" else np.float64
    np.add.at(envelope, positions,
              np.tile(np.abs(window_values.astype(wide)) ** 2, frames_count))
    start = n_fft // 2 if center else 0
    stop = expected - n_fft // 2 if center else expected
    if length is not None:
        stop = start + length
    signal = signal[:, start:min(stop, expected)]
    envelope = envelope[start:min(stop, expected)]
    if np.any(np.abs(envelope) < 1e-11):
        raise RuntimeError("istft: window overlap add min: 0 (the window's squared sum is zero "
                           "somewhere: NOLA check failed)")
    signal = signal / Tensor._result(envelope.astype(real_dtype(signal._data.dtype)))
    if length is not None and signal._data.shape[-1] < length:
        signal = _zero_extended(signal, length)
    return signal if input._data.ndim == 3 else signal.squeeze(0)


def _zero_extended(signal, length):
    zeros = signal.new_zeros((signal._data.shape[0], length - signal._data.shape[-1]))
    return cat([signal, zeros], -1)


def _centred_window(window, n_fft):
    """A window of win_length samples zero-padded on both sides to n_fft (PyTorch centres it)."""
    size = window._data.shape[0]
    if size == n_fft:
        return window
    left = (n_fft - size) // 2
    zeros_left = window.new_zeros((left,))
    zeros_right = window.new_zeros((n_fft - size - left,))
    return cat([zeros_left, window, zeros_right])


def _padded_ends(signal, amount, mode):
    """The signal extended by ``amount`` samples at both ends (reflect, replicate, circular or
    constant), through an index gather so the gradient flows back."""
    length = signal._data.shape[-1]
    if mode == "constant":
        zeros = signal.new_zeros((signal._data.shape[0], amount))
        return cat([zeros, signal, zeros], -1)
    if mode == "reflect":
        if amount >= length:
            raise RuntimeError(f"Argument #4: Padding size should be less than the "
                               f"corresponding input dimension, but got: padding ({amount}, "
                               f"{amount}) at dimension 2 of input "
                               f"[1, {signal._data.shape[0]}, {length}]")
        index = np.concatenate([np.arange(amount, 0, -1), np.arange(length),
                                np.arange(length - 2, length - 2 - amount, -1)])
    elif mode == "replicate":
        index = np.clip(np.arange(-amount, length + amount), 0, length - 1)
    elif mode == "circular":
        index = np.arange(-amount, length + amount) % length
    else:
        raise RuntimeError(f"stft: unsupported pad_mode {mode!r}")
    return index_select(signal, -1, Tensor._result(index.astype(np.int64)))


__all__ += ["istft", "stft"]
