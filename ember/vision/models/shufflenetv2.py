"""ShuffleNet V2 (Ma et al. 2018) with torchvision's layout and keys (PyTorch's default init)."""
from ... import nn
from ...nn import functional as F
from ...ops import cat
from ._api import (  # noqa: F401
    ShuffleNet_V2_X0_5_Weights, ShuffleNet_V2_X1_0_Weights, ShuffleNet_V2_X1_5_Weights,
    ShuffleNet_V2_X2_0_Weights)
from ._utils import load_weights

__all__ = ["ShuffleNetV2", "shufflenet_v2_x0_5", "shufflenet_v2_x1_0", "shufflenet_v2_x1_5",
           "shufflenet_v2_x2_0"]


class InvertedResidual(nn.Module):
    """Split the channels (stride 1) or copy the input (stride 2), transform one half (both
    halves), concatenate and shuffle the two groups of channels."""

    def __init__(self, inp, oup, stride):
        super().__init__()
        if not 1 <= stride <= 3:
            raise ValueError("illegal stride value")
        self.stride = stride
        branch_features = oup // 2
        if stride == 1 and inp != branch_features << 1:
            raise ValueError(f"Invalid combination of stride {stride}, inp {inp} and oup {oup} "
                             f"values. If stride == 1 then inp should be equal to oup // 2 << 1.")
        if stride > 1:
            self.branch1 = nn.Sequential(
                self.depthwise_conv(inp, inp, kernel_size=3, stride=stride, padding=1),
                nn.BatchNorm2d(inp),
                nn.Conv2d(inp, branch_features, kernel_size=1, stride=1, padding=0, bias=False),
                nn.BatchNorm2d(branch_features), nn.ReLU(inplace=True))
        else:
            self.branch1 = nn.Sequential()
        self.branch2 = nn.Sequential(
            nn.Conv2d(inp if stride > 1 else branch_features, branch_features, kernel_size=1,
                      stride=1, padding=0, bias=False),
            nn.BatchNorm2d(branch_features), nn.ReLU(inplace=True),
            self.depthwise_conv(branch_features, branch_features, kernel_size=3, stride=stride,
                                padding=1),
            nn.BatchNorm2d(branch_features),
            nn.Conv2d(branch_features, branch_features, kernel_size=1, stride=1, padding=0,
                      bias=False),
            nn.BatchNorm2d(branch_features), nn.ReLU(inplace=True))

    @staticmethod
    def depthwise_conv(i, o, kernel_size, stride=1, padding=0, bias=False):
        return nn.Conv2d(i, o, kernel_size, stride, padding, bias=bias, groups=i)

    def forward(self, x):
        if self.stride == 1:
            x1, x2 = x.chunk(2, dim=1)
            out = cat((x1, self.branch2(x2)), dim=1)
        else:
            out = cat((self.branch1(x), self.branch2(x)), dim=1)
        return F.channel_shuffle(out, 2)


class ShuffleNetV2(nn.Module):
    """3x3 stem, max-pool, three stages of shuffle units, 1x1 conv, global mean, classifier."""

    def __init__(self, stages_repeats, stages_out_channels, num_classes=1000,
                 inverted_residual=InvertedResidual):
        super().__init__()
        if len(stages_repeats) != 3:
            raise ValueError("expected stages_repeats as list of 3 positive ints")
        if len(stages_out_channels) != 5:
            raise ValueError("expected stages_out_channels as list of 5 positive ints")
        self._stage_out_channels = stages_out_channels
        output_channels = stages_out_channels[0]
        self.conv1 = nn.Sequential(nn.Conv2d(3, output_channels, 3, 2, 1, bias=False),
                                   nn.BatchNorm2d(output_channels), nn.ReLU(inplace=True))
        input_channels = output_channels
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        for name, repeats, output_channels in zip(["stage2", "stage3", "stage4"], stages_repeats,
                                                  stages_out_channels[1:]):
            units = [inverted_residual(input_channels, output_channels, 2)]
            units += [inverted_residual(output_channels, output_channels, 1)
                      for _ in range(repeats - 1)]
            setattr(self, name, nn.Sequential(*units))
            input_channels = output_channels
        output_channels = stages_out_channels[-1]
        self.conv5 = nn.Sequential(nn.Conv2d(input_channels, output_channels, 1, 1, 0, bias=False),
                                   nn.BatchNorm2d(output_channels), nn.ReLU(inplace=True))
        self.fc = nn.Linear(output_channels, num_classes)

    def forward(self, x):
        x = self.maxpool(self.conv1(x))
        x = self.conv5(self.stage4(self.stage3(self.stage2(x))))
        return self.fc(x.mean([2, 3]))


def _shufflenetv2(name, channels, weights, pretrained, kwargs):
    model = ShuffleNetV2([4, 8, 4], channels, **kwargs)
    return load_weights(model, name, weights, pretrained)


def shufflenet_v2_x0_5(*, weights=None, progress=True, pretrained=False, **kwargs):
    """ShuffleNet V2 0.5x (1,366,792 parameters)."""
    return _shufflenetv2("shufflenet_v2_x0_5", [24, 48, 96, 192, 1024], weights, pretrained,
                         kwargs)


def shufflenet_v2_x1_0(*, weights=None, progress=True, pretrained=False, **kwargs):
    """ShuffleNet V2 1.0x (2,278,604 parameters)."""
    return _shufflenetv2("shufflenet_v2_x1_0", [24, 116, 232, 464, 1024], weights, pretrained,
                         kwargs)


def shufflenet_v2_x1_5(*, weights=None, progress=True, pretrained=False, **kwargs):
    """ShuffleNet V2 1.5x (3,503,624 parameters)."""
    return _shufflenetv2("shufflenet_v2_x1_5", [24, 176, 352, 704, 1024], weights, pretrained,
                         kwargs)


def shufflenet_v2_x2_0(*, weights=None, progress=True, pretrained=False, **kwargs):
    """ShuffleNet V2 2.0x (7,393,996 parameters)."""
    return _shufflenetv2("shufflenet_v2_x2_0", [24, 244, 488, 976, 2048], weights, pretrained,
                         kwargs)
