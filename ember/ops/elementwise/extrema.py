"""Extremes and clamping: maximum, minimum, fmax, fmin, clamp and relu (a clamp at zero)."""
import numpy as np

from ...autograd.function import Op
from ...tensor import Tensor
from ._operands import (
    _Binary, _binary_math, _cast, _grad_for, _promote, _result_dtype, _shape_dtype, _shape_error,
    _to_operand)

__all__ = ["clamp", "clamp_max", "clamp_min", "clip", "fmax", "fmin", "maximum", "minimum", "relu"]


class _Extreme(_Binary):
    """maximum/minimum: ``ufunc`` picks, ``wins(a, b)`` says where ``a`` is picked."""

    ufunc = None
    wins = None

    @classmethod
    def forward(cls, ctx, a, b):
        _Binary._remember(ctx, a, b)
        a, b = _promote(a, b)
        ctx.save_for_backward(a, b)
        return cls.ufunc(a, b)

    @classmethod
    def backward(cls, ctx, grad):
        a, b = ctx.saved_tensors
        return _select_grads(ctx, grad, cls.wins(a, b), a == b)


class Maximum(_Extreme):
    ufunc = staticmethod(np.maximum)
    wins = staticmethod(np.greater)


def maximum(input, other):
    return _extreme(Maximum, input, other, "maximum")


class Minimum(_Extreme):
    ufunc = staticmethod(np.minimum)
    wins = staticmethod(np.less)


def minimum(input, other):
    return _extreme(Minimum, input, other, "minimum")


def _extreme(cls, input, other, name):
    """maximum/minimum of two tensors (PyTorch refuses a number here)."""
    try:
        if not isinstance(input, Tensor) or not isinstance(other, Tensor):
            raise TypeError(f"{name}(): argument 'other' (position 2) must be Tensor, not "
                            f"{type(other if isinstance(input, Tensor) else input).__name__}")
        return cls.apply(input, other)
    except ValueError as error:
        raise _shape_error(error, input, other) from None


def _select_grads(ctx, grad, a_wins, tie):
    """maximum/minimum backward: the winner gets the gradient, ties split it evenly (PyTorch)."""
    needs_a, needs_b = ctx.needs_input_grad
    share = np.where(tie, 0.5, a_wins.astype(grad.dtype)).astype(grad.dtype, copy=False)
    grad_a = _grad_for(grad * share, *ctx.a_meta) if needs_a else None
    grad_b = _grad_for(grad * (1 - share), *ctx.b_meta) if needs_b else None
    return grad_a, grad_b


class _NanIgnoringExtreme(_Binary):
    """fmax/fmin: like maximum/minimum but a NaN loses to a number; the gradient goes to the
    chosen operand (to ``input`` on ties, as PyTorch)."""

    ufunc = None
    keeps_input = None

    @classmethod
    def forward(cls, ctx, a, b):
        _Binary._remember(ctx, a, b)
        a, b = _promote(a, b)
        ctx.save_for_backward(cls.keeps_input(a, b) | np.isnan(b))
        return np.asarray(cls.ufunc(a, b))

    @staticmethod
    def backward(ctx, grad):
        (input_chosen,) = ctx.saved_tensors
        needs_a, needs_b = ctx.needs_input_grad
        return (_grad_for(np.where(input_chosen, grad, 0), *ctx.a_meta) if needs_a else None,
                _grad_for(np.where(input_chosen, 0, grad), *ctx.b_meta) if needs_b else None)


class Fmax(_NanIgnoringExtreme):
    ufunc = staticmethod(np.fmax)
    keeps_input = staticmethod(np.greater_equal)


class Fmin(_NanIgnoringExtreme):
    ufunc = staticmethod(np.fmin)
    keeps_input = staticmethod(np.less_equal)


def fmax(input, other):
    return _binary_math(Fmax, input, other, "fmax")


def fmin(input, other):
    return _binary_math(Fmin, input, other, "fmin")


class Clamp(Op):
    """min(max(x, low), high); bounds may be numbers or tensors (which get gradients too)."""

    @staticmethod
    def forward(ctx, x, low, high):
        out = x
        if low is not None:
            out = np.maximum(out, _cast(low, x.dtype) if isinstance(low, np.ndarray) else low)
        if high is not None:
            out = np.minimum(out, _cast(high, x.dtype) if isinstance(high, np.ndarray) else high)
        if out is x:
            out = x.copy()
        target = _result_dtype(x, low if not isinstance(low, np.ndarray) else None,
                               high if not isinstance(high, np.ndarray) else None).numpy
        if out.dtype != target:
            out = out.astype(target)
        needs_x, needs_low, needs_high = ctx.needs_input_grad
        if needs_low or needs_high:
            ctx.save_for_backward(x, low, high)
            ctx.metas = (_shape_dtype(x), _shape_dtype(low), _shape_dtype(high))
        elif needs_x:
            # Number bounds: a boolean mask is all backward needs (a quarter of x's bytes).
            ctx.save_for_backward(_clamp_inside(x, low, high))
        return out

    @staticmethod
    def backward(ctx, grad):
        needs_x, needs_low, needs_high = ctx.needs_input_grad
        if not (needs_low or needs_high):
            (inside,) = ctx.saved_tensors
            return grad * inside, None, None
        x, low, high = ctx.saved_tensors
        x_meta, low_meta, high_meta = ctx.metas
        zero = np.zeros((), dtype=grad.dtype)
        grad_x = grad_low = grad_high = None
        if needs_x:
            grad_x = _grad_for(np.where(_clamp_inside(x, low, high), grad, zero), *x_meta)
        if needs_low:
            # PyTorch: where the bounds cross (low > high) the result is high.
            below = x < low if high is None else (x < low) & (low < high)
            grad_low = _grad_for(np.where(below, grad, zero), *low_meta)
        if needs_high:
            above = x > high if low is None else (x > high) | (low > high)
            grad_high = _grad_for(np.where(above, grad, zero), *high_meta)
        return grad_x, grad_low, grad_high


def _clamp_inside(x, low, high):
    inside = np.ones(x.shape, dtype=bool)
    if low is not None:
        inside = inside & (x >= low)
    if high is not None:
        inside = inside & (x <= high)
    return inside


def clamp(input, min=None, max=None):
    if min is None and max is None:
        raise RuntimeError("torch.clamp: At least one of 'min' or 'max' must not be None")
    low = _to_operand(min, "clamp") if min is not None else None
    high = _to_operand(max, "clamp") if max is not None else None
    return Clamp.apply(input, low, high)


clip = clamp


def clamp_min(input, min):
    return clamp(input, min=min)


def clamp_max(input, max):
    return clamp(input, max=max)


class Relu(Op):
    @staticmethod
    def forward(ctx, x):
        if x.dtype == np.bool_:
            raise RuntimeError('"clamp_min_scalar_cpu" not implemented for \'Bool\'')
        out = np.maximum(x, 0)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        return grad * (out > 0)


def relu(input):
    return Relu.apply(input)
