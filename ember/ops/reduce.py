"""Reductions and normalised exponentials: sum, mean, var/std, max/min, prod, logsumexp, softmax."""
import builtins

import numpy as np

from .._dtype import get_default_dtype
from ..autograd.function import Function
from ..tensor import Tensor


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


def _expand_back(grad, shape, axes, keepdim):
    """Reinsert reduced axes so ``grad`` broadcasts against the input."""
    if not keepdim and axes:
        grad = np.expand_dims(grad, axes)
    return np.broadcast_to(grad, shape)


def _count(shape, axes):
    count = 1
    for axis in axes:
        count *= shape[axis]
    return count


class Sum(Function):
    array_io = True

    @staticmethod
    def forward(ctx, x, axes, keepdim, dtype):
        ctx.shape = x.shape
        ctx.dtype = x.dtype
        ctx.axes_keepdim = (axes, keepdim)
        out_dtype = dtype.numpy if dtype is not None else (
            np.int64 if x.dtype.kind in "biu" else x.dtype)
        return np.asarray(np.sum(x, axis=axes, keepdims=keepdim, dtype=out_dtype))

    @staticmethod
    def backward(ctx, grad, *_):
        axes, keepdim = ctx.axes_keepdim
        out = _expand_back(grad, ctx.shape, axes, keepdim)
        return (out.astype(ctx.dtype, copy=False) if out.dtype != ctx.dtype else out,
                None, None, None)


class Mean(Function):
    array_io = True

    @staticmethod
    def forward(ctx, x, axes, keepdim, dtype):
        if dtype is not None:
            x = x.astype(dtype.numpy)
        if x.dtype.kind != "f":
            raise RuntimeError(f"mean(): could not infer output dtype. Input dtype must be either "
                               f"a floating point or complex dtype. Got: {_name(x.dtype)}")
        ctx.shape = x.shape
        ctx.axes_keepdim = (axes, keepdim)
        return np.asarray(np.mean(x, axis=axes, keepdims=keepdim))

    @staticmethod
    def backward(ctx, grad, *_):
        axes, keepdim = ctx.axes_keepdim
        count = _count(ctx.shape, axes)
        scale = grad.dtype.type(1.0 / count) if count else grad.dtype.type(np.nan)
        return _expand_back(grad * scale, ctx.shape, axes, keepdim), None, None, None


def _name(numpy_dtype):
    return {"int64": "Long", "int32": "Int", "bool": "Bool", "float32": "Float",
            "float64": "Double"}.get(np.dtype(numpy_dtype).name, str(numpy_dtype))


class Var(Function):
    """Variance with Bessel-style ``correction``; its own op for a stable two-pass formula."""

    array_io = True

    @staticmethod
    def forward(ctx, x, axes, correction, keepdim):
        if x.dtype.kind != "f":
            raise RuntimeError(f"std and var only support floating point and complex dtypes")
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
            grad = _expand_back(grad, centered.shape, axes, keepdim)
            return grad * centered * scale, None, None, None


class _Extreme(Function):
    """max/min/amax/amin. Given ``indices`` (max/min with dim, computed once by the caller and
    kept as kept-dim int64) the values are taken at them and the gradient goes there; without
    (full reductions, amax/amin) it is split evenly among ties, as PyTorch does."""

    array_io = True
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


class Prod(Function):
    array_io = True

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


class LogSumExp(Function):
    """Its own op for stability: shifts by the max before exponentiating."""

    array_io = True

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


class Softmax(Function):
    array_io = True

    @staticmethod
    def forward(ctx, x, axis):
        shifted = x - np.max(x, axis=axis, keepdims=True) if x.size else x
        exp = np.exp(shifted)
        out = exp / np.sum(exp, axis=axis, keepdims=True)
        ctx.save_for_backward(out)
        ctx.axis = axis
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        inner = np.sum(grad * out, axis=ctx.axis, keepdims=True)
        return out * (grad - inner), None


class LogSoftmax(Function):
    """Its own op for stability: x - max - log(sum(exp(x - max)))."""

    array_io = True

    @staticmethod
    def forward(ctx, x, axis):
        shifted = x - np.max(x, axis=axis, keepdims=True) if x.size else x
        out = shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))
        ctx.save_for_backward(out)
        ctx.axis = axis
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        return grad - np.exp(out) * np.sum(grad, axis=ctx.axis, keepdims=True), None


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
    from .elementwise import sqrt
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
        from .elementwise import maximum
        return maximum(input, dim)
    return _extreme(Max, input, dim, keepdim, "max")


def min(input, dim=None, keepdim=False):
    if isinstance(dim, Tensor):
        from .elementwise import minimum
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
    elif input._data.dtype.kind != "f":
        raise NotImplementedError(f"\"{operation}_lastdim_kernel_impl\" not implemented for "
                                  f"'{_name(input._data.dtype)}'")
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


class CumSum(Function):
    array_io = True

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
