"""Indexing: basic and advanced ``x[key]``, indexed assignment, gather, index_select, masked_fill."""
import re

import numpy as np

from ..autograd.function import Function
from ..tensor import Tensor, _normalize_dim


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


class BasicIndex(Function):
    array_io = True
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


class AdvancedIndex(Function):
    array_io = True

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


class IndexPut(Function):
    """``out = x.clone(); out[key] = value``: the recorded form of indexed assignment."""

    array_io = True

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
            from ._broadcast import unbroadcast
            grad_value = unbroadcast(np.asarray(grad[ctx.key]), ctx.value_shape)
            if ctx.value_dtype is not None and grad_value.dtype != ctx.value_dtype:
                grad_value = grad_value.astype(ctx.value_dtype)
        return grad_x, grad_value, None


class Gather(Function):
    array_io = True

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


def masked_fill(input, mask, value):
    """Where ``mask`` is True take ``value``, else ``input`` (differentiable in input)."""
    from .elementwise import where
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
