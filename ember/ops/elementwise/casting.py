"""Copies and casts as ops: cast (Tensor.to), clone, copy_into (Tensor.copy_), fill_like."""
import numpy as np

from ...autograd.function import Op
from ._operands import _grad_for, _shape_dtype, _unary

# cast, copy_into and fill_like back Tensor.to, Tensor.copy_ and Tensor.fill_ only.
__all__ = ["clone"]


class Cast(Op):
    differentiable_backward = True

    @staticmethod
    def forward(ctx, x, target):
        ctx.source = x.dtype
        return x.astype(target.numpy)

    @staticmethod
    def backward(ctx, grad):
        if ctx.source.kind != "f":
            return None, None
        return ctx.xp.astype(grad, ctx.source), None


def cast(input, dtype):
    return Cast.apply(input, dtype)


class Clone(Op):
    differentiable_backward = True

    @staticmethod
    def forward(ctx, x):
        return x.copy()

    @staticmethod
    def backward(ctx, grad):
        return grad


clone = _unary(Clone, "clone")


class CopyInto(Op):
    """``dst.copy_(src)`` as an op: the result is src broadcast and cast to dst's shape and dtype."""

    differentiable_backward = True

    @staticmethod
    def forward(ctx, destination, source):
        ctx.source_meta = _shape_dtype(source)
        try:
            out = np.broadcast_to(source, destination.shape)
        except ValueError:
            raise RuntimeError(f"copy_: the size of tensor a ({list(destination.shape)}) must "
                               f"match the size of tensor b ({list(source.shape)})") from None
        return out.astype(destination.dtype, copy=True)

    @staticmethod
    def backward(ctx, grad):
        needs_destination, needs_source = ctx.needs_input_grad
        return (ctx.xp.zeros_like(grad) if needs_destination else None,
                _grad_for(grad, *ctx.source_meta) if needs_source else None)


def copy_into(destination, source):
    return CopyInto.apply(destination, source)


class FillLike(Op):
    differentiable_backward = True

    @staticmethod
    def forward(ctx, x, value):
        return np.full_like(x, value)

    @staticmethod
    def backward(ctx, grad):
        xp = ctx.xp
        return xp.zeros_like(grad), (xp.sum(grad) if ctx.needs_input_grad[1] else None)


def fill_like(input, value):
    return FillLike.apply(input, value)
