"""torchvision.transforms (the v1 API) on PIL images, NumPy images and ember tensors."""
from . import autoaugment, functional  # noqa: F401
from .autoaugment import (  # noqa: F401
    AugMix, AutoAugment, AutoAugmentPolicy, RandAugment, TrivialAugmentWide)
from .functional import InterpolationMode  # noqa: F401
from .transforms import (  # noqa: F401
    CenterCrop, ColorJitter, Compose, ConvertImageDtype, ElasticTransform, FiveCrop, GaussianBlur,
    Grayscale, Lambda, LinearTransformation, Normalize, Pad, PILToTensor, RandomAdjustSharpness,
    RandomAffine, RandomApply, RandomAutocontrast, RandomChoice, RandomCrop, RandomEqualize,
    RandomErasing, RandomGrayscale, RandomHorizontalFlip, RandomInvert, RandomOrder,
    RandomPerspective, RandomPosterize, RandomResizedCrop, RandomRotation, RandomSolarize,
    RandomVerticalFlip, Resize, TenCrop, ToPILImage, ToTensor)

__all__ = ["AugMix", "AutoAugment", "AutoAugmentPolicy", "CenterCrop", "ColorJitter", "Compose",
           "ConvertImageDtype", "ElasticTransform", "FiveCrop", "GaussianBlur", "Grayscale",
           "InterpolationMode", "Lambda", "LinearTransformation", "Normalize", "Pad",
           "PILToTensor", "RandAugment", "RandomAdjustSharpness", "RandomAffine", "RandomApply",
           "RandomAutocontrast", "RandomChoice", "RandomCrop", "RandomEqualize", "RandomErasing",
           "RandomGrayscale", "RandomHorizontalFlip", "RandomInvert", "RandomOrder",
           "RandomPerspective", "RandomPosterize", "RandomResizedCrop", "RandomRotation",
           "RandomSolarize", "RandomVerticalFlip", "Resize", "TenCrop", "ToPILImage", "ToTensor",
           "TrivialAugmentWide", "autoaugment", "functional"]
