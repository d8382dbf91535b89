"""torchvision's weights API: each model's ``<Model>_Weights`` enum names torchvision's published
ImageNet weights (url, evaluation transform, parameter count). ember downloads nothing: a model
built with one of them raises the error ``pretrained=True`` raises (docs/vision.md)."""
import enum
import sys
from dataclasses import dataclass
from functools import partial

from ..transforms._presets import ImageClassification
from ..transforms.functional import InterpolationMode

__all__ = ["Weights", "WeightsEnum", "get_model_weights", "get_weight"]


@dataclass
class Weights:
    url: str
    transforms: object
    meta: dict


class WeightsEnum(enum.Enum):
    """Base of the ``<Model>_Weights`` enums; ``DEFAULT`` is the recommended entry."""

    @classmethod
    def verify(cls, obj):
        """``obj`` as a member of this enum (None, a member, or its name) or a TypeError."""
        if obj is None:
            return None
        if isinstance(obj, str):
            return cls[obj.replace(cls.__name__ + ".", "")]
        if not isinstance(obj, cls):
            raise TypeError(f"Invalid Weight class provided; expected {cls.__name__} but "
                            f"received {obj.__class__.__name__}.")
        return obj

    def get_state_dict(self, *args, **kwargs):
        raise RuntimeError(f"{self!r}: ember downloads no weights; convert {self.url} once "
                           f"(docs/vision.md) and pass the safetensors file as weights=")

    def __repr__(self):
        return f"{self.__class__.__name__}.{self._name_}"

    @property
    def url(self):
        return self.value.url

    @property
    def transforms(self):
        return self.value.transforms

    @property
    def meta(self):
        return self.value.meta


def _imagenet(file, num_params, min_size, crop_size=224, resize_size=256, **transform_options):
    """One torchvision ImageNet-1K entry (the category names are not carried)."""
    return Weights(url=f"https://download.pytorch.org/models/{file}",
                   transforms=partial(ImageClassification, crop_size=crop_size,
                                      resize_size=resize_size, **transform_options),
                   meta={"num_params": num_params, "min_size": min_size})


class ResNet18_Weights(WeightsEnum):
    IMAGENET1K_V1 = _imagenet("resnet18-f37072fd.pth", 11689512, (1, 1))
    DEFAULT = IMAGENET1K_V1


class ResNet34_Weights(WeightsEnum):
    IMAGENET1K_V1 = _imagenet("resnet34-b627a593.pth", 21797672, (1, 1))
    DEFAULT = IMAGENET1K_V1


class ResNet50_Weights(WeightsEnum):
    IMAGENET1K_V1 = _imagenet("resnet50-0676ba61.pth", 25557032, (1, 1))
    IMAGENET1K_V2 = _imagenet("resnet50-11ad3fa6.pth", 25557032, (1, 1), resize_size=232)
    DEFAULT = IMAGENET1K_V2


class VGG11_Weights(WeightsEnum):
    IMAGENET1K_V1 = _imagenet("vgg11-8a719046.pth", 132863336, (32, 32))
    DEFAULT = IMAGENET1K_V1


class VGG11_BN_Weights(WeightsEnum):
    IMAGENET1K_V1 = _imagenet("vgg11_bn-6002323d.pth", 132868840, (32, 32))
    DEFAULT = IMAGENET1K_V1


class VGG16_Weights(WeightsEnum):
    IMAGENET1K_V1 = _imagenet("vgg16-397923af.pth", 138357544, (32, 32))
    # features only (ported from ssd.pytorch): the classifier's values are missing
    IMAGENET1K_FEATURES = _imagenet("vgg16_features-amdegroot-88682ab5.pth", 138357544, (32, 32),
                                    mean=(0.48235, 0.45882, 0.40784),
                                    std=(1.0 / 255.0, 1.0 / 255.0, 1.0 / 255.0))
    DEFAULT = IMAGENET1K_V1


class VGG16_BN_Weights(WeightsEnum):
    IMAGENET1K_V1 = _imagenet("vgg16_bn-6c64b313.pth", 138365992, (32, 32))
    DEFAULT = IMAGENET1K_V1


class AlexNet_Weights(WeightsEnum):
    IMAGENET1K_V1 = _imagenet("alexnet-owt-7be5be79.pth", 61100840, (63, 63))
    DEFAULT = IMAGENET1K_V1


class MobileNet_V2_Weights(WeightsEnum):
    IMAGENET1K_V1 = _imagenet("mobilenet_v2-b0353104.pth", 3504872, (1, 1))
    IMAGENET1K_V2 = _imagenet("mobilenet_v2-7ebf99e0.pth", 3504872, (1, 1), resize_size=232)
    DEFAULT = IMAGENET1K_V2


class SqueezeNet1_1_Weights(WeightsEnum):
    IMAGENET1K_V1 = _imagenet("squeezenet1_1-b8a52dc0.pth", 1235496, (17, 17))
    DEFAULT = IMAGENET1K_V1

class ResNet101_Weights(WeightsEnum):
    IMAGENET1K_V1 = _imagenet("resnet101-63fe2227.pth", 44549160, (1, 1))
    IMAGENET1K_V2 = _imagenet("resnet101-cd907fc2.pth", 44549160, (1, 1), resize_size=232)
    DEFAULT = IMAGENET1K_V2


class ResNet152_Weights(WeightsEnum):
    IMAGENET1K_V1 = _imagenet("resnet152-394f9c45.pth", 60192808, (1, 1))
    IMAGENET1K_V2 = _imagenet("resnet152-f82ba261.pth", 60192808, (1, 1), resize_size=232)
    DEFAULT = IMAGENET1K_V2


class ResNeXt50_32X4D_Weights(WeightsEnum):
    IMAGENET1K_V1 = _imagenet("resnext50_32x4d-7cdf4587.pth", 25028904, (1, 1))
    IMAGENET1K_V2 = _imagenet("resnext50_32x4d-1a0047aa.pth", 25028904, (1, 1), resize_size=232)
    DEFAULT = IMAGENET1K_V2


class ResNeXt101_32X8D_Weights(WeightsEnum):
    IMAGENET1K_V1 = _imagenet("resnext101_32x8d-8ba56ff5.pth", 88791336, (1, 1))
    IMAGENET1K_V2 = _imagenet("resnext101_32x8d-110c445d.pth", 88791336, (1, 1), resize_size=232)
    DEFAULT = IMAGENET1K_V2


class ResNeXt101_64X4D_Weights(WeightsEnum):
    IMAGENET1K_V1 = _imagenet("resnext101_64x4d-173b62eb.pth", 83455272, (1, 1), resize_size=232)
    DEFAULT = IMAGENET1K_V1


class Wide_ResNet50_2_Weights(WeightsEnum):
    IMAGENET1K_V1 = _imagenet("wide_resnet50_2-95faca4d.pth", 68883240, (1, 1))
    IMAGENET1K_V2 = _imagenet("wide_resnet50_2-9ba9bcbe.pth", 68883240, (1, 1), resize_size=232)
    DEFAULT = IMAGENET1K_V2


class Wide_ResNet101_2_Weights(WeightsEnum):
    IMAGENET1K_V1 = _imagenet("wide_resnet101_2-32ee1156.pth", 126886696, (1, 1))
    IMAGENET1K_V2 = _imagenet("wide_resnet101_2-d733dc28.pth", 126886696, (1, 1), resize_size=232)
    DEFAULT = IMAGENET1K_V2


class VGG13_Weights(WeightsEnum):
    IMAGENET1K_V1 = _imagenet("vgg13-19584684.pth", 133047848, (32, 32))
    DEFAULT = IMAGENET1K_V1


class VGG13_BN_Weights(WeightsEnum):
    IMAGENET1K_V1 = _imagenet("vgg13_bn-abd245e5.pth", 133053736, (32, 32))
    DEFAULT = IMAGENET1K_V1


class VGG19_Weights(WeightsEnum):
    IMAGENET1K_V1 = _imagenet("vgg19-dcbb9e9d.pth", 143667240, (32, 32))
    DEFAULT = IMAGENET1K_V1


class VGG19_BN_Weights(WeightsEnum):
    IMAGENET1K_V1 = _imagenet("vgg19_bn-c79401a0.pth", 143678248, (32, 32))
    DEFAULT = IMAGENET1K_V1


class SqueezeNet1_0_Weights(WeightsEnum):
    IMAGENET1K_V1 = _imagenet("squeezenet1_0-b66bff10.pth", 1248424, (21, 21))
    DEFAULT = IMAGENET1K_V1


MODEL_WEIGHTS = {
    "resnet18": ResNet18_Weights,
    "resnet34": ResNet34_Weights,
    "resnet50": ResNet50_Weights,
    "vgg11": VGG11_Weights,
    "vgg11_bn": VGG11_BN_Weights,
    "vgg16": VGG16_Weights,
    "vgg16_bn": VGG16_BN_Weights,
    "alexnet": AlexNet_Weights,
    "mobilenet_v2": MobileNet_V2_Weights,
    "squeezenet1_1": SqueezeNet1_1_Weights,
    "resnet101": ResNet101_Weights,
    "resnet152": ResNet152_Weights,
    "resnext50_32x4d": ResNeXt50_32X4D_Weights,
    "resnext101_32x8d": ResNeXt101_32X8D_Weights,
    "resnext101_64x4d": ResNeXt101_64X4D_Weights,
    "wide_resnet50_2": Wide_ResNet50_2_Weights,
    "wide_resnet101_2": Wide_ResNet101_2_Weights,
    "vgg13": VGG13_Weights,
    "vgg13_bn": VGG13_BN_Weights,
    "vgg19": VGG19_Weights,
    "vgg19_bn": VGG19_BN_Weights,
    "squeezenet1_0": SqueezeNet1_0_Weights,
}


def get_model_weights(name):
    """The weights enum of a model builder (or its name)."""
    name = getattr(name, "__name__", name)
    if name not in MODEL_WEIGHTS:
        raise ValueError(f"Unknown model {name}")
    return MODEL_WEIGHTS[name]


def get_weight(name):
    """The weights entry named ``'<Model>_Weights.<ENTRY>'``."""
    enum_name, _, value_name = name.partition(".")
    enum_class = getattr(sys.modules[__name__], enum_name, None)
    if not (isinstance(enum_class, type) and issubclass(enum_class, WeightsEnum)):
        raise ValueError(f"The weight enum '{enum_name}' for the specific method couldn't be "
                         f"retrieved.")
    return enum_class[value_name]
