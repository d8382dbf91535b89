"""torchvision.transforms.autoaugment: AutoAugment, RandAugment, TrivialAugmentWide and AugMix.

Policies, magnitude tables and the order and kind of every draw are torchvision's, so
``ember.manual_seed`` gives torchvision's choices and images. Magnitude tables are float32
linspaces (torch's), read back as Python floats.
"""
import enum
import math

import numpy as np

from ..._factories import linspace, rand, randint, tensor
from ...distributions import Dirichlet
from ...nn import Module
from ...tensor import Tensor
from . import functional as F
from .functional import InterpolationMode


def _apply_op(img, op_name, magnitude, interpolation, fill):
    """One named augmentation at ``magnitude`` (signed where the op is)."""
    if op_name in ("ShearX", "ShearY"):
        # The shear angle whose tangent is the magnitude, about the top-left corner.
        angle = math.degrees(math.atan(magnitude))
        shear = [angle, 0.0] if op_name == "ShearX" else [0.0, angle]
        return F.affine(img, angle=0.0, translate=[0, 0], scale=1.0, shear=shear,
                        interpolation=interpolation, fill=fill, center=[0, 0])
    if op_name in ("TranslateX", "TranslateY"):
        shift = [int(magnitude), 0] if op_name == "TranslateX" else [0, int(magnitude)]
        return F.affine(img, angle=0.0, translate=shift, scale=1.0, shear=[0.0, 0.0],
                        interpolation=interpolation, fill=fill)
    if op_name == "Rotate":
        return F.rotate(img, magnitude, interpolation=interpolation, fill=fill)
    enhancements = {"Brightness": F.adjust_brightness, "Color": F.adjust_saturation,
                    "Contrast": F.adjust_contrast, "Sharpness": F.adjust_sharpness}
    if op_name in enhancements:
        return enhancements[op_name](img, 1.0 + magnitude)
    if op_name == "Posterize":
        return F.posterize(img, int(magnitude))
    if op_name == "Solarize":
        return F.solarize(img, magnitude)
    plain = {"AutoContrast": F.autocontrast, "Equalize": F.equalize, "Invert": F.invert,
             "Identity": lambda image: image}
    if op_name in plain:
        return plain[op_name](img)
    raise ValueError(f"The provided operator {op_name} is not recognized.")


class _Magnitudes:
    """An op's magnitude table: a float32 array (empty dimension for a fixed op) and whether
    the op draws a sign."""

    def __init__(self, values, signed):
        self.values = np.asarray(values)
        self.signed = signed

    def __getitem__(self, index):
        return float(self.values[index])


def _span(end, bins, start=0.0):
    return _Magnitudes(linspace(start, end, bins).numpy(), True)


def _posterize_bits(top, bins, levels):
    """top - round(arange(bins) / ((bins - 1) / levels)), in float32 as torch divides an
    integer tensor by a float."""
    steps = np.arange(bins).astype(np.float32) / np.float32((bins - 1) / levels)
    return _Magnitudes(top - np.rint(steps).astype(np.int32), False)


def _fixed():
    return _Magnitudes(np.float32(0.0), False)


def _fill_for(img, fill):
    """The fill the tensor path takes: one float per channel from a number."""
    if not isinstance(img, Tensor) or fill is None:
        return fill
    if isinstance(fill, (int, float)):
        return [float(fill)] * F.get_dimensions(img)[0]
    return [float(value) for value in fill]


class AutoAugmentPolicy(enum.Enum):
    """The AutoAugment policies learned on ImageNet, CIFAR10 and SVHN."""

    IMAGENET = "imagenet"
    CIFAR10 = "cifar10"
    SVHN = "svhn"


# (op, probability, magnitude bin) pairs of Cubuk et al. 2019, in torchvision's order.
_POLICIES = {
    AutoAugmentPolicy.IMAGENET: [
        (("Posterize", 0.4, 8), ("Rotate", 0.6, 9)),
        (("Solarize", 0.6, 5), ("AutoContrast", 0.6, None)),
        (("Equalize", 0.8, None), ("Equalize", 0.6, None)),
        (("Posterize", 0.6, 7), ("Posterize", 0.6, 6)),
        (("Equalize", 0.4, None), ("Solarize", 0.2, 4)),
        (("Equalize", 0.4, None), ("Rotate", 0.8, 8)),
        (("Solarize", 0.6, 3), ("Equalize", 0.6, None)),
        (("Posterize", 0.8, 5), ("Equalize", 1.0, None)),
        (("Rotate", 0.2, 3), ("Solarize", 0.6, 8)),
        (("Equalize", 0.6, None), ("Posterize", 0.4, 6)),
        (("Rotate", 0.8, 8), ("Color", 0.4, 0)),
        (("Rotate", 0.4, 9), ("Equalize", 0.6, None)),
        (("Equalize", 0.0, None), ("Equalize", 0.8, None)),
        (("Invert", 0.6, None), ("Equalize", 1.0, None)),
        (("Color", 0.6, 4), ("Contrast", 1.0, 8)),
        (("Rotate", 0.8, 8), ("Color", 1.0, 2)),
        (("Color", 0.8, 8), ("Solarize", 0.8, 7)),
        (("Sharpness", 0.4, 7), ("Invert", 0.6, None)),
        (("ShearX", 0.6, 5), ("Equalize", 1.0, None)),
        (("Color", 0.4, 0), ("Equalize", 0.6, None)),
        (("Equalize", 0.4, None), ("Solarize", 0.2, 4)),
        (("Solarize", 0.6, 5), ("AutoContrast", 0.6, None)),
        (("Invert", 0.6, None), ("Equalize", 1.0, None)),
        (("Color", 0.6, 4), ("Contrast", 1.0, 8)),
        (("Equalize", 0.8, None), ("Equalize", 0.6, None)),
    ],
    AutoAugmentPolicy.CIFAR10: [
        (("Invert", 0.1, None), ("Contrast", 0.2, 6)),
        (("Rotate", 0.7, 2), ("TranslateX", 0.3, 9)),
        (("Sharpness", 0.8, 1), ("Sharpness", 0.9, 3)),
        (("ShearY", 0.5, 8), ("TranslateY", 0.7, 9)),
        (("AutoContrast", 0.5, None), ("Equalize", 0.9, None)),
        (("ShearY", 0.2, 7), ("Posterize", 0.3, 7)),
        (("Color", 0.4, 3), ("Brightness", 0.6, 7)),
        (("Sharpness", 0.3, 9), ("Brightness", 0.7, 9)),
        (("Equalize", 0.6, None), ("Equalize", 0.5, None)),
        (("Contrast", 0.6, 7), ("Sharpness", 0.6, 5)),
        (("Color", 0.7, 7), ("TranslateX", 0.5, 8)),
        (("Equalize", 0.3, None), ("AutoContrast", 0.4, None)),
        (("TranslateY", 0.4, 3), ("Sharpness", 0.2, 6)),
        (("Brightness", 0.9, 6), ("Color", 0.2, 8)),
        (("Solarize", 0.5, 2), ("Invert", 0.0, None)),
        (("Equalize", 0.2, None), ("AutoContrast", 0.6, None)),
        (("Equalize", 0.2, None), ("Equalize", 0.6, None)),
        (("Color", 0.9, 9), ("Equalize", 0.6, None)),
        (("AutoContrast", 0.8, None), ("Solarize", 0.2, 8)),
        (("Brightness", 0.1, 3), ("Color", 0.7, 0)),
        (("Solarize", 0.4, 5), ("AutoContrast", 0.9, None)),
        (("TranslateY", 0.9, 9), ("TranslateY", 0.7, 9)),
        (("AutoContrast", 0.9, None), ("Solarize", 0.8, 3)),
        (("Equalize", 0.8, None), ("Invert", 0.1, None)),
        (("TranslateY", 0.7, 9), ("AutoContrast", 0.9, None)),
    ],
    AutoAugmentPolicy.SVHN: [
        (("ShearX", 0.9, 4), ("Invert", 0.2, None)),
        (("ShearY", 0.9, 8), ("Invert", 0.7, None)),
        (("Equalize", 0.6, None), ("Solarize", 0.6, 6)),
        (("Invert", 0.9, None), ("Equalize", 0.6, None)),
        (("Equalize", 0.6, None), ("Rotate", 0.9, 3)),
        (("ShearX", 0.9, 4), ("AutoContrast", 0.8, None)),
        (("ShearY", 0.9, 8), ("Invert", 0.4, None)),
        (("ShearY", 0.9, 5), ("Solarize", 0.2, 6)),
        (("Invert", 0.9, None), ("AutoContrast", 0.8, None)),
        (("Equalize", 0.6, None), ("Rotate", 0.9, 3)),
        (("ShearX", 0.9, 4), ("Solarize", 0.3, 3)),
        (("ShearY", 0.8, 8), ("Invert", 0.7, None)),
        (("Equalize", 0.9, None), ("TranslateY", 0.6, 6)),
        (("Invert", 0.9, None), ("Equalize", 0.6, None)),
        (("Contrast", 0.3, 3), ("Rotate", 0.8, 4)),
        (("Invert", 0.8, None), ("TranslateY", 0.0, 2)),
        (("ShearY", 0.7, 6), ("Solarize", 0.4, 8)),
        (("Invert", 0.6, None), ("Rotate", 0.8, 4)),
        (("ShearY", 0.3, 7), ("TranslateX", 0.9, 3)),
        (("ShearX", 0.1, 6), ("Invert", 0.6, None)),
        (("Solarize", 0.7, 2), ("TranslateY", 0.6, 7)),
        (("ShearY", 0.8, 4), ("Invert", 0.8, None)),
        (("ShearX", 0.7, 9), ("TranslateY", 0.8, 3)),
        (("ShearY", 0.8, 5), ("AutoContrast", 0.7, None)),
        (("ShearX", 0.7, 2), ("Invert", 0.1, None)),
    ],
}


class AutoAugment(Module):
    """A random sub-policy (two ops, each applied with its probability) of ``policy``."""

    def __init__(self, policy=AutoAugmentPolicy.IMAGENET,
                 interpolation=InterpolationMode.NEAREST, fill=None):
        super().__init__()
        self.policy = policy
        self.interpolation = interpolation
        self.fill = fill
        self.policies = self._get_policies(policy)

    def _get_policies(self, policy):
        if policy not in _POLICIES:
            raise ValueError(f"The provided policy {policy} is not recognized.")
        return list(_POLICIES[policy])

    def _augmentation_space(self, num_bins, image_size):
        height, width = image_size
        return {
            "ShearX": _span(0.3, num_bins), "ShearY": _span(0.3, num_bins),
            "TranslateX": _span(150.0 / 331.0 * width, num_bins),
            "TranslateY": _span(150.0 / 331.0 * height, num_bins),
            "Rotate": _span(30.0, num_bins), "Brightness": _span(0.9, num_bins),
            "Color": _span(0.9, num_bins), "Contrast": _span(0.9, num_bins),
            "Sharpness": _span(0.9, num_bins), "Posterize": _posterize_bits(8, num_bins, 4),
            "Solarize": _Magnitudes(linspace(255.0, 0.0, num_bins).numpy(), False),
            "AutoContrast": _fixed(), "Equalize": _fixed(), "Invert": _fixed(),
        }

    @staticmethod
    def get_params(transform_num):
        """(sub-policy index, two uniform draws, two signs), drawn in this order."""
        policy_id = int(randint(transform_num, (1,)).item())
        probabilities = rand((2,))
        signs = randint(2, (2,))
        return policy_id, probabilities, signs

    def forward(self, img):
        fill = _fill_for(img, self.fill)
        _, height, width = F.get_dimensions(img)
        transform_id, probabilities, signs = self.get_params(len(self.policies))
        op_meta = self._augmentation_space(10, (height, width))
        draws = probabilities.numpy()
        for index, (op_name, probability, magnitude_id) in enumerate(self.policies[transform_id]):
            # torch compares the float32 draw with the probability in float32.
            if draws[index] <= np.float32(probability):
                magnitudes = op_meta[op_name]
                magnitude = magnitudes[magnitude_id] if magnitude_id is not None else 0.0
                if magnitudes.signed and signs[index].item() == 0:
                    magnitude *= -1.0
                img = _apply_op(img, op_name, magnitude, self.interpolation, fill)
        return img


    def __repr__(self):
        return f"{self.__class__.__name__}(policy={self.policy}, fill={self.fill})"


def _draw_op(op_meta):
    op_index = int(randint(len(op_meta), (1,)).item())
    op_name = list(op_meta.keys())[op_index]
    return op_name, op_meta[op_name]


def _signed(magnitude, magnitudes):
    """The magnitude, negated on a coin flip that only signed ops draw."""
    if magnitudes.signed and randint(2, (1,)).item():
        return -magnitude
    return magnitude


class RandAugment(Module):
    """``num_ops`` ops drawn uniformly, each at the fixed ``magnitude`` bin of
    ``num_magnitude_bins`` with a random sign (Cubuk et al. 2020)."""

    def __init__(self, num_ops=2, magnitude=9, num_magnitude_bins=31,
                 interpolation=InterpolationMode.NEAREST, fill=None):
        super().__init__()
        self.num_ops = num_ops
        self.magnitude = magnitude
        self.num_magnitude_bins = num_magnitude_bins
        self.interpolation = interpolation
        self.fill = fill

    def _augmentation_space(self, num_bins, image_size):
        height, width = image_size
        return {
            "Identity": _fixed(), "ShearX": _span(0.3, num_bins), "ShearY": _span(0.3, num_bins),
            "TranslateX": _span(150.0 / 331.0 * width, num_bins),
            "TranslateY": _span(150.0 / 331.0 * height, num_bins),
            "Rotate": _span(30.0, num_bins), "Brightness": _span(0.9, num_bins),
            "Color": _span(0.9, num_bins), "Contrast": _span(0.9, num_bins),
            "Sharpness": _span(0.9, num_bins), "Posterize": _posterize_bits(8, num_bins, 4),
            "Solarize": _Magnitudes(linspace(255.0, 0.0, num_bins).numpy(), False),
            "AutoContrast": _fixed(), "Equalize": _fixed(),
        }

    def forward(self, img):
        fill = _fill_for(img, self.fill)
        _, height, width = F.get_dimensions(img)
        op_meta = self._augmentation_space(self.num_magnitude_bins, (height, width))
        for _ in range(self.num_ops):
            op_name, magnitudes = _draw_op(op_meta)
            magnitude = magnitudes[self.magnitude] if magnitudes.values.ndim > 0 else 0.0
            img = _apply_op(img, op_name, _signed(magnitude, magnitudes), self.interpolation,
                            fill)
        return img


    def __repr__(self):
        return (f"{self.__class__.__name__}(num_ops={self.num_ops}, magnitude={self.magnitude}, "
                f"num_magnitude_bins={self.num_magnitude_bins}, "
                f"interpolation={self.interpolation}, fill={self.fill})")


class TrivialAugmentWide(Module):
    """One op drawn uniformly at a uniformly drawn magnitude bin with a random sign (Müller and
    Hutter 2021)."""

    def __init__(self, num_magnitude_bins=31, interpolation=InterpolationMode.NEAREST,
                 fill=None):
        super().__init__()
        self.num_magnitude_bins = num_magnitude_bins
        self.interpolation = interpolation
        self.fill = fill

    def _augmentation_space(self, num_bins):
        return {
            "Identity": _fixed(), "ShearX": _span(0.99, num_bins),
            "ShearY": _span(0.99, num_bins), "TranslateX": _span(32.0, num_bins),
            "TranslateY": _span(32.0, num_bins), "Rotate": _span(135.0, num_bins),
            "Brightness": _span(0.99, num_bins), "Color": _span(0.99, num_bins),
            "Contrast": _span(0.99, num_bins), "Sharpness": _span(0.99, num_bins),
            "Posterize": _posterize_bits(8, num_bins, 6),
            "Solarize": _Magnitudes(linspace(255.0, 0.0, num_bins).numpy(), False),
            "AutoContrast": _fixed(), "Equalize": _fixed(),
        }

    def forward(self, img):
        fill = _fill_for(img, self.fill)
        op_name, magnitudes = _draw_op(self._augmentation_space(self.num_magnitude_bins))
        magnitude = 0.0
        if magnitudes.values.ndim > 0:
            magnitude = magnitudes[int(randint(len(magnitudes.values), (1,)).item())]
        return _apply_op(img, op_name, _signed(magnitude, magnitudes), self.interpolation,
                         fill)


    def __repr__(self):
        return (f"{self.__class__.__name__}(num_magnitude_bins={self.num_magnitude_bins}, "
                f"interpolation={self.interpolation}, fill={self.fill})")


class AugMix(Module):
    """A Dirichlet-weighted mix of ``mixture_width`` chains of random ops, blended with the
    original by a Beta(alpha, alpha) weight (Hendrycks et al. 2020)."""

    _PARAMETER_MAX = 10

    def __init__(self, severity=3, mixture_width=3, chain_depth=-1, alpha=1.0, all_ops=True,
                 interpolation=InterpolationMode.BILINEAR, fill=None):
        super().__init__()
        if not 1 <= severity <= self._PARAMETER_MAX:
            raise ValueError(f"The severity must be between [1, {self._PARAMETER_MAX}]. Got "
                             f"{severity} instead.")
        self.severity = severity
        self.mixture_width = mixture_width
        self.chain_depth = chain_depth
        self.alpha = alpha
        self.all_ops = all_ops
        self.interpolation = interpolation
        self.fill = fill

    def _augmentation_space(self, num_bins, image_size):
        height, width = image_size
        space = {
            "ShearX": _span(0.3, num_bins), "ShearY": _span(0.3, num_bins),
            "TranslateX": _span(width / 3.0, num_bins),
            "TranslateY": _span(height / 3.0, num_bins), "Rotate": _span(30.0, num_bins),
            "Posterize": _posterize_bits(4, num_bins, 4),
            "Solarize": _Magnitudes(linspace(255.0, 0.0, num_bins).numpy(), False),
            "AutoContrast": _fixed(), "Equalize": _fixed(),
        }
        if self.all_ops:
            space.update({"Brightness": _span(0.9, num_bins), "Color": _span(0.9, num_bins),
                          "Contrast": _span(0.9, num_bins), "Sharpness": _span(0.9, num_bins)})
        return space

    def forward(self, orig_img):
        fill = _fill_for(orig_img, self.fill)
        _, height, width = F.get_dimensions(orig_img)
        img = orig_img if isinstance(orig_img, Tensor) else F.pil_to_tensor(orig_img)
        op_meta = self._augmentation_space(self._PARAMETER_MAX, (height, width))
        original_shape = tuple(img.shape)
        batch = img.reshape((1,) * max(4 - img.dim(), 0) + original_shape)
        count = batch.shape[0]
        weight_shape = (count,) + (1,) * (batch.dim() - 1)
        blend = Dirichlet(tensor([self.alpha, self.alpha]).expand(count, -1)).sample().numpy()
        chain_weights = Dirichlet(
            tensor([self.alpha] * self.mixture_width).expand(count, -1)).sample().numpy()
        chain_weights = chain_weights * blend[:, 1].reshape(count, -1)
        mix = blend[:, 0].reshape(weight_shape) * batch.numpy()
        for chain in range(self.mixture_width):
            augmented = batch
            depth = self.chain_depth
            if depth <= 0:
                depth = int(randint(low=1, high=4, size=(1,)).item())
            for _ in range(depth):
                op_name, magnitudes = _draw_op(op_meta)
                magnitude = 0.0
                if magnitudes.values.ndim > 0:
                    magnitude = magnitudes[int(randint(self.severity, (1,)).item())]
                augmented = _apply_op(augmented, op_name, _signed(magnitude, magnitudes),
                                      self.interpolation, fill)
            mix += chain_weights[:, chain].reshape(weight_shape) * augmented.numpy()
        result = tensor(mix.reshape(original_shape)).to(img.dtype)
        if not isinstance(orig_img, Tensor):
            return F.to_pil_image(result)
        return result


    def __repr__(self):
        return (f"{self.__class__.__name__}(severity={self.severity}, mixture_width="
                f"{self.mixture_width}, chain_depth={self.chain_depth}, alpha={self.alpha}, "
                f"all_ops={self.all_ops}, interpolation={self.interpolation}, fill={self.fill})")


__all__ = ["AugMix", "AutoAugment", "AutoAugmentPolicy", "RandAugment", "TrivialAugmentWide"]
