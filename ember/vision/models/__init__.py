"""torchvision.models: the classification models, with torchvision's state_dict keys."""
from ._api import (  # noqa: F401
    AlexNet_Weights, MobileNet_V2_Weights, ResNeXt101_32X8D_Weights, ResNeXt101_64X4D_Weights,
    ResNeXt50_32X4D_Weights, ResNet101_Weights, ResNet152_Weights, ResNet18_Weights,
    ResNet34_Weights, ResNet50_Weights, SqueezeNet1_0_Weights, SqueezeNet1_1_Weights,
    VGG11_BN_Weights, VGG11_Weights, VGG13_BN_Weights, VGG13_Weights, VGG16_BN_Weights,
    VGG16_Weights, VGG19_BN_Weights, VGG19_Weights, Weights, WeightsEnum,
    Wide_ResNet101_2_Weights, Wide_ResNet50_2_Weights, get_model_weights, get_weight)
from .alexnet import AlexNet, alexnet  # noqa: F401
from .mobilenetv2 import InvertedResidual, MobileNetV2, mobilenet_v2  # noqa: F401
from .resnet import (  # noqa: F401
    BasicBlock, Bottleneck, ResNet, resnet101, resnet152, resnet18, resnet34, resnet50,
    resnext101_32x8d, resnext101_64x4d, resnext50_32x4d, wide_resnet101_2, wide_resnet50_2)
from .squeezenet import Fire, SqueezeNet, squeezenet1_0, squeezenet1_1  # noqa: F401
from .vgg import (  # noqa: F401
    VGG, vgg11, vgg11_bn, vgg13, vgg13_bn, vgg16, vgg16_bn, vgg19, vgg19_bn)

__all__ = ["AlexNet", "AlexNet_Weights", "BasicBlock", "Bottleneck", "Fire", "InvertedResidual",
           "MobileNetV2", "MobileNet_V2_Weights", "ResNeXt101_32X8D_Weights",
           "ResNeXt101_64X4D_Weights", "ResNeXt50_32X4D_Weights", "ResNet", "ResNet101_Weights",
           "ResNet152_Weights", "ResNet18_Weights", "ResNet34_Weights", "ResNet50_Weights",
           "SqueezeNet", "SqueezeNet1_0_Weights", "SqueezeNet1_1_Weights", "VGG",
           "VGG11_BN_Weights", "VGG11_Weights", "VGG13_BN_Weights", "VGG13_Weights",
           "VGG16_BN_Weights", "VGG16_Weights", "VGG19_BN_Weights", "VGG19_Weights", "Weights",
           "WeightsEnum", "Wide_ResNet101_2_Weights", "Wide_ResNet50_2_Weights", "alexnet",
           "get_model_weights", "get_weight", "mobilenet_v2", "resnet101", "resnet152", "resnet18",
           "resnet34", "resnet50", "resnext101_32x8d", "resnext101_64x4d", "resnext50_32x4d",
           "squeezenet1_0", "squeezenet1_1", "vgg11", "vgg11_bn", "vgg13", "vgg13_bn", "vgg16",
           "vgg16_bn", "vgg19", "vgg19_bn", "wide_resnet101_2", "wide_resnet50_2"]
