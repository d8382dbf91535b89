"""VGG (Simonyan & Zisserman 2014) with torchvision's layout, initialisation and keys."""
from ... import nn
from ...ops import flatten
from ._api import (  # noqa: F401
    VGG11_BN_Weights, VGG11_Weights, VGG13_BN_Weights, VGG13_Weights, VGG16_BN_Weights,
    VGG16_Weights, VGG19_BN_Weights, VGG19_Weights)
from ._utils import load_weights

__all__ = ["VGG", "vgg11", "vgg11_bn", "vgg13", "vgg13_bn", "vgg16", "vgg16_bn", "vgg19",
           "vgg19_bn"]

# Output channels of each 3x3 convolution; "M" is a 2x2 max-pool.
CONFIGS = {
    "A": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "B": [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "D": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512,
          "M"],
    "E": [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512,
          512, 512, 512, "M"],
}


class VGG(nn.Module):
    """``features`` (convolutions), 7x7 adaptive average pool, three-layer classifier."""

    def __init__(self, features, num_classes=1000, init_weights=True, dropout=0.5):
        super().__init__()
        self.features = features
        self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
        self.classifier = nn.Sequential(
            nn.Linear(512 * 7 * 7, 4096), nn.ReLU(True), nn.Dropout(p=dropout),
            nn.Linear(4096, 4096), nn.ReLU(True), nn.Dropout(p=dropout),
            nn.Linear(4096, num_classes))
        if init_weights:
            for module in self.modules():
                if isinstance(module, nn.Conv2d):
                    nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
                    if module.bias is not None:
                        nn.init.constant_(module.bias, 0)
                elif isinstance(module, nn.BatchNorm2d):
                    nn.init.constant_(module.weight, 1)
                    nn.init.constant_(module.bias, 0)
                elif isinstance(module, nn.Linear):
                    nn.init.normal_(module.weight, 0, 0.01)
                    nn.init.constant_(module.bias, 0)

    def forward(self, x):
        x = flatten(self.avgpool(self.features(x)), 1)
        return self.classifier(x)


def make_layers(config, batch_norm=False):
    layers = []
    in_channels = 3
    for value in config:
        if value == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
            continue
        layers.append(nn.Conv2d(in_channels, value, kernel_size=3, padding=1))
        if batch_norm:
            layers.append(nn.BatchNorm2d(value))
        layers.append(nn.ReLU(inplace=True))
        in_channels = value
    return nn.Sequential(*layers)


def _vgg(name, config, batch_norm, weights, pretrained, kwargs):
    if weights is not None or pretrained:
        kwargs["init_weights"] = False
    model = VGG(make_layers(CONFIGS[config], batch_norm=batch_norm), **kwargs)
    return load_weights(model, name, weights, pretrained)


def vgg11(*, weights=None, progress=True, pretrained=False, **kwargs):
    """VGG-11, configuration "A" (132,863,336 parameters)."""
    return _vgg("vgg11", "A", False, weights, pretrained, kwargs)


def vgg11_bn(*, weights=None, progress=True, pretrained=False, **kwargs):
    """VGG-11 with BatchNorm (132,868,840 parameters)."""
    return _vgg("vgg11_bn", "A", True, weights, pretrained, kwargs)


def vgg13(*, weights=None, progress=True, pretrained=False, **kwargs):
    """VGG-13, configuration "B" (133,047,848 parameters)."""
    return _vgg("vgg13", "B", False, weights, pretrained, kwargs)


def vgg13_bn(*, weights=None, progress=True, pretrained=False, **kwargs):
    """VGG-13 with BatchNorm (133,053,736 parameters)."""
    return _vgg("vgg13_bn", "B", True, weights, pretrained, kwargs)


def vgg16(*, weights=None, progress=True, pretrained=False, **kwargs):
    """VGG-16, configuration "D" (138,357,544 parameters)."""
    return _vgg("vgg16", "D", False, weights, pretrained, kwargs)


def vgg16_bn(*, weights=None, progress=True, pretrained=False, **kwargs):
    """VGG-16 with BatchNorm (138,365,992 parameters)."""
    return _vgg("vgg16_bn", "D", True, weights, pretrained, kwargs)


def vgg19(*, weights=None, progress=True, pretrained=False, **kwargs):
    """VGG-19, configuration "E" (143,667,240 parameters)."""
    return _vgg("vgg19", "E", False, weights, pretrained, kwargs)


def vgg19_bn(*, weights=None, progress=True, pretrained=False, **kwargs):
    """VGG-19 with BatchNorm (143,678,248 parameters)."""
    return _vgg("vgg19_bn", "E", True, weights, pretrained, kwargs)
