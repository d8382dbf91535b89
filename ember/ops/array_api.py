"""ember's array-API namespace: NumPy's signatures over ember's differentiable ops.

An op's backward is written once against ``ctx.xp``: NumPy itself on the first-order path, this
namespace under create_graph, where the same formula on Tensors records the graph of the backward
(``Tensor.__array_namespace__()`` returns this module).
"""
import numpy as np

from .._dtype import from_numpy_dtype
from ..tensor import Tensor
from . import linalg as linalg_ops
from . import reduce, shape
from .elementwise import casting, exp_log, trigonometric

__all__ = [
    "asarray",
    "astype",
    "broadcast_to",
    "concat",
    "diagonal",
    "einsum",
    "exp",
    "expand_dims",
    "flip",
    "linalg",
    "matmul",
    "matrix_transpose",
    "permute_dims",
    "reshape",
    "roll",
    "split",
    "stack",
    "sum",
    "tanh",
    "tril",
    "triu",
    "unstack",
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


def diagonal(a, offset=0, axis1=0, axis2=1):
    return shape.diagonal(a, offset, axis1, axis2)


def einsum(subscripts, *operands, optimize=False):
    return linalg_ops.einsum(subscripts, *operands)
def concat(arrays, axis=0):
    return shape.cat(list(arrays), axis)


def expand_dims(x, axis):
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    rank = x._data.ndim + len(axes)
    for position in sorted(axis % rank for axis in axes):
        x = shape.unsqueeze(x, position)
    return x


def exp(x):
    return exp_log.exp(x)


def flip(m, axis=None):
    return shape.flip(m, tuple(range(m._data.ndim)) if axis is None else axis)


class linalg:
    """NumPy's ``np.linalg`` functions that backward formulas use."""

    @staticmethod
    def det(a):
        return linalg_ops.det(a)

    @staticmethod
    def inv(a):
        return linalg_ops.inverse(a)

    @staticmethod
    def solve(a, b):
        return linalg_ops.solve_columns(a, b, vector=b._data.ndim == 1)


def matmul(x1, x2):
    return linalg_ops.matmul(x1, x2)


def matrix_transpose(x):
    return shape.transpose(x, -1, -2)


def permute_dims(a, axes):
    return shape.permute(a, tuple(axes))


def reshape(x, shape_):
    return shape.reshape(x, tuple(shape_))


def roll(a, shift, axis=None):
    return shape.roll(a, shift, axis)


def split(ary, indices_or_sections, axis=0):
    """NumPy's split (sections must divide the axis, as NumPy requires)."""
    return list(shape.tensor_split(ary, indices_or_sections, axis))
def stack(arrays, axis=0):
    return shape.stack(list(arrays), axis)


def sum(x, axis=None, keepdims=False, dtype=None):
    if dtype is not None:
        x = astype(x, dtype, copy=False)
    return reduce.sum(x, axis, keepdims)


def tril(m, k=0):
    return shape.tril(m, k)


def triu(m, k=0):
    return shape.triu(m, k)


def unstack(x, axis=0):
    return shape.unbind(x, axis)
def tanh(x):
    return trigonometric.tanh(x)
