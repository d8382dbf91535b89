"""Special functions: erf, erfc, erfinv, the modified Bessel functions i0, i0e, i1, i1e, and
erf_array, the error function of a NumPy array (NumPy has none) that the GELU kernel uses too."""
import math

import numpy as np

from ... import _jit
from ...tensor import Tensor
from ._operands import _OfInput, _not_implemented, _unary

__all__ = ["erf", "erfc", "erfinv", "i0"]


# NumPy has no erf. Float64: the Maclaurin series below |x| = 2.5 (about 1e-15 absolute) and
# the Laplace continued fraction of erfc above it; float32: Numerical Recipes' Chebyshev fit of
# erfc (fractional error < 1.2e-7), evaluated in float64 and rounded to float32.
_SERIES_LIMIT = 2.5
_SERIES_TERMS = 40
_FRACTION_TERMS = 60
_ERFC_FIT = (-1.26551223, 1.00002368, 0.37409196, 0.09678418, -0.18628806, 0.27886807,
             -1.13520398, 1.48851587, -0.82215223, 0.17087277)


def _erf_series(x):
    # erf(x) = 2/sqrt(pi) * sum_n (-1)^n x^(2n+1) / (n! (2n+1))
    square = x * x
    term = x.copy()
    total = x.copy()
    for n in range(1, _SERIES_TERMS):
        term *= -square / n
        total += term / (2 * n + 1)
    return total * (2.0 / math.sqrt(math.pi))


def _erfc_fraction(x):
    # erfc(x) = exp(-x^2)/sqrt(pi) / (x + (1/2)/(x + 1/(x + (3/2)/(x + ...)))), for x > 0
    tail = np.zeros_like(x)
    for k in range(_FRACTION_TERMS, 0, -1):
        tail = (k / 2.0) / (x + tail)
    return np.exp(-x * x) / math.sqrt(math.pi) / (x + tail)


def erf_array(x):
    """The error function of an array, elementwise, in the array's floating dtype."""
    if x.dtype == np.float64:
        magnitude = np.abs(x)
        small = magnitude <= _SERIES_LIMIT
        out = np.empty_like(x)
        out[small] = _erf_series(x[small])
        large = magnitude[~small]
        out[~small] = np.sign(x[~small]) * (1.0 - _erfc_fraction(large))
        return out
    wide = np.abs(x.astype(np.float64))
    t = 1.0 / (1.0 + 0.5 * wide)
    polynomial = np.full_like(t, _ERFC_FIT[-1])
    for coefficient in reversed(_ERFC_FIT[:-1]):
        polynomial = polynomial * t + coefficient
    erfc = t * np.exp(-wide * wide + polynomial)
    return (np.sign(x) * (1.0 - erfc)).astype(x.dtype)


_TWO_OVER_SQRT_PI = 1.1283791670955126


@_jit.kernel
def _erf_values(values, complement, out):
    # the C library's erf/erfc in float64 (correct to about an ulp), rounded to out's dtype
    for index in range(values.size):
        value = np.float64(values[index])
        out[index] = math.erfc(value) if complement else math.erf(value)


def _compiled_erf(x, complement):
    """erf (or erfc) of a float32/float64 array by the compiled kernel: the NumPy series and
    continued fraction below take about 100 passes (1M float32: 160 ms, compiled 15 ms)."""
    if x.dtype != np.float32 and x.dtype != np.float64:
        return None
    kernel = _erf_values.compiled()
    if kernel is None:
        return None
    out = np.empty(x.shape, x.dtype)
    kernel(np.ascontiguousarray(x).reshape(-1), complement, out.reshape(-1))
    return out


def _refuse_complex(x, kernel):
    if x.dtype.kind == "c":  # PyTorch has no complex error function
        raise _not_implemented(kernel, x.dtype)


def _erf_rounded(x):
    """erf by the float64 kernel, rounded: the float32 fit is 1 - erfc, which loses relative
    precision near 0 (5e-4 there); torch.erf is correct to an ulp."""
    out = _compiled_erf(x, False)
    if out is not None:
        return out
    _refuse_complex(x, "erf_vml_cpu")
    return erf_array(x.astype(np.float64, copy=False)).astype(x.dtype, copy=False)


class Erf(_OfInput):
    function = staticmethod(_erf_rounded)
    gradient = staticmethod(lambda xp, grad, x: grad * (xp.exp(-x * x) * _TWO_OVER_SQRT_PI))


erf = _unary(Erf, "erf")


def _erfc_rounded(x):
    """erfc computed in float64, rounded: 1 - erf where that keeps its digits, the continued
    fraction beyond 2.5."""
    out = _compiled_erf(x, True)
    if out is not None:
        return out
    _refuse_complex(x, "erfc_vml_cpu")
    wide = x.astype(np.float64)
    out = np.empty_like(wide)
    far = wide > 2.5
    out[far] = _erfc_fraction(wide[far])
    out[~far] = 1.0 - erf_array(wide[~far])
    return out.astype(x.dtype, copy=False)


class Erfc(_OfInput):
    function = staticmethod(_erfc_rounded)
    gradient = staticmethod(lambda xp, grad, x: grad * (xp.exp(-x * x) * -_TWO_OVER_SQRT_PI))


erfc = _unary(Erfc, "erfc")


_INVERSE_SQRT_PI = 0.5641895835477563
# erfcx's methods by range: exp(x^2) erfc(x) (the square split so that exp sees it exactly)
# up to _ERFCX_PRODUCT_LIMIT, Laplace's continued fraction of erfc above it; below -26.7 the
# value overflows, and below -6.1 erfcx(-x) is under an ulp of 2 exp(x^2) (PyTorch's cuts).
_ERFCX_PRODUCT_LIMIT = 5.0
_ERFCX_FRACTION_TERMS = 40


def _square_exp(x):
    """exp(x^2) with the rounding error of x^2 carried: x^2 = high + low exactly (Dekker's
    split), exp(high) (1 + low)."""
    split = 134217729.0 * x  # 2^27 + 1
    x_high = split - (split - x)
    x_low = x - x_high
    high = x * x
    low = ((x_high * x_high - high) + 2 * x_high * x_low) + x_low * x_low
    return np.exp(high) * (1 + low)


def _erfcx_float64(x):
    """exp(x^2) erfc(x) of a float64 array at x >= 0, to about an ulp (NaN elsewhere)."""
    out = np.full_like(x, np.nan)
    if not x.size:
        return out
    near = (x >= 0) & (x <= _ERFCX_PRODUCT_LIMIT)
    out[near] = _square_exp(x[near]) * _erfc_rounded(x[near])
    far = x > _ERFCX_PRODUCT_LIMIT
    values = x[far]
    tail = np.zeros_like(values)
    for k in range(_ERFCX_FRACTION_TERMS, 0, -1):
        tail = (k / 2.0) / (values + tail)
    out[far] = _INVERSE_SQRT_PI / (values + tail)
    return out


def _erfcx_rounded(x):
    """erfcx in x's dtype: for x >= 0 computed in float64 and rounded; below 0 as
    2 exp(x^2) - erfcx(-x) with x^2 and exp in x's dtype, as PyTorch's (its rounding of x^2
    dominates there)."""
    with np.errstate(invalid="ignore", over="ignore"):
        out = _erfcx_float64(x.astype(np.float64)).astype(x.dtype, copy=False)
        negative = x < 0
        values = x[negative]
        doubled = 2 * np.exp(values * values)
        reflected = _erfcx_float64(-values.astype(np.float64)).astype(x.dtype)
        out[negative] = np.where(values < -26.7, np.inf,
                                 np.where(values < -6.1, doubled, doubled - reflected))
    return out


class Erfcx(_OfInput):
    """exp(x^2) erfc(x), without the overflow and underflow of the product; the gradient
    2 x erfcx(x) - 2 / sqrt(pi) (PyTorch's)."""

    function = staticmethod(_erfcx_rounded)
    gradient = staticmethod(lambda xp, grad, x: grad * (2 * x * _of(Erfcx, x)
                                                        - _TWO_OVER_SQRT_PI))


special_erfcx = _unary(Erfcx, "special_erfcx")


# Giles' erfinv fit ("Approximating the erfinv function", GPU Computing Gems, 2011): erfinv(x)
# = x p(w), p a polynomial in w = -log(1 - x^2) (central) or in sqrt(w) (tail), about 4e-7
# relative: the starting point of Halley's steps.
_GILES_CENTRAL = (2.81022636e-08, 3.43273939e-07, -3.5233877e-06, -4.39150654e-06,
                  0.00021858087, -0.00125372503, -0.00417768164, 0.246640727, 1.50140941)
_GILES_TAIL = (-0.000200214257, 0.000100950558, 0.00134934322, -0.00367342844, 0.00573950773,
               -0.0076224613, 0.00943887047, 1.00167406, 2.83297682)
_GILES_SPLIT = 5.0
# The fit is rough beyond 1 - |x| = 1e-7 (float64 only): Halley's steps go on to convergence.
_ERFINV_MOST_STEPS = 8


@_jit.kernel
def _erfinv_guess_values(magnitude, w, out, central, tail):
    for index in range(w.size):
        value = w[index]
        if value < 5.0:
            value = value - 2.5
            coefficients = central
        else:
            value = math.sqrt(value) - 3.0
            coefficients = tail
        polynomial = coefficients[0]
        for k in range(1, 9):
            polynomial = polynomial * value + coefficients[k]
        out[index] = polynomial * magnitude[index]


@_jit.kernel
def _erfinv_residual_values(magnitude, y, out):
    # erf(y) - |x|: above |x| = 0.5 as (1 - |x|) - erfc(y), 1 - |x| exact there
    for index in range(y.size):
        if magnitude[index] <= 0.5:
            out[index] = math.erf(y[index]) - magnitude[index]
        else:
            out[index] = (1.0 - magnitude[index]) - math.erfc(y[index])


def _erfinv_guess(magnitude, w):
    """Giles' fit at float64 ``magnitude`` in [0, 1), w = -log(1 - magnitude^2)."""
    out = np.empty_like(w)
    kernel = _erfinv_guess_values.compiled()
    if kernel is not None:
        kernel(magnitude, w, out, np.array(_GILES_CENTRAL), np.array(_GILES_TAIL))
        return out
    central = w < _GILES_SPLIT
    for chosen, coefficients, value in ((central, _GILES_CENTRAL, w[central] - 2.5),
                                        (~central, _GILES_TAIL, np.sqrt(w[~central]) - 3.0)):
        polynomial = np.full_like(value, coefficients[0])
        for coefficient in coefficients[1:]:
            polynomial *= value
            polynomial += coefficient
        out[chosen] = polynomial * magnitude[chosen]
    return out


def _erfinv_residual(magnitude, y):
    """erf(y) - magnitude, to float64's precision relative to min(magnitude, 1 - magnitude)."""
    out = np.empty_like(y)
    kernel = _erfinv_residual_values.compiled()
    if kernel is not None:
        kernel(magnitude, y, out)
        return out
    central = magnitude <= 0.5
    out[central] = erf_array(y[central]) - magnitude[central]
    out[~central] = (1.0 - magnitude[~central]) - _erfc_rounded(y[~central])
    return out


def _erfinv_rounded(x):
    """erfinv computed in float64, rounded to ``x``'s dtype: Giles' fit, then Halley's steps on
    erf(y) = |x| (cubic: one takes the fit below float32's rounding). The C library's erf in
    compiled kernels, NumPy's series and continued fraction without numba."""
    _refuse_complex(x, "erfinv_vml_cpu")
    magnitude = np.abs(x, dtype=np.float64).reshape(-1)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        inside = magnitude < 1.0
        edges = None
        if not inside.all():
            edges = np.where(magnitude == 1.0, np.inf, np.nan)[~inside]
            magnitude = np.where(inside, magnitude, 0.0)
        w = np.log((1.0 - magnitude) * (1.0 + magnitude))
        np.negative(w, out=w)
        y = _erfinv_guess(magnitude, w)
        steps = 1 if x.dtype.itemsize <= 4 else _ERFINV_MOST_STEPS
        for _ in range(steps):
            # Halley on f(y) = erf(y) - |x|, f' = 2/sqrt(pi) exp(-y^2), f'' = -2 y f'
            step = _erfinv_residual(magnitude, y)
            derivative = np.square(y)
            np.negative(derivative, out=derivative)
            np.exp(derivative, out=derivative)
            derivative *= _TWO_OVER_SQRT_PI
            step /= derivative
            step /= 1.0 + y * step
            y -= step
            if steps > 1 and not (np.abs(step) > 1e-17 * y).any():
                break
        if edges is not None:
            y[~inside] = edges
        np.copysign(y, x.reshape(-1), out=y)
    return y.reshape(x.shape).astype(x.dtype, copy=False)


class Erfinv(_OfInput):
    """Its gradient sqrt(pi) / 2 * exp(erfinv(x)^2) recomputes erfinv from the saved input, as
    PyTorch's does: the output stays free to change in place."""
    function = staticmethod(_erfinv_rounded)
    gradient = staticmethod(lambda xp, grad, x: grad * (
        xp.exp(_erfinv_of(xp, x) ** 2) / _TWO_OVER_SQRT_PI))


def _erfinv_of(xp, x):
    """erfinv on arrays, or recorded on Tensors (a create_graph backward)."""
    return _erfinv_rounded(x) if xp is np else erfinv(x)


erfinv = _unary(Erfinv, "erfinv")


# ---- modified Bessel functions of the first kind, orders 0 and 1 ----------------------------
# In float64, rounded to the input's dtype: the power series below |x| = 30 (positive terms, no
# cancellation; 90 terms reach float64's precision there), Hankel's asymptotic expansion of
# exp(-|x|) I_n(|x|) above it (30 terms: its error there is below 1e-19).
_BESSEL_SERIES_LIMIT = 30.0
_BESSEL_SERIES_TERMS = 90
_BESSEL_ASYMPTOTIC_TERMS = 30


def _bessel_scaled(x, order):
    """exp(-|x|) I_order(|x|) in float64, for a float64 array."""
    magnitude = np.abs(x)
    out = np.empty_like(magnitude)
    small = magnitude <= _BESSEL_SERIES_LIMIT
    half = magnitude[small] / 2
    square = half * half
    term = np.ones_like(half) if order == 0 else half.copy()
    total = term.copy()
    for k in range(1, _BESSEL_SERIES_TERMS):  # I_n(x) = sum (x/2)^(2k+n) / (k! (k+n)!)
        term = term * square / (k * (k + order))
        total = total + term
    out[small] = total * np.exp(-magnitude[small])
    large = magnitude[~small]
    mu = 4.0 * order * order
    term = np.ones_like(large)
    total = term.copy()
    for k in range(1, _BESSEL_ASYMPTOTIC_TERMS):
        term = -term * (mu - (2 * k - 1) ** 2) / (k * 8.0 * large)
        total = total + term
    out[~small] = total / np.sqrt(2 * np.pi * large)
    return out


def _bessel(x, order, scaled):
    """I_order(x) (or exp(-|x|) I_order(x) when ``scaled``) in ``x``'s dtype; I_1 is odd."""
    wide = x.astype(np.float64)
    values = _bessel_scaled(wide, order)
    if not scaled:
        with np.errstate(over="ignore", invalid="ignore"):
            values = np.where(values == 0, 0.0, values * np.exp(np.abs(wide)))
        # PyTorch's kernel multiplies exp(|x|) by its decaying factor: NaN at the infinities.
        values = np.where(np.isinf(wide), np.nan, values)
    if order == 1:
        values = np.sign(wide) * values
    values = np.where(np.isnan(wide), np.nan, values)
    return values.astype(x.dtype, copy=False)


def _of(op_class, x):
    """``op_class``'s values at ``x``: its kernel on an array, the recorded op on a Tensor (a
    gradient under create_graph)."""
    return op_class.apply(x) if isinstance(x, Tensor) else op_class.function(x)


def _reciprocal_or_zero(xp, x):
    """1/x, with 0 where x is 0 (where the Bessel gradients take their limit instead)."""
    return xp.where(x == 0, 0.0, 1 / xp.where(x == 0, 1.0, x))


class I0(_OfInput):
    function = staticmethod(lambda x: _bessel(x, 0, False))
    gradient = staticmethod(lambda xp, grad, x: grad * _of(I1, x))


class I0e(_OfInput):
    function = staticmethod(lambda x: _bessel(x, 0, True))
    gradient = staticmethod(lambda xp, grad, x: grad * (_of(I1e, x) - xp.sign(x) * _of(I0e, x)))


class I1(_OfInput):
    """I_1; the gradient I_0(x) - I_1(x)/x, 1/2 at 0 (PyTorch's)."""

    function = staticmethod(lambda x: _bessel(x, 1, False))
    gradient = staticmethod(lambda xp, grad, x: grad * xp.where(
        x == 0, 0.5, _of(I0, x) - _of(I1, x) * _reciprocal_or_zero(xp, x)))


class I1e(_OfInput):
    """exp(-|x|) I_1; the gradient i0e(x) - i1e(x) (sign(x) + 1/x), 1/2 at 0 (PyTorch's)."""

    function = staticmethod(lambda x: _bessel(x, 1, True))
    gradient = staticmethod(lambda xp, grad, x: grad * xp.where(
        x == 0, 0.5, _of(I0e, x) - _of(I1e, x) * (xp.sign(x) + _reciprocal_or_zero(xp, x))))


i0 = _unary(I0, "i0")
special_i0e = _unary(I0e, "special_i0e")
special_i1 = _unary(I1, "special_i1")
special_i1e = _unary(I1e, "special_i1e")
