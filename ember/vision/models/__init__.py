"""torchvision.models: the classification models, with torchvision's state_dict keys."""
from .alexnet import AlexNet, alexnet  # noqa: F401
from .mobilenetv2 import InvertedResidual, MobileNetV2, mobilenet_v2  # noqa: F401
from .resnet import BasicBlock, Bottleneck, ResNet, resnet18, resnet34, resnet50  # noqa: F401
from .squeezenet import Fire, SqueezeNet, squeezenet1_1  # noqa: F401
from .vgg import VGG, vgg11, vgg11_bn, vgg16, vgg16_bn  # noqa: F401

__all__ = ["AlexNet", "BasicBlock", "Bottleneck", "Fire", "InvertedResidual", "MobileNetV2",
           "ResNet", "SqueezeNet", "VGG", "alexnet", "mobilenet_v2", "resnet18", "resnet34",
           "resnet50", "squeezenet1_1", "vgg11", "vgg11_bn", "vgg16", "vgg16_bn"]
