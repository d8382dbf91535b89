"""RegNetX and RegNetY (Radosavovic et al. 2020) with torchvision's layout, initialisation and
keys."""
import math
from collections import OrderedDict
from functools import partial

import numpy as np

from ... import nn
from ..ops.misc import Conv2dNormActivation, SqueezeExcitation
from ._api import (  # noqa: F401
    RegNet_X_1_6GF_Weights, RegNet_X_3_2GF_Weights, RegNet_X_8GF_Weights,
    RegNet_X_16GF_Weights, RegNet_X_32GF_Weights, RegNet_X_400MF_Weights,
    RegNet_X_800MF_Weights, RegNet_Y_1_6GF_Weights, RegNet_Y_3_2GF_Weights,
    RegNet_Y_8GF_Weights, RegNet_Y_16GF_Weights, RegNet_Y_32GF_Weights,
    RegNet_Y_128GF_Weights, RegNet_Y_400MF_Weights, RegNet_Y_800MF_Weights)
from ._utils import load_weights, make_divisible

__all__ = ["RegNet", "regnet_x_16gf", "regnet_x_1_6gf", "regnet_x_32gf", "regnet_x_3_2gf",
           "regnet_x_400mf", "regnet_x_800mf", "regnet_x_8gf", "regnet_y_128gf",
           "regnet_y_16gf", "regnet_y_1_6gf", "regnet_y_32gf", "regnet_y_3_2gf",
           "regnet_y_400mf", "regnet_y_800mf", "regnet_y_8gf"]


class SimpleStemIN(Conv2dNormActivation):
    """Stride-2 3x3 conv, BN, activation."""

    def __init__(self, width_in, width_out, norm_layer, activation_layer):
        super().__init__(width_in, width_out, kernel_size=3, stride=2, norm_layer=norm_layer,
                         activation_layer=activation_layer)


class BottleneckTransform(nn.Sequential):
    """1x1, grouped 3x3 (optionally squeeze-excitation), linear 1x1."""

    def __init__(self, width_in, width_out, stride, norm_layer, activation_layer, group_width,
                 bottleneck_multiplier, se_ratio):
        layers = OrderedDict()
        bottleneck_width = int(round(width_out * bottleneck_multiplier))
        groups = bottleneck_width // group_width
        layers["a"] = Conv2dNormActivation(width_in, bottleneck_width, kernel_size=1, stride=1,
                                           norm_layer=norm_layer,
                                           activation_layer=activation_layer)
        layers["b"] = Conv2dNormActivation(bottleneck_width, bottleneck_width, kernel_size=3,
                                           stride=stride, groups=groups, norm_layer=norm_layer,
                                           activation_layer=activation_layer)
        if se_ratio:
            layers["se"] = SqueezeExcitation(input_channels=bottleneck_width,
                                             squeeze_channels=int(round(se_ratio * width_in)),
                                             activation=activation_layer)
        layers["c"] = Conv2dNormActivation(bottleneck_width, width_out, kernel_size=1, stride=1,
                                           norm_layer=norm_layer, activation_layer=None)
        super().__init__(layers)


class ResBottleneckBlock(nn.Module):
    """x (or its 1x1 projection) + bottleneck transform of x, then the activation."""

    def __init__(self, width_in, width_out, stride, norm_layer, activation_layer,
                 group_width=1, bottleneck_multiplier=1.0, se_ratio=None):
        super().__init__()
        self.proj = None
        if width_in != width_out or stride != 1:
            self.proj = Conv2dNormActivation(width_in, width_out, kernel_size=1, stride=stride,
                                             norm_layer=norm_layer, activation_layer=None)
        self.f = BottleneckTransform(width_in, width_out, stride, norm_layer, activation_layer,
                                     group_width, bottleneck_multiplier, se_ratio)
        self.activation = activation_layer(inplace=True)

    def forward(self, x):
        shortcut = x if self.proj is None else self.proj(x)
        return self.activation(shortcut + self.f(x))


class AnyStage(nn.Sequential):
    """``depth`` blocks of one output width, the first with the stage's stride."""

    def __init__(self, width_in, width_out, stride, depth, block_constructor, norm_layer,
                 activation_layer, group_width, bottleneck_multiplier, se_ratio=None,
                 stage_index=0):
        super().__init__()
        for index in range(depth):
            self.add_module(f"block{stage_index}-{index}", block_constructor(
                width_in if index == 0 else width_out, width_out, stride if index == 0 else 1,
                norm_layer, activation_layer, group_width, bottleneck_multiplier, se_ratio))


class BlockParams:
    """Per-stage depths, widths, group widths, bottleneck multipliers and strides."""

    def __init__(self, depths, widths, group_widths, bottleneck_multipliers, strides,
                 se_ratio=None):
        self.depths = depths
        self.widths = widths
        self.group_widths = group_widths
        self.bottleneck_multipliers = bottleneck_multipliers
        self.strides = strides
        self.se_ratio = se_ratio

    @classmethod
    def from_init_params(cls, depth, w_0, w_a, w_m, group_width, bottleneck_multiplier=1.0,
                         se_ratio=None, **kwargs):
        """The stages of the quantised linear width rule: block i's width w_0 + w_a * i,
        snapped to w_0 * w_m^k in log space and rounded to a multiple of 8; consecutive
        blocks of one width form a stage. Computed in float32 as torchvision computes it (its
        tensors' default dtype), so that the rounding agrees."""
        quant = 8
        if w_a < 0 or w_0 <= 0 or w_m <= 1 or w_0 % 8 != 0:
            raise ValueError("Invalid RegNet settings")
        float32 = np.float32
        widths_cont = np.arange(depth).astype(float32) * float32(w_a) + float32(w_0)
        block_capacity = np.round(np.log(widths_cont / float32(w_0)) / float32(math.log(w_m)))
        block_widths = (np.round(float32(w_0) * np.power(float32(w_m), block_capacity) /
                                 float32(quant)) * float32(quant)).astype(np.int32).tolist()
        num_stages = len(set(block_widths))
        splits = [width != previous for width, previous
                  in zip(block_widths + [0], [0] + block_widths)]
        stage_widths = [width for width, split in zip(block_widths, splits[:-1]) if split]
        stage_depths = np.diff([index for index, split in enumerate(splits) if split]).tolist()
        bottleneck_multipliers = [bottleneck_multiplier] * num_stages
        stage_widths, group_widths = cls._adjust_widths_groups_compatibilty(
            stage_widths, bottleneck_multipliers, [group_width] * num_stages)
        return cls(depths=stage_depths, widths=stage_widths, group_widths=group_widths,
                   bottleneck_multipliers=bottleneck_multipliers, strides=[2] * num_stages,
                   se_ratio=se_ratio)

    def _get_expanded_params(self):
        return zip(self.widths, self.strides, self.depths, self.group_widths,
                   self.bottleneck_multipliers)

    @staticmethod
    def _adjust_widths_groups_compatibilty(stage_widths, bottleneck_ratios, group_widths):
        """Bottleneck widths made multiples of their (capped) group widths."""
        widths = [int(width * ratio) for width, ratio in zip(stage_widths, bottleneck_ratios)]
        group_widths = [min(group, width) for group, width in zip(group_widths, widths)]
        bottleneck_widths = [make_divisible(width, group)
                             for width, group in zip(widths, group_widths)]
        stage_widths = [int(width / ratio)
                        for width, ratio in zip(bottleneck_widths, bottleneck_ratios)]
        return stage_widths, group_widths


class RegNet(nn.Module):
    """Stem, the stages of residual bottleneck blocks (``trunk_output``), pool, classifier."""

    def __init__(self, block_params, num_classes=1000, stem_width=32, stem_type=None,
                 block_type=None, norm_layer=None, activation=None):
        super().__init__()
        stem_type = SimpleStemIN if stem_type is None else stem_type
        norm_layer = nn.BatchNorm2d if norm_layer is None else norm_layer
        block_type = ResBottleneckBlock if block_type is None else block_type
        activation = nn.ReLU if activation is None else activation
        self.stem = stem_type(3, stem_width, norm_layer, activation)
        current_width = stem_width
        stages = []
        for index, (width_out, stride, depth, group_width, bottleneck_multiplier) in \
                enumerate(block_params._get_expanded_params()):
            stages.append((f"block{index + 1}", AnyStage(
                current_width, width_out, stride, depth, block_type, norm_layer, activation,
                group_width, bottleneck_multiplier, block_params.se_ratio,
                stage_index=index + 1)))
            current_width = width_out
        self.trunk_output = nn.Sequential(OrderedDict(stages))
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(in_features=current_width, out_features=num_classes)
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                fan_out = module.kernel_size[0] * module.kernel_size[1] * module.out_channels
                nn.init.normal_(module.weight, mean=0.0, std=math.sqrt(2.0 / fan_out))
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)
            elif isinstance(module, nn.Linear):
                nn.init.normal_(module.weight, mean=0.0, std=0.01)
                nn.init.zeros_(module.bias)

    def forward(self, x):
        x = self.avgpool(self.trunk_output(self.stem(x)))
        return self.fc(x.flatten(start_dim=1))


def _regnet(name, settings, weights, pretrained, kwargs):
    # like torchvision, the keywords reach both the block rule and the model
    params = BlockParams.from_init_params(**settings, **kwargs)
    norm_layer = kwargs.pop("norm_layer", partial(nn.BatchNorm2d, eps=1e-05, momentum=0.1))
    model = RegNet(params, norm_layer=norm_layer, **kwargs)
    return load_weights(model, name, weights, pretrained)


def _builder(name, doc, **settings):
    def build(*, weights=None, progress=True, pretrained=False, **kwargs):
        return _regnet(name, settings, weights, pretrained, kwargs)
    build.__name__ = build.__qualname__ = name
    build.__doc__ = doc
    return build


regnet_y_400mf = _builder("regnet_y_400mf", "RegNetY-400MF (4,344,144 parameters).", depth=16,
                          w_0=48, w_a=27.89, w_m=2.09, group_width=8, se_ratio=0.25)
regnet_y_800mf = _builder("regnet_y_800mf", "RegNetY-800MF (6,432,512 parameters).", depth=14,
                          w_0=56, w_a=38.84, w_m=2.4, group_width=16, se_ratio=0.25)
regnet_y_1_6gf = _builder("regnet_y_1_6gf", "RegNetY-1.6GF (11,202,430 parameters).", depth=27,
                          w_0=48, w_a=20.71, w_m=2.65, group_width=24, se_ratio=0.25)
regnet_y_3_2gf = _builder("regnet_y_3_2gf", "RegNetY-3.2GF (19,436,338 parameters).", depth=21,
                          w_0=80, w_a=42.63, w_m=2.66, group_width=24, se_ratio=0.25)
regnet_y_8gf = _builder("regnet_y_8gf", "RegNetY-8GF (39,381,472 parameters).", depth=17,
                        w_0=192, w_a=76.82, w_m=2.19, group_width=56, se_ratio=0.25)
regnet_y_16gf = _builder("regnet_y_16gf", "RegNetY-16GF (83,590,140 parameters).", depth=18,
                         w_0=200, w_a=106.23, w_m=2.48, group_width=112, se_ratio=0.25)
regnet_y_32gf = _builder("regnet_y_32gf", "RegNetY-32GF (145,046,770 parameters).", depth=20,
                         w_0=232, w_a=115.89, w_m=2.53, group_width=232, se_ratio=0.25)
regnet_y_128gf = _builder("regnet_y_128gf", "RegNetY-128GF (644,812,894 parameters).",
                          depth=27, w_0=456, w_a=160.83, w_m=2.52, group_width=264,
                          se_ratio=0.25)
regnet_x_400mf = _builder("regnet_x_400mf", "RegNetX-400MF (5,495,976 parameters).", depth=22,
                          w_0=24, w_a=24.48, w_m=2.54, group_width=16)
regnet_x_800mf = _builder("regnet_x_800mf", "RegNetX-800MF (7,259,656 parameters).", depth=16,
                          w_0=56, w_a=35.73, w_m=2.28, group_width=16)
regnet_x_1_6gf = _builder("regnet_x_1_6gf", "RegNetX-1.6GF (9,190,136 parameters).", depth=18,
                          w_0=80, w_a=34.01, w_m=2.25, group_width=24)
regnet_x_3_2gf = _builder("regnet_x_3_2gf", "RegNetX-3.2GF (15,296,552 parameters).", depth=25,
                          w_0=88, w_a=26.31, w_m=2.25, group_width=48)
regnet_x_8gf = _builder("regnet_x_8gf", "RegNetX-8GF (39,572,648 parameters).", depth=23,
                        w_0=80, w_a=49.56, w_m=2.88, group_width=120)
regnet_x_16gf = _builder("regnet_x_16gf", "RegNetX-16GF (54,278,536 parameters).", depth=22,
                         w_0=216, w_a=55.59, w_m=2.1, group_width=128)
regnet_x_32gf = _builder("regnet_x_32gf", "RegNetX-32GF (107,811,560 parameters).", depth=23,
                         w_0=320, w_a=69.86, w_m=2.0, group_width=168)
