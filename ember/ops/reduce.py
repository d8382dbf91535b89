"""Reductions and normalised exponentials: sum, mean, var/std, max/min, prod, logsumexp, softmax.

Every backward here is written once against ``ctx.xp`` and is itself differentiable. Accumulation
follows PyTorch's CPU kernels: float16 reduces in float32; cumsum and cumprod of float32 run in
float64; long float32 sums over a non-contiguous dim are summed in blocks (a cascade), not
row after row.
"""
import builtins
import math
import warnings

import numpy as np

from .. import _jit, _threads
from .._dtype import (accumulation_dtype, get_default_dtype, is_floating, repr_prefix,
                      scalar_type_name)
from .._layout import arrange, preserve_format, row_major_layout
from ..autograd import function as function_module
from ..autograd.function import Op, torch_named
from ..autograd.views import nothing_recorded
from ..tensor import Tensor, _normalize_dim
from ._broadcast import broadcast_view
from ._return_types import _VALUES_INDICES, _Histogram, _HistogramDD, _MinMax
from .elementwise import complex_parts, lerp, maximum, minimum
from .elementwise._operands import _widened, recorded_refusing, recorded_without_derivative
from .elementwise.casting import autocast_op
from .index import Gather, _array, _gathered, embed, where
from .shape import diff, flip, narrow, stack

__all__ = ["all", "amax", "amin", "aminmax", "any", "argmax", "argmin", "argsort", "corrcoef",
           "count_nonzero", "cov", "cummax", "cummin", "cumprod", "cumsum", "cumulative_trapezoid",
           "hash_tensor",
           "histc", "histogram", "histogramdd", "kthvalue", "log_softmax", "logcumsumexp", "logsumexp", "max",
           "mean", "median", "min", "mode", "msort", "nanmean", "nanmedian", "nanquantile",
           "nansum", "norm", "prod", "quantile", "renorm", "segment_reduce", "softmax", "sort", "std", "std_mean", "sum", "topk", "trapezoid", "unique",
           "unique_consecutive", "var", "var_mean"]


def _is_int(value):
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def _axes(dim, ndim, operation):
    """Normalise ``dim`` (None, int or sequence of ints) to a sorted tuple of axes."""
    if type(dim) is int and -ndim <= dim < ndim:  # the common case, checked in one line
        return (dim % ndim,)
    if dim is None:
        return tuple(range(ndim))
    if _is_int(dim):
        dims = (dim,)
    elif isinstance(dim, (tuple, list)) and builtins.all(_is_int(axis) for axis in dim):
        dims = tuple(dim)
    else:
        got = type(dim).__name__ if not isinstance(dim, (tuple, list)) else \
            f"{type(dim).__name__} of {', '.join(type(axis).__name__ for axis in dim)}"
        raise TypeError(f"{operation}(): argument 'dim' must be an int or a tuple of ints, not "
                        f"{got}")
    if len(dims) == 0:
        return tuple(range(ndim))
    rank = builtins.max(ndim, 1)
    axes = []
    for axis in dims:
        if not -rank <= axis < rank:
            raise IndexError(f"Dimension out of range (expected to be in range of "
                             f"[{-rank}, {rank - 1}], but got {axis})")
        axis = int(axis) % rank
        if axis in axes:
            raise RuntimeError(f"dim {axis} appears multiple times in the list of dims")
        axes.append(axis)
    if ndim == 0:
        return ()
    return tuple(sorted(axes))


def _axis(dim, ndim, operation):
    """One ``dim`` (an int) as an axis; None for a 0-d tensor."""
    if type(dim) is int and -ndim <= dim < ndim:  # the common case, checked in one line
        return dim % ndim
    if not _is_int(dim):
        raise TypeError(f"{operation}(): argument 'dim' must be int, not {type(dim).__name__}")
    axes = _axes(dim, ndim, operation)
    return axes[0] if axes else None


def _dtype_argument(dtype, operation):
    if dtype is not None and not hasattr(dtype, "numpy"):
        raise TypeError(f"{operation}(): argument 'dtype' must be an ember dtype, not "
                        f"{type(dtype).__name__}")
    return dtype


def _kept_dims(xp, grad, axes, keepdim):
    """``grad`` with the reduced axes reinserted as size 1, so that it broadcasts against the
    input (a 0-d ``grad``, from a reduction over every axis, broadcasts as it is)."""
    if not keepdim and axes and grad.ndim:
        return xp.expand_dims(grad, axes)
    return grad


def _expand_back(xp, grad, shape, axes, keepdim):
    """``grad`` broadcast back to the input's shape (``_kept_dims``, then a broadcast view)."""
    grad = _kept_dims(xp, grad, axes, keepdim)
    if xp is np:
        return broadcast_view(grad, shape)
    return xp.broadcast_to(grad, shape)


def _input_and_expanded(ctx, grad):
    """For a reduction that saved (input, output): the input, and the grad and the output
    broadcast back to the input's shape."""
    x, out = ctx.saved_tensors
    axes, keepdim = ctx.axes_keepdim
    xp = ctx.xp
    return (x, _expand_back(xp, grad, x.shape, axes, keepdim),
            _expand_back(xp, out, x.shape, axes, keepdim))


def _count(shape, axes):
    count = 1
    for axis in axes:
        count *= shape[axis]
    return count


_FLOAT16 = np.dtype(np.float16)
_FLOAT32 = np.dtype(np.float32)


def _accumulator(dtype):
    """The dtype PyTorch's CPU reductions accumulate ``dtype`` in: float32 for float16 and
    bfloat16."""
    return accumulation_dtype(np.dtype(dtype))


# Sums over a non-contiguous run of more than _CASCADE_MIN elements add blocks of _BLOCK rows,
# then blocks of those: the rounding error grows with _BLOCK * log(n) instead of n.
_CASCADE_MIN = 512
_BLOCK = 32


def _sum_array(x, axes, keepdims, dtype):
    """``np.sum`` in ``dtype``, with PyTorch's accumulation (see the module docstring)."""
    if axes and axes[-1] < x.ndim - 1 and dtype == _FLOAT32 and x.dtype == _FLOAT32 and \
            x.flags.c_contiguous:
        first, last = axes[0], axes[-1]
        count = _count(x.shape, axes)
        if last - first == len(axes) - 1 and count > _CASCADE_MIN:
            return _cascade_sum(x, first, last, count, keepdims)
    accumulator = _accumulator(dtype)
    # np.add.reduce is np.sum without its Python-level dispatch (a few microseconds per call).
    out = np.add.reduce(x, axis=axes, keepdims=keepdims, dtype=accumulator)
    return np.asarray(out if accumulator == dtype else out.astype(dtype))


def _cascade_sum(x, first, last, count, keepdims):
    before = _count(x.shape, range(first))
    after = _count(x.shape, range(last + 1, x.ndim))
    partial = x.reshape(before, count, after)
    while partial.shape[1] > _BLOCK:
        rows = partial.shape[1]
        whole = rows - rows % _BLOCK
        blocks = partial[:, :whole].reshape(before, whole // _BLOCK, _BLOCK, after).sum(axis=2)
        if whole < rows:
            blocks = np.concatenate([blocks, partial[:, whole:].sum(axis=1, keepdims=True)], 1)
        partial = blocks
    shape = list(x.shape)
    for axis in range(first, last + 1):
        shape[axis] = 1
    out = partial.sum(axis=1).reshape(shape)
    return out if keepdims else out.reshape(
        [size for axis, size in enumerate(x.shape) if not first <= axis <= last])


class Sum(Op):
    output_layout = staticmethod(row_major_layout)
    _next_order = (0,)  # PyTorch lists the one tensor input, not the options
    differentiable_backward = True

    @staticmethod
    def forward(ctx, x, axes, keepdim, dtype):
        ctx.shape = x.shape
        source = ctx.dtype = x.dtype
        ctx.axes_keepdim = (axes, keepdim)
        if dtype is None and source.kind == "f" and source.itemsize > 2 and \
                (not axes or axes[-1] == x.ndim - 1):
            # float32/float64 over trailing axes: _sum_array's plain sum in the dtype itself
            return np.asarray(np.add.reduce(x, axis=axes, keepdims=keepdim))
        out_dtype = np.dtype(dtype.numpy if dtype is not None else (
            np.int64 if x.dtype.kind in "biu" else x.dtype))
        return _sum_array(x, axes, keepdim, out_dtype)

    @staticmethod
    def backward(ctx, grad, *_):
        axes, keepdim = ctx.axes_keepdim
        xp = ctx.xp
        return xp.astype(_expand_back(xp, grad, ctx.shape, axes, keepdim), ctx.dtype,
                         copy=False), None, None, None


class NanSum(Sum):
    """sum with NaN counted as zero. The gradient is grad times the not-NaN mask, a product as
    in PyTorch's nansum backward, so an infinite gradient gives NaN at the NaN elements
    (nanmean of an all-NaN slice)."""
    _torch_name = "NansumBackward0"

    @staticmethod
    def forward(ctx, x, axes, keepdim, dtype):
        missing = np.isnan(x)
        ctx.kept = np.logical_not(missing).astype(x.dtype)
        return Sum.forward(ctx, np.where(missing, np.zeros((), x.dtype), x), axes, keepdim, dtype)

    @staticmethod
    def backward(ctx, grad, *_):
        expanded = Sum.backward(ctx, grad)[0]
        return (expanded * ctx.kept,) + (None,) * 3


class Mean(Op):
    output_layout = staticmethod(row_major_layout)
    _next_order = (0,)  # PyTorch lists the one tensor input, not the options
    differentiable_backward = True

    @staticmethod
    def forward(ctx, x, axes, keepdim, dtype):
        ctx.dtype = x.dtype
        if dtype is not None:
            x = x.astype(dtype.numpy)
        if not is_floating(x.dtype) and x.dtype.kind != "c":
            raise RuntimeError(f"mean(): could not infer output dtype. Input dtype must be either "
                               f"a floating point or complex dtype. Got: "
                               f"{scalar_type_name(x.dtype)}")
        ctx.shape = x.shape
        ctx.axes_keepdim = (axes, keepdim)
        count = _count(x.shape, axes)
        accumulator = _accumulator(x.dtype)
        total = _sum_array(x, axes, keepdim, accumulator)
        if count:
            out = total / accumulator.type(count)
        else:  # an empty mean is NaN, silently (errstate costs about a microsecond)
            with np.errstate(invalid="ignore", divide="ignore"):
                out = total / accumulator.type(count)
        return np.asarray(out, dtype=x.dtype)

    @staticmethod
    def backward(ctx, grad, *_):
        axes, keepdim = ctx.axes_keepdim
        count = _count(ctx.shape, axes)
        xp = ctx.xp
        scale = 1.0 / count if count else np.nan
        grad = _expand_back(xp, grad * scale, ctx.shape, axes, keepdim)
        return xp.astype(grad, ctx.dtype, copy=False), None, None, None


class Var(Op):
    """Variance with Bessel-style ``correction``; its own op for a stable two-pass formula.
    ``full``: reduced over every element without a dim given (PyTorch's gradient differs there
    when no degree of freedom is left)."""
    output_layout = staticmethod(row_major_layout)
    _next_order = (0,)  # PyTorch lists the one tensor input, not the options

    differentiable_backward = True

    @classmethod
    def forward(cls, ctx, x, axes, correction, keepdim, full):
        if not is_floating(x.dtype):
            raise RuntimeError("std and var only support floating point and complex dtypes")
        work = _widened(x)
        count = _count(x.shape, axes)
        mean = _sum_array(work, axes, True, work.dtype) / work.dtype.type(builtins.max(count, 1))
        centered = work - mean
        divisor = builtins.max(count - correction, 0)
        squares = _sum_array(centered * centered, axes, keepdim, work.dtype)
        if divisor:
            out = np.asarray(squares / work.dtype.type(divisor))
        else:  # no degree of freedom left: inf or NaN, silently
            with np.errstate(divide="ignore", invalid="ignore"):
                out = np.asarray(squares / work.dtype.type(divisor))
        out = np.asarray(cls.finish(out), dtype=x.dtype)
        ctx.layout = (axes, keepdim, count - correction, full, x.dtype)
        if ctx.needs_input_grad[0]:
            # only std's gradient reads the output: var's may be changed in place, as PyTorch's
            ctx.save_for_backward(x, centered, out if cls.keeps_output else None)
        return out

    keeps_output = False

    @staticmethod
    def finish(variance):
        return variance

    @staticmethod
    def backward(ctx, grad, *_):
        return _var_backward(ctx, ctx.xp, grad), None, None, None, None


def _var_backward(ctx, xp, grad):
    """PyTorch's var gradient: 2 / (n - correction) * grad * (x - mean)."""
    x, centered, _ = ctx.saved_tensors
    axes, keepdim, freedom, full, dtype = ctx.layout
    if ctx._unpack_as_tensors:  # the centered input must carry the input's history
        count = builtins.max(_count(x.shape, axes), 1)
        centered = x - xp.sum(x, axis=axes, keepdims=True) * (1.0 / count)
    grad = _expand_back(xp, grad, x.shape, axes, keepdim)
    with np.errstate(divide="ignore", invalid="ignore"):
        if full and freedom <= 0:
            # 2 / 0 is infinite: NaN where x equals the mean (inf * 0), inf elsewhere.
            factor = np.where(_array(centered) == 0, np.nan, np.inf).astype(dtype)
            return xp.astype(grad * factor, dtype, copy=False)
        scale = 2.0 / freedom if freedom else np.inf
        return xp.astype(grad * centered * scale, dtype, copy=False)


class Std(Var):
    """The square root of Var; the gradient is 0 where the deviation is 0 (PyTorch), not NaN."""

    finish = staticmethod(np.sqrt)
    keeps_output = True

    @staticmethod
    def backward(ctx, grad, *_):
        xp = ctx.xp
        (_, _, out) = ctx.saved_tensors
        is_zero = out == 0
        grad_var = xp.where(is_zero, 0, grad / (xp.where(is_zero, 1, out) * 2))
        return _var_backward(ctx, xp, grad_var), None, None, None, None


class _Extreme(Op):
    """max/min/amax/amin and the full median. Given ``indices`` (max/min along a dim, computed
    once by the caller as kept-dim int64) the values are taken at them and the gradient goes
    there. Otherwise the gradient is shared by the elements equal to the result, as PyTorch
    does: ``evenly`` (max(), min(), median() of all elements) shares a NaN result among the
    NaNs; amax/amin give NaN gradients there (grad / 0 matches)."""
    output_layout = staticmethod(row_major_layout)
    _next_order = (0,)  # PyTorch lists the one tensor input, not the options

    reducer = None
    arg_reducer = None
    method = None  # the ndarray method of ``reducer``, where it is one
    differentiable_backward = True

    @classmethod
    def forward(cls, ctx, x, axes, keepdim, indices, evenly):
        ctx.shape = x.shape
        ctx.dtype = x.dtype
        ctx.axes_keepdim = (axes, keepdim)
        if indices is not None:
            ctx.by_index = True
            if x.ndim == 0:
                return x.copy()
            axis = axes[0]
            out = _at_kept_indices(x, indices, axis, cls.method)
            if not keepdim:
                out = out.reshape(indices.shape[:axis] + indices.shape[axis + 1:])
            if ctx.needs_input_grad[0]:
                ctx.save_for_backward(indices)
            return out
        ctx.by_index = False
        ctx.evenly = evenly
        if cls.method is not None:
            # max/min by the ndarray method, C-level where np.max and np.expand_dims wrap it in
            # Python (~2 us)
            kept = np.asarray(getattr(x, cls.method)(axis=axes, keepdims=True))
            out = kept if keepdim else kept.squeeze(axis=axes)
        else:
            out = np.asarray(cls.reducer(x, axis=axes, keepdims=keepdim))
            kept = out if keepdim or not axes else np.expand_dims(out, axes)
        if ctx.needs_input_grad[0]:
            if evenly and is_floating(x.dtype) and np.isnan(out).any():
                ctx.save_for_backward(np.isnan(x))
            else:
                ctx.save_for_backward(x == kept)
        return out

    @staticmethod
    def backward(ctx, grad, *_):
        axes, keepdim = ctx.axes_keepdim
        xp = ctx.xp
        if ctx.by_index:
            if not axes:  # 0-d input
                return xp.reshape(grad, ctx.shape), None, None, None, None
            (indices,) = ctx.saved_tensors
            axis = axes[0]
            if keepdim:
                grad_kept = grad
            elif xp is np:  # the reduced dim back as a 1 (np.expand_dims's checks: ~1.5 us)
                grad_kept = grad.reshape(indices.shape)
            else:
                grad_kept = xp.expand_dims(grad, axis)
            grid = list(np.indices(_array(indices).shape, sparse=True))
            grid[axis] = _array(indices)
            return embed(grad_kept, ctx.shape, tuple(grid)), None, None, None, None
        mask = _array(ctx.saved_tensors[0])
        with np.errstate(divide="ignore", invalid="ignore"):
            weights = (mask / mask.sum(axis=axes, keepdims=True)).astype(ctx.dtype)
        spread = _expand_back(xp, grad, ctx.shape, axes, keepdim) * weights
        if ctx.evenly:
            # PyTorch's evenly_distribute_backward fills zeros: exactly 0 off the extremes even
            # for a NaN or inf grad (amax/amin multiply by the mask, so NaN spreads there too)
            spread = xp.where(mask, spread, 0)
        return spread, None, None, None, None


class Max(_Extreme):
    reducer = staticmethod(np.max)
    arg_reducer = staticmethod(np.argmax)
    method = "max"  # the ndarray methods of the two (NumPy's functions cost ~0.8 us more)
    arg_method = "argmax"


class Min(_Extreme):
    reducer = staticmethod(np.min)
    arg_reducer = staticmethod(np.argmin)
    method = "min"
    arg_method = "argmin"


def _at_kept_indices(x, indices, axis, method):
    """``np.take_along_axis(x, indices, axis)`` for the kept-dim ``indices`` of x's arg-reduction
    ``method``: the reduction itself where that is the same value (no zero, whose sign could
    differ), as take_along_axis costs ~2 us."""
    if type(x) is np.ndarray and x.dtype.kind in "iuf":
        values = getattr(x, method)(axis=axis, keepdims=True)
        if x.dtype.kind != "f" or values.all():
            return values
    return np.take_along_axis(x, indices, axis=axis)


def _reduced_rows(x, axis):
    """``x`` with the reduced axes (all when None) joined into one last axis."""
    axes = tuple(range(x.ndim)) if axis is None else tuple(axis)
    kept = [index for index in range(x.ndim) if index not in axes]
    moved = np.transpose(x, kept + list(axes))
    return moved.reshape(tuple(x.shape[index] for index in kept) + (-1,))


def _kept_shape(result, x, axis, keepdims):
    """A reduction's result over ``axis`` reshaped for ``keepdims``."""
    if not keepdims:
        return result
    axes = tuple(range(x.ndim)) if axis is None else tuple(axis)
    return result.reshape(tuple(1 if index in axes else size
                                for index, size in enumerate(x.shape)))


def _lower_median(x, axis, keepdims):
    """The lower median over ``axis`` (NaN where any is NaN), PyTorch's median(); the axes are
    all of them except under vmap, whose rule keeps the batch axis out."""
    rows = _reduced_rows(x, axis)
    count = rows.shape[-1]
    if count == 0:
        return _kept_shape(np.full(rows.shape[:-1], np.nan, x.dtype), x, axis, keepdims)
    middle = (count - 1) // 2
    result = np.partition(rows, middle, axis=-1)[..., middle]
    if is_floating(x.dtype):
        result = np.where(np.isnan(rows).any(axis=-1), np.array(np.nan, x.dtype), result)
    return _kept_shape(np.asarray(result, x.dtype), x, axis, keepdims)


def _lower_nanmedian(x, axis, keepdims):
    """The lower median of the non-NaN elements over ``axis`` (NaN where all are NaN)."""
    rows = _reduced_rows(x, axis)
    if not is_floating(x.dtype):
        return _lower_median(x, axis, keepdims)
    counts = np.sum(~np.isnan(rows), axis=-1, keepdims=True)
    if rows.shape[-1] == 0:
        return _kept_shape(np.full(rows.shape[:-1], np.nan, x.dtype), x, axis, keepdims)
    ordered = np.sort(rows, axis=-1)  # NaN sorts last
    middle = np.maximum(counts - 1, 0) // 2
    result = np.take_along_axis(ordered, middle, axis=-1)[..., 0]
    result = np.where(counts[..., 0] == 0, np.array(np.nan, x.dtype), result)
    return _kept_shape(np.asarray(result, x.dtype), x, axis, keepdims)


class Median(_Extreme):
    reducer = staticmethod(_lower_median)


class NanMedian(_Extreme):
    reducer = staticmethod(_lower_nanmedian)


def _reversed(values, axis):
    """``values`` flipped along ``axis`` (a view of an array; a recorded flip of a Tensor, whose
    indexing refuses negative steps as PyTorch's does)."""
    if isinstance(values, Tensor):
        return flip(values, (axis,))
    return values[(slice(None),) * axis + (slice(None, None, -1),)]


def _products_of_others(xp, x, axis):
    """For every position along ``axis``, the product of all the other elements, exact with
    zeros (no division): exclusive products from the left times those from the right."""
    size = x.shape[axis]
    ones_shape = list(x.shape)
    ones_shape[axis] = 1
    ones = np.ones(ones_shape, dtype=_array(x).dtype)
    before = (slice(None),) * axis
    left = xp.concat([ones, x[before + (slice(0, size - 1),)]], axis=axis)
    right = xp.concat([ones, _reversed(x, axis)[before + (slice(0, size - 1),)]], axis=axis)
    return xp.cumulative_prod(left, axis=axis) * \
        _reversed(xp.cumulative_prod(right, axis=axis), axis)


class Prod(Op):
    output_layout = staticmethod(row_major_layout)
    _next_order = (0,)  # PyTorch lists the one tensor input, not the options
    differentiable_backward = True

    @staticmethod
    def forward(ctx, x, axis, keepdim):
        ctx.shape = x.shape
        ctx.axis_keepdim = (axis, keepdim)
        out_dtype = np.dtype(np.int64 if x.dtype.kind in "biu" else x.dtype)
        out = np.asarray(np.prod(x, axis=axis, keepdims=keepdim, dtype=_accumulator(out_dtype)))
        out = out.astype(out_dtype, copy=False)
        if ctx.needs_input_grad[0]:
            ctx.save_for_backward(x)
        return out

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        axis, keepdim = ctx.axis_keepdim
        xp = ctx.xp
        if x.ndim == 0:
            return grad, None, None
        if axis is None:
            grad_kept = xp.reshape(grad, (1,) * x.ndim)
        else:
            grad_kept = grad if keepdim else xp.expand_dims(grad, axis)
        if 0 in x.shape:  # nothing to differentiate
            return xp.broadcast_to(grad_kept, x.shape), None, None
        x = complex_parts.conj_of(x)  # complex x: grad times the conjugate derivative
        if axis is None:
            flat = xp.reshape(x, (-1,))
            return grad_kept * xp.reshape(_products_of_others(xp, flat, 0), x.shape), None, None
        return grad_kept * _products_of_others(xp, x, axis), None, None


class LogSumExp(Op):
    """Its own op for stability: shifts by the max before exponentiating."""

    output_layout = staticmethod(row_major_layout)
    _torch_name = "LogsumexpBackward0"

    _next_order = (0,)  # PyTorch lists the one tensor input, not the options
    differentiable_backward = True

    @staticmethod
    def forward(ctx, x, axes, keepdim):
        if not is_floating(x.dtype) and x.dtype.kind != "c":
            x = x.astype(get_default_dtype().numpy)
        work = _widened(x)
        # complex values shift by the largest real part (the imaginary one only turns them)
        shift = np.max(work.real, axis=axes, keepdims=True) if x.size else \
            np.zeros((1,) * x.ndim, work.real.dtype)
        shift = np.where(np.isfinite(shift), shift, 0)
        summed = np.sum(np.exp(work - shift), axis=axes, keepdims=True)
        with np.errstate(divide="ignore"):
            out = np.log(summed) + shift
        if not keepdim:
            out = np.squeeze(out, axis=axes)
        out = np.asarray(out, dtype=x.dtype)
        ctx.axes_keepdim = (axes, keepdim)
        ctx.save_for_backward(x, out)
        return out

    @staticmethod
    def backward(ctx, grad):
        x, grad, out = _input_and_expanded(ctx, grad)
        xp = ctx.xp
        with np.errstate(invalid="ignore"):  # -inf - -inf where a whole row is -inf, as PyTorch
            # the softmax of x; conjugated for complex x (PyTorch's convention)
            return grad * complex_parts.conj_of(xp.exp(x - out)), None, None


# Up to this many elements a softmax over the last axis of a contiguous array runs as one
# compiled pass per row, where NumPy's max and sum reductions cost ~4 us each; above it NumPy's
# vectorised exp wins (numba's is scalar: (32, 10) took 2.2 us compiled, 10.7 us NumPy;
# (32, 64) 11 and 14 us; (128, 128) 104 and 44 us).
_COMPILED_SOFTMAX_ELEMENTS = 1 << 10
_FULL_PRECISION = (np.dtype(np.float32), np.dtype(np.float64))


@_jit.kernel
def _softmax_rows(rows, logarithm, zero, out):
    # The NumPy path's operations per row: shift by the maximum (NaN if any is NaN, as
    # np.maximum), exp and sum; then exp / sum, or shifted - log(sum) for log_softmax.
    for row in range(rows.shape[0]):
        peak = rows[row, 0]
        for column in range(1, rows.shape[1]):
            value = rows[row, column]
            if value > peak or value != value:
                peak = value
        total = zero
        for column in range(rows.shape[1]):
            shifted = rows[row, column] - peak
            exp = np.exp(shifted)
            out[row, column] = shifted if logarithm else exp
            total += exp
        if logarithm:
            log_total = np.log(total)
            for column in range(rows.shape[1]):
                out[row, column] -= log_total
        else:
            for column in range(rows.shape[1]):
                out[row, column] /= total


@_jit.kernel
def _softmax_grad_rows(grad, out, logarithm, zero, result):
    # softmax: out * (grad - sum(grad * out)); log_softmax: grad - exp(out) * sum(grad)
    for row in range(grad.shape[0]):
        total = zero
        for column in range(grad.shape[1]):
            total += grad[row, column] * out[row, column] if not logarithm else grad[row, column]
        for column in range(grad.shape[1]):
            if logarithm:
                result[row, column] = grad[row, column] - np.exp(out[row, column]) * total
            else:
                result[row, column] = out[row, column] * (grad[row, column] - total)


# Above _COMPILED_SOFTMAX_ELEMENTS, float32 rows run these kernels: exp is ember._jit.exp_float32
# (within 2 ulp of NumPy's), so each pass vectorises, and the row sums are reassociated into
# vector lanes. (64, 256): 24 -> 6 us forward; PyTorch takes 8.
@_jit.kernel(reassociate=True)
def _softmax_rows_float32(rows, logarithm, out):
    """softmax (or log_softmax) of each row of a float32 (R, C) array into ``out``: the row max,
    exp(x - max) and its sum in one pass, then the division (or the log subtraction). A NaN
    anywhere in a row makes the whole row NaN, as the NumPy path's max does."""
    columns = rows.shape[1]
    for row in range(rows.shape[0]):
        values = rows[row]
        target = out[row]
        peak = _jit.row_max_float32(values)
        total = np.float32(0.0)
        for column in range(columns):
            shifted = values[column] - peak
            exp = _jit.exp_float32(shifted)
            target[column] = shifted if logarithm else exp
            total += exp
        if logarithm:
            log_total = np.log(total)
            for column in range(columns):
                target[column] -= log_total
        else:
            for column in range(columns):
                target[column] /= total


@_jit.kernel(reassociate=True)
def _softmax_grad_rows_float32(grad, out, logarithm, result):
    """The backward of ``_softmax_rows_float32`` per row: out * (grad - sum(grad * out)), or
    grad - exp(out) * sum(grad) for log_softmax."""
    columns = grad.shape[1]
    for row in range(grad.shape[0]):
        gradient = grad[row]
        output = out[row]
        target = result[row]
        total = np.float32(0.0)
        if logarithm:
            for column in range(columns):
                total += gradient[column]
            for column in range(columns):
                target[column] = gradient[column] - _jit.exp_float32(output[column]) * total
        else:
            for column in range(columns):
                total += gradient[column] * output[column]
            for column in range(columns):
                target[column] = output[column] * (gradient[column] - total)


def _compiled_rows_kernels(*arrays):
    """(forward, backward) row kernels for a softmax over the last axis of ``arrays`` (the same
    shape and dtype, C-contiguous): the scalar ones for small float32/float64 inputs, the
    vectorised float32 ones for larger float32 inputs; None where neither applies."""
    if not arrays[0].size:
        return None
    if arrays[0].size <= _COMPILED_SOFTMAX_ELEMENTS:
        if not _jit.uniform_arrays(arrays, _FULL_PRECISION):
            return None
        forward = _softmax_rows.compiled()
        return None if forward is None else (forward, _softmax_grad_rows.compiled(), True)
    forward = _jit.compiled_float32(_softmax_rows_float32, *arrays)
    return None if forward is None else (forward, _softmax_grad_rows_float32.compiled(), False)


class _Softmax(Op):
    """softmax and log_softmax along ``axis``: ``normalize`` of x minus its max (so that exp
    cannot overflow), computed widened and rounded back; backward needs only the output. Large
    inputs are cut along their first axis (when that is not ``axis``) over ember's threads."""
    output_layout = staticmethod(row_major_layout)
    _next_order = (0,)  # PyTorch lists the one tensor input, not the options
    _saved_names = ("result",)

    differentiable_backward = True
    logarithm = False

    @classmethod
    def forward(cls, ctx, x, axis):
        if axis == x.ndim - 1:
            if x.dtype == _FLOAT32 and x.size > _COMPILED_SOFTMAX_ELEMENTS:
                x = np.ascontiguousarray(x)  # strided rows: the vectorised kernels on a copy
            kernels = _compiled_rows_kernels(x)
            if kernels is not None:
                out = np.empty(x.shape, x.dtype)
                columns = x.shape[-1]
                if kernels[2]:
                    kernels[0](x.reshape(-1, columns), cls.logarithm, x.dtype.type(0),
                               out.reshape(-1, columns))
                else:
                    kernels[0](x.reshape(-1, columns), cls.logarithm, out.reshape(-1, columns))
                ctx.save_for_backward(out)
                ctx.axis = axis
                return out
        ranges = _first_axis_ranges(x, axis)
        if (len(ranges) == 1 and x.ndim and x.size
                and (x.dtype == np.float32 or x.dtype == np.float64)):
            # one range of a full-precision input: the passes below, without their wrappers
            shifted = np.subtract(x, np.maximum.reduce(x, axis=axis, keepdims=True))
            out = cls.normalize(shifted, axis, shifted)
            ctx.save_for_backward(out)
            ctx.axis = axis
            return out
        out = np.empty(x.shape, x.dtype)

        def normalize(start, stop):
            part = x if start is None else x[start:stop]
            target = out if start is None else out[start:stop]
            work = _widened(part)
            if work.size == 0:
                return
            shifted = np.asarray(work - np.max(work, axis=axis, keepdims=True))  # 0-d: an array
            # float16/bfloat16 are computed in float32 and rounded once, into ``out``
            result = cls.normalize(shifted, axis, target if work.dtype == x.dtype else None)
            if work.dtype != x.dtype:
                target[...] = result

        _threads.run(normalize, ranges)
        ctx.save_for_backward(out)
        ctx.axis = axis
        return out

    @classmethod
    def untracked(cls, x, dim):
        """forward's output where nothing is recorded (no node), for a row-major float32/float64
        array and an int ``dim`` within its dims; None elsewhere (the node's path)."""
        if type(x) is not np.ndarray or (x.dtype is not _FLOAT32 and x.dtype is not _FLOAT64) \
                or not x.flags.c_contiguous:
            return None
        ndim = x.ndim
        if not ndim or not -ndim <= dim < ndim:
            return None
        ctx = object.__new__(cls)
        ctx._recording = False  # what Op.apply sets: save_for_backward keeps nothing
        return cls.forward(ctx, x, dim % ndim)

    @classmethod
    def backward(cls, ctx, grad):
        (out,) = ctx.saved_tensors
        if ctx.xp is np and ctx.axis == out.ndim - 1:
            if grad.dtype == _FLOAT32 and grad.size > _COMPILED_SOFTMAX_ELEMENTS:
                grad = np.ascontiguousarray(grad)
            kernels = _compiled_rows_kernels(out, grad)
            if kernels is not None:
                result = np.empty(out.shape, out.dtype)
                columns = out.shape[-1]
                if kernels[2]:
                    kernels[1](grad.reshape(-1, columns), out.reshape(-1, columns),
                               cls.logarithm, out.dtype.type(0), result.reshape(-1, columns))
                else:
                    kernels[1](grad.reshape(-1, columns), out.reshape(-1, columns),
                               cls.logarithm, result.reshape(-1, columns))
                return result, None
        ranges = [(None, None)] if ctx.xp is not np else _first_axis_ranges(out, ctx.axis)
        if len(ranges) == 1:
            return cls.differentiate(ctx.xp, grad, out, ctx.axis), None
        grad_input = np.empty(out.shape, np.result_type(grad, out))

        def differentiate(start, stop):
            grad_input[start:stop] = cls.differentiate(np, grad[start:stop], out[start:stop],
                                                       ctx.axis)

        _threads.run(differentiate, ranges)
        return grad_input, None


def _first_axis_ranges(x, axis):
    """Ranges of x's first axis for ember's threads; [(None, None)] (all of x) unless x is
    large and the reduction runs along another axis."""
    rows = x.shape[0] if x.ndim > 1 and axis != 0 else 1
    count = _threads.chunk_count(x.size, rows=rows)
    return [(None, None)] if count == 1 else _threads.row_ranges(rows, count)


class Softmax(_Softmax):
    @staticmethod
    def normalize(shifted, axis, out):
        exp = np.exp(shifted, out=shifted)
        # the ufunc's reduce: np.sum's wrapper costs ~1 us (the same pairwise sum)
        return np.divide(exp, np.add.reduce(exp, axis=axis, keepdims=True), out=out)

    @staticmethod
    def differentiate(xp, grad, out, axis):
        inner = xp.sum(grad * out, axis=axis, keepdims=True)
        return out * (grad - inner)


class LogSoftmax(_Softmax):
    """Its own op for stability: x - max - log(sum(exp(x - max))); bfloat16 in float32."""

    logarithm = True

    @staticmethod
    def normalize(shifted, axis, out):
        return np.subtract(shifted, np.log(np.add.reduce(np.exp(shifted), axis=axis,
                                                         keepdims=True)), out=out)

    @staticmethod
    def differentiate(xp, grad, out, axis):
        return grad - xp.exp(out) * xp.sum(grad, axis=axis, keepdims=True)


# ---- cumulative ops ------------------------------------------------------------------------------
def _running_dtype(dtype):
    """PyTorch's CPU cumsum/cumprod accumulate float32 in float64 and float16 in float32."""
    if dtype == np.float32:
        return np.dtype(np.float64)
    return _accumulator(dtype)


def _reverse_cumsum(xp, values, axis, dtype):
    """Sums from each position to the end along ``axis``, accumulated as cumsum does."""
    if xp is np:
        out = _accumulated(values, axis, dtype, False, True)
        if out is not None:
            return out
    running = xp.cumulative_sum(_reversed(values, axis), axis=axis, dtype=_running_dtype(dtype))
    return xp.astype(_reversed(running, axis), dtype, copy=False)


# NumPy's cumsum/cumprod run one element at a time with a cast each (float32 in float64: (64,
# 256) along the last axis 52 us, along the first 160); this loop keeps the running values in
# float64 too, so the results are the same bits, in a few microseconds.
@_jit.kernel
def _accumulate_along(values, out, running, product, reverse):
    """out[o, i, n] = the running sum (or ``product``) of values[o, :i + 1, n] (of values[o,
    i:, n] with ``reverse``), accumulated in float64 (``running``, (N,), off the last axis)."""
    length = values.shape[1]
    if values.shape[2] == 1:
        # along the last axis: each row is one chain of dependent operations, so four rows
        # advance together (their chains overlap), the running values in registers
        rows = values.shape[0]
        start = 1.0 if product else 0.0
        first = 0
        while first < rows:
            count = rows - first if rows - first < 4 else 4
            a = b = c = d = start
            for step in range(length):
                row = length - 1 - step if reverse else step
                if product:
                    a *= values[first, row, 0]
                    if count > 1:
                        b *= values[first + 1, row, 0]
                    if count > 2:
                        c *= values[first + 2, row, 0]
                    if count > 3:
                        d *= values[first + 3, row, 0]
                else:
                    a += values[first, row, 0]
                    if count > 1:
                        b += values[first + 1, row, 0]
                    if count > 2:
                        c += values[first + 2, row, 0]
                    if count > 3:
                        d += values[first + 3, row, 0]
                out[first, row, 0] = a
                if count > 1:
                    out[first + 1, row, 0] = b
                if count > 2:
                    out[first + 2, row, 0] = c
                if count > 3:
                    out[first + 3, row, 0] = d
            first += 4
        return
    for outer in range(values.shape[0]):
        for column in range(values.shape[2]):
            running[column] = 1.0 if product else 0.0
        for step in range(length):
            row = length - 1 - step if reverse else step
            for column in range(values.shape[2]):
                if product:
                    running[column] *= values[outer, row, column]
                else:
                    running[column] += values[outer, row, column]
                out[outer, row, column] = running[column]


def _accumulated(values, axis, dtype, product, reverse=False):
    """The cumulative sum or product of a float32/float64 array along ``axis`` in ``dtype``
    (its own), accumulated in float64 as ``_running_dtype`` says; None where the kernel does
    not apply."""
    if (values.dtype != dtype or (dtype != _FLOAT32 and dtype != _FLOAT64) or not values.size
            or values.size < _ACCUMULATE_MIN):
        return None
    kernel = _accumulate_along.compiled()
    if kernel is None:
        return None
    values = np.ascontiguousarray(values)
    shape = values.shape
    outer = math.prod(shape[:axis])
    view = values.reshape(outer, shape[axis], -1)
    out = np.empty(shape, dtype)
    kernel(view, out.reshape(view.shape), np.empty(view.shape[2], np.float64), product, reverse)
    return out


_ACCUMULATE_MIN = 64
_FLOAT64 = np.dtype(np.float64)


class _Cumulative(Op):
    """cumsum and cumprod: integers accumulate in int64, floats as PyTorch does; a 0-d input
    (``axis`` None) comes back as a copy."""
    output_layout = staticmethod(row_major_layout)
    _next_order = (0,)  # PyTorch lists the one tensor input, not the options

    accumulate = None
    saves_operands = False  # whether backward needs the input and the output
    differentiable_backward = True

    @classmethod
    def forward(cls, ctx, x, axis):
        ctx.axis = axis
        out_dtype = np.dtype(np.int64 if x.dtype.kind in "biu" else x.dtype)
        ctx.dtype = out_dtype
        if axis is None:
            return x.astype(out_dtype, copy=True)
        out = _accumulated(x, axis, out_dtype, cls.accumulate is np.cumprod)
        if out is None:
            out = cls.accumulate(x, axis=axis, dtype=_running_dtype(out_dtype))
            out = out.astype(out_dtype, copy=False)
        if cls.saves_operands and ctx.needs_input_grad[0]:
            ctx.save_for_backward(x, out)
        return out


class CumSum(_Cumulative):
    _torch_name = "CumsumBackward0"

    accumulate = staticmethod(np.cumsum)

    @staticmethod
    def backward(ctx, grad):
        if ctx.axis is None:
            return grad, None
        return _reverse_cumsum(ctx.xp, grad, ctx.axis, ctx.dtype), None


class CumProd(_Cumulative):
    """Cumulative products; the gradient is exact where the input has zeros (no division by
    them), and stays differentiable there under create_graph."""

    _torch_name = "CumprodBackward0"

    accumulate = staticmethod(np.cumprod)
    saves_operands = True

    @staticmethod
    def backward(ctx, grad):
        if ctx.axis is None:
            return grad, None
        x, out = ctx.saved_tensors
        xp = ctx.xp
        axis = ctx.axis
        if x.shape[axis] == 1:
            return grad, None  # the identity along a length-1 axis (PyTorch: even for NaN x)
        # complex x: grad times the conjugate derivative, a function of conj(x) and conj(out)
        x, out = complex_parts.conj_of(x), complex_parts.conj_of(out)
        is_zero = _array(x) == 0
        if not is_zero.any():
            # dL/dx_i = sum_{j >= i} g_j out_j / x_i
            return _reverse_cumsum(xp, grad * out, axis, ctx.dtype) / x, None
        if ctx._unpack_as_tensors:
            return _cumprod_backward_with_zeros(xp, grad, x, axis), None
        return _cumprod_backward_first_zero(grad, x, out, axis, is_zero, ctx.dtype), None


def _cumprod_backward_first_zero(grad, x, out, axis, is_zero, dtype):
    """The first-order gradient with zeros, in O(n) on arrays: before a row's first zero it is
    the division formula; at the first zero the running product before it times the weighted
    products after it; after it zero."""
    x = np.moveaxis(x, axis, -1)
    out = np.moveaxis(out, axis, -1)
    grad = np.moveaxis(grad, axis, -1)
    is_zero = np.moveaxis(is_zero, axis, -1)
    size = x.shape[-1]
    has_zero = is_zero.any(axis=-1, keepdims=True)
    first_zero = np.where(has_zero, np.argmax(is_zero, axis=-1)[..., None], size)
    position = np.arange(size)
    with np.errstate(divide="ignore", invalid="ignore"):
        suffix = _reverse_cumsum(np, grad * out, x.ndim - 1, dtype)
        result = np.where(position < first_zero, suffix / np.where(is_zero, 1, x), 0)
    after_zero = np.where(position <= first_zero, 1, x)
    partial = np.cumprod(after_zero, axis=-1, dtype=_running_dtype(dtype)).astype(dtype)
    tail = np.where(position >= first_zero, grad * partial, 0).sum(axis=-1, keepdims=True)
    previous = np.take_along_axis(out, np.clip(first_zero - 1, 0, size - 1), axis=-1)
    previous = np.where(first_zero == 0, 1, previous)
    result = np.where(position == first_zero, previous * tail, result)
    return np.moveaxis(result.astype(dtype, copy=False), -1, axis)


def _cumprod_backward_with_zeros(xp, grad, x, axis):
    """The gradient with zeros as differentiable ops (O(n^2), only under create_graph, as
    PyTorch): dL/dx_i = sum_{j >= i} g_j prod_{k <= j, k != i} x_k, from rows (a new axis at
    ``axis``, the old one after it) in which x_i is replaced by 1."""
    size = x.shape[axis]
    trailing = (1,) * (x.ndim - axis - 1)
    diagonal = np.eye(size, dtype=np.bool_).reshape((size, size) + trailing)  # [i, k]
    upper = np.triu(np.ones((size, size), dtype=np.bool_)).reshape((size, size) + trailing)
    rows = xp.where(diagonal, 1, xp.expand_dims(x, axis))
    products = xp.cumulative_prod(rows, axis=axis + 1)  # [i, j]: prod_{k <= j, k != i} x_k
    weighted = xp.where(upper, products * xp.expand_dims(grad, axis), 0)  # only j >= i
    return xp.sum(weighted, axis=axis + 1)


def _logcumsumexp(values, axis):
    """Running log-sum-exp along ``axis`` of an array, or recorded for a Tensor."""
    if isinstance(values, Tensor):
        return LogCumSumExp.apply(values, axis)
    return np.logaddexp.accumulate(values, axis=axis)


class LogCumSumExp(Op):
    """Its own op for stability: log-space accumulation forward, and a backward that splits the
    gradient by sign so every exponential stays bounded (PyTorch's formula, with the lowest
    finite number for log 0 so that second derivatives stay finite)."""

    output_layout = staticmethod(row_major_layout)
    _next_order = (0,)  # PyTorch lists the one tensor input, not the options
    differentiable_backward = True

    @staticmethod
    def forward(ctx, x, axis):
        ctx.axis = axis
        ctx.dtype = x.dtype
        if axis is None:
            return x.copy()
        work = _widened(x)
        out = np.logaddexp.accumulate(work, axis=axis).astype(x.dtype, copy=False)
        ctx.save_for_backward(x, out)
        return out

    @staticmethod
    def backward(ctx, grad):
        if ctx.axis is None:
            return grad, None
        x, out = ctx.saved_tensors
        xp = ctx.xp
        axis = ctx.axis
        # In float64: the two signed parts cancel, which costs float32 a few digits.
        x, out, grad = [xp.astype(value, np.float64, copy=False) for value in (x, out, grad)]
        lowest = np.finfo(np.float64).min
        nonzero = grad != 0
        log_magnitude = xp.log(xp.where(nonzero, abs(grad), 1)) - out
        positive = xp.where(grad > 0, log_magnitude, lowest)
        negative = xp.where(grad < 0, log_magnitude, lowest)
        with np.errstate(over="ignore", invalid="ignore"):
            result = (xp.exp(x + _reversed(_logcumsumexp(_reversed(positive, axis), axis), axis))
                      - xp.exp(x + _reversed(_logcumsumexp(_reversed(negative, axis), axis),
                                             axis)))
        return xp.astype(result, ctx.dtype, copy=False), None


class VectorNorm(Op):
    """Its own op for the gradient at zero (0, as PyTorch, where sqrt(sum(x^2)) would give NaN).
    The 2-norm's recorded backward masks x / norm after dividing, as PyTorch's: its second
    derivative at a zero norm is NaN (0 / 0) there too."""
    output_layout = staticmethod(row_major_layout)
    _next_order = (0,)  # PyTorch lists the one tensor input, not the options

    _torch_name = "LinalgVectorNormBackward0"

    differentiable_backward = True
    backward_keeps_input = True

    @staticmethod
    def forward(ctx, x, ord, axes, keepdim):
        ctx.ord = ord
        ctx.axes_keepdim = (axes, keepdim)
        work = _widened(x)
        # a real square needs no abs first (the same values, one pass fewer)
        magnitude = work if ord == 2 and work.dtype.kind == "f" else np.abs(work)
        if ord == 2:
            out = np.sqrt(np.sum(magnitude * magnitude, axis=axes, keepdims=keepdim))
        elif ord == 1:
            out = np.sum(magnitude, axis=axes, keepdims=keepdim)
        elif ord == np.inf:
            out = np.max(magnitude, axis=axes, keepdims=keepdim, initial=0)
        elif ord == -np.inf:
            out = np.min(magnitude, axis=axes, keepdims=keepdim)
        elif ord == 0:
            out = np.sum(magnitude != 0, axis=axes, keepdims=keepdim)
        else:
            with np.errstate(divide="ignore"):
                powered = np.sum(magnitude ** ord, axis=axes, keepdims=keepdim)
                out = powered ** (1.0 / ord)
        out = np.asarray(out, dtype=x.dtype)
        if ctx.needs_input_grad[0]:
            ctx.save_for_backward(x, out)
        return out

    @staticmethod
    def backward(ctx, grad):
        ord = ctx.ord
        if ord == 0:  # piecewise constant: PyTorch gives no gradient (None), not zeros
            return None, None, None, None
        xp = ctx.xp
        if xp is np and ord not in (1, np.inf, -np.inf):
            # the scale computed at the norm's shape, broadcast only by the final products
            # (x.norm() of (256, 1024): 628 -> 124 us)
            x, out = ctx.saved_tensors
            axes, keepdim = ctx.axes_keepdim
            return _p_norm_gradient(np, x, _kept_dims(np, np.asarray(grad), axes, keepdim),
                                    _kept_dims(np, out, axes, keepdim), ord), None, None, None
        x, grad, norm = _input_and_expanded(ctx, grad)
        axes = ctx.axes_keepdim[0]
        if ord == 1:
            return _times_sign(xp, grad, x), None, None, None
        if ord in (np.inf, -np.inf):
            # amax of |x|: shared by the elements that reach it (and NaNs, as PyTorch).
            magnitude = np.abs(_array(x))
            hits = (magnitude == _array(norm)) | np.isnan(magnitude)
            with np.errstate(divide="ignore", invalid="ignore"):
                weights = (hits / hits.sum(axis=axes, keepdims=True)).astype(_array(x).dtype)
            return _times_sign(xp, grad * weights, x), None, None, None
        if ord == 2:
            return grad * xp.where(norm == 0, 0, x / norm), None, None, None
        return _p_norm_gradient(xp, x, grad, norm, ord), None, None, None


def _p_norm_gradient(xp, x, grad, norm, ord):
    """The gradient of ||x||_ord (ord not 0, 1 or inf) from ``grad`` and ``norm`` broadcast to
    x: grad / norm^(ord - 1) * sign(x) |x|^(ord - 1), 0 where the norm is 0."""
    norm_is_zero = norm == 0
    safe_norm = xp.where(norm_is_zero, 1, norm)
    scale = xp.where(norm_is_zero, 0, grad / safe_norm ** (ord - 1))
    if ord == 2:
        return x * scale
    # sign(x) |x|^(ord - 1), with |x| kept away from 0 where a negative power would blow up.
    x_is_zero = x == 0
    magnitude = xp.where(x_is_zero, 1, abs(x)) ** (ord - 1)
    return _times_sign(xp, xp.where(x_is_zero, 0, magnitude) * scale, x)


def _times_sign(xp, values, x):
    """``values * sign(x)`` (0 where x is 0 or NaN)."""
    return xp.where(x > 0, values, xp.where(x < 0, -values, 0))


# ---- functional API ------------------------------------------------------------------------------


def _refuse_keepdim(keepdim, operation):
    """PyTorch's argument parser takes only a bool for keepdim."""
    raise TypeError(f"{operation}(): argument 'keepdim' must be bool, not "
                    f"{type(keepdim).__name__}")


def sum(input, dim=None, keepdim=False, dtype=None):
    if keepdim is not False and keepdim is not True:
        _refuse_keepdim(keepdim, "sum")
    axes = _axes(dim, input._data.ndim, "sum")
    out = Sum.apply(input, axes, keepdim, _dtype_argument(dtype, "sum"))
    if dim is None and type(input._data) is np.ndarray:
        return out
    return torch_named(out, "SumBackward1")  # also vmap's sum of a sample: along dims


def mean(input, dim=None, keepdim=False, dtype=None):
    if keepdim is not False and keepdim is not True:
        _refuse_keepdim(keepdim, "mean")
    axes = _axes(dim, input._data.ndim, "mean")
    dtype = _dtype_argument(dtype, "mean")
    if dtype is not None and not is_floating(dtype.numpy) and dtype.numpy.kind != "c":
        raise RuntimeError(f"mean(): could not infer output dtype. Optional dtype must be either "
                           f"a floating point or complex dtype. Got: "
                           f"{scalar_type_name(dtype.numpy)}")
    out = Mean.apply(input, axes, keepdim, dtype)
    if dim is None and type(input._data) is np.ndarray:
        return out
    return torch_named(out, "MeanBackward1")  # also vmap's sum of a sample: along dims


def _correction(unbiased, correction, operation):
    if correction is not None and unbiased is not None:
        raise RuntimeError(f"{operation}: can't specify both unbiased and correction")
    if correction is not None:
        if isinstance(correction, bool) or not isinstance(correction, (int, float, np.number)):
            raise TypeError(f"{operation}(): argument 'correction' must be a number, not "
                            f"{type(correction).__name__}")
        return correction
    if unbiased is None or unbiased is True:
        return 1
    if unbiased is False:
        return 0
    raise TypeError(f"{operation}(): argument 'unbiased' must be bool, not "
                    f"{type(unbiased).__name__}")


def _variance(cls, input, dim, unbiased, keepdim, correction, operation):
    if isinstance(dim, bool):  # var(x, False): the unbiased flag passed positionally
        dim, unbiased = None, dim
    axes = _axes(dim, input._data.ndim, operation)
    full = dim is None or input._data.ndim == 0
    return cls.apply(input, axes, _correction(unbiased, correction, operation), keepdim, full)


def var(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    if isinstance(input, Tensor) and input._data.dtype.kind == "c":
        # a complex tensor's variance is real: that of its real parts plus its imaginary parts'
        return (var(complex_parts.real(input), dim, unbiased, keepdim, correction=correction)
                + var(complex_parts.imag(input), dim, unbiased, keepdim, correction=correction))
    return _variance(Var, input, dim, unbiased, keepdim, correction, "var")


def std(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    if isinstance(input, Tensor) and input._data.dtype.kind == "c":
        return var(input, dim, unbiased, keepdim, correction=correction).sqrt()
    return _variance(Std, input, dim, unbiased, keepdim, correction, "std")


def _check_reducible(input, axes, dim_given, operation, label=None):
    """max/min/amax/amin/argmax have no identity: refuse reducing over an empty dimension
    (``label`` the op's name in the message, ``operation()`` by default)."""
    shape = input._data.shape
    if input._data.size != 0:
        return
    label = f"{operation}()" if label is None else label
    if not dim_given:
        raise RuntimeError(f"{label}: Expected reduction dim to be specified for "
                           f"input.numel() == 0. Specify the reduction dim with the 'dim' "
                           f"argument.")
    for axis in axes:
        if shape[axis] == 0:
            raise IndexError(f"{label}: Expected reduction dim {axis} to have non-zero size.")


def _refuse_complex(data, kernel=None, message=None):
    """PyTorch's refusal of complex input where ordering is needed: its kernel's
    NotImplementedError, or the RuntimeError ``message`` it raises before the kernel."""
    if data.dtype.kind == "c":
        if message is not None:
            raise RuntimeError(message)
        raise NotImplementedError(f'"{kernel}" not implemented for '
                                  f"'{scalar_type_name(data.dtype)}'")


def _extreme(cls, input, dim, keepdim, operation):
    if keepdim is not False and keepdim is not True:
        _refuse_keepdim(keepdim, operation)
    data = input._data
    if type(dim) is int and type(data) is np.ndarray and -data.ndim <= dim < data.ndim and \
            data.size and data.dtype.kind != "c":
        # The common call, max(x, dim) of a non-empty real tensor: the checks below all pass
        axis = dim % data.ndim
        kept = getattr(data, cls.arg_method)(axis=axis, keepdims=True).astype(np.int64,
                                                                              copy=False)
        values = cls.apply(input, (axis,), keepdim, kept, False)
        indices = kept if keepdim else kept.reshape(values._data.shape)
        # A copy: the node may have saved ``kept``, and the caller may change the indices.
        return _VALUES_INDICES[operation]((values, Tensor._result(indices.copy())))
    if input._data.dtype.kind == "c":
        _refuse_complex(input._data, f"{operation}_all" if dim is None else None,
                        None if dim is None else f"{operation}(): does not support complex input")
    if dim is None:
        _check_reducible(input, (), False, operation)
        # max() is PyTorch's MaxBackward1; under vmap a sample's max runs along dims: max.dim's
        overload = 1 if type(input._data) is np.ndarray else 0
        return torch_named(cls.apply(input, _axes(None, input._data.ndim, operation), False, None,
                                     True), f"{cls.__name__}Backward{overload}")
    if not _is_int(dim):
        raise TypeError(f"{operation}(): argument 'dim' must be int, not {type(dim).__name__}")
    axes = _axes(dim, input._data.ndim, operation)
    _check_reducible(input, axes, True, operation)
    if input._data.ndim == 0:
        kept = np.zeros((), dtype=np.int64)
    elif type(input._data) is not np.ndarray:  # a vmap batch: its indices batched too
        kept = ArgExtreme.apply(input, cls.arg_reducer, axes[0], True)
        values = cls.apply(input, axes, keepdim, kept, False)
        return _VALUES_INDICES[operation]((values, kept if keepdim else kept.squeeze(axes[0])))
    else:
        kept = cls.arg_reducer(input._data, axis=axes[0], keepdims=True).astype(np.int64,
                                                                                copy=False)
    values = cls.apply(input, axes, keepdim, kept, False)
    indices = kept if keepdim or input._data.ndim == 0 else np.squeeze(kept, axis=axes[0])
    # A copy: the node may have saved ``kept``, and the caller may change the indices in place.
    return _VALUES_INDICES[operation]((values, Tensor._result(np.array(indices, copy=True))))


def max(input, dim=None, keepdim=False, *, other=None):
    """The largest element, (values, indices) along ``dim``, or the elementwise maximum with
    ``other`` (given in ``dim``'s place or by PyTorch's keyword)."""
    if other is not None:
        return maximum(input, other)
    if isinstance(dim, Tensor):
        return maximum(input, dim)
    return _extreme(Max, input, dim, keepdim, "max")


def min(input, dim=None, keepdim=False, *, other=None):
    """The smallest element, (values, indices) along ``dim``, or the elementwise minimum with
    ``other`` (given in ``dim``'s place or by PyTorch's keyword)."""
    if other is not None:
        return minimum(input, other)
    if isinstance(dim, Tensor):
        return minimum(input, dim)
    return _extreme(Min, input, dim, keepdim, "min")


def amax(input, dim=(), keepdim=False):
    if keepdim is not False and keepdim is not True:
        _refuse_keepdim(keepdim, "amax")
    _refuse_complex(input._data, "max_values_cpu")
    axes = _axes(dim, input._data.ndim, "amax")
    _check_reducible(input, axes, dim not in ((), [], None), "amax")
    return torch_named(Max.apply(input, axes, keepdim, None, False), "AmaxBackward0")


def amin(input, dim=(), keepdim=False):
    if keepdim is not False and keepdim is not True:
        _refuse_keepdim(keepdim, "amin")
    _refuse_complex(input._data, "min_values_cpu")
    axes = _axes(dim, input._data.ndim, "amin")
    _check_reducible(input, axes, dim not in ((), [], None), "amin")
    return torch_named(Min.apply(input, axes, keepdim, None, False), "AminBackward0")


def hash_tensor(input, dim=(), *, keepdim=False, mode=0):
    """torch.hash_tensor (mode 0): the xor of the elements' 64-bit patterns along ``dim`` (floats
    widened to float64, integers and bool to int64), as uint64; it records no gradient."""
    data = input._data
    if mode != 0:
        raise RuntimeError(f"Unknown hash_tensor mode: {mode}")
    if data.dtype.kind == "c" or data.dtype in (np.uint16, np.uint32, np.uint64):
        raise NotImplementedError(f'"xor_sum_cpu" not implemented for '
                                  f"'{scalar_type_name(data.dtype)}'")
    axes = _axes(dim, data.ndim, "hash_tensor")
    _check_reducible(input, axes, dim not in ((), [], None), "hash_tensor", "hash_tensor")
    wide = data.astype(np.float64 if is_floating(data.dtype) else np.int64)
    out = np.bitwise_xor.reduce(wide.view(np.uint64), axis=axes, keepdims=keepdim)
    return Tensor._result(np.asarray(out, dtype=np.uint64))


class ArgExtreme(Op):
    """argmax/argmin along ``axis`` (None: over all elements), an op without a gradient: the
    form ``ember.func.vmap`` batches, used there only (plain arrays go straight to NumPy)."""

    @staticmethod
    def forward(ctx, x, reducer, axis, keepdim):
        if axis is None:
            return np.asarray(reducer(x), dtype=np.int64).reshape((1,) * x.ndim if keepdim
                                                                  else ())
        return np.asarray(reducer(x, axis=axis, keepdims=keepdim), dtype=np.int64)

    @staticmethod
    def backward(ctx, grad):
        return None, None, None, None


def _arg_extreme(reducer, input, dim, keepdim, operation):
    if keepdim is not False and keepdim is not True:
        _refuse_keepdim(keepdim, operation)
    data = input._data
    if dim is not None and not _is_int(dim):
        raise TypeError(f"{operation}(): argument 'dim' must be int, not {type(dim).__name__}")
    if data.dtype == np.bool_:
        raise RuntimeError(f"{operation}(): does not support bool input")
    _refuse_complex(data, message=f"{operation}(): does not support complex input")
    if dim is None:
        if data.size == 0:  # IndexError here, where max() raises RuntimeError (PyTorch)
            raise IndexError(f"{operation}(): Expected reduction dim to be specified for "
                             f"input.numel() == 0.")
        if type(data) is not np.ndarray:  # a vmap batch
            return ArgExtreme.apply(input, reducer, None, keepdim)
        return Tensor._result(np.asarray(reducer(data), dtype=np.int64).reshape(
            (1,) * data.ndim if keepdim else ()))
    axis = _axis(dim, data.ndim, operation)
    _check_reducible(input, () if axis is None else (axis,), True, operation)
    if type(data) is not np.ndarray:  # a vmap batch
        return ArgExtreme.apply(input, reducer, axis, keepdim)
    return Tensor._result(np.asarray(reducer(data, axis=axis, keepdims=keepdim), dtype=np.int64))


def argmax(input, dim=None, keepdim=False):
    return _arg_extreme(np.argmax, input, dim, keepdim, "argmax")


def argmin(input, dim=None, keepdim=False):
    return _arg_extreme(np.argmin, input, dim, keepdim, "argmin")


@autocast_op("prod")
def prod(input, dim=None, keepdim=False, dtype=None):
    if keepdim is not False and keepdim is not True:
        _refuse_keepdim(keepdim, "prod")
    dtype = _dtype_argument(dtype, "prod")
    if dtype is not None:
        input = input.to(dtype)
    axis = None if dim is None else _axis(dim, input._data.ndim, "prod")
    out = Prod.apply(input, axis, keepdim)
    if dtype is not None and out._data.dtype != dtype.numpy:
        # an explicit integral dtype is the result's (products wrap in it, as in int64 first)
        out = Tensor._result(out._data.astype(dtype.numpy))
    if dim is None and type(input._data) is np.ndarray:
        return out
    return torch_named(out, "ProdBackward1")  # also vmap's product of a sample: along a dim


def logsumexp(input, dim, keepdim=False):
    if keepdim is not False and keepdim is not True:
        _refuse_keepdim(keepdim, "logsumexp")
    return LogSumExp.apply(input, _axes(dim, input._data.ndim, "logsumexp"), keepdim)


def _softmax_axis(input, dim, dtype, operation):
    if dim is None:
        raise TypeError(f"{operation}() missing required argument 'dim'")
    if _dtype_argument(dtype, operation) is not None:
        input = input.to(dtype)
    if not is_floating(input._data.dtype):
        # PyTorch's kernel names: the last dim's own kernel, another for any other dim
        axis = _axis(dim, input._data.ndim, operation)
        last = input._data.ndim == 0 or axis == input._data.ndim - 1
        kernel = f"{operation}_lastdim_kernel_impl" if last else f"{operation}_kernel_impl"
        raise NotImplementedError(f"\"{kernel}\" not implemented for "
                                  f"'{scalar_type_name(input._data.dtype)}'")
    return input, _axis(dim, input._data.ndim, operation)


def softmax(input, dim=None, dtype=None):
    if (dtype is None and type(dim) is int and type(input) is Tensor
            and function_module._tracer is None and nothing_recorded(input)):
        out = Softmax.untracked(input._data, dim)
        if out is not None:
            return Tensor._wrap(out)
    input, axis = _softmax_axis(input, dim, dtype, "softmax")
    return Softmax.apply(input, axis)


def log_softmax(input, dim=None, dtype=None):
    if (dtype is None and type(dim) is int and type(input) is Tensor
            and function_module._tracer is None and nothing_recorded(input)):
        out = LogSoftmax.untracked(input._data, dim)
        if out is not None:
            return Tensor._wrap(out)
    input, axis = _softmax_axis(input, dim, dtype, "log_softmax")
    return LogSoftmax.apply(input, axis)


def _truth_reduction(reduction, input, dim, keepdim, operation):
    """all/any: bool, but uint8 for a uint8 input (PyTorch keeps that legacy dtype)."""
    if keepdim is not False and keepdim is not True:
        _refuse_keepdim(keepdim, operation)
    axes = _axes(dim, input._data.ndim, operation)
    out = np.asarray(reduction(input._data, axis=axes, keepdims=keepdim))
    if input._data.dtype == np.uint8:
        out = out.astype(np.uint8)
    return Tensor._result(out)


def all(input, dim=None, keepdim=False):
    return _truth_reduction(np.all, input, dim, keepdim, "all")


def any(input, dim=None, keepdim=False):
    return _truth_reduction(np.any, input, dim, keepdim, "any")


def count_nonzero(input, dim=None):
    axes = _axes(dim, input._data.ndim, "count_nonzero")
    return Tensor._result(np.asarray(np.count_nonzero(input._data, axis=axes), dtype=np.int64))


def cumsum(input, dim, dtype=None):
    if _dtype_argument(dtype, "cumsum") is not None:
        input = input.to(dtype)
    return CumSum.apply(input, _axis(dim, input._data.ndim, "cumsum"))


def cumprod(input, dim, dtype=None):
    if _dtype_argument(dtype, "cumprod") is not None:
        input = input.to(dtype)
    return CumProd.apply(input, _axis(dim, input._data.ndim, "cumprod"))


def logcumsumexp(input, dim):
    if not is_floating(input._data.dtype):
        raise NotImplementedError(f'"logcumsumexp_out_cpu" not implemented for '
                                  f"'{scalar_type_name(input._data.dtype)}'")
    return LogCumSumExp.apply(input, _axis(dim, input._data.ndim, "logcumsumexp"))


def nansum(input, dim=None, keepdim=False, dtype=None):
    """Sum treating NaN as zero (their gradient is zero)."""
    if not is_floating(input._data.dtype):
        return sum(input, dim, keepdim, dtype)
    return NanSum.apply(input, _axes(dim, input._data.ndim, "nansum"), keepdim,
                        _dtype_argument(dtype, "nansum"))


def nanmean(input, dim=None, keepdim=False, dtype=None):
    """Mean over the non-NaN elements."""
    if not is_floating(input._data.dtype):
        if input._data.dtype.kind == "c":
            raise RuntimeError("nansum on CPU does not support complex inputs")
        raise RuntimeError(f"nanmean(): expected input to have floating point or complex dtype "
                           f"but got {scalar_type_name(input._data.dtype)}")
    axes = _axes(dim, input._data.ndim, "nanmean")
    count = np.sum(~np.isnan(input._data), axis=axes, keepdims=keepdim)
    total = nansum(input, dim, keepdim, dtype)
    return total / Tensor._wrap(np.asarray(count, dtype=total._data.dtype))


def var_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    return (var(input, dim, unbiased, keepdim, correction=correction),
            mean(input, dim, keepdim))


def std_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    return (std(input, dim, unbiased, keepdim, correction=correction),
            mean(input, dim, keepdim))


def vector_norm(input, ord=2, dim=None, keepdim=False, dtype=None):
    """The ``ord``-norm of the elements over ``dim`` (all elements when None)."""
    if _dtype_argument(dtype, "linalg.vector_norm") is not None:
        if not (is_floating(input._data.dtype) or input._data.dtype.kind == "c"):
            raise RuntimeError(f"linalg.vector_norm: Expected a floating point or complex tensor "
                               f"as input. Got {scalar_type_name(input._data.dtype)}")
        if not (is_floating(dtype.numpy) or dtype.numpy.kind == "c"):
            raise RuntimeError(f"linalg.vector_norm: dtype should be floating point or complex, "
                               f"but got {scalar_type_name(dtype.numpy)}")
        input = input.to(dtype)
    if input._data.dtype.kind == "c":
        # the norm of the magnitudes (its gradient flows through abs: grad * z / |z|)
        return vector_norm(input.abs(), ord, dim, keepdim)
    if not is_floating(input._data.dtype):
        raise RuntimeError(f"linalg.vector_norm: Expected a floating point or complex tensor as "
                           f"input. Got {scalar_type_name(input._data.dtype)}")
    if not isinstance(ord, (int, float, np.number)):  # (a bool is a number here too)
        raise TypeError(f"linalg_vector_norm(): argument 'ord' (position 2) must be Number, "
                        f"not {type(ord).__name__}")
    axes = _axes(dim, input._data.ndim, "linalg.vector_norm")
    if (ord == np.inf or ord < 0) and input._data.size == 0:
        # the max/min-like norms have no identity for an empty reduction (PyTorch's message,
        # its missing space included)
        label = f"linalg.vector_norm cannot compute the {format(float(ord), 'g')} norm on"
        if dim is None:
            raise RuntimeError(f"{label} an empty tensor because the operation does not have an "
                               f"identity")
        for given in ((dim,) if _is_int(dim) else tuple(dim)):  # printed as given
            if input._data.shape[int(given) % input._data.ndim] == 0:
                raise RuntimeError(f"{label} the dimension {given}because this dimension is "
                                   f"empty and the operation does not have an identity")
    return VectorNorm.apply(input, float(ord), axes, keepdim)


# The nuclear norm needs singular values, above the reductions: ember.ops.decompositions
# registers it here as ``(input, dims, keepdim) -> Tensor``.
nuclear_norm_of = [None]


def norm(input, p="fro", dim=None, keepdim=False, dtype=None):
    """torch.norm: 'fro' (and None) is the 2-norm of the selected elements; numbers as
    vector_norm; 'nuc' the sum of the singular values of the two dims (all, when 2-D)."""
    if p is None or p == "fro":
        p = 2
    elif p == "nuc":
        ndim = input._data.ndim
        if ndim < 2:
            raise RuntimeError("linalg.matrix_norm: The input tensor A must have at least 2 "
                               "dimensions.")
        dims = tuple(range(ndim)) if dim is None else (dim,) if _is_int(dim) else tuple(dim)
        if len(dims) != 2:
            raise RuntimeError(f"linalg.matrix_norm: dim must be a 2-tuple. Got "
                               f"{' '.join(str(axis) for axis in dims)}")
        if dtype is not None:
            input = input.to(dtype)
        return nuclear_norm_of[0](input, dims, keepdim)
    elif isinstance(p, str):  # PyTorch hands other strings to matrix_norm, which refuses them
        raise RuntimeError(f"linalg.matrix_norm: Order {p} not supported.")
    return vector_norm(input, p, dim, keepdim, dtype)


# ---- sorting, order statistics -------------------------------------------------------------------
def _sort_indices(data, axis, descending):
    """Stable sort indices along ``axis`` (NaN largest); descending keeps equal values in order."""
    keys = np.flip(data, axis) if descending else data
    order = _stable_argsort(keys, axis)
    if not descending:
        return order
    return (data.shape[axis] - 1) - np.flip(order, axis)


# Up to this many keys the stable sort itself is quicker than the default sort plus the check
# for ties ((64, 10): 2.4 against 10.4 us).
_SMALL_SORT = 2048


def _stable_argsort(keys, axis):
    """np.argsort(kind="stable"), through NumPy's default sort (vectorised, ~6x faster on
    float32) when that gives the same order: no two keys along ``axis`` equal, nor two NaNs."""
    size = keys.shape[axis]
    if size < 2 or keys.dtype.kind not in "fiu" or keys.size <= _SMALL_SORT:
        return np.argsort(keys, axis=axis, kind="stable")
    ranked = np.sort(keys, axis=axis)
    lead = (slice(None),) * (axis % keys.ndim)
    if (ranked[lead + (slice(1, None),)] == ranked[lead + (slice(None, -1),)]).any() or (
            is_floating(keys.dtype) and np.isnan(ranked[lead + (-2,)]).any()):  # NaNs sort last
        return np.argsort(keys, axis=axis, kind="stable")
    return np.argsort(keys, axis=axis)


class SortIndices(Op):
    """The stable sort order along ``axis`` (its first ``k`` positions unless k is None), an op
    without a gradient: the form ``ember.func.vmap`` batches (plain arrays sort directly)."""

    @staticmethod
    def forward(ctx, x, axis, descending, k):
        indices = _sort_indices(x, axis, descending).astype(np.int64, copy=False)
        if k is None:
            return indices
        return np.ascontiguousarray(np.take(indices, np.arange(k), axis=axis))

    @staticmethod
    def backward(ctx, grad):
        return None, None, None, None


def _take_sorted(input, axis, indices):
    """Values at ``indices`` along ``axis``, differentiable (the gradient scatters back)."""
    if input._data.ndim == 0:
        return input.clone()
    if (type(input) is Tensor and type(input._data) is np.ndarray
            and function_module._tracer is None and nothing_recorded(input)):
        return Tensor._wrap(_gathered(input._data, indices, axis))  # Gather's values, no node
    return Gather.apply(input, axis, indices)


def _selected(input, axis, kept, keepdim, operation):
    """(values, indices) of a selection along ``axis``: ``kept`` holds one int64 position per
    row (size 1 along ``axis``), as median, kthvalue, mode and nanmedian return them."""
    values = _take_sorted(input, axis, kept)
    indices = kept
    if not keepdim:
        values = values.squeeze(axis)
        indices = np.squeeze(kept, axis)
    return _VALUES_INDICES[operation]((values, Tensor._result(np.array(indices, copy=True))))


def _scalar_selection(input, operation):
    """A selection from a 0-d tensor: the value itself, at index 0."""
    return _VALUES_INDICES[operation]((input.clone(), Tensor._result(np.zeros((), np.int64))))


def sort(input, dim=-1, descending=False, *, stable=False):
    """Sorted values and their indices along ``dim`` (always stable; NaN sorts as largest)."""
    _refuse_complex(input._data, message=" Sort does not support complex dtypes on CPU")
    axis = _axis(dim, input._data.ndim, "sort")
    if axis is None:
        return _scalar_selection(input, "sort")
    if type(input._data) is not np.ndarray:  # a vmap batch: its indices batched too
        indices = SortIndices.apply(input, axis, descending, None)
        return _VALUES_INDICES["sort"]((Gather.apply(input, axis, indices), indices))
    indices = _sort_indices(input._data, axis, descending).astype(np.int64, copy=False)
    # laid out as the input, as PyTorch's sort allocates its results (empty_like)
    indices = arrange(indices, preserve_format, like=input._data)
    values = torch_named(_take_sorted(input, axis, indices), "SortBackward0")
    return _VALUES_INDICES["sort"]((values, Tensor._result(indices)))


def argsort(input, dim=-1, descending=False, *, stable=False):
    return sort(input, dim, descending)[1]


def _check_k(k, operation):
    if not _is_int(k):
        raise TypeError(f"{operation}(): argument 'k' must be int, not {type(k).__name__}")


def topk(input, k, dim=-1, largest=True, sorted=True):
    """The ``k`` largest (or smallest) values along ``dim`` and their indices (equal values in
    index order; PyTorch leaves their order unspecified)."""
    _check_k(k, "topk")
    _refuse_complex(input._data, message=" topk does not support complex dtypes on CPU")
    if input._data.dtype == np.bool_:
        raise RuntimeError("topk does not support bool dtypes on CPU")
    ndim = input._data.ndim
    axis = _axis(dim, ndim, "topk")
    size = input._data.shape[axis] if ndim else 1
    if not 0 <= k <= size:
        raise RuntimeError("selected index k out of range")
    if ndim == 0:
        return _scalar_selection(input, "topk")
    if type(input._data) is not np.ndarray:  # a vmap batch: its indices batched too
        indices = SortIndices.apply(input, axis, largest, k)
        return _VALUES_INDICES["topk"]((Gather.apply(input, axis, indices), indices))
    indices = _compiled_top(input._data, axis, k, largest)
    if indices is None:
        indices = _selected_top(input._data, axis, k, largest)
    if indices is None:
        indices = _sort_indices(input._data, axis, largest).astype(np.int64, copy=False)
        indices = np.ascontiguousarray(np.take(indices, np.arange(k), axis=axis))
    values = torch_named(_take_sorted(input, axis, indices), "TopkBackward0")
    return _VALUES_INDICES["topk"]((values, Tensor._result(indices)))


_TOP_DTYPES = tuple(np.dtype(name) for name in ("float32", "float64", "int64", "int32", "int16",
                                                 "int8", "uint8"))


@_jit.kernel
def _top_rows(rows, k, largest, out):
    # per row, the k best so far in ``out`` (best first): a value enters only if it beats the
    # worst kept one, so a row costs about one comparison per element. Better: larger (smaller
    # when not largest) with NaN as the largest value; equal values keep index order.
    kept_values = np.empty(k, rows.dtype)
    for row in range(rows.shape[0]):
        count = 0
        for column in range(rows.shape[1]):
            value = rows[row, column]
            if count == k:
                worst = kept_values[k - 1]
                if largest:
                    better = value > worst or (value != value and worst == worst)
                else:
                    better = value < worst or (value == value and worst != worst)
                if not better:
                    continue
                position = k - 1
            else:
                position = count
                count += 1
            while position > 0:
                previous = kept_values[position - 1]
                if largest:
                    better = value > previous or (value != value and previous == previous)
                else:
                    better = value < previous or (value == value and previous != previous)
                if not better:
                    break
                kept_values[position] = previous
                out[row, position] = out[row, position - 1]
                position -= 1
            kept_values[position] = value
            out[row, position] = column


def _compiled_top(data, axis, k, largest):
    """topk's indices by the compiled row kernel (one pass over each row, an insertion into the
    k kept): the same indices as _sort_indices' first k. None without numba, or where k is
    large enough that the insertions cost more than a sort."""
    size = data.shape[axis]
    if not k or (k > 32 and 8 * k > size) or data.dtype not in _TOP_DTYPES:
        return None
    kernel = _top_rows.compiled()
    if kernel is None:
        return None
    last = axis == data.ndim - 1
    rows = np.ascontiguousarray(data if last else np.moveaxis(data, axis, -1))
    flat = rows.reshape(-1, size)
    out = np.empty((flat.shape[0], k), np.int64)
    kernel(flat, k, largest, out)
    out = out.reshape(rows.shape[:-1] + (k,))
    return out if last else np.ascontiguousarray(np.moveaxis(out, -1, axis))


def _selected_top(data, axis, k, largest):
    """topk's indices (k along ``axis``, in _sort_indices' order: by value, equal values in
    index order) without sorting whole rows: a partition finds each row's k-th value, the
    values beyond it and the first equal ones by index make the k, and only those are sorted
    (top 50 of a 50k vocabulary: 3.4 ms -> ~0.3 ms). None where a full sort is as cheap (short
    rows, k near the row length) or NaNs need its ordering."""
    size = data.shape[axis]
    if size < 256 or 4 * k > size or not k or data.dtype.kind not in "fiu":
        return None
    rows = np.moveaxis(data, axis, -1)
    if data.dtype.kind == "f" and np.isnan(rows).any():
        return None
    flat = rows.reshape(-1, size)
    position = size - k if largest else k - 1
    threshold = np.partition(flat, position, axis=1)[:, position:position + 1]
    beyond = flat > threshold if largest else flat < threshold
    equal = flat == threshold
    # the first (k - beyond) equal values of each row, by index
    wanted = k - np.count_nonzero(beyond, axis=1, keepdims=True)
    chosen = beyond | (equal & (np.cumsum(equal, axis=1) <= wanted))
    columns = (np.flatnonzero(chosen) % size).reshape(-1, k)  # each row has exactly k
    candidates = np.take_along_axis(flat, columns, axis=1)
    order = _sort_indices(candidates, 1, largest)
    columns = np.take_along_axis(columns, order, axis=1).astype(np.int64, copy=False)
    columns = columns.reshape(rows.shape[:-1] + (k,))
    return np.ascontiguousarray(np.moveaxis(columns, -1, axis))


def _ranked_index(data, axis, rank):
    """The index at position ``rank`` of the stable ascending sort along ``axis`` (size 1 there,
    int64), without sorting: a partition gives the value there, and among the elements equal
    to it the one the stable order puts at ``rank`` is the (rank - smaller)-th by index. Rows
    holding NaN give an arbitrary index: the callers replace them."""
    size = data.shape[axis]
    last = axis == data.ndim - 1
    moved = data if last else np.moveaxis(data, axis, -1)
    rows = moved.reshape(-1, size)
    value = np.partition(rows, rank, axis=1)[:, rank:rank + 1]
    smaller = np.count_nonzero(rows < value, axis=1)
    equal = rows == value
    occurrence = np.cumsum(equal, axis=1)
    chosen = np.argmax(equal & (occurrence == (rank - smaller + 1)[:, None]), axis=1)
    chosen = chosen.astype(np.int64).reshape(moved.shape[:-1] + (1,))
    return chosen if last else np.moveaxis(chosen, -1, axis)


def median(input, dim=None, keepdim=False):
    """The lower median (PyTorch's: no averaging of the middle pair); NaN if any is NaN. Over
    all elements the gradient is shared by the elements equal to the median, as PyTorch does;
    along a dim it goes to the returned index."""
    data = input._data
    if dim is None:
        _refuse_bool_median(data, "median_cpu")
        return Median.apply(input, tuple(range(data.ndim)), False, None, True)
    axis = _axis(dim, data.ndim, "median")
    _refuse_bool_median(data, "median_out")
    if axis is None:
        return _scalar_selection(input, "median")
    _check_reducible(input, (axis,), True, "median")
    kept = _ranked_index(data, axis, (data.shape[axis] - 1) // 2)
    if is_floating(data.dtype):
        has_nan = np.isnan(data).any(axis=axis, keepdims=True)
        first_nan = np.argmax(np.isnan(data), axis=axis, keepdims=True)
        kept = np.where(has_nan, first_nan, kept)
    kept = kept.astype(np.int64, copy=False)
    return _selected(input, axis, kept, keepdim, "median")


def _refuse_bool_median(data, kernel):
    if data.dtype == np.bool_ or data.dtype.kind == "c":
        raise NotImplementedError(f"\"{kernel}\" not implemented for "
                                  f"'{scalar_type_name(data.dtype)}'")


def nanmedian(input, dim=None, keepdim=False):
    """The lower median of the non-NaN values (NaN only when all are NaN)."""
    data = input._data
    if not is_floating(data.dtype) or not np.isnan(data).any():
        result = median(input, dim, keepdim)
        return result if dim is None else _VALUES_INDICES["nanmedian"](result)
    if dim is None:
        return NanMedian.apply(input, tuple(range(data.ndim)), False, None, True)
    axis = _axis(dim, data.ndim, "nanmedian")
    order = _sort_indices(data, axis, False)  # NaN sorts last
    counts = np.sum(~np.isnan(data), axis=axis, keepdims=True)
    middle = np.maximum(counts - 1, 0) // 2
    kept = np.take_along_axis(order, middle, axis=axis).astype(np.int64)
    return _selected(input, axis, kept, keepdim, "nanmedian")


def _greater_or_nan(a, b):
    """PyTorch's selection order: NaN above every number."""
    return (a != a and b == b) or a > b


def _quickselect_index(values, k):
    """The index PyTorch's CPU quickselect (median-of-three pivot, Hoare partition) leaves at
    position ``k`` of ``values``: which of several equal k-th values kthvalue returns."""
    values = list(values)
    positions = list(range(len(values)))

    def swap(first, second):
        values[first], values[second] = values[second], values[first]
        positions[first], positions[second] = positions[second], positions[first]

    low, high = 0, len(values) - 1
    while high > low:
        if high == low + 1:
            if _greater_or_nan(values[low], values[high]):
                swap(low, high)
            break
        swap(low + (high - low) // 2, low + 1)
        if _greater_or_nan(values[low + 1], values[high]):
            swap(low + 1, high)
        if _greater_or_nan(values[low], values[high]):
            swap(low, high)
        if _greater_or_nan(values[low + 1], values[low]):
            swap(low + 1, low)
        pivot = values[low]
        left, right = low + 1, high
        while True:
            left += 1
            while _greater_or_nan(pivot, values[left]):
                left += 1
            right -= 1
            while _greater_or_nan(values[right], pivot):
                right -= 1
            if right < left:
                break
            swap(left, right)
        swap(low, right)
        if right <= k:
            low = left
        if right >= k:
            high = right - 1
    return positions[k]


def kthvalue(input, k, dim=-1, keepdim=False):
    """The ``k``-th smallest value along ``dim`` and its index; among equal values the one
    PyTorch's selection returns."""
    _check_k(k, "kthvalue")
    data = input._data
    axis = _axis(dim, data.ndim, "kthvalue")
    _refuse_bool_median(data, "kthvalue_cpu")
    size = data.shape[axis] if data.ndim else 1
    if size == 0:
        raise IndexError(f"kthvalue(): Expected reduction dim {axis} to have non-zero size.")
    if not 1 <= k <= size:
        raise RuntimeError(f"kthvalue(): selected number k out of range for dimension "
                           f"{0 if axis is None else axis}")
    if data.ndim == 0:
        return _scalar_selection(input, "kthvalue")
    kept = _ranked_index(data, axis, k - 1)
    rows = np.moveaxis(data, axis, -1).reshape(-1, size)
    chosen = np.moveaxis(kept, axis, -1).reshape(-1)
    kth = rows[np.arange(rows.shape[0]), chosen][:, None]
    equal = rows == kth
    if is_floating(data.dtype):
        equal |= np.isnan(rows) & np.isnan(kth)
    for row in np.flatnonzero(equal.sum(axis=1) > 1):  # ties: follow PyTorch's quickselect
        chosen[row] = _quickselect_index(rows[row].tolist(), k - 1)
    kept = np.moveaxis(chosen.reshape(np.moveaxis(kept, axis, -1).shape), -1, axis)
    values, indices = _selected(input, axis, np.ascontiguousarray(kept), keepdim, "kthvalue")
    return _VALUES_INDICES["kthvalue"]((torch_named(values, "KthvalueBackward0"), indices))


def mode(input, dim=-1, keepdim=False):
    """The most frequent value along ``dim`` (the smallest among equally frequent ones) and the
    index of its last occurrence."""
    data = input._data
    _refuse_complex(data, "mode_cpu")
    axis = _axis(dim, data.ndim, "mode")
    if axis is None:
        return _scalar_selection(input, "mode")
    size = data.shape[axis]
    if size == 0:
        raise IndexError(f"mode(): Expected reduction dim {axis} to have non-zero size.")
    order = np.moveaxis(_sort_indices(data, axis, False), axis, -1)
    ordered = np.take_along_axis(np.moveaxis(data, axis, -1), order, axis=-1)
    positions = np.arange(size)
    same_as_previous = np.concatenate(
        [np.zeros(ordered.shape[:-1] + (1,), np.bool_), ordered[..., 1:] == ordered[..., :-1]], -1)
    same_as_next = np.concatenate(
        [same_as_previous[..., 1:], np.zeros(ordered.shape[:-1] + (1,), np.bool_)], -1)
    # Each sorted position's run of equal values: where it starts and ends.
    starts = np.maximum.accumulate(np.where(same_as_previous, 0, positions), axis=-1)
    ends = np.flip(np.minimum.accumulate(np.flip(np.where(same_as_next, size, positions), -1),
                                         axis=-1), -1)
    best = np.argmax(ends - starts, axis=-1)[..., None]  # first (smallest) longest run
    last = np.take_along_axis(ends, best, axis=-1)
    # A stable sort keeps equal values in input order: the run's end is the last occurrence.
    kept = np.moveaxis(np.take_along_axis(order, last, axis=-1), -1, axis).astype(np.int64)
    return _selected(input, axis, kept, keepdim, "mode")


def msort(input):
    return sort(input, 0)[0]


@_jit.kernel
def _running_extreme_indices(rows, largest, out):
    # per row, where the running extreme (np.maximum/np.minimum.accumulate, NaN sticking) was
    # last attained: the element equals it (ties take the later index) or is NaN
    for row in range(rows.shape[0]):
        running = rows[row, 0]
        out[row, 0] = 0
        last = 0
        for column in range(1, rows.shape[1]):
            value = rows[row, column]
            # NumPy's rule: keep the running value when it wins the comparison or is NaN
            if largest:
                if not (running >= value or running != running):
                    running = value
            elif not (running <= value or running != running):
                running = value
            if value == running or value != value:
                last = column
            out[row, column] = last


def _compiled_extreme_indices(data, axis, largest):
    """_cumulative_extreme's indices by the compiled row kernel (one pass, where NumPy's takes
    two accumulates and three masks over rows), or None."""
    if data.dtype not in _TOP_DTYPES or not data.size:
        return None
    kernel = _running_extreme_indices.compiled()
    if kernel is None:
        return None
    last = axis == data.ndim - 1
    rows = np.ascontiguousarray(data if last else np.moveaxis(data, axis, -1))
    out = np.empty(rows.shape, np.int64)
    kernel(rows.reshape(-1, rows.shape[-1]), largest, out.reshape(-1, rows.shape[-1]))
    return out if last else np.ascontiguousarray(np.moveaxis(out, -1, axis))


def _cumulative_extreme(input, dim, accumulate, operation):
    data = input._data
    _refuse_complex(data, f"{operation}_cpu")
    axis = _axis(dim, data.ndim, operation)
    if axis is None:
        return _scalar_selection(input, operation)
    indices = _compiled_extreme_indices(data, axis, operation == "cummax")
    if indices is not None:
        return _VALUES_INDICES[operation]((Gather.apply(input, axis, indices),
                                           Tensor._result(indices)))
    running = accumulate(data, axis=axis)
    shape = [1] * data.ndim
    shape[axis] = data.shape[axis]
    positions = np.arange(data.shape[axis]).reshape(shape)
    # The running extreme was last attained at the latest position where the element equals it
    # (ties take the later index, as PyTorch).
    reached = np.where(data == running, positions, 0)
    if is_floating(data.dtype):
        reached = np.where(np.isnan(data), positions, reached)
    # row-major whatever the input's layout, as PyTorch allocates the results
    indices = np.ascontiguousarray(np.maximum.accumulate(reached, axis=axis), dtype=np.int64)
    return _VALUES_INDICES[operation]((Gather.apply(input, axis, indices),
                                       Tensor._result(indices)))


def cummax(input, dim):
    return _cumulative_extreme(input, dim, np.maximum.accumulate, "cummax")


def cummin(input, dim):
    return _cumulative_extreme(input, dim, np.minimum.accumulate, "cummin")


def quantile(input, q, dim=None, keepdim=False, *, interpolation="linear"):
    """The ``q``-quantiles along ``dim`` (of all elements when None), interpolating between the
    two nearest ranks (differentiable through the selected values); NaN where a NaN is among
    the values."""
    return _quantile(input, q, dim, keepdim, interpolation, "quantile")


def nanquantile(input, q, dim=None, keepdim=False, *, interpolation="linear"):
    """``quantile`` of the values that are not NaN (NaN where all of them are)."""
    return _quantile(input, q, dim, keepdim, interpolation, "nanquantile")


def _quantile(input, q, dim, keepdim, interpolation, operation):
    """quantile and nanquantile: ranks computed in the input's dtype as PyTorch computes them,
    the two nearest sorted values gathered for every level at once and interpolated. (Both
    report errors as ``quantile()``, as PyTorch does.)"""
    if interpolation not in ("linear", "lower", "higher", "nearest", "midpoint"):
        raise RuntimeError(f"quantile() interpolation must be one of linear, lower, higher, "
                           f"midpoint or nearest, but got {interpolation}")
    dtype = input._data.dtype
    if dtype not in (np.float32, np.float64):
        raise RuntimeError("quantile() input tensor must be either float or double dtype")
    if input._data.size == 0:
        raise RuntimeError("quantile() input tensor must be non-empty")
    scalar_q = not isinstance(q, Tensor)
    if not scalar_q:
        if q._data.ndim > 1:
            raise RuntimeError("quantile() q must be a scalar or 1D tensor")
        if q._data.dtype != dtype:
            raise RuntimeError("quantile() q tensor must be same dtype as the input tensor")
    levels = np.asarray(q._data if isinstance(q, Tensor) else q, np.float64)
    if scalar_q and not 0 <= levels <= 1:
        raise RuntimeError(f"quantile() q must be in the range [0, 1] but got {q}")
    if ((levels < 0) | (levels > 1)).any():
        raise RuntimeError("quantile() q values must be in the range [0, 1]")
    levels = levels.reshape(-1).astype(dtype)
    ndim = input._data.ndim
    if dim is None or ndim == 0:
        if dim is not None:
            _normalize_dim(dim, ndim)
        values = input.reshape(-1)
    else:
        axis = _normalize_dim(dim, ndim)
        values = input.movedim(axis, -1)
    ordered = sort(values, -1)[0]  # NaN sorts last
    nan = np.isnan(ordered._data)
    last = ordered._data.shape[-1] - 1
    level_shape = (-1,) + (1,) * ordered._data.ndim
    if operation == "nanquantile":
        valid = (~nan).sum(-1, keepdims=True) - 1
        ranks = levels.reshape(level_shape) * valid.astype(dtype)
        ranks = np.where(ranks < 0, 0, ranks).astype(dtype)
        rank_slope, rank_fixed = valid, valid < 0
    else:
        ranks = levels.reshape(level_shape) * dtype.type(last)
        ranks = np.where(nan.any(-1, keepdims=True), dtype.type(last), ranks).astype(dtype)
        rank_slope, rank_fixed = last, nan.any(-1, keepdims=True)
    if interpolation == "lower":
        ranks = np.floor(ranks)
    elif interpolation == "higher":
        ranks = np.ceil(ranks)
    elif interpolation == "nearest":
        ranks = np.round(ranks)  # half to even, as PyTorch
    below = ranks.astype(np.int64)
    stacked = ordered.unsqueeze(0).expand((levels.size,) + ordered._data.shape)
    result = stacked.gather(-1, Tensor._wrap(below))
    if interpolation in ("linear", "midpoint"):
        weights = np.full_like(ranks, 0.5) if interpolation == "midpoint" else ranks - below
        weights = Tensor._wrap(weights.astype(dtype))
        if interpolation == "linear" and not scalar_q and q.requires_grad:
            # The rank's fraction moves with q, except where the rank is fixed (selected away,
            # so that a NaN row sends no NaN to q); added as moving - moving.detach(), zero in
            # value, so the weights stay exact.
            moving = q.reshape(level_shape) * Tensor._wrap(np.asarray(rank_slope, dtype))
            moving = where(Tensor._wrap(np.broadcast_to(rank_fixed, ranks.shape)), 0.0, moving)
            weights = weights + (moving - moving.detach())
        above = stacked.gather(-1, Tensor._wrap(np.ceil(ranks).astype(np.int64)))
        result = lerp(result, above, weights)
    result = result.squeeze(-1)
    if keepdim:
        if dim is None:
            result = result.reshape((levels.size,) + (1,) * ndim)
        elif ndim:
            result = result.unsqueeze(axis + 1)
    return result[0] if scalar_q else result


def _unique_axis(data, dim, operation):
    """unique's and unique_consecutive's ``dim`` as an axis, refused as PyTorch refuses it."""
    if data.ndim == 0:
        raise IndexError(f"Dimension specified as {dim} but tensor has no dimensions")
    axis = _axis(dim, data.ndim, operation)
    if builtins.any(size == 0 for position, size in enumerate(data.shape) if position != axis):
        raise RuntimeError("There are 0 sized dimensions, and they aren't selected, so unique "
                           "cannot be applied")
    return axis


def _refuse_complex_unique(data, kernel):
    if data.dtype.kind == "c":
        raise NotImplementedError(f'"{kernel}" not implemented for '
                                  f"'{scalar_type_name(data.dtype)}'")


def unique(input, sorted=True, return_inverse=False, return_counts=False, dim=None):
    """The distinct values (always sorted), optionally the inverse map and the counts."""
    data = input._data
    _refuse_complex_unique(data, "unique" if dim is None else "unique_dim")
    if dim is not None:
        dim = _unique_axis(data, dim, "unique")
    # PyTorch keeps every NaN apart (NumPy merges them by default)
    values, inverse, counts = np.unique(data, return_inverse=True, return_counts=True, axis=dim,
                                        equal_nan=dim is not None)
    operation, node = ("_unique2", "Unique2Backward0") if dim is None else \
        ("unique_dim", "UniqueDimBackward0")
    results = [recorded_refusing(Tensor._result(values), node, (
        NotImplementedError, f"the derivative for '{operation}' is not implemented."), input)]
    if return_inverse:
        shape = data.shape if dim is None else (data.shape[dim],)
        results.append(Tensor._result(inverse.reshape(shape).astype(np.int64)))
    if return_counts:
        results.append(Tensor._result(counts.astype(np.int64)))
    return results[0] if len(results) == 1 else tuple(results)


def aminmax(input, *, dim=None, keepdim=False):
    if dim is not None and not _is_int(dim):
        raise TypeError(f"aminmax(): argument 'dim' must be int, not {type(dim).__name__}")
    axes = () if dim is None else dim
    _refuse_complex(input._data, "aminmax_cpu")
    if input._data.size == 0:
        if dim is None:
            raise RuntimeError("aminmax(): cannot compute aminmax over an empty dimension as the "
                               "operation has no identity.")
        axis = _axis(dim, input._data.ndim, "aminmax")
        if input._data.ndim and input._data.shape[axis] == 0:
            raise IndexError(f"aminmax: Expected reduction dim {axis} to have non-zero size.")
    return _MinMax((amin(input, axes, keepdim), amax(input, axes, keepdim)))


def trapezoid(y, x=None, *, dx=None, dim=-1):
    """The trapezoid rule along ``dim``, with sample points ``x`` or a constant spacing ``dx``."""
    axis = _axis(dim, y._data.ndim, "trapezoid")
    length = y._data.shape[axis]
    if length == 0:
        return sum(y, axis)
    return _trapezoid_rule(y, x, dx, axis, length - 1, sum)


def _trapezoid_rule(y, x, dx, axis, pairs, accumulate):
    """trapezoid / cumulative_trapezoid: ``accumulate`` (sum or cumsum) of the first ``pairs``
    neighbour sums along ``axis``, times half the spacing (from ``x``, else ``dx``, else 1)."""
    pair_sums = narrow(y, axis, 1, pairs) + narrow(y, axis, 0, pairs)
    if x is not None:
        spacing = diff(x, dim=-1 if x._data.ndim == 1 else axis)
        if x._data.ndim == 1:
            shape = [1] * y._data.ndim
            shape[axis] = y._data.shape[axis] - 1
            spacing = spacing.reshape(shape)
        return accumulate(pair_sums * spacing, axis) / 2
    return accumulate(pair_sums, axis) * ((1.0 if dx is None else dx) / 2)


def cov(input, *, correction=1, fweights=None, aweights=None):
    """The covariance matrix of the rows (variables) over the columns (observations), each
    observation weighted by ``fweights`` (integer repeats) times ``aweights`` (importance)."""
    if input._data.ndim > 2:
        raise _more_than_two_dims("cov", input)
    data = input if input._data.ndim == 2 else input.reshape(1, -1)
    if not is_floating(data._data.dtype):
        data = data.to(get_default_dtype())
    observations = data._data.shape[1]
    weights = None
    for name, given, integral in (("fweights", fweights, True), ("aweights", aweights, False)):
        if given is None:
            continue
        _check_cov_weights(name, given, integral, observations)
        weights = given if weights is None else weights * given
    if weights is None:
        centered = data - mean(data, 1, keepdim=True)
        weighted = centered
        norm_factor = observations - correction
    else:
        weight_sum = sum(weights)
        centered = data - (sum(data * weights, 1) / weight_sum).reshape(-1, 1)
        weighted = centered * weights
        if aweights is not None and correction != 0:
            norm_factor = weight_sum - correction * sum(weights * aweights) / weight_sum
        else:
            norm_factor = weight_sum - correction
    if float(norm_factor) <= 0:
        warnings.warn("cov(): degrees of freedom is <= 0. Correction should be strictly less "
                      "than the number of observations.", UserWarning, stacklevel=2)
        norm_factor = norm_factor * 0
    # PyTorch squeezes every unit dimension: one variable gives a 0-d variance
    return ((centered @ weighted.t()) / norm_factor).squeeze()


def _check_cov_weights(name, weights, integral, observations):
    data = weights._data
    if data.ndim > 1:
        raise RuntimeError(f"cov(): expected {name} to have one or fewer dimensions but got "
                           f"{name} with {data.ndim} dimensions")
    if integral and not np.issubdtype(data.dtype, np.integer):
        raise RuntimeError(f"cov(): expected {name} to have integral dtype but got {name} with "
                           f"{scalar_type_name(data.dtype)} dtype")
    if not integral and not is_floating(data.dtype):
        raise RuntimeError(f"cov(): expected {name} to have floating point dtype but got {name} "
                           f"with {scalar_type_name(data.dtype)} dtype")
    if data.size != observations:
        raise RuntimeError(f"cov(): expected {name} to have the same numel as there are "
                           f"observations in the input but got {data.size} != {observations}")
    if data.size and data.min() < 0:
        raise RuntimeError(f"cov(): {name} cannot be negative")


def _more_than_two_dims(operation, input):
    return RuntimeError(f"{operation}(): expected input to have two or fewer dimensions but got "
                        f"an input with {input._data.ndim} dimensions")


def corrcoef(input):
    """Pearson correlation coefficients of the rows, clipped to [-1, 1]."""
    if input._data.ndim > 2:
        raise _more_than_two_dims("corrcoef", input)
    covariance = cov(input)
    if covariance._data.ndim == 0:
        return covariance / covariance
    spread = covariance.diagonal().sqrt()
    out = covariance / spread.reshape(-1, 1) / spread.reshape(1, -1)
    return out.clamp(-1, 1)


def histc(input, bins=100, min=0, max=0):
    """Counts in ``bins`` equal-width bins over [min, max] (the data's range when both are 0)."""
    data = input._data
    if not is_floating(data.dtype):
        raise NotImplementedError(f'"histogram_cpu" not implemented for '
                                  f"'{scalar_type_name(data.dtype)}'")
    if not _is_int(bins):
        raise TypeError(f"histc(): argument 'bins' must be int, not {type(bins).__name__}")
    if bins <= 0:
        raise RuntimeError(f"{repr_prefix()}.histogram(): bins must be > 0, but got {bins} for "
                           f"dimension 0")
    low, high = float(min), float(max)
    if low == high and data.size:
        low, high = float(data.min()), float(data.max())
    if low == high:
        low, high = low - 1, high + 1
    if low > high:
        raise RuntimeError("torch.histc: max must be larger than min")
    if not (np.isfinite(low) and np.isfinite(high)):
        raise RuntimeError(f"torch.histc: range of [{low:g}, {high:g}] is not finite")
    counts, _ = np.histogram(data, bins=bins, range=(low, high))
    return Tensor._result(counts.astype(data.dtype))


def unique_consecutive(input, return_inverse=False, return_counts=False, dim=None):
    """Collapse runs of equal consecutive values (of the flattened input when dim is None), or
    of equal consecutive slices along ``dim``."""
    _refuse_complex_unique(input._data, "unique")
    if dim is None:
        slices = input._data.reshape(-1, 1)
        inverse_shape = input._data.shape
    else:
        axis = _unique_axis(input._data, dim, "unique_consecutive")
        moved = np.moveaxis(input._data, axis, 0)
        slices = moved.reshape(moved.shape[0], int(np.prod(moved.shape[1:])))
        inverse_shape = (moved.shape[0],)
    starts = np.ones(slices.shape[0], np.bool_)
    starts[1:] = (slices[1:] != slices[:-1]).any(axis=1)
    if dim is None:
        values = input._data.reshape(-1)[starts]
    else:
        values = np.moveaxis(moved[starts], 0, axis)
    results = [recorded_refusing(
        Tensor._result(np.ascontiguousarray(values)), "UniqueConsecutiveBackward0",
        (NotImplementedError, "the derivative for 'unique_consecutive' is not implemented."),
        input)]
    if return_inverse:
        results.append(Tensor._result((np.cumsum(starts) - 1).reshape(inverse_shape)
                                      .astype(np.int64)))
    if return_counts:
        boundaries = np.append(np.flatnonzero(starts), slices.shape[0])
        results.append(Tensor._result(np.diff(boundaries).astype(np.int64)))
    return results[0] if len(results) == 1 else tuple(results)


def cumulative_trapezoid(y, x=None, *, dx=None, dim=-1):
    """Running trapezoid-rule integrals along ``dim`` (one fewer element than ``y``)."""
    axis = _axis(dim, y._data.ndim, "cumulative_trapezoid")
    pairs = builtins.max(y._data.shape[axis] - 1, 0)
    return _trapezoid_rule(y, x, dx, axis, pairs, cumsum)


def renorm(input, p, dim, maxnorm):
    """``input`` with each slice along ``dim`` whose ``p``-norm exceeds ``maxnorm`` scaled to
    norm ``maxnorm`` (by PyTorch's factor ``maxnorm / (norm + 1e-7)``); differentiable through
    the norm."""
    ndim = input._data.ndim
    if ndim < 2:
        raise RuntimeError(f"renorm: input needs at least 2 dimensions, got {ndim} dimensions")
    if not p > 0:
        raise RuntimeError("renorm: non-positive-norm not supported")
    if maxnorm < 0:
        raise RuntimeError(f"renorm: expected maxnorm to be >= 0 but got {maxnorm}")
    axis = _normalize_dim(dim, ndim)
    others = tuple(position for position in builtins.range(ndim) if position != axis)
    norms = vector_norm(input, p, others, keepdim=True)
    dtype = input._data.dtype
    factor = maxnorm / (norms + dtype.type(1e-7))
    scale = where(norms > maxnorm, factor, Tensor._wrap(np.ones((), dtype)))
    return input * scale


def linspace_array(start, end, steps, numpy_dtype):
    """``steps`` values from ``start`` to ``end`` as PyTorch's linspace kernel makes them: the
    step in the output dtype; the first half steps up from start, the second half down from end
    (both ends exact), each value a fused multiply-add (emulated in a wider type, then rounded
    once)."""
    if steps == 1 or numpy_dtype.kind != "f":
        return np.linspace(start, end, steps, dtype=np.float64).astype(numpy_dtype)
    kind = numpy_dtype.type
    wide = np.float64 if numpy_dtype == np.float32 else np.longdouble
    step = wide((kind(end) - kind(start)) / kind(steps - 1))
    index = np.arange(steps).astype(wide)
    halfway = steps // 2
    return np.where(index < halfway, wide(kind(start)) + step * index,
                    wide(kind(end)) - step * (wide(steps - 1) - index)).astype(numpy_dtype)


# The C++ names PyTorch's histogram messages give dtypes.
_C_TYPE_NAMES = {"float16": "c10::Half", "bfloat16": "c10::BFloat16", "float32": "float",
                 "float64": "double"}


def _histogram_edges(values, bins, bounds, dimension, dtype):
    """One dimension's bin edges: a 1-D ``bins`` tensor as given, else ``bins`` equal-width
    bins over ``bounds`` (the values' own range when None, widened by 1/2 when empty)."""
    if isinstance(bins, Tensor):
        if bins._data.ndim != 1:
            raise RuntimeError(f"torch.histogramdd: bins tensor should have one dimension, but "
                               f"got {bins._data.ndim} dimensions in the bins tensor for "
                               f"dimension {dimension}")
        return bins._data.astype(dtype, copy=True)
    if not _is_int(bins):
        raise TypeError(f"histogram(): argument 'bins' must be int or Tensor, not "
                        f"{type(bins).__name__}")
    if bins <= 0:
        raise RuntimeError(f"torch.histogram(): bins must be > 0, but got {bins} for "
                           f"dimension {dimension}")
    if bounds is not None:
        low, high = (float(bound) for bound in bounds)
    elif values.size:
        low, high = float(values.min()), float(values.max())
    else:
        low, high = 0.0, 1.0
    if low > high:
        raise RuntimeError(f"torch.histogramdd: min should not exceed max, but got min "
                           f"{low:g} max {high:g} for dimension {dimension}")
    if not (np.isfinite(low) and np.isfinite(high)):
        raise RuntimeError(f"torch.histogramdd: dimension {dimension}'s range [{low:g}, "
                           f"{high:g}] is not finite")
    if low == high:
        low, high = low - 0.5, high + 0.5
    return linspace_array(low, high, bins + 1, dtype)


def _check_histogram_inputs(data, weight, sample_shape):
    if not is_floating(data.dtype):
        raise NotImplementedError(f'"histogramdd" not implemented for '
                                  f"'{scalar_type_name(data.dtype)}'")
    if weight is None:
        return None
    if weight._data.dtype != data.dtype:
        raise RuntimeError(f"torch.histogramdd: if weight tensor is provided, input tensor "
                           f"and weight tensor should have the same dtype, but got "
                           f"input({_C_TYPE_NAMES.get(data.dtype.name)}), and "
                           f"weight({_C_TYPE_NAMES.get(weight._data.dtype.name)})")
    if weight._data.shape != sample_shape:
        raise RuntimeError(f"torch.histogramdd: if weight tensor is provided it should have "
                           f"the same shape as the input tensor excluding its innermost "
                           f"dimension, but got input with shape "
                           f"{list(sample_shape) + [data.shape[-1] if data.ndim > len(sample_shape) else 1]} "
                           f"and weight with shape {list(weight._data.shape)}")
    return weight._data.reshape(-1)


def _histogram_counts(samples, edges, weights, density, dtype):
    """The (bins_0, ..., bins_{D-1}) histogram of the (N, D) ``samples`` between ``edges``
    (one array per dimension; each last bin includes its right edge)."""
    counts = tuple(builtins.max(edge.size - 1, 0) for edge in edges)
    if 0 in counts:
        return np.zeros(counts, dtype)
    inside = np.ones(samples.shape[0], dtype=bool)
    positions = []
    for dimension, edge in enumerate(edges):
        column = samples[:, dimension]
        inside &= (column >= edge[0]) & (column <= edge[-1])
        position = np.searchsorted(edge, column, side="right") - 1
        # the last edge belongs to the last bin
        positions.append(np.clip(position, 0, counts[dimension] - 1))
    flat = np.ravel_multi_index([position[inside] for position in positions], counts)
    added = weights[inside] if weights is not None else None
    hist = np.bincount(flat, added, minlength=int(np.prod(counts))).reshape(counts)
    hist = hist.astype(dtype)
    if density:
        volume = np.ones((), dtype)
        for dimension, edge in enumerate(edges):
            shape = [1] * len(edges)
            shape[dimension] = -1
            volume = volume * np.diff(edge).reshape(shape)
        hist = (hist / (hist.sum() * volume)).astype(dtype)
    return hist


def histogram(input, bins=100, *, range=None, weight=None, density=False):
    """Counts (or summed ``weight``) of ``input``'s values in ``bins`` equal-width bins over
    ``range`` (the data's, when None), or between the edges of a 1-D ``bins`` tensor; the last
    bin includes its right edge. Returns ``(hist, bin_edges)``."""
    data = input._data
    weights = _check_histogram_inputs(data, weight, data.shape)
    values = data.reshape(-1)
    edges = _histogram_edges(values, bins, range, 0, data.dtype)
    hist = _histogram_counts(values[:, None], [edges], weights, density, data.dtype)
    return _Histogram(recorded_without_derivative(
        (Tensor._result(hist), Tensor._result(edges)), "aten::histogram", input, weight))


def histogramdd(input, bins, *, range=None, weight=None, density=False):
    """The D-dimensional histogram of the points in ``input``'s rows (its last dimension is
    D): ``bins`` an int, D ints or D edge tensors, ``range`` D (min, max) pairs flattened.
    Returns ``(hist, bin_edges)`` with one edge tensor per dimension."""
    data = input._data
    if data.ndim < 2:
        raise RuntimeError("torch.histogramdd: input tensor should have at least 2 dimensions")
    dimensions = data.shape[-1]
    weights = _check_histogram_inputs(data, weight, data.shape[:-1])
    per_dimension = [bins] * dimensions if _is_int(bins) else list(bins)
    if len(per_dimension) != dimensions:
        raise RuntimeError("histogramdd: The size of bins must be equal to the innermost "
                           "dimension of the input.")
    if range is not None and len(range) != 2 * dimensions:
        raise RuntimeError(f"torch.histogramdd: for a {dimensions}-dimensional histogram range "
                           f"should have {2 * dimensions} elements, but got {len(range)}")
    samples = data.reshape(-1, dimensions)
    edges = [_histogram_edges(samples[:, dimension], per_dimension[dimension],
                              None if range is None else range[2 * dimension:2 * dimension + 2],
                              dimension, data.dtype)
             for dimension in builtins.range(dimensions)]
    hist = _histogram_counts(samples, edges, weights, density, data.dtype)
    hist = recorded_without_derivative(Tensor._result(hist), "aten::_histogramdd_from_bin_cts",
                                       input, weight)
    edges = recorded_without_derivative(tuple(Tensor._result(edge) for edge in edges),
                                        "aten::_histogramdd_bin_edges", input, weight)
    return _HistogramDD((hist, tuple(edges)))


_SEGMENT_REDUCERS = {"sum": np.add, "mean": np.add, "prod": np.multiply, "max": np.maximum,
                     "amax": np.maximum, "min": np.minimum, "amin": np.minimum}


def _segment_empty_value(reduce, dtype):
    """What a segment with no elements and no ``initial`` reduces to, as PyTorch's."""
    empty = {"sum": 0.0, "mean": np.nan, "prod": 1.0, "max": -np.inf, "amax": -np.inf,
             "min": np.inf, "amin": np.inf}[reduce]
    return dtype.type(empty)


class SegmentReduce(Op):
    """Reduce consecutive runs (segments) along ``axis`` of an array whose leading dimensions
    are those of the (batch..., segments) ``lengths``: its rows, taken in order, are the
    segments' rows one batch after another."""

    double_backward_error = (RuntimeError,
                             "derivative for aten::_segment_reduce_backward is not implemented")

    @staticmethod
    def forward(ctx, x, lengths, axis, reduce, initial):
        ctx.input_shape = x.shape
        result_shape = lengths.shape + x.shape[axis + 1:]
        x = x.reshape((-1,) + x.shape[axis + 1:])
        lengths = lengths.reshape(-1)
        segment_of_row = np.repeat(np.arange(lengths.size), lengths)
        starts = np.cumsum(lengths) - lengths
        filled = lengths > 0
        ufunc = _SEGMENT_REDUCERS[reduce]
        out = np.empty((lengths.size,) + x.shape[1:], x.dtype)
        if initial is None:
            out[...] = _segment_empty_value(reduce, x.dtype)
        else:
            out[...] = x.dtype.type(initial)
        if x.shape[0]:
            reduced = ufunc.reduceat(x, starts[filled], axis=0)
            out[filled] = reduced if initial is None else ufunc(reduced, out[filled])
        counts = lengths.reshape((-1,) + (1,) * (x.ndim - 1)).astype(x.dtype)
        if reduce == "mean":
            with np.errstate(invalid="ignore", divide="ignore"):
                out = np.where(counts > 0, out / counts, out)
        ctx.reduce = reduce
        ctx.initial = initial
        ctx.layout = (segment_of_row, starts, filled)
        if ctx.needs_input_grad[0]:
            ctx.save_for_backward(x, lengths, out)
        return out.reshape(result_shape)

    @staticmethod
    def backward(ctx, grad):
        x, lengths, out = ctx.saved_tensors
        grad = grad.reshape(out.shape)
        grad_input = SegmentReduce._grad_rows(ctx, grad, x, lengths, out)
        return grad_input.reshape(ctx.input_shape), None, None, None, None

    @staticmethod
    def _grad_rows(ctx, grad, x, lengths, out):
        segment_of_row, starts, filled = ctx.layout
        reduce = ctx.reduce
        spread = grad[segment_of_row]
        if reduce == "sum":
            return spread
        counts = lengths.reshape((-1,) + (1,) * (x.ndim - 1)).astype(x.dtype)
        if reduce == "mean":
            return spread / counts[segment_of_row]
        if reduce in ("max", "amax", "min", "amin"):
            # ties share the gradient equally; where ``initial`` won, no element gets any
            hit = (x == out[segment_of_row]).astype(x.dtype)
            ties = np.ones_like(out)
            if x.shape[0]:
                ties[filled] = np.maximum(np.add.reduceat(hit, starts[filled], axis=0), 1)
            return spread * hit / ties[segment_of_row]
        # prod: the product of the segment's other elements (and initial), exact with zeros
        is_zero = x == 0
        nonzero = np.where(is_zero, x.dtype.type(1), x)
        zeros = np.zeros(out.shape, np.int64)
        others = np.ones_like(out) if ctx.initial is None else np.full_like(out, ctx.initial)
        if x.shape[0]:
            zeros[filled] = np.add.reduceat(is_zero.astype(np.int64), starts[filled], axis=0)
            others[filled] = others[filled] * np.multiply.reduceat(nonzero, starts[filled],
                                                                    axis=0)
        zeros_in_segment = zeros[segment_of_row]
        without_self = np.where(is_zero, others[segment_of_row],
                                others[segment_of_row] / nonzero)
        keep = np.where(is_zero, zeros_in_segment == 1, zeros_in_segment == 0)
        return spread * np.where(keep, without_self, x.dtype.type(0))


def _segment_lengths(data, lengths, offsets, axis):
    """The lengths of every segment as one flat int64 array, in the order of the rows of
    ``data`` moved to have ``axis`` after the lengths' batch dimensions; checked as PyTorch."""
    if lengths is not None:
        given, kernel = lengths, "_segment_reduce_lengths_cpu_kernel1"
    elif offsets is not None:
        given, kernel = offsets, "_segment_reduce_offsets_cpu_kernel1"
    else:
        raise RuntimeError("segment_reduce(): Either lengths or offsets must be defined.")
    values = given._data
    if values.dtype.kind not in "iu":
        raise NotImplementedError(f'"{kernel}" not implemented for '
                                  f"'{scalar_type_name(values.dtype)}'")
    values = values.astype(np.int64)
    if lengths is None:
        values = np.diff(values, axis=-1)
    if values.ndim - 1 != axis:
        raise RuntimeError(f"segment_reduce(): Expected axis to be the last dimension of "
                           f"lengths but got {axis}.")
    if (values < 0).any():
        raise RuntimeError("lengths contains negative value!")
    rows = data.shape[axis]
    if (values.sum(axis=-1) != rows).any():
        raise RuntimeError("segment_reduce(): Expected all rows of lengths along axis to sum "
                           "to data.size(lengths.dim()-1) when !unsafe.")
    return values


def segment_reduce(data, reduce, *, lengths=None, indices=None, offsets=None, axis=0,
                   unsafe=False, initial=None):
    """Reduce ``data`` along ``axis`` over consecutive segments given by ``lengths`` (or by
    ``offsets``, their boundaries): "sum", "mean", "prod", "max"/"amax" or "min"/"amin",
    starting from ``initial`` where given; empty segments give ``initial`` or the reduction's
    identity (NaN for mean)."""
    if reduce not in _SEGMENT_REDUCERS:
        raise RuntimeError(f"reduce argument must be either sum, prod, mean, amax or amin, got "
                           f"{reduce}")
    if indices is not None:
        raise RuntimeError("segment_reduce(): indices based reduction is not supported yet.")
    array = data._data
    if not is_floating(array.dtype):
        raise NotImplementedError(f'"_segment_reduce_cpu" not implemented for '
                                  f"'{scalar_type_name(array.dtype)}'")
    axis = _normalize_dim(axis, array.ndim)
    segment_lengths = _segment_lengths(array, lengths, offsets, axis)
    return SegmentReduce.apply(data, segment_lengths, axis, reduce, initial)
