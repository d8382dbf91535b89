"""DenseNet-BC (Huang et al. 2016) with torchvision's layout, initialisation and keys."""
from collections import OrderedDict

from ... import nn
from ...nn import functional as F
from ...ops import cat, flatten
from ...utils.checkpoint import checkpoint
from ._api import (  # noqa: F401
    DenseNet121_Weights, DenseNet161_Weights, DenseNet169_Weights, DenseNet201_Weights)
from ._utils import load_weights

__all__ = ["DenseNet", "densenet121", "densenet161", "densenet169", "densenet201"]


class _DenseLayer(nn.Module):
    """BN-ReLU-1x1 conv (to ``bn_size * growth_rate``), BN-ReLU-3x3 conv (to ``growth_rate``)
    over the concatenation of every earlier feature map of the block."""

    def __init__(self, num_input_features, growth_rate, bn_size, drop_rate,
                 memory_efficient=False):
        super().__init__()
        self.norm1 = nn.BatchNorm2d(num_input_features)
        self.relu1 = nn.ReLU(inplace=True)
        self.conv1 = nn.Conv2d(num_input_features, bn_size * growth_rate, kernel_size=1,
                               stride=1, bias=False)
        self.norm2 = nn.BatchNorm2d(bn_size * growth_rate)
        self.relu2 = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(bn_size * growth_rate, growth_rate, kernel_size=3, stride=1,
                               padding=1, bias=False)
        self.drop_rate = float(drop_rate)
        self.memory_efficient = memory_efficient

    def bn_function(self, inputs):
        return self.conv1(self.relu1(self.norm1(cat(list(inputs), 1))))

    def forward(self, input):
        features = [input] if not isinstance(input, (list, tuple)) else input
        if self.memory_efficient and any(tensor.requires_grad for tensor in features):
            # recompute the concatenation in backward instead of keeping it (Pleiss et al.)
            bottleneck = checkpoint(lambda *inputs: self.bn_function(inputs), *features,
                                    use_reentrant=False)
        else:
            bottleneck = self.bn_function(features)
        new_features = self.conv2(self.relu2(self.norm2(bottleneck)))
        if self.drop_rate > 0:
            new_features = F.dropout(new_features, p=self.drop_rate, training=self.training)
        return new_features


class _DenseBlock(nn.ModuleDict):
    """``num_layers`` dense layers, each fed every earlier output; returns them all, joined."""

    def __init__(self, num_layers, num_input_features, bn_size, growth_rate, drop_rate,
                 memory_efficient=False):
        super().__init__()
        for index in range(num_layers):
            self.add_module(f"denselayer{index + 1}",
                            _DenseLayer(num_input_features + index * growth_rate, growth_rate,
                                        bn_size, drop_rate, memory_efficient))

    def forward(self, init_features):
        features = [init_features]
        for layer in self.values():
            features.append(layer(features))
        return cat(features, 1)


class _Transition(nn.Sequential):
    """BN-ReLU-1x1 conv halving the channels, 2x2 average pool."""

    def __init__(self, num_input_features, num_output_features):
        super().__init__()
        self.norm = nn.BatchNorm2d(num_input_features)
        self.relu = nn.ReLU(inplace=True)
        self.conv = nn.Conv2d(num_input_features, num_output_features, kernel_size=1, stride=1,
                              bias=False)
        self.pool = nn.AvgPool2d(kernel_size=2, stride=2)


class DenseNet(nn.Module):
    """Stem, four dense blocks joined by transitions, BN, ReLU, global pool, classifier."""

    def __init__(self, growth_rate=32, block_config=(6, 12, 24, 16), num_init_features=64,
                 bn_size=4, drop_rate=0, num_classes=1000, memory_efficient=False):
        super().__init__()
        self.features = nn.Sequential(OrderedDict([
            ("conv0", nn.Conv2d(3, num_init_features, kernel_size=7, stride=2, padding=3,
                                bias=False)),
            ("norm0", nn.BatchNorm2d(num_init_features)),
            ("relu0", nn.ReLU(inplace=True)),
            ("pool0", nn.MaxPool2d(kernel_size=3, stride=2, padding=1))]))
        num_features = num_init_features
        for index, num_layers in enumerate(block_config):
            self.features.add_module(f"denseblock{index + 1}", _DenseBlock(
                num_layers, num_features, bn_size, growth_rate, drop_rate, memory_efficient))
            num_features = num_features + num_layers * growth_rate
            if index != len(block_config) - 1:
                self.features.add_module(f"transition{index + 1}",
                                         _Transition(num_features, num_features // 2))
                num_features = num_features // 2
        self.features.add_module("norm5", nn.BatchNorm2d(num_features))
        self.classifier = nn.Linear(num_features, num_classes)
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight)
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.constant_(module.weight, 1)
                nn.init.constant_(module.bias, 0)
            elif isinstance(module, nn.Linear):
                nn.init.constant_(module.bias, 0)

    def forward(self, x):
        out = F.relu(self.features(x), inplace=True)
        out = flatten(F.adaptive_avg_pool2d(out, (1, 1)), 1)
        return self.classifier(out)


def _densenet(name, growth_rate, block_config, num_init_features, weights, pretrained, kwargs):
    model = DenseNet(growth_rate, block_config, num_init_features, **kwargs)
    return load_weights(model, name, weights, pretrained)


def densenet121(*, weights=None, progress=True, pretrained=False, **kwargs):
    """DenseNet-121 (7,978,856 parameters)."""
    return _densenet("densenet121", 32, (6, 12, 24, 16), 64, weights, pretrained, kwargs)


def densenet161(*, weights=None, progress=True, pretrained=False, **kwargs):
    """DenseNet-161 (28,681,000 parameters)."""
    return _densenet("densenet161", 48, (6, 12, 36, 24), 96, weights, pretrained, kwargs)


def densenet169(*, weights=None, progress=True, pretrained=False, **kwargs):
    """DenseNet-169 (14,149,480 parameters)."""
    return _densenet("densenet169", 32, (6, 12, 32, 32), 64, weights, pretrained, kwargs)


def densenet201(*, weights=None, progress=True, pretrained=False, **kwargs):
    """DenseNet-201 (20,013,928 parameters)."""
    return _densenet("densenet201", 32, (6, 12, 48, 32), 64, weights, pretrained, kwargs)
