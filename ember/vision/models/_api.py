"""torchvision's weights API: each model's ``<Model>_Weights`` enum names torchvision's published
ImageNet weights (url, evaluation transform, parameter count). ember downloads nothing: a model
built with one of them raises the error ``pretrained=True`` raises (docs/vision.md)."""
import enum
import fnmatch
import importlib
import sys
from dataclasses import dataclass
from functools import partial

from ..transforms._presets import ImageClassification
from ..transforms.functional import InterpolationMode

__all__ = ["Weights", "WeightsEnum", "get_model", "get_model_builder", "get_model_weights",
           "get_weight", "list_models"]


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

class DenseNet121_Weights(WeightsEnum):
    IMAGENET1K_V1 = _imagenet("densenet121-a639ec97.pth", 7978856, (29, 29))
    DEFAULT = IMAGENET1K_V1


class DenseNet161_Weights(WeightsEnum):
    IMAGENET1K_V1 = _imagenet("densenet161-8d451a50.pth", 28681000, (29, 29))
    DEFAULT = IMAGENET1K_V1


class DenseNet169_Weights(WeightsEnum):
    IMAGENET1K_V1 = _imagenet("densenet169-b2777c0a.pth", 14149480, (29, 29))
    DEFAULT = IMAGENET1K_V1


class DenseNet201_Weights(WeightsEnum):
    IMAGENET1K_V1 = _imagenet("densenet201-c1103571.pth", 20013928, (29, 29))
    DEFAULT = IMAGENET1K_V1


class MobileNet_V3_Small_Weights(WeightsEnum):
    IMAGENET1K_V1 = _imagenet("mobilenet_v3_small-047dcff4.pth", 2542856, (1, 1))
    DEFAULT = IMAGENET1K_V1


class MobileNet_V3_Large_Weights(WeightsEnum):
    IMAGENET1K_V1 = _imagenet("mobilenet_v3_large-8738ca79.pth", 5483032, (1, 1))
    IMAGENET1K_V2 = _imagenet("mobilenet_v3_large-5c1a4163.pth", 5483032, (1, 1), resize_size=232)
    DEFAULT = IMAGENET1K_V2


class EfficientNet_B0_Weights(WeightsEnum):
    IMAGENET1K_V1 = _imagenet("efficientnet_b0_rwightman-7f5810bc.pth", 5288548, (1, 1),
                              interpolation=InterpolationMode.BICUBIC)
    DEFAULT = IMAGENET1K_V1


class EfficientNet_B1_Weights(WeightsEnum):
    IMAGENET1K_V1 = _imagenet("efficientnet_b1_rwightman-bac287d4.pth", 7794184, (1, 1),
                              crop_size=240, interpolation=InterpolationMode.BICUBIC)
    IMAGENET1K_V2 = _imagenet("efficientnet_b1-c27df63c.pth", 7794184, (1, 1),
                              crop_size=240, resize_size=255,
                              interpolation=InterpolationMode.BILINEAR)
    DEFAULT = IMAGENET1K_V2


class EfficientNet_B2_Weights(WeightsEnum):
    IMAGENET1K_V1 = _imagenet("efficientnet_b2_rwightman-c35c1473.pth", 9109994, (1, 1),
                              crop_size=288, resize_size=288,
                              interpolation=InterpolationMode.BICUBIC)
    DEFAULT = IMAGENET1K_V1


class EfficientNet_B3_Weights(WeightsEnum):
    IMAGENET1K_V1 = _imagenet("efficientnet_b3_rwightman-b3899882.pth", 12233232, (1, 1),
                              crop_size=300, resize_size=320,
                              interpolation=InterpolationMode.BICUBIC)
    DEFAULT = IMAGENET1K_V1


class EfficientNet_B4_Weights(WeightsEnum):
    IMAGENET1K_V1 = _imagenet("efficientnet_b4_rwightman-23ab8bcd.pth", 19341616, (1, 1),
                              crop_size=380, resize_size=384,
                              interpolation=InterpolationMode.BICUBIC)
    DEFAULT = IMAGENET1K_V1


class EfficientNet_B5_Weights(WeightsEnum):
    IMAGENET1K_V1 = _imagenet("efficientnet_b5_lukemelas-1a07897c.pth", 30389784, (1, 1),
                              crop_size=456, resize_size=456,
                              interpolation=InterpolationMode.BICUBIC)
    DEFAULT = IMAGENET1K_V1


class EfficientNet_B6_Weights(WeightsEnum):
    IMAGENET1K_V1 = _imagenet("efficientnet_b6_lukemelas-24a108a5.pth", 43040704, (1, 1),
                              crop_size=528, resize_size=528,
                              interpolation=InterpolationMode.BICUBIC)
    DEFAULT = IMAGENET1K_V1


class EfficientNet_B7_Weights(WeightsEnum):
    IMAGENET1K_V1 = _imagenet("efficientnet_b7_lukemelas-c5b4e57e.pth", 66347960, (1, 1),
                              crop_size=600, resize_size=600,
                              interpolation=InterpolationMode.BICUBIC)
    DEFAULT = IMAGENET1K_V1


class ShuffleNet_V2_X0_5_Weights(WeightsEnum):
    IMAGENET1K_V1 = _imagenet("shufflenetv2_x0.5-f707e7126e.pth", 1366792, (1, 1))
    DEFAULT = IMAGENET1K_V1


class ShuffleNet_V2_X1_0_Weights(WeightsEnum):
    IMAGENET1K_V1 = _imagenet("shufflenetv2_x1-5666bf0f80.pth", 2278604, (1, 1))
    DEFAULT = IMAGENET1K_V1


class ShuffleNet_V2_X1_5_Weights(WeightsEnum):
    IMAGENET1K_V1 = _imagenet("shufflenetv2_x1_5-3c479a10.pth", 3503624, (1, 1), resize_size=232)
    DEFAULT = IMAGENET1K_V1


class ShuffleNet_V2_X2_0_Weights(WeightsEnum):
    IMAGENET1K_V1 = _imagenet("shufflenetv2_x2_0-8be3c8ee.pth", 7393996, (1, 1), resize_size=232)
    DEFAULT = IMAGENET1K_V1

class ConvNeXt_Tiny_Weights(WeightsEnum):
    IMAGENET1K_V1 = _imagenet("convnext_tiny-983f1562.pth", 28589128, (32, 32), resize_size=236)
    DEFAULT = IMAGENET1K_V1


class ConvNeXt_Small_Weights(WeightsEnum):
    IMAGENET1K_V1 = _imagenet("convnext_small-0c510722.pth", 50223688, (32, 32), resize_size=230)
    DEFAULT = IMAGENET1K_V1


class ConvNeXt_Base_Weights(WeightsEnum):
    IMAGENET1K_V1 = _imagenet("convnext_base-6075fbad.pth", 88591464, (32, 32), resize_size=232)
    DEFAULT = IMAGENET1K_V1


class ConvNeXt_Large_Weights(WeightsEnum):
    IMAGENET1K_V1 = _imagenet("convnext_large-ea097f82.pth", 197767336, (32, 32), resize_size=232)
    DEFAULT = IMAGENET1K_V1


class ViT_B_16_Weights(WeightsEnum):
    IMAGENET1K_V1 = _imagenet("vit_b_16-c867db91.pth", 86567656, (224, 224))
    IMAGENET1K_SWAG_E2E_V1 = _imagenet("vit_b_16_swag-9ac1b537.pth", 86859496, (384, 384),
                                       crop_size=384, resize_size=384,
                                       interpolation=InterpolationMode.BICUBIC)
    IMAGENET1K_SWAG_LINEAR_V1 = _imagenet("vit_b_16_lc_swag-4e70ced5.pth", 86567656, (224, 224),
                                          resize_size=224, interpolation=InterpolationMode.BICUBIC)
    DEFAULT = IMAGENET1K_V1


class ViT_B_32_Weights(WeightsEnum):
    IMAGENET1K_V1 = _imagenet("vit_b_32-d86f8d99.pth", 88224232, (224, 224))
    DEFAULT = IMAGENET1K_V1


class ViT_L_16_Weights(WeightsEnum):
    IMAGENET1K_V1 = _imagenet("vit_l_16-852ce7e3.pth", 304326632, (224, 224), resize_size=242)
    IMAGENET1K_SWAG_E2E_V1 = _imagenet("vit_l_16_swag-4f3808c9.pth", 305174504, (512, 512),
                                       crop_size=512, resize_size=512,
                                       interpolation=InterpolationMode.BICUBIC)
    IMAGENET1K_SWAG_LINEAR_V1 = _imagenet("vit_l_16_lc_swag-4d563306.pth", 304326632, (224, 224),
                                          resize_size=224, interpolation=InterpolationMode.BICUBIC)
    DEFAULT = IMAGENET1K_V1


class ViT_L_32_Weights(WeightsEnum):
    IMAGENET1K_V1 = _imagenet("vit_l_32-c7638314.pth", 306535400, (224, 224))
    DEFAULT = IMAGENET1K_V1


class ViT_H_14_Weights(WeightsEnum):
    IMAGENET1K_SWAG_E2E_V1 = _imagenet("vit_h_14_swag-80465313.pth", 633470440, (518, 518),
                                       crop_size=518, resize_size=518,
                                       interpolation=InterpolationMode.BICUBIC)
    IMAGENET1K_SWAG_LINEAR_V1 = _imagenet("vit_h_14_lc_swag-c1eb923e.pth", 632045800, (224, 224),
                                          resize_size=224, interpolation=InterpolationMode.BICUBIC)
    DEFAULT = IMAGENET1K_SWAG_E2E_V1

class GoogLeNet_Weights(WeightsEnum):
    IMAGENET1K_V1 = _imagenet("googlenet-1378be20.pth", 6624904, (15, 15))
    DEFAULT = IMAGENET1K_V1


class Inception_V3_Weights(WeightsEnum):
    IMAGENET1K_V1 = _imagenet("inception_v3_google-0cc3c7bd.pth", 27161264, (75, 75),
                              crop_size=299, resize_size=342)
    DEFAULT = IMAGENET1K_V1

class RegNet_X_16GF_Weights(WeightsEnum):
    IMAGENET1K_V1 = _imagenet("regnet_x_16gf-2007eb11.pth", 54278536, (1, 1))
    IMAGENET1K_V2 = _imagenet("regnet_x_16gf-ba3796d7.pth", 54278536, (1, 1), resize_size=232)
    DEFAULT = IMAGENET1K_V2


class RegNet_X_1_6GF_Weights(WeightsEnum):
    IMAGENET1K_V1 = _imagenet("regnet_x_1_6gf-e3633e7f.pth", 9190136, (1, 1))
    IMAGENET1K_V2 = _imagenet("regnet_x_1_6gf-a12f2b72.pth", 9190136, (1, 1), resize_size=232)
    DEFAULT = IMAGENET1K_V2


class RegNet_X_32GF_Weights(WeightsEnum):
    IMAGENET1K_V1 = _imagenet("regnet_x_32gf-9d47f8d0.pth", 107811560, (1, 1))
    IMAGENET1K_V2 = _imagenet("regnet_x_32gf-6eb8fdc6.pth", 107811560, (1, 1), resize_size=232)
    DEFAULT = IMAGENET1K_V2


class RegNet_X_3_2GF_Weights(WeightsEnum):
    IMAGENET1K_V1 = _imagenet("regnet_x_3_2gf-f342aeae.pth", 15296552, (1, 1))
    IMAGENET1K_V2 = _imagenet("regnet_x_3_2gf-7071aa85.pth", 15296552, (1, 1), resize_size=232)
    DEFAULT = IMAGENET1K_V2


class RegNet_X_400MF_Weights(WeightsEnum):
    IMAGENET1K_V1 = _imagenet("regnet_x_400mf-adf1edd5.pth", 5495976, (1, 1))
    IMAGENET1K_V2 = _imagenet("regnet_x_400mf-62229a5f.pth", 5495976, (1, 1), resize_size=232)
    DEFAULT = IMAGENET1K_V2


class RegNet_X_800MF_Weights(WeightsEnum):
    IMAGENET1K_V1 = _imagenet("regnet_x_800mf-ad17e45c.pth", 7259656, (1, 1))
    IMAGENET1K_V2 = _imagenet("regnet_x_800mf-94a99ebd.pth", 7259656, (1, 1), resize_size=232)
    DEFAULT = IMAGENET1K_V2


class RegNet_X_8GF_Weights(WeightsEnum):
    IMAGENET1K_V1 = _imagenet("regnet_x_8gf-03ceed89.pth", 39572648, (1, 1))
    IMAGENET1K_V2 = _imagenet("regnet_x_8gf-2b70d774.pth", 39572648, (1, 1), resize_size=232)
    DEFAULT = IMAGENET1K_V2


class RegNet_Y_128GF_Weights(WeightsEnum):
    IMAGENET1K_SWAG_E2E_V1 = _imagenet("regnet_y_128gf_swag-c8ce3e52.pth", 644812894, (1, 1),
                                       crop_size=384, resize_size=384,
                                       interpolation=InterpolationMode.BICUBIC)
    IMAGENET1K_SWAG_LINEAR_V1 = _imagenet("regnet_y_128gf_lc_swag-cbe8ce12.pth", 644812894, (1, 1),
                                          resize_size=224, interpolation=InterpolationMode.BICUBIC)
    DEFAULT = IMAGENET1K_SWAG_E2E_V1


class RegNet_Y_16GF_Weights(WeightsEnum):
    IMAGENET1K_V1 = _imagenet("regnet_y_16gf-9e6ed7dd.pth", 83590140, (1, 1))
    IMAGENET1K_V2 = _imagenet("regnet_y_16gf-3e4a00f9.pth", 83590140, (1, 1), resize_size=232)
    IMAGENET1K_SWAG_E2E_V1 = _imagenet("regnet_y_16gf_swag-43afe44d.pth", 83590140, (1, 1),
                                       crop_size=384, resize_size=384,
                                       interpolation=InterpolationMode.BICUBIC)
    IMAGENET1K_SWAG_LINEAR_V1 = _imagenet("regnet_y_16gf_lc_swag-f3ec0043.pth", 83590140, (1, 1),
                                          resize_size=224, interpolation=InterpolationMode.BICUBIC)
    DEFAULT = IMAGENET1K_V2


class RegNet_Y_1_6GF_Weights(WeightsEnum):
    IMAGENET1K_V1 = _imagenet("regnet_y_1_6gf-b11a554e.pth", 11202430, (1, 1))
    IMAGENET1K_V2 = _imagenet("regnet_y_1_6gf-0d7bc02a.pth", 11202430, (1, 1), resize_size=232)
    DEFAULT = IMAGENET1K_V2


class RegNet_Y_32GF_Weights(WeightsEnum):
    IMAGENET1K_V1 = _imagenet("regnet_y_32gf-4dee3f7a.pth", 145046770, (1, 1))
    IMAGENET1K_V2 = _imagenet("regnet_y_32gf-8db6d4b5.pth", 145046770, (1, 1), resize_size=232)
    IMAGENET1K_SWAG_E2E_V1 = _imagenet("regnet_y_32gf_swag-04fdfa75.pth", 145046770, (1, 1),
                                       crop_size=384, resize_size=384,
                                       interpolation=InterpolationMode.BICUBIC)
    IMAGENET1K_SWAG_LINEAR_V1 = _imagenet("regnet_y_32gf_lc_swag-e1583746.pth", 145046770, (1, 1),
                                          resize_size=224, interpolation=InterpolationMode.BICUBIC)
    DEFAULT = IMAGENET1K_V2


class RegNet_Y_3_2GF_Weights(WeightsEnum):
    IMAGENET1K_V1 = _imagenet("regnet_y_3_2gf-b5a9779c.pth", 19436338, (1, 1))
    IMAGENET1K_V2 = _imagenet("regnet_y_3_2gf-9180c971.pth", 19436338, (1, 1), resize_size=232)
    DEFAULT = IMAGENET1K_V2


class RegNet_Y_400MF_Weights(WeightsEnum):
    IMAGENET1K_V1 = _imagenet("regnet_y_400mf-c65dace8.pth", 4344144, (1, 1))
    IMAGENET1K_V2 = _imagenet("regnet_y_400mf-e6988f5f.pth", 4344144, (1, 1), resize_size=232)
    DEFAULT = IMAGENET1K_V2


class RegNet_Y_800MF_Weights(WeightsEnum):
    IMAGENET1K_V1 = _imagenet("regnet_y_800mf-1b27b58c.pth", 6432512, (1, 1))
    IMAGENET1K_V2 = _imagenet("regnet_y_800mf-58fc7688.pth", 6432512, (1, 1), resize_size=232)
    DEFAULT = IMAGENET1K_V2


class RegNet_Y_8GF_Weights(WeightsEnum):
    IMAGENET1K_V1 = _imagenet("regnet_y_8gf-d0d0e4a8.pth", 39381472, (1, 1))
    IMAGENET1K_V2 = _imagenet("regnet_y_8gf-dc2b1b54.pth", 39381472, (1, 1), resize_size=232)
    DEFAULT = IMAGENET1K_V2

class EfficientNet_V2_S_Weights(WeightsEnum):
    IMAGENET1K_V1 = _imagenet("efficientnet_v2_s-dd5fe13b.pth", 21458488, (33, 33),
                              crop_size=384, resize_size=384,
                              interpolation=InterpolationMode.BILINEAR)
    DEFAULT = IMAGENET1K_V1


class EfficientNet_V2_M_Weights(WeightsEnum):
    IMAGENET1K_V1 = _imagenet("efficientnet_v2_m-dc08266a.pth", 54139356, (33, 33),
                              crop_size=480, resize_size=480,
                              interpolation=InterpolationMode.BILINEAR)
    DEFAULT = IMAGENET1K_V1


class EfficientNet_V2_L_Weights(WeightsEnum):
    IMAGENET1K_V1 = _imagenet("efficientnet_v2_l-59c71312.pth", 118515272, (33, 33),
                              crop_size=480, resize_size=480,
                              interpolation=InterpolationMode.BICUBIC,
                              mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5))
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
    "densenet121": DenseNet121_Weights,
    "densenet161": DenseNet161_Weights,
    "densenet169": DenseNet169_Weights,
    "densenet201": DenseNet201_Weights,
    "mobilenet_v3_small": MobileNet_V3_Small_Weights,
    "mobilenet_v3_large": MobileNet_V3_Large_Weights,
    "efficientnet_b0": EfficientNet_B0_Weights,
    "efficientnet_b1": EfficientNet_B1_Weights,
    "efficientnet_b2": EfficientNet_B2_Weights,
    "efficientnet_b3": EfficientNet_B3_Weights,
    "efficientnet_b4": EfficientNet_B4_Weights,
    "efficientnet_b5": EfficientNet_B5_Weights,
    "efficientnet_b6": EfficientNet_B6_Weights,
    "efficientnet_b7": EfficientNet_B7_Weights,
    "shufflenet_v2_x0_5": ShuffleNet_V2_X0_5_Weights,
    "shufflenet_v2_x1_0": ShuffleNet_V2_X1_0_Weights,
    "shufflenet_v2_x1_5": ShuffleNet_V2_X1_5_Weights,
    "shufflenet_v2_x2_0": ShuffleNet_V2_X2_0_Weights,
    "convnext_tiny": ConvNeXt_Tiny_Weights,
    "convnext_small": ConvNeXt_Small_Weights,
    "convnext_base": ConvNeXt_Base_Weights,
    "convnext_large": ConvNeXt_Large_Weights,
    "vit_b_16": ViT_B_16_Weights,
    "vit_b_32": ViT_B_32_Weights,
    "vit_l_16": ViT_L_16_Weights,
    "vit_l_32": ViT_L_32_Weights,
    "vit_h_14": ViT_H_14_Weights,
    "googlenet": GoogLeNet_Weights,
    "inception_v3": Inception_V3_Weights,
    "regnet_x_16gf": RegNet_X_16GF_Weights,
    "regnet_x_1_6gf": RegNet_X_1_6GF_Weights,
    "regnet_x_32gf": RegNet_X_32GF_Weights,
    "regnet_x_3_2gf": RegNet_X_3_2GF_Weights,
    "regnet_x_400mf": RegNet_X_400MF_Weights,
    "regnet_x_800mf": RegNet_X_800MF_Weights,
    "regnet_x_8gf": RegNet_X_8GF_Weights,
    "regnet_y_128gf": RegNet_Y_128GF_Weights,
    "regnet_y_16gf": RegNet_Y_16GF_Weights,
    "regnet_y_1_6gf": RegNet_Y_1_6GF_Weights,
    "regnet_y_32gf": RegNet_Y_32GF_Weights,
    "regnet_y_3_2gf": RegNet_Y_3_2GF_Weights,
    "regnet_y_400mf": RegNet_Y_400MF_Weights,
    "regnet_y_800mf": RegNet_Y_800MF_Weights,
    "regnet_y_8gf": RegNet_Y_8GF_Weights,
    "efficientnet_v2_s": EfficientNet_V2_S_Weights,
    "efficientnet_v2_m": EfficientNet_V2_M_Weights,
    "efficientnet_v2_l": EfficientNet_V2_L_Weights,
}


def list_models(module=None, include=None, exclude=None):
    """The sorted names of the model builders, those of ``module`` only if given (all of
    ember's are classification models, torchvision.models), kept when they match any
    ``include`` pattern (fnmatch) and dropped when they match any ``exclude`` pattern."""
    names = set(MODEL_WEIGHTS)
    if module is not None and module.__name__ != __package__:
        names = set()
    if include:
        patterns = [include] if isinstance(include, str) else include
        kept = set()
        for pattern in patterns:
            kept |= set(fnmatch.filter(names, pattern))
    else:
        kept = names
    if exclude:
        for pattern in [exclude] if isinstance(exclude, str) else exclude:
            kept -= set(fnmatch.filter(names, pattern))
    return sorted(kept)


def get_model_builder(name):
    """The builder function registered as ``name`` (case-insensitive)."""
    name = name.lower()
    if name not in MODEL_WEIGHTS:
        raise ValueError(f"Unknown model {name}")
    # the builders' modules import this one, so the package is only read on demand
    return getattr(importlib.import_module(__package__), name)


def get_model(name, **config):
    """The model ``name`` built with the builder's keyword arguments ``config``."""
    return get_model_builder(name)(**config)


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
