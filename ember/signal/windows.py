"""``torch.signal.windows``: SciPy-style window functions with keyword ``sym`` (symmetric for
filter design, periodic for spectral analysis), built from ember's ops in the requested dtype so
that each value rounds as PyTorch's does."""
import math
from collections.abc import Iterable

from .. import _dtype
from .._factories import arange, empty, linspace, ones, tensor
from .._layout import strided
from ..ops import abs as _abs, cos, exp, i0, minimum, pow as _pow, sin, sqrt

__all__ = ["bartlett", "blackman", "cosine", "exponential", "gaussian", "general_cosine",
           "general_hamming", "hamming", "hann", "kaiser", "nuttall"]


def _checked_dtype(name, M, dtype, layout):
    """The window's dtype (the default dtype if None) after PyTorch's common argument checks."""
    dtype = _dtype.get_default_dtype() if dtype is None else dtype
    if M < 0:
        raise ValueError(f"{name} requires non-negative window length, got M={M}")
    if layout is not strided:
        raise ValueError(f"{name} is implemented for strided tensors only, got: {layout}")
    if dtype not in (_dtype.float32, _dtype.float64):
        raise ValueError(f"{name} expects float32 or float64 dtypes, got: {dtype}")
    return dtype


def _trivial(M, dtype, device, requires_grad, one_is_trivial=True):
    """The empty window for M == 0 and [1.] for M == 1 (where the formula would divide by 0)."""
    if M == 0:
        return empty((0,), dtype=dtype, device=device, requires_grad=requires_grad)
    if M == 1 and one_is_trivial:
        return ones((1,), dtype=dtype, device=device, requires_grad=requires_grad)
    return None


def _positions(start, step, M, dtype, device, requires_grad):
    """``start + n * step`` for n in [0, M) as PyTorch spaces them (one linspace)."""
    return linspace(start, start + (M - 1) * step, M, dtype=dtype, device=device,
                    requires_grad=requires_grad)


def exponential(M, *, center=None, tau=1.0, sym=True, dtype=None, layout=strided, device=None,
                requires_grad=False):
    """The Poisson window ``exp(-|n - center| / tau)``."""
    dtype = _checked_dtype("exponential", M, dtype, layout)
    if tau <= 0:
        raise ValueError(f"Tau must be positive, got: {tau} instead.")
    if sym and center is not None:
        raise ValueError("Center must be None for symmetric windows")
    trivial = _trivial(M, dtype, device, requires_grad, one_is_trivial=False)
    if trivial is not None:
        return trivial
    if center is None:
        center = (M if not sym and M > 1 else M - 1) / 2.0
    scale = 1 / tau
    k = _positions(-center * scale, scale, M, dtype, device, requires_grad)
    return exp(-_abs(k))


def cosine(M, *, sym=True, dtype=None, layout=strided, device=None, requires_grad=False):
    """The sine window ``sin(pi (n + 1/2) / M)``."""
    dtype = _checked_dtype("cosine", M, dtype, layout)
    trivial = _trivial(M, dtype, device, requires_grad, one_is_trivial=False)
    if trivial is not None:
        return trivial
    step = math.pi / (M + 1 if not sym and M > 1 else M)
    return sin(_positions(0.5 * step, step, M, dtype, device, requires_grad))


def gaussian(M, *, std=1.0, sym=True, dtype=None, layout=strided, device=None,
             requires_grad=False):
    """The Gaussian window ``exp(-((n - c) / std)^2 / 2)`` about the centre c."""
    dtype = _checked_dtype("gaussian", M, dtype, layout)
    if std <= 0:
        raise ValueError(f"Standard deviation must be positive, got: {std} instead.")
    trivial = _trivial(M, dtype, device, requires_grad, one_is_trivial=False)
    if trivial is not None:
        return trivial
    start = -(M if not sym and M > 1 else M - 1) / 2.0
    scale = 1 / (std * math.sqrt(2))
    k = _positions(start * scale, scale, M, dtype, device, requires_grad)
    return exp(-(k ** 2))


def kaiser(M, *, beta=12.0, sym=True, dtype=None, layout=strided, device=None,
           requires_grad=False):
    """The Kaiser window ``I0(sqrt(beta^2 - k^2)) / I0(beta)``, k spaced over [-beta, beta]."""
    dtype = _checked_dtype("kaiser", M, dtype, layout)
    if beta < 0:
        raise ValueError(f"beta must be non-negative, got: {beta} instead.")
    trivial = _trivial(M, dtype, device, requires_grad)
    if trivial is not None:
        return trivial
    # beta as a tensor of the window's dtype: the end point and sqrt round as the window does,
    # so beta^2 - k^2 never falls below 0 at the ends.
    beta = tensor(beta, dtype=dtype)
    step = 2.0 * beta / (M if not sym else M - 1)
    end = minimum(beta, -beta + (M - 1) * step)
    k = linspace(-beta, end, M, dtype=dtype, device=device, requires_grad=requires_grad)
    return i0(sqrt(beta * beta - _pow(k, 2))) / i0(beta)


def general_cosine(M, *, a, sym=True, dtype=None, layout=strided, device=None,
                   requires_grad=False):
    """The sum ``sum_i (-1)^i a_i cos(2 pi i n / (M - 1))`` of cosines (``M`` if periodic)."""
    dtype = _checked_dtype("general_cosine", M, dtype, layout)
    trivial = _trivial(M, dtype, device, requires_grad)
    if trivial is not None:
        return trivial
    if not isinstance(a, Iterable):
        raise TypeError("Coefficients must be a list/tuple")
    if not a:
        raise ValueError("Coefficients cannot be empty")
    step = 2 * math.pi / (M if not sym else M - 1)
    k = _positions(0, step, M, dtype, device, requires_grad)
    coefficients = tensor([(-1) ** i * weight for i, weight in enumerate(a)], dtype=dtype,
                          requires_grad=requires_grad)
    order = arange(coefficients.shape[0], dtype=dtype, requires_grad=requires_grad)
    return (coefficients.unsqueeze(-1) * cos(order.unsqueeze(-1) * k)).sum(0)


def general_hamming(M, *, alpha=0.54, sym=True, dtype=None, layout=strided, device=None,
                    requires_grad=False):
    """The generalised Hamming window ``alpha - (1 - alpha) cos(2 pi n / (M - 1))``."""
    return general_cosine(M, a=[alpha, 1.0 - alpha], sym=sym, dtype=dtype, layout=layout,
                          device=device, requires_grad=requires_grad)


def hamming(M, *, sym=True, dtype=None, layout=strided, device=None, requires_grad=False):
    """The Hamming window (general_hamming with alpha 0.54)."""
    return general_hamming(M, sym=sym, dtype=dtype, layout=layout, device=device,
                           requires_grad=requires_grad)


def hann(M, *, sym=True, dtype=None, layout=strided, device=None, requires_grad=False):
    """The Hann window (general_hamming with alpha 0.5)."""
    return general_hamming(M, alpha=0.5, sym=sym, dtype=dtype, layout=layout, device=device,
                           requires_grad=requires_grad)


def blackman(M, *, sym=True, dtype=None, layout=strided, device=None, requires_grad=False):
    """The Blackman window: cosine coefficients 0.42, 0.5, 0.08."""
    _checked_dtype("blackman", M, dtype, layout)
    return general_cosine(M, a=[0.42, 0.5, 0.08], sym=sym, dtype=dtype, layout=layout,
                          device=device, requires_grad=requires_grad)


def bartlett(M, *, sym=True, dtype=None, layout=strided, device=None, requires_grad=False):
    """The triangular window ``1 - |2 n / (M - 1) - 1|``."""
    dtype = _checked_dtype("bartlett", M, dtype, layout)
    trivial = _trivial(M, dtype, device, requires_grad)
    if trivial is not None:
        return trivial
    step = 2 / (M if not sym else M - 1)
    return 1 - _abs(_positions(-1, step, M, dtype, device, requires_grad))


def nuttall(M, *, sym=True, dtype=None, layout=strided, device=None, requires_grad=False):
    """Nuttall's minimum 4-term Blackman-Harris window."""
    return general_cosine(M, a=[0.3635819, 0.4891775, 0.1365995, 0.0106411], sym=sym,
                          dtype=dtype, layout=layout, device=device,
                          requires_grad=requires_grad)
