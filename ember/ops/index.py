"""Indexing: basic and advanced ``x[key]``, indexed assignment, gather, index_select, where,
masked_fill, scatter and the index_* family, selection by mask, searching and counting."""
import re

import numpy as np

from .._dtype import scalar_type_name
from ..autograd.function import Op
from ..tensor import Tensor, _normalize_dim
from ._broadcast import unbroadcast
from .elementwise._operands import (
    _grad_for, _promote, _shape_dtype, _shape_error, _to_operand)

__all__ = ["argwhere", "bincount", "bucketize", "gather", "index_add", "index_copy", "index_fill",
           "index_put", "index_select", "isin", "masked_fill", "masked_scatter", "masked_select",
           "nonzero", "scatter", "scatter_add", "scatter_reduce", "searchsorted", "take",
           "take_along_dim", "tril_indices", "triu_indices", "where"]


def _convert_key(key):
    """Turn tensors and lists inside an index into NumPy arrays; report whether it is advanced."""
    if not isinstance(key, tuple):
        key = (key,)
    converted = []
    advanced = False
    for item in key:
        if isinstance(item, Tensor):
            item = item._data
            if item.dtype.kind == "f":
                raise IndexError("tensors used as indices must be long, int, byte or bool tensors")
            advanced = True
        elif isinstance(item, (list, np.ndarray)):
            item = np.asarray(item)
            if item.dtype.kind == "f":
                raise IndexError("tensors used as indices must be long, int, byte or bool tensors")
            advanced = True
        elif isinstance(item, bool):
            advanced = True
        elif isinstance(item, float):
            raise IndexError("only integers, slices (`:`), ellipsis (`...`), None and long or "
                             "byte Variables are valid indices (got float)")
        converted.append(item)
    if not advanced and not any(item is Ellipsis for item in converted):
        converted.append(Ellipsis)  # makes NumPy return a 0-d view instead of a scalar copy
    return tuple(converted), advanced


class BasicIndex(Op):
    is_view = True

    @staticmethod
    def forward(ctx, x, key):
        ctx.shape = x.shape
        ctx.dtype = x.dtype
        ctx.key = key
        return x[key]

    @staticmethod
    def backward(ctx, grad):
        full = np.zeros(ctx.shape, dtype=grad.dtype)
        full[ctx.key] = grad
        return full, None


class AdvancedIndex(Op):
    @staticmethod
    def forward(ctx, x, key):
        ctx.shape = x.shape
        ctx.key = key
        try:
            return np.asarray(x[key])
        except IndexError as error:
            raise _index_error(error) from None

    @staticmethod
    def backward(ctx, grad):
        full = np.zeros(ctx.shape, dtype=grad.dtype)
        # add.at sums repeated indices instead of keeping only the last write.
        np.add.at(full, ctx.key, grad)
        return full, None


class IndexPut(Op):
    """``out = x.clone(); out[key] = value``: the recorded form of indexed assignment."""

    @staticmethod
    def forward(ctx, x, value, key):
        ctx.key = key
        ctx.value_shape = np.shape(value)
        ctx.value_dtype = value.dtype if isinstance(value, np.ndarray) else None
        out = x.copy()
        out[key] = value
        return out

    @staticmethod
    def backward(ctx, grad):
        needs_x, needs_value = ctx.needs_input_grad[:2]
        grad_x = grad_value = None
        if needs_x:
            grad_x = grad.copy()
            grad_x[ctx.key] = 0
        if needs_value:
            grad_value = unbroadcast(np.asarray(grad[ctx.key]), ctx.value_shape)
            if ctx.value_dtype is not None and grad_value.dtype != ctx.value_dtype:
                grad_value = grad_value.astype(ctx.value_dtype)
        return grad_x, grad_value, None


class Gather(Op):
    @staticmethod
    def forward(ctx, x, axis, index):
        ctx.shape = x.shape
        ctx.axis = axis
        ctx.save_for_backward(index)
        return np.take_along_axis(x, index, axis=axis)

    @staticmethod
    def backward(ctx, grad):
        (index,) = ctx.saved_tensors
        full = np.zeros(ctx.shape, dtype=grad.dtype)
        # Scatter-add along the axis (repeated indices accumulate).
        grid = list(np.indices(index.shape, sparse=True))
        grid[ctx.axis] = index
        np.add.at(full, tuple(grid), grad)
        return full, None, None


# ---- functional API ------------------------------------------------------------------------------
def _index_error(error):
    """NumPy's indexing errors in PyTorch's words."""
    text = str(error)
    match = re.match(r"too many indices for array: array is (\d+)-dimensional", text)
    if match:
        return IndexError(f"too many indices for tensor of dimension {match.group(1)}")
    match = re.match(r"boolean index did not match indexed array along (?:axis|dimension) (\d+); "
                     r"size of (?:axis|dimension) is (\d+) but size of corresponding boolean "
                     r"(?:axis|dimension) is (\d+)", text)
    if match:
        axis, size, mask_size = match.groups()
        return IndexError(f"The shape of the mask [{mask_size}] at index {axis} does not match "
                          f"the shape of the indexed tensor [{size}] at index {axis}")
    return IndexError(text.replace("axis", "dimension"))


def getitem(input, key):
    if input._data.ndim == 0 and isinstance(key, (int, np.integer)) and not isinstance(key, bool):
        raise IndexError("invalid index of a 0-dim tensor. Use `tensor.item()` in Python or "
                         "`tensor.item<T>()` in C++ to convert a 0-dim tensor to a number")
    key, advanced = _convert_key(key)
    if advanced:
        return AdvancedIndex.apply(input, key)
    try:
        return BasicIndex.apply(input, key)
    except IndexError as error:
        raise _index_error(error) from None


def setitem(input, key, value):
    """``input[key] = value`` in place; recorded when grad is on and either side requires grad."""
    key, _ = _convert_key(key)
    if isinstance(value, Tensor):
        value_tensor = value
        raw = value._data
    else:
        raw = np.asarray(value)
        if raw.dtype.kind == "f" and input._data.dtype.kind == "f":
            raw = raw.astype(input._data.dtype)
        value_tensor = Tensor._wrap(raw)

    def fast(array):
        array[key] = raw

    try:
        return input._inplace("setitem", lambda: IndexPut.apply(input, value_tensor, key), fast,
                              value_tensor)
    except ValueError as error:  # NumPy checks shapes before writing: nothing was changed
        raise RuntimeError(f"setitem: the value of shape {list(raw.shape)} can't be assigned: "
                           f"{error}") from None


def index_select(input, dim, index):
    if not isinstance(index, Tensor) or index._data.dtype.kind not in "iu" or index._data.ndim > 1:
        raise IndexError("index_select(): Expected a 1-D integer index tensor")
    axis = _normalize_dim(dim, input._data.ndim)
    return getitem(input, (slice(None),) * axis + (index._data.reshape(-1),))


def gather(input, dim, index):
    if not isinstance(index, Tensor) or index._data.dtype.kind not in "iu":
        raise RuntimeError("gather(): Expected dtype int32/int64 for index")
    if index._data.ndim != input._data.ndim:
        raise RuntimeError("Index tensor must have the same number of dimensions as input tensor")
    axis = _normalize_dim(dim, input._data.ndim)
    return Gather.apply(input, axis, index._data)


def take_along_dim(input, indices, dim):
    return gather(input, dim, indices)


class Where(Op):
    @staticmethod
    def forward(ctx, condition, a, b):
        if not isinstance(condition, np.ndarray) or condition.dtype != np.bool_:
            kind = getattr(condition, "dtype", None)
            name = scalar_type_name(kind) if kind is not None else \
                type(condition).__name__
            raise RuntimeError(f"where expected condition to be a boolean tensor, but got a "
                               f"tensor with dtype {name}")
        ctx.a_meta = _shape_dtype(a)
        ctx.b_meta = _shape_dtype(b)
        a, b = _promote(a, b)
        if any(ctx.needs_input_grad[1:]):
            ctx.save_for_backward(condition)
        return np.where(condition, a, b)

    @staticmethod
    def backward(ctx, grad):
        (condition,) = ctx.saved_tensors
        _, needs_a, needs_b = ctx.needs_input_grad
        zero = np.zeros((), dtype=grad.dtype)
        return (None,
                _grad_for(np.where(condition, grad, zero), *ctx.a_meta) if needs_a else None,
                _grad_for(np.where(condition, zero, grad), *ctx.b_meta) if needs_b else None)


def where(condition, input=None, other=None):
    try:
        if input is None and other is None:
            return nonzero(condition, as_tuple=True)
        return Where.apply(_to_operand(condition, "where"), _to_operand(input, "where"),
                           _to_operand(other, "where"))
    except ValueError as error:
        raise _shape_error(error, condition, input, other) from None


def masked_fill(input, mask, value):
    """Where ``mask`` is True take ``value``, else ``input`` (differentiable in input)."""
    if not isinstance(mask, Tensor) or mask._data.dtype != np.bool_:
        raise RuntimeError("masked_fill_ only supports boolean masks, but got mask with dtype "
                           f"{getattr(mask, 'dtype', type(mask).__name__)}")
    if isinstance(value, Tensor):
        value = value.item() if value._data.ndim == 0 else value
    filled = Tensor._wrap(np.asarray(value, dtype=input._data.dtype))
    return where(mask, filled, input)


def nonzero(input, as_tuple=False):
    indices = np.nonzero(input._data)
    if as_tuple:
        return tuple(Tensor._result(axis.astype(np.int64)) for axis in indices)
    return Tensor._result(np.stack(indices, axis=1).astype(np.int64) if indices else
                        np.zeros((0, 0), np.int64))


# ---- scatter, index_add, index_fill --------------------------------------------------------------
def _scatter_grid(index, axis):
    """Advanced-index tuple addressing ``out[..., index[i], ...]`` along ``axis`` for every
    position of ``index`` (the scatter pattern)."""
    grid = list(np.indices(index.shape, sparse=True))
    grid[axis] = index
    return tuple(grid)


def _leading(array, shape):
    """The leading ``shape`` block of ``array`` (scatter reads only that much of ``src``)."""
    return array[tuple(slice(0, size) for size in shape)]


class Scatter(Op):
    """out = input with ``src`` (a tensor or a number) written at ``index`` along ``axis``."""

    @staticmethod
    def forward(ctx, x, axis, index, src):
        ctx.axis = axis
        ctx.src_shape = src.shape if type(src) is np.ndarray else None
        ctx.save_for_backward(index)
        out = x.copy()
        grid = _scatter_grid(index, axis)
        out[grid] = _leading(src, index.shape) if type(src) is np.ndarray else src
        return out

    @staticmethod
    def backward(ctx, grad):
        (index,) = ctx.saved_tensors
        grid = _scatter_grid(index, ctx.axis)
        grad_x = None
        if ctx.needs_input_grad[0]:
            grad_x = grad.copy()
            grad_x[grid] = 0
        grad_src = None
        if ctx.src_shape is not None and ctx.needs_input_grad[3]:
            grad_src = np.zeros(ctx.src_shape, dtype=grad.dtype)
            _leading(grad_src, index.shape)[...] = grad[grid]
        return grad_x, None, None, grad_src


class ScatterAdd(Op):
    """out = input with ``src`` added at ``index`` along ``axis`` (repeats accumulate)."""

    @staticmethod
    def forward(ctx, x, axis, index, src):
        ctx.axis = axis
        ctx.src_shape = src.shape
        ctx.save_for_backward(index)
        out = x.copy()
        np.add.at(out, _scatter_grid(index, axis), _leading(src, index.shape))
        return out

    @staticmethod
    def backward(ctx, grad):
        (index,) = ctx.saved_tensors
        grad_src = None
        if ctx.needs_input_grad[3]:
            grad_src = np.zeros(ctx.src_shape, dtype=grad.dtype)
            _leading(grad_src, index.shape)[...] = grad[_scatter_grid(index, ctx.axis)]
        return grad, None, None, grad_src


def _check_scatter(operation, input, dim, index, src):
    if not isinstance(index, Tensor) or index._data.dtype.kind not in "iu":
        raise RuntimeError(f"{operation}(): Expected dtype int64 for index")
    ndim = input._data.ndim
    if index._data.ndim != ndim:
        raise RuntimeError("Index tensor must have the same number of dimensions as self tensor")
    if isinstance(src, Tensor):
        if src._data.dtype != input._data.dtype:
            raise RuntimeError(f"{operation}(): Expected self.dtype to be equal to src.dtype")
        if src._data.ndim != ndim:
            raise RuntimeError("Index tensor must have the same number of dimensions as src "
                               "tensor")
    axis = _normalize_dim(dim, ndim)
    for position, size in enumerate(index._data.shape):
        limit = input._data.shape[position] if position != axis else size
        if isinstance(src, Tensor):
            limit = min(limit, src._data.shape[position])
        if size > limit:
            raise RuntimeError(f"Expected index {list(index._data.shape)} to be no larger than "
                               f"self {list(input._data.shape)} apart from dimension {axis}"
                               + (f" and to be no larger size than src "
                                  f"{list(src._data.shape)}" if isinstance(src, Tensor) else ""))
    size = input._data.shape[axis] if ndim else 1
    indices = index._data
    if indices.size and (indices.min() < -size or indices.max() >= size):
        bad = indices[(indices < -size) | (indices >= size)].flat[0]
        raise RuntimeError(f"index {bad} is out of bounds for dimension {axis} with size {size}")
    return axis, np.where(indices < 0, indices + size, indices).astype(np.intp, copy=False)


def scatter(input, dim, index, src=None, value=None, reduce=None):
    """``input`` with ``src`` (or ``value``) written at ``index`` along ``dim``; with
    ``reduce='add'|'multiply'`` combined instead (not differentiable, as in PyTorch)."""
    if src is None:
        src = value
    if src is None:
        raise TypeError("scatter(): expected a src tensor or a value")
    axis, indices = _check_scatter("scatter", input, dim, index, src)
    if reduce is not None:
        if reduce not in ("add", "multiply"):
            raise RuntimeError(f"reduce argument must be either add or multiply, got {reduce}")
        out = input._data.copy()
        values = _leading(src._data, indices.shape) if isinstance(src, Tensor) else src
        ufunc = np.add if reduce == "add" else np.multiply
        ufunc.at(out, _scatter_grid(indices, axis), values)
        return Tensor._result(out)
    if not isinstance(src, Tensor):
        if isinstance(src, np.generic):
            src = src.item()
        src = np.asarray(src, dtype=input._data.dtype)[()]
    return Scatter.apply(input, axis, indices, src)


def scatter_add(input, dim, index, src):
    axis, indices = _check_scatter("scatter_add", input, dim, index, src)
    if not isinstance(src, Tensor):
        raise TypeError(f"scatter_add(): argument 'src' (position 4) must be Tensor, not "
                        f"{type(src).__name__}")
    return ScatterAdd.apply(input, axis, indices, src)


class IndexAdd(Op):
    @staticmethod
    def forward(ctx, x, axis, index, source, alpha):
        ctx.axis_alpha = (axis, alpha)
        ctx.save_for_backward(index)
        out = x.copy()
        added = source if alpha == 1 else source * alpha
        np.add.at(out, (slice(None),) * axis + (index,), added.astype(out.dtype, copy=False))
        return out

    @staticmethod
    def backward(ctx, grad):
        (index,) = ctx.saved_tensors
        axis, alpha = ctx.axis_alpha
        grad_source = None
        if ctx.needs_input_grad[3]:
            grad_source = np.take(grad, index, axis=axis)
            if alpha != 1:
                grad_source = grad_source * alpha
        return grad, None, None, grad_source, None


def index_add(input, dim, index, source, alpha=1):
    """``input`` with ``alpha * source`` slices added at ``index`` along ``dim``."""
    if not isinstance(index, Tensor) or index._data.dtype.kind not in "iu" or index._data.ndim > 1:
        raise IndexError("index_add_(): Expected a 1-D integer index tensor")
    axis = _normalize_dim(dim, input._data.ndim)
    indices = index._data.reshape(-1)
    source_shape = source._data.shape
    count = source_shape[axis] if source._data.ndim else 1
    if indices.size != count:
        raise RuntimeError(f"index_add_(): Number of indices ({indices.size}) should be equal to "
                           f"source.size(dim): ({count}), for dim: {axis}")
    if source._data.dtype != input._data.dtype:
        raise RuntimeError(f"index_add_(): self ({input.dtype}) and source ({source.dtype}) must "
                           f"have the same scalar type")
    size = input._data.shape[axis] if input._data.ndim else 1
    if indices.size and (indices.min() < -size or indices.max() >= size):
        raise IndexError(f"index out of range in self (dimension {axis} has size {size})")
    return IndexAdd.apply(input, axis, indices, source, alpha)


class IndexFill(Op):
    @staticmethod
    def forward(ctx, x, axis, index, value):
        ctx.axis = axis
        ctx.save_for_backward(index)
        out = x.copy()
        out[(slice(None),) * axis + (index,)] = value
        return out

    @staticmethod
    def backward(ctx, grad):
        (index,) = ctx.saved_tensors
        grad = grad.copy()
        grad[(slice(None),) * ctx.axis + (index,)] = 0
        return grad, None, None, None


def index_fill(input, dim, index, value):
    """``input`` with the slices at ``index`` along ``dim`` set to ``value`` (a number)."""
    if not isinstance(index, Tensor) or index._data.dtype != np.int64:
        raise IndexError("index_fill_(): Expected dtype int64 for index.")
    if isinstance(value, Tensor):
        if value._data.ndim != 0:
            raise RuntimeError(f"index_fill_ only supports a 0-dimensional value tensor, but got "
                               f"tensor with {value._data.ndim} dimension(s).")
        value = value.item()
    axis = _normalize_dim(dim, input._data.ndim)
    return IndexFill.apply(input, axis, index._data.reshape(-1), value)


# ---- selection by mask or flat index; searching; counting (indices are not differentiable) -------
def masked_select(input, mask):
    """The elements where ``mask`` (broadcast with ``input``) is True, as a 1-D tensor."""
    if not isinstance(mask, Tensor) or mask._data.dtype != np.bool_:
        raise RuntimeError("masked_select: expected BoolTensor for mask")
    try:
        shape = np.broadcast_shapes(input._data.shape, mask._data.shape)
    except ValueError:
        raise RuntimeError(f"masked_select: the mask of shape {list(mask._data.shape)} does not "
                           f"broadcast with the input of shape {list(input._data.shape)}") from None
    expanded = input.expand(*shape) if input._data.shape != shape else input
    return getitem(expanded, np.broadcast_to(mask._data, shape))


def take(input, index):
    """Elements of the flattened ``input`` at ``index`` (shaped like ``index``)."""
    if not isinstance(index, Tensor) or index._data.dtype.kind not in "iu":
        raise RuntimeError("take(): Expected a long tensor for index, but got "
                           f"{getattr(index, 'dtype', type(index).__name__)}")
    size = input._data.size
    positions = index._data
    if positions.size and (positions.min() < -size or positions.max() >= size):
        bad = positions[(positions < -size) | (positions >= size)].flat[0]
        raise IndexError(f"out of range: tried to access index {bad} on a tensor of {size} "
                         f"elements.")
    return getitem(input.reshape(-1), (positions,))


def argwhere(input):
    return nonzero(input)


def isin(elements, test_elements, *, assume_unique=False, invert=False):
    values = elements._data if isinstance(elements, Tensor) else np.asarray(elements)
    tests = test_elements._data if isinstance(test_elements, Tensor) else np.asarray(test_elements)
    return Tensor._result(np.isin(values, tests, invert=invert))


def bincount(input, weights=None, minlength=0):
    data = input._data
    if data.ndim != 1 or data.dtype.kind not in "iu":
        raise RuntimeError("bincount only supports 1-d non-negative integral inputs.")
    if data.size and data.min() < 0:
        raise RuntimeError("bincount only supports 1-d non-negative integral inputs.")
    if weights is None:
        return Tensor._result(np.bincount(data, minlength=minlength).astype(np.int64))
    counts = np.bincount(data, weights=weights._data, minlength=minlength)
    dtype = weights._data.dtype if weights._data.dtype.kind == "f" else np.float64
    return Tensor._result(counts.astype(dtype))


def searchsorted(sorted_sequence, input, *, out_int32=False, right=False, side=None, sorter=None):
    """Insertion points of ``input`` in the innermost dim of ``sorted_sequence``."""
    if side is not None:
        right = side == "right"
    sequence = sorted_sequence._data
    values = input._data if isinstance(input, Tensor) else np.asarray(input)
    if sorter is not None:
        sequence = np.take_along_axis(sequence, sorter._data, axis=-1)
    kind = "right" if right else "left"
    if sequence.ndim <= 1:
        out = np.searchsorted(sequence, values, side=kind)
    else:
        if sequence.shape[:-1] != values.shape[:-1]:
            raise RuntimeError(f"torch.searchsorted(): boundaries tensor should be 1 dimension or "
                               f"the first N-1 dimensions of boundaries tensor and input value "
                               f"tensor must match, but we got boundaries tensor "
                               f"{list(sequence.shape)} and input value tensor "
                               f"{list(values.shape)}")
        # One search over all rows: offset each row so rows never interleave.
        rows = sequence.reshape(-1, sequence.shape[-1]).astype(np.float64)
        queries = values.reshape(rows.shape[0], -1).astype(np.float64)
        low = min(rows.min(initial=0), queries.min(initial=0))
        span = max(rows.max(initial=0), queries.max(initial=0)) - low + 1
        offsets = np.arange(rows.shape[0])[:, None] * span
        flat = np.searchsorted((rows - low + offsets).reshape(-1),
                               (queries - low + offsets).reshape(-1), side=kind)
        out = flat.reshape(queries.shape) - np.arange(rows.shape[0])[:, None] * rows.shape[1]
        out = out.reshape(values.shape)
    return Tensor._result(np.asarray(out).astype(np.int32 if out_int32 else np.int64))


def bucketize(input, boundaries, *, out_int32=False, right=False):
    """The bucket of each value: boundaries[i-1] < x <= boundaries[i] (``right=False``)."""
    if boundaries._data.ndim != 1:
        raise RuntimeError(f"boundaries tensor must be 1 dimension, but got dim("
                           f"{boundaries._data.ndim})")
    return searchsorted(boundaries, input, out_int32=out_int32, right=right)


def tril_indices(row, col, offset=0, *, dtype=None):
    rows, cols = np.tril_indices(row, offset, col)
    return Tensor._result(np.stack([rows, cols]).astype(np.int64).reshape(2, -1))


def triu_indices(row, col, offset=0, *, dtype=None):
    rows, cols = np.triu_indices(row, offset, col)
    return Tensor._result(np.stack([rows, cols]).astype(np.int64).reshape(2, -1))


class IndexCopy(Op):
    @staticmethod
    def forward(ctx, x, axis, index, source):
        ctx.axis = axis
        ctx.save_for_backward(index)
        out = x.copy()
        out[(slice(None),) * axis + (index,)] = source
        return out

    @staticmethod
    def backward(ctx, grad):
        (index,) = ctx.saved_tensors
        where = (slice(None),) * ctx.axis + (index,)
        grad_x = None
        if ctx.needs_input_grad[0]:
            grad_x = grad.copy()
            grad_x[where] = 0
        grad_source = grad[where] if ctx.needs_input_grad[3] else None
        return grad_x, None, None, grad_source


def index_copy(input, dim, index, source):
    """``input`` with its slices at ``index`` along ``dim`` replaced by ``source``'s."""
    if not isinstance(index, Tensor) or index._data.dtype != np.int64 or index._data.ndim > 1:
        raise IndexError("index_copy_(): Index should have dimension 1 or 0 (got "
                         f"{getattr(index, 'ndim', '?')}) and dtype int64")
    axis = _normalize_dim(dim, input._data.ndim)
    indices = index._data.reshape(-1)
    count = source._data.shape[axis] if source._data.ndim else 1
    if indices.size != count:
        raise IndexError(f"index_copy_(): Number of indices ({indices.size}) should be equal to "
                           f"source.size(dim) ({count})")
    if source._data.dtype != input._data.dtype:
        raise RuntimeError(f"index_copy_(): self and source expected to have the same dtype, but "
                           f"got (self) {input.dtype} and (source) {source.dtype}")
    return IndexCopy.apply(input, axis, indices, source)


class MaskedScatter(Op):
    """Where ``mask`` is True take ``source``'s elements in order; elsewhere keep ``input``."""

    @staticmethod
    def forward(ctx, x, mask, source):
        ctx.source_shape = source.shape
        ctx.save_for_backward(mask)
        out = x.copy()
        count = int(mask.sum())
        out[mask] = source.reshape(-1)[:count]
        return out

    @staticmethod
    def backward(ctx, grad):
        (mask,) = ctx.saved_tensors
        grad_x = np.where(mask, 0, grad) if ctx.needs_input_grad[0] else None
        grad_source = None
        if ctx.needs_input_grad[2]:
            picked = grad[mask]
            flat = np.zeros(int(np.prod(ctx.source_shape)), dtype=grad.dtype)
            flat[:picked.size] = picked
            grad_source = flat.reshape(ctx.source_shape)
        return grad_x, None, grad_source


def masked_scatter(input, mask, source):
    if not isinstance(mask, Tensor) or mask._data.dtype != np.bool_:
        raise RuntimeError("masked_scatter_ only supports boolean masks, but got mask with dtype "
                           f"{getattr(mask, 'dtype', type(mask).__name__)}")
    if source._data.dtype != input._data.dtype:
        raise RuntimeError(f"masked_scatter: expected self and source to have same dtypes but got "
                           f"{input.dtype} and {source.dtype}")
    mask_array = np.broadcast_to(mask._data, input._data.shape)
    if int(mask_array.sum()) > source._data.size:
        raise RuntimeError("masked_scatter: expected source to have at least as many elements as "
                           "ones in mask")
    return MaskedScatter.apply(input, mask_array, source)


def fill_diagonal(input, fill_value, wrap=False):
    """``input`` with its main diagonal (all dims equal, or 2-D) set to ``fill_value``."""
    shape = input._data.shape
    if input._data.ndim < 2:
        raise RuntimeError("dimensions must larger than 1")
    if input._data.ndim > 2 and len(set(shape)) != 1:
        raise RuntimeError("all dimensions of input must be of equal length")
    mask = np.zeros(shape, dtype=np.bool_)
    np.fill_diagonal(mask, True, wrap=wrap)
    return masked_fill(input, Tensor._wrap(mask), fill_value)


class IndexPutAccumulate(Op):
    """``input`` with ``values`` added at an advanced index (repeated positions accumulate)."""

    @staticmethod
    def forward(ctx, x, key, values):
        ctx.values_meta = values.shape, values.dtype
        ctx.save_for_backward(*key)
        out = x.copy()
        np.add.at(out, key, values.astype(out.dtype, copy=False))
        return out

    @staticmethod
    def backward(ctx, grad):
        grad_values = None
        if ctx.needs_input_grad[2]:
            shape, dtype = ctx.values_meta
            key = tuple(ctx.saved_tensors)
            grad_values = unbroadcast(grad[key], shape).astype(dtype, copy=False)
        return grad, None, grad_values


def index_put(input, indices, values, accumulate=False):
    """``input`` with ``values`` written (or, with ``accumulate``, added) at ``indices``, a tuple
    of index tensors as in ``input[indices]``."""
    if not isinstance(indices, (tuple, list)):
        raise TypeError(f"index_put(): argument 'indices' must be tuple of Tensors, not "
                        f"{type(indices).__name__}")
    if not isinstance(values, Tensor):
        values = Tensor._wrap(np.asarray(values, dtype=input._data.dtype))
    if values._data.dtype != input._data.dtype:
        raise RuntimeError(f"Index put requires the source and destination dtypes match, got "
                           f"{input.dtype} for the destination and {values.dtype} for the "
                           f"source.")
    key = tuple(np.asarray(index._data if isinstance(index, Tensor) else index)
                for index in indices)
    if any(index.dtype.kind not in "iub" for index in key):
        raise IndexError("tensors used as indices must be long, int, byte or bool tensors")
    if not accumulate:
        out = input.clone()
        setitem(out, tuple(indices), values)
        return out
    try:
        return IndexPutAccumulate.apply(input, key, values)
    except IndexError as error:
        raise _index_error(error) from None


_SCATTER_UFUNCS = {"sum": np.add, "mean": np.add, "prod": np.multiply, "amax": np.maximum,
                   "amin": np.minimum}


def _identity(reduce, dtype):
    if reduce in ("sum", "mean"):
        return 0
    if reduce == "prod":
        return 1
    if dtype.kind == "f":
        return -np.inf if reduce == "amax" else np.inf
    info = np.iinfo(dtype) if dtype.kind in "iu" else None
    if info is None:
        return reduce == "amin"
    return info.min if reduce == "amax" else info.max


class ScatterReduce(Op):
    """``input`` with ``src`` combined at ``index`` along ``axis`` by sum/prod/mean/amax/amin
    (optionally leaving ``input``'s own values out of the reduction)."""

    @staticmethod
    def forward(ctx, x, axis, index, src, reduce, include_self):
        ctx.layout = (axis, reduce, include_self, src.shape)
        grid = _scatter_grid(index, axis)
        values = _leading(src, index.shape)
        out = x.copy()
        hit = np.zeros(x.shape, np.int64)
        np.add.at(hit, grid, 1)
        if not include_self:
            out[hit > 0] = _identity(reduce, x.dtype)
        _SCATTER_UFUNCS[reduce].at(out, grid, values)
        count = hit + (1 if include_self else 0)
        if reduce == "mean":
            divisor = np.maximum(count, 1).astype(out.dtype)
            out = out // divisor if out.dtype.kind in "iu" else out / divisor
        ctx.save_for_backward(x, index, values, out, count)
        return out

    @staticmethod
    def backward(ctx, grad):
        x, index, values, out, count = ctx.saved_tensors
        axis, reduce, include_self, src_shape = ctx.layout
        grid = _scatter_grid(index, axis)
        hit = count > (1 if include_self else 0)
        if reduce in ("sum", "mean"):
            share = grad / np.maximum(count, 1) if reduce == "mean" else grad
            grad_x = share if include_self else np.where(hit, 0, grad)
            grad_values = share[grid]
        elif reduce == "prod":
            if (x[hit] == 0).any() and include_self or (values == 0).any():
                raise NotImplementedError("scatter_reduce backward with reduce='prod' and zeros "
                                          "in the reduced values is not implemented in ember")
            with np.errstate(divide="ignore", invalid="ignore"):
                grad_x = grad * out / x if include_self else np.where(hit, 0, grad)
                grad_x = np.where(hit | include_self, grad_x, grad)
                grad_values = (grad * out)[grid] / values
        else:  # amax/amin: shared evenly by every value equal to the result
            winners_self = (x == out) if include_self else ~hit
            winners_values = values == out[grid]
            ties = winners_self.astype(grad.dtype)
            np.add.at(ties, grid, winners_values.astype(grad.dtype))
            share = grad / np.maximum(ties, 1)
            grad_x = np.where(winners_self, share, 0)
            grad_values = np.where(winners_values, share[grid], 0)
        grad_src = None
        if ctx.needs_input_grad[3]:
            grad_src = np.zeros(src_shape, dtype=grad.dtype)
            _leading(grad_src, index.shape)[...] = grad_values
        return (grad_x.astype(grad.dtype, copy=False) if ctx.needs_input_grad[0] else None,
                None, None, grad_src, None, None)


def scatter_reduce(input, dim, index, src, reduce, *, include_self=True):
    if reduce not in _SCATTER_UFUNCS:
        raise RuntimeError(f"reduce argument must be either sum, prod, mean, amax or amin, got "
                           f"{reduce}")
    axis, indices = _check_scatter("scatter_reduce", input, dim, index, src)
    return ScatterReduce.apply(input, axis, indices, src, reduce, include_self)
