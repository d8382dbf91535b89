"""Padding (constant with negative widths cropping, reflect, replicate, circular) and
resampling (F.interpolate) as one pair of ops over per-axis maps.

Each mapped axis has either an index map from output to input positions (-1: the fill value) or
an (out, in) matrix. GatherAxes applies the maps one axis after the other; its adjoint,
ScatterAxes, scatter-adds (or multiplies by the transposed matrices) in reverse order. Each is
the other's gradient, so both are differentiable to any order.
"""
import numpy as np

from ... import _jit
from ..._dtype import accumulation_dtype
from ..._layout import (arrange, contiguous_format, empty_strided, format_strides,
                        memory_order, preserve_format, spatial_layout, suggest_memory_format)
from ...autograd.function import Op
from ...ops.index import add_at


def border_slices(shape, pairs):
    """(output shape, slices of the kept input in the output, in the input, ``pairs``) of a
    constant pad by ``pairs`` ((axis, left, right), ...; negative widths crop), straight from
    the widths."""
    out_shape = list(shape)
    inner_out = [slice(None)] * len(shape)
    inner_in = [slice(None)] * len(shape)
    for axis, left, right in pairs:
        size = shape[axis]
        out_shape[axis] = size + left + right
        start = max(-left, 0)
        kept = max(size - start - max(-right, 0), 0)
        inner_in[axis] = slice(start, start + kept)
        inner_out[axis] = slice(max(left, 0), max(left, 0) + kept)
    return tuple(out_shape), tuple(inner_out), tuple(inner_in), tuple(pairs)


def _border_slices(maps, shape):
    """For maps that each keep one rising run between -1s (constant padding, negative widths
    cropping): (output shape, the run's slices in the output, in the input); else None."""
    out_shape = list(shape)
    inner_out = [slice(None)] * len(shape)
    inner_in = [slice(None)] * len(shape)
    for axis, index in maps:
        if index.ndim != 1 or inner_out[axis] != slice(None):
            return None
        start, stop = _longest_unit_run(index)
        if np.count_nonzero(index >= 0) != stop - start:
            return None
        first = int(index[start]) if stop > start else 0
        out_shape[axis] = index.shape[0]
        inner_out[axis] = slice(start, stop)
        inner_in[axis] = slice(first, first + stop - start)
    return tuple(out_shape), tuple(inner_out), tuple(inner_in)


@_jit.kernel
def _gather_rows(source, row_map, column_map, run_start, run_stop, out):
    # out[o, r, c] = source[o, row_map[r], column_map[c]]; the columns [run_start, run_stop),
    # where the map rises by one (a pad's interior), copied by a plain, vectorised loop
    offset = column_map[run_start] - run_start
    for outer in range(out.shape[0]):
        for row in range(out.shape[1]):
            source_row = source[outer, row_map[row]]
            out_row = out[outer, row]
            for column in range(run_start):
                out_row[column] = source_row[column_map[column]]
            # views from the run's start: plain loop indices, which LLVM vectorises
            run_source = source_row[run_start + offset:]
            run_out = out_row[run_start:]
            for column in range(run_stop - run_start):
                run_out[column] = run_source[column]
            for column in range(run_stop, out.shape[2]):
                out_row[column] = source_row[column_map[column]]


@_jit.kernel
def _scatter_rows(grad, row_map, column_map, run_start, run_stop, out):
    # out[o, row_map[r], column_map[c]] += grad[o, r, c], in (r, c) order
    offset = column_map[run_start] - run_start
    for outer in range(grad.shape[0]):
        for row in range(grad.shape[1]):
            out_row = out[outer, row_map[row]]
            grad_row = grad[outer, row]
            for column in range(run_start):
                out_row[column_map[column]] += grad_row[column]
            run_out = out_row[run_start + offset:]
            run_grad = grad_row[run_start:]
            for column in range(run_stop - run_start):
                run_out[column] += run_grad[column]
            for column in range(run_stop, grad.shape[2]):
                out_row[column_map[column]] += grad_row[column]


@_jit.kernel
def _unit_run(index):
    # (start, stop) of the longest stretch of ``index`` that rises by one (at least one entry)
    best_start, best_stop = 0, 1
    start = 0
    for position in range(1, index.size + 1):
        if position == index.size or index[position] != index[position - 1] + 1:
            if position - start > best_stop - best_start:
                best_start, best_stop = start, position
            start = position
    return best_start, best_stop


_ROWS_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def _row_maps(maps, shape):
    """For index maps without fill positions (reflect, replicate and circular pads, nearest
    resampling) on trailing axes: (the axis they start at, one map of the rows (the mapped
    axes but the last, flattened), the map of the last axis, the output shape); else None.
    The compiled row kernels then move whole rows: the gathers per axis copy rows of a few
    elements each along the inner axes (an (8, 16, 32, 32) reflect pad: 116 -> ~30 us)."""
    ndim = len(shape)
    by_axis = {}
    for axis, index in maps:
        if index.ndim != 1 or axis in by_axis or not index.size or index.min() < 0:
            return None
        by_axis[axis] = index
    first = min(by_axis)
    if ndim - first > 3:
        return None
    indices = [by_axis.get(axis, np.arange(shape[axis])) for axis in range(first, ndim)]
    row_map = np.zeros(1, np.int64)
    for axis, index in zip(range(first, ndim - 1), indices):
        row_map = (row_map[:, None] * shape[axis] + index[None, :]).reshape(-1)
    out_shape = shape[:first] + tuple(index.size for index in indices)
    return first, row_map, indices[-1].astype(np.int64, copy=False), out_shape


def _mostly_one_run(column_map):
    """(start, stop) of the column map's longest stretch rising by one when it is at least
    half the map (pads); None otherwise (nearest resampling: NumPy's paths are as fast)."""
    kernel = _unit_run.compiled()
    if kernel is None:
        return None
    start, stop = kernel(column_map)
    return (start, stop) if 2 * (stop - start) >= column_map.size else None


def _gather_by_rows(x, maps):
    """gather_axes by the compiled row kernel, or None where it does not apply."""
    if x.dtype not in _ROWS_DTYPES or not x.size:
        return None
    plan = _row_maps(maps, x.shape)
    if plan is None:
        return None
    kernel = _gather_rows.compiled()
    run = _mostly_one_run(plan[2])
    if kernel is None or run is None:
        return None
    first, row_map, column_map, out_shape = plan
    out = np.empty(out_shape, x.dtype)
    outer = int(np.prod(x.shape[:first]))
    kernel(np.ascontiguousarray(x).reshape(outer, -1, x.shape[-1]), row_map, column_map, *run,
           out.reshape(outer, row_map.size, column_map.size))
    return out


def _scatter_by_rows(grad, maps, input_shape):
    """scatter_axes by the compiled row kernel (the sums in output order), or None."""
    if grad.dtype not in _ROWS_DTYPES or not grad.size:
        return None
    plan = _row_maps(maps, input_shape)
    if plan is None:
        return None
    kernel = _scatter_rows.compiled()
    run = _mostly_one_run(plan[2])
    if kernel is None or run is None:
        return None
    first, row_map, column_map, _ = plan
    out = np.zeros(input_shape, grad.dtype)
    outer = int(np.prod(input_shape[:first]))
    kernel(np.ascontiguousarray(grad).reshape(outer, row_map.size, column_map.size), row_map,
           column_map, *run, out.reshape(outer, -1, input_shape[-1]))
    return out


def gather_axes(x, maps, fill=0):
    """Apply ``maps`` ((axis, index map or matrix), ...) to ``x`` in order."""
    out = _gather_by_rows(x, maps) if maps else None
    if out is not None:
        return out
    border = _border_slices(maps, x.shape) if maps else None
    if border is not None:
        # constant padding: one fill and one slice copy, as PyTorch does
        out_shape, inner_out, inner_in = border
        out = np.full(out_shape, fill, x.dtype)
        out[inner_out] = x[inner_in]
        return out
    out = x
    for axis, operator in maps:
        if operator.ndim == 2:
            out = contract_axis(out, axis, operator)
            continue
        out = gather_axis(out, operator, axis, fill)
    if out is x:  # no width: PyTorch's clone, in the input's layout
        return x.copy() if x.flags.c_contiguous else arrange(x, preserve_format, like=x)
    # float16 met float32 matrices: rounded once, here
    return _as_laid_out(out, x, x.dtype)


def contract_axis(array, axis, matrix):
    """result[..., i, ...] = sum_k matrix[i, k] array[..., k, ...]: one (batched) product over
    the array's memory as it lies (C order or channels_last), whose result lies the same way;
    other layouts go through a moved axis."""
    order = None if array.flags.c_contiguous else memory_order(array)
    if order is None and not array.flags.c_contiguous:
        return np.moveaxis(np.moveaxis(array, axis, -1) @ matrix.T, -1, axis)
    physical = array if order is None else array.transpose(order)
    position = axis if order is None else order.index(axis)
    shape = physical.shape
    lead = int(np.prod(shape[:position]))
    tail = int(np.prod(shape[position + 1:]))
    if tail == 1:
        product = physical.reshape(lead, shape[position]) @ matrix.T
    else:
        product = matrix @ physical.reshape(lead, shape[position], tail)
    product = product.reshape(shape[:position] + (matrix.shape[0],) + shape[position + 1:])
    return product if order is None else product.transpose(np.argsort(order))


def _as_laid_out(result, like, dtype):
    """``result`` in ``dtype``, C-contiguous, or kept as it lies where it and ``like`` are both
    channels_last (spatial_layout then keeps it)."""
    if result.flags.c_contiguous or result.ndim not in (4, 5):
        return np.ascontiguousarray(result, dtype=dtype)
    order = memory_order(result)
    if order is not None and order == memory_order(like) and order == _CHANNELS_LAST[result.ndim]:
        return result.astype(dtype, order="K", copy=False)
    return np.ascontiguousarray(result, dtype=dtype)


_CHANNELS_LAST = {4: (0, 2, 3, 1), 5: (0, 2, 3, 4, 1)}


def gather_axis(values, index, axis, fill=0):
    """result[..., i, ...] = values[..., index[i], ...] along ``axis`` (``fill`` where index is
    -1). The longest stretch where the index rises by one (a pad's interior) is one slice copy,
    the rest one np.take: a gather over the whole axis is ~4x slower."""
    run_start, run_stop = _longest_unit_run(index)
    if 2 * (run_stop - run_start) < index.shape[0]:
        # mostly not a run (nearest resampling): one gather
        result = np.take(values, np.maximum(index, 0), axis=axis)
        outside = np.flatnonzero(index < 0)
        if outside.size:
            result[(slice(None),) * axis + (outside,)] = fill
        return result
    result = np.empty(values.shape[:axis] + index.shape + values.shape[axis + 1:], values.dtype)
    lead = (slice(None),) * axis
    if run_stop > run_start:
        first = index[run_start]
        result[lead + (slice(run_start, run_stop),)] = values[
            lead + (slice(first, first + run_stop - run_start),)]
    rest = np.ones(index.shape[0], dtype=bool)
    rest[run_start:run_stop] = False
    remaining = np.flatnonzero(rest)
    if remaining.size:
        sources = index[remaining]
        result[lead + (remaining,)] = np.take(values, np.maximum(sources, 0), axis=axis)
        outside = remaining[sources < 0]
        if outside.size:
            result[lead + (outside,)] = fill
    return result


def scatter_axes(grad, maps, input_shape):
    """The adjoint of ``gather_axes`` (fill positions get no gradient)."""
    result = _scatter_by_rows(grad, maps, input_shape) if maps else None
    if result is not None:
        return result
    border = _border_slices(maps, input_shape) if maps else None
    if border is not None:
        _, inner_out, inner_in = border
        result = np.zeros(input_shape, grad.dtype)
        result[inner_in] = grad[inner_out]
        return result
    dtype = grad.dtype
    # half-precision gradients summed in float32 and rounded once (PyTorch's opmath)
    grad = grad.astype(accumulation_dtype(dtype), copy=False)
    source = grad
    for axis, operator in reversed(maps):
        if operator.ndim == 2:
            grad = contract_axis(grad, axis, operator.T)
        else:
            grad = scatter_add_axis(grad, operator, input_shape[axis], axis)
    return _as_laid_out(grad, source, dtype)


def _padded_like(x, shape):
    """An empty array of ``shape`` laid out as PyTorch lays out the padding of ``x``
    (channels_last for a channels_last input: spatial_layout then keeps it as it is)."""
    if x.ndim in (4, 5) and not x.flags.c_contiguous:
        fmt = suggest_memory_format(x)
        if fmt is not contiguous_format:
            return empty_strided(shape, format_strides(shape, fmt), x.dtype)
    return np.empty(shape, x.dtype)


class GatherAxes(Op):
    """Per-axis gathers or matrix products (``maps``); positions mapped to -1 get ``fill``."""
    _next_order = (0,)  # PyTorch lists the tensor inputs, not the options

    output_layout = staticmethod(spatial_layout)
    differentiable_backward = True

    @staticmethod
    def forward(ctx, x, maps, fill, border=None):
        ctx.maps = maps
        ctx.input_shape = x.shape
        ctx.border = border
        if border is None:
            return gather_axes(x, maps, fill)
        # constant padding whose slices the caller knows from its widths (``border_slices``;
        # ``maps`` None): one fill and one slice copy
        out_shape, inner_out, inner_in = border[:3]
        out = _padded_like(x, out_shape)
        kept = x[inner_in]
        if kept.shape != tuple(out_shape):
            out.fill(fill)
        out[inner_out] = kept
        return out

    @staticmethod
    def backward(ctx, grad):
        if ctx.xp is np:
            if ctx.border is not None:
                _, inner_out, inner_in = ctx.border[:3]
                result = np.zeros(ctx.input_shape, grad.dtype)
                result[inner_in] = grad[inner_out]
                return result, None, None, None
            return scatter_axes(grad, ctx.maps, ctx.input_shape), None, None, None
        maps = ctx.maps
        if maps is None:  # a constant pad given by its widths: its index maps, now needed
            maps = tuple((axis, index_map(ctx.input_shape[axis], left, right, "constant"))
                         for axis, left, right in ctx.border[3])
        return ScatterAxes.apply(grad, maps, ctx.input_shape), None, None, None


class ScatterAxes(Op):
    """The adjoint of GatherAxes (its gradient as an op, under create_graph)."""

    differentiable_backward = True

    @staticmethod
    def forward(ctx, grad, maps, input_shape):
        ctx.maps = maps
        return scatter_axes(grad, maps, input_shape)

    @staticmethod
    def backward(ctx, grad_input):
        if ctx.xp is np:
            return gather_axes(grad_input, ctx.maps), None, None
        return GatherAxes.apply(grad_input, ctx.maps, 0), None, None


def _repeat_factor(index, size):
    """k when ``index`` is 0, 0, .., 1, 1, .., size - 1 with every entry k times (nearest
    upsampling by an integer factor), else None."""
    count = index.shape[0]
    if size == 0 or count % size:
        return None
    factor = count // size
    if factor < 2 or not np.array_equal(index, np.repeat(np.arange(size), factor)):
        return None
    return factor


def scatter_add_axis(values, index, size, axis):
    """result[..., index[i], ...] += values[..., i, ...] along ``axis`` (entries with index -1
    are dropped). The longest stretch where the index rises by one (a pad's interior) is one
    slice copy; the rest goes through ``add_at`` (a sort and one np.add.reduceat)."""
    factor = _repeat_factor(index, size)
    if factor is not None:
        # each input position took ``factor`` neighbouring outputs: the strided slices
        # 0, factor, 2 factor, ... summed, one per offset (in index order, as the sort would)
        lead = (slice(None),) * axis
        result = values[lead + (slice(0, None, factor),)].copy()
        for offset in range(1, factor):
            result += values[lead + (slice(offset, None, factor),)]
        return result
    moved = np.moveaxis(values, axis, 0)
    result = np.zeros((size,) + moved.shape[1:], dtype=values.dtype)
    run_start, run_stop = _longest_unit_run(index)
    if run_stop > run_start:
        first = index[run_start]
        result[first:first + run_stop - run_start] = moved[run_start:run_stop]
    rest = np.ones(index.shape[0], dtype=bool)
    rest[run_start:run_stop] = False
    rest &= index >= 0
    remaining = np.flatnonzero(rest)
    if remaining.size:
        add_at(result, (index[remaining],), moved[remaining])
    return np.moveaxis(result, 0, axis)


def _longest_unit_run(index):
    """(start, stop) of the longest run of non-negative entries that rise by exactly one."""
    if index.shape[0] == 0:
        return 0, 0
    rising = np.concatenate(([False], (np.diff(index) == 1) & (index[:-1] >= 0), [False]))
    edges = np.flatnonzero(np.diff(rising.astype(np.int8)))
    if edges.size == 0:
        return (0, 1) if index[0] >= 0 else (0, 0)
    run_starts = edges[::2]
    run_stops = edges[1::2]
    longest = int(np.argmax(run_stops - run_starts))
    # ``rising[i]`` links positions i - 1 and i: a run of links [a, b) covers positions a-1..b-1.
    return int(run_starts[longest]), int(run_stops[longest]) + 1


def index_map(size, left, right, mode):
    """Input position for each output position along one dimension (-1: the constant)."""
    if mode == "circular":
        # PyTorch crops first (negative widths), then wraps around the cropped extent.
        start = max(-left, 0)
        kept = size - start - max(-right, 0)
        left = max(left, 0)
        right = max(right, 0)
        positions = np.arange(kept + left + right) - left
        return start + np.mod(positions, kept)
    positions = np.arange(size + left + right) - left
    if mode == "reflect":
        positions = np.abs(positions)
        return np.where(positions >= size, 2 * (size - 1) - positions, positions)
    if mode == "replicate":
        return np.clip(positions, 0, size - 1)
    return np.where((positions >= 0) & (positions < size), positions, -1)
