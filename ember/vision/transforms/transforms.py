"""torchvision's v1 transform classes. Random parameters are drawn from ember's default
generator with the same calls, in the same order, as torchvision draws them from torch's
(``randint(...)``, ``rand(1)``, ``empty(1).uniform_(a, b)``, ``randperm(4)``), so
``ember.manual_seed`` makes a pipeline reproducible."""
import math
import numbers
import random
import warnings
from collections.abc import Sequence

import numpy as np

from ... import _dtype
from ..._factories import as_tensor, empty, rand, randint, randperm, tensor
from ...ops.shape import cat
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
        return [-float(value), float(value)]
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


def _draw_below(p):
    """``torch.rand(1) < p``: a uniform draw compared with p in float32 (the tensor's dtype),
    as torchvision writes it for flips, RandomApply, RandomGrayscale and RandomPerspective."""
    return np.float32(rand(1).item()) < np.float32(p)


class _RandomFlip(_Family, Module):
    def __init__(self, p=0.5):
        super().__init__()
        self.p = p

    def forward(self, img):
        if _draw_below(self.p):
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
        if np.float32(self.p) < np.float32(rand(1).item()):
            return img
        for transform in self.transforms:
            img = transform(img)
        return img

    def __repr__(self):
        lines = [f"{self.__class__.__name__}(", f"    p={self.p}"]
        lines += [f"    {transform}" for transform in self.transforms]
        return "\n".join(lines) + "\n)"



class RandomTransforms:
    """Base of the transforms that pick among a list of transforms."""

    def __init__(self, transforms):
        if not isinstance(transforms, Sequence):
            raise TypeError("Argument transforms should be a sequence")
        self.transforms = transforms

    def __call__(self, *args, **kwargs):
        raise NotImplementedError()

    def __repr__(self):
        lines = [self.__class__.__name__ + "("]
        lines += [f"    {transform}" for transform in self.transforms]
        return "\n".join(lines) + "\n)"


class RandomOrder(RandomTransforms):
    """Apply the transforms in a random order (Python's ``random.shuffle``, as torchvision)."""

    def __call__(self, img):
        order = list(range(len(self.transforms)))
        random.shuffle(order)
        for index in order:
            img = self.transforms[index](img)
        return img


class RandomChoice(RandomTransforms):
    """Apply one transform picked with weights ``p`` (Python's ``random.choices``, as
    torchvision)."""

    def __init__(self, transforms, p=None):
        super().__init__(transforms)
        if p is not None and not isinstance(p, Sequence):
            raise TypeError("Argument p should be a sequence")
        self.p = p

    def __call__(self, *args):
        transform = random.choices(self.transforms, weights=self.p)[0]
        return transform(*args)

    def __repr__(self):
        return f"{super().__repr__()}(p={self.p})"

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



class RandomGrayscale(Module):
    """Convert to grayscale with probability ``p``, keeping the number of channels."""

    def __init__(self, p=0.1):
        super().__init__()
        self.p = p

    def forward(self, img):
        num_output_channels, _, _ = F.get_dimensions(img)
        if _draw_below(self.p):
            return F.rgb_to_grayscale(img, num_output_channels=num_output_channels)
        return img

    def __repr__(self):
        return f"{self.__class__.__name__}(p={self.p})"


class GaussianBlur(Module):
    """Gaussian blur with a sigma drawn uniformly from ``sigma`` = (min, max)."""

    def __init__(self, kernel_size, sigma=(0.1, 2.0)):
        super().__init__()
        self.kernel_size = _setup_size(kernel_size, "Kernel size should be a tuple/list of two "
                                                    "integers")
        for size in self.kernel_size:
            if size <= 0 or size % 2 == 0:
                raise ValueError("Kernel size value should be an odd and positive number.")
        if isinstance(sigma, numbers.Number):
            if sigma <= 0:
                raise ValueError("If sigma is a single number, it must be positive.")
            sigma = (sigma, sigma)
        elif isinstance(sigma, Sequence) and len(sigma) == 2:
            if not 0.0 < sigma[0] <= sigma[1]:
                raise ValueError("sigma values should be positive and of the form (min, max).")
        else:
            raise ValueError("sigma should be a single number or a list/tuple with length 2.")
        self.sigma = sigma

    @staticmethod
    def get_params(sigma_min, sigma_max):
        return empty(1).uniform_(sigma_min, sigma_max).item()

    def forward(self, img):
        sigma = self.get_params(self.sigma[0], self.sigma[1])
        return F.gaussian_blur(img, self.kernel_size, [sigma, sigma])

    def __repr__(self):
        return f"{self.__class__.__name__}(kernel_size={self.kernel_size}, sigma={self.sigma})"


def _tensor_fill(img, fill):
    """The fill list the tensor path takes: one float per channel from a number."""
    if not isinstance(img, Tensor):
        return fill
    channels = F.get_dimensions(img)[0]
    if isinstance(fill, (int, float)):
        return [float(fill)] * channels
    return [float(value) for value in fill]


def _check_fill_argument(fill):
    if fill is None:
        return 0
    if not isinstance(fill, (Sequence, numbers.Number)):
        raise TypeError("Fill should be either a sequence or a number.")
    return fill


class RandomAffine(Module):
    """Random rotation, translation, scale and shear about the centre (or ``center``)."""

    def __init__(self, degrees, translate=None, scale=None, shear=None,
                 interpolation=InterpolationMode.NEAREST, fill=0, center=None):
        super().__init__()
        self.interpolation = interpolation_mode(interpolation)
        self.degrees = _setup_angle(degrees, "degrees", (2,))
        if translate is not None:
            _check_sequence(translate, "translate", (2,))
            for value in translate:
                if not 0.0 <= value <= 1.0:
                    raise ValueError("translation values should be between 0 and 1")
        self.translate = translate
        if scale is not None:
            _check_sequence(scale, "scale", (2,))
            for value in scale:
                if value <= 0:
                    raise ValueError("scale values should be positive")
        self.scale = scale
        self.shear = None if shear is None else _setup_angle(shear, "shear", (2, 4))
        self.fill = _check_fill_argument(fill)
        if center is not None:
            _check_sequence(center, "center", (2,))
        self.center = center

    @staticmethod
    def get_params(degrees, translate, scale_ranges, shears, img_size):
        """(angle, (tx, ty), scale, (shear_x, shear_y)), drawn in this order; ``img_size`` is
        [width, height]."""
        angle = float(empty(1).uniform_(float(degrees[0]), float(degrees[1])).item())
        translations = (0, 0)
        if translate is not None:
            max_dx = float(translate[0] * img_size[0])
            max_dy = float(translate[1] * img_size[1])
            translate_x = int(round(empty(1).uniform_(-max_dx, max_dx).item()))
            translate_y = int(round(empty(1).uniform_(-max_dy, max_dy).item()))
            translations = (translate_x, translate_y)
        scale = 1.0
        if scale_ranges is not None:
            scale = float(empty(1).uniform_(scale_ranges[0], scale_ranges[1]).item())
        shear_x = shear_y = 0.0
        if shears is not None:
            shear_x = float(empty(1).uniform_(shears[0], shears[1]).item())
            if len(shears) == 4:
                shear_y = float(empty(1).uniform_(shears[2], shears[3]).item())
        return angle, translations, scale, (shear_x, shear_y)

    def forward(self, img):
        fill = _tensor_fill(img, self.fill)
        _, height, width = F.get_dimensions(img)
        parameters = self.get_params(self.degrees, self.translate, self.scale, self.shear,
                                     [width, height])
        return F.affine(img, *parameters, interpolation=self.interpolation, fill=fill,
                        center=self.center)

    def __repr__(self):
        text = f"{self.__class__.__name__}(degrees={self.degrees}"
        text += f", translate={self.translate}" if self.translate is not None else ""
        text += f", scale={self.scale}" if self.scale is not None else ""
        text += f", shear={self.shear}" if self.shear is not None else ""
        if self.interpolation != InterpolationMode.NEAREST:
            text += f", interpolation={self.interpolation.value}"
        text += f", fill={self.fill}" if self.fill != 0 else ""
        text += f", center={self.center}" if self.center is not None else ""
        return text + ")"


class RandomPerspective(Module):
    """With probability ``p``, move each corner inwards by up to ``distortion_scale`` of half
    the image and warp accordingly."""

    def __init__(self, distortion_scale=0.5, p=0.5, interpolation=InterpolationMode.BILINEAR,
                 fill=0):
        super().__init__()
        self.p = p
        self.interpolation = interpolation_mode(interpolation)
        self.distortion_scale = distortion_scale
        self.fill = _check_fill_argument(fill)

    def forward(self, img):
        fill = _tensor_fill(img, self.fill)
        _, height, width = F.get_dimensions(img)
        if _draw_below(self.p):
            startpoints, endpoints = self.get_params(width, height, self.distortion_scale)
            return F.perspective(img, startpoints, endpoints, self.interpolation, fill)
        return img

    @staticmethod
    def get_params(width, height, distortion_scale):
        """(startpoints, endpoints): the image corners (top-left, top-right, bottom-right,
        bottom-left) and each moved by a random inward offset, drawn x then y, corner by
        corner."""
        reach_x = int(distortion_scale * (width // 2))
        reach_y = int(distortion_scale * (height // 2))

        def near(limit):
            return int(randint(0, limit + 1, size=(1,)).item())

        def far(size, limit):
            return int(randint(size - limit - 1, size, size=(1,)).item())

        top_left = [near(reach_x), near(reach_y)]
        top_right = [far(width, reach_x), near(reach_y)]
        bottom_right = [far(width, reach_x), far(height, reach_y)]
        bottom_left = [near(reach_x), far(height, reach_y)]
        startpoints = [[0, 0], [width - 1, 0], [width - 1, height - 1], [0, height - 1]]
        return startpoints, [top_left, top_right, bottom_right, bottom_left]

    def __repr__(self):
        return f"{self.__class__.__name__}(p={self.p})"


class _RandomColorOp(_Family, Module):
    """Apply ``_functional`` (with the attribute named ``_argument``, if any) with probability
    ``p``; the draw is ``rand(1).item() < p``, as torchvision writes it for these."""

    _functional = None
    _argument = None

    def forward(self, img):
        if rand(1).item() < self.p:
            arguments = () if self._argument is None else (getattr(self, self._argument),)
            return type(self)._functional(img, *arguments)
        return img

    def __repr__(self):
        if self._argument is None:
            return f"{self.__class__.__name__}(p={self.p})"
        value = getattr(self, self._argument)
        return f"{self.__class__.__name__}({self._argument}={value},p={self.p})"


class RandomInvert(_RandomColorOp, functional=F.invert):
    """Invert the colours with probability ``p``."""

    def __init__(self, p=0.5):
        super().__init__()
        self.p = p


class RandomPosterize(_RandomColorOp, functional=F.posterize, argument="bits"):
    """Keep ``bits`` bits per channel with probability ``p``."""

    def __init__(self, bits, p=0.5):
        super().__init__()
        self.bits = bits
        self.p = p


class RandomSolarize(_RandomColorOp, functional=F.solarize, argument="threshold"):
    """Invert the values at or above ``threshold`` with probability ``p``."""

    def __init__(self, threshold, p=0.5):
        super().__init__()
        self.threshold = threshold
        self.p = p


class RandomAdjustSharpness(_RandomColorOp, functional=F.adjust_sharpness,
                            argument="sharpness_factor"):
    """Adjust the sharpness by ``sharpness_factor`` with probability ``p``."""

    def __init__(self, sharpness_factor, p=0.5):
        super().__init__()
        self.sharpness_factor = sharpness_factor
        self.p = p


class RandomAutocontrast(_RandomColorOp, functional=F.autocontrast):
    """Autocontrast with probability ``p``."""

    def __init__(self, p=0.5):
        super().__init__()
        self.p = p


class RandomEqualize(_RandomColorOp, functional=F.equalize):
    """Equalize the histogram with probability ``p``."""

    def __init__(self, p=0.5):
        super().__init__()
        self.p = p


class FiveCrop(Module):
    """The four corner crops and the central crop of ``size`` (a tuple of 5 images)."""

    def __init__(self, size):
        super().__init__()
        self.size = _setup_size(size, "Please provide only two dimensions (h, w) for size.")

    def forward(self, img):
        return F.five_crop(img, self.size)

    def __repr__(self):
        return f"{self.__class__.__name__}(size={self.size})"


class TenCrop(Module):
    """FiveCrop of the image and of its mirror (horizontal, or vertical with
    ``vertical_flip``)."""

    def __init__(self, size, vertical_flip=False):
        super().__init__()
        self.size = _setup_size(size, "Please provide only two dimensions (h, w) for size.")
        self.vertical_flip = vertical_flip

    def forward(self, img):
        return F.ten_crop(img, self.size, self.vertical_flip)

    def __repr__(self):
        return f"{self.__class__.__name__}(size={self.size}, vertical_flip={self.vertical_flip})"


class LinearTransformation(Module):
    """(x.flatten() - mean_vector) @ transformation_matrix, reshaped back: ZCA whitening and
    the like on tensor images."""

    def __init__(self, transformation_matrix, mean_vector):
        super().__init__()
        matrix_shape = tuple(transformation_matrix.shape)
        if transformation_matrix.shape[0] != transformation_matrix.shape[1]:
            raise ValueError(f"transformation_matrix should be square. Got {matrix_shape} "
                             f"rectangular matrix.")
        if mean_vector.shape[0] != transformation_matrix.shape[0]:
            raise ValueError(f"mean_vector should have the same length {mean_vector.shape[0]} as "
                             f"any one of the dimensions of the transformation_matrix "
                             f"[{matrix_shape}]")
        if transformation_matrix.dtype != mean_vector.dtype:
            raise ValueError(f"Input tensors should have the same dtype. Got "
                             f"{transformation_matrix.dtype} and {mean_vector.dtype}")
        self.transformation_matrix = transformation_matrix
        self.mean_vector = mean_vector

    def forward(self, tensor):
        shape = tensor.shape
        size = shape[-3] * shape[-2] * shape[-1]
        if size != self.transformation_matrix.shape[0]:
            raise ValueError(f"Input tensor and transformation matrix have incompatible shape."
                             f"[{shape[-3]} x {shape[-2]} x {shape[-1]}] != "
                             f"{self.transformation_matrix.shape[0]}")
        flat = tensor.reshape(-1, size) - self.mean_vector
        transformed = flat.mm(self.transformation_matrix.to(flat.dtype))
        return transformed.reshape(shape)

    def __repr__(self):
        return (f"{self.__class__.__name__}(transformation_matrix="
                f"{self.transformation_matrix.tolist()}, mean_vector={self.mean_vector.tolist()})")


def _elastic_parameter(value, name):
    """alpha or sigma of ElasticTransform: a float or a sequence of two floats -> [x, y]."""
    if not isinstance(value, (float, Sequence)):
        raise TypeError(f"{name} should be float or a sequence of floats. Got {type(value)}")
    if isinstance(value, Sequence) and len(value) != 2:
        raise ValueError(f"If {name} is a sequence its length should be 2. Got {len(value)}")
    if isinstance(value, Sequence):
        for element in value:
            if not isinstance(element, float):
                raise TypeError(f"{name} should be a sequence of floats. Got {type(element)}")
        return value
    return [float(value), float(value)]


class ElasticTransform(Module):
    """Displace every pixel by smoothed random offsets: uniform noise blurred with ``sigma``,
    scaled by ``alpha`` (Simard et al. 2003)."""

    def __init__(self, alpha=50.0, sigma=5.0, interpolation=InterpolationMode.BILINEAR,
                 fill=0):
        super().__init__()
        self.alpha = _elastic_parameter(alpha, "alpha")
        self.sigma = _elastic_parameter(sigma, "sigma")
        self.interpolation = interpolation_mode(interpolation)
        if isinstance(fill, (int, float)):
            fill = [float(fill)]
        elif isinstance(fill, (list, tuple)):
            fill = [float(value) for value in fill]
        else:
            raise TypeError(f"fill should be int or float or a list or tuple of them. Got "
                            f"{type(fill)}")
        self.fill = fill

    @staticmethod
    def get_params(alpha, sigma, size):
        """The (1, H, W, 2) displacement: uniform [-1, 1) noise for x then y, each blurred by
        a Gaussian of size int(8 sigma + 1) made odd and scaled by alpha / (width or height)."""
        offsets = []
        for axis in range(2):
            noise = rand([1, 1] + list(size)) * 2 - 1
            if sigma[axis] > 0.0:
                kernel_size = int(8 * sigma[axis] + 1)
                kernel_size += 1 - kernel_size % 2
                noise = F.gaussian_blur(noise, [kernel_size, kernel_size], sigma)
            offsets.append(noise * alpha[axis] / size[1 - axis])
        return cat(offsets, 1).permute([0, 2, 3, 1])

    def forward(self, tensor):
        _, height, width = F.get_dimensions(tensor)
        displacement = self.get_params(self.alpha, self.sigma, [height, width])
        return F.elastic_transform(tensor, displacement, self.interpolation, self.fill)

    def __repr__(self):
        return (f"{self.__class__.__name__}(alpha={self.alpha}, sigma={self.sigma}, "
                f"interpolation={self.interpolation}, fill={self.fill})")
