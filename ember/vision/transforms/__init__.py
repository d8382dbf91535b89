"""torchvision.transforms (the v1 API) on PIL images, NumPy images and ember tensors."""
from . import functional  # noqa: F401
from .functional import InterpolationMode  # noqa: F401
from .transforms import (  # noqa: F401
    CenterCrop, ColorJitter, Compose, ConvertImageDtype, Grayscale, Lambda, Normalize, Pad,
    PILToTensor, RandomApply, RandomCrop, RandomErasing, RandomHorizontalFlip, RandomResizedCrop,
    RandomRotation, RandomVerticalFlip, Resize, ToPILImage, ToTensor)

__all__ = ["CenterCrop", "ColorJitter", "Compose", "ConvertImageDtype", "Grayscale",
           "InterpolationMode", "Lambda", "Normalize", "Pad", "PILToTensor", "RandomApply",
           "RandomCrop", "RandomErasing", "RandomHorizontalFlip", "RandomResizedCrop",
           "RandomRotation", "RandomVerticalFlip", "Resize", "ToPILImage", "ToTensor",
           "functional"]
