"""Activation kernels: one Function per activation, forward and backward side by side.

Kernels save their output instead of their input wherever the derivative can be read off the
output, so that the ``inplace=True`` forms (which overwrite the input) still differentiate.
"""
import math

import numpy as np

from ..autograd.function import Op

_SQRT_HALF = math.sqrt(0.5)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_GELU_TANH_COEFFICIENT = 0.044715
# SELU's constants (Klambauer et al., 2017), as PyTorch uses them.
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


# ---- erf -----------------------------------------------------------------------------------------
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


def erf(x):
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


def _check_floating(x, name):
    if x.dtype.kind != "f":
        dtype_name = {"i": "Long", "u": "Byte", "b": "Bool"}.get(x.dtype.kind, str(x.dtype))
        raise RuntimeError(f'"{name}" not implemented for \'{dtype_name}\'')


# ---- kernels -------------------------------------------------------------------------------------
class Hardtanh(Op):
    """clamp to [min_val, max_val]; the gradient is zero at and beyond the edges."""

    @staticmethod
    def forward(ctx, x, min_val, max_val):
        _check_floating(x, "hardtanh")
        out = np.clip(x, min_val, max_val)
        ctx.save_for_backward(out)
        ctx.bounds = (min_val, max_val)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        min_val, max_val = ctx.bounds
        return grad * ((out > min_val) & (out < max_val)), None, None


class LeakyRelu(Op):
    @staticmethod
    def forward(ctx, x, negative_slope):
        _check_floating(x, "leaky_relu")
        out = np.where(x > 0, x, x * negative_slope)
        # With a non-negative slope, out > 0 exactly where x > 0: saving out allows inplace use.
        ctx.save_for_backward(out if negative_slope >= 0 else x)
        ctx.negative_slope = negative_slope
        return out

    @staticmethod
    def backward(ctx, grad):
        (saved,) = ctx.saved_tensors
        return np.where(saved > 0, grad, grad * ctx.negative_slope), None


class Elu(Op):
    """scale * (x if x > 0 else alpha * (exp(x) - 1)): ELU (scale 1) and SELU share it."""

    @staticmethod
    def forward(ctx, x, alpha, scale):
        _check_floating(x, "elu")
        negative = np.expm1(np.minimum(x, 0)) * (alpha * scale)
        out = np.where(x > 0, x * scale, negative).astype(x.dtype, copy=False)
        ctx.alpha_scale = (alpha, scale)
        # For alpha >= 0, out > 0 exactly where x > 0 and d/dx = out + alpha * scale below zero.
        ctx.from_output = alpha >= 0
        ctx.save_for_backward(out if ctx.from_output else x)
        return out

    @staticmethod
    def backward(ctx, grad):
        (saved,) = ctx.saved_tensors
        alpha, scale = ctx.alpha_scale
        if ctx.from_output:
            slope_below = saved + alpha * scale
        else:
            slope_below = np.exp(np.minimum(saved, 0)) * (alpha * scale)
        return np.where(saved > 0, grad * scale, grad * slope_below), None, None


class Gelu(Op):
    """x * Phi(x) (exact, via erf) or its tanh approximation."""

    @staticmethod
    def forward(ctx, x, approximate):
        _check_floating(x, "GeluKernelImpl")
        ctx.save_for_backward(x)
        ctx.approximate = approximate
        if approximate == "tanh":
            inner = _SQRT_2_OVER_PI * (x + _GELU_TANH_COEFFICIENT * x * x * x)
            return 0.5 * x * (1 + np.tanh(inner))
        return 0.5 * x * (1 + erf(x * _SQRT_HALF))

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        if ctx.approximate == "tanh":
            x_squared = x * x
            inner = _SQRT_2_OVER_PI * (x + _GELU_TANH_COEFFICIENT * x_squared * x)
            tanh_inner = np.tanh(inner)
            inner_derivative = _SQRT_2_OVER_PI * (1 + 3 * _GELU_TANH_COEFFICIENT * x_squared)
            derivative = 0.5 * (1 + tanh_inner) + 0.5 * x * (1 - tanh_inner * tanh_inner) * \
                inner_derivative
        else:
            cdf = 0.5 * (1 + erf(x * _SQRT_HALF))
            derivative = cdf + x * np.exp(-0.5 * x * x) * _INV_SQRT_2PI
        return grad * derivative, None


def _sigmoid(x):
    """Overflow-free logistic function in the array's dtype."""
    exp_neg_abs = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + exp_neg_abs), exp_neg_abs / (1 + exp_neg_abs))


class Silu(Op):
    """x * sigmoid(x), fused so backward needs only x."""

    @staticmethod
    def forward(ctx, x):
        _check_floating(x, "silu")
        ctx.save_for_backward(x)
        return x * _sigmoid(x)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        sigmoid = _sigmoid(x)
        return grad * sigmoid * (1 + x * (1 - sigmoid))


def _softplus_unit(x):
    """log(1 + exp(x)) without overflow."""
    return np.logaddexp(0, x)


class Mish(Op):
    """x * tanh(softplus(x)), fused so backward needs only x."""

    @staticmethod
    def forward(ctx, x):
        _check_floating(x, "mish")
        ctx.save_for_backward(x)
        return x * np.tanh(_softplus_unit(x))

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        tanh_softplus = np.tanh(_softplus_unit(x))
        return grad * (tanh_softplus + x * _sigmoid(x) * (1 - tanh_softplus * tanh_softplus))


class Softplus(Op):
    """log(1 + exp(beta x)) / beta, reverting to x where beta x > threshold (PyTorch's rule)."""

    @staticmethod
    def forward(ctx, x, beta, threshold):
        _check_floating(x, "softplus")
        scaled = x * beta
        out = np.where(scaled > threshold, x, _softplus_unit(scaled) / beta).astype(x.dtype,
                                                                                   copy=False)
        ctx.save_for_backward(x)
        ctx.beta_threshold = (beta, threshold)
        return out

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        beta, threshold = ctx.beta_threshold
        scaled = x * beta
        return np.where(scaled > threshold, grad, grad * _sigmoid(scaled)), None, None


class LogSigmoid(Op):
    """log(sigmoid(x)) = min(x, 0) - log1p(exp(-|x|)), fused for stability at large |x|."""

    @staticmethod
    def forward(ctx, x):
        _check_floating(x, "log_sigmoid_forward")
        ctx.save_for_backward(x)
        return (np.minimum(x, 0) - np.log1p(np.exp(-np.abs(x)))).astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * _sigmoid(-x)


class Hardsigmoid(Op):
    """clamp(x + 3, 0, 6) / 6; the gradient is 1/6 on the open interval (-3, 3) only."""

    @staticmethod
    def forward(ctx, x):
        _check_floating(x, "hardsigmoid")
        ctx.save_for_backward(x)
        return np.clip(x + 3, 0, 6) / 6

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return np.where((x > -3) & (x < 3), grad / 6, 0).astype(grad.dtype, copy=False)


class Hardswish(Op):
    """x * clamp(x + 3, 0, 6) / 6; at the edges PyTorch takes the outer slopes (0 and 1)."""

    @staticmethod
    def forward(ctx, x):
        _check_floating(x, "hardswish")
        ctx.save_for_backward(x)
        return x * np.clip(x + 3, 0, 6) / 6

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        middle = grad * (x / 3 + 0.5)
        return np.where(x <= -3, 0, np.where(x < 3, middle, grad)).astype(grad.dtype, copy=False)


class Celu(Op):
    """x if x > 0 else alpha * (exp(x / alpha) - 1); the slope below zero is out / alpha + 1."""

    @staticmethod
    def forward(ctx, x, alpha):
        _check_floating(x, "celu")
        negative = np.expm1(np.minimum(x, 0) / alpha) * alpha
        out = np.where(x > 0, x, negative).astype(x.dtype, copy=False)
        ctx.save_for_backward(x)
        ctx.alpha = alpha
        return out

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        slope_below = np.exp(np.minimum(x, 0) / ctx.alpha)
        return np.where(x > 0, grad, grad * slope_below).astype(grad.dtype, copy=False), None


class Threshold(Op):
    """x where x > threshold, else value; the gradient passes only where x > threshold."""

    @staticmethod
    def forward(ctx, x, threshold, value):
        kept = x > threshold
        ctx.save_for_backward(kept)
        return np.where(kept, x, np.asarray(value, dtype=x.dtype))

    @staticmethod
    def backward(ctx, grad):
        (kept,) = ctx.saved_tensors
        return np.where(kept, grad, 0).astype(grad.dtype, copy=False), None, None
