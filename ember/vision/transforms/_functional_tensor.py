"""Image kernels on NumPy arrays laid out [..., C, H, W]: torchvision's tensor arithmetic.

functional.py unwraps ember tensors (and HWC NumPy images) to these arrays and wraps the result.
Integer images are computed in float32 and converted back the way torch's ``.to(dtype)`` does
(truncation), except where torchvision rounds first (resize).
"""
import math

import numpy as np

from ...nn._kernels.sampling import antialias_matrix

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


def _check_channels(image, permitted, name):
    channels = num_channels(image)
    if channels not in permitted:
        raise TypeError(f"{name}: input image tensor permitted channel values are {permitted}, "
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
    return (base.reshape(1, -1, 3) @ rescaled).reshape(1, output_height, output_width, 2)


def affine_output_size(matrix, width, height):
    """(width, height) of the canvas that holds the whole transformed image (expand=True)."""
    points = np.array([[-0.5 * width, -0.5 * height, 1.0], [-0.5 * width, 0.5 * height, 1.0],
                       [0.5 * width, 0.5 * height, 1.0], [0.5 * width, -0.5 * height, 1.0]],
                      dtype=np.float32)
    theta = np.asarray(matrix, dtype=np.float32).reshape(2, 3)
    transformed = points @ theta.T
    tolerance = np.float32(1e-4)
    upper = np.ceil(np.trunc(transformed.max(axis=0) / tolerance) * tolerance)
    lower = np.floor(np.trunc(transformed.min(axis=0) / tolerance) * tolerance)
    size = upper - lower
    return int(size[0]), int(size[1])


def apply_affine(image, matrix, interpolation, expand, fill, grid_sample):
    """Warp by the inverse affine ``matrix`` with ``grid_sample`` (ember's, on (N, C, H, W)
    arrays); pixels from outside the image get ``fill`` (a list with one value per channel or
    one value), or zeros when fill is None."""
    if interpolation not in ("nearest", "bilinear"):
        raise ValueError(f"rotate: interpolation '{interpolation}' is not supported for tensors "
                         f"(nearest, bilinear)")
    height, width = image.shape[-2:]
    output_width, output_height = affine_output_size(matrix, width, height) if expand else (
        width, height)
    leading = image.shape[:-3]
    compute_dtype = _working_dtype(image.dtype)
    batch = image.reshape((-1,) + image.shape[-3:]).astype(compute_dtype, copy=False)
    grid = _inverse_affine_grid(matrix, width, height, output_width, output_height,
                                compute_dtype)
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
    _check_channels(image, (1, 3), "rgb_to_grayscale")
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
    _check_channels(image, (1, 3), "adjust_brightness")
    return _blend(image, np.zeros_like(image), brightness_factor)


def adjust_contrast(image, contrast_factor):
    if contrast_factor < 0:
        raise ValueError(f"contrast_factor ({contrast_factor}) is not non-negative.")
    _check_channels(image, (1, 3), "adjust_contrast")
    dtype = _working_dtype(image.dtype)
    source = rgb_to_grayscale(image) if num_channels(image) == 3 else image
    mean = source.astype(dtype).mean(axis=(-3, -2, -1), keepdims=True, dtype=dtype)
    return _blend(image, mean, contrast_factor)


def adjust_saturation(image, saturation_factor):
    if saturation_factor < 0:
        raise ValueError(f"saturation_factor ({saturation_factor}) is not non-negative.")
    _check_channels(image, (1, 3), "adjust_saturation")
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
    _check_channels(image, (1, 3), "adjust_hue")
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
