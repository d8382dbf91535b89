"""Rounding: floor, ceil, round, trunc, frac, and nan_to_num."""
import numpy as np

from ..._dtype import is_floating
from ...autograd.function import Op
from ...tensor import Tensor
from ._operands import _not_implemented, _not_tensor, _unary, _widened
from .arithmetic import sub

__all__ = ["ceil", "floor", "frac", "nan_to_num", "round", "trunc"]


class _Stepwise(Op):
    """Piecewise-constant rounding: the gradient is zero almost everywhere (PyTorch's too)."""

    ufunc = None
    differentiable_backward = True

    @classmethod
    def forward(cls, ctx, x, decimals=0):
        if decimals:
            if not is_floating(x.dtype):  # PyTorch rounds to decimals in floating kernels only
                raise _not_implemented("round_cpu" if x.dtype.kind != "c" else "round_vml_cpu",
                                       x.dtype)
            # x * 10**decimals, rounded, scaled back: float16 in float32 (PyTorch).
            return np.asarray(np.round(_widened(x), decimals)).astype(x.dtype, copy=False)
        if not is_floating(x.dtype):
            if x.dtype == np.bool_ or (x.dtype.kind == "c" and cls is Round):
                raise _not_implemented(f"{cls.__name__.lower()}_vml_cpu", x.dtype)
            if x.dtype.kind == "c":
                raise NotImplementedError(f"{cls.__name__.lower()} is not supported for complex "
                                          f"inputs")
            return x.copy()  # integers are already whole
        return np.asarray(cls.ufunc(x))

    @staticmethod
    def backward(ctx, grad):
        return ctx.xp.zeros_like(grad)  # decimals, when given, gets None


class Floor(_Stepwise):
    ufunc = staticmethod(np.floor)


floor = _unary(Floor, "floor")


class Ceil(_Stepwise):
    ufunc = staticmethod(np.ceil)


ceil = _unary(Ceil, "ceil")


class Round(_Stepwise):
    ufunc = staticmethod(np.round)  # half to even, as PyTorch


def round(input, decimals=0):
    if not isinstance(input, Tensor):
        raise _not_tensor("round", input)
    if isinstance(decimals, bool) or not isinstance(decimals, int):
        raise TypeError(f"round(): argument 'decimals' must be int, not "
                        f"{type(decimals).__name__}")
    return Round.apply(input, decimals)


class Trunc(_Stepwise):
    ufunc = staticmethod(np.trunc)


trunc = _unary(Trunc, "trunc")


def frac(input):
    """x - trunc(x), keeping the sign of x."""
    if not isinstance(input, Tensor):
        raise _not_tensor("frac", input)
    if not is_floating(input._data.dtype):
        raise _not_implemented("frac_cpu", input._data.dtype)
    return sub(input, trunc(input))


class NanToNum(Op):
    """NaN and infinities replaced by numbers; the gradient flows only through finite entries."""

    differentiable_backward = True

    @staticmethod
    def forward(ctx, x, nan, posinf, neginf):
        if not is_floating(x.dtype):
            return x.copy()
        ctx.save_for_backward(np.asarray(np.isfinite(x)))
        info = np.finfo(x.dtype)
        posinf = info.max if posinf is None else posinf
        neginf = info.min if neginf is None else neginf
        if x.dtype.kind == "f":
            return np.nan_to_num(x, nan=nan, posinf=posinf, neginf=neginf)
        # np.nan_to_num leaves bfloat16 (not a NumPy inexact type) untouched
        out = np.where(np.isnan(x), x.dtype.type(nan), x)
        out = np.where(np.isinf(x) & (x > 0), x.dtype.type(posinf), out)
        return np.where(np.isinf(x) & (x < 0), x.dtype.type(neginf), out).astype(x.dtype)

    @staticmethod
    def backward(ctx, grad):
        (finite,) = ctx.saved_tensors
        return grad * finite, None, None, None


def nan_to_num(input, nan=0.0, posinf=None, neginf=None):
    if not isinstance(input, Tensor):
        raise _not_tensor("nan_to_num", input)
    for name, value in (("nan", nan), ("posinf", posinf), ("neginf", neginf)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
            raise TypeError(f"nan_to_num(): argument '{name}' must be float, not "
                            f"{type(value).__name__}")
    return NanToNum.apply(input, 0.0 if nan is None else nan, posinf, neginf)
