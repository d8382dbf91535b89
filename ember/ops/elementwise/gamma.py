"""The gamma family: lgamma, digamma, polygamma, mvlgamma, and zeta (Hurwitz's, which polygamma
is built on; ember.special exposes it). NumPy has none of them: each is computed in float64 by
vectorised series and rounded once to the input's dtype (float16 and bfloat16 through float32,
as PyTorch computes them)."""
import math
from fractions import Fraction

import numpy as np

from ... import _jit
from ...tensor import Tensor
from ._operands import (
    _binary_math, _grad_for, _not_tensor, _OfInput, _OfInputAnd, _OfOperands, _promote, _unary)
from .._broadcast import unbroadcast
from ..._dtype import scalar_type_name as _scalar_type_name

__all__ = ["digamma", "igamma", "igammac", "lgamma", "mvlgamma", "polygamma"]

_EULER_GAMMA = 0.5772156649015329
_LOG_PI = math.log(math.pi)
_HALF_LOG_TWO_PI = 0.5 * math.log(2 * math.pi)
# Cephes' stopping test: a term below this fraction of the sum no longer changes it.
_MACHINE_EPSILON = 1.11022302462515654042e-16
# B_2, B_4, ..., B_24, the Bernoulli numbers of the asymptotic and Euler-Maclaurin series.
_BERNOULLI = [Fraction(1, 6), Fraction(-1, 30), Fraction(1, 42), Fraction(-1, 30), Fraction(5, 66),
              Fraction(-691, 2730), Fraction(7, 6), Fraction(-3617, 510), Fraction(43867, 798),
              Fraction(-174611, 330), Fraction(854513, 138), Fraction(-236364091, 2730)]
# Euler-Maclaurin's corrections to the Hurwitz zeta sum: (2k)! / B_2k, k = 1..12.
_ZETA_DIVISORS = [float(math.factorial(2 * k) / bernoulli)
                  for k, bernoulli in enumerate(_BERNOULLI, start=1)]
# Stirling's series of lgamma: B_2k / (2k (2k - 1)), k = 1..8 (the next term is below 1e-20
# from x = 12 up).
_STIRLING = [float(bernoulli / (2 * k * (2 * k - 1)))
             for k, bernoulli in enumerate(_BERNOULLI[:8], start=1)]
# The asymptotic series of digamma: B_2k / (2k), k = 1..7 (the next is 4e-17 at x = 10).
_DIGAMMA_SERIES = [float(bernoulli / (2 * k))
                   for k, bernoulli in enumerate(_BERNOULLI[:7], start=1)]
_DIGAMMA_SHIFT = 10.0
_STIRLING_FROM = 12.0


def _polynomial(coefficients, z):
    """sum_k coefficients[k] * z**k, by Horner's rule."""
    total = np.full_like(z, coefficients[-1])
    for coefficient in reversed(coefficients[:-1]):
        total = total * z + coefficient
    return total


def _rounded(function, x, *arguments):
    """``function`` of ``x`` in float64, rounded once to x's dtype (float16 and bfloat16 through
    float32, where PyTorch computes them)."""
    with np.errstate(all="ignore"):
        out = np.asarray(function(x.astype(np.float64), *arguments))
        if x.dtype != np.float64 and x.dtype != np.float32:
            out = out.astype(np.float32)
        return out.astype(x.dtype, copy=False)


# ---- Hurwitz zeta --------------------------------------------------------------------------------
def _zeta_positive(x, q):
    """zeta(x, q) = sum_k (q + k)^-x for q > 0 by Euler-Maclaurin summation (Cephes' zeta): ten
    terms summed, then the tail's integral, half its first term and twelve Bernoulli corrections.
    An entry stops as soon as a term no longer changes its sum (large x converges at once, and
    its later corrections would overflow)."""
    total = q ** -x
    done = np.zeros(total.shape, bool)
    shifted = q
    term = total
    for _ in range(9):
        shifted = shifted + 1.0
        term = shifted ** -x
        total = np.where(done, total, total + term)
        done |= (-_MACHINE_EPSILON * total < term) & (term < _MACHINE_EPSILON * total)
    total = np.where(done, total, total + term * shifted / (x - 1.0) - 0.5 * term)
    rising = 1.0
    power = 0.0
    for divisor in _ZETA_DIVISORS:
        rising = rising * (x + power)  # x (x + 1) ... (x + 2k - 2)
        term = term / shifted
        correction = rising * term / divisor
        total = np.where(done, total, total + correction)
        done |= np.abs(correction / total) < _MACHINE_EPSILON
        rising = rising * (x + power + 1.0)
        term = term / shifted
        power += 2.0
    return total


def zeta_array(x, q):
    """The Hurwitz zeta function of two float64 arrays (broadcast), with PyTorch's values: inf at
    x = 1 and at integer q <= 0, NaN for x < 1 and for a negative q with a fractional x."""
    x, q = np.broadcast_arrays(np.asarray(x, np.float64), np.asarray(q, np.float64))
    negative = q < 0
    positive_q = np.where(negative, 1.0, q)
    out = _zeta_positive(x, positive_q)
    if negative.any():
        # At q = -m + f (m whole, 0 < f < 1) the terms (q + k)^-x, k < m, are (-1)^x (|q| - k)^-x:
        # a difference of two zetas of positive q, and zeta(x, f) adds the rest. |q| - (m - 1),
        # the smallest of them, and f are exact in float64.
        whole = np.floor(q[negative])
        magnitude = -q[negative]
        order = x[negative]
        sign = np.where(np.fmod(order, 2.0) == 0, 1.0, -1.0)
        head = (_zeta_positive(order, magnitude + (whole + 1.0))
                - _zeta_positive(order, magnitude + 1.0))
        out[negative] = sign * head + _zeta_positive(order, q[negative] - whole)
    out = np.where((q <= 0) & (x != np.floor(x)), np.nan, out)
    out = np.where((q <= 0) & (q == np.floor(q)), np.inf, out)
    out = np.where(x < 1, np.nan, out)
    return np.where(x == 1, np.inf, out)


# ---- lgamma --------------------------------------------------------------------------------------
def _lgamma_near_two(delta):
    """lgamma(2 + delta) for |delta| <= 1/2: (1 - gamma) delta + sum_k (-1)^k (zeta(k) - 1)/k
    delta^k, accurate relative to the value near its zero at 2 (and, less log1p(delta), at 1)."""
    return delta * _polynomial(_LGAMMA_COEFFICIENTS, delta)


def _lgamma_float64(x):
    out = np.full_like(x, np.inf)
    fraction = x - np.round(x)
    pole = (x <= 0) & ((fraction == 0) | np.isinf(x))
    reflect = (x < 0.5) & ~pole & np.isfinite(x)
    # lgamma(x) = log(pi / |sin(pi x)|) - lgamma(1 - x); sin(pi x) from the exact fraction of x.
    positive = np.where(reflect, 1.0 - x, x)
    value = _lgamma_positive(np.where(pole, 1.0, positive))
    reflected = _LOG_PI - np.log(np.abs(np.sin(np.pi * fraction))) - value
    out = np.where(reflect, reflected, np.where(pole, out, value))
    return np.where(np.isnan(x), x, out)


def _lgamma_positive(x):
    """lgamma for x >= 1/2 (and +inf): the series about 1 or 2, downward recurrence onto it below
    12, Stirling's series above."""
    near_one = x < 1.5
    near_two = (x >= 1.5) & (x <= 2.5)
    middle = (x > 2.5) & (x < _STIRLING_FROM)
    large = x >= _STIRLING_FROM
    out = np.empty_like(x)
    out[near_one] = _lgamma_near_two(x[near_one] - 1.0) - np.log1p(x[near_one] - 1.0)
    out[near_two] = _lgamma_near_two(x[near_two] - 2.0)
    # lgamma(x) = log((x - 1)(x - 2)...(y)) + lgamma(y), y in (1.5, 2.5]: all terms positive.
    value = x[middle]
    product = np.ones_like(value)
    for _ in range(10):
        above = value > 2.5
        value = np.where(above, value - 1.0, value)
        product = np.where(above, product * value, product)
    out[middle] = np.log(product) + _lgamma_near_two(value - 2.0)
    value = x[large]
    inverse = 1.0 / value
    series = inverse * _polynomial(_STIRLING, inverse * inverse)
    out[large] = (value - 0.5) * np.log(value) - value + _HALF_LOG_TWO_PI + series
    out[np.isnan(x)] = np.nan
    out[x == np.inf] = np.inf
    return out


# (1 - gamma), then (-1)^k (zeta(k) - 1) / k for k = 2..40: 4^-40 is below float64's precision.
_LGAMMA_COEFFICIENTS = [1.0 - _EULER_GAMMA] + [
    float(value) * (-1) ** k / k
    for k, value in zip(range(2, 41), _zeta_positive(np.arange(2.0, 41.0), np.full(39, 2.0)))]


# ---- digamma and trigamma ------------------------------------------------------------------------
def _digamma_float64(x):
    integer = x == np.trunc(x)
    reflect = x < 0
    # psi(x) = psi(1 - x) - pi / tan(pi r) below 0, r the (exact) fractional part of x: tan(pi r)
    # keeps digits that tan(pi x) loses.
    fraction = x - np.trunc(x)
    value, result = _digamma_shifted(x, reflect)
    inverse_square = 1.0 / (value * value)
    series = inverse_square * _polynomial(_DIGAMMA_SERIES, inverse_square)
    out = result + np.log(value) - 0.5 / value - series
    out = np.where(reflect, out - np.pi / np.tan(np.pi * fraction), out)
    out = np.where(reflect & integer, np.nan, out)
    return np.where(x == 0, np.copysign(np.inf, -x), out)


@_jit.kernel
def _digamma_shift_values(x, value_out, result_out):
    # _digamma_shifted's steps per element, as selects (the same operations: a fixed number
    # of steps, so that the loop over elements vectorises)
    for index in range(x.size):
        value = x[index]
        if value < 0.0:
            value = 1.0 - value
        result = 0.0
        for _ in range(10):  # _DIGAMMA_SHIFT
            small = value < 10.0
            result = result - (1.0 / value if small else 0.0)
            value = value + 1.0 if small else value
        value_out[index] = value
        result_out[index] = result


def _digamma_shifted(x, reflect):
    """(value, result) for float64 ``x``: value = x (1 - x below 0) moved up by ones to at
    least _DIGAMMA_SHIFT, result the sum of -1/value over the steps (psi(x) = psi(x + 1) -
    1/x). One compiled pass where NumPy takes three per step (16k values: ~250 us of digamma's
    400)."""
    kernel = _digamma_shift_values.compiled()
    if kernel is not None and x.dtype == np.float64:
        value = np.empty(x.shape, np.float64)
        result = np.empty(x.shape, np.float64)
        kernel(np.ascontiguousarray(x).reshape(-1), value.reshape(-1), result.reshape(-1))
        return value, result
    value = np.where(reflect, 1.0 - x, x)
    result = np.zeros_like(value)
    for _ in range(int(_DIGAMMA_SHIFT)):
        small = value < _DIGAMMA_SHIFT
        result = result - np.where(small, 1.0 / value, 0.0)  # psi(x) = psi(x + 1) - 1/x
        value = np.where(small, value + 1.0, value)
    return value, result


def _trigamma_float64(x, dtype):
    """psi'(x) by PyTorch's formula, so that its values (poles included) are PyTorch's: below 1/2
    the reflection psi'(1 - x) + psi'(x) = pi^2 / sin^2(pi x), with pi x rounded in the input's
    precision, then six steps of psi'(x) = psi'(x + 1) + 1/x^2 and the asymptotic series to
    x^-7. That series leaves about 1e-9 relative error in float64, as PyTorch's does."""
    reflect = x < 0.5
    precision = np.float64 if dtype == np.float64 else np.float32
    angle = (precision(np.pi) * x.astype(precision)).astype(np.float64)
    sine = np.sin(angle)
    result = np.where(reflect, -(np.pi * np.pi) / (sine * sine), 0.0)
    value = np.where(reflect, 1.0 - x, x)
    for _ in range(6):
        result = result + 1.0 / (value * value)
        value = value + 1.0
    inverse_square = 1.0 / (value * value)
    tail = 1.0 + 1.0 / (2.0 * value) + inverse_square * (
        1.0 / 6 - inverse_square * (1.0 / 30 - inverse_square * (1.0 / 42)))
    result = result + tail / value
    return np.where(reflect, -result, result)


def _polygamma_float64(x, n, dtype):
    if n == 0:
        return _digamma_float64(x)
    if n == 1:
        return _trigamma_float64(x, dtype)
    # psi^(n)(x) = (-1)^(n+1) n! zeta(n + 1, x); PyTorch rounds the zeta to the input's
    # precision before it scales it (which decides where tiny values underflow).
    factorial = np.exp(math.lgamma(n + 1.0))
    sign = 1.0 if n % 2 else -1.0
    zeta = zeta_array(float(n + 1), x)
    if dtype != np.float64:
        zeta = zeta.astype(np.float32).astype(np.float64)
    return sign * factorial * zeta


@_jit.kernel
def _lgamma_values(values, out):
    # the C library's lgamma in float64 (within an ulp; inf at the poles), rounded to out's dtype
    for index in range(values.size):
        out[index] = math.lgamma(np.float64(values[index]))


_COMPILED_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def _compiled(kernel, x, *arguments):
    """``kernel`` over x's elements into an array of x's dtype, or None without numba."""
    if x.dtype not in _COMPILED_DTYPES:
        return None
    compiled = kernel.compiled()
    if compiled is None:
        return None
    out = np.empty(x.shape, x.dtype)
    compiled(np.ascontiguousarray(x).reshape(-1), *arguments, out.reshape(-1))
    return out


def lgamma_array(x):
    """log|Gamma(x)| of a floating array, in its dtype: the C library's lgamma compiled
    (16k float32: 650 -> 150 us), else the NumPy series (within 1e-15 of it)."""
    out = _compiled(_lgamma_values, x)
    if out is not None:
        return out
    return _rounded(_lgamma_float64, x)


def polygamma_array(n, x):
    """The n-th derivative of digamma of a floating array, in its dtype."""
    return _rounded(_polygamma_float64, x, n, x.dtype)


def _digamma_of(xp, x):
    return polygamma_array(0, x) if xp is np else Digamma.apply(x)


def _polygamma_of(xp, n, x):
    return polygamma_array(n, x) if xp is np else Polygamma.apply(x, n)


class Lgamma(_OfInput):
    function = staticmethod(lgamma_array)
    gradient = staticmethod(lambda xp, grad, x: grad * _digamma_of(xp, x))


lgamma = _unary(Lgamma, "lgamma")


class Digamma(_OfInput):
    function = staticmethod(lambda x: polygamma_array(0, x))
    gradient = staticmethod(lambda xp, grad, x: grad * _polygamma_of(xp, 1, x))


digamma = _unary(Digamma, "digamma")


class Polygamma(_OfInputAnd):
    """psi^(n)(x), n >= 1; its derivative is psi^(n+1)(x) (n is not differentiable)."""

    function = staticmethod(lambda x, n: polygamma_array(n, x))
    gradient = staticmethod(lambda xp, grad, x, n: grad * _polygamma_of(xp, n + 1, x))


def _check_int(operation, value, name, position):
    if type(value) is not int:
        raise TypeError(f"{operation}(): argument '{name}' (position {position}) must be int, "
                        f"not {type(value).__name__}")


def polygamma(n, input):
    """The n-th derivative of digamma (n = 0: digamma itself)."""
    _check_int("polygamma", n, "n", 1)
    if not isinstance(input, Tensor):
        raise _not_tensor("polygamma", input, "input", 2)
    if n < 0:
        raise RuntimeError(f"polygamma(n, x) does not support negative n. Got n = {n}")
    if n == 0:
        return Digamma.apply(input)
    return Polygamma.apply(input, n)


def _mvlgamma(x, p):
    sum_dtype = x.dtype if x.dtype in (np.float32, np.float64) else np.dtype(np.float32)
    total = np.zeros(x.shape, sum_dtype)
    constant = np.asarray(p * (p - 1) / 4 * _LOG_PI, sum_dtype)
    with np.errstate(over="ignore", invalid="ignore"):
        for j in range(p - 1, -1, -1):
            total += lgamma_array(x - np.asarray(j / 2, x.dtype))
        return (total.astype(x.dtype) + constant).astype(x.dtype)


def _mvlgamma_gradient(xp, grad, x, p):
    derivative = _digamma_of(xp, x)
    for j in range(1, p):
        derivative = derivative + _digamma_of(xp, x - j / 2)
    return grad * derivative


class Mvlgamma(_OfInputAnd):
    """The log of the multivariate gamma function of dimension p: p(p-1)/4 log(pi) plus
    sum_j lgamma(x - j/2), j < p, each term rounded to x's dtype and summed there, as PyTorch's
    composite does; its derivative is the sum of the digammas."""

    function = staticmethod(_mvlgamma)
    gradient = staticmethod(_mvlgamma_gradient)


def mvlgamma(input, p):
    """The log of the multivariate gamma function of dimension p, elementwise."""
    if not isinstance(input, Tensor):
        raise _not_tensor("mvlgamma", input)
    _check_int("mvlgamma", p, "p", 2)
    if input._data.dtype == np.bool_:
        raise RuntimeError("mvlgamma(): The input tensor may not be a boolean tensor.")
    if p < 1:
        raise RuntimeError(f"mvlgamma(): p has to be greater than or equal to 1, got {p}")
    return Mvlgamma.apply(input, p)


def _zeta(a, b):
    dtype = np.result_type(a, b)
    with np.errstate(all="ignore"):
        out = zeta_array(np.asarray(a, np.float64), np.asarray(b, np.float64))
    if dtype != np.float64 and dtype != np.float32:
        out = out.astype(np.float32)
    return out.astype(dtype, copy=False)


class Zeta(_OfOperands):
    """The Hurwitz zeta function zeta(x, q): d/dq = -x zeta(x + 1, q); PyTorch has no
    derivative in x."""

    function = staticmethod(_zeta)

    @staticmethod
    def backward(ctx, grad):
        order, shift = ctx.saved_tensors
        needs_order, needs_shift = ctx.needs_input_grad
        if needs_order:
            raise NotImplementedError("the derivative for 'zeta' is not implemented.")
        following = _zeta(order + 1, shift) if ctx.xp is np else Zeta.apply(order + 1, shift)
        return None, _grad_for(-grad * order * following, *ctx.b_meta)


def zeta(input, other):
    """Hurwitz's zeta function sum_k (other + k)^-input (Riemann's at other = 1)."""
    return _binary_math(Zeta, input, other, "special_zeta")


# ---- the regularized incomplete gamma functions ------------------------------------------------
_INCOMPLETE_GAMMA_ITERATIONS = 5000
_INCOMPLETE_GAMMA_TOLERANCE = 1e-17


def _log_density(a, x):
    """log(x^a e^-x / Gamma(a)), the factor in front of both expansions (float64)."""
    return a * np.log(x) - x - _lgamma_float64(a)


def _lower_series(a, x):
    """P(a, x) = x^a e^-x / Gamma(a + 1) sum_n x^n / ((a + 1) ... (a + n)), for x < a + 1."""
    term = np.ones_like(x)
    total = np.ones_like(x)
    denominator = a.copy()
    active = np.ones(x.shape, bool)
    for _ in range(_INCOMPLETE_GAMMA_ITERATIONS):
        denominator = denominator + 1
        term = np.where(active, term * x / denominator, 0.0)
        total += term
        active &= term > total * _INCOMPLETE_GAMMA_TOLERANCE
        if not active.any():
            break
    return np.exp(_log_density(a, x)) * total / a


def _upper_fraction(a, x):
    """Q(a, x) by Legendre's continued fraction (modified Lentz), for x >= a + 1."""
    tiny = 1e-300
    b = x + 1 - a
    c = np.full_like(x, 1 / tiny)
    d = 1 / b
    h = d.copy()
    active = np.ones(x.shape, bool)
    for i in range(1, _INCOMPLETE_GAMMA_ITERATIONS):
        numerator = -i * (i - a)
        b = b + 2
        d = numerator * d + b
        d = np.where(np.abs(d) < tiny, tiny, d)
        c = b + numerator / c
        c = np.where(np.abs(c) < tiny, tiny, c)
        d = 1 / d
        change = d * c
        h = np.where(active, h * change, h)
        active &= np.abs(change - 1) > _INCOMPLETE_GAMMA_TOLERANCE
        if not active.any():
            break
    return np.exp(_log_density(a, x)) * h


def incomplete_gamma(a, x, upper):
    """P(a, x) (or Q(a, x) = 1 - P when ``upper``) of two arrays (broadcast), in float64 then
    rounded to their dtype, with PyTorch's edge values: NaN for a or x below 0, for a = x = 0
    and at NaN; P = 1 at a = 0 (x > 0) and at x = inf; P = 0 at x = 0 and at a = inf."""
    dtype = np.result_type(a, x)
    a, x = np.broadcast_arrays(np.asarray(a, np.float64), np.asarray(x, np.float64))
    shape = a.shape
    a, x = a.reshape(-1), x.reshape(-1)
    lower = np.full(a.shape, np.nan)
    regular = (a > 0) & (x > 0) & np.isfinite(a) & np.isfinite(x)
    series = regular & (x < a + 1)
    fraction = regular & ~series
    with np.errstate(over="ignore", under="ignore", invalid="ignore", divide="ignore"):
        lower[series] = _lower_series(a[series], x[series])
        lower[fraction] = 1 - _upper_fraction(a[fraction], x[fraction])
        complement = 1 - lower
        complement[fraction] = _upper_fraction(a[fraction], x[fraction])
    ones = ((a == 0) & (x > 0)) | (np.isposinf(x) & (a >= 0) & ~np.isinf(a))
    zeros = ((x == 0) & (a > 0)) | (np.isposinf(a) & (x >= 0) & ~np.isinf(x))
    lower[ones] = 1.0
    lower[zeros] = 0.0
    complement[ones] = 0.0
    complement[zeros] = 1.0
    result = complement if upper else lower
    return result.reshape(shape).astype(dtype)


class _IncompleteGamma(_OfOperands):
    """P(a, x) or Q(a, x) (``upper``); the derivative in x is the gamma density (negated for
    Q); PyTorch has none in a."""

    upper = False

    @classmethod
    def function(cls, a, x):
        if a.dtype.kind != "f" or x.dtype.kind != "f":
            raise NotImplementedError(f'"igamma_cpu" not implemented for '
                                      f"'{_scalar_type_name(np.result_type(a, x))}'")
        return incomplete_gamma(a, x, cls.upper)

    @staticmethod
    def promote(a, b):
        return _promote(a, b, False)

    @classmethod
    def backward(cls, ctx, grad):
        a, x = ctx.saved_tensors
        if ctx.needs_input_grad[0]:
            name = "igammac" if cls.upper else "igamma"
            raise NotImplementedError(f"the derivative for '{name}: input' is not implemented.")
        if ctx.xp is not np:
            # PyTorch's derivative as a composite, itself differentiable in a and x
            xp = ctx.xp
            density = xp.exp((a - 1) * xp.log(x) - x - Lgamma.apply(a))
            return None, _grad_for(-grad * density if cls.upper else grad * density, *ctx.b_meta)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            wide_a, wide_x = np.asarray(a, np.float64), np.asarray(x, np.float64)
            logarithm = (wide_a - 1) * np.log(wide_x)  # NaN at a = 1, x = 0, as PyTorch
            density = np.exp(logarithm - wide_x - _lgamma_float64(wide_a))
        if cls.upper:
            density = -density
        shape, dtype = ctx.b_meta
        return None, unbroadcast(grad * density.astype(grad.dtype), shape).astype(dtype)


class Igamma(_IncompleteGamma):
    pass


class Igammac(_IncompleteGamma):
    upper = True


def incomplete_gamma_op(input, other, upper, operation):
    """P(input, other), or Q when ``upper``, of two tensors (PyTorch takes no numbers here)."""
    for position, (name, value) in enumerate((("input", input), ("other", other)), 1):
        if not isinstance(value, Tensor):
            raise TypeError(f"{operation}(): argument '{name}' (position {position}) must be "
                            f"Tensor, not {type(value).__name__}")
    return _binary_math(Igammac if upper else Igamma, input, other, operation)


def igamma(input, other):
    """The regularized lower incomplete gamma function P(input, other) (torch.igamma)."""
    return incomplete_gamma_op(input, other, False, "igamma")


def igammac(input, other):
    """The regularized upper incomplete gamma function Q(input, other) = 1 - P."""
    return incomplete_gamma_op(input, other, True, "igammac")
