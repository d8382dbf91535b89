"""ember's array-API namespace: NumPy's signatures over ember's differentiable ops.

An op's backward is written once against ``ctx.xp``: NumPy itself on the first-order path, this
namespace under create_graph, where the same formula on Tensors records the graph of the backward
(``Tensor.__array_namespace__()`` returns this module).
"""
import numpy as np

from .._dtype import from_numpy_dtype
from ..tensor import Tensor
from . import index, reduce, shape
from .elementwise import casting, exp_log

__all__ = [
    "astype",
    "broadcast_to",
    "concat",
    "cumulative_prod",
    "cumulative_sum",
    "exp",
    "expand_dims",
    "log",
    "reshape",
    "sum",
    "where",
]


def astype(x, dtype, copy=True):
    """``x`` as the NumPy ``dtype`` (differentiable for floating targets)."""
    if x._data.dtype == np.dtype(dtype):
        return casting.clone(x) if copy else x
    return casting.cast(x, from_numpy_dtype(np.dtype(dtype)))


def broadcast_to(x, shape_):
    return shape.expand(x, tuple(shape_))


def expand_dims(x, axis):
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    rank = x._data.ndim + len(axes)
    for position in sorted(axis % rank for axis in axes):
        x = shape.unsqueeze(x, position)
    return x


def concat(arrays, axis=0):
    """Arrays among ``arrays`` (constants of a backward formula) join as constant Tensors."""
    return shape.cat([item if isinstance(item, Tensor) else Tensor._wrap(np.asarray(item))
                      for item in arrays], axis)


def cumulative_prod(x, *, axis=None, dtype=None):
    if dtype is not None:
        x = astype(x, dtype, copy=False)
    return reduce.cumprod(x, 0 if axis is None else axis)


def cumulative_sum(x, *, axis=None, dtype=None):
    if dtype is not None:
        x = astype(x, dtype, copy=False)
    return reduce.cumsum(x, 0 if axis is None else axis)


def exp(x):
    return exp_log.exp(x)


def log(x):
    return exp_log.log(x)


def reshape(x, shape_):
    return shape.reshape(x, tuple(shape_))


def sum(x, axis=None, keepdims=False, dtype=None):
    if dtype is not None:
        x = astype(x, dtype, copy=False)
    return reduce.sum(x, axis, keepdims)


def where(condition, x1, x2):
    return index.where(condition, x1, x2)
