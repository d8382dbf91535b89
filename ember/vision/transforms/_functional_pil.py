"""Image kernels on PIL images, computed by pillow itself as torchvision's PIL path does."""
import numpy as np

from .._optional import pil_image, require


def get_dimensions(image):
    width, height = image.size
    return [len(image.getbands()), height, width]


def parse_fill(fill, image, name="fillcolor"):
    """``{name: fill}`` for pillow: one value per band, ints unless the image is float ('F')."""
    channels = len(image.getbands())
    if fill is None:
        fill = 0
    if isinstance(fill, (int, float)) and channels > 1:
        fill = tuple([fill] * channels)
    if isinstance(fill, (list, tuple)):
        if len(fill) == 1:
            fill = tuple(fill) * channels
        elif len(fill) != channels:
            raise ValueError(f"The number of elements in 'fill' does not match the number of "
                             f"channels of the image ({len(fill)} != {channels})")
        fill = tuple(fill)
    if image.mode != "F":
        fill = tuple(int(value) for value in fill) if isinstance(fill, tuple) else int(fill)
    return {name: fill}


def hflip(image):
    return image.transpose(pil_image().Transpose.FLIP_LEFT_RIGHT)


def vflip(image):
    return image.transpose(pil_image().Transpose.FLIP_TOP_BOTTOM)


def crop(image, top, left, height, width):
    return image.crop((left, top, left + width, top + height))


def pad(image, padding, fill=0, padding_mode="constant"):
    """Pad by (left, top, right, bottom); negative values crop."""
    padding = np.asarray(padding)
    cropping = -np.minimum(padding, 0)
    if cropping.any():
        crop_left, crop_top, crop_right, crop_bottom = (int(value) for value in cropping)
        image = image.crop((crop_left, crop_top, image.width - crop_right,
                            image.height - crop_bottom))
    left, top, right, bottom = (int(value) for value in np.maximum(padding, 0))
    palette = image.getpalette() if image.mode == "P" else None
    if padding_mode == "constant":
        image_ops = require("PIL.ImageOps", "ember.vision.transforms.functional.pad")
        padded = image_ops.expand(image, border=(left, top, right, bottom),
                                  **parse_fill(fill, image, name="fill"))
    else:
        array = np.asarray(image)
        widths = [(top, bottom), (left, right)] + [(0, 0)] * (array.ndim - 2)
        padded = pil_image().fromarray(np.pad(array, widths, mode=padding_mode))
    if palette is not None:
        padded.putpalette(palette)
    return padded


def resize(image, size, interpolation):
    """``size`` = [height, width]; ``interpolation`` is a pillow resampling constant."""
    return image.resize((size[1], size[0]), interpolation)


def rotate(image, angle, interpolation, expand=False, center=None, fill=None):
    return image.rotate(angle, interpolation, expand, center, **parse_fill(fill, image))


def to_grayscale(image, num_output_channels=1):
    if num_output_channels not in (1, 3):
        raise ValueError("num_output_channels should be either 1 or 3")
    gray = image.convert("L")
    if num_output_channels == 3:
        array = np.asarray(gray)
        return pil_image().fromarray(np.dstack([array, array, array]))
    return gray


def _enhance(image, enhancer_name, factor, name):
    if factor < 0:
        raise ValueError(f"{name} ({factor}) is not non-negative.")
    image_enhance = require("PIL.ImageEnhance", "ember.vision.transforms.functional")
    return getattr(image_enhance, enhancer_name)(image).enhance(factor)


def adjust_brightness(image, brightness_factor):
    return _enhance(image, "Brightness", brightness_factor, "brightness_factor")


def adjust_contrast(image, contrast_factor):
    return _enhance(image, "Contrast", contrast_factor, "contrast_factor")


def adjust_saturation(image, saturation_factor):
    return _enhance(image, "Color", saturation_factor, "saturation_factor")


def adjust_hue(image, hue_factor):
    """Shift the H band of pillow's HSV by hue_factor * 255, wrapping around (uint8)."""
    if not (-0.5 <= hue_factor <= 0.5):
        raise ValueError(f"hue_factor ({hue_factor}) is not in [-0.5, 0.5].")
    input_mode = image.mode
    if input_mode in {"L", "1", "I", "F"}:
        return image
    hue, saturation, value = image.convert("HSV").split()
    shift = int(hue_factor * 255) % 256
    shifted = ((np.asarray(hue, dtype=np.int64) + shift) % 256).astype(np.uint8)
    images = pil_image()
    return images.merge("HSV", (images.fromarray(shifted), saturation, value)).convert(
        input_mode)


def affine(image, matrix, interpolation, fill=None):
    """pillow's AFFINE transform with the inverse ``matrix`` (output pixel -> input pixel)."""
    return image.transform(image.size, pil_image().Transform.AFFINE, matrix, interpolation,
                           **parse_fill(fill, image))


def perspective(image, coefficients, interpolation, fill=None):
    """pillow's PERSPECTIVE transform with the 8 ``coefficients``."""
    return image.transform(image.size, pil_image().Transform.PERSPECTIVE, coefficients,
                           interpolation, **parse_fill(fill, image))


def _image_ops(name):
    return require("PIL.ImageOps", f"ember.vision.transforms.functional.{name}")


def invert(image):
    return _image_ops("invert").invert(image)


def posterize(image, bits):
    return _image_ops("posterize").posterize(image, bits)


def solarize(image, threshold):
    return _image_ops("solarize").solarize(image, threshold)


def adjust_sharpness(image, sharpness_factor):
    """pillow's ImageEnhance.Sharpness (torchvision checks no sign on this path)."""
    image_enhance = require("PIL.ImageEnhance", "ember.vision.transforms.functional")
    return image_enhance.Sharpness(image).enhance(sharpness_factor)


def autocontrast(image):
    return _image_ops("autocontrast").autocontrast(image)


def equalize(image):
    return _image_ops("equalize").equalize(image)


def adjust_gamma(image, gamma, gain=1.0):
    """A 256-entry lookup table int((255 + 1 - 1e-3) * gain * (x / 255) ** gamma) on RGB."""
    if gamma < 0:
        raise ValueError("Gamma should be a non-negative real number")
    input_mode = image.mode
    table = [int((255 + 1 - 1e-3) * gain * pow(level / 255.0, gamma)) for level in range(256)]
    return image.convert("RGB").point(table * 3).convert(input_mode)
