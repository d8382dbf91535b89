"""torchvision's v1 transform classes. Random parameters are drawn from ember's default
generator with the same calls, in the same order, as torchvision draws them from torch's
(``randint(...)``, ``rand(1)``, ``empty(1).uniform_(a, b)``, ``randperm(4)``), so
``ember.manual_seed`` makes a pipeline reproducible."""
import math
import numbers
import warnings
from collections.abc import Sequence

import numpy as np

from ... import _dtype
from ..._factories import as_tensor, empty, rand, randint, randperm, tensor
from ...nn import Module
from ...nn.modules.utils import _Family
from ...tensor import Tensor
from .._optional import is_pil_image
from . import functional as F
from .functional import InterpolationMode, interpolation_mode


class Compose:
    """Apply the transforms one after the other."""

    def __init__(self, transforms):
        self.transforms = transforms

    def __call__(self, img):
        for transform in self.transforms:
            img = transform(img)
        return img

    def __repr__(self):
        lines = [self.__class__.__name__ + "("]
        lines += [f"    {transform}" for transform in self.transforms]
        return "\n".join(lines) + "\n)"


class ToTensor:
    """PIL image or ndarray (H x W x C) in [0, 255] -> float tensor (C x H x W) in [0, 1]."""

    def __call__(self, pic):
        return F.to_tensor(pic)

    def __repr__(self):
        return f"{self.__class__.__name__}()"


class PILToTensor:
    """PIL image -> tensor (C x H x W) of the image's dtype, values unchanged."""

    def __call__(self, pic):
        return F.pil_to_tensor(pic)

    def __repr__(self):
        return f"{self.__class__.__name__}()"


class ToPILImage:
    """Tensor (C x H x W) or ndarray (H x W x C) -> PIL image."""

    def __init__(self, mode=None):
        self.mode = mode

    def __call__(self, pic):
        return F.to_pil_image(pic, self.mode)

    def __repr__(self):
        mode = "" if self.mode is None else f"mode={self.mode}"
        return f"{self.__class__.__name__}({mode})"


class _FunctionalTransform(Module):
    """A transform that calls one function of F with the attributes named in ``arguments``
    (shown in its repr, unless ``shown`` names fewer)."""

    function = None
    arguments = ()
    shown = None

    def forward(self, img):
        return type(self).function(img, *(getattr(self, name) for name in self.arguments))

    def __repr__(self):
        names = self.arguments if self.shown is None else self.shown
        listed = ", ".join(f"{name}={getattr(self, name)}" for name in names)
        return f"{self.__class__.__name__}({listed})"


class ConvertImageDtype(_FunctionalTransform):
    """Convert a tensor image to ``dtype``, rescaling the values."""

    function = staticmethod(F.convert_image_dtype)
    arguments = ("dtype",)

    def __init__(self, dtype):
        super().__init__()
        self.dtype = dtype


class Normalize(_FunctionalTransform):
    """(input - mean) / std per channel of a float tensor image."""

    function = staticmethod(F.normalize)
    arguments = ("mean", "std", "inplace")
    shown = ("mean", "std")

    def __init__(self, mean, std, inplace=False):
        super().__init__()
        self.mean = mean
        self.std = std
        self.inplace = inplace


class Lambda:
    """Apply a user function as a transform."""

    def __init__(self, lambd):
        if not callable(lambd):
            raise TypeError(f"Argument lambd should be callable, got "
                            f"{repr(type(lambd).__name__)}")
        self.lambd = lambd

    def __call__(self, img):
        return self.lambd(img)

    def __repr__(self):
        return f"{self.__class__.__name__}()"


def _setup_size(size, error_msg):
    if isinstance(size, numbers.Number):
        return int(size), int(size)
    if isinstance(size, Sequence) and len(size) == 1:
        return size[0], size[0]
    if len(size) != 2:
        raise ValueError(error_msg)
    return size


def _check_sequence(value, name, sizes):
    if not isinstance(value, Sequence):
        raise TypeError(f"{name} should be a sequence of length {' or '.join(map(str, sizes))}.")
    if len(value) not in sizes:
        raise ValueError(f"{name} should be a sequence of length "
                         f"{' or '.join(map(str, sizes))}.")


def _check_scale_and_ratio(scale, ratio):
    """The (min, max) ranges of RandomResizedCrop and RandomErasing: sequences, in order."""
    if not isinstance(scale, Sequence):
        raise TypeError("Scale should be a sequence")
    if not isinstance(ratio, Sequence):
        raise TypeError("Ratio should be a sequence")
    if scale[0] > scale[1] or ratio[0] > ratio[1]:
        # stacklevel 3: the warning points at the line that built the transform.
        warnings.warn("Scale and ratio should be of kind (min, max)", stacklevel=3)


def _setup_angle(value, name, sizes=(2,)):
    if isinstance(value, numbers.Number):
        if value < 0:
            raise ValueError(f"If {name} is a single number, it must be positive.")
        return [-value, value]
    _check_sequence(value, name, sizes)
    return [float(item) for item in value]


def _check_fill(fill):
    if fill is None:
        return 0
    if not isinstance(fill, (numbers.Number, tuple, list)):
        raise TypeError("Fill should be either a sequence or a number.")
    return fill


class Resize(Module):
    """Resize to ``size`` ([h, w], or an int for the shorter edge keeping the aspect ratio)."""

    def __init__(self, size, interpolation=InterpolationMode.BILINEAR, max_size=None,
                 antialias=True):
        super().__init__()
        if not isinstance(size, (int, Sequence)):
            raise TypeError(f"Size should be int or sequence. Got {type(size)}")
        if isinstance(size, Sequence) and len(size) not in (1, 2):
            raise ValueError("If size is a sequence, it should have 1 or 2 values")
        self.size = size
        self.max_size = max_size
        self.interpolation = interpolation_mode(interpolation)
        self.antialias = antialias

    def forward(self, img):
        return F.resize(img, self.size, self.interpolation, self.max_size, self.antialias)

    def __repr__(self):
        return (f"{self.__class__.__name__}(size={self.size}, interpolation="
                f"{self.interpolation.value}, max_size={self.max_size}, "
                f"antialias={self.antialias})")


class CenterCrop(_FunctionalTransform):
    """The central window of ``size``."""

    function = staticmethod(F.center_crop)
    arguments = ("size",)

    def __init__(self, size):
        super().__init__()
        self.size = _setup_size(size, "Please provide only two dimensions (h, w) for size.")


class Pad(_FunctionalTransform):
    """Pad every side with ``fill`` or by edge/reflect/symmetric extension."""

    function = staticmethod(F.pad)
    arguments = ("padding", "fill", "padding_mode")

    def __init__(self, padding, fill=0, padding_mode="constant"):
        super().__init__()
        if not isinstance(padding, (numbers.Number, tuple, list)):
            raise TypeError("Got inappropriate padding arg")
        if not isinstance(fill, (numbers.Number, tuple, list)):
            raise TypeError("Got inappropriate fill arg")
        if padding_mode not in ("constant", "edge", "reflect", "symmetric"):
            raise ValueError("Padding mode should be either constant, edge, reflect or "
                             "symmetric")
        if isinstance(padding, Sequence) and len(padding) not in (1, 2, 4):
            raise ValueError(f"Padding must be an int or a 1, 2, or 4 element tuple, not a "
                             f"{len(padding)} element tuple")
        self.padding = padding
        self.fill = fill
        self.padding_mode = padding_mode


class RandomCrop(Module):
    """A window of ``size`` at a random position, after optional padding."""

    @staticmethod
    def get_params(img, output_size):
        """(top, left, height, width) of a random crop of ``output_size``."""
        _, height, width = F.get_dimensions(img)
        crop_height, crop_width = output_size
        if height < crop_height or width < crop_width:
            raise ValueError(f"Required crop size {(crop_height, crop_width)} is larger than "
                             f"input image size {(height, width)}")
        if width == crop_width and height == crop_height:
            return 0, 0, height, width
        top = randint(0, height - crop_height + 1, size=(1,)).item()
        left = randint(0, width - crop_width + 1, size=(1,)).item()
        return top, left, crop_height, crop_width

    def __init__(self, size, padding=None, pad_if_needed=False, fill=0, padding_mode="constant"):
        super().__init__()
        self.size = tuple(_setup_size(size, "Please provide only two dimensions (h, w) for "
                                            "size."))
        self.padding = padding
        self.pad_if_needed = pad_if_needed
        self.fill = fill
        self.padding_mode = padding_mode

    def forward(self, img):
        if self.padding is not None:
            img = F.pad(img, self.padding, self.fill, self.padding_mode)
        _, height, width = F.get_dimensions(img)
        if self.pad_if_needed and width < self.size[1]:
            img = F.pad(img, [self.size[1] - width, 0], self.fill, self.padding_mode)
        if self.pad_if_needed and height < self.size[0]:
            img = F.pad(img, [0, self.size[0] - height], self.fill, self.padding_mode)
        top, left, height, width = self.get_params(img, self.size)
        return F.crop(img, top, left, height, width)

    def __repr__(self):
        return f"{self.__class__.__name__}(size={self.size}, padding={self.padding})"


class RandomResizedCrop(Module):
    """A random window (area fraction ``scale``, aspect ratio ``ratio``) resized to ``size``."""

    def __init__(self, size, scale=(0.08, 1.0), ratio=(3.0 / 4.0, 4.0 / 3.0),
                 interpolation=InterpolationMode.BILINEAR, antialias=True):
        super().__init__()
        self.size = _setup_size(size, "Please provide only two dimensions (h, w) for size.")
        _check_scale_and_ratio(scale, ratio)
        self.interpolation = interpolation_mode(interpolation)
        self.antialias = antialias
        self.scale = scale
        self.ratio = ratio

    @staticmethod
    def get_params(img, scale, ratio):
        """(top, left, height, width): up to 10 random tries, then a central crop."""
        _, height, width = F.get_dimensions(img)
        log_ratio = tensor(ratio, dtype=_dtype.float32).log()
        for _ in range(10):
            crop_width, crop_height = _random_window(height * width, scale, log_ratio)
            if 0 < crop_width <= width and 0 < crop_height <= height:
                top = randint(0, height - crop_height + 1, size=(1,)).item()
                left = randint(0, width - crop_width + 1, size=(1,)).item()
                return top, left, crop_height, crop_width
        in_ratio = float(width) / float(height)
        if in_ratio < min(ratio):
            crop_width = width
            crop_height = int(round(crop_width / min(ratio)))
        elif in_ratio > max(ratio):
            crop_height = height
            crop_width = int(round(crop_height * max(ratio)))
        else:
            crop_width = width
            crop_height = height
        return (height - crop_height) // 2, (width - crop_width) // 2, crop_height, crop_width

    def forward(self, img):
        top, left, height, width = self.get_params(img, self.scale, self.ratio)
        return F.resized_crop(img, top, left, height, width, self.size, self.interpolation,
                              antialias=self.antialias)

    def __repr__(self):
        return (f"{self.__class__.__name__}(size={self.size}, scale="
                f"{tuple(round(value, 4) for value in self.scale)}, ratio="
                f"{tuple(round(value, 4) for value in self.ratio)}, interpolation="
                f"{self.interpolation.value}, antialias={self.antialias})")


def _random_window(area, scale, log_ratio):
    """One try of torchvision's window sampling: an area fraction drawn from ``scale``, an
    aspect ratio log-uniform in ``log_ratio``; returns the rounded (sqrt(a * r), sqrt(a / r))."""
    target_area = area * empty(1).uniform_(scale[0], scale[1]).item()
    aspect_ratio = empty(1).uniform_(log_ratio[0].item(), log_ratio[1].item()).exp().item()
    return (int(round(math.sqrt(target_area * aspect_ratio))),
            int(round(math.sqrt(target_area / aspect_ratio))))


class _RandomFlip(_Family, Module):
    def __init__(self, p=0.5):
        super().__init__()
        self.p = p

    def forward(self, img):
        if rand(1).item() < self.p:
            return type(self)._functional(img)
        return img

    def __repr__(self):
        return f"{self.__class__.__name__}(p={self.p})"


class RandomHorizontalFlip(_RandomFlip, functional=F.hflip):
    """Mirror left-right with probability ``p``."""


class RandomVerticalFlip(_RandomFlip, functional=F.vflip):
    """Mirror top-bottom with probability ``p``."""


class RandomRotation(Module):
    """Rotate by an angle drawn uniformly from ``degrees``."""

    def __init__(self, degrees, interpolation=InterpolationMode.NEAREST, expand=False,
                 center=None, fill=0):
        super().__init__()
        self.interpolation = interpolation_mode(interpolation)
        self.degrees = _setup_angle(degrees, "degrees")
        if center is not None:
            _check_sequence(center, "center", (2,))
        self.center = center
        self.expand = expand
        self.fill = _check_fill(fill)

    @staticmethod
    def get_params(degrees):
        return float(empty(1).uniform_(float(degrees[0]), float(degrees[1])).item())

    def forward(self, img):
        fill = self.fill
        channels, _, _ = F.get_dimensions(img)
        if not is_pil_image(img):
            fill = ([float(fill)] * channels if isinstance(fill, (int, float))
                    else [float(value) for value in fill])
        angle = self.get_params(self.degrees)
        return F.rotate(img, angle, self.interpolation, self.expand, self.center, fill)

    def __repr__(self):
        return (f"{self.__class__.__name__}(degrees={self.degrees}, interpolation="
                f"{self.interpolation.value}, expand={self.expand}"
                + (f", center={self.center}" if self.center is not None else "")
                + (f", fill={self.fill}" if self.fill is not None else "") + ")")


class ColorJitter(Module):
    """Random brightness, contrast, saturation and hue, applied in a random order."""

    def __init__(self, brightness=0, contrast=0, saturation=0, hue=0):
        super().__init__()
        self.brightness = self._check_input(brightness, "brightness")
        self.contrast = self._check_input(contrast, "contrast")
        self.saturation = self._check_input(saturation, "saturation")
        self.hue = self._check_input(hue, "hue", center=0, bound=(-0.5, 0.5),
                                     clip_first_on_zero=False)

    @staticmethod
    def _check_input(value, name, center=1, bound=(0, float("inf")), clip_first_on_zero=True):
        if isinstance(value, numbers.Number):
            if value < 0:
                raise ValueError(f"If {name} is a single number, it must be non negative.")
            value = [center - float(value), center + float(value)]
            if clip_first_on_zero:
                value[0] = max(value[0], 0.0)
        elif isinstance(value, (tuple, list)) and len(value) == 2:
            value = [float(value[0]), float(value[1])]
        else:
            raise TypeError(f"{name} should be a single number or a list/tuple with length 2.")
        if not bound[0] <= value[0] <= value[1] <= bound[1]:
            raise ValueError(f"{name} values should be between {bound}, but got {value}.")
        if value[0] == value[1] == center:
            return None
        return tuple(value)

    @staticmethod
    def get_params(brightness, contrast, saturation, hue):
        """(order, brightness, contrast, saturation, hue factors); None for an unused one."""
        order = randperm(4)
        factors = [None if bounds is None else float(empty(1).uniform_(bounds[0], bounds[1]).item())
                   for bounds in (brightness, contrast, saturation, hue)]
        return (order, *factors)

    def forward(self, img):
        order, brightness, contrast, saturation, hue = self.get_params(
            self.brightness, self.contrast, self.saturation, self.hue)
        adjustments = ((F.adjust_brightness, brightness), (F.adjust_contrast, contrast),
                       (F.adjust_saturation, saturation), (F.adjust_hue, hue))
        for index in order.tolist():
            adjust, factor = adjustments[index]
            if factor is not None:
                img = adjust(img, factor)
        return img

    def __repr__(self):
        return (f"{self.__class__.__name__}(brightness={self.brightness}, contrast="
                f"{self.contrast}, saturation={self.saturation}, hue={self.hue})")


class Grayscale(_FunctionalTransform):
    """Convert to grayscale with 1 or 3 output channels."""

    function = staticmethod(F.rgb_to_grayscale)
    arguments = ("num_output_channels",)

    def __init__(self, num_output_channels=1):
        super().__init__()
        self.num_output_channels = num_output_channels


class RandomApply(Module):
    """Apply the list of transforms, all together, with probability ``p``."""

    def __init__(self, transforms, p=0.5):
        super().__init__()
        self.transforms = transforms
        self.p = p

    def forward(self, img):
        if self.p < rand(1).item():
            return img
        for transform in self.transforms:
            img = transform(img)
        return img

    def __repr__(self):
        lines = [f"{self.__class__.__name__}(", f"    p={self.p}"]
        lines += [f"    {transform}" for transform in self.transforms]
        return "\n".join(lines) + "\n)"


class RandomErasing(Module):
    """With probability ``p``, erase a random rectangle of a tensor image (Zhong et al. 2017)."""

    def __init__(self, p=0.5, scale=(0.02, 0.33), ratio=(0.3, 3.3), value=0, inplace=False):
        super().__init__()
        if not isinstance(value, (numbers.Number, str, tuple, list)):
            raise TypeError("Argument value should be either a number or str or a sequence")
        if isinstance(value, str) and value != "random":
            raise ValueError("If value is str, it should be 'random'")
        _check_scale_and_ratio(scale, ratio)
        if scale[0] < 0 or scale[1] > 1:
            raise ValueError("Scale should be between 0 and 1")
        if p < 0 or p > 1:
            raise ValueError("Random erasing probability should be between 0 and 1")
        self.p = p
        self.scale = scale
        self.ratio = ratio
        self.value = value
        self.inplace = inplace

    @staticmethod
    def get_params(img, scale, ratio, value=None):
        """(top, left, height, width, values); the whole image unchanged after 10 failed tries."""
        channels, height, width = img.shape[-3], img.shape[-2], img.shape[-1]
        log_ratio = tensor(ratio, dtype=_dtype.float32).log()
        for _ in range(10):
            erase_height, erase_width = _random_window(height * width, scale, log_ratio)
            if not (erase_height < height and erase_width < width):
                continue
            if value is None:
                values = empty([channels, erase_height, erase_width],
                               dtype=_dtype.float32).normal_()
            else:
                values = as_tensor(np.asarray(value)[:, None, None])
            top = randint(0, height - erase_height + 1, size=(1,)).item()
            left = randint(0, width - erase_width + 1, size=(1,)).item()
            return top, left, erase_height, erase_width, values
        return 0, 0, height, width, img

    def forward(self, img):
        if not isinstance(img, Tensor):
            raise TypeError(f"RandomErasing: img should be Tensor Image. Got {type(img)}")
        if rand(1).item() < self.p:
            if isinstance(self.value, (int, float)):
                value = [float(self.value)]
            elif isinstance(self.value, str):
                value = None
            else:
                value = [float(item) for item in self.value]
            if value is not None and len(value) not in (1, img.shape[-3]):
                raise ValueError(f"If value is a sequence, it should have either a single value "
                                 f"or {img.shape[-3]} (number of input channels)")
            top, left, height, width, values = self.get_params(img, self.scale, self.ratio,
                                                               value)
            return F.erase(img, top, left, height, width, values, self.inplace)
        return img

    def __repr__(self):
        return (f"{self.__class__.__name__}(p={self.p}, scale={self.scale}, ratio={self.ratio}, "
                f"value={self.value}, inplace={self.inplace})")
