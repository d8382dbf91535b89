"""torchvision.transforms.functional on ember: each function takes a PIL image, an ember tensor
[..., C, H, W] or a NumPy image (H, W) / (H, W, C), and returns the same kind.

PIL images go through pillow (torchvision's PIL path); tensors and NumPy images through the
array kernels of torchvision's tensor path. Results on tensors are new tensors outside the
autograd graph, except ``normalize``, which is built from ember ops.
"""
import enum
import numbers
import sys
import warnings

import numpy as np

from ... import _dtype
from ..._factories import as_tensor, from_numpy
from ...tensor import Tensor
from .._optional import is_pil_image, pil_image
from . import _functional_pil as F_pil
from . import _functional_tensor as F_t


class InterpolationMode(enum.Enum):
    """Interpolation modes; the values are torchvision's strings."""

    NEAREST = "nearest"
    NEAREST_EXACT = "nearest-exact"
    BILINEAR = "bilinear"
    BICUBIC = "bicubic"
    BOX = "box"
    HAMMING = "hamming"
    LANCZOS = "lanczos"


# pillow's resampling constants (Image.Resampling): NEAREST 0, LANCZOS 1, BILINEAR 2, BICUBIC 3,
# BOX 4, HAMMING 5.
_PIL_MODES = {InterpolationMode.NEAREST: 0, InterpolationMode.NEAREST_EXACT: 0,
              InterpolationMode.BILINEAR: 2, InterpolationMode.BICUBIC: 3,
              InterpolationMode.BOX: 4, InterpolationMode.HAMMING: 5,
              InterpolationMode.LANCZOS: 1}
_MODES_FROM_PIL = {0: InterpolationMode.NEAREST, 2: InterpolationMode.BILINEAR,
                   3: InterpolationMode.BICUBIC, 4: InterpolationMode.BOX,
                   5: InterpolationMode.HAMMING, 1: InterpolationMode.LANCZOS}


def interpolation_mode(interpolation, name="interpolation"):
    """An InterpolationMode from a mode or a pillow integer constant (torchvision accepts both)."""
    if isinstance(interpolation, InterpolationMode):
        return interpolation
    if isinstance(interpolation, int) and interpolation in _MODES_FROM_PIL:
        return _MODES_FROM_PIL[interpolation]
    raise TypeError(f"Argument {name} should be a InterpolationMode or a corresponding Pillow "
                    f"integer constant, got {interpolation!r}")


# ---- dispatch -----------------------------------------------------------------------------------

def _is_numpy_image(image):
    return isinstance(image, np.ndarray) and image.ndim in (2, 3)


def _check_image(image, name):
    if not (is_pil_image(image) or isinstance(image, Tensor) or _is_numpy_image(image)):
        raise TypeError(f"{name}: img should be PIL Image, ember Tensor or a NumPy image (H, W) "
                        f"or (H, W, C). Got {type(image)}")


def _apply(image, tensor_kernel, pil_kernel, name):
    """Run ``pil_kernel`` on a PIL image, ``tensor_kernel`` on the [..., C, H, W] array of a
    tensor or of a NumPy HWC image, and give back the input's kind."""
    _check_image(image, name)
    if is_pil_image(image):
        return pil_kernel(image)
    if isinstance(image, Tensor):
        return from_numpy(np.ascontiguousarray(tensor_kernel(image.numpy(force=True))))
    planar = image[None] if image.ndim == 2 else np.moveaxis(image, -1, 0)
    result = tensor_kernel(planar)
    if image.ndim == 2 and result.shape[0] == 1:
        return np.ascontiguousarray(result[0])
    return np.ascontiguousarray(np.moveaxis(result, 0, -1))


def _dispatch(image, name, *arguments):
    """Kernel ``name`` of the PIL path or of the array path, called with ``arguments``."""
    return _apply(image, lambda array: getattr(F_t, name)(array, *arguments),
                  lambda pil: getattr(F_pil, name)(pil, *arguments), name)


def _require_tensor(image, name):
    if not isinstance(image, Tensor):
        raise TypeError(f"{name}: img should be Tensor Image. Got {type(image)}")


def get_dimensions(image):
    """[channels, height, width]."""
    _check_image(image, "get_dimensions")
    if is_pil_image(image):
        return F_pil.get_dimensions(image)
    if isinstance(image, Tensor):
        shape = tuple(image.shape)
        channels = 1 if len(shape) == 2 else shape[-3]
        return [channels, shape[-2], shape[-1]]
    channels = 1 if image.ndim == 2 else image.shape[2]
    return [channels, image.shape[0], image.shape[1]]


def get_image_size(image):
    """[width, height]."""
    _, height, width = get_dimensions(image)
    return [width, height]


def get_image_num_channels(image):
    return get_dimensions(image)[0]


# ---- conversions --------------------------------------------------------------------------------

def _pil_to_array(picture):
    """The HWC array of a PIL image with torchvision's dtype for its mode."""
    big_endian_16 = "I;16" if sys.byteorder == "little" else "I;16B"
    dtypes = {"I": np.int32, big_endian_16: np.int16, "F": np.float32}
    array = np.array(picture, dtype=dtypes.get(picture.mode, np.uint8), copy=True)
    if picture.mode == "1":
        array = array * np.uint8(255)
    return array.reshape(picture.size[1], picture.size[0], len(picture.getbands()))


def to_tensor(pic):
    """PIL image or ndarray (H x W x C) -> float tensor (C x H x W); uint8 is scaled to [0, 1]."""
    if is_pil_image(pic):
        array = _pil_to_array(pic)
    elif isinstance(pic, np.ndarray):
        if pic.ndim not in (2, 3):
            raise ValueError(f"pic should be 2/3 dimensional. Got {pic.ndim} dimensions.")
        array = pic[:, :, None] if pic.ndim == 2 else pic
    else:
        raise TypeError(f"pic should be PIL Image or ndarray. Got {type(pic)}")
    planar = np.ascontiguousarray(array.transpose(2, 0, 1))
    if planar.dtype == np.uint8:
        default = _dtype.get_default_dtype().numpy
        planar = planar.astype(default) / default.type(255)
    return from_numpy(planar)


def pil_to_tensor(pic):
    """PIL image -> tensor (C x H x W) of the image's own dtype, not rescaled."""
    if not is_pil_image(pic):
        raise TypeError(f"pic should be PIL Image. Got {type(pic)}")
    array = np.asarray(pic).copy()
    array = array.reshape(pic.size[1], pic.size[0], len(pic.getbands()))
    return from_numpy(np.ascontiguousarray(array.transpose(2, 0, 1)))


def to_pil_image(pic, mode=None):
    """Tensor (C x H x W) or ndarray (H x W x C) -> PIL image; floats are scaled by 255."""
    if isinstance(pic, Tensor):
        if pic.dim() not in (2, 3):
            raise ValueError(f"pic should be 2/3 dimensional. Got {pic.dim()} dimensions.")
        array = pic.numpy(force=True)
        array = array[None] if array.ndim == 2 else array
        if array.shape[0] > 4:
            raise ValueError(f"pic should not have > 4 channels. Got {array.shape[0]} channels.")
        array = array.transpose(1, 2, 0)
        if array.dtype.kind == "f" and mode != "F":
            # tensor.mul(255).byte(): truncation, wrapping modulo 256 like torch's uint8 cast.
            array = np.mod(np.trunc(array * array.dtype.type(255)), 256).astype(np.uint8)
    elif isinstance(pic, np.ndarray):
        if pic.ndim not in (2, 3):
            raise ValueError(f"pic should be 2/3 dimensional. Got {pic.ndim} dimensions.")
        array = pic[:, :, None] if pic.ndim == 2 else pic
        if array.shape[-1] > 4:
            raise ValueError(f"pic should not have > 4 channels. Got {array.shape[-1]} "
                             f"channels.")
    else:
        raise TypeError(f"pic should be Tensor or ndarray. Got {type(pic)}.")
    return _array_to_pil(array, mode)


def _array_to_pil(array, mode):
    channels = array.shape[2]
    images = pil_image()
    if channels == 1:
        array = array[:, :, 0]
        by_dtype = {np.dtype(np.uint8): "L", np.dtype(np.int16): "I;16",
                    np.dtype(np.uint16): "I;16", np.dtype(np.int32): "I",
                    np.dtype(np.float32): "F"}
        expected = by_dtype.get(array.dtype)
        if mode is not None and mode != expected:
            raise ValueError(f"Incorrect mode ({mode}) supplied for input type "
                             f"{array.dtype}. Should be {expected}")
        mode = mode or expected
    else:
        permitted = {2: ["LA"], 3: ["RGB", "YCbCr", "HSV"], 4: ["RGBA", "CMYK", "RGBX"]}[channels]
        if mode is not None and mode not in permitted:
            raise ValueError(f"Only modes {permitted} are supported for {channels}D inputs")
        if mode is None and array.dtype == np.uint8:
            mode = permitted[0]
    if mode is None:
        raise TypeError(f"Input type {array.dtype} is not supported")
    height, width = array.shape[:2]
    if mode == "I;16":
        return images.frombytes(mode, (width, height), array.astype("<u2").tobytes())
    if mode == "I":
        return images.frombytes(mode, (width, height), array.astype("<i4").tobytes())
    if mode == "F":
        return images.frombytes(mode, (width, height), array.astype("<f4").tobytes())
    return images.frombytes(mode, (width, height), np.ascontiguousarray(array).tobytes())


def convert_image_dtype(image, dtype=None):
    """Convert a tensor image to ``dtype`` and rescale its values (1.0 <-> 255 for uint8)."""
    _require_tensor(image, "convert_image_dtype")
    dtype = _dtype.float32 if dtype is None else dtype
    numpy_dtype = _dtype.to_dtype(dtype).numpy
    return from_numpy(np.ascontiguousarray(
        F_t.convert_image_dtype(image.numpy(force=True), numpy_dtype)))


def normalize(tensor, mean, std, inplace=False):
    """(tensor - mean) / std per channel, with ember ops (differentiable like torchvision's)."""
    _require_tensor(tensor, "normalize")
    if not tensor.is_floating_point():
        raise TypeError(f"Input tensor should be a float tensor. Got {tensor.dtype}.")
    if tensor.dim() < 3:
        raise ValueError(f"Expected tensor to be a tensor image of size (..., C, H, W). Got "
                         f"tensor.size() = {tuple(tensor.shape)}")
    mean = as_tensor(mean, dtype=tensor.dtype)
    std = as_tensor(std, dtype=tensor.dtype)
    if bool((std == 0).any()):
        raise ValueError(f"std evaluated to zero after conversion to {tensor.dtype}, leading to "
                         f"division by zero.")
    if mean.dim() == 1:
        mean = mean.reshape(-1, 1, 1)
    if std.dim() == 1:
        std = std.reshape(-1, 1, 1)
    if inplace:
        return tensor.sub_(mean).div_(std)
    return (tensor - mean) / std


# ---- geometry -----------------------------------------------------------------------------------

def _compute_resized_output_size(image_size, size, max_size=None):
    """[height, width] after resizing: ``size`` of one value sets the shorter edge."""
    if len(size) == 1:
        height, width = image_size
        short, long = (width, height) if width <= height else (height, width)
        requested_short = size[0]
        new_short, new_long = requested_short, int(requested_short * long / short)
        if max_size is not None:
            if max_size <= requested_short:
                raise ValueError(f"max_size = {max_size} must be strictly greater than the "
                                 f"requested size for the smaller edge size = {size}")
            if new_long > max_size:
                new_short, new_long = int(max_size * new_short / new_long), max_size
        new_width, new_height = (new_short, new_long) if width <= height else (new_long,
                                                                               new_short)
        return [new_height, new_width]
    if max_size is not None:
        raise ValueError("max_size should only be passed if size specifies the length of the "
                         "smaller edge, i.e. size should be an int or a sequence of length 1 in "
                         "torchscript mode.")
    return [size[0], size[1]]


def resize(img, size, interpolation=InterpolationMode.BILINEAR, max_size=None, antialias=True):
    """Resize to ``size`` ([h, w], or one int for the shorter edge keeping the aspect ratio)."""
    interpolation = interpolation_mode(interpolation)
    if isinstance(size, numbers.Number):
        size = [int(size)]
    elif not isinstance(size, (list, tuple)):
        raise TypeError(f"Size should be int or sequence. Got {type(size)}")
    _, height, width = get_dimensions(img)
    output_size = _compute_resized_output_size((height, width), list(size), max_size)
    if [height, width] == output_size:
        return img
    if is_pil_image(img) and antialias is False:
        warnings.warn("Anti-alias option is always applied for PIL Image input. Argument "
                      "antialias is ignored.", stacklevel=2)
    return _apply(img,
                  lambda array: F_t.resize(array, output_size, interpolation.value,
                                           bool(antialias)),
                  lambda image: F_pil.resize(image, output_size, _PIL_MODES[interpolation]),
                  "resize")


def _parse_padding(padding):
    """(left, top, right, bottom) from an int or a 1-, 2- or 4-element sequence."""
    if isinstance(padding, numbers.Number) and not isinstance(padding, bool):
        return [int(padding)] * 4
    if not isinstance(padding, (list, tuple)):
        raise TypeError("Got inappropriate padding arg")
    if len(padding) == 1:
        return [int(padding[0])] * 4
    if len(padding) == 2:
        return [int(padding[0]), int(padding[1]), int(padding[0]), int(padding[1])]
    if len(padding) == 4:
        return [int(value) for value in padding]
    raise ValueError(f"Padding must be an int or a 1, 2, or 4 element tuple, not a "
                     f"{len(padding)} element tuple")


def pad(img, padding, fill=0, padding_mode="constant"):
    """Pad every side (padding: int, (lr, tb) or (l, t, r, b)) with a fill value or by
    edge/reflect/symmetric extension."""
    padding = _parse_padding(padding)
    if padding_mode not in ("constant", "edge", "reflect", "symmetric"):
        raise ValueError("Padding mode should be either constant, edge, reflect or symmetric")
    if not is_pil_image(img) and not isinstance(fill, numbers.Number):
        raise TypeError(f"pad: fill must be a number for tensors, got {fill!r}")
    return _dispatch(img, "pad", padding, fill, padding_mode)


def crop(img, top, left, height, width):
    """The (height, width) window at (top, left); zeros outside the image."""
    return _dispatch(img, "crop", top, left, height, width)


def center_crop(img, output_size):
    """The central (h, w) window; pads with zeros first when the image is smaller."""
    if isinstance(output_size, numbers.Number):
        output_size = (int(output_size), int(output_size))
    elif isinstance(output_size, (tuple, list)) and len(output_size) == 1:
        output_size = (output_size[0], output_size[0])
    _, image_height, image_width = get_dimensions(img)
    crop_height, crop_width = output_size
    if crop_width > image_width or crop_height > image_height:
        padding = [(crop_width - image_width) // 2 if crop_width > image_width else 0,
                   (crop_height - image_height) // 2 if crop_height > image_height else 0,
                   (crop_width - image_width + 1) // 2 if crop_width > image_width else 0,
                   (crop_height - image_height + 1) // 2 if crop_height > image_height else 0]
        img = pad(img, padding, fill=0)
        _, image_height, image_width = get_dimensions(img)
        if crop_width == image_width and crop_height == image_height:
            return img
    crop_top = int(round((image_height - crop_height) / 2.0))
    crop_left = int(round((image_width - crop_width) / 2.0))
    return crop(img, crop_top, crop_left, crop_height, crop_width)


def resized_crop(img, top, left, height, width, size, interpolation=InterpolationMode.BILINEAR,
                 antialias=True):
    """crop, then resize to ``size``."""
    return resize(crop(img, top, left, height, width), size, interpolation, antialias=antialias)


def hflip(img):
    return _dispatch(img, "hflip")


def vflip(img):
    return _dispatch(img, "vflip")


def _channel_fill(fill, channels):
    if fill is None:
        return None
    if isinstance(fill, (int, float)):
        return [float(fill)] * channels
    return [float(value) for value in fill]


def rotate(img, angle, interpolation=InterpolationMode.NEAREST, expand=False, center=None,
           fill=None):
    """Rotate by ``angle`` degrees counter-clockwise about ``center`` (default: the centre)."""
    interpolation = interpolation_mode(interpolation)
    if not isinstance(angle, (int, float)):
        raise TypeError("Argument angle should be int or float")
    if center is not None and not isinstance(center, (list, tuple)):
        raise TypeError("Argument center should be a sequence")
    channels, height, width = get_dimensions(img)
    center_offset = [0.0, 0.0]
    if center is not None:
        # torchvision's matrix works about the image centre; rotate's sign is affine's inverse.
        center_offset = [1.0 * (value - size * 0.5) for value, size in zip(center,
                                                                            [width, height])]
    matrix = F_t.inverse_affine_matrix(center_offset, -angle, [0.0, 0.0], 1.0, [0.0, 0.0])
    return _apply(img,
                  lambda array: F_t.apply_affine(array, matrix, interpolation.value, expand,
                                                 _channel_fill(fill, channels)),
                  lambda image: F_pil.rotate(image, angle, _PIL_MODES[interpolation], expand,
                                             center, fill),
                  "rotate")


def _validate_affine(angle, translate, scale, shear, center):
    """torchvision's checks of affine's arguments; returns shear as [x, y] floats."""
    if not isinstance(angle, (int, float)):
        raise TypeError("Argument angle should be int or float")
    if not isinstance(translate, (list, tuple)):
        raise TypeError("Argument translate should be a sequence")
    if len(translate) != 2:
        raise ValueError("Argument translate should be a sequence of length 2")
    if scale <= 0.0:
        raise ValueError("Argument scale should be positive")
    if not isinstance(shear, (numbers.Number, list, tuple)):
        raise TypeError("Shear should be either a single value or a sequence of two values")
    if isinstance(shear, numbers.Number):
        shear = [shear, 0.0]
    shear = list(shear)
    if len(shear) == 1:
        shear = [shear[0], shear[0]]
    if len(shear) != 2:
        raise ValueError(f"Shear should be a sequence containing two values. Got {shear}")
    if center is not None and not isinstance(center, (list, tuple)):
        raise TypeError("Argument center should be a sequence")
    return shear


def affine(img, angle, translate, scale, shear, interpolation=InterpolationMode.NEAREST,
           fill=None, center=None):
    """Rotate by ``angle`` degrees (clockwise), shear, scale, then translate, about ``center``
    (default: the image centre)."""
    interpolation = interpolation_mode(interpolation)
    shear = _validate_affine(angle, translate, scale, shear, center)
    channels, height, width = get_dimensions(img)
    # PIL's matrix works in pixel coordinates, the tensor grid about the image centre.
    pil_center = [width * 0.5, height * 0.5] if center is None else center
    pil_matrix = F_t.inverse_affine_matrix(pil_center, float(angle), list(translate), scale,
                                           shear)
    center_offset = [0.0, 0.0]
    if center is not None:
        center_offset = [1.0 * (value - size * 0.5) for value, size in zip(center,
                                                                            [width, height])]
    matrix = F_t.inverse_affine_matrix(center_offset, float(angle),
                                       [1.0 * value for value in translate], scale, shear)
    return _apply(img,
                  lambda array: F_t.apply_affine(array, matrix, interpolation.value, False,
                                                 _channel_fill(fill, channels)),
                  lambda image: F_pil.affine(image, pil_matrix, _PIL_MODES[interpolation], fill),
                  "affine")


def _get_perspective_coeffs(startpoints, endpoints):
    """The 8 coefficients (a..h) that map each end point (x, y) to its start point
    ((a x + b y + c) / (g x + h y + 1), (d x + e y + f) / (g x + h y + 1)), solved in float64
    and rounded to float32 as torchvision does."""
    if len(startpoints) != 4 or len(endpoints) != 4:
        raise ValueError(f"Please provide exactly four corners, got {len(startpoints)} "
                         f"startpoints and {len(endpoints)} endpoints.")
    rows = []
    for (x, y), (u, v) in zip(endpoints, startpoints):
        rows.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        rows.append([0, 0, 0, x, y, 1, -v * x, -v * y])
    system = np.asarray(rows, dtype=np.float64)
    targets = np.asarray(startpoints, dtype=np.float64).reshape(8)
    solution = np.linalg.lstsq(system, targets, rcond=None)[0]
    return solution.astype(np.float32).tolist()


def perspective(img, startpoints, endpoints, interpolation=InterpolationMode.BILINEAR,
                fill=None):
    """Warp so that the four ``startpoints`` (top-left, top-right, bottom-right, bottom-left)
    move to ``endpoints``."""
    coefficients = _get_perspective_coeffs(startpoints, endpoints)
    interpolation = interpolation_mode(interpolation)
    channels = get_dimensions(img)[0]
    return _apply(img,
                  lambda array: F_t.perspective(array, coefficients, interpolation.value,
                                                _channel_fill(fill, channels)),
                  lambda image: F_pil.perspective(image, coefficients,
                                                  _PIL_MODES[interpolation], fill),
                  "perspective")


def _crop_size(size):
    if isinstance(size, numbers.Number):
        size = (int(size), int(size))
    elif isinstance(size, (tuple, list)) and len(size) == 1:
        size = (size[0], size[0])
    if len(size) != 2:
        raise ValueError("Please provide only two dimensions (h, w) for size.")
    return size


def five_crop(img, size):
    """The four corner crops and the central crop of ``size``: (tl, tr, bl, br, center)."""
    size = _crop_size(size)
    _, image_height, image_width = get_dimensions(img)
    crop_height, crop_width = size
    if crop_width > image_width or crop_height > image_height:
        raise ValueError(f"Requested crop size {size} is bigger than input size "
                         f"{(image_height, image_width)}")
    bottom = image_height - crop_height
    right = image_width - crop_width
    return (crop(img, 0, 0, crop_height, crop_width),
            crop(img, 0, right, crop_height, crop_width),
            crop(img, bottom, 0, crop_height, crop_width),
            crop(img, bottom, right, crop_height, crop_width),
            center_crop(img, [crop_height, crop_width]))


def ten_crop(img, size, vertical_flip=False):
    """five_crop of the image, then five_crop of its horizontal (or vertical) mirror."""
    size = _crop_size(size)
    flipped = vflip(img) if vertical_flip else hflip(img)
    return five_crop(img, size) + five_crop(flipped, size)


def _via_array(picture, kernel):
    """torchvision's route for a PIL image through a tensor kernel: pil_to_tensor, the kernel,
    then to_pil_image in the image's mode."""
    array = np.asarray(picture).reshape(picture.size[1], picture.size[0],
                                        len(picture.getbands()))
    result = kernel(np.ascontiguousarray(array.transpose(2, 0, 1)))
    return _array_to_pil(np.ascontiguousarray(result.transpose(1, 2, 0)), picture.mode)


def elastic_transform(img, displacement, interpolation=InterpolationMode.BILINEAR, fill=None):
    """Sample the image at the identity grid plus ``displacement`` (1, H, W, 2), in grid_sample's
    [-1, 1] coordinates."""
    if isinstance(interpolation, int):
        warnings.warn("Argument interpolation should be of type InterpolationMode instead of "
                      "int. Please, use InterpolationMode enum.", stacklevel=2)
    interpolation = interpolation_mode(interpolation)
    if not isinstance(displacement, Tensor):
        raise TypeError("Argument displacement should be a Tensor")
    channels, height, width = get_dimensions(img)
    expected = (1, height, width, 2)
    if tuple(displacement.shape) != expected:
        raise ValueError(f"Argument displacement shape should be {expected}, but given "
                         f"{tuple(displacement.shape)}")
    offsets = displacement.numpy(force=True)

    def kernel(array):
        return F_t.elastic_transform(array, offsets, interpolation.value,
                                     _channel_fill(fill, channels))

    return _apply(img, kernel, lambda picture: _via_array(picture, kernel), "elastic_transform")


# ---- colour -------------------------------------------------------------------------------------

def rgb_to_grayscale(img, num_output_channels=1):
    """Luma of an RGB image (tensor path: 0.2989 R + 0.587 G + 0.114 B)."""
    return _apply(img, lambda array: F_t.rgb_to_grayscale(array, num_output_channels),
                  lambda image: F_pil.to_grayscale(image, num_output_channels),
                  "rgb_to_grayscale")


to_grayscale = rgb_to_grayscale


def adjust_brightness(img, brightness_factor):
    """Blend with black: factor 0 gives black, 1 the image, 2 twice as bright (clipped)."""
    return _dispatch(img, "adjust_brightness", brightness_factor)


def adjust_contrast(img, contrast_factor):
    """Blend with the mean gray level of the image."""
    return _dispatch(img, "adjust_contrast", contrast_factor)


def adjust_saturation(img, saturation_factor):
    """Blend with the grayscale image."""
    return _dispatch(img, "adjust_saturation", saturation_factor)


def adjust_hue(img, hue_factor):
    """Rotate the hue by hue_factor turns (in [-0.5, 0.5])."""
    return _dispatch(img, "adjust_hue", hue_factor)


def adjust_gamma(img, gamma, gain=1):
    """gain * img ** gamma on intensities in [0, 1] (gamma < 1 brightens the shadows)."""
    return _dispatch(img, "adjust_gamma", gamma, gain)


def gaussian_blur(img, kernel_size, sigma=None):
    """Blur with a Gaussian kernel of odd ``kernel_size`` ([kx, ky] or one int) and standard
    deviation ``sigma`` (default 0.15 * kernel_size + 0.35), reflect-padded to keep the size."""
    if not isinstance(kernel_size, (int, list, tuple)):
        raise TypeError(f"kernel_size should be int or a sequence of integers. Got "
                        f"{type(kernel_size)}")
    if isinstance(kernel_size, int):
        kernel_size = [kernel_size, kernel_size]
    if len(kernel_size) != 2:
        raise ValueError(f"If kernel_size is a sequence its length should be 2. Got "
                         f"{len(kernel_size)}")
    for size in kernel_size:
        if size % 2 == 0 or size < 0:
            raise ValueError(f"kernel_size should have odd and positive integers. Got "
                             f"{kernel_size}")
    if sigma is None:
        sigma = [size * 0.15 + 0.35 for size in kernel_size]
    if not isinstance(sigma, (int, float, list, tuple)):
        raise TypeError(f"sigma should be either float or sequence of floats. Got {type(sigma)}")
    if isinstance(sigma, (int, float)):
        sigma = [float(sigma), float(sigma)]
    if len(sigma) == 1:
        sigma = [sigma[0], sigma[0]]
    if len(sigma) != 2:
        raise ValueError(f"If sigma is a sequence, its length should be 2. Got {len(sigma)}")
    for value in sigma:
        if value <= 0.0:
            raise ValueError(f"sigma should have positive values. Got {sigma}")

    def kernel(array):
        return F_t.gaussian_blur(array, kernel_size, sigma)

    return _apply(img, kernel, lambda picture: _via_array(picture, kernel), "gaussian_blur")


def invert(img):
    """Invert the colours: 255 - x for uint8 (and PIL), 1 - x for floats."""
    return _dispatch(img, "invert")


def posterize(img, bits):
    """Keep the ``bits`` (0-8) most significant bits of each uint8 channel value."""
    if not 0 <= bits <= 8:
        raise ValueError(f"The number if bits should be between 0 and 8. Got {bits}")
    return _dispatch(img, "posterize", bits)


def solarize(img, threshold):
    """Invert every value at or above ``threshold``."""
    return _dispatch(img, "solarize", threshold)


def adjust_sharpness(img, sharpness_factor):
    """Blend with a smoothed copy: 0 blurs, 1 keeps the image, 2 sharpens."""
    return _dispatch(img, "adjust_sharpness", sharpness_factor)


def autocontrast(img):
    """Remap each channel so that its darkest value becomes black and its lightest white."""
    return _dispatch(img, "autocontrast")


def equalize(img):
    """Equalize the histogram of each channel of a uint8 (or PIL) image."""
    return _dispatch(img, "equalize")


def erase(img, i, j, h, w, v, inplace=False):
    """Overwrite the (h, w) window at (i, j) of a tensor image with ``v`` (a tensor or number)."""
    _require_tensor(img, "erase")
    value = v.numpy(force=True) if isinstance(v, Tensor) else v
    if inplace:
        img[..., i:i + h, j:j + w] = as_tensor(np.asarray(value), dtype=img.dtype)
        return img
    return from_numpy(F_t.erase(img.numpy(force=True), i, j, h, w, value))


__all__ = ["InterpolationMode", "adjust_brightness", "adjust_contrast", "adjust_gamma",
           "adjust_hue", "adjust_saturation", "adjust_sharpness", "affine", "autocontrast",
           "center_crop", "convert_image_dtype", "crop", "elastic_transform", "equalize", "erase",
           "five_crop", "gaussian_blur", "get_dimensions", "get_image_num_channels",
           "get_image_size", "hflip", "invert", "normalize", "pad", "perspective",
           "pil_to_tensor", "posterize", "resize", "resized_crop", "rgb_to_grayscale", "rotate",
           "solarize", "ten_crop", "to_grayscale", "to_pil_image", "to_tensor", "vflip"]
