"""Convolution and transposed convolution in 1, 2 or 3 spatial dimensions.

Forward: a strided view of the kernel windows, copied into columns (im2col), then GEMMs. When
each batch item's GEMM is small, ``weight @ columns`` broadcast over the batch lands directly in
(N, C_out, L) layout, in batch chunks of about _COLUMN_CHUNK_BYTES of columns copied and
multiplied while in cache. Larger convolutions use channel-major columns (C * prod(kernel), N * L)
and one 2-D GEMM per chunk of _LARGE_CHUNK_BYTES, whose output is transposed back: few BLAS calls
(see _THREADED_GEMM_SIZE). ember's threads take ranges of batch items (per-item GEMMs) or whole
chunks (chunk GEMMs), so every BLAS call is the same on one thread or several. The adjoint
(col2im) is a loop over the kernel offsets (prod(kernel_size) vectorised slice additions), never
over pixels. With the ``jit`` extra, col2im of
float32/float64 arrays is a compiled loop instead (straight into the unpadded result, parallel
over channels); the GEMMs stay in BLAS, and im2col stays NumPy's strided copy (a
compiled copy measured no faster). Depthwise convolutions (one input channel per group), whose
per-group GEMMs would be tiny, run compiled direct loops instead, in all three passes. With
EMBER_WINOGRAD=1, 3x3 stride-1 convolutions with at least 16 channels in and out (and 1024
channel pairs; 4096 for the weight gradient) take Winograd's F(2x2, 3x3)
(ember.nn._kernels.winograd): 2.25 times fewer multiplications, rounded less like PyTorch.

Three Ops (convolution, transposed convolution, weight gradient) are each other's gradients, so
a convolution is differentiable to any order. Unfold and Fold are the im2col/col2im pair on
their own, likewise each other's gradient; pooling reuses the window helpers.
"""
import functools
import math
from typing import NamedTuple

import numpy as np
from numpy.lib.stride_tricks import as_strided

from ... import _jit, _threads
from . import winograd
from ..._layout import spatial_layout
from ...autograd.function import Op

# Above this many elements, grad_weight uses one 2-D GEMM over transposed copies instead of a
# batched GEMM followed by a sum over the batch (which needs N * weight.size of scratch memory).
_BATCHED_WEIGHT_GRAD_LIMIT = 1 << 18
# Forward im2col is done in batch chunks of about this many bytes of columns: a chunk stays in
# cache between the copy and the GEMM, and no columns array large enough for glibc to mmap fresh
# (page faulting on every call) is made. Measured on Conv2d(32->64, 3, pad 1), 14x14, batch 256,
# eval: 31.6 -> 24.0 ms (2 threads); neutral at batch 64.
_COLUMN_CHUNK_BYTES = 1 << 20
# A per-item GEMM of at most this many multiply-adds runs single-threaded in OpenBLAS. Bigger
# GEMMs are threaded, and every threaded call waits for both threads: when another process holds
# a core, each call can stall for a scheduler time slice. Such convolutions therefore use few
# large 2-D GEMMs over channel-major columns (chunks of _LARGE_CHUNK_BYTES) instead of one GEMM
# per batch item. Conv2d(32->64, 3, pad 1) 14x14 batch 256 eval with one competing busy core:
# 3070 ms (256 calls) -> about 150 ms (4 calls); without contention (one thread) the transposing
# copies make cnn_train/cnn_eval 5-10% slower.
_THREADED_GEMM_SIZE = 1 << 18
# Chunks of channel-major columns: several per batch for ember's threads to share (cnn_train's
# second convolution: 7 chunks of 9 or 10 items), each copied and multiplied while in cache.
_LARGE_CHUNK_BYTES = 1 << 21


def _pad(array, padding):
    """Zero-pad the spatial dims of (N, C, *spatial) by ``((before, after), ...)``."""
    if not any(before or after for before, after in padding):
        return array
    shape = array.shape[:2] + tuple(size + before + after
                                    for size, (before, after) in zip(array.shape[2:], padding))
    padded = np.zeros(shape, array.dtype)
    _threads.elementwise(_copy_into, padded[_interior(array.shape, padding)], array)
    return padded


def _copy_into(source, out):
    np.copyto(out, source)


def _contiguous(array):
    """``np.ascontiguousarray``, a large strided view (im2col's windows) copied in ranges of its
    first axis over ember's threads."""
    if array.flags.c_contiguous:
        return array
    return _threads.elementwise(_copy_into, np.empty(array.shape, array.dtype), array)


def _interior(shape, padding):
    """Index of the unpadded region of size ``shape[2:]`` inside a padded array."""
    return (slice(None), slice(None)) + tuple(
        slice(before, before + size) for size, (before, _) in zip(shape[2:], padding))


def _windows(padded, kernel_size, stride, dilation, out_size):
    """Read-only view (N, C, *kernel_size, *out_size) of every kernel window of ``padded``."""
    strides = padded.strides
    spatial = strides[2:]
    shape = padded.shape[:2] + tuple(kernel_size) + tuple(out_size)
    view_strides = (strides[:2] + tuple(step * gap for step, gap in zip(spatial, dilation))
                    + tuple(step * jump for step, jump in zip(spatial, stride)))
    return as_strided(padded, shape, view_strides, writeable=False)


def _im2col(input, kernel_size, stride, padding, dilation, out_size):
    """Contiguous columns (N, C * prod(kernel_size), prod(out_size)) of the input zero-padded by
    ``padding`` pairs."""
    windows = _windows(_pad(input, padding), kernel_size, stride, dilation, out_size)
    batch, channels = input.shape[:2]
    return _contiguous(windows).reshape(batch, channels * math.prod(kernel_size),
                                        math.prod(out_size))


def _col2im(columns, shape, kernel_size, stride, padding, dilation, out_size):
    """Adjoint of ``_im2col``: columns (N, C, *kernel_size, *out_size) summed into zeros of
    ``shape`` (N, C, *in_size), padding dropped."""
    result, add = _window_adder(shape, columns.dtype, kernel_size, stride, padding, dilation,
                                out_size)
    _threads.split(shape[0], columns.size,
                   lambda start, stop: add(start, stop, columns[start:stop]))
    return result()


def _window_adder(shape, dtype, kernel_size, stride, padding, dilation, out_size):
    """``(result, add)``: ``add(start, stop, columns)`` sums columns (stop - start, C, *kernel,
    *out) of batch items start:stop into their windows; ``result()`` is the (N, C, *in_size)
    sum. A compiled loop straight into the result when available, else a loop over kernel
    offsets into a zero-padded array cropped at the end."""
    compiled = _col2im_kernel.compiled() if dtype in _COMPILED_DTYPES else None
    if compiled is not None:
        image = np.zeros(shape, dtype)
        image_three_dims = _as_three_dims(image)
        steps = _three_dims_geometry(stride, padding, dilation)

        def add(start, stop, columns):
            compiled(_as_three_dims(columns, windows=True), image_three_dims[start:stop], *steps)
        return (lambda: image), add
    padded = np.zeros(shape[:2] + tuple(size + before + after for size, (before, after)
                                        in zip(shape[2:], padding)), dtype)

    def add(start, stop, columns):
        _col2im_add(padded[start:stop], columns, kernel_size, stride, dilation, out_size)
    return (lambda: padded[_interior(shape, padding)]), add


def _col2im_add(result, columns, kernel_size, stride, dilation, out_size):
    """Scatter-add columns (N, C, *kernel_size, *out_size) into ``result`` (N, C, *padded)."""
    everything = (slice(None), slice(None))
    for offset in np.ndindex(*kernel_size):
        target = everything + tuple(
            slice(index * gap, index * gap + jump * (size - 1) + 1, jump)
            for index, gap, jump, size in zip(offset, dilation, stride, out_size))
        result[target] += columns[everything + offset]


# ---- compiled im2col / col2im (the jit extra) -----------------------------------------------------
_COMPILED_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def _as_three_dims(array, windows=False):
    """A view with unit spatial dims put in front, so one compiled kernel serves 1, 2 and 3
    spatial dims: (N, C, *in) -> (N, C, D, H, W), or with ``windows`` (N, C, *kernel, *out) ->
    (N, C, kd, kh, kw, od, oh, ow)."""
    spatial = (array.ndim - 2) // 2 if windows else array.ndim - 2
    missing = (None,) * (3 - spatial)
    kept = (slice(None),) * spatial
    index = (slice(None), slice(None)) + missing + kept
    if windows:
        index += missing + kept
    return array[index]


def _three_dims_geometry(stride, padding, dilation):
    """Stride, padding before and dilation as 3-tuples matching ``_as_three_dims``."""
    missing = 3 - len(stride)
    return ((1,) * missing + tuple(stride),
            (0,) * missing + tuple(before for before, _ in padding),
            (1,) * missing + tuple(dilation))


@_jit.kernel
def _col2im_kernel(columns, image, stride, padding, dilation):
    """image[n, c, z*s0-p0+a*d0, y*s1-p1+b*d1, x*s2-p2+e*d2] += columns[n, c, a, b, e, z, y, x]
    (col2im), terms falling in the padding dropped. Parallel over channels, whose image planes
    are disjoint; the batch loop sits inside the kernel offsets, so channel-major columns
    (C, *kernel, N, *out) are read in memory order."""
    batch, channels, depth, height, width = image.shape
    kernel_depth, kernel_height, kernel_width = columns.shape[2:5]
    out_depth, out_height, out_width = columns.shape[5:8]
    for channel in _jit.prange(channels):
        for a in range(kernel_depth):
            for b in range(kernel_height):
                for e in range(kernel_width):
                    first_x = e * dilation[2] - padding[2]
                    # at stride 1, the outputs x whose target first_x + x lies in the image: a
                    # row's additions are then one unconditional loop that vectorises (1.3-1.9x
                    # faster at 8-32 columns); the same additions in the same order
                    start_x = min(out_width, max(0, -first_x))
                    stop_x = max(start_x, min(out_width, width - first_x))
                    for item in range(batch):
                        for z in range(out_depth):
                            target_z = z * stride[0] - padding[0] + a * dilation[0]
                            if not 0 <= target_z < depth:
                                continue
                            for y in range(out_height):
                                target_y = y * stride[1] - padding[1] + b * dilation[1]
                                if not 0 <= target_y < height:
                                    continue
                                row = columns[item, channel, a, b, e, z, y]
                                target = image[item, channel, target_z, target_y]
                                if stride[2] == 1:
                                    shifted = target[first_x + start_x:first_x + stop_x]
                                    source = row[start_x:stop_x]
                                    for x in range(stop_x - start_x):
                                        shifted[x] += source[x]
                                    continue
                                for x in range(out_width):
                                    target_x = first_x + x * stride[2]
                                    if 0 <= target_x < width:
                                        target[target_x] += row[x]


@_jit.kernel
def _depthwise_kernel(input, weight, output, sources, per_input, before, spread, dilation,
                      stride, first, last):
    """A depthwise correlation straight from the input, for output planes first:last of the
    flattened (N * C_out): output[n, o, z, y, x] = sum over j < sources, then taps a, b, e (in
    that order) of weight[k, a, b, e] * P[z*s0 + a*d0, y*s1 + b*d1, x*s2 + e*d2], k = o * sources
    + j, where the plane P holds input[n, k // per_input, i, j, l] at (i*spread0 + before0, ...)
    and zeros elsewhere (the spread serves the transposed convolution of stride ``spread``).
    P is a zero-padded buffer and every tap one long vectorised loop over its whole flattened
    plane at unit stride (outputs in the padding's columns and between the strides computed,
    then dropped): a row of 8-32 pixels is too short for the vector loop."""
    batch, out_channels, out_depth, out_height, out_width = output.shape
    depth, height, width = input.shape[2:]
    kernel_depth, kernel_height, kernel_width = weight.shape[1:]
    dense_height = (out_height - 1) * stride[1] + 1
    dense_width = (out_width - 1) * stride[2] + 1
    padded_depth = (out_depth - 1) * stride[0] + (kernel_depth - 1) * dilation[0] + 1
    padded_height = dense_height + (kernel_height - 1) * dilation[1]
    padded_width = dense_width + (kernel_width - 1) * dilation[2]
    padded_plane = padded_height * padded_width
    wide_length = dense_height * padded_width
    # the input's indices that land inside the buffer
    first_z = max(0, (spread[0] - 1 - before[0]) // spread[0])
    first_y = max(0, (spread[1] - 1 - before[1]) // spread[1])
    first_x = max(0, (spread[2] - 1 - before[2]) // spread[2])
    stop_z = max(first_z, min(depth, (padded_depth - 1 - before[0]) // spread[0] + 1))
    stop_y = max(first_y, min(height, (padded_height - 1 - before[1]) // spread[1] + 1))
    stop_x = max(first_x, min(width, (padded_width - 1 - before[2]) // spread[2] + 1))
    buffer = np.zeros(padded_depth * padded_plane + (kernel_width - 1) * dilation[2], input.dtype)
    wide = np.empty(out_depth * wide_length, input.dtype)
    for plane in range(first, last):
        item = plane // out_channels
        channel = plane % out_channels
        for index in range(out_depth * wide_length):
            wide[index] = 0
        for j in range(sources):
            source_channel = channel * sources + j
            source = input[item, source_channel // per_input]
            # Loops run over slices from index 0, so numba drops its negative-index test
            # (which keeps LLVM from vectorising).
            for z in range(first_z, stop_z):
                for y in range(first_y, stop_y):
                    start = (((z * spread[0] + before[0]) * padded_height + y * spread[1]
                              + before[1]) * padded_width + first_x * spread[2] + before[2])
                    row = source[z, y, first_x:stop_x]
                    count = stop_x - first_x
                    # a unit step kept apart: a strided slice's loop does not vectorise
                    if spread[2] == 1:
                        buffer_row = buffer[start:start + count]
                        for x in range(count):
                            buffer_row[x] = row[x]
                    else:
                        spread_row = buffer[start:start + (count - 1) * spread[2] + 1:spread[2]]
                        for x in range(count):
                            spread_row[x] = row[x]
            for z in range(out_depth):
                wide_plane = wide[z * wide_length:(z + 1) * wide_length]
                for a in range(kernel_depth):
                    plane_start = (z * stride[0] + a * dilation[0]) * padded_plane
                    for b in range(kernel_height):
                        for e in range(kernel_width):
                            value = weight[source_channel, a, b, e]
                            tap = plane_start + b * dilation[1] * padded_width + e * dilation[2]
                            taken = buffer[tap:tap + wide_length]
                            for index in range(wide_length):
                                wide_plane[index] += value * taken[index]
        target = output[item, channel]
        for z in range(out_depth):
            for y in range(out_height):
                out_row = target[z, y]
                start = z * wide_length + y * stride[1] * padded_width
                if stride[2] == 1:
                    wide_row = wide[start:start + out_width]
                    for x in range(out_width):
                        out_row[x] = wide_row[x]
                else:
                    strided_row = wide[start:start + (out_width - 1) * stride[2] + 1:stride[2]]
                    for x in range(out_width):
                        out_row[x] = strided_row[x]


@_jit.kernel
def _depthwise_weight_grad_kernel(input, grad, weight_grad, per_input, before, dilation, stride,
                                  first, last):
    """weight_grad[o, a, b, e] = sum over n, z, y, x of grad[n, o, z, y, x] *
    input[n, o // per_input, z*s0 + a*d0 - p0, y*s1 + b*d1 - p1, x*s2 + e*d2 - p2], for output
    channels first:last, laid out as _depthwise_kernel: per tap, products over the whole
    padded plane (the gradient spread by the stride) are accumulated position by position over
    the batch, then the real outputs' positions summed in order (the others, which may pair a
    zero gradient with an infinite input, dropped)."""
    batch, out_channels, out_depth, out_height, out_width = grad.shape
    depth, height, width = input.shape[2:]
    kernel_depth, kernel_height, kernel_width = weight_grad.shape[1:]
    dense_height = (out_height - 1) * stride[1] + 1
    dense_width = (out_width - 1) * stride[2] + 1
    padded_depth = (out_depth - 1) * stride[0] + (kernel_depth - 1) * dilation[0] + 1
    padded_height = dense_height + (kernel_height - 1) * dilation[1]
    padded_width = dense_width + (kernel_width - 1) * dilation[2]
    padded_plane = padded_height * padded_width
    wide_length = dense_height * padded_width
    taps = kernel_depth * kernel_height * kernel_width
    first_z, first_y, first_x = max(0, -before[0]), max(0, -before[1]), max(0, -before[2])
    stop_z = max(first_z, min(depth, padded_depth - before[0]))
    stop_y = max(first_y, min(height, padded_height - before[1]))
    stop_x = max(first_x, min(width, padded_width - before[2]))
    buffer = np.zeros(padded_depth * padded_plane + (kernel_width - 1) * dilation[2], input.dtype)
    wide = np.zeros(out_depth * wide_length, input.dtype)
    products = np.empty(taps * wide_length, input.dtype)
    for out_channel in range(first, last):
        for index in range(taps * wide_length):
            products[index] = 0
        for item in range(batch):
            source = input[item, out_channel // per_input]
            for z in range(first_z, stop_z):
                for y in range(first_y, stop_y):
                    start = (((z + before[0]) * padded_height + y + before[1]) * padded_width
                             + before[2])
                    row = source[z, y, first_x:stop_x]
                    buffer_row = buffer[start + first_x:start + stop_x]
                    for x in range(stop_x - first_x):
                        buffer_row[x] = row[x]
            rows = grad[item, out_channel]
            for z in range(out_depth):
                for y in range(out_height):
                    grad_row = rows[z, y]
                    begin = z * wide_length + y * stride[1] * padded_width
                    if stride[2] == 1:
                        wide_row = wide[begin:begin + out_width]
                        for x in range(out_width):
                            wide_row[x] = grad_row[x]
                    else:
                        strided_row = wide[begin:begin + (out_width - 1) * stride[2] + 1:
                                           stride[2]]
                        for x in range(out_width):
                            strided_row[x] = grad_row[x]
            for z in range(out_depth):
                wide_plane = wide[z * wide_length:(z + 1) * wide_length]
                tap_index = 0
                for a in range(kernel_depth):
                    plane_start = (z * stride[0] + a * dilation[0]) * padded_plane
                    for b in range(kernel_height):
                        for e in range(kernel_width):
                            tap = plane_start + b * dilation[1] * padded_width + e * dilation[2]
                            taken = buffer[tap:tap + wide_length]
                            product = products[tap_index * wide_length:]
                            for index in range(wide_length):
                                product[index] += wide_plane[index] * taken[index]
                            tap_index += 1
        tap_index = 0
        for a in range(kernel_depth):
            for b in range(kernel_height):
                for e in range(kernel_width):
                    total = weight_grad[out_channel, a, b, e]
                    product = products[tap_index * wide_length:]
                    for y in range(out_height):
                        for x in range(out_width):
                            total += product[y * stride[1] * padded_width + x * stride[2]]
                    weight_grad[out_channel, a, b, e] = total
                    tap_index += 1


def _depthwise(groups, channels_per_group, first, second):
    """Whether the compiled depthwise kernels apply: one input channel per group (weight
    (C_out, 1, *kernel), groups > 1), float32 or float64 operands of one dtype, numba there.
    Their per-group GEMMs would be tiny (MobileNet's 3x3 blocks ran 5-20x slower than PyTorch).
    Callers also ask for a non-empty batch: the GEMM paths give an empty result PyTorch's
    strides (NumPy's empty arrays have zero strides)."""
    if groups == 1 or channels_per_group != 1 or first.dtype != second.dtype:
        return False
    return first.dtype in _COMPILED_DTYPES and _jit.available()


def _run_depthwise(kernel, count, work, *arguments):
    """A depthwise kernel over ranges of its ``count`` independent outer rows (planes or
    channels) on ember's threads."""
    compiled = kernel.compiled()
    _threads.split(count, work, lambda first, last: compiled(*arguments, first, last))


def _in_front(values, fill):
    """A 1-, 2- or 3-tuple made a 3-tuple with ``fill`` in front (see _in_three_dims)."""
    return (fill,) * (3 - len(values)) + tuple(values)


def _in_three_dims(array, spatial):
    """A C-contiguous copy (or the array) with unit spatial dims put in front of its last
    ``spatial`` dims: one compiled signature per dtype serves 1, 2 and 3 dims."""
    shape = array.shape
    lead = shape[:len(shape) - spatial]
    return np.ascontiguousarray(array).reshape(lead + (1,) * (3 - spatial)
                                               + shape[len(shape) - spatial:])


def _chunk(batch_bytes, limit=None):
    """Batch items per chunk so that a chunk's columns take about ``limit`` bytes."""
    return max(1, (limit or _COLUMN_CHUNK_BYTES) // max(1, batch_bytes))


def _per_item(batch, work, compute):
    """``compute(first, last)`` over ranges of batch items on ember's threads: for passes whose
    GEMMs are per item (the same BLAS calls however the batch is cut)."""
    _threads.split(batch, work, compute, _threads.GEMM_GRAIN)


def _per_chunk(batch, item_bytes, work, compute):
    """``compute(start, stop)`` for batch chunks of about _LARGE_CHUNK_BYTES of columns (sizes
    within one item), whole chunks handed to ember's threads. The chunks do not depend on the
    thread count, so each chunk's GEMM over its items' columns is the same BLAS call on one
    thread or several (cutting one GEMM's rows or columns changes OpenBLAS's summation order in
    float64)."""
    count = min(batch, -(-batch * item_bytes // _LARGE_CHUNK_BYTES)) if batch else 1
    chunks = _threads.row_ranges(batch, max(1, count))

    def run_chunks(first, last):
        for start, stop in chunks[first:last]:
            compute(start, stop)
    _threads.split(len(chunks), work, run_chunks, _threads.GEMM_GRAIN)


def _channel_major_order(spatial):
    """Axis order taking (N, C, *kernel, *out) to (C, *kernel, N, *out), and its inverse."""
    order = ((1,) + tuple(range(2, 2 + spatial)) + (0,)
             + tuple(range(2 + spatial, 2 + 2 * spatial)))
    inverse = (spatial + 1,) + tuple(range(spatial + 1)) + tuple(
        range(spatial + 2, 2 + 2 * spatial))
    return order, inverse


def _in_float32(kernel):
    """Run an array kernel on float16 arrays in float32 and cast the result back: NumPy has no
    float16 GEMM (its loop is slow and accumulates in float16), PyTorch accumulates in float32."""
    @functools.wraps(kernel)
    def wrapper(first, second, geometry):
        if first.dtype != np.float16:
            return kernel(first, second, geometry)
        return kernel(first.astype(np.float32), second.astype(np.float32),
                      geometry).astype(np.float16)
    return wrapper


class Geometry(NamedTuple):
    """Where a convolution's windows lie: the spatial size of its (unpadded) input, the kernel,
    stride, padding pairs (before, after), dilation, groups and the output's spatial size. The
    three convolution kernels below share it, as do the Ops for each other's gradients."""

    in_size: tuple
    kernel_size: tuple
    stride: tuple
    padding: tuple
    dilation: tuple
    groups: int
    out_size: tuple

    def padded_shape(self, batch, channels):
        return (batch, channels) + tuple(size + before + after for size, (before, after)
                                         in zip(self.in_size, self.padding))


@_in_float32
def convolve(input, weight, geometry):
    """Cross-correlation of (N, C_in, *in_size) with weight (C_out, C_in / groups, *kernel):
    im2col chunks and GEMMs, see the module docstring."""
    batch, in_channels = input.shape[:2]
    out_channels = weight.shape[0]
    kernel_size, stride, groups, out_size = (geometry.kernel_size, geometry.stride,
                                             geometry.groups, geometry.out_size)
    if batch and _depthwise(groups, weight.shape[1], input, weight):
        spatial = len(out_size)
        output = np.empty((batch, out_channels) + out_size, input.dtype)
        _run_depthwise(_depthwise_kernel, batch * out_channels,
                       output.size * math.prod(kernel_size),
                       _in_three_dims(input, spatial),
                       _in_three_dims(weight.reshape((out_channels,) + kernel_size), spatial),
                       _in_three_dims(output, spatial), 1, out_channels // in_channels,
                       _in_front(tuple(before for before, _ in geometry.padding), 0),
                       (1, 1, 1), _in_front(geometry.dilation, 1), _in_front(stride, 1))
        return output
    if winograd.applies(input, weight, in_channels, out_channels, kernel_size, stride,
                        geometry.dilation, groups):
        return winograd.convolve(input, weight, geometry.padding)
    windows = _windows(_pad(input, geometry.padding), kernel_size, stride, geometry.dilation,
                       out_size)
    length = math.prod(out_size)
    width = in_channels * math.prod(kernel_size)
    output = np.empty((batch, out_channels, length), np.result_type(input, weight))
    grouped_weight = weight.reshape(groups, out_channels // groups, width // groups)
    item_size = (out_channels // groups) * (width // groups) * length
    if item_size <= _THREADED_GEMM_SIZE:
        chunk = _chunk(width * length * input.itemsize)

        def compute(first, last):
            for start in range(first, last, chunk):
                stop = min(last, start + chunk)
                columns = np.ascontiguousarray(windows[start:stop]).reshape(
                    stop - start, groups, width // groups, length)
                np.matmul(grouped_weight, columns,
                          out=output[start:stop].reshape(stop - start, groups, -1, length))
        _per_item(batch, item_size * groups * batch, compute)
    else:
        order = _channel_major_order(len(kernel_size))[0]

        def compute(start, stop):
            columns = np.ascontiguousarray(windows[start:stop].transpose(order)).reshape(
                groups, width // groups, (stop - start) * length)
            product = np.matmul(grouped_weight, columns)
            output[start:stop] = product.reshape(out_channels, stop - start, length).transpose(
                1, 0, 2)
        _per_chunk(batch, width * length * input.itemsize, item_size * groups * batch, compute)
    return output.reshape((batch, out_channels) + out_size)


@_in_float32
def convolve_transpose(grad, weight, geometry):
    """The adjoint of ``convolve`` in its input: (N, C_out, *out_size) -> (N, C_in, *in_size),
    a GEMM with the transposed weight, then col2im. Chunked like the forward, so each chunk's
    columns are scattered while in cache (Conv2d(32->64, 3, pad 1), 14x14, batch 64, one
    thread: 15.4 -> 12.4 ms); large GEMMs run channel-major, a few calls in all (see
    _THREADED_GEMM_SIZE)."""
    grad = np.ascontiguousarray(grad)  # e.g. a broadcast from sum(): BLAS needs real strides
    batch, out_channels = grad.shape[:2]
    groups, kernel_size, out_size = geometry.groups, geometry.kernel_size, geometry.out_size
    in_channels = weight.shape[1] * groups
    if batch and _depthwise(groups, weight.shape[1], grad, weight):
        # the adjoint is a correlation of the gradient spread by the stride with the flipped
        # kernel, each input channel summing its out_channels / in_channels outputs
        spatial = len(out_size)
        image = np.empty((batch, in_channels) + geometry.in_size, grad.dtype)
        flipped = np.flip(weight.reshape((out_channels,) + kernel_size),
                          tuple(range(1, 1 + spatial)))
        reach = tuple(gap * (size - 1) - before for gap, size, (before, _)
                      in zip(geometry.dilation, kernel_size, geometry.padding))
        _run_depthwise(_depthwise_kernel, batch * in_channels,
                       grad.size * math.prod(kernel_size),
                       _in_three_dims(grad, spatial), _in_three_dims(flipped, spatial),
                       _in_three_dims(image, spatial), out_channels // in_channels, 1,
                       _in_front(reach, 0), _in_front(geometry.stride, 1),
                       _in_front(geometry.dilation, 1), (1, 1, 1))
        return image
    if winograd.applies(grad, weight, in_channels, out_channels, kernel_size, geometry.stride,
                        geometry.dilation, groups) and winograd.transpose_applies(geometry.padding):
        return winograd.convolve_transpose(grad, weight, geometry.padding)
    length = math.prod(out_size)
    width = math.prod(weight.shape[1:])
    grad_rows = grad.reshape(batch, groups, out_channels // groups, length)
    transposed_weight = weight.reshape(groups, out_channels // groups, -1).swapaxes(-1, -2)
    result, add = _window_adder((batch, in_channels) + geometry.in_size, grad.dtype, kernel_size,
                                geometry.stride, geometry.padding, geometry.dilation, out_size)
    item_size = (out_channels // groups) * width * length
    if item_size <= _THREADED_GEMM_SIZE:
        chunk = _chunk(width * groups * length * grad.itemsize)

        def compute(first, last):
            for start in range(first, last, chunk):
                stop = min(last, start + chunk)
                columns = np.matmul(transposed_weight, grad_rows[start:stop])
                columns = columns.reshape((stop - start, in_channels) + kernel_size + out_size)
                add(start, stop, columns)
        # batch items scatter into disjoint parts of the result
        _per_item(batch, item_size * groups * batch, compute)
    else:
        inverse = _channel_major_order(len(kernel_size))[1]

        def compute(start, stop):
            count = stop - start
            grad_by_channel = np.ascontiguousarray(
                grad_rows[start:stop].transpose(1, 2, 0, 3)).reshape(
                groups, out_channels // groups, count * length)
            columns = np.matmul(transposed_weight, grad_by_channel).reshape(
                (in_channels,) + kernel_size + (count,) + out_size)
            add(start, stop, columns.transpose(inverse))
        _per_chunk(batch, width * groups * length * grad.itemsize, item_size * groups * batch,
                   compute)
    return result()


@_in_float32
def convolve_weight_grad(input, grad, geometry):
    """The weight's gradient: sum over batch and positions of grad (x) columns. Small problems
    use a batched GEMM and a sum over the batch; large ones copy each chunk's windows straight
    into (C * prod(kernel), n * L) order (only the small grad needs transposing), one GEMM per
    group and chunk, the chunks' products summed in batch order."""
    grad = np.ascontiguousarray(grad)
    batch, in_channels = input.shape[:2]
    out_channels = grad.shape[1]
    groups, kernel_size, out_size = geometry.groups, geometry.kernel_size, geometry.out_size
    weight_shape = (out_channels, in_channels // groups) + kernel_size
    width = math.prod(weight_shape[1:])
    if batch and _depthwise(groups, in_channels // groups, input, grad):
        spatial = len(out_size)
        weight_grad = np.zeros(weight_shape, grad.dtype)
        _run_depthwise(_depthwise_weight_grad_kernel, out_channels,
                       grad.size * math.prod(kernel_size),
                       _in_three_dims(input, spatial), _in_three_dims(grad, spatial),
                       _in_three_dims(weight_grad.reshape((out_channels,) + kernel_size),
                                      spatial),
                       out_channels // in_channels,
                       _in_front(tuple(before for before, _ in geometry.padding), 0),
                       _in_front(geometry.dilation, 1), _in_front(geometry.stride, 1))
        return weight_grad
    if winograd.applies(input, grad, in_channels, out_channels, kernel_size, geometry.stride,
                        geometry.dilation, groups, weight_grad=True):
        return winograd.weight_grad(input, grad, geometry.padding)
    length = math.prod(out_size)
    grad_rows = grad.reshape(batch, groups, out_channels // groups, length)
    if batch * out_channels * width <= _BATCHED_WEIGHT_GRAD_LIMIT and (length == 1
                                                                       or batch == 1):
        # one position: _threads.matmul's broadcast product (NumPy's matmul of a depth of 1
        # is its own slow loop); one item: its columns copied on ember's threads
        columns = _im2col(input, kernel_size, geometry.stride, geometry.padding,
                          geometry.dilation, out_size).reshape(batch, groups, width, length)
        return _threads.matmul(grad_rows, columns.swapaxes(-1, -2)).sum(axis=0).reshape(
            weight_shape)
    if batch * out_channels * width <= _BATCHED_WEIGHT_GRAD_LIMIT:
        # A GEMM per item, each chunk of items' columns copied and multiplied while in cache
        # (CIFAR's 16-channel 3x3 layers, batch 64: 38 MB of columns no longer made at once,
        # 23 -> 11 ms at one thread); their sum over the batch stays one reduction in order.
        windows = _windows(_pad(input, geometry.padding), kernel_size, geometry.stride,
                           geometry.dilation, out_size)
        products = np.empty((batch, groups, out_channels // groups, width),
                            np.result_type(grad, input))
        chunk = _chunk(width * groups * length * input.itemsize)

        def compute(first, last):
            for start in range(first, last, chunk):
                stop = min(last, start + chunk)
                columns = np.ascontiguousarray(windows[start:stop]).reshape(
                    stop - start, groups, width, length)
                np.matmul(grad_rows[start:stop], columns.swapaxes(-1, -2),
                          out=products[start:stop])
        _per_item(batch, batch * out_channels * width * length, compute)
        return products.sum(axis=0).reshape(weight_shape)
    windows = _windows(_pad(input, geometry.padding), kernel_size, geometry.stride,
                       geometry.dilation, out_size)
    # (N, C, *kernel, *out) -> (C, *kernel, N, *out): rows ordered like the weight's columns.
    order = _channel_major_order(len(kernel_size))[0]
    partials = {}

    def compute(start, stop):
        count = stop - start
        columns = np.ascontiguousarray(windows[start:stop].transpose(order)).reshape(
            groups, width, count * length)
        left = np.ascontiguousarray(grad_rows[start:stop].transpose(1, 2, 0, 3)).reshape(
            groups, out_channels // groups, count * length)
        partials[start] = np.matmul(left, columns.swapaxes(-1, -2))
    _per_chunk(batch, in_channels * math.prod(kernel_size) * length * input.itemsize,
               batch * out_channels * width * length, compute)
    # the chunks' products summed in batch order, whichever thread made each
    total = None
    for start in sorted(partials):
        total = partials[start] if total is None else np.add(total, partials[start], out=total)
    return total.reshape(weight_shape)


# ---- the three Ops: each one's gradients are the other two (so every order is differentiable)
# With y = conv(x, w) and a cotangent g of y: dx = conv_transpose(g, w), dw = weight_grad(x, g).
# conv_transpose(g, w) is linear in each: its cotangent h (shape of x) gives dg = conv(h, w),
# dw = weight_grad(h, g); weight_grad(x, g) with cotangent v (shape of w) gives
# dx = conv_transpose(g, v), dg = conv(x, v).
def _spatial_axes(array):
    return (0,) + tuple(range(2, array.ndim))


class ConvNd(Op):
    """Cross-correlation of (N, C_in, *spatial) with weight (C_out, C_in / groups, *kernel),
    plus an optional bias (C_out)."""
    _next_order = (0, 1, 2)  # input, weight, bias

    output_layout = staticmethod(spatial_layout)
    _torch_name = "ConvolutionBackward0"

    differentiable_backward = True
    backward_is_one_node = True

    @staticmethod
    def forward(ctx, input, weight, bias, geometry):
        output = convolve(input, weight, geometry)
        if bias is not None:
            output += bias.reshape((-1,) + (1,) * len(geometry.out_size))
        needs_input, needs_weight = ctx.needs_input_grad[:2]
        ctx.save_for_backward(input if needs_weight else None, weight if needs_input else None)
        ctx.geometry = geometry
        return output

    @staticmethod
    def backward(ctx, grad):
        return _convolution_backward(ctx, grad, transposed=False)


class ConvTransposeNd(Op):
    """The adjoint of ConvNd in its input, plus an optional bias: (N, C_in, *out_size) with
    weight (C_in, C_out / groups, *kernel) -> (N, C_out, *in_size) of ``geometry`` (the
    convolution it transposes)."""

    output_layout = staticmethod(spatial_layout)
    _torch_name = "ConvolutionBackward0"  # PyTorch's one convolution node, transposed or not

    _next_order = (0, 1, 2)  # input, weight, bias
    differentiable_backward = True
    backward_is_one_node = True

    @staticmethod
    def forward(ctx, input, weight, bias, geometry):
        output = convolve_transpose(input, weight, geometry)
        if bias is not None:
            output += bias.reshape((-1,) + (1,) * len(geometry.in_size))
        needs_input, needs_weight = ctx.needs_input_grad[:2]
        ctx.save_for_backward(input if needs_weight else None, weight if needs_input else None)
        ctx.geometry = geometry
        return np.ascontiguousarray(output)

    @staticmethod
    def backward(ctx, grad):
        return _convolution_backward(ctx, grad, transposed=True)


def _convolution_backward(ctx, grad, transposed):
    """The gradients of ConvNd (of ConvTransposeNd when ``transposed``): the input's through
    the other of the pair, the weight's through ConvWeightGrad with input and gradient in the
    roles of the convolution the geometry describes, the bias's a sum; as ops under
    create_graph."""
    input, weight = ctx.saved_tensors
    geometry = ctx.geometry
    needs_input, needs_weight, needs_bias = ctx.needs_input_grad[:3]
    on_arrays = ctx.xp is np
    grad_input = grad_weight = grad_bias = None
    if needs_input:
        if on_arrays:
            adjoint = convolve if transposed else convolve_transpose
            grad_input = adjoint(grad, weight, geometry)
        else:
            grad_input = _one_level_down(ctx, (ConvNd if transposed else ConvTransposeNd).apply(
                grad, weight, None, geometry))
    if needs_weight:
        operands = (grad, input) if transposed else (input, grad)
        grad_weight = (convolve_weight_grad(*operands, geometry) if on_arrays
                       else _one_level_down(ctx, ConvWeightGrad.apply(*operands, geometry)))
    if needs_bias:
        grad_bias = ctx.xp.sum(grad, axis=_spatial_axes(grad))
    return grad_input, grad_weight, grad_bias, None


def _one_level_down(ctx, gradient):
    """``gradient``, made under create_graph by the backward of ``ctx``, its node one node of
    PyTorch's backward or not as the derivative order alternates: convolution's backward is one
    node (ConvolutionBackward0), its double backward a composition of plain convolutions
    (ConvolutionBackwardBackward0), each of these one node again. So a second derivative that
    does not vary with the inputs (the weight's, of a convolution linear in it) is not recorded,
    as PyTorch's."""
    node = gradient.grad_fn
    if isinstance(node, Op):
        node.backward_is_one_node = not ctx.backward_is_one_node
    return gradient


class ConvWeightGrad(Op):
    """The weight gradient of ConvNd as an op of its own, (input, grad) -> weight's shape: a
    node of create_graph gradients (so a convolution's second derivatives are recorded too)."""

    differentiable_backward = True

    @staticmethod
    def forward(ctx, input, grad, geometry):
        ctx.save_for_backward(input if ctx.needs_input_grad[1] else None,
                              grad if ctx.needs_input_grad[0] else None)
        ctx.geometry = geometry
        return convolve_weight_grad(input, grad, geometry)

    @staticmethod
    def backward(ctx, grad_weight):
        input, grad = ctx.saved_tensors
        geometry = ctx.geometry
        on_arrays = ctx.xp is np
        grad_of_input = grad_of_grad = None
        if ctx.needs_input_grad[0]:
            grad_of_input = (convolve_transpose(grad, grad_weight, geometry) if on_arrays
                             else _one_level_down(ctx, ConvTransposeNd.apply(
                                 grad, grad_weight, None, geometry)))
        if ctx.needs_input_grad[1]:
            grad_of_grad = (convolve(input, grad_weight, geometry) if on_arrays
                            else _one_level_down(ctx, ConvNd.apply(input, grad_weight, None,
                                                                   geometry)))
        return grad_of_input, grad_of_grad, None


# ---- unfold (im2col) and fold (col2im), each the other's adjoint (and so its gradient) -------
class Unfold(Op):
    """(N, C, H, W) -> (N, C * kh * kw, L): every kernel window as a column."""

    _torch_name = "Im2ColBackward0"

    _next_order = (0,)  # PyTorch lists the input, not the options
    differentiable_backward = True

    @staticmethod
    def forward(ctx, x, kernel_size, dilation, padding, stride, out_size):
        pairs = tuple((pad, pad) for pad in padding)
        ctx.geometry = (x.shape, pairs, kernel_size, dilation, padding, stride, out_size)
        return _im2col(x, kernel_size, stride, pairs, dilation, out_size)

    @staticmethod
    def backward(ctx, grad):
        shape, pairs, kernel_size, dilation, padding, stride, out_size = ctx.geometry
        if ctx.xp is not np:
            return (Fold.apply(grad, shape[2:], kernel_size, dilation, padding, stride, out_size),
                    None, None, None, None, None)
        columns = grad.reshape(shape[:2] + kernel_size + out_size)
        image = _col2im(columns, shape, kernel_size, stride, pairs, dilation, out_size)
        return image, None, None, None, None, None


class Fold(Op):
    """(N, C * kh * kw, L) -> (N, C, H, W): columns summed back into their windows."""

    _next_order = (0,)  # PyTorch lists the input, not the options
    differentiable_backward = True

    @staticmethod
    def forward(ctx, columns, output_size, kernel_size, dilation, padding, stride, blocks):
        batch = columns.shape[0]
        channels = columns.shape[1] // math.prod(kernel_size)
        pairs = tuple((pad, pad) for pad in padding)
        shape = (batch, channels) + output_size
        ctx.geometry = (columns.shape, pairs, kernel_size, dilation, padding, stride, blocks)
        grouped = columns.reshape((batch, channels) + kernel_size + blocks)
        image = _col2im(grouped, shape, kernel_size, stride, pairs, dilation, blocks)
        return np.ascontiguousarray(image)

    @staticmethod
    def backward(ctx, grad):
        columns_shape, pairs, kernel_size, dilation, padding, stride, blocks = ctx.geometry
        if ctx.xp is not np:
            return (Unfold.apply(grad, kernel_size, dilation, padding, stride, blocks),
                    None, None, None, None, None, None)
        columns = _im2col(grad, kernel_size, stride, pairs, dilation, blocks)
        return columns.reshape(columns_shape), None, None, None, None, None, None
