"""Reductions and normalised exponentials: sum, mean, var/std, max/min, prod, logsumexp, softmax."""
import builtins

import numpy as np

from .._dtype import accumulation_dtype, get_default_dtype, is_floating, scalar_type_name
from ..autograd.function import Op
from ..tensor import Tensor
from .elementwise import lerp, maximum, minimum, sqrt
from .elementwise.casting import autocast_op
from .index import Gather, where
from .shape import diff, narrow, stack

__all__ = ["all", "amax", "amin", "aminmax", "any", "argmax", "argmin", "argsort", "corrcoef",
           "count_nonzero", "cov", "cummax", "cummin", "cumprod", "cumsum", "cumulative_trapezoid",
           "histc", "kthvalue", "log_softmax", "logcumsumexp", "logsumexp", "max", "mean", "median",
           "min", "mode", "msort", "nanmean", "nanmedian", "nansum", "norm", "prod", "quantile",
           "softmax", "sort", "std", "std_mean", "sum", "topk", "trapezoid", "unique",
           "unique_consecutive", "var", "var_mean"]


def _axes(dim, ndim, operation):
    """Normalise ``dim`` (None, int or sequence) to a sorted tuple of axes."""
    if dim is None:
        return tuple(range(ndim))
    dims = (dim,) if isinstance(dim, (int, np.integer)) else tuple(dim)
    if len(dims) == 0:
        return tuple(range(ndim))
    rank = builtins.max(ndim, 1)
    axes = []
    for axis in dims:
        if not -rank <= axis < rank:
            raise IndexError(f"{operation}(): Dimension out of range (expected to be in range of "
                             f"[{-rank}, {rank - 1}], but got {axis})")
        axis = axis % rank
        if axis in axes:
            raise RuntimeError(f"{operation}(): dim {axis} appears multiple times in the list of "
                               f"dims")
        axes.append(axis)
    if ndim == 0:
        return ()
    return tuple(sorted(axes))


def _expand_back(xp, grad, shape, axes, keepdim):
    """Reinsert reduced axes so ``grad`` broadcasts against the input."""
    if not keepdim and axes:
        grad = xp.expand_dims(grad, axes)
    return xp.broadcast_to(grad, shape)


def _count(shape, axes):
    count = 1
    for axis in axes:
        count *= shape[axis]
    return count


class Sum(Op):
    differentiable_backward = True

    @staticmethod
    def forward(ctx, x, axes, keepdim, dtype):
        ctx.shape = x.shape
        ctx.dtype = x.dtype
        ctx.axes_keepdim = (axes, keepdim)
        out_dtype = dtype.numpy if dtype is not None else (
            np.int64 if x.dtype.kind in "biu" else x.dtype)
        work = accumulation_dtype(np.dtype(out_dtype))
        if work != out_dtype:  # bfloat16: accumulated in float32, rounded once
            return np.asarray(np.sum(x.astype(work), axis=axes, keepdims=keepdim)).astype(
                out_dtype)
        return np.asarray(np.sum(x, axis=axes, keepdims=keepdim, dtype=out_dtype))

    @staticmethod
    def backward(ctx, grad, *_):
        axes, keepdim = ctx.axes_keepdim
        xp = ctx.xp
        return xp.astype(_expand_back(xp, grad, ctx.shape, axes, keepdim), ctx.dtype,
                         copy=False), None, None, None


class Mean(Op):
    @staticmethod
    def forward(ctx, x, axes, keepdim, dtype):
        if dtype is not None:
            x = x.astype(dtype.numpy)
        if not is_floating(x.dtype):
            raise RuntimeError(f"mean(): could not infer output dtype. Input dtype must be either "
                               f"a floating point or complex dtype. Got: "
                               f"{scalar_type_name(x.dtype)}")
        ctx.shape = x.shape
        ctx.axes_keepdim = (axes, keepdim)
        work = accumulation_dtype(x.dtype)
        if work != x.dtype:  # bfloat16: accumulated in float32, rounded once
            return np.asarray(np.mean(x.astype(work), axis=axes, keepdims=keepdim)).astype(
                x.dtype)
        return np.asarray(np.mean(x, axis=axes, keepdims=keepdim))

    @staticmethod
    def backward(ctx, grad, *_):
        axes, keepdim = ctx.axes_keepdim
        count = _count(ctx.shape, axes)
        scale = grad.dtype.type(1.0 / count) if count else grad.dtype.type(np.nan)
        return _expand_back(np, grad * scale, ctx.shape, axes, keepdim), None, None, None


class Var(Op):
    """Variance with Bessel-style ``correction``; its own op for a stable two-pass formula."""

    @staticmethod
    def forward(ctx, x, axes, correction, keepdim):
        if x.dtype.kind != "f":
            raise RuntimeError("std and var only support floating point and complex dtypes")
        mean = np.mean(x, axis=axes, keepdims=True)
        centered = x - mean
        count = _count(x.shape, axes)
        divisor = builtins.max(count - correction, 0)
        with np.errstate(divide="ignore", invalid="ignore"):
            out = np.sum(centered * centered, axis=axes, keepdims=keepdim) / x.dtype.type(divisor)
        ctx.save_for_backward(centered)
        ctx.divisor = divisor
        ctx.axes_keepdim = (axes, keepdim)
        return np.asarray(out, dtype=x.dtype)

    @staticmethod
    def backward(ctx, grad):
        (centered,) = ctx.saved_tensors
        axes, keepdim = ctx.axes_keepdim
        with np.errstate(divide="ignore", invalid="ignore"):
            scale = centered.dtype.type(2.0 / ctx.divisor) if ctx.divisor else np.inf
            grad = _expand_back(np, grad, centered.shape, axes, keepdim)
            return grad * centered * scale, None, None, None


class _Extreme(Op):
    """max/min/amax/amin. Given ``indices`` (max/min with dim, computed once by the caller and
    kept as kept-dim int64) the values are taken at them and the gradient goes there; without
    (full reductions, amax/amin) it is split evenly among ties, as PyTorch does."""

    reducer = None
    arg_reducer = None

    @classmethod
    def forward(cls, ctx, x, axes, keepdim, indices):
        ctx.shape = x.shape
        ctx.axes_keepdim = (axes, keepdim)
        if indices is not None:
            ctx.by_index = True
            if x.ndim == 0:
                ctx.save_for_backward(None)
                return x.copy()
            out = np.take_along_axis(x, indices, axis=axes[0])
            if not keepdim:
                out = out.reshape(indices.shape[:axes[0]] + indices.shape[axes[0] + 1:])
            if ctx.needs_input_grad[0]:
                ctx.save_for_backward(indices)
            return out
        out = np.asarray(cls.reducer(x, axis=axes, keepdims=keepdim))
        if ctx.needs_input_grad[0]:
            kept = out if keepdim or not axes else np.expand_dims(out, axes)
            ctx.save_for_backward(x == kept)
        ctx.by_index = False
        return out

    @staticmethod
    def backward(ctx, grad, *_):
        axes, keepdim = ctx.axes_keepdim
        (saved,) = ctx.saved_tensors
        if ctx.by_index:
            if saved is None:  # 0-d input
                return grad.reshape(ctx.shape).copy(), None, None, None
            axis = axes[0]
            full = np.zeros(ctx.shape, dtype=grad.dtype)
            grad_kept = grad if keepdim else np.expand_dims(grad, axis)
            np.put_along_axis(full, saved, grad_kept, axis=axis)
            return full, None, None, None
        mask = saved
        count = mask.sum(axis=axes, keepdims=True)
        grad_kept = grad if keepdim or not axes else np.expand_dims(grad, axes)
        return np.where(mask, grad_kept / count.astype(grad.dtype), 0).astype(grad.dtype), \
            None, None, None


class Max(_Extreme):
    reducer = staticmethod(np.max)
    arg_reducer = staticmethod(np.argmax)


class Min(_Extreme):
    reducer = staticmethod(np.min)
    arg_reducer = staticmethod(np.argmin)


class Prod(Op):
    @staticmethod
    def forward(ctx, x, axis, keepdim):
        ctx.shape = x.shape
        ctx.axis_keepdim = (axis, keepdim)
        out_dtype = np.int64 if x.dtype.kind in "biu" else x.dtype
        out = np.asarray(np.prod(x, axis=axis, keepdims=keepdim, dtype=out_dtype))
        if ctx.needs_input_grad[0]:
            ctx.save_for_backward(x)
        return out

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        axis, keepdim = ctx.axis_keepdim
        axes = (axis,) if axis is not None else tuple(range(x.ndim))
        if axis is None:
            flat = x.reshape(-1)
            grad_kept = grad.reshape((1,) * x.ndim) if x.ndim else grad
            work = flat.reshape(1, -1)
            reduce_axis = 1
        else:
            work = np.moveaxis(x, axis, -1)
            grad_kept = grad if keepdim else np.expand_dims(grad, axis)
            reduce_axis = -1
        # Product of all other elements without dividing (exact with zeros): exclusive
        # cumulative products from the left and from the right.
        ones_shape = list(work.shape)
        ones_shape[reduce_axis] = 1
        ones = np.ones(ones_shape, dtype=x.dtype)
        left = np.cumprod(np.concatenate([ones, work[..., :-1]], axis=reduce_axis),
                          axis=reduce_axis)
        right = np.flip(np.cumprod(np.flip(np.concatenate([work[..., 1:], ones],
                                                          axis=reduce_axis), reduce_axis),
                                   axis=reduce_axis), reduce_axis)
        others = left * right
        if axis is None:
            others = others.reshape(x.shape)
        else:
            others = np.moveaxis(others, -1, axis)
        del axes
        return np.broadcast_to(grad_kept, x.shape) * others, None, None


class LogSumExp(Op):
    """Its own op for stability: shifts by the max before exponentiating."""

    @staticmethod
    def forward(ctx, x, axes, keepdim):
        if x.dtype.kind != "f":
            x = x.astype(get_default_dtype().numpy)
        shift = np.max(x, axis=axes, keepdims=True) if x.size else np.zeros((1,) * x.ndim, x.dtype)
        shift = np.where(np.isfinite(shift), shift, 0)
        summed = np.sum(np.exp(x - shift), axis=axes, keepdims=True)
        with np.errstate(divide="ignore"):
            out_kept = np.log(summed) + shift
        ctx.save_for_backward(x, out_kept)
        ctx.axes_keepdim = (axes, keepdim)
        out = out_kept if keepdim else np.squeeze(out_kept, axis=axes)
        return np.asarray(out, dtype=x.dtype)

    @staticmethod
    def backward(ctx, grad):
        x, out_kept = ctx.saved_tensors
        axes, keepdim = ctx.axes_keepdim
        grad_kept = grad if keepdim else np.expand_dims(grad, axes)
        return grad_kept * np.exp(x - out_kept), None, None


class Softmax(Op):
    """bfloat16 is computed in float32 and rounded once, as PyTorch computes it."""

    @staticmethod
    def forward(ctx, x, axis):
        work = x.astype(accumulation_dtype(x.dtype), copy=False)
        shifted = work - np.max(work, axis=axis, keepdims=True) if work.size else work
        exp = np.exp(shifted)
        out = (exp / np.sum(exp, axis=axis, keepdims=True)).astype(x.dtype, copy=False)
        ctx.save_for_backward(out)
        ctx.axis = axis
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        work_grad = grad.astype(accumulation_dtype(grad.dtype), copy=False)
        work_out = out.astype(work_grad.dtype, copy=False)
        inner = np.sum(work_grad * work_out, axis=ctx.axis, keepdims=True)
        return (work_out * (work_grad - inner)).astype(grad.dtype, copy=False), None


class LogSoftmax(Op):
    """Its own op for stability: x - max - log(sum(exp(x - max))); bfloat16 in float32."""

    @staticmethod
    def forward(ctx, x, axis):
        work = x.astype(accumulation_dtype(x.dtype), copy=False)
        shifted = work - np.max(work, axis=axis, keepdims=True) if work.size else work
        out = shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))
        out = out.astype(x.dtype, copy=False)
        ctx.save_for_backward(out)
        ctx.axis = axis
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        work_grad = grad.astype(accumulation_dtype(grad.dtype), copy=False)
        work_out = out.astype(work_grad.dtype, copy=False)
        result = work_grad - np.exp(work_out) * np.sum(work_grad, axis=ctx.axis, keepdims=True)
        return result.astype(grad.dtype, copy=False), None


# ---- functional API ------------------------------------------------------------------------------
class _ReturnTypes(tuple):
    """(values, indices) with attribute access, like torch.return_types.max."""

    @property
    def values(self):
        return self[0]

    @property
    def indices(self):
        return self[1]


def sum(input, dim=None, keepdim=False, dtype=None):
    axes = _axes(dim, input._data.ndim, "sum")
    return Sum.apply(input, axes, keepdim, dtype)


def mean(input, dim=None, keepdim=False, dtype=None):
    axes = _axes(dim, input._data.ndim, "mean")
    return Mean.apply(input, axes, keepdim, dtype)


def _correction(unbiased, correction, operation):
    if correction is not None and unbiased is not None:
        raise RuntimeError(f"{operation}: can't specify both unbiased and correction")
    if correction is not None:
        return correction
    if unbiased is None or unbiased is True:
        return 1
    if unbiased is False:
        return 0
    raise TypeError(f"{operation}(): argument 'unbiased' must be bool")


def var(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    if isinstance(dim, bool):  # var(x, False): the unbiased flag passed positionally
        dim, unbiased = None, dim
    axes = _axes(dim, input._data.ndim, "var")
    return Var.apply(input, axes, _correction(unbiased, correction, "var"), keepdim)


def std(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    return sqrt(var(input, dim, unbiased, keepdim, correction=correction))


def _check_reducible(input, axes, dim_given, operation):
    """max/min/amax/amin have no identity: refuse reducing over an empty dimension."""
    shape = input._data.shape
    if input._data.size != 0:
        return
    if not dim_given:
        raise RuntimeError(f"{operation}(): Expected reduction dim to be specified for "
                           f"input.numel() == 0. Specify the reduction dim with the 'dim' "
                           f"argument.")
    for axis in axes:
        if shape[axis] == 0:
            raise IndexError(f"{operation}(): Expected reduction dim {axis} to have non-zero "
                             f"size.")


def _extreme(cls, input, dim, keepdim, operation):
    if dim is None:
        _check_reducible(input, (), False, operation)
        return cls.apply(input, _axes(None, input._data.ndim, operation), False, None)
    if isinstance(dim, (tuple, list)):
        raise TypeError(f"{operation}(): argument 'dim' must be int, not {type(dim).__name__}")
    axes = _axes(dim, input._data.ndim, operation)
    _check_reducible(input, axes, True, operation)
    if input._data.ndim == 0:
        kept = np.zeros((), dtype=np.int64)
    else:
        kept = cls.arg_reducer(input._data, axis=axes[0], keepdims=True).astype(np.int64,
                                                                                copy=False)
    values = cls.apply(input, axes, keepdim, kept)
    indices = kept if keepdim or input._data.ndim == 0 else np.squeeze(kept, axis=axes[0])
    # A copy: the node may have saved ``kept``, and the caller may change the indices in place.
    return _ReturnTypes((values, Tensor._result(np.array(indices, copy=True))))


def max(input, dim=None, keepdim=False):
    if isinstance(dim, Tensor):
        return maximum(input, dim)
    return _extreme(Max, input, dim, keepdim, "max")


def min(input, dim=None, keepdim=False):
    if isinstance(dim, Tensor):
        return minimum(input, dim)
    return _extreme(Min, input, dim, keepdim, "min")


def amax(input, dim=(), keepdim=False):
    axes = _axes(dim, input._data.ndim, "amax")
    _check_reducible(input, axes, dim not in ((), [], None), "amax")
    return Max.apply(input, axes, keepdim, None)


def amin(input, dim=(), keepdim=False):
    axes = _axes(dim, input._data.ndim, "amin")
    _check_reducible(input, axes, dim not in ((), [], None), "amin")
    return Min.apply(input, axes, keepdim, None)


def argmax(input, dim=None, keepdim=False):
    if dim is None:
        return Tensor._result(np.asarray(np.argmax(input._data), dtype=np.int64).reshape(
            (1,) * input._data.ndim if keepdim else ()))
    axis = _axes(dim, input._data.ndim, "argmax")
    axis = axis[0] if axis else None
    return Tensor._result(np.asarray(np.argmax(input._data, axis=axis, keepdims=keepdim),
                                   dtype=np.int64))


def argmin(input, dim=None, keepdim=False):
    if dim is None:
        return Tensor._result(np.asarray(np.argmin(input._data), dtype=np.int64).reshape(
            (1,) * input._data.ndim if keepdim else ()))
    axis = _axes(dim, input._data.ndim, "argmin")
    axis = axis[0] if axis else None
    return Tensor._result(np.asarray(np.argmin(input._data, axis=axis, keepdims=keepdim),
                                   dtype=np.int64))


@autocast_op("prod")
def prod(input, dim=None, keepdim=False, dtype=None):
    if dtype is not None:
        input = input.to(dtype)
    axis = None if dim is None else _axes(dim, input._data.ndim, "prod")
    axis = axis[0] if axis else None
    if dim is not None and input._data.ndim == 0:
        axis = None
    return Prod.apply(input, axis, keepdim)


def logsumexp(input, dim, keepdim=False):
    return LogSumExp.apply(input, _axes(dim, input._data.ndim, "logsumexp"), keepdim)


def _softmax_axis(input, dim, dtype, operation):
    if dim is None:
        raise TypeError(f"{operation}() missing required argument 'dim'")
    if dtype is not None:
        input = input.to(dtype)
    elif not is_floating(input._data.dtype):
        raise NotImplementedError(f"\"{operation}_lastdim_kernel_impl\" not implemented for "
                                  f"'{scalar_type_name(input._data.dtype)}'")
    axes = _axes(dim, input._data.ndim, operation)
    return input, axes[0] if axes else None


def softmax(input, dim=None, dtype=None):
    input, axis = _softmax_axis(input, dim, dtype, "softmax")
    return Softmax.apply(input, axis)


def log_softmax(input, dim=None, dtype=None):
    input, axis = _softmax_axis(input, dim, dtype, "log_softmax")
    return LogSoftmax.apply(input, axis)


def all(input, dim=None, keepdim=False):
    axes = _axes(dim, input._data.ndim, "all")
    return Tensor._result(np.asarray(np.all(input._data, axis=axes, keepdims=keepdim)))


def any(input, dim=None, keepdim=False):
    axes = _axes(dim, input._data.ndim, "any")
    return Tensor._result(np.asarray(np.any(input._data, axis=axes, keepdims=keepdim)))


def count_nonzero(input, dim=None):
    axes = _axes(dim, input._data.ndim, "count_nonzero")
    return Tensor._result(np.asarray(np.count_nonzero(input._data, axis=axes), dtype=np.int64))


def cumsum(input, dim, dtype=None):
    return CumSum.apply(input if dtype is None else input.to(dtype),
                        _axes(dim, input._data.ndim, "cumsum")[0] if input._data.ndim else None)


class CumSum(Op):
    @staticmethod
    def forward(ctx, x, axis):
        ctx.axis = axis
        out_dtype = np.int64 if x.dtype.kind in "biu" else x.dtype
        if axis is None:
            return x.astype(out_dtype, copy=True)
        return np.cumsum(x, axis=axis, dtype=out_dtype)

    @staticmethod
    def backward(ctx, grad):
        if ctx.axis is None:
            return grad, None
        flipped = np.flip(grad, ctx.axis)
        return np.flip(np.cumsum(flipped, axis=ctx.axis), ctx.axis), None


# ---- sorting, order statistics, norms ------------------------------------------------------------
def _sort_indices(data, axis, descending):
    """Stable sort indices along ``axis`` (NaN largest); descending keeps equal values in order."""
    if not descending:
        return np.argsort(data, axis=axis, kind="stable")
    size = data.shape[axis]
    ascending_of_flipped = np.argsort(np.flip(data, axis), axis=axis, kind="stable")
    return (size - 1) - np.flip(ascending_of_flipped, axis)


def _take_sorted(input, axis, indices):
    """Values at ``indices`` along ``axis``, differentiable (the gradient scatters back)."""
    if input._data.ndim == 0:
        return input.clone()
    return Gather.apply(input, axis, indices)


def _selected(input, axis, kept, keepdim):
    """(values, indices) of a selection along ``axis``: ``kept`` holds one int64 position per
    row (size 1 along ``axis``), as median, kthvalue, mode and nanmedian return them."""
    values = _take_sorted(input, axis, kept)
    indices = kept
    if not keepdim:
        values = values.squeeze(axis)
        indices = np.squeeze(kept, axis)
    return _ReturnTypes((values, Tensor._result(np.array(indices, copy=True))))


def _scalar_selection(input):
    """A selection from a 0-d tensor: the value itself, at index 0."""
    return _ReturnTypes((input.clone(), Tensor._result(np.zeros((), np.int64))))


def sort(input, dim=-1, descending=False, *, stable=False):
    """Sorted values and their indices along ``dim`` (always stable; NaN sorts as largest)."""
    if input._data.ndim == 0:
        return _scalar_selection(input)
    axis = _axes(dim, input._data.ndim, "sort")[0]
    indices = _sort_indices(input._data, axis, descending).astype(np.int64, copy=False)
    return _ReturnTypes((_take_sorted(input, axis, indices), Tensor._result(indices)))


def argsort(input, dim=-1, descending=False, *, stable=False):
    return sort(input, dim, descending)[1]


def topk(input, k, dim=-1, largest=True, sorted=True):
    """The ``k`` largest (or smallest) values along ``dim`` and their indices."""
    ndim = input._data.ndim
    axis = _axes(dim, ndim, "topk")[0] if ndim else 0
    size = input._data.shape[axis] if ndim else 1
    if not 0 <= k <= size:
        raise RuntimeError("selected index k out of range")
    if ndim == 0:
        return sort(input)
    indices = _sort_indices(input._data, axis, largest).astype(np.int64, copy=False)
    indices = np.ascontiguousarray(np.take(indices, np.arange(k), axis=axis))
    return _ReturnTypes((_take_sorted(input, axis, indices), Tensor._result(indices)))


def median(input, dim=None, keepdim=False):
    """The lower median (PyTorch's: no averaging of the middle pair); NaN if any is NaN."""
    data = input._data
    if dim is None:
        flat = data.reshape(-1)
        if flat.size == 0:
            return Tensor._result(np.array(np.nan, dtype=data.dtype))
        order = np.argsort(flat, kind="stable")
        position = order[(flat.size - 1) // 2]
        if data.dtype.kind == "f" and np.isnan(flat).any():
            position = np.argmax(np.isnan(flat))
        return input.reshape(-1)[int(position)].clone()  # a new tensor, not a view
    axis = _axes(dim, data.ndim, "median")[0] if data.ndim else 0
    if data.ndim == 0:
        return _scalar_selection(input)
    _check_reducible(input, (axis,), True, "median")
    order = _sort_indices(data, axis, False)
    kept = np.take(order, [(data.shape[axis] - 1) // 2], axis=axis)
    if data.dtype.kind == "f":
        has_nan = np.isnan(data).any(axis=axis, keepdims=True)
        first_nan = np.argmax(np.isnan(data), axis=axis, keepdims=True)
        kept = np.where(has_nan, first_nan, kept)
    kept = kept.astype(np.int64, copy=False)
    return _selected(input, axis, kept, keepdim)


class CumProd(Op):
    @staticmethod
    def forward(ctx, x, axis):
        ctx.axis = axis
        out_dtype = np.int64 if x.dtype.kind in "biu" else x.dtype
        if axis is None:
            return x.astype(out_dtype, copy=True)
        out = np.cumprod(x, axis=axis, dtype=out_dtype)
        if ctx.needs_input_grad[0]:
            ctx.save_for_backward(x, out)
        return out

    @staticmethod
    def backward(ctx, grad):
        if ctx.axis is None:
            return grad, None
        x, out = ctx.saved_tensors
        axis = ctx.axis
        x = np.moveaxis(x, axis, -1)
        out = np.moveaxis(out, axis, -1)
        grad = np.moveaxis(grad, axis, -1)
        size = x.shape[-1]
        is_zero = x == 0
        has_zero = is_zero.any(axis=-1, keepdims=True)
        first_zero = np.where(has_zero, np.argmax(is_zero, axis=-1)[..., None], size)
        position = np.arange(size)
        # Before the first zero x_i != 0: dL/dx_i = sum_{j >= i} g_j out_j / x_i.
        with np.errstate(divide="ignore", invalid="ignore"):
            suffix = np.flip(np.cumsum(np.flip(grad * out, -1), axis=-1), -1)
            result = np.where(position < first_zero, suffix / np.where(is_zero, 1, x), 0)
        # At the first zero z: out_{z-1} * sum_{j >= z} g_j prod_{z < k <= j} x_k; after it 0.
        if has_zero.any():
            after_zero = np.where(position <= first_zero, 1, x)
            partial = np.cumprod(after_zero, axis=-1)
            tail = np.where(position >= first_zero, grad * partial, 0).sum(axis=-1, keepdims=True)
            previous = np.take_along_axis(out, np.clip(first_zero - 1, 0, size - 1), axis=-1)
            previous = np.where(first_zero == 0, 1, previous)
            result = np.where(position == first_zero, previous * tail, result)
        return np.moveaxis(result.astype(grad.dtype, copy=False), -1, axis), None


def cumprod(input, dim, dtype=None):
    return CumProd.apply(input if dtype is None else input.to(dtype),
                         _axes(dim, input._data.ndim, "cumprod")[0] if input._data.ndim else None)


def nansum(input, dim=None, keepdim=False, dtype=None):
    """Sum treating NaN as zero (their gradient is zero)."""
    if input._data.dtype.kind != "f":
        return sum(input, dim, keepdim, dtype)
    zero = Tensor._wrap(np.zeros((), dtype=input._data.dtype))
    return sum(where(Tensor._wrap(np.isnan(input._data)), zero, input), dim, keepdim, dtype)


class VectorNorm(Op):
    """Its own op for the gradient at zero (0, as PyTorch, where sqrt(sum(x^2)) would give NaN)."""

    @staticmethod
    def forward(ctx, x, ord, axes, keepdim):
        ctx.ord = ord
        ctx.axes_keepdim = (axes, keepdim)
        magnitude = np.abs(x)
        if ord == 2:
            out = np.sqrt(np.sum(magnitude * magnitude, axis=axes, keepdims=keepdim))
        elif ord == 1:
            out = np.sum(magnitude, axis=axes, keepdims=keepdim)
        elif ord == np.inf:
            out = np.max(magnitude, axis=axes, keepdims=keepdim, initial=0)
        elif ord == -np.inf:
            out = np.min(magnitude, axis=axes, keepdims=keepdim)
        elif ord == 0:
            out = np.sum(magnitude != 0, axis=axes, keepdims=keepdim).astype(x.dtype)
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
        x, out = ctx.saved_tensors
        axes, keepdim = ctx.axes_keepdim
        ord = ctx.ord
        grad = _expand_back(np, grad, x.shape, axes, keepdim)
        norm = _expand_back(np, out, x.shape, axes, keepdim)
        magnitude = np.abs(x)
        if ord == 0:
            return np.zeros_like(x), None, None, None
        with np.errstate(divide="ignore", invalid="ignore"):
            if ord == 2:
                result = np.where(norm == 0, 0, grad * x / norm)
            elif ord == 1:
                result = grad * np.sign(x)
            elif ord in (np.inf, -np.inf):
                hits = magnitude == norm
                count = np.sum(hits, axis=axes, keepdims=True)
                result = np.where(hits, grad * np.sign(x) / count, 0)
            else:
                scale = x * magnitude ** (ord - 2) / norm ** (ord - 1)
                result = np.where(norm == 0, 0, grad * scale)
        return result.astype(x.dtype, copy=False), None, None, None


def vector_norm(input, ord=2, dim=None, keepdim=False, dtype=None):
    """The ``ord``-norm of the elements over ``dim`` (all elements when None)."""
    if dtype is not None:
        input = input.to(dtype)
    if input._data.dtype.kind != "f":
        raise RuntimeError(f"linalg.vector_norm: Expected a floating point or complex tensor as "
                           f"input. Got {input.dtype}")
    if isinstance(ord, str):
        raise RuntimeError(f"linalg.vector_norm: got an invalid ord '{ord}' (a number expected)")
    axes = _axes(dim, input._data.ndim, "linalg.vector_norm")
    if ord in (np.inf, -np.inf) or ord < 0:
        _check_reducible(input, axes, dim is not None, "linalg.vector_norm")
    return VectorNorm.apply(input, float(ord), axes, keepdim)


def norm(input, p="fro", dim=None, keepdim=False, dtype=None):
    """torch.norm: 'fro' (and None) is the 2-norm of the selected elements; numbers as
    vector_norm. The nuclear norm is not implemented."""
    if p is None or p == "fro":
        p = 2
    elif isinstance(p, str):
        raise NotImplementedError(f"norm: p='{p}' is not implemented in ember")
    return vector_norm(input, p, dim, keepdim, dtype)


def unique(input, sorted=True, return_inverse=False, return_counts=False, dim=None):
    """The distinct values (always sorted), optionally the inverse map and the counts."""
    data = input._data
    if dim is not None:
        dim = _axes(dim, data.ndim, "unique")[0]
    values, inverse, counts = np.unique(data, return_inverse=True, return_counts=True, axis=dim)
    results = [Tensor._result(values)]
    if return_inverse:
        shape = data.shape if dim is None else (data.shape[dim],)
        results.append(Tensor._result(inverse.reshape(shape).astype(np.int64)))
    if return_counts:
        results.append(Tensor._result(counts.astype(np.int64)))
    return results[0] if len(results) == 1 else tuple(results)


class _MinMax(tuple):
    """(min, max) with attribute access, like torch.return_types.aminmax."""

    @property
    def min(self):
        return self[0]

    @property
    def max(self):
        return self[1]


def aminmax(input, *, dim=None, keepdim=False):
    axes = () if dim is None else dim
    return _MinMax((amin(input, axes, keepdim), amax(input, axes, keepdim)))


def nanmean(input, dim=None, keepdim=False, dtype=None):
    """Mean over the non-NaN elements."""
    if input._data.dtype.kind != "f":
        raise RuntimeError(f"nanmean(): expected input to have floating point dtype but got "
                           f"{input.dtype}")
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


def _cumulative_extreme(input, dim, accumulate, operation):
    data = input._data
    if data.ndim == 0:
        return _scalar_selection(input)
    axis = _axes(dim, data.ndim, operation)[0]
    running = accumulate(data, axis=axis)
    shape = [1] * data.ndim
    shape[axis] = data.shape[axis]
    positions = np.arange(data.shape[axis]).reshape(shape)
    # The running extreme was last attained at the latest position where the element equals it
    # (ties take the later index, as PyTorch).
    reached = np.where(data == running, positions, 0)
    if data.dtype.kind == "f":
        reached = np.where(np.isnan(data), positions, reached)
    indices = np.maximum.accumulate(reached, axis=axis).astype(np.int64)
    return _ReturnTypes((Gather.apply(input, axis, indices), Tensor._result(indices)))


def cummax(input, dim):
    return _cumulative_extreme(input, dim, np.maximum.accumulate, "cummax")


def cummin(input, dim):
    return _cumulative_extreme(input, dim, np.minimum.accumulate, "cummin")


def kthvalue(input, k, dim=-1, keepdim=False):
    """The ``k``-th smallest value along ``dim`` and its index."""
    data = input._data
    axis = _axes(dim, data.ndim, "kthvalue")[0] if data.ndim else 0
    size = data.shape[axis] if data.ndim else 1
    if not 1 <= k <= size:
        raise RuntimeError(f"kthvalue(): selected number k out of range for dimension {axis}")
    if data.ndim == 0:
        return _scalar_selection(input)
    kept = np.take(_sort_indices(data, axis, False), [k - 1], axis=axis).astype(np.int64)
    return _selected(input, axis, kept, keepdim)


def msort(input):
    return sort(input, 0)[0]


def quantile(input, q, dim=None, keepdim=False, *, interpolation="linear"):
    """The ``q``-quantiles along ``dim`` (of all elements when None), interpolating between the
    two nearest ranks (differentiable through the selected values)."""
    if interpolation not in ("linear", "lower", "higher", "nearest", "midpoint"):
        raise RuntimeError(f"quantile() interpolation must be one of linear, lower, higher, "
                           f"midpoint or nearest, but got {interpolation}")
    if input._data.dtype.kind != "f":
        raise RuntimeError("quantile() input tensor must be either float or double dtype")
    scalar_q = not isinstance(q, Tensor)
    levels = np.atleast_1d(np.asarray(q._data if isinstance(q, Tensor) else q, np.float64))
    if levels.ndim > 1:
        raise RuntimeError("quantile() q must be a scalar or 1D tensor")
    if ((levels < 0) | (levels > 1)).any():
        raise RuntimeError("quantile() q values must be in the range [0, 1]")
    source = input.reshape(-1) if dim is None else input
    axis = 0 if dim is None else _axes(dim, input._data.ndim, "quantile")[0]
    ordered = sort(source, axis)[0]
    size = ordered._data.shape[axis]
    ranks = levels * (size - 1)
    below = np.floor(ranks).astype(np.int64)
    above = np.ceil(ranks).astype(np.int64)
    if interpolation == "lower":
        above = below
    elif interpolation == "higher":
        below = above
    elif interpolation == "nearest":
        below = above = np.round(ranks).astype(np.int64)  # half to even, as PyTorch
    results = []
    for level_below, level_above, rank in zip(below, above, ranks):
        low = ordered.narrow(axis, int(level_below), 1)
        high = ordered.narrow(axis, int(level_above), 1)
        if interpolation == "midpoint":
            weight = 0.5 if level_below != level_above else 0.0
        else:
            weight = float(rank - level_below) if level_below != level_above else 0.0
        value = lerp(low, high, weight)
        if dim is None:
            value = value.reshape((1,) * input._data.ndim if keepdim else ())
        elif not keepdim:
            value = value.squeeze(axis)
        results.append(value)
    if scalar_q:
        return results[0]
    return stack(results, 0)


def _reverse_logcumsumexp(values, axis):
    return np.flip(np.logaddexp.accumulate(np.flip(values, axis), axis=axis), axis)


class LogCumSumExp(Op):
    """Its own op for stability: log-space accumulation forward, and a backward that splits the
    gradient by sign so every exponential stays bounded."""

    @staticmethod
    def forward(ctx, x, axis):
        ctx.axis = axis
        if axis is None:
            return x.copy()
        out = np.logaddexp.accumulate(x, axis=axis)
        ctx.save_for_backward(x, out)
        return out

    @staticmethod
    def backward(ctx, grad):
        if ctx.axis is None:
            return grad, None
        x, out = ctx.saved_tensors
        dtype = grad.dtype
        # In float64: the two signed parts cancel, which costs float32 a few digits.
        x, out, grad = x.astype(np.float64), out.astype(np.float64), grad.astype(np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            positive = np.where(grad > 0, np.log(np.abs(grad)), -np.inf) - out
            negative = np.where(grad < 0, np.log(np.abs(grad)), -np.inf) - out
            result = (np.exp(x + _reverse_logcumsumexp(positive, ctx.axis))
                      - np.exp(x + _reverse_logcumsumexp(negative, ctx.axis)))
        return result.astype(dtype, copy=False), None


def logcumsumexp(input, dim):
    if input._data.dtype.kind != "f":
        raise NotImplementedError(f'"logcumsumexp_out_cpu" not implemented for {input.dtype}')
    return LogCumSumExp.apply(input, _axes(dim, input._data.ndim, "logcumsumexp")[0]
                              if input._data.ndim else None)


def nanmedian(input, dim=None, keepdim=False):
    """The lower median of the non-NaN values (NaN only when all are NaN)."""
    data = input._data
    if data.dtype.kind != "f" or not np.isnan(data).any():
        return median(input, dim, keepdim)
    if dim is None:
        flat = data.reshape(-1)
        valid = np.flatnonzero(~np.isnan(flat))
        if valid.size == 0:
            return input.reshape(-1)[0].clone()
        order = valid[np.argsort(flat[valid], kind="stable")]
        return input.reshape(-1)[int(order[(valid.size - 1) // 2])].clone()
    axis = _axes(dim, data.ndim, "nanmedian")[0]
    order = _sort_indices(data, axis, False)  # NaN sorts last
    counts = np.sum(~np.isnan(data), axis=axis, keepdims=True)
    middle = np.maximum(counts - 1, 0) // 2
    kept = np.take_along_axis(order, middle, axis=axis).astype(np.int64)
    return _selected(input, axis, kept, keepdim)


def mode(input, dim=-1, keepdim=False):
    """The most frequent value along ``dim`` (the smallest among equally frequent ones) and the
    index of its last occurrence."""
    data = input._data
    if data.ndim == 0:
        return _scalar_selection(input)
    axis = _axes(dim, data.ndim, "mode")[0]
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
    return _selected(input, axis, kept, keepdim)


def trapezoid(y, x=None, *, dx=None, dim=-1):
    """The trapezoid rule along ``dim``, with sample points ``x`` or a constant spacing ``dx``."""
    axis = _axes(dim, y._data.ndim, "trapezoid")[0]
    length = y._data.shape[axis]
    if length == 0:
        return sum(y, axis)
    pair_sums = narrow(y, axis, 1, length - 1) + narrow(y, axis, 0, length - 1)
    if x is not None:
        spacing = diff(x, dim=-1 if x._data.ndim == 1 else axis)
        if x._data.ndim == 1:
            shape = [1] * y._data.ndim
            shape[axis] = length - 1
            spacing = spacing.reshape(shape)
        return sum(pair_sums * spacing, axis) / 2
    return sum(pair_sums, axis) * ((1.0 if dx is None else dx) / 2)


def cov(input, *, correction=1, fweights=None, aweights=None):
    """The covariance matrix of the rows (variables) over the columns (observations)."""
    if fweights is not None or aweights is not None:
        raise NotImplementedError("cov: fweights and aweights are not implemented in ember")
    if input._data.ndim > 2:
        raise RuntimeError(f"cov(): expected input to have two or fewer dimensions but got an "
                           f"input with {input._data.ndim} dimensions")
    data = input if input._data.ndim == 2 else input.reshape(1, -1)
    if data._data.dtype.kind != "f":
        data = data.to(get_default_dtype())
    observations = data._data.shape[1]
    centered = data - mean(data, 1, keepdim=True)
    out = (centered @ centered.t()) / builtins.max(observations - correction, 0)
    return out.reshape(()) if input._data.ndim < 2 else out


def corrcoef(input):
    """Pearson correlation coefficients of the rows, clipped to [-1, 1]."""
    covariance = cov(input)
    if covariance._data.ndim == 0:
        return covariance / covariance
    spread = covariance.diagonal().sqrt()
    out = covariance / spread.reshape(-1, 1) / spread.reshape(1, -1)
    return out.clamp(-1, 1)


def histc(input, bins=100, min=0, max=0):
    """Counts in ``bins`` equal-width bins over [min, max] (the data's range when both are 0)."""
    data = input._data
    if data.dtype.kind != "f":
        raise NotImplementedError(f'"histogram_cpu" not implemented for {input.dtype}')
    low, high = float(min), float(max)
    if low == high and data.size:
        low, high = float(data.min()), float(data.max())
    if low == high:
        low, high = low - 1, high + 1
    if low > high:
        raise RuntimeError("torch.histc: max must be larger than min")
    counts, _ = np.histogram(data, bins=bins, range=(low, high))
    return Tensor._result(counts.astype(data.dtype))


def unique_consecutive(input, return_inverse=False, return_counts=False, dim=None):
    """Collapse runs of equal consecutive values (of the flattened input when dim is None)."""
    if dim is not None:
        raise NotImplementedError("unique_consecutive: dim is not implemented in ember")
    flat = input._data.reshape(-1)
    starts = np.ones(flat.shape, np.bool_)
    starts[1:] = flat[1:] != flat[:-1]
    results = [Tensor._result(flat[starts].copy())]
    if return_inverse:
        results.append(Tensor._result((np.cumsum(starts) - 1).reshape(input._data.shape)
                                      .astype(np.int64)))
    if return_counts:
        boundaries = np.append(np.flatnonzero(starts), flat.size)
        results.append(Tensor._result(np.diff(boundaries).astype(np.int64)))
    return results[0] if len(results) == 1 else tuple(results)


def cumulative_trapezoid(y, x=None, *, dx=None, dim=-1):
    """Running trapezoid-rule integrals along ``dim`` (one fewer element than ``y``)."""
    axis = _axes(dim, y._data.ndim, "cumulative_trapezoid")[0]
    length = y._data.shape[axis]
    pairs = builtins.max(length - 1, 0)
    pair_sums = narrow(y, axis, 1, pairs) + narrow(y, axis, 0, pairs)
    if x is not None:
        spacing = diff(x, dim=-1 if x._data.ndim == 1 else axis)
        if x._data.ndim == 1:
            shape = [1] * y._data.ndim
            shape[axis] = length - 1
            spacing = spacing.reshape(shape)
        return cumsum(pair_sums * spacing, axis) / 2
    return cumsum(pair_sums, axis) * ((1.0 if dx is None else dx) / 2)
