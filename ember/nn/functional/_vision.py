"""Vision functions: interpolate (and its deprecated upsample aliases), grid_sample,
affine_grid, pixel_shuffle/pixel_unshuffle and channel_shuffle."""
import math
import warnings

import numpy as np

from ..._dtype import accumulation_dtype, is_floating, scalar_type_name
from ...autograd.function import torch_named
from ...ops.shape import keep_memory_format
from ...tensor import Tensor
from .._kernels.padding import GatherAxes
from .._kernels.sampling import (
    AffineGridGenerator, GridSample, antialias_matrix, cubic_matrix, linear_matrix, nearest_index,
    resample_uint8)
from ._conv import check_tensors
from ._pooling import adaptive_avg_pool1d, adaptive_avg_pool2d, adaptive_avg_pool3d

__all__ = ["GRID_SAMPLE_INTERPOLATION_MODES", "GRID_SAMPLE_PADDING_MODES", "affine_grid",
           "channel_shuffle", "grid_sample", "interpolate", "native_channel_shuffle",
           "pixel_shuffle", "pixel_unshuffle", "upsample", "upsample_bilinear",
           "upsample_nearest"]

# grid_sample's modes and ATen's codes for them (torch.grid_sampler takes the codes).
GRID_SAMPLE_INTERPOLATION_MODES = {"bilinear": 0, "nearest": 1, "bicubic": 2}
GRID_SAMPLE_PADDING_MODES = {"zeros": 0, "border": 1, "reflection": 2}


_LINEAR_MODES = {"linear": 1, "bilinear": 2, "trilinear": 3}
# The interpolating modes and the spatial dims each needs.
_INTERPOLATING_MODES = {**_LINEAR_MODES, "bicubic": 2}
_ALL_MODES = "nearest | linear | bilinear | bicubic | trilinear | lanczos | area | nearest-exact"


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


# PyTorch's grad_fn names of interpolate by mode, given the spatial dims.
_UPSAMPLE_NAMES = {
    "nearest": lambda dims: f"UpsampleNearest{dims}DBackward0",
    "nearest-exact": lambda dims: f"UpsampleNearestExact{dims}DBackward0",
    "linear": lambda dims: "UpsampleLinear1DBackward0",
    "bilinear": lambda dims: "UpsampleBilinear2DBackward0",
    "bicubic": lambda dims: "UpsampleBicubic2DBackward0",
    "trilinear": lambda dims: "UpsampleTrilinear3DBackward0"}


def interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None,
                recompute_scale_factor=None, antialias=False):
    """Resize the spatial dimensions (all but the first two) to ``size`` or by ``scale_factor``."""
    check_tensors("interpolate", AttributeError, input=input)
    dims = input.dim() - 2
    if mode in ("nearest", "area", "nearest-exact"):
        if align_corners is not None:
            raise ValueError("align_corners option can only be set with the interpolating modes: "
                             "linear | bilinear | bicubic | trilinear")
    elif align_corners is None:
        align_corners = False
    if antialias and (mode not in ("bilinear", "bicubic", "lanczos") or input.dim() != 4):
        raise ValueError("Anti-alias option is restricted to bilinear, bicubic, and lanczos "
                         "modes and requires a 4-D tensor as input")
    output_size, scales = _output_size(input, size, scale_factor, recompute_scale_factor, mode)
    if input._data.dtype == np.uint8 and mode in ("bilinear", "bicubic") and dims == 2:
        if mode == "bicubic" and not antialias:
            # PyTorch's generic kernel casts unclamped float results to bytes: not reproduced
            raise NotImplementedError("interpolate: bicubic resizing of uint8 images without "
                                      "antialias is not implemented in ember; use "
                                      "antialias=True or a floating image")
        _check_sizes(input._data, output_size)
        return Tensor._result(resample_uint8(input._data, output_size, scales,
                                             mode == "bicubic", antialias, align_corners))
    if antialias and mode != "lanczos":
        return _antialiased(input, output_size, scales, mode, align_corners)
    if mode == "area":
        pools = {1: adaptive_avg_pool1d, 2: adaptive_avg_pool2d, 3: adaptive_avg_pool3d}
        if dims not in pools:
            raise _dimension_error(input, mode)
        return pools[dims](input, output_size)
    _check_mode(input, mode, dims)
    data = input._data
    nearest_of_bytes = data.dtype == np.uint8 and mode in ("nearest", "nearest-exact")
    if not is_floating(data.dtype) and not nearest_of_bytes:
        # the kernel PyTorch's refusal names: 2-D bilinear and nearest take its channels-last
        # kernels, the others compute their interpolation weights first
        if dims == 2 and mode in ("bilinear", "nearest", "nearest-exact"):
            kernel = f"upsample_{'bilinear' if mode == 'bilinear' else 'nearest'}2d_channels_last"
        else:
            kind = ("cubic" if mode == "bicubic" else "linear" if mode in _LINEAR_MODES
                    else "nearest")
            kernel = f"compute_indices_weights_{kind}"
        raise NotImplementedError(f'"{kernel}" not implemented for '
                                  f"'{scalar_type_name(data.dtype)}'")
    maps = []
    # half-precision weights and products in float32, rounded once at the end (PyTorch's opmath);
    # nearest positions of uint8 images in float32, as PyTorch's
    work = np.dtype(np.float32) if nearest_of_bytes else accumulation_dtype(data.dtype)
    for index in range(dims):
        axis = 2 + index
        in_size = data.shape[axis]
        out_size = output_size[index]
        if out_size <= 0 or in_size <= 0:
            raise _size_error(data.shape[2:], output_size)
        if mode == "bicubic":
            operator = cubic_matrix(in_size, out_size, scales[index], align_corners, work)
        elif mode in _LINEAR_MODES:
            operator = linear_matrix(in_size, out_size, scales[index], align_corners, work)
        else:
            operator = nearest_index(in_size, out_size, scales[index], mode == "nearest-exact",
                                      work)
        maps.append((axis, operator))
    return torch_named(GatherAxes.apply(input, tuple(maps), 0), _UPSAMPLE_NAMES[mode](dims))


def _check_sizes(data, output_size):
    for out_size, in_size in zip(output_size, data.shape[2:]):
        if out_size <= 0 or in_size <= 0:
            raise _size_error(data.shape[2:], output_size)


def _size_error(input_sizes, output_sizes):
    """PyTorch's message, its sizes labelled (D, H, W), with 'and' in the 1-D one only."""
    labels = ("D", "H", "W")[-len(input_sizes):]

    def labelled(sizes):
        return ", ".join(f"{label}: {size}" for label, size in zip(labels, sizes))
    joint = " and output" if len(input_sizes) == 1 else " output"
    return RuntimeError(f"Input and output sizes should be greater than 0, but got input "
                        f"({labelled(input_sizes)}){joint} ({labelled(output_sizes)})")


def _antialiased(input, output_size, scales, mode, align_corners):
    """Antialiased bilinear/bicubic resizing (PIL's, as PyTorch's): one weight matrix per axis
    that changes size, the last axis first, as PyTorch's separable kernel resamples."""
    data = input._data
    if data.dtype not in (np.float32, np.float64):
        raise NotImplementedError(f'"compute_index_ranges_weights" not implemented for '
                                  f"'{scalar_type_name(data.dtype)}'")
    _check_sizes(data, output_size)
    maps = []
    for axis in (3, 2):
        if output_size[axis - 2] != data.shape[axis]:
            maps.append((axis, antialias_matrix(data.shape[axis], output_size[axis - 2],
                                                scales[axis - 2], align_corners,
                                                mode == "bicubic", data.dtype)))
    name = "UpsampleBicubic2DAaBackward0" if mode == "bicubic" else "UpsampleBilinear2DAaBackward0"
    return torch_named(GatherAxes.apply(input, tuple(maps), 0), name)


def _output_size(input, size, scale_factor, recompute_scale_factor, mode):
    """interpolate's output spatial size, and the scales its source positions use (None: the
    ratio of the sizes)."""
    dims = input.dim() - 2
    if size is not None and scale_factor is not None:
        raise ValueError("only one of size or scale_factor should be defined")
    if size is None and scale_factor is None:
        raise ValueError("either size or scale_factor should be defined")
    if size is not None:
        if recompute_scale_factor:
            raise ValueError("recompute_scale_factor is not meaningful with an explicit size.")
        return [int(value) for value in _spatial_list(size, dims, input, "size")], [None] * dims
    scales = [float(value) for value in _spatial_list(scale_factor, dims, input, "scale")]
    output_size = [math.floor(float(input.shape[2 + index]) * scales[index])
                   for index in range(dims)]
    if recompute_scale_factor or mode == "area":
        scales = [None] * dims
    return output_size, scales


def _check_mode(input, mode, dims):
    """The nearest and linear modes need 1 to 3 spatial dims (linear exactly its own count)."""
    if mode in ("nearest", "nearest-exact"):
        if dims not in (1, 2, 3):
            raise _dimension_error(input, mode)
    elif mode in _INTERPOLATING_MODES:
        if dims != _INTERPOLATING_MODES[mode]:
            needed = _INTERPOLATING_MODES[mode] + 2
            if dims in (1, 2, 3) and mode != "bicubic":  # PyTorch: the general error for it
                raise NotImplementedError(f"Got {input.dim()}D input, but {mode} mode needs "
                                          f"{needed}D input")
            raise _dimension_error(input, mode)
    elif mode == "lanczos":
        raise NotImplementedError(f"interpolate: mode '{mode}' is not implemented in ember")
    else:
        raise NotImplementedError(f"Input Error: Only 3D, 4D and 5D input Tensors supported "
                                  f"(got {input.dim()}D) for the modes: {_ALL_MODES} "
                                  f"(got {mode})")


def _dimension_error(input, mode):
    return NotImplementedError(f"Input Error: Only 3D, 4D and 5D input Tensors supported (got "
                               f"{input.dim()}D) for the modes: {_ALL_MODES} (got {mode})")


# ---- grid_sample and affine_grid -----------------------------------------------------------------
_ALIGN_CORNERS_WARNING = (
    "Default grid_sample and affine_grid behavior has changed to align_corners=False since "
    "1.3.0. Please specify align_corners=True if the old behavior is desired. See the "
    "documentation of grid_sample for details.")


def grid_sample(input, grid, mode="bilinear", padding_mode="zeros", align_corners=None):
    """Sample ``input`` (N, C, H, W) at ``grid`` (N, Ho, Wo, 2) positions in [-1, 1] (x, y), or
    (N, C, D, H, W) at (N, Do, Ho, Wo, 3) ones (x, y, z)."""
    if mode not in ("bilinear", "nearest", "bicubic"):
        raise ValueError(f"nn.functional.grid_sample(): expected mode to be 'bilinear', "
                         f"'nearest' or 'bicubic', but got: '{mode}'")
    if padding_mode not in ("zeros", "border", "reflection"):
        raise ValueError(f"nn.functional.grid_sample(): expected padding_mode to be 'zeros', "
                         f"'border', or 'reflection', but got: '{padding_mode}'")
    if align_corners is None:
        warnings.warn(_ALIGN_CORNERS_WARNING, stacklevel=2)
        align_corners = False
    check_tensors("grid_sampler", input=input, grid=grid)
    dtype = input._data.dtype
    if not is_floating(dtype):
        raise NotImplementedError(f'"grid_sampler" not implemented for '
                                  f"'{scalar_type_name(dtype)}'")
    if grid._data.dtype != dtype:
        raise RuntimeError(f"expected scalar type {scalar_type_name(dtype)} but found "
                           f"{scalar_type_name(grid._data.dtype)}")
    _check_grid_sampler(input, grid, mode)
    return GridSample.apply(input, grid, mode, padding_mode, bool(align_corners))


def _check_grid_sampler(input, grid, mode):
    """PyTorch's checks of grid_sampler's shapes, in its order and words."""
    sizes = list(input.shape)
    if input.dim() < 1 or grid.dim() < 1 or input.shape[0] != grid.shape[0]:
        raise RuntimeError(f"grid_sampler(): expected grid and input to have same batch size, "
                           f"but got input with sizes {sizes} and grid with sizes "
                           f"{list(grid.shape)}")
    if grid.shape[-1] != input.dim() - 2:
        raise RuntimeError(f"grid_sampler(): expected grid to have size {input.dim() - 2} in "
                           f"last dimension, but got grid with sizes {list(grid.shape)}")
    for dim in range(2, input.dim()):
        if input.shape[dim] <= 0:
            raise RuntimeError(f"grid_sampler(): expected input to have non-empty spatial "
                               f"dimensions, but input has sizes {sizes} with dimension {dim} "
                               f"being empty")
    expected = 4 if input.dim() == 4 else 5
    if input.dim() != expected or grid.dim() != expected:
        raise RuntimeError(f"grid_sampler(): expected {expected}D input and grid with same "
                           f"number of dimensions, but got input with sizes {sizes} and grid "
                           f"with sizes {list(grid.shape)}")
    if expected == 5 and mode == "bicubic":
        raise RuntimeError("grid_sampler(): bicubic interpolation only supports 4D input")


def affine_grid(theta, size, align_corners=None):
    """The (N, H, W, 2) or (N, D, H, W, 3) sampling grid of the affine maps ``theta`` (N, 2, 3)
    or (N, 3, 4)."""
    if align_corners is None:
        warnings.warn(_ALIGN_CORNERS_WARNING, stacklevel=2)
        align_corners = False
    if not is_floating(theta._data.dtype):
        raise ValueError(f"Expected theta to have floating point type, but got {theta.dtype}")
    if len(size) not in (4, 5):
        raise NotImplementedError(f"affine_grid only supports 4D and 5D sizes, for 2D and 3D "
                                  f"affine transforms, respectively. Got size {size}.")
    spatial = len(size) - 2
    if theta.dim() != 3 or tuple(theta.shape[-2:]) != (spatial, spatial + 1):
        raise ValueError(f"Expected a batch of {spatial}D affine matrices of shape "
                         f"Nx{spatial}x{spatial + 1} for size {size}. Got {theta.shape}.")
    if align_corners and min(size[2:]) == 1:
        warnings.warn("Since version 1.3.0, affine_grid behavior has changed for unit-size grids "
                      "when align_corners=True. This is not an intended use case of affine_grid. "
                      "See the documentation of affine_grid for details.", stacklevel=2)
    elif min(size) <= 0:
        raise ValueError(f"Expected non-zero, positive output size. Got {size}")
    if theta.shape[0] != size[0]:
        # PyTorch's words: its kernel is a batched product of the base grid with theta
        raise RuntimeError(f"Expected size for first two dimensions of batch2 tensor to be: "
                           f"[{size[0]}, {spatial + 1}] but got: [{theta.shape[0]}, "
                           f"{spatial + 1}].")
    return AffineGridGenerator.apply(theta, tuple(size[2:]), bool(align_corners))


def _check_pixel_arguments(name, input, factor_name, factor):
    check_tensors(name, input=input)
    if input.dim() < 3:
        raise RuntimeError(f"{name} expects input to have at least 3 dimensions, but got input "
                           f"with {input.dim()} dimension(s)")
    if factor <= 0:
        raise RuntimeError(f"{name} expects a positive {factor_name}, but got {factor}")


def pixel_shuffle(input, upscale_factor):
    """(*, C r^2, H, W) -> (*, C, H r, W r), by reshapes and one permute."""
    _check_pixel_arguments("pixel_shuffle", input, "upscale_factor", upscale_factor)
    *batch, channels, height, width = input.shape
    factor = upscale_factor
    if channels % (factor * factor) != 0:
        raise RuntimeError(f"pixel_shuffle expects its input's 'channel' dimension to be "
                           f"divisible by the square of upscale_factor, but "
                           f"input.size(-3)={channels} is not divisible by {factor * factor}")
    out_channels = channels // (factor * factor)
    split = input.reshape(-1, out_channels, factor, factor, height, width)
    shuffled = split.permute(0, 1, 4, 2, 5, 3)
    return _new_tensor(keep_memory_format(
        shuffled.reshape(tuple(batch) + (out_channels, height * factor, width * factor)), input),
        input)


def pixel_unshuffle(input, downscale_factor):
    """(*, C, H r, W r) -> (*, C r^2, H, W), the inverse of pixel_shuffle."""
    _check_pixel_arguments("pixel_unshuffle", input, "downscale_factor", downscale_factor)
    *batch, channels, height, width = input.shape
    factor = downscale_factor
    if height % factor != 0:
        raise RuntimeError(f"pixel_unshuffle expects height to be divisible by "
                           f"downscale_factor, but input.size(-2)={height} is not divisible by "
                           f"{factor}")
    if width % factor != 0:
        raise RuntimeError(f"pixel_unshuffle expects width to be divisible by downscale_factor, "
                           f"but input.size(-1)={width} is not divisible by {factor}")
    split = input.reshape(-1, channels, height // factor, factor, width // factor, factor)
    shuffled = split.permute(0, 1, 3, 5, 2, 4)
    return _new_tensor(keep_memory_format(shuffled.reshape(
        tuple(batch) + (channels * factor * factor, height // factor, width // factor)), input),
        input)


def _new_tensor(output, input):
    """``output``, or a copy where its reshapes left it a view of ``input`` (a factor of 1, a
    1x1 image): PyTorch's pixel (un)shuffle always returns a tensor of its own."""
    if np.may_share_memory(output._data, input._data):
        return output.clone()
    return output


def channel_shuffle(input, groups):
    """Interleave the channels of ``groups`` groups: (N, g * k, *) -> (N, k * g, *)."""
    check_tensors("channel_shuffle", input=input)
    if input.dim() <= 2:
        raise RuntimeError(f"channel_shuffle expects input with > 2 dims, but got input with "
                           f"sizes {list(input.shape)}")
    if groups <= 0:
        raise RuntimeError(f"Number of groups to divide channels in must be positive. Value of "
                           f"groups:{groups}")
    channels = input.shape[1]
    if channels % groups != 0:
        raise RuntimeError(f"Number of channels must be divisible by groups. Got {channels} "
                           f"channels and {groups} groups.")
    shape = tuple(input.shape)
    grouped = input.reshape((shape[0], groups, channels // groups) + shape[2:])
    return grouped.transpose(1, 2).reshape(shape)


def upsample(input, size=None, scale_factor=None, mode="nearest", align_corners=None):
    """Deprecated alias of interpolate (PyTorch warns the same way)."""
    warnings.warn("`nn.functional.upsample` is deprecated. Use `nn.functional.interpolate` "
                  "instead.", stacklevel=2)
    return interpolate(input, size, scale_factor, mode, align_corners)


def upsample_nearest(input, size=None, scale_factor=None):
    """Deprecated: interpolate(..., mode='nearest')."""
    warnings.warn("`nn.functional.upsample_nearest` is deprecated. Use "
                  "`nn.functional.interpolate` instead.", stacklevel=2)
    return interpolate(input, size, scale_factor, mode="nearest")


def upsample_bilinear(input, size=None, scale_factor=None):
    """Deprecated: interpolate(..., mode='bilinear', align_corners=True)."""
    warnings.warn("`nn.functional.upsample_bilinear` is deprecated. Use "
                  "`nn.functional.interpolate` instead.", stacklevel=2)
    return interpolate(input, size, scale_factor, mode="bilinear", align_corners=True)


native_channel_shuffle = channel_shuffle
