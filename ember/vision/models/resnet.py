"""ResNet (He et al. 2015) with torchvision's layout, initialisation and state_dict keys."""
from ... import nn
from ...ops import flatten
from ._api import (  # noqa: F401
    ResNet18_Weights, ResNet34_Weights, ResNet50_Weights, ResNet101_Weights, ResNet152_Weights,
    ResNeXt50_32X4D_Weights, ResNeXt101_32X8D_Weights, ResNeXt101_64X4D_Weights,
    Wide_ResNet50_2_Weights, Wide_ResNet101_2_Weights)
from ._utils import load_weights, overwrite_named_param

__all__ = ["ResNet", "BasicBlock", "Bottleneck", "resnet18", "resnet34", "resnet50", "resnet101",
           "resnet152", "resnext50_32x4d", "resnext101_32x8d", "resnext101_64x4d",
           "wide_resnet50_2", "wide_resnet101_2"]


def conv3x3(in_planes, out_planes, stride=1, groups=1, dilation=1):
    return nn.Conv2d(in_planes, out_planes, kernel_size=3, stride=stride, padding=dilation,
                     groups=groups, bias=False, dilation=dilation)


def conv1x1(in_planes, out_planes, stride=1):
    return nn.Conv2d(in_planes, out_planes, kernel_size=1, stride=stride, bias=False)


class BasicBlock(nn.Module):
    """Two 3x3 convolutions and a shortcut (ResNet-18/34)."""

    expansion = 1

    def __init__(self, inplanes, planes, stride=1, downsample=None, groups=1, base_width=64,
                 dilation=1, norm_layer=None):
        super().__init__()
        norm_layer = nn.BatchNorm2d if norm_layer is None else norm_layer
        if groups != 1 or base_width != 64:
            raise ValueError("BasicBlock only supports groups=1 and base_width=64")
        if dilation > 1:
            raise NotImplementedError("Dilation > 1 not supported in BasicBlock")
        self.conv1 = conv3x3(inplanes, planes, stride)
        self.bn1 = norm_layer(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(planes, planes)
        self.bn2 = norm_layer(planes)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class Bottleneck(nn.Module):
    """1x1 reduce, 3x3 (strided here, as torchvision's "ResNet V1.5"), 1x1 expand, shortcut."""

    expansion = 4

    def __init__(self, inplanes, planes, stride=1, downsample=None, groups=1, base_width=64,
                 dilation=1, norm_layer=None):
        super().__init__()
        norm_layer = nn.BatchNorm2d if norm_layer is None else norm_layer
        width = int(planes * (base_width / 64.0)) * groups
        self.conv1 = conv1x1(inplanes, width)
        self.bn1 = norm_layer(width)
        self.conv2 = conv3x3(width, width, stride, groups, dilation)
        self.bn2 = norm_layer(width)
        self.conv3 = conv1x1(width, planes * self.expansion)
        self.bn3 = norm_layer(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


class ResNet(nn.Module):
    """Stem (7x7 conv, max-pool), four stages of ``block``, global average pool, classifier."""

    def __init__(self, block, layers, num_classes=1000, zero_init_residual=False, groups=1,
                 width_per_group=64, replace_stride_with_dilation=None, norm_layer=None):
        super().__init__()
        norm_layer = nn.BatchNorm2d if norm_layer is None else norm_layer
        self._norm_layer = norm_layer
        self.inplanes = 64
        self.dilation = 1
        if replace_stride_with_dilation is None:
            replace_stride_with_dilation = [False, False, False]
        if len(replace_stride_with_dilation) != 3:
            raise ValueError(f"replace_stride_with_dilation should be None or a 3-element tuple, "
                             f"got {replace_stride_with_dilation}")
        self.groups = groups
        self.base_width = width_per_group
        self.conv1 = nn.Conv2d(3, self.inplanes, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = norm_layer(self.inplanes)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(block, 64, layers[0])
        self.layer2 = self._make_layer(block, 128, layers[1], stride=2,
                                       dilate=replace_stride_with_dilation[0])
        self.layer3 = self._make_layer(block, 256, layers[2], stride=2,
                                       dilate=replace_stride_with_dilation[1])
        self.layer4 = self._make_layer(block, 512, layers[3], stride=2,
                                       dilate=replace_stride_with_dilation[2])
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512 * block.expansion, num_classes)

        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(module, (nn.BatchNorm2d, nn.GroupNorm)):
                nn.init.constant_(module.weight, 1)
                nn.init.constant_(module.bias, 0)
        # Zero-init the last BN of each residual branch: each block starts as the identity
        # (Goyal et al. 2017), which helps large-batch training.
        if zero_init_residual:
            for module in self.modules():
                if isinstance(module, Bottleneck) and module.bn3.weight is not None:
                    nn.init.constant_(module.bn3.weight, 0)
                elif isinstance(module, BasicBlock) and module.bn2.weight is not None:
                    nn.init.constant_(module.bn2.weight, 0)

    def _make_layer(self, block, planes, blocks, stride=1, dilate=False):
        norm_layer = self._norm_layer
        downsample = None
        previous_dilation = self.dilation
        if dilate:
            self.dilation *= stride
            stride = 1
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = nn.Sequential(conv1x1(self.inplanes, planes * block.expansion, stride),
                                       norm_layer(planes * block.expansion))
        layers = [block(self.inplanes, planes, stride, downsample, self.groups, self.base_width,
                        previous_dilation, norm_layer)]
        self.inplanes = planes * block.expansion
        for _ in range(1, blocks):
            layers.append(block(self.inplanes, planes, groups=self.groups,
                                base_width=self.base_width, dilation=self.dilation,
                                norm_layer=norm_layer))
        return nn.Sequential(*layers)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        x = flatten(self.avgpool(x), 1)
        return self.fc(x)


def _resnet(name, block, layers, weights, pretrained, kwargs):
    model = ResNet(block, layers, **kwargs)
    return load_weights(model, name, weights, pretrained)


def resnet18(*, weights=None, progress=True, pretrained=False, **kwargs):
    """ResNet-18 (11,689,512 parameters with 1000 classes)."""
    return _resnet("resnet18", BasicBlock, [2, 2, 2, 2], weights, pretrained, kwargs)


def resnet34(*, weights=None, progress=True, pretrained=False, **kwargs):
    """ResNet-34 (21,797,672 parameters with 1000 classes)."""
    return _resnet("resnet34", BasicBlock, [3, 4, 6, 3], weights, pretrained, kwargs)


def resnet50(*, weights=None, progress=True, pretrained=False, **kwargs):
    """ResNet-50 (25,557,032 parameters with 1000 classes)."""
    return _resnet("resnet50", Bottleneck, [3, 4, 6, 3], weights, pretrained, kwargs)


def resnet101(*, weights=None, progress=True, pretrained=False, **kwargs):
    """ResNet-101 (44,549,160 parameters)."""
    return _resnet("resnet101", Bottleneck, [3, 4, 23, 3], weights, pretrained, kwargs)


def resnet152(*, weights=None, progress=True, pretrained=False, **kwargs):
    """ResNet-152 (60,192,808 parameters)."""
    return _resnet("resnet152", Bottleneck, [3, 8, 36, 3], weights, pretrained, kwargs)


def _grouped(name, layers, groups, width_per_group, weights, pretrained, kwargs):
    """A ResNeXt or wide ResNet: Bottleneck blocks whose 3x3 convolution has ``groups`` groups
    of ``width_per_group`` channels (scaled per stage); the builder fixes both numbers."""
    if groups != 1:
        overwrite_named_param(kwargs, "groups", groups)
    overwrite_named_param(kwargs, "width_per_group", width_per_group)
    return _resnet(name, Bottleneck, layers, weights, pretrained, kwargs)


def resnext50_32x4d(*, weights=None, progress=True, pretrained=False, **kwargs):
    """ResNeXt-50 32x4d (25,028,904 parameters)."""
    return _grouped("resnext50_32x4d", [3, 4, 6, 3], 32, 4, weights, pretrained, kwargs)


def resnext101_32x8d(*, weights=None, progress=True, pretrained=False, **kwargs):
    """ResNeXt-101 32x8d (88,791,336 parameters)."""
    return _grouped("resnext101_32x8d", [3, 4, 23, 3], 32, 8, weights, pretrained, kwargs)


def resnext101_64x4d(*, weights=None, progress=True, pretrained=False, **kwargs):
    """ResNeXt-101 64x4d (83,455,272 parameters)."""
    return _grouped("resnext101_64x4d", [3, 4, 23, 3], 64, 4, weights, pretrained, kwargs)


def wide_resnet50_2(*, weights=None, progress=True, pretrained=False, **kwargs):
    """Wide ResNet-50-2: ResNet-50 with twice the bottleneck width (68,883,240 parameters)."""
    return _grouped("wide_resnet50_2", [3, 4, 6, 3], 1, 128, weights, pretrained, kwargs)


def wide_resnet101_2(*, weights=None, progress=True, pretrained=False, **kwargs):
    """Wide ResNet-101-2 (126,886,696 parameters)."""
    return _grouped("wide_resnet101_2", [3, 4, 23, 3], 1, 128, weights, pretrained, kwargs)
