"""``torch.special``: the special functions whose math ember has, with PyTorch's signatures.

Each is an ember op or a composition of them, so gradients (and create_graph) follow. The gamma
family is here (gammaln, digamma/psi, polygamma, multigammaln, and zeta, which like PyTorch's has
no derivative), and the modified Bessel functions i0, i0e, i1, i1e; erfcx is not provided.
"""
import math

import numpy as np

from ._factories import as_tensor
from .ops import (digamma, erf, erfc, erfinv, exp2, expm1, isnan, log, log1p, logical_and,
                  logical_or, logit, neg, polygamma, sigmoid, sinc, where, xlogy)
from .ops import lgamma as gammaln
from .ops import mvlgamma as _mvlgamma
from .ops.elementwise.gamma import zeta
from .ops.elementwise.special import i0, special_i0e as i0e, special_i1 as i1
from .ops.elementwise.special import special_i1e as i1e
from .ops import log_softmax as _log_softmax
from .ops import logsumexp as _logsumexp
from .ops import round as _round
from .ops import softmax as _softmax
from .tensor import Tensor

__all__ = ["digamma", "entr", "erf", "erfc", "erfinv", "exp2", "expit", "expm1", "gammaln", "i0",
           "i0e", "i1", "i1e", "log1p", "log_ndtr", "log_softmax", "logit", "logsumexp",
           "multigammaln", "ndtr", "ndtri", "polygamma", "psi", "round", "sinc", "softmax", "xlog1py", "xlogy", "zeta"]

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
    input = _floating(input)
    positive = input > 0
    safe = where(positive, input, 1.0)
    outside = where(input == 0, 0.0, -math.inf)
    return where(positive, neg(safe) * log(safe), where(isnan(input), input, outside))


def xlog1py(input, other):
    """input * log1p(other), 0 where input is 0 (unless other is NaN)."""
    input, other = _tensor_pair(input, other)
    # 0 * log1p(other) is 0 already, except where log1p(other) is -inf or NaN (other <= -1):
    # those entries see other = 0 and are set to 0, so that no NaN reaches backward.
    outside = logical_and(input == 0, other <= -1)
    product = input * log1p(where(outside, 0.0, other))
    return where(outside, 0.0, product)


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


def _tensor_pair(input, other):
    """Two operands of a binary special function as Tensors (PyTorch takes a number for either)."""
    if not isinstance(input, Tensor) and not isinstance(other, Tensor):
        raise TypeError(f"expected at least one Tensor, got {type(input).__name__} and "
                        f"{type(other).__name__}")
    if not isinstance(input, Tensor):
        input = as_tensor(input, dtype=other.dtype if other.is_floating_point() else None)
    if not isinstance(other, Tensor):
        other = as_tensor(other, dtype=input.dtype if input.is_floating_point() else None)
    return _floating(input), _floating(other)

