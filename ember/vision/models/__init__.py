"""torchvision.models: the classification models, with torchvision's state_dict keys."""
from ._api import (  # noqa: F401
    AlexNet_Weights, MobileNet_V2_Weights, ResNet18_Weights, ResNet34_Weights, ResNet50_Weights,
    SqueezeNet1_1_Weights, VGG11_BN_Weights, VGG11_Weights, VGG16_BN_Weights, VGG16_Weights,
    Weights, WeightsEnum, get_model_weights, get_weight)
from .alexnet import AlexNet, alexnet  # noqa: F401
from .mobilenetv2 import InvertedResidual, MobileNetV2, mobilenet_v2  # noqa: F401
from .resnet import BasicBlock, Bottleneck, ResNet, resnet18, resnet34, resnet50  # noqa: F401
from .squeezenet import Fire, SqueezeNet, squeezenet1_1  # noqa: F401
from .vgg import VGG, vgg11, vgg11_bn, vgg16, vgg16_bn  # noqa: F401

__all__ = ["AlexNet", "AlexNet_Weights", "BasicBlock", "Bottleneck", "Fire", "InvertedResidual",
           "MobileNetV2", "MobileNet_V2_Weights", "ResNet", "ResNet18_Weights",
           "ResNet34_Weights", "ResNet50_Weights", "SqueezeNet", "SqueezeNet1_1_Weights", "VGG",
           "VGG11_BN_Weights", "VGG11_Weights", "VGG16_BN_Weights", "VGG16_Weights", "Weights",
           "WeightsEnum", "alexnet", "get_model_weights", "get_weight", "mobilenet_v2",
           "resnet18", "resnet34", "resnet50", "squeezenet1_1", "vgg11", "vgg11_bn", "vgg16",
           "vgg16_bn"]
