"""ember's array-API namespace: NumPy's signatures over ember's differentiable ops.

An op's backward is written once against ``ctx.xp``: NumPy itself on the first-order path, this
namespace under create_graph, where the same formula on Tensors records the graph of the backward
(``Tensor.__array_namespace__()`` returns this module).

Its callers are backward formulas, whose operands are Tensors of consistent shapes and dtypes:
the hot entries (reshape, broadcast_to, expand_dims, matmul, permute_dims, sum) apply their op
directly, without the public functions' argument checks, and return ``x`` itself for a reshape
or broadcast to the shape it already has (nothing is changed in place inside a backward).
"""
import numpy as np

from .._autocast_state import _autocast_state
from .._dtype import from_numpy_dtype
from .._layout import strided
from ..tensor import Tensor
from . import linalg as linalg_ops
from . import index, reduce, shape
from .elementwise import (arithmetic, casting, complex_parts, exp_log, extrema,
                          rounding, trigonometric)

__all__ = [
    "abs",
    "asarray",
    "astype",
    "broadcast_to",
    "concat",
    "conj",
    "cos",
    "cosh",
    "cumulative_prod",
    "cumulative_sum",
    "diagonal",
    "einsum",
    "exp",
    "exp2",
    "expand_dims",
    "flip",
    "floor_divide",
    "imag",
    "linalg",
    "log",
    "log1p",
    "matmul",
    "matrix_transpose",
    "max",
    "maximum",
    "mean",
    "minimum",
    "permute_dims",
    "real",
    "reshape",
    "roll",
    "sign",
    "sin",
    "sinh",
    "split",
    "sqrt",
    "stack",
    "sum",
    "tanh",
    "tril",
    "triu",
    "trunc",
    "unstack",
    "where",
    "zeros_like",
]


def abs(x):
    return arithmetic.abs(x)


def conj(x):
    return complex_parts.conj(x)


def real(x):
    return complex_parts.real(x)


def imag(x):
    return complex_parts.imag(x)


def asarray(obj, dtype=None):
    """A constant (a Tensor without history)."""
    return Tensor._wrap(np.asarray(obj, dtype))


def astype(x, dtype, copy=True):
    """``x`` as the NumPy ``dtype`` (differentiable for floating targets)."""
    if x._data.dtype == np.dtype(dtype):
        return casting.clone(x) if copy else x
    return casting.cast(x, from_numpy_dtype(np.dtype(dtype)))


def broadcast_to(x, shape_):
    shape_ = tuple(shape_)
    if shape_ == x._data.shape:
        return x
    return shape.Expand.apply(x, shape_)


def concat(arrays, axis=0):
    """Arrays among ``arrays`` (constants of a backward formula) join as constant Tensors."""
    return shape.cat([item if isinstance(item, Tensor) else Tensor._wrap(np.asarray(item))
                      for item in arrays], axis)


def cos(x):
    return trigonometric.cos(x)


def cosh(x):
    return trigonometric.cosh(x)


def cumulative_prod(x, *, axis=None, dtype=None):
    if dtype is not None:
        x = astype(x, dtype, copy=False)
    return reduce.cumprod(x, 0 if axis is None else axis)


def cumulative_sum(x, *, axis=None, dtype=None):
    if dtype is not None:
        x = astype(x, dtype, copy=False)
    return reduce.cumsum(x, 0 if axis is None else axis)


def diagonal(a, offset=0, axis1=0, axis2=1):
    return shape.diagonal(a, offset, axis1, axis2)


def einsum(subscripts, *operands, optimize=False):
    return linalg_ops.einsum(subscripts, *operands)


def exp(x):
    return exp_log.exp(x)


def exp2(x):
    return exp_log.exp2(x)


def expand_dims(x, axis):
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    rank = x._data.ndim + len(axes)
    new_shape = list(x._data.shape)
    for position in sorted(axis % rank for axis in axes):
        new_shape.insert(position, 1)
    return shape.Reshape.apply(x, tuple(new_shape), False)


def flip(m, axis=None):
    return shape.flip(m, tuple(range(m._data.ndim)) if axis is None else axis)


def floor_divide(x1, x2):
    """Rounded-down quotient; piecewise constant, so its gradient is zero."""
    return arithmetic.div(x1, x2, rounding_mode="floor")


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


def log(x):
    return exp_log.log(x)


def log1p(x):
    return exp_log.log1p(x)


def matmul(x1, x2):
    if x1._data.ndim >= 2 and x2._data.ndim >= 2 and x1._data.dtype == x2._data.dtype and \
            x1.layout is strided and x2.layout is strided and "cpu" not in _autocast_state.get().enabled:
        return linalg_ops.MatMul.apply(x1, x2)
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
    return shape.Permute.apply(a, tuple(axes))


def reshape(x, shape_):
    shape_ = tuple(shape_)
    if shape_ == x._data.shape:
        return x
    if -1 in shape_:
        return shape.reshape(x, shape_)
    return shape.Reshape.apply(x, shape_, False)


def roll(a, shift, axis=None):
    return shape.roll(a, shift, axis)


def sign(x):
    return arithmetic.sign(x)


def sin(x):
    return trigonometric.sin(x)


def sinh(x):
    return trigonometric.sinh(x)


def split(ary, indices_or_sections, axis=0):
    """NumPy's split (sections must divide the axis, as NumPy requires)."""
    return list(shape.tensor_split(ary, indices_or_sections, axis))


def sqrt(x):
    return exp_log.sqrt(x)


def stack(arrays, axis=0):
    return shape.stack(list(arrays), axis)


def sum(x, axis=None, keepdims=False, dtype=None):
    if dtype is not None:
        x = astype(x, dtype, copy=False)
    ndim = x._data.ndim
    if type(axis) is int and ndim:
        return reduce.Sum.apply(x, (axis % ndim,), keepdims, None)
    if type(axis) is tuple and axis and ndim:
        return reduce.Sum.apply(x, tuple(sorted([item % ndim for item in axis])), keepdims, None)
    return reduce.sum(x, axis, keepdims)


def tanh(x):
    return trigonometric.tanh(x)


def tril(m, k=0):
    return shape.tril(m, k)


def triu(m, k=0):
    return shape.triu(m, k)


def trunc(x):
    return rounding.trunc(x)


def unstack(x, axis=0):
    return shape.unbind(x, axis)


def where(condition, x, y):
    """NumPy's three-argument where; a NumPy bool array as condition is a constant."""
    if not isinstance(condition, Tensor):
        condition = Tensor._wrap(np.asarray(condition))
    return index.where(condition, x, y)


def zeros_like(x, dtype=None):
    """Zeros of ``x``'s shape: a constant (it carries no history, as in PyTorch)."""
    target = x._data.dtype if dtype is None else np.dtype(dtype)
    return Tensor._wrap(np.zeros(x._data.shape, target))


def _tensors(*values):
    """Python and NumPy scalars among Tensors as 0-d constants of the Tensors' dtype."""
    dtype = next(value._data.dtype for value in values if isinstance(value, Tensor))
    return [value if isinstance(value, Tensor) else Tensor._wrap(np.asarray(value, dtype))
            for value in values]
