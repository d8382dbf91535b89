"""Rounding: floor, ceil, round, trunc, frac, and nan_to_num."""
import numpy as np

from ...autograd.function import Op
from ..._dtype import scalar_type_name
from ._operands import _widened
from .arithmetic import sub

__all__ = ["ceil", "floor", "frac", "nan_to_num", "round", "trunc"]


class _Stepwise(Op):
    """Piecewise-constant rounding: the gradient is zero almost everywhere (PyTorch's too)."""

    ufunc = None
    differentiable_backward = True

    @classmethod
    def forward(cls, ctx, x, decimals):
        if x.dtype.kind != "f":
            return x.copy()  # integers are already whole
        if decimals:  # x * 10**decimals, rounded, scaled back: float16 in float32 (PyTorch)
            return np.asarray(np.round(_widened(x), decimals)).astype(x.dtype, copy=False)
        return np.asarray(cls.ufunc(x))

    @staticmethod
    def backward(ctx, grad):
        return ctx.xp.zeros_like(grad), None


class Floor(_Stepwise):
    ufunc = staticmethod(np.floor)


def floor(input):
    return Floor.apply(input, 0)


class Ceil(_Stepwise):
    ufunc = staticmethod(np.ceil)


def ceil(input):
    return Ceil.apply(input, 0)


class Round(_Stepwise):
    ufunc = staticmethod(np.round)  # half to even, as PyTorch


def round(input, decimals=0):
    return Round.apply(input, decimals)


class Trunc(_Stepwise):
    ufunc = staticmethod(np.trunc)


def trunc(input):
    return Trunc.apply(input, 0)


def frac(input):
    """x - trunc(x), keeping the sign of x."""
    if input._data.dtype.kind != "f":
        raise NotImplementedError(f"\"frac_cpu\" not implemented for "
                           f"'{scalar_type_name(input._data.dtype)}'")
    return sub(input, trunc(input))


class NanToNum(Op):
    """NaN and infinities replaced by numbers; the gradient flows only through finite entries."""

    differentiable_backward = True

    @staticmethod
    def forward(ctx, x, nan, posinf, neginf):
        if x.dtype.kind != "f":
            return x.copy()
        ctx.save_for_backward(np.asarray(np.isfinite(x)))
        info = np.finfo(x.dtype)
        return np.nan_to_num(x, nan=nan, posinf=info.max if posinf is None else posinf,
                             neginf=info.min if neginf is None else neginf)

    @staticmethod
    def backward(ctx, grad):
        (finite,) = ctx.saved_tensors
        return grad * finite, None, None, None


def nan_to_num(input, nan=0.0, posinf=None, neginf=None):
    return NanToNum.apply(input, nan, posinf, neginf)
