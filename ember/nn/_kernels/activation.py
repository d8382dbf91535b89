"""Activation kernels: one Function per activation, forward and backward side by side.

Kernels save their output instead of their input wherever the derivative can be read off the
output, so that the ``inplace=True`` forms (which overwrite the input) still differentiate.
"""
import math

import numpy as np

from ..._dtype import scalar_type_name
from ...autograd.function import Op
from ...ops.elementwise.special import erf_array

_SQRT_HALF = math.sqrt(0.5)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_GELU_TANH_COEFFICIENT = 0.044715


def _check_floating(x, name):
    if x.dtype.kind != "f":
        raise RuntimeError(f'"{name}" not implemented for \'{scalar_type_name(x.dtype)}\'')


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
        return 0.5 * x * (1 + erf_array(x * _SQRT_HALF))

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
            cdf = 0.5 * (1 + erf_array(x * _SQRT_HALF))
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
