"""EfficientNet B0-B7 (Tan & Le 2019) and V2 S/M/L (Tan & Le 2021) with torchvision's layout,
initialisation and keys."""
import copy
import math
from functools import partial

from ... import nn
from ...ops import flatten
from ..ops.misc import Conv2dNormActivation, SqueezeExcitation
from ..ops.stochastic_depth import StochasticDepth
from ._api import (  # noqa: F401
    EfficientNet_B0_Weights, EfficientNet_B1_Weights, EfficientNet_B2_Weights,
    EfficientNet_B3_Weights, EfficientNet_B4_Weights, EfficientNet_B5_Weights,
    EfficientNet_B6_Weights, EfficientNet_B7_Weights, EfficientNet_V2_L_Weights,
    EfficientNet_V2_M_Weights, EfficientNet_V2_S_Weights)
from ._utils import _init_weights, load_weights, make_divisible

__all__ = ["EfficientNet", "efficientnet_b0", "efficientnet_b1", "efficientnet_b2",
           "efficientnet_b3", "efficientnet_b4", "efficientnet_b5", "efficientnet_b6",
           "efficientnet_b7", "efficientnet_v2_l", "efficientnet_v2_m", "efficientnet_v2_s"]


class _MBConvConfig:
    """One stage's settings: expansion, kernel, first stride, widths, depth, block type."""

    def __init__(self, expand_ratio, kernel, stride, input_channels, out_channels, num_layers,
                 block):
        self.expand_ratio = expand_ratio
        self.kernel = kernel
        self.stride = stride
        self.input_channels = input_channels
        self.out_channels = out_channels
        self.num_layers = num_layers
        self.block = block

    @staticmethod
    def adjust_channels(channels, width_mult, min_value=None):
        return make_divisible(channels * width_mult, 8, min_value)


class MBConvConfig(_MBConvConfig):
    """An MBConv stage, its widths scaled by ``width_mult`` (rounded to 8) and its depth by
    ``depth_mult`` (rounded up)."""

    def __init__(self, expand_ratio, kernel, stride, input_channels, out_channels, num_layers,
                 width_mult=1.0, depth_mult=1.0, block=None):
        super().__init__(expand_ratio, kernel, stride,
                         self.adjust_channels(input_channels, width_mult),
                         self.adjust_channels(out_channels, width_mult),
                         int(math.ceil(num_layers * depth_mult)),
                         MBConv if block is None else block)


class FusedMBConvConfig(_MBConvConfig):
    """A FusedMBConv stage (EfficientNetV2's early stages)."""

    def __init__(self, expand_ratio, kernel, stride, input_channels, out_channels, num_layers,
                 block=None):
        super().__init__(expand_ratio, kernel, stride, input_channels, out_channels, num_layers,
                         FusedMBConv if block is None else block)


class MBConv(nn.Module):
    """1x1 expand, depthwise kxk, squeeze-excitation, linear 1x1 projection, all SiLU; the
    residual branch is dropped per sample (stochastic depth) when there is a shortcut."""

    def __init__(self, cnf, stochastic_depth_prob, norm_layer, se_layer=SqueezeExcitation):
        super().__init__()
        if not 1 <= cnf.stride <= 2:
            raise ValueError("illegal stride value")
        self.use_res_connect = cnf.stride == 1 and cnf.input_channels == cnf.out_channels
        expanded_channels = cnf.adjust_channels(cnf.input_channels, cnf.expand_ratio)
        layers = []
        if expanded_channels != cnf.input_channels:
            layers.append(Conv2dNormActivation(cnf.input_channels, expanded_channels,
                                               kernel_size=1, norm_layer=norm_layer,
                                               activation_layer=nn.SiLU))
        layers.append(Conv2dNormActivation(expanded_channels, expanded_channels,
                                           kernel_size=cnf.kernel, stride=cnf.stride,
                                           groups=expanded_channels, norm_layer=norm_layer,
                                           activation_layer=nn.SiLU))
        squeeze_channels = max(1, cnf.input_channels // 4)
        layers.append(se_layer(expanded_channels, squeeze_channels,
                               activation=partial(nn.SiLU, inplace=True)))
        layers.append(Conv2dNormActivation(expanded_channels, cnf.out_channels, kernel_size=1,
                                           norm_layer=norm_layer, activation_layer=None))
        self.block = nn.Sequential(*layers)
        self.stochastic_depth = StochasticDepth(stochastic_depth_prob, "row")
        self.out_channels = cnf.out_channels

    def forward(self, input):
        result = self.block(input)
        if self.use_res_connect:
            result = self.stochastic_depth(result) + input
        return result


class FusedMBConv(nn.Module):
    """MBConv with the expansion and depthwise convolutions fused into one kxk convolution
    (no squeeze-excitation); stochastic depth on the residual branch."""

    def __init__(self, cnf, stochastic_depth_prob, norm_layer):
        super().__init__()
        if not 1 <= cnf.stride <= 2:
            raise ValueError("illegal stride value")
        self.use_res_connect = cnf.stride == 1 and cnf.input_channels == cnf.out_channels
        expanded_channels = cnf.adjust_channels(cnf.input_channels, cnf.expand_ratio)
        if expanded_channels != cnf.input_channels:
            layers = [Conv2dNormActivation(cnf.input_channels, expanded_channels,
                                           kernel_size=cnf.kernel, stride=cnf.stride,
                                           norm_layer=norm_layer, activation_layer=nn.SiLU),
                      Conv2dNormActivation(expanded_channels, cnf.out_channels, kernel_size=1,
                                           norm_layer=norm_layer, activation_layer=None)]
        else:
            layers = [Conv2dNormActivation(cnf.input_channels, cnf.out_channels,
                                           kernel_size=cnf.kernel, stride=cnf.stride,
                                           norm_layer=norm_layer, activation_layer=nn.SiLU)]
        self.block = nn.Sequential(*layers)
        self.stochastic_depth = StochasticDepth(stochastic_depth_prob, "row")
        self.out_channels = cnf.out_channels

    def forward(self, input):
        result = self.block(input)
        if self.use_res_connect:
            result = self.stochastic_depth(result) + input
        return result


def _uniform_linear_init(module):
    """EfficientNet's classifier: U(-1/sqrt(out_features), 1/sqrt(out_features))."""
    init_range = 1.0 / math.sqrt(module.out_features)
    nn.init.uniform_(module.weight, -init_range, init_range)


class EfficientNet(nn.Module):
    """SiLU stem, the MBConv stages (drop probability rising linearly with depth to
    ``stochastic_depth_prob``), a 1x1 conv to four times the last width, pool, classifier."""

    def __init__(self, inverted_residual_setting, dropout, stochastic_depth_prob=0.2,
                 num_classes=1000, norm_layer=None, last_channel=None):
        super().__init__()
        if not inverted_residual_setting:
            raise ValueError("The inverted_residual_setting should not be empty")
        if not (isinstance(inverted_residual_setting, (list, tuple)) and
                all(isinstance(cnf, _MBConvConfig) for cnf in inverted_residual_setting)):
            raise TypeError("The inverted_residual_setting should be List[MBConvConfig]")
        norm_layer = nn.BatchNorm2d if norm_layer is None else norm_layer
        layers = [Conv2dNormActivation(3, inverted_residual_setting[0].input_channels,
                                       kernel_size=3, stride=2, norm_layer=norm_layer,
                                       activation_layer=nn.SiLU)]
        total_stage_blocks = sum(cnf.num_layers for cnf in inverted_residual_setting)
        stage_block_id = 0
        for cnf in inverted_residual_setting:
            stage = []
            for _ in range(cnf.num_layers):
                block_cnf = copy.copy(cnf)
                if stage:
                    block_cnf.input_channels = block_cnf.out_channels
                    block_cnf.stride = 1
                drop = stochastic_depth_prob * float(stage_block_id) / total_stage_blocks
                stage.append(block_cnf.block(block_cnf, drop, norm_layer))
                stage_block_id += 1
            layers.append(nn.Sequential(*stage))
        last_input = inverted_residual_setting[-1].out_channels
        last_output = last_channel if last_channel is not None else 4 * last_input
        layers.append(Conv2dNormActivation(last_input, last_output, kernel_size=1,
                                           norm_layer=norm_layer, activation_layer=nn.SiLU))
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(nn.Dropout(p=dropout, inplace=True),
                                        nn.Linear(last_output, num_classes))
        _init_weights(self, _uniform_linear_init)

    def forward(self, x):
        return self.classifier(flatten(self.avgpool(self.features(x)), 1))


def _efficientnet_conf(width_mult, depth_mult):
    """EfficientNet-B0's stages (expansion, kernel, stride, in, out, repeats), scaled."""
    conf = partial(MBConvConfig, width_mult=width_mult, depth_mult=depth_mult)
    return [conf(1, 3, 1, 32, 16, 1), conf(6, 3, 2, 16, 24, 2), conf(6, 5, 2, 24, 40, 2),
            conf(6, 3, 2, 40, 80, 3), conf(6, 5, 1, 80, 112, 3), conf(6, 5, 2, 112, 192, 4),
            conf(6, 3, 1, 192, 320, 1)]


def _efficientnet(name, width_mult, depth_mult, dropout, weights, pretrained, kwargs,
                  **fixed):
    return _build(name, _efficientnet_conf(width_mult, depth_mult), None, dropout, weights,
                  pretrained, kwargs, **fixed)


def _build(name, setting, last_channel, dropout, weights, pretrained, kwargs, **fixed):
    # B5-B7 and V2 fix their norm layer as keywords beside kwargs: passing another is a TypeError
    model = EfficientNet(setting, kwargs.pop("dropout", dropout), last_channel=last_channel,
                         **fixed, **kwargs)
    return load_weights(model, name, weights, pretrained)


# EfficientNetV2 stages: (expansion, kernel, stride, in, out, repeats), fused ones first.
_V2_SETTINGS = {
    "efficientnet_v2_s": [(FusedMBConvConfig, 1, 3, 1, 24, 24, 2),
                          (FusedMBConvConfig, 4, 3, 2, 24, 48, 4),
                          (FusedMBConvConfig, 4, 3, 2, 48, 64, 4),
                          (MBConvConfig, 4, 3, 2, 64, 128, 6),
                          (MBConvConfig, 6, 3, 1, 128, 160, 9),
                          (MBConvConfig, 6, 3, 2, 160, 256, 15)],
    "efficientnet_v2_m": [(FusedMBConvConfig, 1, 3, 1, 24, 24, 3),
                          (FusedMBConvConfig, 4, 3, 2, 24, 48, 5),
                          (FusedMBConvConfig, 4, 3, 2, 48, 80, 5),
                          (MBConvConfig, 4, 3, 2, 80, 160, 7),
                          (MBConvConfig, 6, 3, 1, 160, 176, 14),
                          (MBConvConfig, 6, 3, 2, 176, 304, 18),
                          (MBConvConfig, 6, 3, 1, 304, 512, 5)],
    "efficientnet_v2_l": [(FusedMBConvConfig, 1, 3, 1, 32, 32, 4),
                          (FusedMBConvConfig, 4, 3, 2, 32, 64, 7),
                          (FusedMBConvConfig, 4, 3, 2, 64, 96, 7),
                          (MBConvConfig, 4, 3, 2, 96, 192, 10),
                          (MBConvConfig, 6, 3, 1, 192, 224, 19),
                          (MBConvConfig, 6, 3, 2, 224, 384, 25),
                          (MBConvConfig, 6, 3, 1, 384, 640, 7)],
}


def _efficientnet_v2(name, dropout, weights, pretrained, kwargs):
    setting = [config(*values) for config, *values in _V2_SETTINGS[name]]
    return _build(name, setting, 1280, dropout, weights, pretrained, kwargs,
                  norm_layer=partial(nn.BatchNorm2d, eps=1e-03))


def efficientnet_b0(*, weights=None, progress=True, pretrained=False, **kwargs):
    """EfficientNet-B0 (5,288,548 parameters)."""
    return _efficientnet("efficientnet_b0", 1.0, 1.0, 0.2, weights, pretrained, kwargs)


def efficientnet_b1(*, weights=None, progress=True, pretrained=False, **kwargs):
    """EfficientNet-B1 (7,794,184 parameters)."""
    return _efficientnet("efficientnet_b1", 1.0, 1.1, 0.2, weights, pretrained, kwargs)


def efficientnet_b2(*, weights=None, progress=True, pretrained=False, **kwargs):
    """EfficientNet-B2 (9,109,994 parameters)."""
    return _efficientnet("efficientnet_b2", 1.1, 1.2, 0.3, weights, pretrained, kwargs)


def efficientnet_b3(*, weights=None, progress=True, pretrained=False, **kwargs):
    """EfficientNet-B3 (12,233,232 parameters)."""
    return _efficientnet("efficientnet_b3", 1.2, 1.4, 0.3, weights, pretrained, kwargs)


def efficientnet_b4(*, weights=None, progress=True, pretrained=False, **kwargs):
    """EfficientNet-B4 (19,341,616 parameters)."""
    return _efficientnet("efficientnet_b4", 1.4, 1.8, 0.4, weights, pretrained, kwargs)


def efficientnet_b5(*, weights=None, progress=True, pretrained=False, **kwargs):
    """EfficientNet-B5 (30,389,784 parameters)."""
    return _efficientnet("efficientnet_b5", 1.6, 2.2, 0.4, weights, pretrained, kwargs,
                         norm_layer=partial(nn.BatchNorm2d, eps=0.001, momentum=0.01))


def efficientnet_b6(*, weights=None, progress=True, pretrained=False, **kwargs):
    """EfficientNet-B6 (43,040,704 parameters)."""
    return _efficientnet("efficientnet_b6", 1.8, 2.6, 0.5, weights, pretrained, kwargs,
                         norm_layer=partial(nn.BatchNorm2d, eps=0.001, momentum=0.01))


def efficientnet_b7(*, weights=None, progress=True, pretrained=False, **kwargs):
    """EfficientNet-B7 (66,347,960 parameters)."""
    return _efficientnet("efficientnet_b7", 2.0, 3.1, 0.5, weights, pretrained, kwargs,
                         norm_layer=partial(nn.BatchNorm2d, eps=0.001, momentum=0.01))


def efficientnet_v2_s(*, weights=None, progress=True, pretrained=False, **kwargs):
    """EfficientNetV2-S (21,458,488 parameters)."""
    return _efficientnet_v2("efficientnet_v2_s", 0.2, weights, pretrained, kwargs)


def efficientnet_v2_m(*, weights=None, progress=True, pretrained=False, **kwargs):
    """EfficientNetV2-M (54,139,356 parameters)."""
    return _efficientnet_v2("efficientnet_v2_m", 0.3, weights, pretrained, kwargs)


def efficientnet_v2_l(*, weights=None, progress=True, pretrained=False, **kwargs):
    """EfficientNetV2-L (118,515,272 parameters)."""
    return _efficientnet_v2("efficientnet_v2_l", 0.4, weights, pretrained, kwargs)
