"""Max, average and adaptive pooling over 1 to 3 spatial dims, through strided window views.

Max pooling is one vectorised pass per kernel offset (never per pixel) and reports PyTorch's
flattened spatial indices; adaptive max pooling gathers its variable windows by index. Every
gradient is an op in turn, so all orders are differentiable: max pooling's and the gather's is a
scatter by the argmax positions (whose gradient is the gather), average pooling's its transpose
(whose gradient is average pooling). With the ``jit`` extra, max pooling's backward on
float32/float64 arrays without indices or NaN is one compiled pass over the windows; the
separable NumPy forward measured as fast as a compiled one.
"""
import math

import numpy as np

from ... import _jit, _threads
from ..._dtype import is_floating
from ..._layout import spatial_layout
from ...autograd.function import Op
from ...tensor import Tensor
from . import all_finite
from .conv import _COMPILED_DTYPES, _as_three_dims, _col2im, _interior, _pad, \
    _three_dims_geometry, _windows


def _array(value):
    """The array of a saved value, for index arithmetic that is not differentiated."""
    return value._data if isinstance(value, Tensor) else value


def _scatter_spatial(grad, indices, input_shape):
    """result[n, c, indices[n, c, j]] += grad[n, c, j] over flattened spatial dims, through one
    bincount (windows may overlap)."""
    rows = input_shape[0] * input_shape[1]
    size = math.prod(input_shape[2:])
    count = math.prod(indices.shape[2:])
    positions = indices.reshape(rows, count) + (np.arange(rows) * size)[:, None]
    summed = np.bincount(positions.ravel(), weights=grad.reshape(rows, count).ravel(),
                         minlength=rows * size)
    return summed.astype(grad.dtype, copy=False).reshape(input_shape)


def _gather_spatial(input, indices):
    """out[n, c, j] = input[n, c, indices[n, c, j]] over flattened spatial dims."""
    batch, channels = input.shape[:2]
    rows = input.reshape(batch * channels, math.prod(input.shape[2:]))
    flat_indices = indices.reshape(batch * channels, math.prod(indices.shape[2:]))
    return np.take_along_axis(rows, flat_indices, axis=1).reshape(indices.shape)


class GatherSpatial(Op):
    """out[n, c, j] = input[n, c, indices[n, c, j]] over flattened spatial dims; its gradient is
    ScatterSpatial and the other way round (so both are differentiable to any order)."""

    output_layout = staticmethod(spatial_layout)
    differentiable_backward = True

    @staticmethod
    def forward(ctx, input, indices):
        ctx.indices = indices
        ctx.input_shape = input.shape
        return _gather_spatial(input, indices)

    @staticmethod
    def backward(ctx, grad):
        if ctx.xp is np:
            return _scatter_spatial(grad, ctx.indices, ctx.input_shape), None
        return ScatterSpatial.apply(grad, ctx.indices, ctx.input_shape), None


class ScatterSpatial(Op):
    """The adjoint of GatherSpatial: grad (N, C, *indices' shape) summed into zeros of
    ``input_shape`` at ``indices``. Max pooling's gradient under create_graph."""

    differentiable_backward = True

    @staticmethod
    def forward(ctx, grad, indices, input_shape):
        ctx.indices = indices
        return _scatter_spatial(grad, indices, input_shape)

    @staticmethod
    def backward(ctx, grad_input):
        if ctx.xp is np:
            return _gather_spatial(grad_input, ctx.indices), None, None
        return GatherSpatial.apply(grad_input, ctx.indices), None, None


def _window_sums(padded, kernel_size, stride, out_size):
    """Sum of every window of ``padded`` (one vectorised pass per kernel offset)."""
    windows = _windows(padded, kernel_size, stride, (1,) * len(kernel_size), out_size)
    everything = (slice(None), slice(None))
    total = None
    for offset in np.ndindex(*kernel_size):
        window = windows[everything + offset]
        total = window.copy() if total is None else np.add(total, window, out=total)
    return total


def _avg_pool(input, kernel_size, stride, padding, out_size, divisor):
    """Window sums of the zero-padded input over their divisors."""
    pairs = _padded_geometry(input.shape, kernel_size, stride, padding, (1,) * len(kernel_size),
                             out_size)[1]
    return _divide(_window_sums(_pad(input, pairs), kernel_size, stride, out_size), divisor)


def _divide(total, divisor):
    """Window sums over their divisors; integers truncate toward zero, as PyTorch's kernel."""
    if is_floating(total.dtype):
        total /= divisor
        return total
    return np.abs(total) // divisor * np.sign(total)


def _average_pool_layout(result, operands):
    """``spatial_layout`` for 2-D pooling only: PyTorch's CPU avg_pool3d has no channels_last_3d
    kernel and returns row-major results."""
    return spatial_layout(result, operands) if result.ndim == 4 else result


class AvgPoolNd(Op):
    """Window sums divided by PyTorch's divisor (padding counted or not, or an override)."""
    _next_order = (0,)  # PyTorch lists the tensor inputs, not the options

    output_layout = staticmethod(_average_pool_layout)
    differentiable_backward = True
    backward_keeps_input = True

    @staticmethod
    def forward(ctx, input, kernel_size, stride, padding, out_size, divisor):
        ctx.geometry = (input.shape, kernel_size, stride, padding, out_size, divisor)
        return _avg_pool(input, kernel_size, stride, padding, out_size, divisor)

    @staticmethod
    def backward(ctx, grad):
        if ctx.xp is np:
            return (_avg_pool_transpose(grad, *ctx.geometry), None, None, None, None, None)
        return AvgPoolTranspose.apply(grad, *ctx.geometry), None, None, None, None, None


def _avg_pool_transpose(grad, input_shape, kernel_size, stride, padding, out_size, divisor):
    """The adjoint of average pooling: each output's grad / divisor spread over its window."""
    pairs = _padded_geometry(input_shape, kernel_size, stride, padding, (1,) * len(kernel_size),
                             out_size)[1]
    scaled = grad / divisor
    spread = len(kernel_size)
    if tuple(stride) == tuple(kernel_size) and not any(any(pair) for pair in pairs):
        return _tiles_spread(scaled, input_shape, kernel_size)
    columns = np.broadcast_to(scaled.reshape(scaled.shape[:2] + (1,) * spread + out_size),
                              scaled.shape[:2] + kernel_size + out_size)
    return _col2im(columns, input_shape, kernel_size, stride, pairs, (1,) * spread, out_size)


def _tiles_spread(scaled, input_shape, kernel_size):
    """The adjoint for windows that tile the input (stride = kernel, no padding): each output's
    value copied over its window, one broadcast copy instead of col2im's pass per kernel offset
    (avg_pool2d(x, 8) of 32x64x8x8: 0.9 -> 0.1 ms); inputs past the last window get zeros."""
    batch_dims = scaled.shape[:2]
    out_size = scaled.shape[2:]
    split = batch_dims + tuple(size for count, width in zip(out_size, kernel_size)
                               for size in (count, width))
    single = batch_dims + tuple(size for count in out_size for size in (count, 1))
    covered = tuple(count * width for count, width in zip(out_size, kernel_size))
    tiled = np.broadcast_to(scaled.reshape(single), split).reshape(batch_dims + covered)
    if covered == tuple(input_shape[2:]):
        # a 1-sized kernel reshapes the read-only broadcast view without copying
        return tiled if tiled.flags.writeable else tiled.copy()
    result = np.zeros(input_shape, scaled.dtype)
    result[(slice(None), slice(None)) + tuple(slice(0, size) for size in covered)] = tiled
    return result


class AvgPoolTranspose(Op):
    """Average pooling's gradient as an op (create_graph): its own gradient is average
    pooling."""

    differentiable_backward = True

    @staticmethod
    def forward(ctx, grad, input_shape, kernel_size, stride, padding, out_size, divisor):
        ctx.geometry = (kernel_size, stride, padding, out_size, divisor)
        return np.ascontiguousarray(_avg_pool_transpose(grad, input_shape, kernel_size, stride,
                                                        padding, out_size, divisor))

    @staticmethod
    def backward(ctx, grad_input):
        kernel_size, stride, padding, out_size, divisor = ctx.geometry
        if ctx.xp is np:
            grad = _avg_pool(grad_input, kernel_size, stride, padding, out_size, divisor)
        else:
            grad = AvgPoolNd.apply(grad_input, kernel_size, stride, padding, out_size, divisor)
        return grad, None, None, None, None, None, None


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
        fill = -np.inf if is_floating(array.dtype) else np.iinfo(array.dtype).min
        padded = np.full(padded_shape, fill, array.dtype)
        padded[_interior(array.shape, pairs)] = array
    return _windows(padded, kernel_size, stride, dilation, out_size), padded, pairs


def _window_maxima(padded, kernel_size, stride, dilation, out_size):
    """Maximum of every window (NaN propagates), one spatial dim at a time: the maximum over a
    box is separable, so this takes sum(kernel) - len(kernel) passes instead of
    prod(kernel) - 1, and the first dim's passes run over whole contiguous rows (2x2 pooling of
    (64, 32, 28, 28): 1.33 -> 0.70 ms). Batch items are cut over ember's threads."""
    maxima = np.empty(padded.shape[:2] + tuple(out_size), padded.dtype)
    if _wide_tiles(padded, kernel_size, stride, dilation, out_size, _LONG_WINDOW):
        compiled = _window_maxima_wide_tiles.compiled()
        if compiled is not None:
            image = _as_three_dims(np.ascontiguousarray(padded))
            window = (1,) * (3 - len(kernel_size)) + tuple(kernel_size)
            _threads.split(padded.shape[0] * padded.shape[1], padded.size,
                           lambda start, stop: compiled(image, window, _as_three_dims(maxima),
                                                        start, stop))
            return maxima
    planes, rows = padded, maxima
    if padded.strides[0] == padded.strides[1] * padded.shape[1]:
        # items and channels as one axis of planes to cut (a batch of one has channels)
        planes = padded.reshape((-1, 1) + padded.shape[2:])
        rows = maxima.reshape((-1, 1) + maxima.shape[2:])
    _threads.split(planes.shape[0], planes.size,
                   lambda start, stop: _window_maxima_into(planes[start:stop], kernel_size,
                                                           stride, dilation, out_size,
                                                           rows[start:stop]))
    return maxima


# From this many columns a window on, the forward takes _window_maxima_wide_tiles: its
# running maximum is one dependent chain (about 1.3 ns an element), against a NumPy pass per
# column, each over the whole output (windows of 1024 on (8, 256, 1024): 13.5 -> 3.1 ms; of
# 256 on (8, 64, 1024): 0.98 -> 0.80 ms; of 128 the NumPy passes were faster).
_LONG_WINDOW = 256


def _wide_tiles(padded, kernel_size, stride, dilation, out_size, columns):
    """Whether float windows of ``columns`` or more columns tile ``padded`` (stride = kernel,
    no dilation), where the compiled kernels take one window at a time."""
    return (padded.dtype in _COMPILED_DTYPES and padded.size > 0
            and kernel_size[-1] >= columns and tuple(stride) == tuple(kernel_size)
            and all(gap == 1 for gap in dilation)
            and all(count * kernel <= size for count, kernel, size
                    in zip(out_size, kernel_size, padded.shape[2:])))


@_jit.kernel
def _window_maxima_wide_tiles(image, window, maxima, first_task, last_task):
    """Maximum of each window tiling the (item, channel) planes first_task to last_task of
    image (N, C, D, H, W), PyTorch's rule: a later element replaces the running maximum when
    greater or NaN, so NaN wins and of tied zeros the first is kept (NumPy's maximum keeps the
    second). One window at a time, along its rows."""
    channels = image.shape[1]
    out_depth, out_height, out_width = maxima.shape[2:]
    window_depth, window_height, window_width = window
    lowest = image.dtype.type(-np.inf)
    for task in range(first_task, last_task):
        item = task // channels
        channel = task % channels
        source = image[item, channel]
        for z in range(out_depth):
            for y in range(out_height):
                for x in range(out_width):
                    running = lowest
                    first = x * window_width
                    for a in range(window_depth):
                        for b in range(window_height):
                            row = source[z * window_depth + a, y * window_height + b,
                                         first:first + window_width]
                            for e in range(window_width):
                                value = row[e]
                                if value > running or value != value:
                                    running = value
                    maxima[item, channel, z, y, x] = running


def _window_maxima_into(padded, kernel_size, stride, dilation, out_size, maxima):
    """``_window_maxima`` of ``padded`` written into ``maxima``: the last pass straight into it
    where its shape is already the result's."""
    values = padded
    written = False
    for dim, (kernel, jump, gap, size) in enumerate(zip(kernel_size, stride, dilation, out_size)):
        before = (slice(None),) * (2 + dim)
        phases = [values[before + (slice(index * gap, index * gap + jump * (size - 1) + 1, jump),)]
                  for index in range(kernel)]
        if kernel == 1:
            values = phases[0]  # the whole dim once ``written`` (its shape is the result's)
            continue
        # the last pass of a dim with kernel > 1, when later dims only keep their full extent
        written = (all(later == 1 for later in kernel_size[dim + 1:])
                   and phases[0].shape == maxima.shape)
        values = np.maximum(phases[0], phases[1], out=maxima if written else None)
        for phase in phases[2:]:
            np.maximum(values, phase, out=values)
    if not written:
        np.copyto(maxima, values)


@_jit.kernel
def _window_argmax_2d(windows, values, best):
    # windows (N, C, kh, kw, oh, ow): per window the running maximum and its offset, a later
    # element winning when strictly greater or NaN (_window_argmax's rule, whether or not the
    # input has NaN: without NaN the test never fires)
    batch, channels, kernel_height, kernel_width, out_height, out_width = windows.shape
    for item in range(batch):
        for channel in range(channels):
            for row in range(out_height):
                for column in range(out_width):
                    running = windows[item, channel, 0, 0, row, column]
                    chosen = 0
                    number = 0
                    for kernel_row in range(kernel_height):
                        for kernel_column in range(kernel_width):
                            value = windows[item, channel, kernel_row, kernel_column, row,
                                            column]
                            if value > running or value != value:
                                running = value
                                chosen = number
                            number += 1
                    values[item, channel, row, column] = running
                    best[item, channel, row, column] = chosen


def _compiled_window_argmax(windows, kernel_size):
    """_window_argmax of 2-D float windows in one compiled pass (a NumPy pass per kernel
    offset costs ~4 copies of the output each: 2x2 of (8, 16, 32, 32): 1.1 ms -> ~0.1 ms);
    None where it does not apply."""
    if len(kernel_size) != 2 or windows.dtype not in _COMPILED_DTYPES or not windows.size:
        return None
    kernel = _window_argmax_2d.compiled()
    if kernel is None:
        return None
    out_shape = windows.shape[:2] + windows.shape[4:]
    values = np.empty(out_shape, windows.dtype)
    best = np.empty(out_shape, np.uint8 if math.prod(kernel_size) < 256 else np.int64)
    kernel(windows, values, best)
    return values, best


def _window_argmax(windows, kernel_size, has_nan):
    """Running maximum with the offset of each window's maximum, PyTorch's rule: a later element
    wins only when strictly greater or NaN (so the first maximum, or the last NaN, is kept)."""
    compiled = _compiled_window_argmax(windows, kernel_size)
    if compiled is not None:
        return compiled
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


@_jit.kernel
def _flat_indices_2d(best, geometry, out):
    # geometry: input width, kernel width, strides, paddings, dilations (height's, width's)
    width, kernel_width, stride_y, stride_x, pad_y, pad_x, dilation_y, dilation_x = geometry
    batch, channels, out_height, out_width = best.shape
    for item in range(batch):
        for channel in range(channels):
            for row in range(out_height):
                for column in range(out_width):
                    offset = np.int64(best[item, channel, row, column])
                    kernel_row = offset // kernel_width
                    kernel_column = offset - kernel_row * kernel_width
                    out[item, channel, row, column] = (
                        (row * stride_y - pad_y + kernel_row * dilation_y) * width
                        + column * stride_x - pad_x + kernel_column * dilation_x)


def _flat_indices(best, input_shape, kernel_size, stride, padding, dilation, out_size):
    """PyTorch's indices: each maximum's position in the flattened input spatial dims."""
    if len(kernel_size) == 2 and best.size:
        kernel = _flat_indices_2d.compiled()
        if kernel is not None:
            geometry = np.array([input_shape[3], kernel_size[1], stride[0], stride[1],
                                 padding[0], padding[1], dilation[0], dilation[1]], np.int64)
            out = np.empty(best.shape, np.int64)
            kernel(np.ascontiguousarray(best), geometry, out)
            return out
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
    """Window maxima. Forward takes the maxima one spatial dim at a time; backward routes each
    gradient to the first element equal to its window's maximum (PyTorch's argmax), comparing
    the saved input with a private copy of the maxima (so in-place changes to the output stay
    legal); the argmax offsets, one byte each, are kept only when the indices were asked for.
    Under create_graph the gradient is a ScatterSpatial by those positions (its own gradient a
    gather). Without indices and NaN, the backward is one compiled pass when available."""
    _next_order = (0,)  # PyTorch lists the tensor inputs, not the options

    output_layout = staticmethod(spatial_layout)
    differentiable_backward = True
    backward_keeps_input = True

    @staticmethod
    def forward(ctx, input, kernel_size, stride, padding, dilation, out_size, with_indices):
        windows, padded, pairs = _padded_windows(input, kernel_size, stride, padding, dilation,
                                                 out_size)
        ctx.geometry = (input.shape, padded.shape, pairs, kernel_size, stride, padding, dilation)
        if not with_indices:
            values = _window_maxima(padded, kernel_size, stride, dilation, out_size)
            if ctx._recording:
                ctx.save_for_backward(input, values.copy(), None)
            return values
        has_nan = is_floating(input.dtype) and bool(np.isnan(input).any())
        values, best = _window_argmax(windows, kernel_size, has_nan)
        ctx.save_for_backward(None, None, best)
        indices = _flat_indices(best, input.shape, kernel_size, stride, padding, dilation,
                                out_size)
        return values, indices

    @staticmethod
    def backward(ctx, grad, *unused):
        input, values, best = ctx.saved_tensors
        input_shape, padded_shape, pairs, kernel_size, stride, padding, dilation = ctx.geometry
        out_size = grad.shape[2:]
        on_arrays = ctx.xp is np
        padded = None
        if best is None:
            values = _array(values)
            has_nan = is_floating(values.dtype) and bool(np.isnan(values).any())
            if on_arrays and not has_nan:
                grad_input = _compiled_max_pool_backward(input, values, grad, kernel_size, stride,
                                                         pairs, dilation)
                if grad_input is not None:
                    return grad_input, None, None, None, None, None, None
            windows, padded = _padded_windows(_array(input), kernel_size, stride, padding,
                                              dilation, out_size)[:2]
            if has_nan or not on_arrays:
                best = _window_argmax(windows, kernel_size, has_nan)[1]
        if not on_arrays:
            indices = _flat_indices(_array(best), input_shape, kernel_size, stride, padding,
                                    dilation, out_size)
            return (ScatterSpatial.apply(grad, indices, input_shape),
                    None, None, None, None, None, None)
        grad_padded = _route_to_maxima(grad, padded, values, best, padded_shape,
                                       _offset_slices(kernel_size, stride, dilation, out_size),
                                       _overlapping(kernel_size, stride, dilation))
        grad_input = grad_padded[_interior(input_shape, pairs)]
        return grad_input, None, None, None, None, None, None


def _compiled_max_pool_backward(input, values, grad, kernel_size, stride, pairs, dilation):
    """Max pooling's input gradient by the compiled kernel (None when unavailable): each
    window's gradient added at its first element equal to the window's maximum."""
    dtype = input.dtype
    if dtype not in _COMPILED_DTYPES or values.dtype != dtype or grad.dtype != dtype:
        return None
    compiled = _max_pool_backward_kernel.compiled()
    if compiled is None:
        return None
    window = (1,) * (3 - len(kernel_size)) + tuple(kernel_size)
    if (tuple(stride) == tuple(kernel_size) and not any(map(any, pairs))
            and all(gap == 1 for gap in dilation)
            and all(count * kernel <= size for count, kernel, size
                    in zip(values.shape[2:], kernel_size, input.shape[2:]))  # no ceil overhang
            and all_finite(grad)):
        # the windows tile the input: every element is written once, no zero fill first
        compiled = (_max_pool_backward_wide_tiles if window[2] >= _WIDE_WINDOW
                    else _max_pool_backward_tiles).compiled()
        grad_input = np.empty(input.shape, dtype)
        geometry = ()
    else:
        grad_input = np.zeros(input.shape, dtype)
        geometry = _three_dims_geometry(stride, pairs, dilation)
    arguments = (_as_three_dims(np.ascontiguousarray(input)), _as_three_dims(values),
                 _as_three_dims(np.ascontiguousarray(grad)), window, *geometry, dtype.type(0),
                 _as_three_dims(grad_input))
    # (item, channel) planes are disjoint: ranges of them on ember's threads
    _threads.split(input.shape[0] * input.shape[1], input.size,
                   lambda start, stop: compiled(*arguments, start, stop))
    return grad_input


@_jit.kernel
def _max_pool_backward_kernel(image, values, grad, window, stride, padding, dilation, zero,
                              grad_image, first_task, last_task):
    """grad added to grad_image at the first element of each window of image (N, C, D, H, W)
    equal to the window's maximum in values (no NaN), for the (item, channel) planes numbered
    first_task to last_task (item * C + channel), which are disjoint. Branch-free like the NumPy
    path (every window element gets grad or ``zero`` by a select, so that a NaN gradient reaches
    only the maximum): after ReLU many elements tie, and branching on them mispredicts (2x
    slower)."""
    batch, channels, depth, height, width = image.shape
    out_depth, out_height, out_width = values.shape[2:]
    for task in range(first_task, last_task):
        item = task // channels
        channel = task % channels
        for z in range(out_depth):
            for y in range(out_height):
                for x in range(out_width):
                    wanted = values[item, channel, z, y, x]
                    gradient = grad[item, channel, z, y, x]
                    pending = True
                    for a in range(window[0]):
                        source_z = z * stride[0] - padding[0] + a * dilation[0]
                        for b in range(window[1]):
                            source_y = y * stride[1] - padding[1] + b * dilation[1]
                            for e in range(window[2]):
                                source_x = x * stride[2] - padding[2] + e * dilation[2]
                                if (0 <= source_z < depth and 0 <= source_y < height
                                        and 0 <= source_x < width):
                                    hit = pending & (
                                        image[item, channel, source_z, source_y, source_x]
                                        == wanted)
                                    grad_image[item, channel, source_z, source_y,
                                               source_x] += gradient if hit else zero
                                    pending = pending & (not hit)


@_jit.kernel
def _max_pool_backward_tiles(image, values, grad, window, zero, grad_image, first_task,
                             last_task):
    """``_max_pool_backward_kernel`` where the windows tile the image (stride = kernel, no
    padding or dilation): every element of the (item, channel) planes first_task to last_task
    is written once, its window's gradient at the window's first maximum and ``zero`` elsewhere
    and past the last window. The windows of one output row are followed side by side (their
    "no maximum seen yet" flags in a row), so the inner loop runs along the input's rows
    (cnn_train's 2x2 pooling of (64, 32, 28, 28): 7.5 -> 4.0 ms). For finite gradients only:
    ``gradient * hit + zero`` (a select was 2.5x slower) is +0 off the maximum, as PyTorch's
    zero fill plus scatter-add gives, even for a -0 gradient."""
    channels, depth, height, width = image.shape[1:]
    out_depth, out_height, out_width = values.shape[2:]
    window_depth, window_height, window_width = window
    pending = np.empty(out_width, np.bool_)
    for task in range(first_task, last_task):
        item = task // channels
        channel = task % channels
        source = image[item, channel]
        target = grad_image[item, channel]
        for z in range(out_depth):
            for y in range(out_height):
                wanted = values[item, channel, z, y]
                gradient = grad[item, channel, z, y]
                pending[:] = True
                for a in range(window_depth):
                    for b in range(window_height):
                        source_row = source[z * window_depth + a, y * window_height + b]
                        target_row = target[z * window_depth + a, y * window_height + b]
                        for e in range(window_width):
                            for x in range(out_width):
                                hit = pending[x] & (source_row[x * window_width + e] == wanted[x])
                                target_row[x * window_width + e] = gradient[x] * hit + zero
                                pending[x] = pending[x] & (not hit)
                        for column in range(out_width * window_width, width):
                            target_row[column] = zero
            for a in range(window_depth):
                for row in range(out_height * window_height, height):
                    target[z * window_depth + a, row, :] = zero
        for plane in range(out_depth * window_depth, depth):
            target[plane, :, :] = zero


# From this many columns a window on, _max_pool_backward_wide_tiles follows one window at a
# time (measured: 8x8 windows of (8, 64, 8, 8): 87 -> 32 us; max over time, windows of 1x58 on
# (32, 100, 58): 443 -> 184 us; 2x2 and 1x5 windows stay faster side by side).
_WIDE_WINDOW = 8


@_jit.kernel
def _max_pool_backward_wide_tiles(image, values, grad, window, zero, grad_image, first_task,
                                  last_task):
    """``_max_pool_backward_tiles`` for wide windows: the same values, one window at a time
    (its "no maximum seen yet" flag one variable through its rows), so the inner loop runs
    along a window's row rather than across the few windows of an output row (global max
    pooling has one: a loop of one, per element)."""
    channels, depth, height, width = image.shape[1:]
    out_depth, out_height, out_width = values.shape[2:]
    window_depth, window_height, window_width = window
    for task in range(first_task, last_task):
        item = task // channels
        channel = task % channels
        source = image[item, channel]
        target = grad_image[item, channel]
        for z in range(out_depth):
            for y in range(out_height):
                for x in range(out_width):
                    wanted = values[item, channel, z, y, x]
                    gradient = grad[item, channel, z, y, x]
                    pending = True
                    first = x * window_width
                    for a in range(window_depth):
                        for b in range(window_height):
                            source_row = source[z * window_depth + a, y * window_height + b,
                                                first:first + window_width]
                            target_row = target[z * window_depth + a, y * window_height + b,
                                                first:first + window_width]
                            for e in range(window_width):
                                hit = pending & (source_row[e] == wanted)
                                target_row[e] = gradient * hit + zero
                                pending = pending & (not hit)
                for a in range(window_depth):
                    for b in range(window_height):
                        border_row = target[z * window_depth + a, y * window_height + b]
                        for column in range(out_width * window_width, width):
                            border_row[column] = zero
            for a in range(window_depth):
                for row in range(out_height * window_height, height):
                    target[z * window_depth + a, row, :] = zero
        for plane in range(out_depth * window_depth, depth):
            target[plane, :, :] = zero


def _overlapping(kernel_size, stride, dilation):
    """Whether some input element lies in more than one window."""
    return any(jump < gap * (kernel - 1) + 1
               for kernel, jump, gap in zip(kernel_size, stride, dilation))


def _route_to_maxima(grad, padded, values, best, padded_shape, slices, overlapping):
    """Each window's gradient on its first maximum: by the saved argmax offsets ``best``, or
    where the padded input equals the window's maximum and no earlier offset claimed it. One
    vectorised pass per kernel offset, written straight into the gradient's strided slice when
    windows do not overlap (2x2 pooling of post-ReLU (64, 32, 28, 28), many ties: about half
    the time of comparing against maxima upsampled to the input's size)."""
    grad_padded = np.zeros(padded_shape, grad.dtype)
    match = np.empty(grad.shape, bool)
    contribution = np.empty(grad.shape, grad.dtype) if overlapping else None
    claimed = None
    last = len(slices) - 1
    for number, target in enumerate(slices):
        if best is not None:
            np.equal(best, number, out=match)
        else:
            np.equal(padded[target], values, out=match)
            if claimed is None:
                claimed = match.copy()
            else:
                np.greater(match, claimed, out=match)  # equal and not claimed earlier
                if number != last:
                    claimed |= match
        # where, not grad * match: a NaN or inf gradient of a window reaches only its maximum
        if overlapping:
            contribution.fill(0)
            np.copyto(contribution, grad, where=match)
            grad_padded[target] += contribution
        else:
            np.copyto(grad_padded[target], grad, where=match)
    return grad_padded


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


@_jit.kernel
def _adaptive_argmax_2d(planes, row_starts, row_ends, column_starts, column_ends, out):
    # planes (B, H, W): per window the flat position of its maximum, PyTorch's rule (a later
    # element wins when strictly greater or NaN: the first maximum, or the last NaN), as two
    # predictable scans (the maximum, then where it first is) instead of one whose data-
    # dependent updates mispredict
    width = planes.shape[2]
    for plane in range(planes.shape[0]):
        values = planes[plane]
        for out_row in range(row_starts.size):
            first_row = row_starts[out_row]
            last_row = row_ends[out_row]
            for out_column in range(column_starts.size):
                first_column = column_starts[out_column]
                last_column = column_ends[out_column]
                running = values[first_row, first_column]
                missing = False
                for row in range(first_row, last_row):
                    for column in range(first_column, last_column):
                        value = values[row, column]
                        running = max(running, value)
                        missing |= value != value
                best = first_row * width + first_column
                found = False
                for row in range(first_row, last_row):
                    for column in range(first_column, last_column):
                        value = values[row, column]
                        if missing:
                            if value != value:
                                best = row * width + column
                        elif not found and value == running:
                            best = row * width + column
                            found = True
                out[plane, out_row, out_column] = best


def _compiled_adaptive_max_indices(array, output_size):
    """adaptive_max_indices of a 2-D float input by one compiled pass over the windows (NumPy
    gathers every window's elements first: (8,16,32,32) to 7x7: ~0.9 ms -> ~0.1 ms); None where
    it does not apply."""
    if len(output_size) != 2 or array.dtype not in _COMPILED_DTYPES or not array.size \
            or not all(output_size):
        return None
    kernel = _adaptive_argmax_2d.compiled()
    if kernel is None:
        return None
    bounds = [_adaptive_bounds(size, count) for size, count in zip(array.shape[2:], output_size)]
    planes = np.ascontiguousarray(array).reshape((-1,) + array.shape[2:])
    out = np.empty((planes.shape[0],) + tuple(output_size), np.int64)
    kernel(planes, *bounds[0], *bounds[1], out)
    return out.reshape(array.shape[:2] + tuple(output_size))


def adaptive_max_indices(array, output_size):
    """Flattened spatial index of the first maximum (or the last NaN) of every adaptive
    window."""
    compiled = _compiled_adaptive_max_indices(array, output_size)
    if compiled is not None:
        return compiled
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
    positions = flat.reshape(tuple(output_size) + (math.prod(grid.shape[1] for grid in grids),))
    rows = array.reshape(array.shape[:2] + (math.prod(sizes),))  # explicit: the batch may be 0
    gathered = rows[:, :, positions]
    offsets = np.argmax(gathered, axis=-1)
    if is_floating(array.dtype):
        # a window with NaN takes its last NaN (PyTorch's rule; np.argmax takes the first)
        missing = np.isnan(gathered)
        if missing.any():
            last = missing.shape[-1] - 1 - np.argmax(missing[..., ::-1], axis=-1)
            offsets = np.where(missing.any(axis=-1), last, offsets)
    return positions[tuple(np.indices(output_size, sparse=True)) + (offsets,)]


def fractional_intervals(samples, input_size, output_size, pool_size):
    """Fractional max pooling's window starts (PyTorch's generate_intervals), one row per
    sample: ``int((i + u) * alpha) - int(u * alpha)`` with ``alpha = (input - pool) /
    (output - 1)`` in the samples' dtype, the last window flush with the end."""
    starts = np.empty(samples.shape + (output_size,), np.int64)
    if output_size > 1:
        scalar = samples.dtype.type
        alpha = scalar(input_size - pool_size) / scalar(output_size - 1)
        steps = np.arange(output_size - 1).astype(samples.dtype)
        scaled = (steps + samples[..., None]) * alpha
        starts[..., :-1] = scaled.astype(np.int64) - (samples * alpha).astype(np.int64)[..., None]
    if output_size > 0:
        starts[..., -1] = input_size - pool_size
    return starts


def fractional_max_indices(array, kernel_size, output_size, samples):
    """Flattened spatial index of each fractional window's maximum for (N, C, *spatial)
    ``array``; ``samples`` gives one (N' >= N, C) array of uniform draws per spatial dim. The
    first maximum wins, a NaN wins over any number (the last NaN of the window)."""
    batch, channels = array.shape[:2]
    sizes = array.shape[2:]
    spatial_dims = len(sizes)
    flat = np.zeros((batch, channels) + (1,) * (2 * spatial_dims), np.int64)
    for dim, (size, count, pool, sample) in enumerate(zip(sizes, output_size, kernel_size,
                                                          samples)):
        starts = fractional_intervals(sample[:batch], size, count, pool)
        grid = starts[..., :, None] + np.arange(pool)  # (N, C, count, pool)
        shape = [batch, channels] + [1] * (2 * spatial_dims)
        shape[2 + dim] = count
        shape[2 + spatial_dims + dim] = pool
        flat = flat * size + grid.reshape(shape)
    window = math.prod(kernel_size)
    positions = flat.reshape((batch, channels) + tuple(output_size) + (window,))
    rows = array.reshape((batch, channels, math.prod(sizes)))
    values = np.take_along_axis(rows, positions.reshape(batch, channels, -1), axis=-1)
    values = values.reshape(positions.shape)
    choice = np.argmax(values, axis=-1)
    if values.dtype.kind == "f":
        missing = np.isnan(values)
        last_nan = window - 1 - np.argmax(missing[..., ::-1], axis=-1)
        choice = np.where(missing.any(axis=-1), last_nan, choice)
    return np.take_along_axis(positions, choice[..., None], axis=-1)[..., 0]
