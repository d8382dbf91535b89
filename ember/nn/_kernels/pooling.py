"""Max, average and adaptive pooling over 1 to 3 spatial dims, through strided window views.

Max pooling is one vectorised pass per kernel offset (never per pixel) and reports PyTorch's
flattened spatial indices; adaptive max pooling gathers its variable windows by index.
"""
import math

import numpy as np

from ...autograd.function import Op
from .conv import _col2im, _interior, _windows


class GatherSpatial(Op):
    """out[n, c, j] = input[n, c, indices[n, c, j]] over flattened spatial dims; backward
    scatter-adds (windows may overlap) through one bincount."""

    @staticmethod
    def forward(ctx, input, indices):
        batch, channels = input.shape[:2]
        rows = input.reshape(batch * channels, -1)
        flat_indices = indices.reshape(batch * channels, -1)
        ctx.save_for_backward(indices)
        ctx.input_shape = input.shape
        return np.take_along_axis(rows, flat_indices, axis=1).reshape(indices.shape)

    @staticmethod
    def backward(ctx, grad):
        (indices,) = ctx.saved_tensors
        input_shape = ctx.input_shape
        rows = input_shape[0] * input_shape[1]
        size = math.prod(input_shape[2:])
        positions = indices.reshape(rows, -1) + (np.arange(rows) * size)[:, None]
        summed = np.bincount(positions.ravel(), weights=grad.reshape(rows, -1).ravel(),
                             minlength=rows * size)
        return summed.astype(grad.dtype, copy=False).reshape(input_shape), None


class AvgPoolNd(Op):
    """Window sums divided by PyTorch's divisor (padding counted or not, or an override)."""

    @staticmethod
    def forward(ctx, input, kernel_size, stride, padding, out_size, divisor):
        padded_shape, pairs = _padded_geometry(input.shape, kernel_size, stride, padding,
                                               (1,) * len(kernel_size), out_size)
        padded = np.zeros(padded_shape, input.dtype) if padded_shape != input.shape else input
        if padded is not input:
            padded[_interior(input.shape, pairs)] = input
        windows = _windows(padded, kernel_size, stride, (1,) * len(kernel_size), out_size)
        everything = (slice(None), slice(None))
        total = None
        for offset in np.ndindex(*kernel_size):
            window = windows[everything + offset]
            total = window.copy() if total is None else np.add(total, window, out=total)
        total /= divisor
        ctx.geometry = (input.shape, padded_shape, pairs, kernel_size, stride, out_size)
        ctx.save_for_backward(divisor if isinstance(divisor, np.ndarray) else None)
        ctx.scalar_divisor = None if isinstance(divisor, np.ndarray) else divisor
        return total

    @staticmethod
    def backward(ctx, grad):
        (divisor,) = ctx.saved_tensors
        if divisor is None:
            divisor = ctx.scalar_divisor
        input_shape, padded_shape, pairs, kernel_size, stride, out_size = ctx.geometry
        scaled = grad / divisor
        spread = len(kernel_size)
        columns = np.broadcast_to(scaled.reshape(scaled.shape[:2] + (1,) * spread + out_size),
                                  scaled.shape[:2] + kernel_size + out_size)
        grad_padded = _col2im(columns, padded_shape, kernel_size, stride, (1,) * spread, out_size)
        return grad_padded[_interior(input_shape, pairs)], None, None, None, None, None


# ---- geometry ------------------------------------------------------------------------------------
def _padded_geometry(input_shape, kernel_size, stride, padding, dilation, out_size):
    """Padded shape covering every window (ceil_mode may reach past the right padding)."""
    pairs = []
    for size, kernel, jump, pad, gap, count in zip(input_shape[2:], kernel_size, stride, padding,
                                                   dilation, out_size):
        reach = (count - 1) * jump + gap * (kernel - 1) + 1
        pairs.append((pad, max(0, reach - size - pad)))
    shape = input_shape[:2] + tuple(size + before + after
                                    for size, (before, after) in zip(input_shape[2:], pairs))
    return shape, tuple(pairs)


# ---- max pooling ---------------------------------------------------------------------------------
def _padded_windows(array, kernel_size, stride, padding, dilation, out_size):
    """The (N, C, *kernel, *out) window view of the input padded with the lowest value, the
    padded array and the padding pairs."""
    padded_shape, pairs = _padded_geometry(array.shape, kernel_size, stride, padding, dilation,
                                           out_size)
    padded = array
    if padded_shape != array.shape:
        fill = -np.inf if array.dtype.kind == "f" else np.iinfo(array.dtype).min
        padded = np.full(padded_shape, fill, array.dtype)
        padded[_interior(array.shape, pairs)] = array
    return _windows(padded, kernel_size, stride, dilation, out_size), padded, pairs


def _window_maxima(padded, kernel_size, stride, dilation, out_size):
    """Maximum of every window (NaN propagates), one spatial dim at a time: the maximum over a
    box is separable, so this takes sum(kernel) - len(kernel) passes instead of
    prod(kernel) - 1, and the first dim's passes run over whole contiguous rows (2x2 pooling of
    (64, 32, 28, 28): 1.33 -> 0.70 ms)."""
    values = padded
    owned = False
    for dim, (kernel, jump, gap, size) in enumerate(zip(kernel_size, stride, dilation, out_size)):
        before = (slice(None),) * (2 + dim)
        phases = [values[before + (slice(index * gap, index * gap + jump * (size - 1) + 1, jump),)]
                  for index in range(kernel)]
        if kernel == 1:
            values = phases[0]
            continue
        values = np.maximum(phases[0], phases[1])
        owned = True
        for phase in phases[2:]:
            np.maximum(values, phase, out=values)
    if not owned or not values.flags.c_contiguous:
        values = values.copy()
    return values


def _window_argmax(windows, kernel_size, has_nan):
    """Running maximum with the offset of each window's maximum, PyTorch's rule: a later element
    wins only when strictly greater or NaN (so the first maximum, or the last NaN, is kept)."""
    everything = (slice(None), slice(None))
    offsets = list(np.ndindex(*kernel_size))
    values = windows[everything + offsets[0]].copy()
    best = np.zeros(values.shape, np.uint8 if len(offsets) < 256 else np.int64)
    better = np.empty(values.shape, bool)
    for number, offset in enumerate(offsets[1:], start=1):
        window = windows[everything + offset]
        np.greater(window, values, out=better)
        if has_nan:
            better |= np.isnan(window)
        np.copyto(values, window, where=better)
        np.copyto(best, number, where=better)
    return values, best


def _offset_slices(kernel_size, stride, dilation, out_size):
    """For each kernel offset, the slices of the padded input its window elements occupy."""
    everything = (slice(None), slice(None))
    return [everything + tuple(slice(index * gap, index * gap + jump * (size - 1) + 1, jump)
                               for index, gap, jump, size
                               in zip(offset, dilation, stride, out_size))
            for offset in np.ndindex(*kernel_size)]


def _flat_indices(best, input_shape, kernel_size, stride, padding, dilation, out_size):
    """PyTorch's indices: each maximum's position in the flattened input spatial dims."""
    sizes = input_shape[2:]
    spatial_dims = len(sizes)
    kernel_coordinates = np.unravel_index(best.astype(np.int64), kernel_size)
    flat = np.zeros(best.shape, np.int64)
    for dim in range(spatial_dims):
        shape = [1] * (2 + spatial_dims)
        shape[2 + dim] = out_size[dim]
        starts = (np.arange(out_size[dim]) * stride[dim] - padding[dim]).reshape(shape)
        flat = flat * sizes[dim] + starts + kernel_coordinates[dim] * dilation[dim]
    return flat


class MaxPoolNd(Op):
    """Window maxima. Forward is one ``np.maximum`` per kernel offset; backward routes each
    gradient to the first element equal to its window's maximum (PyTorch's argmax), recomputed
    from the saved input, so nothing but the input is kept (the argmax offsets, one byte each,
    only when the indices were asked for anyway)."""

    @staticmethod
    def forward(ctx, input, kernel_size, stride, padding, dilation, out_size, with_indices):
        windows, padded, pairs = _padded_windows(input, kernel_size, stride, padding, dilation,
                                                 out_size)
        ctx.geometry = (input.shape, padded.shape, pairs, kernel_size, stride, padding, dilation)
        if not with_indices:
            ctx.save_for_backward(input, None)
            return _window_maxima(padded, kernel_size, stride, dilation, out_size)
        has_nan = input.dtype.kind == "f" and bool(np.isnan(input).any())
        values, best = _window_argmax(windows, kernel_size, has_nan)
        ctx.save_for_backward(None, best)
        indices = _flat_indices(best, input.shape, kernel_size, stride, padding, dilation,
                                out_size)
        return values, indices

    @staticmethod
    def backward(ctx, grad, *unused):
        input, best = ctx.saved_tensors
        input_shape, padded_shape, pairs, kernel_size, stride, padding, dilation = ctx.geometry
        if best is None:
            windows, padded = _padded_windows(input, kernel_size, stride, padding, dilation,
                                              grad.shape[2:])[:2]
            if input.dtype.kind == "f" and np.isnan(input).any():
                best = _window_argmax(windows, kernel_size, True)[1]
            elif (stride == kernel_size and not any(padding)
                  and all(gap == 1 for gap in dilation)):
                values = _window_maxima(padded, kernel_size, stride, dilation, grad.shape[2:])
                return (_tiled_max_grad(input, values, grad, kernel_size),
                        None, None, None, None, None, None)
        slices = _offset_slices(kernel_size, stride, dilation, grad.shape[2:])
        grad_padded = np.zeros(padded_shape, grad.dtype)
        contribution = np.empty(grad.shape, grad.dtype)
        if best is not None:
            for number, target in enumerate(slices):
                np.multiply(grad, best == number, out=contribution)
                grad_padded[target] += contribution
        else:
            values = _window_maxima(padded, kernel_size, stride, dilation, grad.shape[2:])
            everything = (slice(None), slice(None))
            claimed = None
            match = np.empty(grad.shape, bool)
            last = len(slices) - 1
            for number, (offset, target) in enumerate(zip(np.ndindex(*kernel_size), slices)):
                np.equal(windows[everything + offset], values, out=match)
                if claimed is None:
                    claimed = match.copy()
                else:
                    np.greater(match, claimed, out=match)  # equal and not claimed earlier
                    if number != last:
                        claimed |= match
                np.multiply(grad, match, out=contribution)
                grad_padded[target] += contribution
        grad_input = grad_padded[_interior(input_shape, pairs)]
        return grad_input, None, None, None, None, None, None


def _upsample(array, kernel_size):
    """Repeat each spatial element kernel_size times along its dim (nearest-neighbour): one
    strided assignment per kernel offset (measured faster than np.repeat)."""
    shape = array.shape[:2] + tuple(size * kernel
                                    for size, kernel in zip(array.shape[2:], kernel_size))
    result = np.empty(shape, array.dtype)
    for offset in np.ndindex(*kernel_size):
        result[(slice(None), slice(None)) + tuple(
            slice(index, None, kernel) for index, kernel in zip(offset, kernel_size))] = array
    return result


def _tiled_max_grad(input, values, grad, kernel_size):
    """Max-pooling gradient when the windows tile the input (kernel == stride, no padding or
    dilation): the block maxima and gradients are repeated to the input's resolution, so the
    comparison and the product are contiguous passes instead of strided scatters per offset."""
    out_size = values.shape[2:]
    covered = (slice(None), slice(None)) + tuple(
        slice(0, count * kernel) for count, kernel in zip(out_size, kernel_size))
    blocks_shape = input.shape[:2] + tuple(
        size for pair in zip(out_size, kernel_size) for size in pair)
    # match = input == upsampled maxima, one strided comparison per kernel offset (no upsampled
    # copy of the maxima is allocated).
    region = input[covered]
    match = np.empty(region.shape, bool)
    for offset in np.ndindex(*kernel_size):
        phase = (slice(None), slice(None)) + tuple(
            slice(index, None, kernel) for index, kernel in zip(offset, kernel_size))
        np.equal(region[phase], values, out=match[phase])
    if np.count_nonzero(match) != values.size:
        # Ties: only the first maximum of each window (in kernel order) takes the gradient.
        blocks = match.reshape(blocks_shape)
        everything = (slice(None),) * 2
        views = [blocks[everything + tuple(index for pair in zip((slice(None),) * len(offset),
                                                                offset) for index in pair)]
                 for offset in np.ndindex(*kernel_size)]
        claimed = views[0].copy()
        for number, view in enumerate(views[1:], start=2):
            np.greater(view, claimed, out=view)
            if number != len(views):
                claimed |= view
    grad_covered = _upsample(grad, kernel_size)
    grad_covered *= match
    if grad_covered.shape == input.shape:
        return grad_covered
    grad_input = np.zeros(input.shape, grad.dtype)
    grad_input[covered] = grad_covered
    return grad_input


# ---- average pooling -----------------------------------------------------------------------------
def avg_divisor(sizes, kernel_size, stride, padding, out_size, count_include_pad, dtype):
    """Per-output divisor (PyTorch's rule: padding counts, the ceil_mode overhang never does)."""
    divisor = np.ones((), dtype)
    for dim, (size, kernel, jump, pad, count) in enumerate(
            zip(sizes, kernel_size, stride, padding, out_size)):
        starts = np.arange(count) * jump - pad
        ends = np.minimum(starts + kernel, size + pad)
        if count_include_pad:
            lengths = ends - starts
        else:
            lengths = np.minimum(ends, size) - np.maximum(starts, 0)
        shape = [1] * len(sizes)
        shape[dim] = count
        divisor = divisor * lengths.astype(dtype).reshape(shape)
    return divisor


# ---- adaptive pooling ----------------------------------------------------------------------------
def _adaptive_bounds(size, count):
    """PyTorch's adaptive windows: [floor(i * size / count), ceil((i + 1) * size / count))."""
    index = np.arange(count)
    starts = (index * size) // count
    ends = -((-(index + 1) * size) // count)
    return starts, ends


def averaging_matrix(size, count, dtype):
    """(count, size) matrix whose row i averages adaptive window i."""
    starts, ends = _adaptive_bounds(size, count)
    columns = np.arange(size)
    inside = (columns >= starts[:, None]) & (columns < ends[:, None])
    return inside.astype(dtype) / (ends - starts).astype(dtype)[:, None]


def adaptive_max_indices(array, output_size):
    """Flattened spatial index of the first maximum of every adaptive window."""
    spatial_dims = len(output_size)
    sizes = array.shape[2:]
    grids = []
    for dim, (size, count) in enumerate(zip(sizes, output_size)):
        starts, ends = _adaptive_bounds(size, count)
        widest = int((ends - starts).max()) if count else 0
        # Narrower windows repeat their last element: the first maximum stays the same.
        grid = np.minimum(starts[:, None] + np.arange(widest), ends[:, None] - 1)
        grids.append(grid)
    # Broadcast the per-dim (count, width) grids to (*out, *width) flattened positions.
    flat = np.zeros((), np.int64)
    for dim, grid in enumerate(grids):
        shape = [1] * (2 * spatial_dims)
        shape[dim] = grid.shape[0]
        shape[spatial_dims + dim] = grid.shape[1]
        flat = flat * sizes[dim] + grid.reshape(shape)
    positions = flat.reshape(tuple(output_size) + (-1,))
    rows = array.reshape(array.shape[:2] + (-1,))
    offsets = np.argmax(rows[:, :, positions], axis=-1)
    return positions[tuple(np.indices(output_size, sparse=True)) + (offsets,)]
