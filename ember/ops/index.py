"""Indexing: basic and advanced ``x[key]``, indexed assignment, gather, index_select, where,
masked_fill, scatter and the index_* family, selection by mask, searching and counting.

Every backward here is itself differentiable: the backward of reading at a key is writing into
zeros at that key (``Embed``), and the backward of that is reading again.
"""
import re
import warnings

import numpy as np

from .. import _jit, _threads
from .._grad_state import _grad_state
from .._dtype import (checked_scalar, cpp_type_name, overflow_error, repr_prefix, scalar_overflows,
                      scalar_type_name, tensor_type_name)
from .._layout import iterator_strides, pointwise_layout, row_major_layout, with_strides
from ..autograd import function as _function
from ..autograd.function import NOT_IMPLEMENTED, Op, torch_named
from ..autograd.node import BatchedForward
from ..autograd.views import unrecorded_view, view_result
from ..tensor import Tensor, warn_at_caller, warn_once
from ._broadcast import expanded_shape, mismatch_error, unbroadcast
from . import _select
from ._select import select
from .elementwise._operands import (
    _check_tensor_elements, _grad_for, _promote, _shape_dtype, _shape_error, _to_operand,
    recorded_without_derivative)

__all__ = ["argwhere", "bincount", "bucketize", "gather", "index_add", "index_copy", "index_fill",
           "index_put", "index_reduce", "index_select", "isin", "masked_fill", "masked_scatter",
           "masked_select", "nonzero", "nonzero_static", "put", "scatter", "scatter_add", "scatter_reduce", "searchsorted", "take",
           "take_along_dim", "tril_indices", "triu_indices", "where"]

_INDEX_KINDS = "iub"


def _dim(dim, ndim, operation):
    """``dim`` as an axis in [0, ndim) (0 for a 0-d tensor), with PyTorch's errors."""
    if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)):
        raise TypeError(f"{operation}(): argument 'dim' must be int, not {type(dim).__name__}")
    rank = max(ndim, 1)
    if not -rank <= dim < rank:
        raise IndexError(f"Dimension out of range (expected to be in range of "
                         f"[{-rank}, {rank - 1}], but got {dim})")
    return int(dim) % rank


def _index_array(item):
    """A list, tuple or array used inside an index as an integer or boolean array."""
    try:
        array = np.asarray(item)
    except ValueError:  # a ragged nested list
        raise IndexError(f"too many indices for tensor of dimension 1 (the index {item!r} is "
                         f"ragged)") from None
    if array.dtype == np.uint8:
        return array.astype(np.bool_)  # PyTorch's (deprecated) byte masks
    if array.dtype.kind not in _INDEX_KINDS or array.dtype in (np.int8, np.int16):
        raise IndexError("tensors used as indices must be long, int, byte or bool tensors")
    return array


_BYTE_INDEX_DEPRECATED = ("indexing with dtype torch.uint8 is now deprecated, please use a dtype "
                          "torch.bool instead.")


def _sequence_index_array(item):
    """A list, tuple, range or NumPy array inside an index, made an index as PyTorch makes it:
    bools (and NumPy uint8) a mask, anything else int64: floats truncated toward zero, an
    empty list an empty index (GraphSAGE's ``mask[row_indices, column_indices] = 1``)."""
    try:
        array = np.asarray(item)
    except ValueError:  # a ragged nested list
        raise IndexError(f"too many indices for tensor of dimension 1 (the index {item!r} is "
                         f"ragged)") from None
    kind = array.dtype.kind
    if array.dtype == np.uint8 and isinstance(item, np.ndarray):
        warn_at_caller(_BYTE_INDEX_DEPRECATED)
    if kind == "b" or array.dtype == np.uint8:
        return _index_array(array)
    if kind in "iu":
        return array if array.dtype == np.int64 else array.astype(np.int64)
    if kind == "f":
        if array.size and not (np.isfinite(array).all() and np.abs(array).max() < 2.0 ** 63):
            raise RuntimeError("value cannot be converted to type int64 without overflow")
        return np.trunc(array).astype(np.int64)
    if kind == "c":
        raise TypeError("'complex' object cannot be interpreted as an integer")
    raise IndexError("tensors used as indices must be long, int, byte or bool tensors")


def _convert_key(key):
    """Turn tensors and lists inside an index into NumPy arrays; report whether it is advanced.
    The key always ends up holding an Ellipsis, so that NumPy returns arrays, never scalars."""
    if not isinstance(key, tuple):
        key = tuple(key) if type(key) is list and _sequence_as_tuple(key) else (key,)
    converted = []
    advanced = False
    has_ellipsis = False
    for item in key:
        kind = type(item)
        if kind is slice or kind is int or item is None:
            if kind is slice and item.step is not None:
                _check_step(item.step)
            converted.append(item)  # the common basic items, checked first
            continue
        if item is Ellipsis:
            has_ellipsis = True
        elif isinstance(item, Tensor):
            if item._data.dtype == np.uint8:
                warn_at_caller(_BYTE_INDEX_DEPRECATED)
            item = _index_array(item._data)
            advanced = True
        elif isinstance(item, (list, tuple, range, np.ndarray)):
            # any sequence inside the index, as PyTorch's (x[range(n), labels] = ...)
            item = _sequence_index_array(item)
            advanced = True
        elif isinstance(item, bool):
            advanced = True
        elif isinstance(item, float):
            raise IndexError("only integers, slices (`:`), ellipsis (`...`), None and long or "
                             "byte Variables are valid indices (got float)")
        elif isinstance(item, (str, bytes)):
            raise TypeError(f"new(): invalid data type '{type(item).__name__}'")
        elif not (item is None or item is Ellipsis or isinstance(item, (int, np.integer, slice))):
            raise IndexError(f"only integers, slices (`:`), ellipsis (`...`), None and long or "
                             f"byte Variables are valid indices (got {type(item).__name__})")
        converted.append(item)
    if not has_ellipsis:
        converted.append(Ellipsis)
    return tuple(converted), advanced


def _is_integer_item(item):
    return isinstance(item, (int, np.integer)) and not isinstance(item, (bool, np.bool_))


def _ints_selected_first(key, shape):
    """``key`` (converted, advanced) as PyTorch reads it: an integer selects its dim before any
    index array applies, so ``x[0, :, idx]`` keeps idx's dim after the slice's. NumPy counts
    the integer among the advanced indices and, the two being apart, puts idx's dim first (the
    values transposed). Where that happens, the key becomes one index array per dim, each
    broadcast to PyTorch's result shape (built from the dims' positions, not the values)."""
    if len(key) == 2:
        return key  # one item and the Ellipsis _convert_key appends: nothing to reorder
    for item in key:
        if type(item) is int or isinstance(item, np.integer):
            break
    else:
        return key  # the common key: no integer beside the index arrays
    positions = [position for position, item in enumerate(key)
                 if _is_integer_item(item) or type(item) is np.ndarray]
    if positions[-1] - positions[0] == len(positions) - 1 or \
            any(isinstance(item, (bool, np.bool_)) for item in key):
        return key
    basic = []
    rest = []
    for item in key:
        if _is_integer_item(item):
            basic.append(item)
        elif type(item) is np.ndarray:
            width = item.ndim if item.dtype == np.bool_ else 1
            basic.extend([slice(None)] * width)
            rest.append(item)
        elif item is Ellipsis:
            basic.append(item)
            rest.append(item)
        else:  # a slice or None: applied with the basic part, kept whole afterwards
            basic.append(item)
            rest.append(slice(None))
    basic = tuple(basic)
    rest = tuple(rest)
    ndim = len(shape)
    arrays = []
    for dim, size in enumerate(shape):
        along = np.arange(size).reshape([-1 if axis == dim else 1 for axis in range(ndim)])
        selected = np.broadcast_to(along, shape)[basic]
        try:
            arrays.append(np.ascontiguousarray(selected[rest]))
        except IndexError as error:
            raise _index_error(error, rest, selected.ndim) from None
    return tuple(arrays)


_SEQUENCE_ITEMS = (list, tuple, range, np.ndarray, slice)


def _sequence_as_tuple(key):
    """PyTorch's (and old NumPy's) reading of a short list holding a sequence, slice, tensor,
    None or Ellipsis as a tuple of indices (``x[[rows, columns]]`` is ``x[rows, columns]``),
    with its deprecation warning."""
    if len(key) >= 32 or not any(isinstance(item, (Tensor,) + _SEQUENCE_ITEMS) or item is None
                                 or item is Ellipsis for item in key):
        return False
    warnings.warn("Using a non-tuple sequence for multidimensional indexing is deprecated and "
                  "will be changed in pytorch 2.9; use x[tuple(seq)] instead of x[seq]. In "
                  "pytorch 2.9 this will be interpreted as tensor index, x[torch.tensor(seq)], "
                  "which will result either in an error or a different result", UserWarning,
                  stacklevel=5)
    return True


def _check_step(step):
    """PyTorch's refusals of a slice step: zero, or negative (tensors are never reversed)."""
    step = step.item() if isinstance(step, Tensor) else step
    if step == 0:
        raise ValueError("slice step cannot be zero")
    if step < 0:
        raise ValueError("step must be greater than zero")


def _plain_key(key):
    """``key`` with index arrays that came back as constant Tensors (under create_graph) as
    the arrays themselves."""
    return tuple([item._data if isinstance(item, Tensor) else item for item in key])


def _array(item):
    return item._data if isinstance(item, Tensor) else item


def _embed_array(values, shape, key, accumulate):
    out = np.zeros(shape, values.dtype)
    if accumulate:
        add_at(out, key, values)  # repeated positions sum instead of keeping the last write
    else:
        out[key] = values
    return out


def add_at(out, key, values):
    """``np.add.at(out, key, values)``: repeated positions accumulate. Where ``key`` picks
    whole slices along one axis (slices and one 1-D integer array: the gradient of x[idx], or
    of a pad's repeated positions), one stable sort and one np.add.reduceat over the runs of
    equal indices instead (np.add.at, an unbuffered loop, is ~30x slower on rows); each
    position's contributions are summed first (reduceat's order: within rounding of np.add.at's
    one after another), then added to ``out``; along axis 0 of float32/float64 rows, the
    compiled ``add_rows_in_order`` adds them in np.add.at's (and PyTorch's) order."""
    axis = _single_axis(key, out.ndim)
    values = np.asarray(values)
    if axis is None or values.ndim == 0 or out.ndim < 2:
        np.add.at(out, key, values)
        return
    index = key[axis]
    size = out.shape[axis]
    if index.size == 0:
        return
    if index.min() < 0:
        index = np.where(index < 0, index + size, index)
    indexed_shape = out.shape[:axis] + (index.size,) + out.shape[axis + 1:]
    if axis == 0 and add_rows_in_order(out, 0, index, np.broadcast_to(values, indexed_shape)):
        return  # np.add.at's own order, compiled (x[idx]'s backward, (256, 1024): 4x faster)
    target = np.moveaxis(out, axis, 0)
    moved = np.moveaxis(np.broadcast_to(values, indexed_shape), axis, 0)
    order = np.argsort(index, kind="stable")
    ordered = index[order]
    starts = np.flatnonzero(np.concatenate(([True], ordered[1:] != ordered[:-1])))
    target[ordered[starts]] += np.add.reduceat(moved[order], starts, axis=0, dtype=out.dtype)


def add_rows_in_order(out, axis, index, values):
    """out[index[k]] += values[k] along axis 0, one row after another as PyTorch's index_add
    adds them (so out + v1 + v2 rounds as it does), by a compiled loop: np.add.at's unbuffered
    loop is ~30x slower. False (nothing done) where the kernel does not apply."""
    if (axis != 0 or out.ndim == 0 or out.dtype not in _ROW_DTYPES
            or values.shape != index.shape + out.shape[1:] or not out.flags.c_contiguous):
        return False
    if out.ndim == 1:
        np.add.at(out, index, values)  # NumPy's 1-D loop: the same order, faster than a kernel call
        return True
    kernel = _add_rows_kernel.compiled()
    if kernel is None:
        return False
    kernel(out.reshape(out.shape[0], -1), index.astype(np.int64, copy=False),
           np.ascontiguousarray(values).reshape(index.shape[0], -1))
    return True


_ROW_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


@_jit.kernel
def _add_rows_kernel(out, index, values):
    rows = out.shape[0]
    for item in range(index.shape[0]):
        row = index[item]
        if row < 0:
            row += rows
        for column in range(out.shape[1]):
            out[row, column] += values[item, column]


def _single_axis(key, ndim):
    """The axis of the one 1-D integer index array in ``key`` when every other entry is a full
    slice (or a trailing Ellipsis), else None."""
    if type(key) is not tuple:
        key = (key,)
    axis = None
    for position, item in enumerate(key):
        if isinstance(item, np.ndarray) and item.ndim == 1 and item.dtype.kind in "iu":
            if axis is not None:
                return None
            axis = position
        elif item is Ellipsis:
            if position != len(key) - 1:
                return None
        elif not (isinstance(item, slice) and item == slice(None)):
            return None
    return axis if axis is not None and axis < ndim else None


class Embed(Op):
    """``zeros(shape)`` with ``values`` written at ``key`` (added, with ``accumulate``): the
    backward of reading at ``key``; its own backward reads at ``key`` again."""

    differentiable_backward = True

    @staticmethod
    def forward(ctx, values, shape, key, accumulate):
        ctx.key = key
        ctx.values_shape = values.shape
        return _embed_array(values, shape, key, accumulate)

    @staticmethod
    def backward(ctx, grad):
        return unbroadcast(grad[ctx.key], ctx.values_shape), None, None, None


def embed(values, shape, key, accumulate=False):
    """``Embed`` of an array (a first-order backward) or of a Tensor (recorded, under
    create_graph)."""
    if isinstance(values, Tensor):
        return Embed.apply(values, tuple(shape), _plain_key(key), accumulate)
    return _embed_array(values, shape, key, accumulate)


def _zero_at(xp, grad, key):
    """``grad`` with the positions that ``key`` addresses set to zero, out of place."""
    mask = np.zeros(grad.shape, np.bool_)
    mask[_plain_key(key)] = True
    return _select.where(xp, mask, 0, grad)


def _pad(values, shape):
    """``values`` as the leading block of zeros of ``shape`` (scatter reads only that block of
    ``src``)."""
    if tuple(values.shape) == tuple(shape):
        return values
    return embed(values, shape, _leading_key(values.shape))


def _basic_view(array, key):
    """``array[key]`` for a basic key, a view even when it selects one element (NumPy gives a
    scalar copy there; PyTorch's x[i] is a 0-d view, so writing to it changes x)."""
    view = array[key]
    if type(view) is np.ndarray:
        return view
    return array[(key if type(key) is tuple else (key,)) + (Ellipsis,)]


def _leading_key(shape):
    return tuple(slice(0, size) for size in shape)


class BasicIndex(Op):
    _next_order = (0,)  # PyTorch lists the one tensor input, not the options
    is_view = True
    differentiable_backward = True

    @staticmethod
    def forward(ctx, x, key):
        ctx.shape = x.shape
        ctx.key = key
        return _basic_view(x, key)

    @staticmethod
    def backward(ctx, grad):
        return embed(grad, ctx.shape, ctx.key), None

    def name(self):
        """PyTorch's node for the key's last step: an int selects, a slice slices, None
        unsqueezes (it indexes one dim after the other, skipping full slices after another
        step)."""
        if self._torch_name is not None:
            return self._torch_name
        key = self.key if isinstance(self.key, tuple) else (self.key,)
        for item in reversed(key):
            if item is None:
                return "UnsqueezeBackward0"
            if isinstance(item, slice):
                if item != slice(None):
                    return "SliceBackward0"
            elif item is not Ellipsis:
                return "SelectBackward0"
        return "SliceBackward0" if slice(None) in key else "AliasBackward0"


def _indexed_layout(out, x, key):
    """``_advanced_layout``, after the check of the commonest key, X[ix]: a row-major X and one
    row-major (or bool) index array give NumPy's row-major result, PyTorch's layout already."""
    first = key[0]
    if len(key) == 2 and type(first) is np.ndarray and x.flags.c_contiguous and \
            first.flags.c_contiguous:
        return out
    return _advanced_layout(out, x, key)


def _advanced_layout(out, x, key):
    """``out = x[key]`` laid out as PyTorch's index kernel lays it out: TensorIterator orders
    the result's dims by the strides of the input (the key's basic part applied, zero along the
    index dims) and then of the index arrays. NumPy's result is row-major, or transposed where
    the input is, e.g. ``xt[:, idx]`` of a transposed ``xt``, which PyTorch makes row-major
    (so that ``.view`` of it works). Only a non-row-major input or index array costs anything."""
    if x.flags.c_contiguous and out.flags.c_contiguous:
        for item in key:  # a loop, not all() over a generator: this is every X[ix]'s path
            if type(item) is np.ndarray and item.ndim > 1 and not item.flags.c_contiguous:
                break
        else:
            return out
    consumed = sum(item.ndim if type(item) is np.ndarray and item.dtype == np.bool_ else 1
                   for item in key if item is not None and item is not Ellipsis)
    view_dims = []  # (size, stride) of the basic view's dims; None for an index array's place
    indices = []
    dim = 0
    for item in key:
        if item is Ellipsis:
            for _ in range(x.ndim - consumed):
                view_dims.append((x.shape[dim], x.strides[dim]))
                dim += 1
        elif item is None:
            view_dims.append("unsqueezed")  # strided once the next dim is known
        elif type(item) is slice:
            start, stop, step = item.indices(x.shape[dim])
            view_dims.append((len(range(start, stop, step)), x.strides[dim] * step))
            dim += 1
        elif type(item) is np.ndarray:
            parts = item.nonzero() if item.dtype == np.bool_ else (item,)
            for part in parts:
                view_dims.append(None)
                indices.append(part)
                dim += 1
        else:  # an integer: PyTorch selects before indexing
            dim += 1
    for position in range(len(view_dims) - 1, -1, -1):
        if view_dims[position] == "unsqueezed":
            # PyTorch's unsqueeze: the next dim's size times its stride (one element at the end)
            following = next((entry for entry in view_dims[position + 1:] if entry is not None),
                             None)
            stride = following[0] * following[1] if following is not None else x.itemsize
            view_dims[position] = (1, stride)
    places = [position for position, entry in enumerate(view_dims) if entry is None]
    others = [entry for entry in view_dims if entry is not None]
    broadcast = np.broadcast_arrays(*indices)
    index_ndim = broadcast[0].ndim
    if places[-1] - places[0] == len(places) - 1:
        before = [entry for entry in view_dims[:places[0]]]
        after = [entry for entry in view_dims[places[-1] + 1:]]
    else:  # apart: PyTorch moves the index dims to the front, as NumPy does
        before, after = [], others
    shape = tuple([size for size, _ in before] + list(broadcast[0].shape)
                  + [size for size, _ in after])
    if shape != out.shape or out.ndim < 2:
        return out
    operands = [[stride for _, stride in before] + [0] * index_ndim
                + [stride for _, stride in after]]
    for part in broadcast:
        # PyTorch reshapes each index to 1s before and after its dims: strides that only
        # the dims of size 1 in the result keep (the others broadcast)
        leading = max(part.strides[0] * part.shape[0], part.itemsize) if part.ndim else \
            part.itemsize
        operands.append([leading if size == 1 else 0 for size, _ in before] + list(part.strides)
                        + [part.itemsize if size == 1 else 0 for size, _ in after])
    buffer = np.zeros(1, np.int8)
    stand_ins = [np.lib.stride_tricks.as_strided(buffer, shape, strides) for strides in operands]
    return with_strides(out, iterator_strides(shape, stand_ins))


class AdvancedIndex(Op):
    _next_order = (0,)  # PyTorch lists the tensor, not the key
    _torch_name = "IndexBackward0"

    differentiable_backward = True

    @staticmethod
    def forward(ctx, x, key):
        ctx.shape = x.shape
        ctx.key = key
        try:
            return _indexed_layout(x[key], x, key)
        except IndexError as error:
            raise _index_error(error, key, x.ndim) from None

    @staticmethod
    def backward(ctx, grad):
        return embed(grad, ctx.shape, ctx.key, accumulate=True), None


class IndexSelect(AdvancedIndex):
    """index_select: ``x[..., index, ...]`` along one dim, its result always row-major as
    PyTorch allocates it (a plain index follows the input's layout)."""
    _torch_name = "IndexSelectBackward0"

    @staticmethod
    def forward(ctx, x, key):
        ctx.shape = x.shape
        ctx.key = key
        return np.ascontiguousarray(x[key])


class IndexPut(Op):
    """``out = x.clone(); out[key] = value``: the recorded form of indexed assignment."""

    _next_order = (0, 1)  # PyTorch lists the input and value, not the key
    differentiable_backward = True

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
        grad_x = _zero_at(ctx.xp, grad, ctx.key) if needs_x else None
        grad_value = None
        if needs_value:
            grad_value = _grad_for(grad[ctx.key], ctx.value_shape, ctx.value_dtype)
        return grad_x, grad_value, None


def _scatter_grid(index, axis):
    """Advanced-index tuple addressing ``out[..., index[i], ...]`` along ``axis`` for every
    position of ``index`` (the gather and scatter pattern)."""
    grid = list(np.indices(index.shape, sparse=True))
    grid[axis] = index
    return tuple(grid)


# ---- compiled gather and scatter-add along an axis ----------------------------------------------
# NumPy's advanced indexing with broadcast grids (gather) and np.add.at (scatter_add, gather's
# backward) cost 40 and 130 us on (64, 256); one compiled loop over the index does either in
# a few. Arrays are seen as (outer, length, inner) around the axis.
_ALONG_DTYPES = tuple(np.dtype(kind) for kind in (np.float32, np.float64, np.int64, np.int32))


def _along_views(array, index, axis):
    """``array`` and ``index`` as (outer, length, inner) views for the kernels below, or None
    where they do not apply: the index must match ``array`` off ``axis``, both C-contiguous,
    ``array`` of a dtype in _ALONG_DTYPES."""
    if (array.dtype not in _ALONG_DTYPES or index.ndim != array.ndim or not array.ndim
            or not array.flags.c_contiguous or not index.flags.c_contiguous
            or index.dtype != np.intp or index.size < _ALONG_MIN_ELEMENTS):
        return None
    shape = array.shape
    for position in range(array.ndim):
        if position != axis and index.shape[position] != shape[position]:
            return None
    outer = 1
    for size in shape[:axis]:
        outer *= size
    inner = array.size // (outer * shape[axis]) if array.size else 0
    if not inner:
        return None
    return (array.reshape(outer, shape[axis], inner),
            index.reshape(outer, index.shape[axis], inner))


# Below this many indices the kernel's call costs what it saves.
_ALONG_MIN_ELEMENTS = 64


@_jit.kernel
def _gather_along(values, index, out):
    """out[o, i, n] = values[o, index[o, i, n], n] (indices checked by the caller)."""
    if index.shape[2] == 1:  # along the last axis: one loop per row, without the inner one
        for outer in range(index.shape[0]):
            source = values[outer, :, 0]
            positions = index[outer, :, 0]
            target = out[outer, :, 0]
            for row in range(positions.shape[0]):
                target[row] = source[positions[row]]
        return
    for outer in range(index.shape[0]):
        for row in range(index.shape[1]):
            for column in range(index.shape[2]):
                out[outer, row, column] = values[outer, index[outer, row, column], column]


@_jit.kernel
def _write_along(out, index, values, accumulate):
    """out[o, index[o, i, n], n] = values[o, i, n] (``accumulate``: +=), in the order of the
    index's elements: np.add.at's order for the sums, and the last write kept at a repeated
    position, as NumPy's indexed assignment keeps it."""
    if index.shape[2] == 1:  # along the last axis: one loop per row, without the inner one
        for outer in range(index.shape[0]):
            target = out[outer, :, 0]
            positions = index[outer, :, 0]
            source = values[outer, :, 0]
            for row in range(positions.shape[0]):
                if accumulate:
                    target[positions[row]] += source[row]
                else:
                    target[positions[row]] = source[row]
        return
    for outer in range(index.shape[0]):
        for row in range(index.shape[1]):
            for column in range(index.shape[2]):
                if accumulate:
                    out[outer, index[outer, row, column], column] += values[outer, row, column]
                else:
                    out[outer, index[outer, row, column], column] = values[outer, row, column]


def _gathered(x, index, axis):
    """``x[_scatter_grid(index, axis)]``, compiled where it applies."""
    views = _along_views(x, index, axis)
    kernel = None if views is None else _gather_along.compiled()
    if kernel is None:
        return x[_scatter_grid(index, axis)]
    out = np.empty(index.shape, x.dtype)
    kernel(views[0], views[1], out.reshape(views[1].shape))
    return out


def _added_along(out, index, axis, values):
    """``np.add.at(out, _scatter_grid(index, axis), values)`` (values of the index's shape),
    compiled where it applies; the same sums in the same order."""
    views = _along_views(out, index, axis)
    kernel = None if views is None or values.dtype != out.dtype else _write_along.compiled()
    if kernel is None:
        np.add.at(out, _scatter_grid(index, axis), values)
        return
    kernel(views[0], views[1], values.reshape(views[1].shape), True)


class Gather(Op):
    """Values at ``index`` along ``axis``; the gradient adds back at the same positions."""
    _next_order = (0,)  # PyTorch lists the source, not the axis or indices

    differentiable_backward = True

    @staticmethod
    def forward(ctx, x, axis, index):
        ctx.shape = x.shape
        ctx.axis = axis
        ctx.save_for_backward(index)
        return _gathered(x, index, axis)

    @staticmethod
    def backward(ctx, grad):
        (index,) = ctx.saved_tensors
        if ctx.xp is np:
            out = np.zeros(ctx.shape, grad.dtype)
            _added_along(out, index, ctx.axis, np.ascontiguousarray(grad))
            return out, None, None
        grid = _scatter_grid(_array(index), ctx.axis)
        return embed(grad, ctx.shape, grid, accumulate=True), None, None


# ---- functional API ------------------------------------------------------------------------------
def _advanced_ordinal(key, axis, ndim):
    """Which of the index tensors in ``key`` (a converted tuple) indexes dim ``axis``: PyTorch's
    kernel moves them to the front and names an index out of range by that position (a mask
    counts as one per dim it covers); None when ``axis`` is not indexed by a tensor."""
    fixed = sum(item.ndim if type(item) is np.ndarray and item.dtype == np.bool_ else
                         0 if item is None or item is Ellipsis else 1 for item in key)
    dim = 0
    ordinal = 0
    for item in key:
        if item is Ellipsis:
            dim += ndim - fixed
        elif item is None:
            continue
        elif type(item) is np.ndarray:
            covered = item.ndim if item.dtype == np.bool_ else 1
            if dim <= axis < dim + covered:
                return ordinal + axis - dim
            ordinal += covered
            dim += covered
        else:
            dim += 1
    return None


def _index_error(error, key=None, ndim=None):
    """NumPy's indexing errors in PyTorch's words (an advanced ``key`` of ``ndim`` dims names
    an index out of range by its position among the index tensors, as PyTorch does)."""
    text = str(error)
    match = re.match(r"index (-?\d+) is out of bounds for axis (\d+) with size (\d+)$", text)
    if match and type(key) is tuple:
        ordinal = _advanced_ordinal(key, int(match.group(2)), ndim)
        if ordinal is not None:
            return IndexError(f"index {match.group(1)} is out of bounds for dimension {ordinal} "
                              f"with size {match.group(3)}")
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
    match = re.match(r"shape mismatch: indexing arrays could not be broadcast together with "
                     r"shapes ((?:\([\d,]*\) ?)+)", text)
    if match:
        shapes = [str([int(size) for size in re.findall(r"\d+", shape)])
                  for shape in re.findall(r"\([\d,]*\)", match.group(1))]
        return IndexError(f"shape mismatch: indexing tensors could not be broadcast together "
                          f"with shapes {', '.join(shapes)}")
    return IndexError(text.replace("axis", "dimension"))


def _assignment_error(error, value):
    """NumPy's refusal of an assigned ``value`` (an array; checked before anything is written)
    as PyTorch words it: the indexing result's shape mismatch for advanced indices, else the
    error of expanding the value to the region it is copied into."""
    text = str(error)
    match = re.search(r"value array of shape \(([\d, ]*)\) could not be broadcast to indexing "
                      r"result of shape \(([\d, ]*)\)", text)
    if match:
        target = [int(size) for size in match.group(2).replace(" ", "").split(",") if size]
        return RuntimeError(f"shape mismatch: value tensor of shape {list(value.shape)} cannot "
                            f"be broadcast to indexing result of shape {target}")
    match = re.search(r"into shape \(([\d, ]*)\)", text)
    if match:
        target = [int(size) for size in match.group(1).replace(" ", "").split(",") if size]
        try:
            expanded_shape(value, target)
        except RuntimeError as refused:
            return refused
    return RuntimeError(f"the value of shape {list(value.shape)} cannot be assigned: {text}")


def _check_mask(input, key):
    """A boolean tensor as the whole key: PyTorch's IndexError naming both full shapes when it
    does not match the tensor's leading dims."""
    mask = key._data
    shape = input._data.shape
    for dim, size in enumerate(mask.shape):
        if dim < len(shape) and size != shape[dim]:
            raise IndexError(f"The shape of the mask {list(mask.shape)} at index {dim} does not "
                             f"match the shape of the indexed tensor {list(shape)} at index {dim}")


def indices_within(indices, size):
    """Whether every integer in the non-empty array ``indices`` lies in [0, size): one
    reduction, the indices seen as unsigned (a negative one then exceeds any size)."""
    if indices.dtype.kind == "i":
        indices = indices.view(f"u{indices.itemsize}")
    return bool(np.maximum.reduce(indices, axis=None) < size)


def getitem(input, key):
    kind = type(key)
    if (kind is int or kind is tuple and len(key) == 2 and type(key[0]) is int
            and type(key[1]) is int) and input._data.ndim and _function._tracer is None:
        # The common x[i] and x[i, j]: basic keys that _convert_key would only end with "..."
        key = (key, Ellipsis) if kind is int else key + (Ellipsis,)
        try:
            if unrecorded_view(input):
                return view_result(input, _basic_view(input._data, key))
            return BasicIndex.apply(input, key)
        except IndexError as error:
            raise _index_error(error) from None
    if input._data.ndim == 0 and isinstance(key, (int, np.integer)) and not isinstance(key, bool):
        raise IndexError("invalid index of a 0-dim tensor. Use `tensor.item()` in Python or "
                         "`tensor.item<T>()` in C++ to convert a 0-dim tensor to a number")
    if isinstance(key, Tensor) and key._data.dtype == np.bool_:
        _check_mask(input, key)
    key, advanced = _convert_key(key)
    if advanced:
        key = _ints_selected_first(key, input._data.shape)
    if _function._tracer is None and unrecorded_view(input):
        # nothing to record (a dataset's x[i], a batch's X[ix]): NumPy's indexing as it is
        try:
            if advanced:
                array = input._data
                return Tensor._wrap(_indexed_layout(np.asarray(array[key]), array, key))
            return view_result(input, _basic_view(input._data, key))
        except IndexError as error:
            raise _index_error(error, key if advanced else None, input._data.ndim) from None
    if advanced:
        return AdvancedIndex.apply(input, key)
    try:
        return BasicIndex.apply(input, key)
    except IndexError as error:
        raise _index_error(error) from None


# What PyTorch's setitem takes for a value: a Python number (np.float64 and np.complex128
# subclass float and complex) or an integer; np.float32, np.bool_ and arrays are TypeErrors.
_ASSIGNABLE = (int, float, complex, np.integer)


def setitem(input, key, value):
    """``input[key] = value`` in place; recorded when grad is on and either side requires grad.
    Everything is checked before the tensor changes."""
    original_key = key
    if isinstance(key, Tensor) and key._data.dtype == np.bool_:
        _check_mask(input, key)
    if not isinstance(value, Tensor) or value._data.ndim == 0:
        _refuse_byte_mask_fill(key)
    key, advanced = _convert_key(key)
    if advanced:
        key = _ints_selected_first(key, input._data.shape)
    if isinstance(value, Tensor):
        value_tensor = value
        raw = value._data
    else:
        if not isinstance(value, _ASSIGNABLE):
            kind = type(value)
            name = kind.__qualname__ if kind.__module__ == "builtins" else \
                f"{kind.__module__}.{kind.__qualname__}"
            raise TypeError(f"can't assign a {name} to a {tensor_type_name(input._data.dtype)}")
        raw = _setitem_number(value, input._data.dtype)
        value_tensor = Tensor._wrap(raw)

    def fast(array):
        array[key] = raw

    if input._requires_grad and input.grad_fn is None and input._view_creation is None and \
            _grad_state.get() == (True, False) and \
            _indexes_a_view(original_key, input._data.shape):
        # PyTorch writes through the view that the key's basic part selects
        raise RuntimeError("a view of a leaf Variable that requires grad is being used in an "
                           "in-place operation.")
    try:
        return input._inplace("setitem", lambda: IndexPut.apply(input, value_tensor, key), fast,
                              value_tensor)
    except IndexError as error:
        raise _index_error(error, key if advanced else None, input._data.ndim) from None
    except ValueError as error:  # NumPy checks shapes before writing: nothing was changed
        raise _assignment_error(error, raw) from None


def _refuse_byte_mask_fill(key):
    """PyTorch fills through masked_fill_ when a mask index gets one value, and that refuses a
    uint8 (byte) mask: ``x[byte_mask] = 0``."""
    for item in key if isinstance(key, tuple) else (key,):
        if isinstance(item, Tensor) and item._data.dtype == np.uint8:
            raise RuntimeError("masked_fill_ only supports boolean masks, but got mask with "
                               "dtype unsigned char")


def _indexes_a_view(key, shape):
    """Whether PyTorch's indexing with ``key`` first takes a view of the tensor (an int, None, a
    bool or a slice that is not the whole dim), rather than indexing the tensor itself."""
    items = key if isinstance(key, tuple) else (key,)
    consumed = []  # the dims each item takes: 1 for ints and slices, 0 for None and bools
    for item in items:
        if item is None or isinstance(item, (bool, np.bool_)) or item is Ellipsis:
            consumed.append(0)
        elif isinstance(item, Tensor) and item._data.dtype == np.bool_:
            consumed.append(item._data.ndim)
        else:
            consumed.append(1)
    remaining = len(shape) - sum(consumed)
    dim = 0
    for item, count in zip(items, consumed):
        if item is Ellipsis:
            dim += max(remaining, 0)
            continue
        if item is None or isinstance(item, (bool, np.bool_, int, np.integer)):
            return True
        if isinstance(item, Tensor) and item._data.ndim == 0 and item._data.dtype.kind in "iu":
            return True
        if isinstance(item, slice) and dim < len(shape) and \
                item.indices(shape[dim]) != (0, shape[dim], 1):
            return True
        dim += count
    return False


def _setitem_number(value, dtype):
    """``value`` (a number setitem takes) as a 0-d array of ``dtype``: a complex number fits a
    complex tensor, and a bool one as its truth, as in PyTorch; real tensors refuse it."""
    if isinstance(value, complex):
        if dtype.kind == "c":
            return np.asarray(value).astype(dtype)
        if dtype.kind == "b":
            return np.asarray(bool(value))
        raise overflow_error(dtype)
    return _number_as(value, dtype, "setitem", float_range=False)


def _number_as(value, dtype, operation, float_range=True):
    """A Python or NumPy number as a 0-d array of ``dtype``, converted as PyTorch fills with it
    (``checked_scalar``: RuntimeError where it does not fit, integers wrapped). Without
    ``float_range`` a float type takes any number, beyond its range as inf (setitem)."""
    if isinstance(value, (complex, np.complexfloating)):
        if dtype.kind == "c":
            return np.asarray(value).astype(dtype)
        raise RuntimeError(f"{operation}: value {value} cannot be converted to type "
                           f"{scalar_type_name(dtype)} without overflow")
    if isinstance(value, np.generic):
        value = value.item()
    if not float_range and dtype.kind in "fV":
        with np.errstate(over="ignore"):
            return np.asarray(value).astype(dtype)
    return np.asarray(checked_scalar(value, dtype))


def require_tensor(value, operation, argument="input", position=1):
    """PyTorch's TypeError when an argument that must be a Tensor is not one."""
    if not isinstance(value, Tensor):
        raise TypeError(f"{operation}(): argument '{argument}' (position {position}) must be "
                        f"Tensor, not {type(value).__name__}")


# PyTorch's words for an index of the wrong dtype, by op ({got}: the dtype's name)
_INDEX_DTYPE_ERRORS = {
    "gather": "gather(): Expected dtype int32/int64 for index",
    "scatter": "scatter(): Expected dtype int32/int64 for index",
    "scatter_add": "scatter(): Expected dtype int32/int64 for index",
    "scatter_reduce": "scatter(): Expected dtype int32/int64 for index",
    "index_select": "index_select(): Expected dtype int32 or int64 for index",
    "index_add_": "index_add_(): Expected dtype int32/int64 for index but got: {got}",
    "index_copy_": "index_copy_(): Expected a long tensor for index, but got {got}",
    "index_fill_": "index_fill_(): Expected dtype int64 for index.",
    "take": "take(): Expected a long tensor for index, but got {got}",
    "take_along_dim": "{prefix}.take_along_dim(): dtype of indices should be Long but got {got}",
}


def _index_tensor(index, operation, kinds=(np.int32, np.int64), position=2, error=RuntimeError):
    """``index`` checked to be a Tensor (TypeError) of one of ``kinds`` (``error``)."""
    if not isinstance(index, Tensor):
        raise TypeError(f"{operation}(): argument 'index' (position {position}) must be Tensor, "
                        f"not {type(index).__name__}")
    if index._data.dtype not in kinds:
        got = scalar_type_name(index._data.dtype)
        template = _INDEX_DTYPE_ERRORS.get(operation)
        if template is not None:
            raise error(template.format(got=got, prefix=repr_prefix()))
        names = " or ".join(scalar_type_name(np.dtype(kind)) for kind in kinds)
        raise error(f"{operation}(): Expected dtype {names} for index, but got {got}")
    return index._data


def _check_bounds(indices, size, axis, operation=None, negative=False, error=RuntimeError):
    """Every index in [0, size) (or [-size, size) with ``negative``); ``indices`` with negative
    ones wrapped, as intp. The error names ``operation`` where PyTorch's does."""
    if type(indices) is not np.ndarray and hasattr(type(indices), "whole_batch"):
        # a per-sample index under ember.func.vmap: every sample checked at once
        checked = _check_bounds(indices.whole_batch(), size, axis, operation, negative, error)
        return indices.replaced(checked)
    low = -size if negative else 0
    if indices.size and (indices.min() < low or indices.max() >= size):
        bad = indices[(indices < low) | (indices >= size)].flat[0]
        named = "" if operation is None else f"{operation}(): "
        raise error(f"{named}index {bad} is out of bounds for dimension {axis} with size {size}")
    if negative:
        indices = np.where(indices < 0, indices + size, indices)
    return indices.astype(np.intp, copy=False)


def index_select(input, dim, index):
    """The slices of ``input`` at ``index`` along ``dim``."""
    indices = _index_tensor(index, "index_select")
    if indices.ndim > 1:
        raise IndexError("index_select(): Index is supposed to be a vector")
    axis = _dim(dim, input._data.ndim, "index_select")
    if input._data.ndim == 0:
        if indices.size != 1:
            raise RuntimeError(f"index_select(): Index to scalar can have only 1 value, got "
                               f"{indices.size} value(s)")
        if indices.size and indices.flat[0] != 0:
            raise IndexError("index out of range in self")
        return getitem(input, (Ellipsis,))
    size = input._data.shape[axis]
    if indices.size and not indices_within(indices, size):
        if axis == 1:  # PyTorch's kernel for dim 1 words it its own way
            bad = indices[(indices < 0) | (indices >= size)].flat[0]
            raise RuntimeError(f"INDICES element is out of DATA bounds, id={bad} "
                               f"axis_dim={size}")
        raise IndexError("index out of range in self")
    indices = indices.reshape(-1).astype(np.intp, copy=False)
    return IndexSelect.apply(input, (slice(None),) * axis + (indices, Ellipsis))


def gather(input, dim, index, *, sparse_grad=False):
    """``input``'s values at ``index`` along ``dim`` (``out[i][j] = input[i][index[i][j]]``);
    ``index`` may be smaller than ``input`` in the other dims."""
    indices = _index_tensor(index, "gather")
    ndim = input._data.ndim
    axis = _dim(dim, ndim, "gather")
    if ndim == 0:
        if indices.ndim > 1:
            raise RuntimeError("Index tensor must have the same number of dimensions as input "
                               "tensor")
        _check_bounds(indices, 1, 0)
        return Gather.apply(input.reshape(1), 0, indices.reshape(-1)).reshape(indices.shape)
    if indices.ndim == 0 and ndim == 1:
        # PyTorch counts a 0-d index as 1-d against a 1-d input; the value comes back 0-d
        return gather(input, dim, index.reshape(1)).reshape(())
    if indices.ndim != ndim:
        raise RuntimeError("Index tensor must have the same number of dimensions as input tensor")
    for position, (size, limit) in enumerate(zip(indices.shape, input._data.shape)):
        if position != axis and size > limit:
            raise RuntimeError(f"Size does not match at dimension {position} expected "
                               f"index {list(indices.shape)} to be no larger than self "
                               f"{list(input._data.shape)} apart from dimension {axis}")
    indices = _check_bounds(indices, input._data.shape[axis], axis)
    return Gather.apply(input, axis, indices)


def take_along_dim(input, indices, dim=None):
    """Values at ``indices`` along ``dim`` (of the flattened input when None); unlike gather,
    ``input`` and ``indices`` broadcast in the other dims."""
    positions = _index_tensor(indices, "take_along_dim", (np.int64,))
    if dim is None:
        flat = input.reshape(-1)
        return gather(flat, 0, indices.reshape(-1))
    ndim = input._data.ndim
    axis = _dim(dim, ndim, "take_along_dim")
    if positions.ndim != ndim:
        raise RuntimeError(f"{repr_prefix()}.take_along_dim(): input and indices should have the "
                           f"same number of "
                           f"dimensions, but got {ndim} dimensions for input, and "
                           f"{positions.ndim} dimensions for indices")
    input_shape = list(input._data.shape)
    index_shape = list(positions.shape)
    input_shape[axis] = index_shape[axis] = 1
    try:
        common = list(np.broadcast_shapes(tuple(input_shape), tuple(index_shape)))
    except ValueError:
        raise mismatch_error(input_shape, index_shape) from None
    size = input._data.shape[axis]
    wrapped = _check_bounds(positions, size, axis, "take_along_dim", negative=True)
    common[axis] = size
    expanded = input if list(input._data.shape) == common else input.expand(*common)
    common[axis] = positions.shape[axis]
    wrapped = np.broadcast_to(wrapped, tuple(common))
    return Gather.apply(expanded, axis, wrapped)


class Where(Op):
    _next_order = (1, 2)  # PyTorch lists the two values, not the condition
    output_layout = staticmethod(pointwise_layout)
    differentiable_backward = True

    @staticmethod
    def forward(ctx, condition, a, b):
        if getattr(condition, "dtype", None) != np.bool_:  # a vmap batch reports its dtype
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
        if max(condition.size, np.size(a), np.size(b)) >= _threads.ELEMENT_GRAIN:
            return _threads.broadcasting(select, condition, a, b)
        return select(condition, a, b)

    @staticmethod
    def backward(ctx, grad):
        (condition,) = ctx.saved_tensors
        _, needs_a, needs_b = ctx.needs_input_grad
        xp = ctx.xp
        if xp is np and grad.size >= _threads.ELEMENT_GRAIN:
            def choose(*operands):
                return _threads.broadcasting(select, *operands)
        else:
            def choose(*operands):
                return _select.where(xp, *operands)
        return (None,
                _grad_for(choose(condition, grad, 0), *ctx.a_meta) if needs_a else None,
                _grad_for(choose(condition, 0, grad), *ctx.b_meta) if needs_b else None)


class MaskedFill(Where):
    """masked_fill: a where whose result is row-major whatever the input's layout, as PyTorch
    fills a contiguous clone of the input."""
    output_layout = staticmethod(row_major_layout)


def where(condition, input=None, other=None):
    if input is None and other is None:
        return nonzero(condition, as_tuple=True)
    for value in (input, other):
        if value is None or isinstance(value, (list, tuple, str)):
            raise TypeError(f"where(): expected a Tensor or a number for input and other, got "
                            f"{type(value).__name__}")
    if isinstance(condition, Tensor) and condition._data.dtype == np.uint8:
        warn_at_caller("where received a uint8 condition tensor. This behavior is deprecated and "
                       "will be removed in a future version of PyTorch. Use a boolean condition "
                       "instead.")
        condition = Tensor._wrap(condition._data.astype(np.bool_))  # PyTorch's byte condition
    for number, tensor in ((input, other), (other, input)):
        # an int beside an integer tensor takes its dtype: PyTorch's range check
        if type(number) is int and isinstance(tensor, Tensor) and \
                tensor._data.dtype.kind in "iu" and scalar_overflows(number, tensor._data.dtype):
            raise overflow_error(tensor._data.dtype)
    try:
        return Where.apply(_to_operand(condition, "where"), _to_operand(input, "where"),
                           _to_operand(other, "where"))
    except ValueError as error:
        raise _shape_error(error, condition, input, other) from None


def _mask(mask, operation, name="mask"):
    if not isinstance(mask, Tensor):
        raise TypeError(f"{operation}(): argument '{name}' must be Tensor, not "
                        f"{type(mask).__name__}")
    if mask._data.dtype != np.bool_:
        raise RuntimeError(f"{operation} only supports boolean masks, but got mask with dtype "
                           f"{cpp_type_name(mask._data.dtype)}")
    return mask._data


def masked_fill(input, mask, value):
    """Where ``mask`` is True take ``value`` (a number or a 0-d tensor, differentiable), else
    ``input``."""
    _mask(mask, "masked_fill_")
    dtype = input._data.dtype
    if isinstance(value, Tensor):
        if value._data.ndim != 0:
            raise RuntimeError(f"masked_fill_ only supports a 0-dimensional value tensor, but got "
                               f"tensor with {value._data.ndim} dimension(s).")
        if value._data.dtype != dtype:
            value = value.to(input.dtype)
    elif isinstance(value, _ASSIGNABLE):
        value = Tensor._wrap(_number_as(value, dtype, "masked_fill"))
    else:
        raise TypeError(f"masked_fill(): argument 'value' must be a Number or a 0-d Tensor, not "
                        f"{type(value).__name__}")
    try:
        output = MaskedFill.apply(_to_operand(mask, "masked_fill"), value, input)
    except ValueError as error:
        raise _shape_error(error, mask, value, input) from None
    node = output.grad_fn
    if node is not None:
        # PyTorch's node lists the input, and a tensor value after it (MaskedFillBackward1).
        tensor_value = value._requires_grad
        node._torch_name = "MaskedFillBackward1" if tensor_value else "MaskedFillBackward0"
        node._next_order = (2, 1) if tensor_value else (2,)
    return output


def nonzero(input, as_tuple=False):
    if not isinstance(input, Tensor):
        raise TypeError(f"nonzero(): argument 'input' (position 1) must be Tensor, not "
                        f"{type(input).__name__}")
    data = input._data if input._data.ndim else input._data.reshape(1)
    indices = _nonzero_coordinates(data)
    if as_tuple:
        return tuple(Tensor._result(axis) for axis in indices)
    if input._data.ndim == 0:
        return Tensor._result(np.zeros((int(data[0] != 0), 0), np.int64))
    # (ndim, N) transposed: column-major, as PyTorch's kernel fills its result
    return Tensor._result(indices.T)


def _nonzero_coordinates(data):
    """(ndim, N) int64 coordinates of the nonzero elements in C order: the flat positions split
    by the shape (np.nonzero of a 2-D array costs ~10x np.flatnonzero)."""
    flat = np.flatnonzero(data)
    if not flat.size:
        return np.stack(np.nonzero(data)).astype(np.int64)  # (the empty result's strides)
    out = np.empty((data.ndim, flat.size), np.int64)
    for axis in range(data.ndim - 1, 0, -1):
        np.divmod(flat, data.shape[axis], out=(flat, out[axis]))
    out[0] = flat
    return out


def nonzero_static(input, *, size, fill_value=-1):
    """nonzero's indices in a result of exactly ``size`` rows: cut, or filled with
    ``fill_value`` (a shape known before the data, as compiled graphs need)."""
    if size < 0:
        raise RuntimeError(f"nonzero_static: 'size' must be an non-negative integer, but got "
                           f"{size}")
    found = nonzero(input)._data
    columns = max(input._data.ndim, 1) if input._data.ndim else 0
    out = np.full((size, columns), fill_value, np.int64)
    count = min(size, found.shape[0])
    out[:count] = found[:count]
    return Tensor._result(out)


# ---- scatter, index_add, index_fill --------------------------------------------------------------
class Scatter(Op):
    """out = input with ``src`` (a tensor or a number) written at ``index`` along ``axis``."""

    _next_order = (0, 3)  # PyTorch lists the input and src, not the axis or index
    differentiable_backward = True

    @staticmethod
    def forward(ctx, x, axis, index, src):
        ctx.axis = axis
        ctx.src_shape = src.shape if type(src) is np.ndarray else None
        if ctx.src_shape is None:
            ctx._next_order = (0,)
            ctx._torch_name = "ScatterBackward1"  # a number written (ScatterBackward0: a tensor)
        ctx.save_for_backward(index)
        out = x.copy()
        views = _along_views(out, index, axis)
        kernel = None if views is None or type(src) is not np.ndarray or src.dtype != x.dtype \
            else _write_along.compiled()
        if kernel is not None:
            values = np.ascontiguousarray(src[_leading_key(index.shape)])
            kernel(views[0], views[1], values.reshape(views[1].shape), False)
            return out
        grid = _scatter_grid(index, axis)
        out[grid] = src[_leading_key(index.shape)] if type(src) is np.ndarray else src
        return out

    @staticmethod
    def backward(ctx, grad):
        (index,) = ctx.saved_tensors
        grid = _scatter_grid(_array(index), ctx.axis)
        grad_x = _zero_at(ctx.xp, grad, grid) if ctx.needs_input_grad[0] else None
        grad_src = None
        if ctx.src_shape is not None and ctx.needs_input_grad[3]:
            grad_src = _pad(grad[grid], ctx.src_shape)
        return grad_x, None, None, grad_src


class ScatterAdd(Op):
    """out = input with ``src`` added at ``index`` along ``axis`` (repeats accumulate)."""

    _next_order = (0, 3)  # PyTorch lists the input and src, not the axis or index
    differentiable_backward = True

    @staticmethod
    def forward(ctx, x, axis, index, src):
        ctx.axis = axis
        ctx.src_shape = src.shape
        ctx.save_for_backward(index)
        out = x.copy()
        _added_along(out, index, axis, np.ascontiguousarray(src[_leading_key(index.shape)]))
        return out

    @staticmethod
    def backward(ctx, grad):
        (index,) = ctx.saved_tensors
        grad_src = None
        if ctx.needs_input_grad[3]:
            grad_src = _pad(grad[_scatter_grid(_array(index), ctx.axis)], ctx.src_shape)
        return grad, None, None, grad_src


def _check_scatter(operation, input, dim, index, src):
    """Validate a scatter's arguments as PyTorch does; the axis and the index as intp."""
    indices = _index_tensor(index, operation)
    ndim = input._data.ndim
    axis = _dim(dim, ndim, operation)
    # PyTorch counts a 0-d tensor as 1-d in these checks (x.scatter(0, tensor(1), tensor(9.)))
    if max(indices.ndim, 1) != max(ndim, 1):
        raise RuntimeError("Index tensor must have the same number of dimensions as self tensor")
    if isinstance(src, Tensor):
        if src._data.dtype != input._data.dtype:
            # every scatter variant says scatter() here, as PyTorch's shared check does
            raise RuntimeError("scatter(): Expected self.dtype to be equal to src.dtype")
        if max(src._data.ndim, 1) != max(indices.ndim, 1):
            raise RuntimeError("Index tensor must have the same number of dimensions as src "
                               "tensor")
    elif src is not None and not isinstance(src, _ASSIGNABLE):
        raise TypeError(f"{operation}(): argument 'src' must be Tensor or a number, not "
                        f"{type(src).__name__}")
    shape = input._data.shape or (1,)
    for position, size in enumerate(indices.shape or (1,)):
        limit = shape[position] if position != axis else size
        if isinstance(src, Tensor):
            limit = min(limit, (src._data.shape or (1,))[position])
        if size > limit:
            raise RuntimeError(f"Expected index {list(indices.shape)} to be no "
                               f"larger than self {list(input._data.shape)} apart from dimension "
                               f"{axis}" + (f" and to be no larger size than src "
                                            f"{list(src._data.shape)}"
                                            if isinstance(src, Tensor) else ""))
    return axis, _check_bounds(indices, shape[axis], axis)


def _scatter_op(cls, input, axis, indices, src, *extra):
    """``cls.apply`` with a 0-d input, index and src seen as 1-element vectors."""
    if input._data.ndim:
        if input._data.ndim == 1:  # a 0-d index or src beside a vector
            indices = indices.reshape(-1)
            if isinstance(src, Tensor) and not src._data.ndim:
                src = src.reshape(1)
        return cls.apply(input, axis, indices, src, *extra)
    flat_src = src.reshape(-1) if isinstance(src, Tensor) else src
    return cls.apply(input.reshape(1), 0, indices.reshape(-1), flat_src, *extra).reshape(())


class ScatterCombine(Op):
    """scatter's legacy ``reduce='add'|'multiply'``: the values combined into a copy of the
    input; PyTorch records it (a graph through it) but has no derivative for it."""

    _torch_name = NOT_IMPLEMENTED
    differentiable_backward = True  # it only raises PyTorch's error, under create_graph too

    @staticmethod
    def forward(ctx, x, axis, indices, src, reduce):
        out = x.copy().reshape(x.shape or (1,))
        flat = indices.reshape(indices.shape or (1,))
        if isinstance(src, np.ndarray):
            src = src.reshape(src.shape or (1,))[_leading_key(flat.shape)]
        ufunc = np.add if reduce == "add" else np.multiply
        ufunc.at(out, _scatter_grid(flat, axis), src)
        return out.reshape(x.shape)

    @staticmethod
    def backward(ctx, grad):
        raise RuntimeError("derivative for aten::scatter is not implemented")


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
            raise RuntimeError("reduce argument must be either add or multiply.")
        if isinstance(src, Tensor):
            warn_once("The reduce argument of torch.scatter with Tensor src is deprecated and "
                      "will be removed in a future PyTorch release. Use torch.scatter_reduce "
                      "instead for more reduction options.")
        return ScatterCombine.apply(input, axis, indices, src, reduce)
    if not isinstance(src, Tensor):
        src = _number_as(src.item() if isinstance(src, np.generic) else src, input._data.dtype,
                         "scatter")[()]
    return _scatter_op(Scatter, input, axis, indices, src)


def scatter_add(input, dim, index, src):
    if not isinstance(src, Tensor):
        raise TypeError(f"scatter_add(): argument 'src' (position 3) must be Tensor, not "
                        f"{type(src).__name__}")
    axis, indices = _check_scatter("scatter_add", input, dim, index, src)
    return _scatter_op(ScatterAdd, input, axis, indices, src)


def _slices_at(axis, index):
    """The key addressing the slices at ``index`` along ``axis``."""
    return (slice(None),) * axis + (index, Ellipsis)


def _add_at(out, axis, index, source, alpha):
    """out's slices at ``index`` along ``axis`` += alpha * source, in index order."""
    added = (source if alpha == 1 else source * alpha).astype(out.dtype, copy=False)
    if not add_rows_in_order(out, axis, index, added):
        np.add.at(out, _slices_at(axis, index), added)


class IndexAdd(Op):
    _next_order = (0, 3)  # PyTorch lists the input and source, not the options
    differentiable_backward = True

    @staticmethod
    def forward(ctx, x, axis, index, source, alpha):
        ctx.axis_alpha = (axis, alpha)
        ctx.source_shape = source.shape
        ctx.save_for_backward(index)
        out = x.copy()
        _add_at(out, axis, index, source, alpha)
        return out

    @staticmethod
    def backward(ctx, grad):
        (index,) = ctx.saved_tensors
        axis, alpha = ctx.axis_alpha
        grad_source = None
        if ctx.needs_input_grad[3]:
            grad_source = unbroadcast(grad[_slices_at(axis, _array(index))], ctx.source_shape)
            if alpha != 1:
                grad_source = grad_source * alpha
        return grad, None, None, grad_source, None


def _check_index_vector(index, operation, kinds, ndim_error=IndexError, dtype_error=RuntimeError):
    indices = _index_tensor(index, operation, kinds, error=dtype_error)
    if indices.ndim > 1:
        raise ndim_error(f"{operation}(): Index is supposed to be a vector, but got dim: "
                         f"{indices.ndim} with type: {scalar_type_name(indices.dtype)} and size: "
                         f"{list(indices.shape)}")
    if type(indices) is not np.ndarray and hasattr(type(indices), "whole_batch"):
        batch = indices.whole_batch()  # a per-sample index under ember.func.vmap
        return indices.replaced(batch.reshape(batch.shape[0], -1))
    return indices.reshape(-1)


def _all_values(indices):
    """The index values to check: a per-sample index's whole batch under ember.func.vmap."""
    if type(indices) is not np.ndarray and hasattr(type(indices), "whole_batch"):
        return indices.whole_batch()
    return indices


def _check_slices(operation, input, axis, count, source, scalar_source, count_error):
    """``source`` must match ``input`` outside ``axis`` and hold ``count`` slices along it (a
    0-d source stands for one slice where ``scalar_source``)."""
    input_shape = list(input._data.shape)
    source_shape = list(source._data.shape)
    if input._data.ndim == 0 and source._data.ndim == 1 and scalar_source:
        source_shape = []
    if len(source_shape) != len(input_shape) and not (scalar_source and source._data.ndim == 0
                                                      and count == 1):
        raise RuntimeError(f"{operation}(): source tensor shape must match self tensor shape, "
                           f"excluding the specified dimension. Got self.shape = {input_shape} "
                           f"source.shape = {source_shape}")
    if source_shape:
        if source_shape[axis] != count:
            for_dim = "" if operation == "index_copy_" else f", for dim: {axis}"
            raise count_error(f"{operation}(): Number of indices ({count}) should be equal to "
                              f"source.size(dim) ({source_shape[axis]}){for_dim}")
        source_shape[axis] = input_shape[axis]
        if source_shape != input_shape:
            raise RuntimeError(f"{operation}(): source tensor shape must match self tensor "
                               f"shape, excluding the specified dimension. Got self.shape = "
                               f"{input_shape} source.shape = {list(source._data.shape)}")


def index_add(input, dim, index, source, alpha=1):
    """``input`` with ``alpha * source`` slices added at ``index`` along ``dim``."""
    axis, indices = _index_add_arguments(input, dim, index, source)
    if input._data.ndim == 0:
        return IndexAdd.apply(input.reshape(1), 0, indices, source.reshape(-1), alpha).reshape(())
    return IndexAdd.apply(input, axis, indices, source, alpha)


def index_add_into(array, input, dim, index, source, alpha=1):
    """``input.index_add_`` where no graph is recorded: after index_add's checks, the slices are
    added straight into ``array`` (input's storage), sparing a copy of it and a write-back."""
    axis, indices = _index_add_arguments(input, dim, index, source)
    if type(indices) is not np.ndarray:
        raise BatchedForward  # a per-sample index under ember.func.vmap: its rule writes
    added = source._data
    if np.may_share_memory(array, added) or np.may_share_memory(array, indices):
        added = added.copy()  # the out-of-place op reads the operands as they were
        indices = indices.copy()
    if array.ndim == 0:
        _add_at(array.reshape(1), 0, indices, added.reshape(-1), alpha)
    else:
        _add_at(array, axis, indices, added, alpha)


def _check_add_slices(input_shape, axis, count, source_shape):
    """index_add's shape checks in PyTorch's order: the dim within the source, the number of
    indices against the source's size there, then the other dims (0-d shapes compared whole)."""
    if axis != 0 and axis >= len(source_shape):
        raise RuntimeError(f"index_add_(): Indexing dim {axis} is out of bounds of the source "
                           f"tensor with dim {len(source_shape)}")
    if not source_shape:
        if count != 1:
            raise IndexError(f"Dimension specified as {axis} but tensor has no dimensions")
    elif source_shape[axis] != count:
        raise RuntimeError(f"index_add_(): Number of indices ({count}) should be equal to "
                           f"source.size(dim): ({source_shape[axis]}), for dim: {axis}")
    others, source_others = list(input_shape), list(source_shape)
    if others and source_others:
        del others[axis], source_others[axis]
    if others != source_others:
        raise RuntimeError(f"source tensor shape must match self tensor shape, excluding the "
                           f"specified dimension. Got self.shape = {list(input_shape)} "
                           f"source.shape = {list(source_shape)}")


def _index_add_arguments(input, dim, index, source):
    """index_add's checks, in PyTorch's order: (axis, the indices as intp)."""
    indices = _check_index_vector(index, "index_add_", (np.int32, np.int64))
    if not isinstance(source, Tensor):
        raise TypeError(f"index_add(): argument 'source' (position 3) must be Tensor, not "
                        f"{type(source).__name__}")
    axis = _dim(dim, input._data.ndim, "index_add")
    if source._data.dtype != input._data.dtype:
        raise RuntimeError(f"index_add_(): self ({scalar_type_name(input._data.dtype)}) and "
                           f"source ({scalar_type_name(source._data.dtype)}) must have the same "
                           f"scalar type")
    _check_add_slices(input._data.shape, axis, indices.size, source._data.shape)
    size = input._data.shape[axis] if input._data.ndim else 1
    values = _all_values(indices)
    if values.size and not indices_within(values, size):
        if input._data.ndim < 2:  # PyTorch's words differ by kernel
            raise IndexError("index out of range in self")
    elif type(indices) is np.ndarray:
        return axis, indices.astype(np.intp, copy=False)  # in range: no second bounds pass
    return axis, _check_bounds(indices, size, axis)


class IndexFill(Op):
    _next_order = (0,)  # PyTorch lists the input, not the options
    differentiable_backward = True

    @staticmethod
    def forward(ctx, x, axis, index, value):
        ctx.axis = axis
        ctx.save_for_backward(index)
        out = x.copy()
        out[_slices_at(axis, index)] = value
        return out

    @staticmethod
    def backward(ctx, grad):
        (index,) = ctx.saved_tensors
        return _zero_at(ctx.xp, grad, _slices_at(ctx.axis, _array(index))), None, None, None


def index_fill(input, dim, index, value):
    """``input`` with the slices at ``index`` along ``dim`` set to ``value`` (a number)."""
    if isinstance(index, Tensor) and index._data.ndim > 1 and index._data.dtype == np.int64:
        raise RuntimeError("Index has to be a vector/scalar")
    indices = _check_index_vector(index, "index_fill_", (np.int64,), RuntimeError, IndexError)
    if isinstance(value, Tensor):
        if value._data.ndim != 0:
            raise RuntimeError(f"index_fill_ only supports a 0-dimensional value tensor, but got "
                               f"tensor with {value._data.ndim} dimension(s).")
        value = value.item()
    elif not isinstance(value, _ASSIGNABLE):
        raise TypeError(f"index_fill(): argument 'value' must be a Number or a 0-d Tensor, not "
                        f"{type(value).__name__}")
    axis = _dim(dim, input._data.ndim, "index_fill")
    size = input._data.shape[axis] if input._data.ndim else 1
    indices = _check_bounds(indices, size, axis, negative=True, error=IndexError)
    fill = _number_as(value, input._data.dtype, "index_fill")[()]
    if input._data.ndim == 0:
        return IndexFill.apply(input.reshape(1), 0, indices, fill).reshape(())
    return IndexFill.apply(input, axis, indices, fill)


# ---- selection by mask or flat index; searching; counting (indices are not differentiable) -------
def masked_select(input, mask):
    """The elements where ``mask`` (broadcast with ``input``) is True, as a 1-D tensor."""
    if not isinstance(mask, Tensor) or mask._data.dtype != np.bool_:
        raise RuntimeError("masked_select: expected BoolTensor for mask")
    try:
        shape = np.broadcast_shapes(input._data.shape, mask._data.shape)
    except ValueError:
        raise mismatch_error(mask._data.shape, input._data.shape) from None
    expanded = input.expand(*shape) if input._data.shape != shape else input
    return torch_named(getitem(expanded, np.broadcast_to(mask._data, shape)),
                       "MaskedSelectBackward0")


def take(input, index):
    """Elements of the flattened ``input`` at ``index`` (shaped like ``index``)."""
    positions = _index_tensor(index, "take", (np.int64,), position=1)
    size = input._data.size
    if size == 0 and positions.size:
        raise IndexError("take(): tried to take from an empty tensor")
    if positions.size and (positions.min() < -size or positions.max() >= size):
        bad = positions[(positions < -size) | (positions >= size)].flat[0]
        raise IndexError(f"out of range: tried to access index {bad} on a tensor of {size} "
                         f"elements.")
    return torch_named(getitem(input.reshape(-1), (positions,)), "TakeBackward0")


def argwhere(input):
    return nonzero(input)


def isin(elements, test_elements, *, assume_unique=False, invert=False):
    values = elements._data if isinstance(elements, Tensor) else np.asarray(elements)
    tests = test_elements._data if isinstance(test_elements, Tensor) else np.asarray(test_elements)
    return Tensor._result(np.isin(values, tests, invert=invert))


def bincount(input, weights=None, minlength=0):
    data = input._data
    if data.dtype.kind not in "iu":
        raise NotImplementedError(f'"bincount_cpu" not implemented for '
                                  f"'{scalar_type_name(data.dtype)}'")
    if data.ndim != 1 or data.size and data.min() < 0:
        raise RuntimeError("bincount only supports 1-d non-negative integral inputs.")
    if minlength < 0:
        raise RuntimeError("minlength should be >= 0")
    if weights is None:
        return Tensor._result(np.bincount(data, minlength=minlength).astype(np.int64))
    if weights._data.ndim != 1 or weights._data.shape[0] != data.shape[0]:
        raise RuntimeError("weights should be 1-d and have the same length as input")
    counts = np.bincount(data, weights=weights._data, minlength=minlength)
    dtype = weights._data.dtype if weights._data.dtype.kind == "f" else np.float64
    return recorded_without_derivative(Tensor._result(counts.astype(dtype)), "aten::bincount",
                                       weights)


def searchsorted(sorted_sequence, input, *, out_int32=False, right=False, side=None, sorter=None):
    """Insertion points of ``input`` in the innermost dim of ``sorted_sequence``."""
    if side is not None:
        if right and side == "left":
            raise RuntimeError("torch.searchsorted(): side and right can't be set to opposites, "
                               "got side of left while right was True")
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
        # One search over all rows: values replaced by their ranks among all values (exact for
        # infinities and large integers), each row offset by the rank count so rows never
        # interleave.
        rows = sequence.reshape(-1, sequence.shape[-1])
        queries = values.reshape(rows.shape[0], -1)
        distinct, ranks = np.unique(np.concatenate([rows.reshape(-1), queries.reshape(-1)]),
                                    return_inverse=True)
        offsets = np.arange(rows.shape[0])[:, None] * distinct.size
        flat = np.searchsorted((ranks[:rows.size].reshape(rows.shape) + offsets).reshape(-1),
                               (ranks[rows.size:].reshape(queries.shape) + offsets).reshape(-1),
                               side=kind)
        out = flat.reshape(queries.shape) - np.arange(rows.shape[0])[:, None] * rows.shape[1]
        out = out.reshape(values.shape)
    return Tensor._result(np.asarray(out).astype(np.int32 if out_int32 else np.int64))


def bucketize(input, boundaries, *, out_int32=False, right=False):
    """The bucket of each value: boundaries[i-1] < x <= boundaries[i] (``right=False``)."""
    if boundaries._data.ndim != 1:
        raise RuntimeError(f"boundaries tensor must be 1 dimension, but got dim("
                           f"{boundaries._data.ndim})")
    return searchsorted(boundaries, input, out_int32=out_int32, right=right)


@_jit.kernel
def _triangle_positions(starts, stops, out):
    # row r's columns starts[r] .. stops[r] - 1, row by row
    position = 0
    for row in range(starts.size):
        for column in range(starts[row], stops[row]):
            out[0, position] = row
            out[1, position] = column
            position += 1


def _triangle_indices(row, col, offset, upper):
    """(2, n) int64 row and column indices of the triangle, row by row: by the compiled loop
    (256 x 256: 89 -> ~15 us), else NumPy's tril/triu_indices (a mask and its nonzero)."""
    kernel = _triangle_positions.compiled()
    if kernel is None or row <= 0 or col <= 0:
        numpy_indices = np.triu_indices if upper else np.tril_indices
        rows, cols = numpy_indices(row, offset, col)
        return np.stack([rows, cols]).astype(np.int64).reshape(2, -1)
    diagonal = np.arange(row, dtype=np.int64) + offset
    if upper:
        starts = np.clip(diagonal, 0, col)
        stops = np.full(row, col, np.int64)
    else:
        starts = np.zeros(row, np.int64)
        stops = np.clip(diagonal + 1, 0, col)
    out = np.empty((2, int(np.sum(stops - starts))), np.int64)
    kernel(starts, stops, out)
    return out


def _triangle_checked(row, col, offset, dtype, upper):
    """tril_indices/triu_indices as PyTorch: non-negative sizes, then int32 or int64 only."""
    operation = "triu_indices" if upper else "tril_indices"
    for name, size in (("row", row), ("col", col)):
        if size < 0:
            raise RuntimeError(f"{name} must be non-negative, got{size}")
    target = np.dtype(np.int64) if dtype is None else dtype.numpy
    if target not in (np.int32, np.int64):
        raise NotImplementedError(f'"{operation}" not implemented for '
                                  f"'{scalar_type_name(target)}'")
    indices = _triangle_indices(row, col, offset, upper)
    return Tensor._result(indices if target == np.int64 else indices.astype(target))


def tril_indices(row, col, offset=0, *, dtype=None):
    return _triangle_checked(row, col, offset, dtype, False)


def triu_indices(row, col, offset=0, *, dtype=None):
    return _triangle_checked(row, col, offset, dtype, True)


class IndexCopy(Op):
    _next_order = (0, 3)  # PyTorch lists the input and source, not the axis or index
    differentiable_backward = True

    @staticmethod
    def forward(ctx, x, axis, index, source):
        ctx.axis = axis
        ctx.source_shape = source.shape
        ctx.save_for_backward(index)
        out = x.copy()
        out[_slices_at(axis, index)] = source
        return out

    @staticmethod
    def backward(ctx, grad):
        (index,) = ctx.saved_tensors
        where = _slices_at(ctx.axis, _array(index))
        grad_x = _zero_at(ctx.xp, grad, where) if ctx.needs_input_grad[0] else None
        grad_source = None
        if ctx.needs_input_grad[3]:
            grad_source = unbroadcast(grad[where], ctx.source_shape)
        return grad_x, None, None, grad_source


def index_copy(input, dim, index, source):
    """``input`` with its slices at ``index`` along ``dim`` replaced by ``source``'s."""
    indices = _check_index_vector(index, "index_copy_", (np.int64,))
    if not isinstance(source, Tensor):
        raise TypeError(f"index_copy(): argument 'source' (position 3) must be Tensor, not "
                        f"{type(source).__name__}")
    axis = _dim(dim, input._data.ndim, "index_copy")
    _check_slices("index_copy_", input, axis, indices.size, source, True, IndexError)
    if source._data.dtype != input._data.dtype:
        raise RuntimeError(f"index_copy_(): self and source expected to have the same dtype, but "
                           f"got (self) {scalar_type_name(input._data.dtype)} and (source) "
                           f"{scalar_type_name(source._data.dtype)}")
    size = input._data.shape[axis] if input._data.ndim else 1
    indices = _check_bounds(indices, size, axis, "index_copy_", error=IndexError)
    if input._data.ndim == 0:
        return IndexCopy.apply(input.reshape(1), 0, indices, source.reshape(-1)).reshape(())
    return IndexCopy.apply(input, axis, indices, source)


class MaskedScatter(Op):
    """Where ``mask`` is True take ``source``'s elements in order; elsewhere keep ``input``."""

    _next_order = (0, 2)  # PyTorch lists the input and source, not the mask
    differentiable_backward = True

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
        mask = _array(mask)
        xp = ctx.xp
        grad_x = xp.where(mask, 0, grad) if ctx.needs_input_grad[0] else None
        grad_source = None
        if ctx.needs_input_grad[2]:
            flat = _pad(grad[mask], (int(np.prod(ctx.source_shape)),))
            grad_source = xp.reshape(flat, ctx.source_shape)
        return grad_x, None, grad_source


def masked_scatter(input, mask, source):
    if isinstance(mask, Tensor) and mask._data.dtype == np.uint8:
        warn_at_caller("masked_scatter_ received a mask with dtype torch.uint8, this behavior is "
                       "now deprecated,please use a mask with dtype torch.bool instead.")
        raise RuntimeError("masked_scatter_ only supports boolean masks, but got mask with dtype "
                           "Byte")
    if isinstance(mask, Tensor) and mask._data.dtype != np.bool_:
        raise RuntimeError(f"masked_scatter_ only supports boolean masks, but got mask with dtype "
                           f"{scalar_type_name(mask._data.dtype)}")
    mask_array = _mask(mask, "masked_scatter_")
    if not isinstance(source, Tensor):
        raise TypeError(f"masked_scatter(): argument 'source' (position 2) must be Tensor, not "
                        f"{type(source).__name__}")
    if source._data.dtype != input._data.dtype:
        raise RuntimeError(f"masked_scatter: expected self and source to have same dtypes but got"
                           f"{scalar_type_name(input._data.dtype)} and "
                           f"{scalar_type_name(source._data.dtype)}")
    try:
        shape = np.broadcast_shapes(input._data.shape, mask_array.shape)
    except ValueError:
        raise mismatch_error(mask_array.shape, input._data.shape) from None
    mask_array = np.broadcast_to(mask_array, shape)
    if int(mask_array.sum()) > source._data.size:
        raise RuntimeError("Number of elements of source < number of ones in mask")
    expanded = input if input._data.shape == shape else input.expand(*shape)
    return MaskedScatter.apply(expanded, mask_array, source)


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

    _next_order = (0, 2)  # PyTorch lists the input and values, not the key
    differentiable_backward = True

    @staticmethod
    def forward(ctx, x, key, values):
        ctx.values_meta = values.shape, values.dtype
        ctx.key = key
        out = x.copy()
        np.add.at(out, key, values.astype(out.dtype, copy=False))
        return out

    @staticmethod
    def backward(ctx, grad):
        grad_values = None
        if ctx.needs_input_grad[2]:
            grad_values = _grad_for(grad[ctx.key], *ctx.values_meta)
        return grad, None, grad_values


def index_put(input, indices, values, accumulate=False):
    """``input`` with ``values`` written (or, with ``accumulate``, added) at ``indices``, a tuple
    of index tensors as in ``input[indices]``."""
    if not isinstance(indices, (tuple, list)):
        raise TypeError(f"index_put(): argument 'indices' (position 1) must be tuple of Tensors, "
                        f"not {type(indices).__name__}")
    _check_tensor_elements(indices, "'indices'", "index_put")
    covered = sum(index._data.ndim if isinstance(index, Tensor) and
                           index._data.dtype in (np.bool_, np.uint8) else 1 for index in indices)
    if covered > input._data.ndim:
        raise IndexError(f"too many indices for tensor of dimension {input._data.ndim} (got "
                         f"{len(indices)})")
    if len(indices) == 1 and isinstance(indices[0], Tensor) and \
            indices[0]._data.dtype == np.bool_:
        _check_mask(input, indices[0])
    if not isinstance(values, Tensor):
        raise TypeError(f"index_put(): argument 'values' must be Tensor, not "
                        f"{type(values).__name__}")
    if values._data.dtype != input._data.dtype:
        raise RuntimeError(f"Index put requires the source and destination dtypes match, got "
                           f"{scalar_type_name(input._data.dtype)} for the destination and "
                           f"{scalar_type_name(values._data.dtype)} for the source.")
    if values._data.ndim == 0:
        _refuse_byte_mask_fill(tuple(indices))
    if not accumulate and type(values._data) is np.ndarray:
        out = input.clone()
        setitem(out, tuple(indices), values)
        return out
    key, _ = _convert_key(tuple(indices))
    if not accumulate:
        # A vmap batch of values: the out-of-place op, which vmap batches, since writing it
        # into a clone of an unbatched input would be refused as an in-place change.
        return IndexPut.apply(input, values, key)
    try:
        # The indexing result's shape, from a zero-strided view (no copy of the input).
        target_shape = np.broadcast_to(np.zeros((), np.bool_), input._data.shape)[key].shape
    except IndexError as error:
        raise _index_error(error) from None
    try:
        np.broadcast_shapes(values._data.shape, target_shape)
    except ValueError:
        raise RuntimeError(f"index_put_(): shape mismatch: value tensor of shape "
                           f"{list(values._data.shape)} cannot be broadcast to indexing result of "
                           f"shape {list(target_shape)}") from None
    return IndexPutAccumulate.apply(input, key, values)


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


# the reductions' numbers in _scatter_combine
_SCATTER_OPERATIONS = {"sum": 0, "mean": 0, "prod": 1, "amax": 2, "amin": 3}
_SCATTER_DTYPES = tuple(np.dtype(name) for name in ("float32", "float64", "int64", "int32"))


@_jit.kernel
def _scatter_combine(out, targets, values, operation):
    # np.<ufunc>.at(out, targets, values) in the same order, so the same values: maximum and
    # minimum keep out's element on ties and when it is NaN, take a NaN value (NumPy's rule)
    for position in range(targets.size):
        target = targets[position]
        value = values[position]
        current = out[target]
        if operation == 0:
            out[target] = current + value
        elif operation == 1:
            out[target] = current * value
        elif operation == 2:
            if not (current >= value or current != current):
                out[target] = value
        elif not (current <= value or current != current):
            out[target] = value


def _scatter_targets(shape, grid):
    """Flat positions, in a C-ordered array of ``shape``, of the elements that ``grid`` (a
    _scatter_grid) addresses, in the grid's C order."""
    flat = 0
    stride = 1
    for coordinates, size in zip(reversed(grid), reversed(shape)):
        flat = flat + coordinates.astype(np.int64, copy=False) * stride
        stride *= size
    return flat.reshape(-1)


def _scatter_reduce_arrays(x, axis, index, values, reduce, include_self):
    """The scatter_reduce kernel on arrays: the result and how many values each position
    combined. One compiled pass over flat positions where numba is present (np.ufunc.at:
    ~350 us for 16k values, compiled ~40 us), else np.<ufunc>.at; the same values."""
    grid = _scatter_grid(index, axis)
    out = x.copy()
    kernel = _scatter_combine.compiled() if x.dtype in _SCATTER_DTYPES and index.size else None
    if kernel is not None:
        targets = _scatter_targets(x.shape, grid)
        hit = np.bincount(targets, minlength=x.size).reshape(x.shape)
        if not include_self:
            out[hit > 0] = _identity(reduce, x.dtype)
        kernel(out.reshape(-1), targets,
               np.ascontiguousarray(values, dtype=x.dtype).reshape(-1),
               _SCATTER_OPERATIONS[reduce])
    else:
        hit = np.zeros(x.shape, np.int64)
        np.add.at(hit, grid, 1)
        if not include_self:
            out[hit > 0] = _identity(reduce, x.dtype)
        _SCATTER_UFUNCS[reduce].at(out, grid, values)
    count = hit + (1 if include_self else 0)
    if reduce == "mean":
        divisor = np.maximum(count, 1).astype(out.dtype)
        out = out // divisor if out.dtype.kind in "iu" else out / divisor
    return out, count


class ScatterReduce(Op):
    """``input`` with ``src`` combined at ``index`` along ``axis`` by sum/prod/mean/amax/amin
    (optionally leaving ``input``'s own values out of the reduction). The gradients follow
    PyTorch's: prod divides only where no zero is involved, amax/amin share among ties."""

    _next_order = (0, 3)  # PyTorch lists the input and src, not the options
    differentiable_backward = True

    @staticmethod
    def forward(ctx, x, axis, index, src, reduce, include_self):
        ctx.layout = (axis, reduce, include_self, src.shape)
        values = src[_leading_key(index.shape)]
        out, count = _scatter_reduce_arrays(x, axis, index, values, reduce, include_self)
        ctx.save_for_backward(x, index, src, out, count)
        return out

    @staticmethod
    def backward(ctx, grad):
        x, index, src, out, count = ctx.saved_tensors
        axis, reduce, include_self, src_shape = ctx.layout
        index = _array(index)
        count = _array(count)
        xp = ctx.xp
        grid = _scatter_grid(index, axis)
        values = src[_leading_key(index.shape)]
        if reduce in ("sum", "mean"):
            share = grad
            if reduce == "mean":
                share = grad / np.maximum(count, 1).astype(_array(x).dtype)
            grad_x = share
            grad_values = share[grid]
        elif reduce == "prod":
            grad_x, grad_values = _scatter_prod_backward(xp, grad, x, axis, index, values, out,
                                                         include_self)
        else:
            grad_x, grad_values = _scatter_extreme_backward(xp, grad, x, grid, values, out)
        if not include_self:
            grad_x = _zero_at(xp, grad_x, grid)
        grad_src = _pad(grad_values, src_shape) if ctx.needs_input_grad[3] else None
        return (grad_x if ctx.needs_input_grad[0] else None), None, None, grad_src, None, None


def _scatter_reduce(x, axis, index, values, reduce, include_self):
    """scatter_reduce of arrays, or recorded for Tensors (under create_graph)."""
    if isinstance(x, Tensor) or isinstance(values, Tensor):
        return ScatterReduce.apply(x, axis, index, values, reduce, include_self)
    return _scatter_reduce_arrays(x, axis, index, values, reduce, include_self)[0]


def _scatter_prod_backward(xp, grad, x, axis, index, values, out, include_self):
    """PyTorch's prod gradients: the product of the others, computed without dividing by a
    zero (each zero is replaced by one in a second product)."""
    grid = _scatter_grid(index, axis)
    nonzero_x = xp.where(x == 0, 1, x)
    grad_x = grad * _scatter_reduce(nonzero_x, axis, index, values, "prod", include_self) / \
        nonzero_x
    value_array = _array(values)
    value_is_zero = value_array == 0
    zeros_per_target = np.zeros(_array(x).shape, np.int64)
    np.add.at(zeros_per_target, grid, value_is_zero)
    single_zero = value_is_zero & (zeros_per_target[grid] == 1)
    without_zero = xp.where(single_zero, 1, values)
    others_of_zero = (grad * _scatter_reduce(x, axis, index, without_zero, "prod",
                                             include_self))[grid]
    others = (grad * out)[grid] / xp.where(value_is_zero, 1, values)
    return grad_x, xp.where(single_zero, others_of_zero, others)


def _scatter_extreme_backward(xp, grad, x, grid, values, out):
    """amax/amin: the gradient shared evenly by every element equal to the result."""
    out_array = _array(out)
    x_wins = _array(x) == out_array
    # flat positions and np.take: indexing by the grid's broadcast arrays costs ~5x more
    targets = _scatter_targets(out_array.shape, grid)
    value_array = _array(values)
    value_wins = value_array == np.take(out_array, targets).reshape(value_array.shape)
    winners = x_wins.astype(np.int64)
    winners += np.bincount(targets, weights=value_wins.reshape(-1),
                           minlength=winners.size).astype(np.int64).reshape(winners.shape)
    share = grad / np.maximum(winners, 1).astype(out_array.dtype)
    if xp is np:
        shared = np.take(share, targets).reshape(value_array.shape)
    else:
        shared = share[grid]
    return xp.where(x_wins, share, 0), xp.where(value_wins, shared, 0)


def scatter_reduce(input, dim, index, src, reduce, *, include_self=True):
    if reduce not in _SCATTER_UFUNCS:
        raise RuntimeError(f"reduce argument must be either sum, prod, mean, amax or amin, got "
                           f"{reduce}")
    if not isinstance(src, Tensor):
        raise TypeError(f"scatter_reduce(): argument 'src' (position 3) must be Tensor, not "
                        f"{type(src).__name__}")
    axis, indices = _check_scatter("scatter_reduce", input, dim, index, src)
    return _scatter_op(ScatterReduce, input, axis, indices, src, reduce, include_self)


_INDEX_REDUCTIONS = ("prod", "mean", "amax", "amin")


def index_reduce(input, dim, index, source, reduce, *, include_self=True):
    """``input`` with the slices of ``source`` combined by ``reduce`` (prod, mean, amax, amin)
    into the slices at ``index`` along ``dim``: scatter_reduce with the index spread over the
    other dims, so it shares scatter_reduce's gradients."""
    warnings.warn("index_reduce() is in beta and the API may change at any time.", UserWarning,
                  stacklevel=2)
    if reduce not in _INDEX_REDUCTIONS:
        raise RuntimeError(f"index_reduce(): Expected reduce to be one of prod, mean, amax or "
                           f"amin but got {reduce}.")
    require_tensor(index, "index_reduce", "index", 2)
    require_tensor(source, "index_reduce", "source", 3)
    if index._data.dtype not in (np.int32, np.int64):
        raise RuntimeError(f"index_reduce_(): Expected dtype int32/int64 for index but got: "
                           f"{scalar_type_name(index._data.dtype)}")
    indices = _check_index_vector(index, "index_reduce_", (np.int32, np.int64))
    ndim = input._data.ndim
    axis = _dim(dim, ndim, "index_reduce")
    if ndim == 0 and source._data.ndim:
        raise RuntimeError(f"source tensor shape must match self tensor shape, excluding the "
                           f"specified dimension. Got self.shape = [] source.shape = "
                           f"{list(source._data.shape)}")
    source_shape = source._data.shape or (1,)
    if source._data.ndim == ndim and source_shape[axis] != indices.size:
        raise RuntimeError(f"index_reduce_(): Number of indices ({indices.size}) should be equal "
                           f"to source.size(dim): ({source_shape[axis]}), for dim: {axis}")
    _check_slices("index_reduce_", input, axis, indices.size, source, True, RuntimeError)
    if source._data.dtype != input._data.dtype:
        raise RuntimeError(f"index_reduce_(): self ({scalar_type_name(input._data.dtype)}) and "
                           f"source ({scalar_type_name(source._data.dtype)}) must have the same "
                           f"scalar type")
    size = input._data.shape[axis] if ndim else 1
    if indices.size and (indices.min() < 0 or indices.max() >= size):
        raise IndexError("index out of range in self")
    along = [1] * len(source_shape)
    along[axis] = indices.size
    spread = np.broadcast_to(indices.astype(np.int64).reshape(along), source_shape)
    return _scatter_op(ScatterReduce, input, axis, spread, source.reshape(source_shape),
                       reduce, include_self)


def put(input, index, source, accumulate=False):
    """``input`` with ``source``'s values written (or added, with ``accumulate``) at the
    positions ``index`` of its flattened form (negative positions count from the end)."""
    require_tensor(input, "put")
    require_tensor(index, "put", "index", 2)
    require_tensor(source, "put", "source", 3)
    if index._data.dtype != np.int64:
        raise RuntimeError(f"put_(): Expected a long tensor for index, but got "
                           f"{scalar_type_name(index._data.dtype)}")
    if source._data.dtype != input._data.dtype:
        raise RuntimeError(f"put_(): self and source expected to have the same dtype, but got "
                           f"self.dtype = {scalar_type_name(input._data.dtype)} and source.dtype "
                           f"= {scalar_type_name(source._data.dtype)}")
    if source._data.size != index._data.size:
        raise IndexError(f"put_(): Expected source and index to have the same number of "
                         f"elements, but got source.numel() = {source._data.size}, "
                         f"index.numel() = {index._data.size}")
    count = input._data.size
    positions = index._data.reshape(-1)
    if positions.size and count == 0:
        raise IndexError("put_(): Tried to put elements into an empty tensor")
    if positions.size and (positions.min() < -count or positions.max() >= count):
        bad = positions[(positions < -count) | (positions >= count)][0]
        raise IndexError(f"out of range: tried to access index {bad} on a tensor of {count} "
                         f"elements.")
    flat = index_put(input.reshape(-1), (Tensor._wrap(positions),), source.reshape(-1),
                     accumulate)
    return flat.reshape(input._data.shape)
