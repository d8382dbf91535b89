"""``torch.special``: the special functions whose math ember has, with PyTorch's signatures.

Each is an ember op or a composition of them, so gradients (and create_graph) follow. The gamma
family is here (gammaln, digamma/psi, polygamma, multigammaln, and zeta, which like PyTorch's has
no derivative), erfcx, the modified Bessel functions i0, i0e, i1, i1e, and, like PyTorch's
without a derivative, bessel_j0/j1/y0/y1, modified_bessel_i0/i1/k0/k1,
scaled_modified_bessel_k0/k1, spherical_bessel_j0 and the orthogonal polynomials (Chebyshev,
shifted Chebyshev, Hermite, Laguerre, Legendre), and the Airy function airy_ai;
gammainc/gammaincc are differentiable in x only, as PyTorch's.
"""
import math
import sys

import numpy as np

from . import _dtype, _out
from . import overrides as _overrides
from ._tensor_methods import numpy_names as _numpy_names
from .ops import (digamma, erf, erfc, erfinv, exp2, expm1, log, log1p,
                  logical_or, logit, neg, polygamma, sigmoid, sinc, where, xlogy)
from .ops import lgamma as gammaln
from .ops import mvlgamma as _mvlgamma
from .ops.elementwise import polynomials as _polynomials
from .ops.elementwise.bessel import airy_ai as _airy_ai, bessel as _bessel
from .ops.elementwise.bessel import modified_bessel_k as _modified_bessel_k
from .ops.elementwise.gamma import incomplete_gamma_op as _incomplete_gamma_op
from .ops.elementwise.exp_log import Entr as _Entr, xlog1py
from .ops.elementwise.gamma import zeta
from .ops.elementwise.special import i0, special_i0e as i0e, special_i1 as i1
from .ops.elementwise.special import special_erfcx as erfcx
from .ops.elementwise.special import special_i1e as i1e
from .ops.elementwise.special import I0 as _I0, I1 as _I1
from .ops import log_softmax as _log_softmax
from .ops import logsumexp as _logsumexp
from .ops import round as _round
from .ops import softmax as _softmax
from .tensor import Tensor

__all__ = ["airy_ai", "bessel_j0", "bessel_j1", "bessel_y0", "bessel_y1", "chebyshev_polynomial_t",
           "chebyshev_polynomial_u", "chebyshev_polynomial_v", "chebyshev_polynomial_w", "digamma",
           "entr", "erf", "erfc", "erfcx", "erfinv", "exp2", "expit", "expm1", "gammainc",
           "gammaincc", "gammaln", "hermite_polynomial_h", "hermite_polynomial_he", "i0", "i0e",
           "i1", "i1e", "laguerre_polynomial_l", "legendre_polynomial_p", "log1p", "log_ndtr",
           "log_softmax", "logit", "logsumexp", "modified_bessel_i0", "modified_bessel_i1",
           "modified_bessel_k0", "modified_bessel_k1", "multigammaln", "ndtr", "ndtri",
           "polygamma", "psi", "round", "scaled_modified_bessel_k0", "scaled_modified_bessel_k1",
           "shifted_chebyshev_polynomial_t", "shifted_chebyshev_polynomial_u",
           "shifted_chebyshev_polynomial_v", "shifted_chebyshev_polynomial_w", "sinc", "softmax",
           "spherical_bessel_j0", "xlog1py", "xlogy", "zeta"]

_SQRT_HALF = math.sqrt(0.5)
_LOG_SQRT_TWO_PI = 0.5 * math.log(2 * math.pi)
# Below these, 0.5 * erfc(-x / sqrt(2)) underflows in the dtype, and log_ndtr takes the
# asymptotic series of Abramowitz and Stegun 26.2.12 (its next term is below rounding there).
_LOG_NDTR_SERIES_BELOW = {np.dtype(np.float32): -10.0, np.dtype(np.float64): -20.0}


psi = digamma


def multigammaln(input, p):
    """The log of the multivariate gamma function of dimension p (torch.mvlgamma)."""
    return _mvlgamma(input, p)


def expit(input):
    """The logistic sigmoid, 1 / (1 + exp(-input))."""
    return sigmoid(input)


def ndtr(input):
    """The standard normal CDF; erfc keeps the lower tail accurate."""
    return 0.5 * erfc(neg(input) * _SQRT_HALF)


def ndtri(input):
    """The inverse of the standard normal CDF."""
    return erfinv(2 * input - 1) * math.sqrt(2.0)


def log_ndtr(input):
    """log of the standard normal CDF, accurate deep into the lower tail."""
    input = _floating(input)
    threshold = _LOG_NDTR_SERIES_BELOW.get(input._data.dtype, -10.0)
    in_series = input < threshold
    # Each branch sees inputs inside its own domain, so neither sends NaN through where's
    # backward to the other.
    upper = input > 0
    lower_input = where(logical_or(in_series, upper), 0.0, input)
    lower = log(0.5 * erfc(neg(lower_input) * _SQRT_HALF))
    # Above 0, log1p of the upper tail keeps the digits that log of a CDF near 1 would lose.
    upper_input = where(upper, input, 0.0)
    upper_tail = log1p(-0.5 * erfc(upper_input * _SQRT_HALF))
    series_input = where(in_series, input, threshold)
    inverse_square = 1 / (series_input * series_input)
    correction = 1 + inverse_square * (-1 + inverse_square * (3 + inverse_square * (
        -15 + inverse_square * 105)))
    series = (-0.5 * series_input * series_input - log(neg(series_input)) - _LOG_SQRT_TWO_PI
              + log(correction))
    return where(in_series, series, where(upper, upper_tail, lower))


def entr(input):
    """Elementwise entropy: -x log x for x > 0, 0 at 0, -inf below."""
    return _Entr.apply(_floating(input))


def softmax(input, dim, *, dtype=None):
    return _softmax(input, dim, dtype=dtype)


def log_softmax(input, dim, *, dtype=None):
    return _log_softmax(input, dim, dtype=dtype)


def logsumexp(input, dim, keepdim=False):
    return _logsumexp(input, dim, keepdim=keepdim)


def round(input, *, decimals=0):
    return _round(input, decimals=decimals)


def _floating(input):
    if not isinstance(input, Tensor):
        raise TypeError(f"expected a Tensor, got {type(input).__name__}")
    if input.is_floating_point():
        return input
    return input.float()



# ---- orthogonal polynomials (no derivative, as PyTorch's) -------------------------------------
def _polynomial_operands(name, x, n):
    """x and n (one may be a Python number) as arrays broadcast together, in PyTorch's result
    dtype (the default floating dtype for integers), and n as integer degrees."""
    if not isinstance(x, Tensor) and not isinstance(n, Tensor):
        raise TypeError(f"special_{name}() received an invalid combination of arguments - got "
                        f"({type(x).__name__}, {type(n).__name__}), but expected one of:\n"
                        f" * (Tensor x, Tensor n, *, Tensor out = None)\n"
                        f" * (Number x, Tensor n, *, Tensor out = None)\n"
                        f" * (Tensor x, Number n, *, Tensor out = None)\n")
    tensors, zero_dim, numbers = [], [], []
    for operand in (x, n):
        if isinstance(operand, Tensor):
            (tensors if operand.dim() else zero_dim).append(operand.dtype)
        else:
            numbers.append(operand)
    dtype = _dtype.result_type(tensors, zero_dim, numbers)
    if not dtype.is_floating_point:
        dtype = _dtype.get_default_dtype()
    x_array = x._data if isinstance(x, Tensor) else np.asarray(x)
    n_array = n._data if isinstance(n, Tensor) else np.asarray(n)
    x_array, n_array = np.broadcast_arrays(x_array.astype(dtype.numpy),
                                           n_array.astype(dtype.numpy))
    return np.array(x_array), _polynomials.degrees(n_array, dtype.numpy)


def _polynomial(name, function, *arguments, doc):
    def special_polynomial(input, n, *, out=None):
        x_array, degrees = _polynomial_operands(name, input, n)
        result = Tensor._wrap(np.asarray(function(x_array, degrees, *arguments)))
        if out is not None:
            out.copy_(result)
            return out
        return result
    special_polynomial.__name__ = special_polynomial.__qualname__ = name
    special_polynomial.__doc__ = doc
    return special_polynomial


chebyshev_polynomial_t = _polynomial(
    "chebyshev_polynomial_t", _polynomials.chebyshev_polynomial, "t",
    doc="Chebyshev polynomial of the first kind T_n(x).")
chebyshev_polynomial_u = _polynomial(
    "chebyshev_polynomial_u", _polynomials.chebyshev_polynomial, "u",
    doc="Chebyshev polynomial of the second kind U_n(x).")
chebyshev_polynomial_v = _polynomial(
    "chebyshev_polynomial_v", _polynomials.chebyshev_polynomial, "v",
    doc="Chebyshev polynomial of the third kind V_n(x).")
chebyshev_polynomial_w = _polynomial(
    "chebyshev_polynomial_w", _polynomials.chebyshev_polynomial, "w",
    doc="Chebyshev polynomial of the fourth kind W_n(x).")
shifted_chebyshev_polynomial_t = _polynomial(
    "shifted_chebyshev_polynomial_t", _polynomials.chebyshev_polynomial, "t", True,
    doc="Shifted Chebyshev polynomial of the first kind T*_n(x) = T_n(2x - 1).")
shifted_chebyshev_polynomial_u = _polynomial(
    "shifted_chebyshev_polynomial_u", _polynomials.chebyshev_polynomial, "u", True,
    doc="Shifted Chebyshev polynomial of the second kind U*_n(x) = U_n(2x - 1).")
shifted_chebyshev_polynomial_v = _polynomial(
    "shifted_chebyshev_polynomial_v", _polynomials.chebyshev_polynomial, "v", True,
    doc="Shifted Chebyshev polynomial of the third kind V*_n(x) = V_n(2x - 1).")
shifted_chebyshev_polynomial_w = _polynomial(
    "shifted_chebyshev_polynomial_w", _polynomials.chebyshev_polynomial, "w", True,
    doc="Shifted Chebyshev polynomial of the fourth kind W*_n(x) = W_n(2x - 1).")
hermite_polynomial_h = _polynomial(
    "hermite_polynomial_h", _polynomials.hermite_polynomial, True,
    doc="Physicists' Hermite polynomial H_n(x).")
hermite_polynomial_he = _polynomial(
    "hermite_polynomial_he", _polynomials.hermite_polynomial, False,
    doc="Probabilists' Hermite polynomial He_n(x).")
laguerre_polynomial_l = _polynomial(
    "laguerre_polynomial_l", _polynomials.laguerre_polynomial,
    doc="Laguerre polynomial L_n(x).")
legendre_polynomial_p = _polynomial(
    "legendre_polynomial_p", _polynomials.legendre_polynomial,
    doc="Legendre polynomial P_n(x).")


# ---- functions without a derivative (PyTorch's) -----------------------------------------------
def _without_derivative(name, function, doc):
    """A torch.special function whose PyTorch kernel has no derivative: its value as a tensor
    that does not require grad, integers read in the default floating dtype."""
    def special_function(input, *, out=None):
        if not isinstance(input, Tensor):
            raise TypeError(f"special_{name}(): argument 'input' (position 1) must be Tensor, "
                            f"not {type(input).__name__}")
        array = _floating(input)._data
        result = Tensor._wrap(np.asarray(function(array), dtype=array.dtype))
        if out is not None:
            out.copy_(result)
            return out
        return result
    special_function.__name__ = special_function.__qualname__ = name
    special_function.__doc__ = doc
    return special_function


def _spherical_bessel_j0(x):
    """sin(x) / x; its Taylor polynomial below |x| = 1/2 (PyTorch's cut), 0 at the infinities."""
    dtype = x.dtype.type
    square = x * x
    series = dtype(1 / 6227020800.0)
    for denominator in (-39916800.0, 362880.0, -5040.0, 120.0, -6.0):
        series = dtype(1 / denominator) + square * series
    series = dtype(1) + square * series
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.sin(x) / x
    return np.where(np.isinf(x), dtype(0), np.where(np.abs(x) < 0.5, series, ratio))


modified_bessel_i0 = _without_derivative(
    "modified_bessel_i0", _I0.function, "The modified Bessel function I_0(x) (no derivative).")
modified_bessel_i1 = _without_derivative(
    "modified_bessel_i1", _I1.function, "The modified Bessel function I_1(x) (no derivative).")
spherical_bessel_j0 = _without_derivative(
    "spherical_bessel_j0", _spherical_bessel_j0,
    "The spherical Bessel function of the first kind j_0(x) = sin(x) / x (no derivative).")
modified_bessel_k0 = _without_derivative(
    "modified_bessel_k0", lambda x: _modified_bessel_k(x, 0, False),
    "The modified Bessel function of the second kind K_0(x) (no derivative).")
modified_bessel_k1 = _without_derivative(
    "modified_bessel_k1", lambda x: _modified_bessel_k(x, 1, False),
    "The modified Bessel function of the second kind K_1(x) (no derivative).")
scaled_modified_bessel_k0 = _without_derivative(
    "scaled_modified_bessel_k0", lambda x: _modified_bessel_k(x, 0, True),
    "exp(x) K_0(x), which neither underflows nor overflows (no derivative).")
scaled_modified_bessel_k1 = _without_derivative(
    "scaled_modified_bessel_k1", lambda x: _modified_bessel_k(x, 1, True),
    "exp(x) K_1(x), which neither underflows nor overflows (no derivative).")
bessel_j0 = _without_derivative(
    "bessel_j0", lambda x: _bessel(x, 0, False),
    "The Bessel function of the first kind J_0(x) (no derivative).")
bessel_j1 = _without_derivative(
    "bessel_j1", lambda x: _bessel(x, 1, False),
    "The Bessel function of the first kind J_1(x) (no derivative).")
bessel_y0 = _without_derivative(
    "bessel_y0", lambda x: _bessel(x, 0, True),
    "The Bessel function of the second kind Y_0(x) (no derivative).")
bessel_y1 = _without_derivative(
    "bessel_y1", lambda x: _bessel(x, 1, True),
    "The Bessel function of the second kind Y_1(x) (no derivative).")


def gammainc(input, other):
    """The regularized lower incomplete gamma function P(input, other)."""
    return _incomplete_gamma_op(input, other, False, "special_gammainc")


def gammaincc(input, other):
    """The regularized upper incomplete gamma function Q(input, other) = 1 - P."""
    return _incomplete_gamma_op(input, other, True, "special_gammaincc")
airy_ai = _without_derivative(
    "airy_ai", _airy_ai, "The Airy function Ai(x) (no derivative).")


def _taking_out():
    """torch.special's functions take ``out=`` (all but softmax and log_softmax); a function that
    is also a top-level op is the same object as ``ember.<op>``."""
    package = sys.modules[__package__]
    for name in __all__:
        if name in ("softmax", "log_softmax"):
            continue
        function = globals()[name]
        top = getattr(package, getattr(function, "__name__", ""), None)
        # (the top-level op may already be behind its __torch_function__ dispatcher)
        globals()[name] = (top if getattr(_overrides.unwrapped(top), "__wrapped__", None)
                           is function else _out.accepting_out(function, "special_" + name))


def _taking_numpy_names():
    """axis=/keepdims= for dim=/keepdim=, as PyTorch's special functions take them
    (``special.logsumexp(x, axis=1)``)."""
    for name in __all__:
        globals()[name] = _numpy_names(globals()[name])


_taking_numpy_names()
_taking_out()
# Loaded lazily: if a program already turned the __torch_function__ protocol on, these dispatch too.
_overrides.wrap_module(sys.modules[__name__])
