"""ConvNeXt (Liu et al. 2022) with torchvision's layout, initialisation and keys."""
from functools import partial

from ... import nn
from ..._factories import ones
from ...nn import functional as F
from ..ops.misc import Conv2dNormActivation, Permute
from ..ops.stochastic_depth import StochasticDepth
from ._api import (  # noqa: F401
    ConvNeXt_Base_Weights, ConvNeXt_Large_Weights, ConvNeXt_Small_Weights, ConvNeXt_Tiny_Weights)
from ._utils import load_weights

__all__ = ["ConvNeXt", "convnext_base", "convnext_large", "convnext_small", "convnext_tiny"]


class LayerNorm2d(nn.LayerNorm):
    """LayerNorm over the channels of an NCHW tensor (through channels-last and back)."""

    def forward(self, x):
        x = F.layer_norm(x.permute(0, 2, 3, 1), self.normalized_shape, self.weight, self.bias,
                         self.eps)
        return x.permute(0, 3, 1, 2)


class CNBlock(nn.Module):
    """Depthwise 7x7 conv, LayerNorm, 4x MLP with GELU (channels last), scaled by a learned
    per-channel ``layer_scale``, dropped per sample, plus the input."""

    def __init__(self, dim, layer_scale, stochastic_depth_prob, norm_layer=None):
        super().__init__()
        norm_layer = partial(nn.LayerNorm, eps=1e-6) if norm_layer is None else norm_layer
        self.block = nn.Sequential(
            nn.Conv2d(dim, dim, kernel_size=7, padding=3, groups=dim, bias=True),
            Permute([0, 2, 3, 1]), norm_layer(dim),
            nn.Linear(in_features=dim, out_features=4 * dim, bias=True), nn.GELU(),
            nn.Linear(in_features=4 * dim, out_features=dim, bias=True),
            Permute([0, 3, 1, 2]))
        self.layer_scale = nn.Parameter(ones(dim, 1, 1) * layer_scale)
        self.stochastic_depth = StochasticDepth(stochastic_depth_prob, "row")

    def forward(self, input):
        return self.stochastic_depth(self.layer_scale * self.block(input)) + input


class CNBlockConfig:
    """One stage: its width, the next stage's width (None for the last), its depth."""

    def __init__(self, input_channels, out_channels, num_layers):
        self.input_channels = input_channels
        self.out_channels = out_channels
        self.num_layers = num_layers

    def __repr__(self):
        return (f"{self.__class__.__name__}(input_channels={self.input_channels}, "
                f"out_channels={self.out_channels}, num_layers={self.num_layers})")


class ConvNeXt(nn.Module):
    """4x4 patchify stem, stages of CNBlocks joined by LayerNorm + 2x2 strided convolutions,
    global pool, LayerNorm, classifier; truncated-normal (std 0.02) weights."""

    def __init__(self, block_setting, stochastic_depth_prob=0.0, layer_scale=1e-6,
                 num_classes=1000, block=None, norm_layer=None, **kwargs):
        super().__init__()
        if not block_setting:
            raise ValueError("The block_setting should not be empty")
        if not (isinstance(block_setting, (list, tuple)) and
                all(isinstance(cnf, CNBlockConfig) for cnf in block_setting)):
            raise TypeError("The block_setting should be List[CNBlockConfig]")
        block = CNBlock if block is None else block
        norm_layer = partial(LayerNorm2d, eps=1e-6) if norm_layer is None else norm_layer
        layers = [Conv2dNormActivation(3, block_setting[0].input_channels, kernel_size=4,
                                       stride=4, padding=0, norm_layer=norm_layer,
                                       activation_layer=None, bias=True)]
        total_stage_blocks = sum(cnf.num_layers for cnf in block_setting)
        stage_block_id = 0
        for cnf in block_setting:
            stage = []
            for _ in range(cnf.num_layers):
                drop = stochastic_depth_prob * stage_block_id / (total_stage_blocks - 1.0)
                stage.append(block(cnf.input_channels, layer_scale, drop))
                stage_block_id += 1
            layers.append(nn.Sequential(*stage))
            if cnf.out_channels is not None:
                layers.append(nn.Sequential(
                    norm_layer(cnf.input_channels),
                    nn.Conv2d(cnf.input_channels, cnf.out_channels, kernel_size=2, stride=2)))
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        last = block_setting[-1]
        last_channels = last.out_channels if last.out_channels is not None else \
            last.input_channels
        self.classifier = nn.Sequential(norm_layer(last_channels), nn.Flatten(1),
                                        nn.Linear(last_channels, num_classes))
        for module in self.modules():
            if isinstance(module, (nn.Conv2d, nn.Linear)):
                nn.init.trunc_normal_(module.weight, std=0.02)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)

    def forward(self, x):
        return self.classifier(self.avgpool(self.features(x)))


def _convnext(name, widths, depths, stochastic_depth_prob, weights, pretrained, kwargs):
    setting = [CNBlockConfig(width, next_width, depth) for width, next_width, depth
               in zip(widths, widths[1:] + [None], depths)]
    model = ConvNeXt(setting, stochastic_depth_prob=kwargs.pop("stochastic_depth_prob",
                                                               stochastic_depth_prob), **kwargs)
    return load_weights(model, name, weights, pretrained)


def convnext_tiny(*, weights=None, progress=True, pretrained=False, **kwargs):
    """ConvNeXt-T (28,589,128 parameters)."""
    return _convnext("convnext_tiny", [96, 192, 384, 768], [3, 3, 9, 3], 0.1, weights,
                     pretrained, kwargs)


def convnext_small(*, weights=None, progress=True, pretrained=False, **kwargs):
    """ConvNeXt-S (50,223,688 parameters)."""
    return _convnext("convnext_small", [96, 192, 384, 768], [3, 3, 27, 3], 0.4, weights,
                     pretrained, kwargs)


def convnext_base(*, weights=None, progress=True, pretrained=False, **kwargs):
    """ConvNeXt-B (88,591,464 parameters)."""
    return _convnext("convnext_base", [128, 256, 512, 1024], [3, 3, 27, 3], 0.5, weights,
                     pretrained, kwargs)


def convnext_large(*, weights=None, progress=True, pretrained=False, **kwargs):
    """ConvNeXt-L (197,767,336 parameters)."""
    return _convnext("convnext_large", [192, 384, 768, 1536], [3, 3, 27, 3], 0.5, weights,
                     pretrained, kwargs)
