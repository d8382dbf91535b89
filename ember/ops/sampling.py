"""Resampling for F.interpolate: nearest, nearest-exact and (bi/tri)linear, one axis at a time.

Every spatial axis is resampled independently (all these modes are separable): nearest modes
gather an index per output position; linear modes multiply by an (out, in) interpolation matrix
with two weights per row, so the backward pass is the transposed gather or matrix product.
Source positions follow PyTorch's rules, computed in the input's precision as PyTorch does.
"""
import math

import numpy as np

from ..autograd.function import Function
from .padding import scatter_add_axis

_LINEAR_MODES = {"linear": 1, "bilinear": 2, "trilinear": 3}
_ALL_MODES = "nearest | linear | bilinear | bicubic | trilinear | lanczos | area | nearest-exact"


def _nearest_index(in_size, out_size, scale, exact, dtype):
    """floor(dst * s) (or floor((dst + 0.5) * s) for nearest-exact), s = 1/scale or in/out."""
    ratio = dtype.type(1.0 / scale if scale is not None and scale > 0 else in_size / out_size)
    positions = np.arange(out_size, dtype=dtype)
    if exact:
        positions = positions + dtype.type(0.5)
    return np.minimum(np.floor(positions * ratio).astype(np.int64), in_size - 1)


def _linear_matrix(in_size, out_size, scale, align_corners, dtype):
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


class Resample(Function):
    """Apply per-axis gathers (index arrays) or interpolation matrices to the spatial axes."""

    array_io = True

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


def _spatial_list(value, dims, input, kind):
    if isinstance(value, (list, tuple)):
        if len(value) != dims:
            spatial = list(input.shape[2:])
            if kind == "size":
                raise ValueError(
                    f"Input and output must have the same number of spatial dimensions, but got "
                    f"input with spatial dimensions of {spatial} and output size of {value}. "
                    f"Please provide input tensor in (N, C, d1, d2, ...,dK) format and output "
                    f"size in (o1, o2, ...,oK) format.")
            raise ValueError(
                f"Input and scale_factor must have the same number of spatial dimensions, but "
                f"got input with spatial dimensions of {spatial} and scale_factor of shape "
                f"{value}. Please provide input tensor in (N, C, d1, d2, ...,dK) format and "
                f"scale_factor in (s1, s2, ...,sK) format.")
        return list(value)
    return [value] * dims


def interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None,
                recompute_scale_factor=None, antialias=False):
    """Resize the spatial dimensions (all but the first two) to ``size`` or by ``scale_factor``."""
    dims = input.dim() - 2
    if mode in ("nearest", "area", "nearest-exact"):
        if align_corners is not None:
            raise ValueError("align_corners option can only be set with the interpolating modes: "
                             "linear | bilinear | bicubic | trilinear")
    elif align_corners is None:
        align_corners = False
    if antialias:
        raise NotImplementedError("interpolate: antialias=True is not implemented in ember")
    if size is not None and scale_factor is not None:
        raise ValueError("only one of size or scale_factor should be defined")
    if size is None and scale_factor is None:
        raise ValueError("either size or scale_factor should be defined")
    if size is not None:
        if recompute_scale_factor:
            raise ValueError("recompute_scale_factor is not meaningful with an explicit size.")
        output_size = [int(value) for value in _spatial_list(size, dims, input, "size")]
        scales = [None] * dims
    else:
        scales = [float(value) for value in
                  _spatial_list(scale_factor, dims, input, "scale")]
        output_size = [math.floor(float(input.shape[2 + index]) * scales[index])
                       for index in range(dims)]
        if recompute_scale_factor or mode == "area":
            scales = [None] * dims
    if mode == "area":
        from . import pooling
        pools = {1: pooling.adaptive_avg_pool1d, 2: pooling.adaptive_avg_pool2d,
                 3: pooling.adaptive_avg_pool3d}
        if dims not in pools:
            raise _dimension_error(input, mode)
        return pools[dims](input, output_size)
    if mode in ("nearest", "nearest-exact"):
        if dims not in (1, 2, 3):
            raise _dimension_error(input, mode)
    elif mode in _LINEAR_MODES:
        if dims != _LINEAR_MODES[mode]:
            needed = _LINEAR_MODES[mode] + 2
            if dims in (1, 2, 3):
                raise NotImplementedError(f"Got {input.dim()}D input, but {mode} mode needs "
                                          f"{needed}D input")
            raise _dimension_error(input, mode)
    elif mode in ("bicubic", "lanczos"):
        raise NotImplementedError(f"interpolate: mode '{mode}' is not implemented in ember")
    else:
        raise NotImplementedError(f"Input Error: Only 3D, 4D and 5D input Tensors supported "
                                  f"(got {input.dim()}D) for the modes: {_ALL_MODES} "
                                  f"(got {mode})")
    data = input._data
    if data.dtype.kind != "f":
        raise RuntimeError(f"interpolate: expected a floating point input, got {input.dtype}")
    steps = []
    for index in range(dims):
        axis = 2 + index
        in_size = data.shape[axis]
        out_size = output_size[index]
        if out_size <= 0 or in_size <= 0:
            raise RuntimeError(f"Input and output sizes should be greater than 0, but got input "
                               f"({', '.join(str(size) for size in data.shape[2:])}) and output "
                               f"({', '.join(str(size) for size in output_size)})")
        if mode in _LINEAR_MODES:
            operator = _linear_matrix(in_size, out_size, scales[index], align_corners, data.dtype)
        else:
            operator = _nearest_index(in_size, out_size, scales[index], mode == "nearest-exact",
                                      data.dtype)
        steps.append((axis, operator))
    return Resample.apply(input, tuple(steps))


def _dimension_error(input, mode):
    return NotImplementedError(f"Input Error: Only 3D, 4D and 5D input Tensors supported (got "
                               f"{input.dim()}D) for the modes: {_ALL_MODES} (got {mode})")
