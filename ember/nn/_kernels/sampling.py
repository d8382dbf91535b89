"""Resampling for F.interpolate: nearest, nearest-exact and (bi/tri)linear, one axis at a time.

Every spatial axis is resampled independently (all these modes are separable): nearest modes
gather an index per output position; linear modes multiply by an (out, in) interpolation matrix
with two weights per row, so the backward pass is the transposed gather or matrix product.
Source positions follow PyTorch's rules, computed in the input's precision as PyTorch does.
GridSample samples at arbitrary points with bilinear or nearest weights.
"""
import numpy as np

from ...autograd.function import Op
from .padding import scatter_add_axis


class Resample(Op):
    """Apply per-axis gathers (index arrays) or interpolation matrices to the spatial axes."""

    @staticmethod
    def forward(ctx, x, steps):
        out = x
        for axis, operator in steps:
            if operator.ndim == 1:
                out = np.take(out, operator, axis=axis)
            else:
                out = np.moveaxis(np.moveaxis(out, axis, -1) @ operator.T, -1, axis)
        ctx.steps = steps
        ctx.input_shape = x.shape
        return np.ascontiguousarray(out) if out is not x else x.copy()

    @staticmethod
    def backward(ctx, grad):
        for axis, operator in reversed(ctx.steps):
            if operator.ndim == 1:
                grad = scatter_add_axis(grad, operator, ctx.input_shape[axis], axis)
            else:
                grad = np.moveaxis(np.moveaxis(grad, axis, -1) @ operator, -1, axis)
        return np.ascontiguousarray(grad), None


def _reflect(source, twice_low, twice_high):
    """Reflect coordinates into [twice_low / 2, twice_high / 2]; also d(result)/d(source)."""
    if twice_low == twice_high:
        return np.zeros_like(source), np.zeros_like(source)
    low = source.dtype.type(twice_low / 2)
    span = source.dtype.type((twice_high - twice_low) / 2)
    shifted = source - low
    sign = np.where(shifted < 0, -1, 1).astype(source.dtype)
    shifted = np.abs(shifted)
    extra = np.fmod(shifted, span)
    flips = np.floor(shifted / span).astype(np.int64)
    even = flips % 2 == 0
    reflected = np.where(even, extra + low, span - extra + low)
    return reflected.astype(source.dtype), np.where(even, sign, -sign)


def _clip(source, size):
    """Clip to [0, size - 1]; the derivative is zero at and beyond the edges (PyTorch)."""
    inside = (source > 0) & (source < size - 1)
    return np.clip(source, 0, size - 1).astype(source.dtype), inside.astype(source.dtype)


def _source_coordinates(coordinate, size, padding_mode, align_corners):
    """Pixel coordinate for normalised ``coordinate`` in [-1, 1], and its derivative."""
    dtype = coordinate.dtype
    if align_corners:
        scale = dtype.type((size - 1) / 2)
        source = (coordinate + dtype.type(1)) * scale
    else:
        scale = dtype.type(size / 2)
        source = ((coordinate + dtype.type(1)) * dtype.type(size) - dtype.type(1)) / dtype.type(2)
    derivative = np.full_like(source, scale)
    if padding_mode == "border":
        source, inside = _clip(source, size)
        derivative *= inside
    elif padding_mode == "reflection":
        if align_corners:
            source, flip = _reflect(source, 0, 2 * (size - 1))
        else:
            source, flip = _reflect(source, -1, 2 * size - 1)
        derivative *= flip
        source, inside = _clip(source, size)
        derivative *= inside
    return source, derivative


def _taps(source_x, source_y, height, width, mode):
    """(flat index, in-bounds mask, weight, d weight/dx, d weight/dy) for each sampled tap."""
    if mode == "nearest":
        column = np.rint(source_x).astype(np.int64)
        row = np.rint(source_y).astype(np.int64)
        corners = [(row, column, np.ones_like(source_x), np.zeros_like(source_x),
                    np.zeros_like(source_x))]
    else:
        left = np.floor(source_x)
        top = np.floor(source_y)
        right_weight = source_x - left
        bottom_weight = source_y - top
        left_weight = 1 - right_weight
        top_weight = 1 - bottom_weight
        left_index = left.astype(np.int64)
        top_index = top.astype(np.int64)
        corners = [
            (top_index, left_index, left_weight * top_weight, -top_weight, -left_weight),
            (top_index, left_index + 1, right_weight * top_weight, top_weight, -right_weight),
            (top_index + 1, left_index, left_weight * bottom_weight, -bottom_weight, left_weight),
            (top_index + 1, left_index + 1, right_weight * bottom_weight, bottom_weight,
             right_weight)]
    taps = []
    for row, column, weight, weight_dx, weight_dy in corners:
        inside = (row >= 0) & (row < height) & (column >= 0) & (column < width)
        flat = np.where(inside, row * width + column, 0)
        taps.append((flat, inside, weight, weight_dx, weight_dy))
    return taps


class GridSample(Op):
    """Sample (N, C, H, W) at the normalised (x, y) positions of a (N, Ho, Wo, 2) grid."""

    @staticmethod
    def forward(ctx, x, grid, mode, padding_mode, align_corners):
        batch, channels, height, width = x.shape
        flat_input = x.reshape(batch, channels, height * width)
        source_x, _ = _source_coordinates(grid[..., 0], width, padding_mode, align_corners)
        source_y, _ = _source_coordinates(grid[..., 1], height, padding_mode, align_corners)
        out = np.zeros((batch, channels) + grid.shape[1:3], dtype=x.dtype)
        for flat, inside, weight, _, _ in _taps(source_x, source_y, height, width, mode):
            values = np.take_along_axis(flat_input, flat.reshape(batch, 1, -1), axis=2)
            scale = (weight * inside).reshape(batch, 1, -1)
            out += (values * scale).reshape(out.shape)
        ctx.save_for_backward(x, grid)
        ctx.options = (mode, padding_mode, align_corners)
        return out

    @staticmethod
    def backward(ctx, grad):
        x, grid = ctx.saved_tensors
        mode, padding_mode, align_corners = ctx.options
        batch, channels, height, width = x.shape
        flat_input = x.reshape(batch, channels, height * width)
        source_x, derivative_x = _source_coordinates(grid[..., 0], width, padding_mode,
                                                     align_corners)
        source_y, derivative_y = _source_coordinates(grid[..., 1], height, padding_mode,
                                                     align_corners)
        flat_grad = grad.reshape(batch, channels, -1)
        grad_input = None
        if ctx.needs_input_grad[0]:
            plane = (np.arange(batch)[:, None, None] * channels
                     + np.arange(channels)[None, :, None]) * (height * width)
            accumulated = np.zeros(batch * channels * height * width, dtype=np.float64)
        grad_source_x = np.zeros(flat_grad.shape[::2], dtype=x.dtype)
        grad_source_y = np.zeros_like(grad_source_x)
        for flat, inside, weight, weight_dx, weight_dy in _taps(source_x, source_y, height,
                                                                 width, mode):
            flat = flat.reshape(batch, 1, -1)
            mask = inside.reshape(batch, 1, -1)
            if ctx.needs_input_grad[0]:
                contribution = flat_grad * (weight.reshape(batch, 1, -1) * mask)
                accumulated += np.bincount((plane + flat).ravel(), contribution.ravel(),
                                           minlength=accumulated.size)
            if ctx.needs_input_grad[1] and mode != "nearest":
                values = np.take_along_axis(flat_input, flat, axis=2) * mask
                summed = np.sum(flat_grad * values, axis=1)
                grad_source_x += summed * weight_dx.reshape(batch, -1)
                grad_source_y += summed * weight_dy.reshape(batch, -1)
        if ctx.needs_input_grad[0]:
            grad_input = accumulated.astype(x.dtype).reshape(x.shape)
        grad_grid = None
        if ctx.needs_input_grad[1]:
            grad_grid = np.stack([grad_source_x.reshape(grid.shape[:3]) * derivative_x,
                                  grad_source_y.reshape(grid.shape[:3]) * derivative_y], axis=-1)
            grad_grid = grad_grid.astype(grid.dtype, copy=False)
        return grad_input, grad_grid, None, None, None


def nearest_index(in_size, out_size, scale, exact, dtype):
    """floor(dst * s) (or floor((dst + 0.5) * s) for nearest-exact), s = 1/scale or in/out."""
    ratio = dtype.type(1.0 / scale if scale is not None and scale > 0 else in_size / out_size)
    positions = np.arange(out_size, dtype=dtype)
    if exact:
        positions = positions + dtype.type(0.5)
    return np.minimum(np.floor(positions * ratio).astype(np.int64), in_size - 1)


def linear_matrix(in_size, out_size, scale, align_corners, dtype):
    """The (out, in) matrix of two-tap linear interpolation weights for one axis."""
    if align_corners:
        ratio = (in_size - 1) / (out_size - 1) if out_size > 1 else 0.0
        ratio = dtype.type(ratio)
        source = np.arange(out_size, dtype=dtype) * ratio
    else:
        ratio = dtype.type(1.0 / scale if scale is not None and scale > 0 else in_size / out_size)
        source = (np.arange(out_size, dtype=dtype) + dtype.type(0.5)) * ratio - dtype.type(0.5)
        source = np.maximum(source, dtype.type(0))
    lower = source.astype(np.int64)
    upper = lower + (lower < in_size - 1)
    upper_weight = np.clip(source - lower.astype(dtype), 0, 1).astype(dtype)
    lower_weight = (dtype.type(1) - upper_weight).astype(dtype)
    matrix = np.zeros((out_size, in_size), dtype=dtype)
    rows = np.arange(out_size)
    np.add.at(matrix, (rows, lower), lower_weight)
    np.add.at(matrix, (rows, upper), upper_weight)
    return matrix
