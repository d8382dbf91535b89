"""ember's array-API namespace: NumPy's signatures over ember's differentiable ops.

An op's backward is written once against ``ctx.xp``: NumPy itself on the first-order path, this
namespace under create_graph, where the same formula on Tensors records the graph of the backward
(``Tensor.__array_namespace__()`` returns this module).
"""
import numpy as np

from .._dtype import from_numpy_dtype
from ..tensor import Tensor
from . import index, reduce, shape
from .elementwise import arithmetic, casting, exp_log, rounding, trigonometric

__all__ = [
    "astype",
    "broadcast_to",
    "cos",
    "cosh",
    "exp",
    "exp2",
    "expand_dims",
    "floor_divide",
    "log",
    "reshape",
    "sign",
    "sin",
    "sinh",
    "sqrt",
    "sum",
    "trunc",
    "where",
    "zeros_like",
]


def astype(x, dtype, copy=True):
    """``x`` as the NumPy ``dtype`` (differentiable for floating targets)."""
    if x._data.dtype == np.dtype(dtype):
        return casting.clone(x) if copy else x
    return casting.cast(x, from_numpy_dtype(np.dtype(dtype)))


def broadcast_to(x, shape_):
    return shape.expand(x, tuple(shape_))


def cos(x):
    return trigonometric.cos(x)


def cosh(x):
    return trigonometric.cosh(x)


def expand_dims(x, axis):
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    rank = x._data.ndim + len(axes)
    for position in sorted(axis % rank for axis in axes):
        x = shape.unsqueeze(x, position)
    return x


def exp(x):
    return exp_log.exp(x)


def exp2(x):
    return exp_log.exp2(x)


def floor_divide(x1, x2):
    """Rounded-down quotient; piecewise constant, so its gradient is zero."""
    return arithmetic.div(x1, x2, rounding_mode="floor")


def log(x):
    return exp_log.log(x)


def reshape(x, shape_):
    return shape.reshape(x, tuple(shape_))


def sign(x):
    return arithmetic.sign(x)


def sin(x):
    return trigonometric.sin(x)


def sinh(x):
    return trigonometric.sinh(x)


def sqrt(x):
    return exp_log.sqrt(x)


def sum(x, axis=None, keepdims=False, dtype=None):
    if dtype is not None:
        x = astype(x, dtype, copy=False)
    return reduce.sum(x, axis, keepdims)


def trunc(x):
    return rounding.trunc(x)


def where(condition, x1, x2):
    return index.where(condition, x1, x2)


def zeros_like(x, dtype=None):
    """Zeros of ``x``'s shape: a constant (it carries no history, as in PyTorch)."""
    target = x._data.dtype if dtype is None else np.dtype(dtype)
    return Tensor._wrap(np.zeros(x._data.shape, target))
