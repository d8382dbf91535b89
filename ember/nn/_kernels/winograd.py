"""Winograd's minimal filtering F(2x2, 3x3) for 3x3, stride-1, undilated, ungrouped 2-D
convolutions, opt-in (EMBER_WINOGRAD=1, see ENABLED): each 2x2 output tile from a 4x4 input tile with 16 multiplications per channel pair
instead of 36 (Lavin and Gray, "Fast Algorithms for Convolutional Neural Networks", 2016).

With B^T = [[1,0,-1,0],[0,1,1,0],[0,-1,1,0],[0,1,0,-1]], G = [[1,0,0],[1/2,1/2,1/2],
[1/2,-1/2,1/2],[0,0,1]] and A^T = [[1,1,1,0],[0,1,-1,-1]], a tile's output is
A^T [(G g G^T) . (B^T d B)] A: the weight and input transforms, 16 GEMMs (one per transform
position, (C_out, C_in) @ (C_in, tiles)) in place of the elementwise product summed over input
channels, and the output transform. The GEMMs run on chunks of _CHUNK_TILES tiles, so a chunk's
transformed input and products stay in cache between the transforms and the GEMM.

The transforms are additions and subtractions only (the weight's halves are computed once in
NumPy), so the compiled kernels (the ``jit`` extra) and the NumPy path do the same IEEE
operations in the same order and give the same bits. In exact arithmetic the result is the
convolution's; in floating point it is rounded differently from im2col's dot products (float32
results agree to about 1e-6 relative).
"""
import os

import numpy as np
from numpy.lib.stride_tricks import as_strided

from ... import _jit, _threads

__all__ = ["applies", "convolve", "convolve_transpose", "transpose_applies", "weight_grad",
           "weight_transform"]

# Off unless EMBER_WINOGRAD=1: its float32 rounding (~1e-6 relative, several times im2col's)
# is amplified by training. Pytorch-UNet's 20 float32 steps (tests/compat/programs) drift from
# PyTorch's losses by 1.2e-3 relative with it, against under 2e-5 with im2col.
ENABLED = os.environ.get("EMBER_WINOGRAD") == "1"
# Tiles per chunk: the (16, C, tiles) transformed input and (16, K, tiles) products of a chunk
# stay within cache for C, K up to a few hundred (Conv2d(64->128) on 16x16 tiles: the GEMMs run
# at 110 GFLOP/s at 512 tiles a chunk, 52 with all 8192 tiles at once).
_CHUNK_TILES = 512
# Below these channel counts the 16 small-reduction GEMMs and the transforms cost more than
# the multiplications they save (thread time, one thread: Conv2d(16->16) on 32x32 at batch 16
# forward 1.34 ms im2col, 1.54 Winograd; 32->64 on 26x26 at batch 64, 15.4 -> 14.1; 64->128 on
# 16x16 at batch 128, 49.3 -> 35.6, its input gradient 55.9 -> 41.7, weight gradient 50.5 -> 43.5).
_MIN_CHANNELS = 16
_MIN_CHANNEL_PAIRS = 1024
# The weight gradient's GEMMs reduce over tiles into a small (C_out, C_in) result, so its
# transforms weigh more: 32->64 on 26x26 at batch 64 took 16.1 ms with im2col, 17.4 Winograd;
# 64->64 on 8x8, 4.18 -> 3.84.
_MIN_WEIGHT_GRAD_PAIRS = 4096
_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def applies(input, weight, in_channels, out_channels, kernel_size, stride, dilation, groups,
            weight_grad=False):
    """Whether a 2-D convolution of ``input`` with ``weight`` (or its adjoint, or with
    ``weight_grad`` its weight gradient) from ``in_channels`` to ``out_channels`` takes this
    path."""
    pairs = _MIN_WEIGHT_GRAD_PAIRS if weight_grad else _MIN_CHANNEL_PAIRS
    return (ENABLED and kernel_size == (3, 3) and stride == (1, 1) and dilation == (1, 1) and groups == 1
            and input.dtype in _FLOATS and weight.dtype == input.dtype
            and min(in_channels, out_channels) >= _MIN_CHANNELS
            and in_channels * out_channels >= pairs and input.shape[0] > 0)


def weight_transform(weight):
    """G g G^T of every (C_out, C_in) 3x3 kernel: (16, C_out, C_in), row-major positions."""
    rows = (weight[:, :, 0], (weight[:, :, 0] + weight[:, :, 1] + weight[:, :, 2]) * 0.5,
            (weight[:, :, 0] - weight[:, :, 1] + weight[:, :, 2]) * 0.5, weight[:, :, 2])
    out = np.empty((16,) + weight.shape[:2], weight.dtype)
    for xi, row in enumerate(rows):  # row: (C_out, C_in, 3) over the kernel's columns
        out[4 * xi] = row[..., 0]
        out[4 * xi + 1] = (row[..., 0] + row[..., 1] + row[..., 2]) * 0.5
        out[4 * xi + 2] = (row[..., 0] - row[..., 1] + row[..., 2]) * 0.5
        out[4 * xi + 3] = row[..., 2]
    return out


def _tiled(input, padding):
    """(zero-padded input in which every 4x4 tile window lies, tiles_h, tiles_w, out_size) for
    the output tiles of a convolution with ``padding``."""
    batch, channels, height, width = input.shape
    (top, bottom), (left, right) = padding
    out_height, out_width = height + top + bottom - 2, width + left + right - 2
    tiles_h, tiles_w = -(-out_height // 2), -(-out_width // 2)
    padded = np.zeros((batch, channels, 2 * tiles_h + 2, 2 * tiles_w + 2), input.dtype)
    padded[:, :, top:top + height, left:left + width] = input
    return padded, tiles_h, tiles_w, (out_height, out_width)


def convolve(input, weight, padding):
    """Cross-correlation of (N, C, H, W) with (K, C, 3, 3), zero padding ((top, bottom), (left,
    right)) (each >= 0): (N, K, H + top + bottom - 2, W + left + right - 2)."""
    batch, channels = input.shape[:2]
    out_channels = weight.shape[0]
    padded, tiles_h, tiles_w, out_size = _tiled(input, padding)
    output = np.empty((batch, out_channels) + out_size, input.dtype)
    if output.size == 0:
        return output
    transformed_weight = weight_transform(weight)
    tiles = batch * tiles_h * tiles_w
    chunks = _threads.row_ranges(tiles, -(-tiles // _CHUNK_TILES))
    input_kernel = _input_transform_kernel.compiled()
    output_kernel = _output_transform_kernel.compiled()
    if input_kernel is None or output_kernel is None:
        transformed = _input_transform(padded, tiles_h, tiles_w)
        products = np.empty((16, out_channels, tiles), input.dtype)

        def compute(first, last):
            for start, stop in chunks[first:last]:
                np.matmul(transformed_weight, np.ascontiguousarray(transformed[:, :, start:stop]),
                          out=products[:, :, start:stop])
        _threads.split(len(chunks), 16 * out_channels * channels * tiles, compute,
                       _threads.GEMM_GRAIN)
        _output_transform(products, output, tiles_h, tiles_w)
        return output

    def compute_compiled(first, last):
        for start, stop in chunks[first:last]:
            segments = _row_segments(start, stop, tiles_h, tiles_w)
            transformed = np.empty((16, channels, stop - start), input.dtype)
            input_kernel(padded, segments, transformed)
            products = np.matmul(transformed_weight, transformed)
            output_kernel(products, segments, output)
    _threads.split(len(chunks), 16 * out_channels * channels * tiles, compute_compiled,
                   _threads.GEMM_GRAIN)
    return output


def convolve_transpose(grad, weight, padding):
    """The adjoint of ``convolve`` in its input (the input gradient of a stride-1 3x3
    convolution with padding ``((top, bottom), (left, right))``, each at most 2): the full
    correlation of ``grad`` with the flipped, transposed kernel, padded by 2 - padding."""
    flipped = np.ascontiguousarray(weight.transpose(1, 0, 2, 3)[:, :, ::-1, ::-1])
    return convolve(grad, flipped, tuple((2 - before, 2 - after) for before, after in padding))


def weight_grad(input, grad, padding):
    """The weight's gradient of ``convolve(input, weight, padding)`` given the output's
    gradient: G^T [sum over tiles of (A grad A^T) . (B^T d B)] G, the sum over tiles and batch
    (with the channel pairs) being 16 GEMMs per chunk of tiles; the chunks' products are added
    in chunk order, whichever thread made each."""
    batch, channels = input.shape[:2]
    out_channels = grad.shape[1]
    padded, tiles_h, tiles_w, out_size = _tiled(input, padding)
    tiles = batch * tiles_h * tiles_w
    if tiles == 0:
        return np.zeros((out_channels, channels, 3, 3), input.dtype)
    # the gradient zero-padded to whole 2x2 tiles
    grad_tiles = np.zeros((batch, out_channels, 2 * tiles_h, 2 * tiles_w), grad.dtype)
    grad_tiles[:, :, :out_size[0], :out_size[1]] = grad
    chunks = _threads.row_ranges(tiles, -(-tiles // _CHUNK_TILES))
    partials = [None] * len(chunks)
    input_kernel = _input_transform_kernel.compiled()
    grad_kernel = _grad_transform_kernel.compiled()
    if input_kernel is None or grad_kernel is None:
        transformed = _input_transform(padded, tiles_h, tiles_w)
        transformed_grad = _grad_transform(grad_tiles, tiles_h, tiles_w)

        def compute(first, last):
            for index in range(first, last):
                start, stop = chunks[index]
                partials[index] = np.matmul(
                    np.ascontiguousarray(transformed_grad[:, :, start:stop]),
                    np.ascontiguousarray(transformed[:, :, start:stop]).transpose(0, 2, 1))
    else:
        def compute(first, last):
            for index in range(first, last):
                start, stop = chunks[index]
                segments = _row_segments(start, stop, tiles_h, tiles_w)
                transformed = np.empty((16, channels, stop - start), input.dtype)
                input_kernel(padded, segments, transformed)
                transformed_grad = np.empty((16, out_channels, stop - start), input.dtype)
                grad_kernel(grad_tiles, segments, transformed_grad)
                partials[index] = np.matmul(transformed_grad, transformed.transpose(0, 2, 1))
    _threads.split(len(chunks), 16 * out_channels * channels * tiles, compute,
                   _threads.GEMM_GRAIN)
    total = partials[0]
    for partial in partials[1:]:
        np.add(total, partial, out=total)
    return _weight_grad_transform(total.reshape(4, 4, out_channels, channels))


def _weight_grad_transform(products):
    """G^T u G of each (C_out, C_in) position's 4x4 sums ``products[xi, nu]``: (C_out, C_in,
    3, 3); G^T's rows are (1, 1/2, 1/2, 0), (0, 1/2, -1/2, 0), (0, 1/2, 1/2, 1)."""
    rows = (products[0] + (products[1] + products[2]) * 0.5, (products[1] - products[2]) * 0.5,
            (products[1] + products[2]) * 0.5 + products[3])
    out = np.empty(products.shape[2:] + (3, 3), products.dtype)
    for a, row in enumerate(rows):  # row[nu]: (C_out, C_in)
        out[:, :, a, 0] = row[0] + (row[1] + row[2]) * 0.5
        out[:, :, a, 1] = (row[1] - row[2]) * 0.5
        out[:, :, a, 2] = (row[1] + row[2]) * 0.5 + row[3]
    return out


def transpose_applies(padding):
    return all(before <= 2 and after <= 2 for before, after in padding)


# ---- the transforms in NumPy: the same operations, in the same order, as the kernels below --
def _rows_of_input(d0, d1, d2, d3):
    """B^T applied along one axis of a 4-long window, given its four slices."""
    return d0 - d2, d1 + d2, d2 - d1, d1 - d3


def _input_transform(padded, tiles_h, tiles_w):
    """B^T d B of every tile: (16, C, N * tiles_h * tiles_w), tiles in (n, i, j) order; B^T
    along whole image rows of a channel-major copy first, then along each tile's columns
    straight into place."""
    batch, channels = padded.shape[:2]
    by_channel = np.ascontiguousarray(padded.transpose(1, 0, 2, 3))
    rows = _rows_of_input(*[by_channel[:, :, a:a + 2 * tiles_h:2] for a in range(4)])
    out = np.empty((16, channels, batch, tiles_h, tiles_w), padded.dtype)
    for xi, row in enumerate(rows):
        d0, d1, d2, d3 = (row[..., b:b + 2 * tiles_w:2] for b in range(4))
        np.subtract(d0, d2, out=out[4 * xi])
        np.add(d1, d2, out=out[4 * xi + 1])
        np.subtract(d2, d1, out=out[4 * xi + 2])
        np.subtract(d1, d3, out=out[4 * xi + 3])
    return out.reshape(16, channels, -1)


def _grad_transform(grad_tiles, tiles_h, tiles_w):
    """A g A^T of every 2x2 gradient tile: (16, K, N * tiles_h * tiles_w); A's rows are (1, 0),
    (1, 1), (1, -1), (0, -1)."""
    batch, out_channels = grad_tiles.shape[:2]
    g = grad_tiles.reshape(batch, out_channels, tiles_h, 2, tiles_w, 2)
    out = np.empty((16, out_channels, batch, tiles_h, tiles_w), grad_tiles.dtype)
    columns = [(g[:, :, :, 0, :, sigma], g[:, :, :, 0, :, sigma] + g[:, :, :, 1, :, sigma],
                g[:, :, :, 0, :, sigma] - g[:, :, :, 1, :, sigma], -g[:, :, :, 1, :, sigma])
               for sigma in range(2)]
    for xi in range(4):
        q0, q1 = columns[0][xi], columns[1][xi]
        for nu, value in enumerate((q0, q0 + q1, q0 - q1, -q1)):
            out[4 * xi + nu] = value.transpose(1, 0, 2, 3)
    return out.reshape(16, out_channels, -1)


def _output_transform(products, output, tiles_h, tiles_w):
    """A^T m A of every tile's products (16, K, tiles) into ``output`` (N, K, H_out, W_out)."""
    batch, out_channels, out_height, out_width = output.shape
    m = products.reshape(4, 4, out_channels, batch, tiles_h, tiles_w)
    columns = [((m[0, nu] + m[1, nu]) + m[2, nu], (m[1, nu] - m[2, nu]) - m[3, nu])
               for nu in range(4)]
    full = np.empty((batch, out_channels, tiles_h, 2, tiles_w, 2), output.dtype)
    for rho in range(2):
        s0, s1, s2, s3 = (columns[nu][rho] for nu in range(4))
        full[:, :, :, rho, :, 0] = ((s0 + s1) + s2).transpose(1, 0, 2, 3)
        full[:, :, :, rho, :, 1] = ((s1 - s2) - s3).transpose(1, 0, 2, 3)
    output[...] = full.reshape(batch, out_channels, 2 * tiles_h, 2 * tiles_w)[
        :, :, :out_height, :out_width]


# ---- compiled transforms of one chunk of tiles [start, stop) -------------------------------
def _row_segments(start, stop, tiles_h, tiles_w):
    """The rows of tiles (fixed n and i) that the chunk [start, stop) of tiles in (n, i, j)
    order meets: int64 rows (n, i, first j, end j, the chunk column of j = 0), so that the
    kernels' innermost loops run along j."""
    rows = np.arange(start // tiles_w, (stop - 1) // tiles_w + 1)
    begin = rows * tiles_w
    return np.stack((rows // tiles_h, rows % tiles_h, np.maximum(start, begin) - begin,
                     np.minimum(stop, begin + tiles_w) - begin, begin - start), axis=1)


@_jit.kernel
def _input_transform_kernel(padded, segments, out):
    """out[4 * xi + nu, c, t - start] = (B^T d B)[xi, nu] of tile t of channel c. Per row of
    tiles, B^T first combines the four image rows along their whole length, then B runs along
    each tile's columns."""
    rows = np.empty((4, padded.shape[3]), padded.dtype)
    for c in range(padded.shape[1]):
        for segment in range(segments.shape[0]):
            n = segments[segment, 0]
            i = segments[segment, 1]
            first = segments[segment, 2]
            last = segments[segment, 3]
            offset = segments[segment, 4]
            p0 = padded[n, c, 2 * i]
            p1 = padded[n, c, 2 * i + 1]
            p2 = padded[n, c, 2 * i + 2]
            p3 = padded[n, c, 2 * i + 3]
            for x in range(2 * first, 2 * last + 2):
                rows[0, x] = p0[x] - p2[x]
                rows[1, x] = p1[x] + p2[x]
                rows[2, x] = p2[x] - p1[x]
                rows[3, x] = p1[x] - p3[x]
            for xi in range(4):
                row = rows[xi]
                out0 = out[4 * xi, c]
                out1 = out[4 * xi + 1, c]
                out2 = out[4 * xi + 2, c]
                out3 = out[4 * xi + 3, c]
                for j in range(first, last):
                    x = 2 * j
                    out0[offset + j] = row[x] - row[x + 2]
                    out1[offset + j] = row[x + 1] + row[x + 2]
                    out2[offset + j] = row[x + 2] - row[x + 1]
                    out3[offset + j] = row[x + 1] - row[x + 3]


@_jit.kernel
def _output_transform_kernel(products, segments, output):
    """output[n, k, 2i + rho, 2j + sigma] = (A^T m A)[rho, sigma] of tile t = (n, i, j), the
    parts past the output's edge dropped."""
    out_height, out_width = output.shape[2], output.shape[3]
    for k in range(products.shape[1]):
        m0 = products[0, k]
        m1 = products[1, k]
        m2 = products[2, k]
        m3 = products[3, k]
        m4 = products[4, k]
        m5 = products[5, k]
        m6 = products[6, k]
        m7 = products[7, k]
        m8 = products[8, k]
        m9 = products[9, k]
        m10 = products[10, k]
        m11 = products[11, k]
        m12 = products[12, k]
        m13 = products[13, k]
        m14 = products[14, k]
        m15 = products[15, k]
        for segment in range(segments.shape[0]):
            n = segments[segment, 0]
            i = segments[segment, 1]
            first = segments[segment, 2]
            last = segments[segment, 3]
            offset = segments[segment, 4]
            top = output[n, k, 2 * i]
            second_row = 2 * i + 1 < out_height
            bottom = output[n, k, 2 * i + 1] if second_row else top
            full = min(last, out_width // 2)  # tiles whose two columns both lie inside
            for j in range(first, last):
                column = offset + j
                # A^T down each of the four columns, then along the two rows
                a0 = (m0[column] + m4[column]) + m8[column]
                a1 = (m1[column] + m5[column]) + m9[column]
                a2 = (m2[column] + m6[column]) + m10[column]
                a3 = (m3[column] + m7[column]) + m11[column]
                b0 = (m4[column] - m8[column]) - m12[column]
                b1 = (m5[column] - m9[column]) - m13[column]
                b2 = (m6[column] - m10[column]) - m14[column]
                b3 = (m7[column] - m11[column]) - m15[column]
                top[2 * j] = (a0 + a1) + a2
                if second_row:
                    bottom[2 * j] = (b0 + b1) + b2
                if j < full:
                    top[2 * j + 1] = (a1 - a2) - a3
                    if second_row:
                        bottom[2 * j + 1] = (b1 - b2) - b3


@_jit.kernel
def _grad_transform_kernel(grad_tiles, segments, out):
    """out[4 * xi + nu, k, t - start] = (A g A^T)[xi, nu] of the 2x2 gradient tile t of
    channel k: A down the two rows of a row of tiles first, then along each tile's two
    columns."""
    rows = np.empty((4, grad_tiles.shape[3]), grad_tiles.dtype)
    for k in range(grad_tiles.shape[1]):
        for segment in range(segments.shape[0]):
            n = segments[segment, 0]
            i = segments[segment, 1]
            first = segments[segment, 2]
            last = segments[segment, 3]
            offset = segments[segment, 4]
            top = grad_tiles[n, k, 2 * i]
            bottom = grad_tiles[n, k, 2 * i + 1]
            for x in range(2 * first, 2 * last):
                rows[0, x] = top[x]
                rows[1, x] = top[x] + bottom[x]
                rows[2, x] = top[x] - bottom[x]
                rows[3, x] = -bottom[x]
            for xi in range(4):
                row = rows[xi]
                out0 = out[4 * xi, k]
                out1 = out[4 * xi + 1, k]
                out2 = out[4 * xi + 2, k]
                out3 = out[4 * xi + 3, k]
                for j in range(first, last):
                    out0[offset + j] = row[2 * j]
                    out1[offset + j] = row[2 * j] + row[2 * j + 1]
                    out2[offset + j] = row[2 * j] - row[2 * j + 1]
                    out3[offset + j] = -row[2 * j + 1]
