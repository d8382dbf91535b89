"""ember's array-API namespace: NumPy's signatures over ember's differentiable ops.

An op's backward is written once against ``ctx.xp``: NumPy itself on the first-order path, this
namespace under create_graph, where the same formula on Tensors records the graph of the backward
(``Tensor.__array_namespace__()`` returns this module).
"""
import numpy as np

from .._dtype import from_numpy_dtype
from ..tensor import Tensor
from . import linalg as linalg_ops
from . import index, reduce, shape
from .elementwise import casting, exp_log, extrema, trigonometric

__all__ = [
    "asarray",
    "astype",
    "broadcast_to",
    "exp",
    "expand_dims",
    "log",
    "log1p",
    "matmul",
    "matrix_transpose",
    "max",
    "maximum",
    "mean",
    "minimum",
    "permute_dims",
    "reshape",
    "sqrt",
    "sum",
    "tanh",
    "where",
]



def asarray(obj, dtype=None):
    """A constant (a Tensor without history)."""
    return Tensor._wrap(np.asarray(obj, dtype))


def astype(x, dtype, copy=True):
    """``x`` as the NumPy ``dtype`` (differentiable for floating targets)."""
    if x._data.dtype == np.dtype(dtype):
        return casting.clone(x) if copy else x
    return casting.cast(x, from_numpy_dtype(np.dtype(dtype)))


def broadcast_to(x, shape_):
    return shape.expand(x, tuple(shape_))


def exp(x):
    return exp_log.exp(x)


def expand_dims(x, axis):
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    rank = x._data.ndim + len(axes)
    for position in sorted(axis % rank for axis in axes):
        x = shape.unsqueeze(x, position)
    return x


def log(x):
    return exp_log.log(x)


def log1p(x):
    return exp_log.log1p(x)


def matmul(x1, x2):
    return linalg_ops.matmul(x1, x2)


def matrix_transpose(x):
    return shape.transpose(x, -1, -2)


def max(x, axis=None, keepdims=False):
    return reduce.amax(x, () if axis is None else axis, keepdims)


def maximum(x1, x2):
    return extrema.maximum(*_tensors(x1, x2))


def mean(x, axis=None, keepdims=False):
    return reduce.mean(x, axis, keepdims)


def minimum(x1, x2):
    return extrema.minimum(*_tensors(x1, x2))


def permute_dims(a, axes):
    return shape.permute(a, tuple(axes))


def reshape(x, shape_):
    return shape.reshape(x, tuple(shape_))


def sqrt(x):
    return exp_log.sqrt(x)


def sum(x, axis=None, keepdims=False, dtype=None):
    if dtype is not None:
        x = astype(x, dtype, copy=False)
    return reduce.sum(x, axis, keepdims)


def tanh(x):
    return trigonometric.tanh(x)


def where(condition, x, y):
    """NumPy's three-argument where; a NumPy bool array as condition is a constant."""
    if not isinstance(condition, Tensor):
        condition = Tensor._wrap(np.asarray(condition))
    return index.where(condition, x, y)


def _tensors(*values):
    """Python and NumPy scalars among Tensors as 0-d constants of the Tensors' dtype."""
    dtype = next(value._data.dtype for value in values if isinstance(value, Tensor))
    return [value if isinstance(value, Tensor) else Tensor._wrap(np.asarray(value, dtype))
            for value in values]
