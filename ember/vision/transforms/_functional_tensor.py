"""Image kernels on NumPy arrays laid out [..., C, H, W]: torchvision's tensor arithmetic.

functional.py unwraps ember tensors (and HWC NumPy images) to these arrays and wraps the result.
Integer images are computed in float32 and converted back the way torch's ``.to(dtype)`` does
(truncation), except where torchvision rounds first (resize).
"""
import functools
import math

import numpy as np

from ...nn._kernels.sampling import antialias_matrix
from ...ops.reduce import linspace_array

_INTEGER_MAX = {np.dtype(np.uint8): 255, np.dtype(np.int8): 127, np.dtype(np.int16): 32767,
                np.dtype(np.int32): 2147483647, np.dtype(np.int64): 9223372036854775807}


def max_value(dtype):
    """The value of 'full intensity' for ``dtype``: 1.0 for floats, the integer maximum else."""
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        return 1.0
    if dtype in _INTEGER_MAX:
        return _INTEGER_MAX[dtype]
    raise TypeError(f"image dtype {dtype} is not supported (expected a float or signed/uint8 "
                    f"integer dtype)")


def _working_dtype(dtype):
    """The dtype torch computes ``python_float * image`` in: the image's own float dtype, else
    float32 (the default dtype)."""
    return np.dtype(dtype) if np.dtype(dtype).kind == "f" else np.dtype(np.float32)


def _to_dtype(array, dtype):
    """``tensor.to(dtype)``: floats to integers truncate toward zero."""
    dtype = np.dtype(dtype)
    if dtype.kind in "iu" and array.dtype.kind == "f":
        array = np.trunc(array)
    return array.astype(dtype, copy=False)


def check_image(image, name):
    if image.ndim < 2:
        raise TypeError(f"{name}: expected an image of shape [..., H, W], got {image.ndim} "
                        f"dimension(s)")


def num_channels(image):
    return 1 if image.ndim == 2 else image.shape[-3]


def _check_channels(image, permitted):
    channels = num_channels(image)
    if channels not in permitted:
        raise TypeError(f"Input image tensor permitted channel values are {list(permitted)}, "
                        f"but found {channels}")


# ---- dtype --------------------------------------------------------------------------------------

def convert_image_dtype(image, dtype):
    """torchvision's convert_image_dtype: rescale intensities between dtypes."""
    dtype = np.dtype(dtype)
    source = image.dtype
    if source == dtype:
        return image
    if source.kind == "f":
        if dtype.kind == "f":
            return image.astype(dtype)
        if (source == np.float32 and dtype in (np.int32, np.int64)) or (
                source == np.float64 and dtype == np.int64):
            raise RuntimeError(f"The cast from {_torch_name(source)} to {_torch_name(dtype)} "
                               f"cannot be performed safely.")
        # 1 - eps keeps 1.0 inside the top bin (torchvision's documented choice).
        epsilon = 1e-3
        scaled = image * source.type(max_value(dtype) + 1.0 - epsilon)
        return _to_dtype(scaled, dtype)
    input_max = max_value(source)
    if dtype.kind == "f":
        return image.astype(dtype) / dtype.type(input_max)
    output_max = max_value(dtype)
    if input_max > output_max:
        factor = (input_max + 1) // (output_max + 1)
        return (image // factor).astype(dtype)
    factor = (output_max + 1) // (input_max + 1)
    return image.astype(dtype) * dtype.type(factor)


def _torch_name(dtype):
    return "torch." + {"f": "float", "i": "int", "u": "uint"}[np.dtype(dtype).kind] + str(
        np.dtype(dtype).itemsize * 8)


# ---- geometry -----------------------------------------------------------------------------------

def pad(image, padding, fill=0, padding_mode="constant"):
    """Pad (or crop, for negative values) the last two axes; padding is (left, top, right,
    bottom). Modes as np.pad's: constant, edge, reflect, symmetric."""
    left, top, right, bottom = padding
    crop_top, crop_left = max(-top, 0), max(-left, 0)
    crop_bottom = image.shape[-2] - max(-bottom, 0)
    crop_right = image.shape[-1] - max(-right, 0)
    image = image[..., crop_top:crop_bottom, crop_left:crop_right]
    widths = [(0, 0)] * (image.ndim - 2) + [(max(top, 0), max(bottom, 0)),
                                           (max(left, 0), max(right, 0))]
    if padding_mode == "constant":
        return np.pad(image, widths, mode="constant", constant_values=fill)
    return np.pad(image, widths, mode=padding_mode)


def crop(image, top, left, height, width):
    """The window at (top, left) of size (height, width); outside the image it is zeros."""
    image_height, image_width = image.shape[-2:]
    right = left + width
    bottom = top + height
    if left < 0 or top < 0 or right > image_width or bottom > image_height:
        padding = [max(-left + min(0, right), 0), max(-top + min(0, bottom), 0),
                   max(right - max(image_width, left), 0), max(bottom - max(image_height, top), 0)]
        return pad(image[..., max(top, 0):bottom, max(left, 0):right], padding, fill=0)
    return image[..., top:bottom, left:right]


def hflip(image):
    return image[..., ::-1].copy()


def vflip(image):
    return image[..., ::-1, :].copy()


def _cubic_filter(x, a=-0.75):
    x = np.abs(x)
    near = ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0
    far = (((x - 5.0) * x + 8.0) * x - 4.0) * a
    return np.where(x < 1.0, near, np.where(x < 2.0, far, 0.0))


def _antialias_weights(input_size, output_size, mode):
    """(output_size, input_size) weights of torch's antialiased interpolation (F.interpolate's,
    in double precision as torch's uint8 path computes them)."""
    return antialias_matrix(input_size, output_size, None, False, mode == "bicubic",
                            np.dtype(np.float64))


def _interpolation_weights(input_size, output_size, mode):
    """(output_size, input_size) weights of torch's plain (not antialiased) bilinear/bicubic
    interpolation with align_corners=False."""
    scale = input_size / output_size
    sources = scale * (np.arange(output_size) + 0.5) - 0.5
    weights = np.zeros((output_size, input_size))
    rows = np.arange(output_size)
    if mode == "bilinear":
        sources = np.maximum(sources, 0.0)
        low = np.trunc(sources).astype(np.int64)
        fraction = sources - low
        high = low + (low < input_size - 1)
        np.add.at(weights, (rows, low), 1.0 - fraction)
        np.add.at(weights, (rows, high), fraction)
        return weights
    low = np.floor(sources).astype(np.int64)
    fraction = sources - low
    for offset in range(-1, 3):
        indices = np.clip(low + offset, 0, input_size - 1)
        np.add.at(weights, (rows, indices), _cubic_filter(fraction - offset, a=-0.75))
    return weights


def _nearest_indices(input_size, output_size, exact):
    scale = np.float32(input_size / output_size)
    positions = np.arange(output_size, dtype=np.float32)
    if exact:
        positions = positions + np.float32(0.5)
    return np.minimum(np.floor(positions * scale).astype(np.int64), input_size - 1)


def resize(image, size, interpolation="bilinear", antialias=True):
    """Resize the last two axes to ``size`` = [height, width] like torchvision's tensor resize
    (F.interpolate with align_corners=False, antialias for bilinear/bicubic)."""
    output_height, output_width = size
    input_height, input_width = image.shape[-2:]
    if interpolation in ("nearest", "nearest-exact"):
        exact = interpolation == "nearest-exact"
        rows = _nearest_indices(input_height, output_height, exact)
        columns = _nearest_indices(input_width, output_width, exact)
        return image[..., rows[:, None], columns[None, :]]
    if interpolation not in ("bilinear", "bicubic"):
        raise ValueError(f"resize: interpolation '{interpolation}' is not supported for tensors "
                         f"(nearest, nearest-exact, bilinear, bicubic)")
    compute_dtype = image.dtype if image.dtype in (np.float32, np.float64) else np.dtype(
        np.float32)
    weights = _antialias_weights if antialias else _interpolation_weights
    row_weights = weights(input_height, output_height, interpolation).astype(compute_dtype)
    column_weights = weights(input_width, output_width, interpolation).astype(compute_dtype)
    # Width pass as one GEMM over every row of every channel, then the height pass per channel.
    rows = image.astype(compute_dtype, copy=False).reshape(-1, input_width)
    horizontal = (rows @ np.ascontiguousarray(column_weights.T)).reshape(
        image.shape[:-1] + (output_width,))
    result = row_weights @ horizontal
    if image.dtype.kind in "iu":
        if interpolation == "bicubic" and image.dtype == np.uint8:
            result = np.clip(result, 0, 255)
        return np.round(result).astype(image.dtype)
    return result


def _inverse_affine_grid(matrix, width, height, output_width, output_height, dtype):
    """The (1, oh, ow, 2) grid_sample grid of torchvision's _gen_affine_grid: output pixel centres
    mapped through the inverse affine ``matrix`` and normalised by the input size."""
    theta = np.asarray(matrix, dtype=dtype).reshape(2, 3)
    xs = np.linspace(-output_width * 0.5 + 0.5, output_width * 0.5 - 0.5, output_width,
                     dtype=dtype)
    ys = np.linspace(-output_height * 0.5 + 0.5, output_height * 0.5 - 0.5, output_height,
                     dtype=dtype)
    base = np.empty((output_height, output_width, 3), dtype=dtype)
    base[..., 0] = xs[None, :]
    base[..., 1] = ys[:, None]
    base[..., 2] = 1
    rescaled = theta.T / np.asarray([0.5 * width, 0.5 * height], dtype=dtype)
    return _times_matrix(base, rescaled).reshape(1, output_height, output_width, 2)


def _times_matrix(points, matrix):
    """``points`` (..., 3) @ ``matrix`` (3, 2) rounded as torch's bmm rounds it on this CPU:
    PyTorch's CPU wheels multiply with MKL, whose kernels fuse these products (as NumPy's
    OpenBLAS matmul does) on Intel CPUs, and round each product, summed left to right, on
    others. A coordinate an ulp apart moves nearest sampling across a half-pixel."""
    if _mkl_fuses():
        return np.matmul(points, matrix)
    return ((points[..., 0:1] * matrix[0] + points[..., 1:2] * matrix[1])
            + points[..., 2:3] * matrix[2])


@functools.lru_cache(maxsize=None)
def _mkl_fuses():
    """Whether this is an Intel CPU (read once from /proc/cpuinfo; False where unreadable)."""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as info:
            for line in info:
                if line.startswith("vendor_id"):
                    return "GenuineIntel" in line
    except OSError:
        pass
    return False


def affine_output_size(matrix, width, height):
    """(width, height) of the canvas that holds the whole transformed image (expand=True)."""
    points = np.array([[-0.5 * width, -0.5 * height, 1.0], [-0.5 * width, 0.5 * height, 1.0],
                       [0.5 * width, 0.5 * height, 1.0], [0.5 * width, -0.5 * height, 1.0]],
                      dtype=np.float32)
    theta = np.asarray(matrix, dtype=np.float32).reshape(2, 3)
    transformed = points @ theta.T
    # Shifted to [0, w] x [0, h] as PIL counts, then truncated to 1e-4 so that a corner at
    # 1e-15 past an integer does not add a row.
    shift = np.asarray([width * 0.5, height * 0.5], dtype=np.float32)
    tolerance = np.float32(1e-4)
    upper = np.ceil(np.trunc((transformed.max(axis=0) + shift) / tolerance) * tolerance)
    lower = np.floor(np.trunc((transformed.min(axis=0) + shift) / tolerance) * tolerance)
    size = upper - lower
    return int(size[0]), int(size[1])


def check_grid_inputs(image, interpolation, fill):
    """torchvision's checks before a grid transform: a fill list of one value or one per
    channel, and nearest or bilinear interpolation."""
    channels = num_channels(image)
    if isinstance(fill, (tuple, list)) and len(fill) > 1 and len(fill) != channels:
        raise ValueError(f"The number of elements in 'fill' cannot broadcast to match the number "
                         f"of channels of the image ({len(fill)} != {channels})")
    if interpolation not in ("nearest", "bilinear"):
        raise ValueError(f"Interpolation mode '{interpolation}' is unsupported with Tensor input")


def _fused(left, right, addend):
    """left * right + addend rounded once, as the fused multiply-adds of torch's compiled
    kernels: float32 through float64, where the product is exact (float64 is not fused)."""
    if left.dtype == np.float32:
        wide = np.multiply(left, right, dtype=np.float64)
        wide += addend
        return wide.astype(np.float32)
    return left * right + addend


def grid_sample(batch, grid, mode):
    """F.grid_sample(batch, grid, mode, padding_mode='zeros', align_corners=False) on arrays
    (N, C, H, W) and (N, oh, ow, 2), with the roundings of torch's vectorised CPU kernel:
    the unnormalisation (g + 1) * size / 2 - 0.5 and the sum of the four weighted corners are
    fused multiply-adds; nearest rounds half to even."""
    one = batch.dtype.type(1)
    count, channels, height, width = batch.shape
    x = _fused(grid[..., 0] + one, batch.dtype.type(width / 2), batch.dtype.type(-0.5))
    y = _fused(grid[..., 1] + one, batch.dtype.type(height / 2), batch.dtype.type(-0.5))
    flat = batch.reshape(count, channels, height * width)

    def corner(columns, rows):
        """The input at integer (rows, columns), zero outside the image."""
        inside = (columns > -1) & (columns < width) & (rows > -1) & (rows < height)
        index = np.where(inside, rows * width + columns, 0).reshape(count, 1, -1)
        values = np.take_along_axis(flat, np.broadcast_to(index, (count, channels,
                                                                  index.shape[-1])), axis=2)
        values = np.where(inside.reshape(count, 1, -1), values, batch.dtype.type(0))
        return values.reshape((count, channels) + columns.shape[1:])

    if mode == "nearest":
        return corner(np.rint(x).astype(np.int64), np.rint(y).astype(np.int64))
    west = np.floor(x)
    north = np.floor(y)
    east_weight = x - west
    west_weight = one - east_weight
    south_weight = y - north
    north_weight = one - south_weight
    columns = west.astype(np.int64)
    rows = north.astype(np.int64)
    result = corner(columns, rows) * (north_weight * west_weight)[:, None]
    result = _fused(corner(columns + 1, rows), (north_weight * east_weight)[:, None], result)
    result = _fused(corner(columns, rows + 1), (south_weight * west_weight)[:, None], result)
    return _fused(corner(columns + 1, rows + 1), (south_weight * east_weight)[:, None], result)


def apply_grid(image, grid, interpolation, fill):
    """Sample ``image`` [..., C, H, W] at ``grid`` (1, oh, ow, 2) (zeros outside); pixels from
    outside the image get ``fill`` (one value, or one per channel) blended through a sampled
    ones mask, as torchvision does, or stay zeros when fill is None. Integer images are
    sampled in float32 and rounded back."""
    compute_dtype = grid.dtype
    leading = image.shape[:-3]
    batch = image.reshape((-1,) + image.shape[-3:]).astype(compute_dtype, copy=False)
    grid = np.broadcast_to(grid, (batch.shape[0],) + grid.shape[1:])
    if fill is not None:
        batch = np.concatenate([batch, np.ones_like(batch[:, :1])], axis=1)
    result = grid_sample(batch, grid, interpolation)
    if fill is not None:
        mask = result[:, -1:]
        result = result[:, :-1]
        fill_values = np.asarray(fill, dtype=compute_dtype).reshape(1, -1, 1, 1)
        fill_image = np.broadcast_to(fill_values, result.shape)
        if interpolation == "nearest":
            result = np.where(np.broadcast_to(mask < 0.5, result.shape), fill_image, result)
        else:
            result = result * mask + (compute_dtype.type(1.0) - mask) * fill_image
    result = result.reshape(leading + result.shape[1:])
    if image.dtype.kind in "iu":
        return np.round(result).astype(image.dtype)
    return result.astype(image.dtype, copy=False)


def apply_affine(image, matrix, interpolation, expand, fill):
    """Warp by the inverse affine ``matrix`` (rotate and affine); ``expand`` grows the canvas to
    hold the whole result."""
    check_grid_inputs(image, interpolation, fill)
    height, width = image.shape[-2:]
    output_width, output_height = affine_output_size(matrix, width, height) if expand else (
        width, height)
    grid = _inverse_affine_grid(matrix, width, height, output_width, output_height,
                                _working_dtype(image.dtype))
    return apply_grid(image, grid, interpolation, fill)


def perspective_grid(coefficients, width, height, dtype):
    """The (1, h, w, 2) grid of torchvision's _perspective_grid: pixel centres (x, y) mapped to
    ((a x + b y + c) / (g x + h y + 1), (d x + e y + f) / (g x + h y + 1)), normalised."""
    numerators = np.asarray(coefficients[:6], dtype=dtype).reshape(2, 3)
    denominators = np.asarray([[coefficients[6], coefficients[7], 1.0]] * 2, dtype=dtype)
    base = np.empty((height, width, 3), dtype=dtype)
    base[..., 0] = np.arange(width, dtype=dtype)[None, :] + dtype.type(0.5)
    base[..., 1] = np.arange(height, dtype=dtype)[:, None] + dtype.type(0.5)
    base[..., 2] = 1
    rescaled = numerators.T / np.asarray([0.5 * width, 0.5 * height], dtype=dtype)
    grid = _times_matrix(base, rescaled) / _times_matrix(base, denominators.T) - dtype.type(1.0)
    return grid.reshape(1, height, width, 2)


def perspective(image, coefficients, interpolation, fill):
    """Warp by the 8 perspective ``coefficients`` (output pixel -> input pixel)."""
    check_grid_inputs(image, interpolation, fill)
    height, width = image.shape[-2:]
    grid = perspective_grid(coefficients, width, height, _working_dtype(image.dtype))
    return apply_grid(image, grid, interpolation, fill)


def elastic_transform(image, displacement, interpolation, fill):
    """Sample at the identity grid (pixel centres in [-1, 1]) plus ``displacement``
    (1, H, W, 2)."""
    check_grid_inputs(image, interpolation, fill)
    height, width = image.shape[-2:]
    ys, xs = (linspace_array((1.0 - size) / size, (size - 1.0) / size, size,
                             np.dtype(np.float32)) for size in (height, width))
    identity = np.stack(np.broadcast_arrays(xs[None, :], ys[:, None]), axis=-1)[None]
    grid = identity + displacement
    return apply_grid(image, grid, interpolation, fill)


def inverse_affine_matrix(center, angle, translate, scale, shear):
    """torchvision's _get_inverse_affine_matrix: the inverse of
    T(translate) C(center) R(angle) S(shear) Sc(scale) C(center)^-1, as 6 numbers."""
    rotation = math.radians(angle)
    shear_x = math.radians(shear[0])
    shear_y = math.radians(shear[1])
    center_x, center_y = center
    translate_x, translate_y = translate
    a = math.cos(rotation - shear_y) / math.cos(shear_y)
    b = -math.cos(rotation - shear_y) * math.tan(shear_x) / math.cos(shear_y) - math.sin(rotation)
    c = math.sin(rotation - shear_y) / math.cos(shear_y)
    d = -math.sin(rotation - shear_y) * math.tan(shear_x) / math.cos(shear_y) + math.cos(rotation)
    matrix = [value / scale for value in (d, -b, 0.0, -c, a, 0.0)]
    matrix[2] += matrix[0] * (-center_x - translate_x) + matrix[1] * (-center_y - translate_y)
    matrix[5] += matrix[3] * (-center_x - translate_x) + matrix[4] * (-center_y - translate_y)
    matrix[2] += center_x
    matrix[5] += center_y
    return matrix


# ---- colour -------------------------------------------------------------------------------------

def rgb_to_grayscale(image, num_output_channels=1):
    """ITU-R 601-2 luma (0.2989 R + 0.587 G + 0.114 B), in the input dtype."""
    if image.ndim < 3:
        raise TypeError(f"Input image tensor should have at least 3 dimensions, but found "
                        f"{image.ndim}")
    _check_channels(image, (1, 3))
    if num_output_channels not in (1, 3):
        raise ValueError("num_output_channels should be either 1 or 3")
    if image.shape[-3] == 3:
        dtype = _working_dtype(image.dtype)
        red, green, blue = (image[..., index, :, :].astype(dtype, copy=False)
                            for index in range(3))
        luma = dtype.type(0.2989) * red + dtype.type(0.587) * green + dtype.type(0.114) * blue
        gray = _to_dtype(luma, image.dtype)[..., None, :, :]
    else:
        gray = image.copy()
    if num_output_channels == 3:
        return np.broadcast_to(gray, gray.shape[:-3] + (3,) + gray.shape[-2:]).copy()
    return gray


def _blend(first, second, ratio):
    """ratio * first + (1 - ratio) * second, clamped to the dtype's range, in first's dtype."""
    dtype = _working_dtype(first.dtype)
    bound = max_value(first.dtype)
    blended = (dtype.type(ratio) * first.astype(dtype, copy=False)
               + dtype.type(1.0 - ratio) * np.asarray(second).astype(dtype, copy=False))
    return _to_dtype(np.clip(blended, 0, bound), first.dtype)


def adjust_brightness(image, brightness_factor):
    if brightness_factor < 0:
        raise ValueError(f"brightness_factor ({brightness_factor}) is not non-negative.")
    _check_channels(image, (1, 3))
    return _blend(image, np.zeros_like(image), brightness_factor)


def adjust_contrast(image, contrast_factor):
    if contrast_factor < 0:
        raise ValueError(f"contrast_factor ({contrast_factor}) is not non-negative.")
    _check_channels(image, (1, 3))
    dtype = _working_dtype(image.dtype)
    source = rgb_to_grayscale(image) if num_channels(image) == 3 else image
    mean = source.astype(dtype).mean(axis=(-3, -2, -1), keepdims=True, dtype=dtype)
    return _blend(image, mean, contrast_factor)


def adjust_saturation(image, saturation_factor):
    if saturation_factor < 0:
        raise ValueError(f"saturation_factor ({saturation_factor}) is not non-negative.")
    _check_channels(image, (1, 3))
    if num_channels(image) == 1:
        return image
    return _blend(image, rgb_to_grayscale(image), saturation_factor)


def _rgb_to_hsv(image):
    red, green, blue = image[..., 0, :, :], image[..., 1, :, :], image[..., 2, :, :]
    maximum = image.max(axis=-3)
    minimum = image.min(axis=-3)
    equal = maximum == minimum
    chroma = maximum - minimum
    ones = np.ones_like(maximum)
    saturation = chroma / np.where(equal, ones, maximum)
    divisor = np.where(equal, ones, chroma)
    red_distance = (maximum - red) / divisor
    green_distance = (maximum - green) / divisor
    blue_distance = (maximum - blue) / divisor
    hue_red = (maximum == red) * (blue_distance - green_distance)
    hue_green = ((maximum == green) & (maximum != red)) * (
        image.dtype.type(2.0) + red_distance - blue_distance)
    hue_blue = ((maximum != green) & (maximum != red)) * (
        image.dtype.type(4.0) + green_distance - red_distance)
    hue = hue_red + hue_green + hue_blue
    hue = np.fmod(hue / image.dtype.type(6.0) + image.dtype.type(1.0), image.dtype.type(1.0))
    return np.stack((hue, saturation, maximum), axis=-3)


def _hsv_to_rgb(image):
    hue, saturation, value = image[..., 0, :, :], image[..., 1, :, :], image[..., 2, :, :]
    one = image.dtype.type(1.0)
    sector = np.floor(hue * image.dtype.type(6.0))
    fraction = hue * image.dtype.type(6.0) - sector
    sector = sector.astype(np.int32) % 6
    p = np.clip(value * (one - saturation), 0.0, 1.0)
    q = np.clip(value * (one - saturation * fraction), 0.0, 1.0)
    t = np.clip(value * (one - saturation * (one - fraction)), 0.0, 1.0)
    red = np.choose(sector, (value, q, p, p, t, value))
    green = np.choose(sector, (t, value, value, q, p, p))
    blue = np.choose(sector, (p, p, t, value, value, q))
    return np.stack((red, green, blue), axis=-3)


def adjust_hue(image, hue_factor):
    if not (-0.5 <= hue_factor <= 0.5):
        raise ValueError(f"hue_factor ({hue_factor}) is not in [-0.5, 0.5].")
    _check_channels(image, (1, 3))
    if num_channels(image) == 1:
        return image
    original_dtype = image.dtype
    hsv = _rgb_to_hsv(convert_image_dtype(image, np.float32))
    hsv[..., 0, :, :] = np.mod(hsv[..., 0, :, :] + np.float32(hue_factor), np.float32(1.0))
    return convert_image_dtype(_hsv_to_rgb(hsv), original_dtype)


def erase(image, top, left, height, width, value, inplace=False):
    """Overwrite the (height, width) window at (top, left) with ``value`` (broadcast)."""
    if not inplace:
        image = image.copy()
    image[..., top:top + height, left:left + width] = value
    return image


def adjust_gamma(image, gamma, gain=1.0):
    """gain * image ** gamma on [0, 1] intensities, clamped, in the input dtype."""
    _check_channels(image, (1, 3))
    if gamma < 0:
        raise ValueError("Gamma should be a non-negative real number")
    result = image if image.dtype.kind == "f" else convert_image_dtype(image, np.float32)
    dtype = result.dtype
    # The power in float64, rounded: torch's vectorised powf differs from that by one ulp at
    # about 2% of the values, from NumPy's float32 power at about 20%.
    powered = np.power(result.astype(np.float64), np.float64(dtype.type(gamma))).astype(dtype)
    result = np.clip(dtype.type(gain) * powered, 0, 1)
    return convert_image_dtype(result.astype(dtype, copy=False), image.dtype)


# ---- filters ------------------------------------------------------------------------------------

def _filter(image, kernel, padding=None):
    """Correlate every channel of ``image`` [..., H, W] with the 2D ``kernel`` (torchvision's
    depthwise conv2d), after reflect ``padding`` (top/bottom, left/right) or none: one
    vectorised fused multiply-add per kernel tap, in row-major order, as torch's CPU depthwise
    kernel accumulates."""
    if padding is not None:
        vertical, horizontal = padding
        height, width = image.shape[-2:]
        if vertical >= height or horizontal >= width:
            raise RuntimeError(f"Padding size should be less than the corresponding input "
                               f"dimension, but got: padding ({horizontal}, {horizontal}) and "
                               f"({vertical}, {vertical}) for an image of size "
                               f"({height}, {width})")
        widths = [(0, 0)] * (image.ndim - 2) + [(vertical, vertical), (horizontal, horizontal)]
        image = np.pad(image, widths, mode="reflect")
    kernel_height, kernel_width = kernel.shape
    output_height = image.shape[-2] - kernel_height + 1
    output_width = image.shape[-1] - kernel_width + 1
    result = np.zeros(image.shape[:-2] + (output_height, output_width), dtype=kernel.dtype)
    for row in range(kernel_height):
        for column in range(kernel_width):
            window = image[..., row:row + output_height, column:column + output_width]
            result = _fused(window, kernel[row, column], result)
    return result


def _round_back(result, dtype):
    """torchvision's _cast_squeeze_out: round before casting to an integer dtype."""
    if np.dtype(dtype).kind in "iu":
        result = np.round(result)
    return result.astype(dtype, copy=False)


def _row_sum(rows):
    """torch's row_sum of ``rows`` (scalars or 8-lane vectors): four interleaved accumulators
    over whole groups of four, the rest added to the first, then the others added to it."""
    accumulators = [rows[0] * 0] * 4
    groups = len(rows) // 4
    for group in range(groups):
        for lane in range(4):
            accumulators[lane] = accumulators[lane] + rows[4 * group + lane]
    for index in range(4 * groups, len(rows)):
        accumulators[0] = accumulators[0] + rows[index]
    for lane in range(1, 4):
        accumulators[0] = accumulators[0] + accumulators[lane]
    return accumulators[0]


def _float32_sum(values):
    """The float32 sum of a short 1D array in torch's CPU order (8-lane vectors through
    row_sum, then the tail and the lanes one by one), where NumPy's pairwise sum can differ by
    an ulp. From 512 values on torch cascades its partial sums; NumPy's sum is used there."""
    count = values.size
    if values.dtype != np.float32 or count >= 512:
        return values.sum(dtype=values.dtype)
    if count < 8:
        return _row_sum(list(values))
    whole = count // 8 * 8
    lanes = _row_sum(list(values[:whole].reshape(-1, 8)))
    total = np.float32(0)
    for value in values[whole:]:
        total = np.float32(total + value)
    for value in lanes:
        total = np.float32(total + value)
    return total


def gaussian_kernel1d(kernel_size, sigma, dtype):
    """exp(-x^2 / (2 sigma^2)) at kernel_size points centred on 0, normalised to sum 1.
    The exponentials are computed in float64 and rounded (torch's vectorised expf may differ
    from that by one ulp)."""
    half = (kernel_size - 1) * 0.5
    positions = linspace_array(-half, half, kernel_size, np.dtype(dtype))
    scaled = positions / np.asarray(sigma, dtype=dtype)
    exponent = dtype.type(-0.5) * (scaled * scaled)
    pdf = np.exp(exponent.astype(np.float64)).astype(dtype)
    return pdf / _float32_sum(pdf)


def gaussian_blur(image, kernel_size, sigma):
    """Blur with the separable Gaussian kernel (kernel_size = [kx, ky], sigma = [sx, sy]),
    applied as torchvision's 2D kernel with reflect padding."""
    check_image(image, "gaussian_blur")
    dtype = _working_dtype(image.dtype)
    kernel_x = gaussian_kernel1d(kernel_size[0], sigma[0], dtype)
    kernel_y = gaussian_kernel1d(kernel_size[1], sigma[1], dtype)
    kernel = kernel_y[:, None] * kernel_x[None, :]
    blurred = _filter(image.astype(dtype, copy=False), kernel,
                      (kernel_size[1] // 2, kernel_size[0] // 2))
    return _round_back(blurred, image.dtype)


def _check_color_image(image):
    if image.ndim < 3:
        raise TypeError(f"Input image tensor should have at least 3 dimensions, but found "
                        f"{image.ndim}")
    _check_channels(image, (1, 3))


def _require_uint8(image):
    if image.dtype != np.uint8:
        raise TypeError(f"Only torch.uint8 image tensors are supported, but found "
                        f"{_torch_name(image.dtype)}")


def invert(image):
    """max_value - image: 255 - x for uint8, 1 - x for floats."""
    _check_color_image(image)
    return (image.dtype.type(max_value(image.dtype)) - image).astype(image.dtype, copy=False)


def posterize(image, bits):
    """Keep the ``bits`` high bits of each uint8 value."""
    _check_color_image(image)
    _require_uint8(image)
    return image & np.uint8((-(2 ** (8 - bits))) % 256)


def solarize(image, threshold):
    """Invert the values at or above ``threshold`` (compared in float32 for integer images, as
    torch compares a uint8 tensor with a Python float)."""
    _check_color_image(image)
    if threshold > max_value(image.dtype):
        raise TypeError("Threshold should be less than bound of img.")
    dtype = _working_dtype(image.dtype)
    above = image.astype(dtype, copy=False) >= dtype.type(threshold)
    return np.where(above, invert(image), image)


def _blurred_degenerate(image):
    """The image smoothed by PIL's SMOOTH kernel ([[1, 1, 1], [1, 5, 1], [1, 1, 1]] / 13) inside
    a one-pixel border that keeps the original values."""
    dtype = _working_dtype(image.dtype)
    kernel = np.ones((3, 3), dtype=dtype)
    kernel[1, 1] = 5.0
    kernel /= kernel.sum(dtype=dtype)
    smoothed = _round_back(_filter(image.astype(dtype, copy=False), kernel), image.dtype)
    result = image.copy()
    result[..., 1:-1, 1:-1] = smoothed
    return result


def adjust_sharpness(image, sharpness_factor):
    """Blend with the smoothed image: 0 blurs, 1 keeps, 2 sharpens."""
    if sharpness_factor < 0:
        raise ValueError(f"sharpness_factor ({sharpness_factor}) is not non-negative.")
    check_image(image, "adjust_sharpness")
    _check_channels(image, (1, 3))
    if image.shape[-1] <= 2 or image.shape[-2] <= 2:
        return image
    return _blend(image, _blurred_degenerate(image), sharpness_factor)


def autocontrast(image):
    """Stretch every channel linearly so that its minimum becomes 0 and its maximum full
    intensity; a constant channel stays unchanged."""
    _check_color_image(image)
    bound = max_value(image.dtype)
    dtype = _working_dtype(image.dtype)
    minimum = image.min(axis=(-2, -1), keepdims=True).astype(dtype)
    maximum = image.max(axis=(-2, -1), keepdims=True).astype(dtype)
    with np.errstate(divide="ignore", invalid="ignore"):
        # torch's ``bound / tensor`` is reciprocal(tensor) * bound: two roundings.
        scale = (dtype.type(1) / (maximum - minimum)) * dtype.type(bound)
    degenerate = ~np.isfinite(scale)
    minimum[degenerate] = 0
    scale[degenerate] = 1
    stretched = (image.astype(dtype, copy=False) - minimum) * scale
    return _to_dtype(np.clip(stretched, 0, bound), image.dtype)


def equalize(image):
    """Histogram equalisation per channel of a uint8 image, with PIL's lookup table (the
    cumulative histogram divided by the count of all but the brightest level / 255)."""
    if not 3 <= image.ndim <= 4:
        raise TypeError(f"Input image tensor should have 3 or 4 dimensions, but found "
                        f"{image.ndim}")
    _require_uint8(image)
    _check_channels(image, (1, 3))
    channels = image.reshape(-1, image.shape[-2] * image.shape[-1])
    rows = np.arange(channels.shape[0])[:, None]
    histogram = np.bincount((rows * 256 + channels).ravel(),
                            minlength=channels.shape[0] * 256).reshape(-1, 256)
    # The sum of the non-zero bins but the last one: every pixel but those of the top level.
    brightest = channels.max(axis=1)
    step = (channels.shape[1] - histogram[rows[:, 0], brightest]) // 255
    safe_step = np.maximum(step, 1)[:, None]
    lookup = (np.cumsum(histogram, axis=1) + safe_step // 2) // safe_step
    lookup = np.clip(np.concatenate([np.zeros_like(lookup[:, :1]), lookup[:, :-1]], axis=1),
                     0, 255)
    equalized = np.take_along_axis(lookup, channels.astype(np.int64), axis=1).astype(np.uint8)
    equalized = np.where((step == 0)[:, None], channels, equalized)
    return equalized.reshape(image.shape)
