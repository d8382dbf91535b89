"""Vision Transformer (Dosovitskiy et al. 2020) with torchvision's layout, initialisation and
keys."""
import math
from collections import OrderedDict
from functools import partial
from typing import Callable, NamedTuple

from ... import nn
from ..._factories import empty, zeros
from ...ops import cat
from ..ops.misc import MLP, Conv2dNormActivation
from ._api import (  # noqa: F401
    ViT_B_16_Weights, ViT_B_32_Weights, ViT_H_14_Weights, ViT_L_16_Weights, ViT_L_32_Weights)
from ._utils import load_weights

__all__ = ["VisionTransformer", "vit_b_16", "vit_b_32", "vit_h_14", "vit_l_16", "vit_l_32"]


class ConvStemConfig(NamedTuple):
    """One Conv2dNormActivation of an optional convolutional stem (Xiao et al. 2021)."""
    out_channels: int
    kernel_size: int
    stride: int
    norm_layer: Callable = nn.BatchNorm2d
    activation_layer: Callable = nn.ReLU


def _check(condition, message):
    # torch._assert's error, which torchvision raises for a wrongly shaped input
    if not condition:
        raise AssertionError(message)


class MLPBlock(MLP):
    """The encoder's two-layer GELU MLP: Xavier-uniform weights, N(0, 1e-6) biases."""

    _version = 2

    def __init__(self, in_dim, mlp_dim, dropout):
        super().__init__(in_dim, [mlp_dim, in_dim], activation_layer=nn.GELU, inplace=None,
                         dropout=dropout)
        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.xavier_uniform_(module.weight)
                if module.bias is not None:
                    nn.init.normal_(module.bias, std=1e-6)

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys,
                              unexpected_keys, error_msgs):
        # checkpoints before version 2 named the layers linear_1 and linear_2
        version = local_metadata.get("version", None)
        if version is None or version < 2:
            for index in range(2):
                for kind in ("weight", "bias"):
                    old_key = f"{prefix}linear_{index + 1}.{kind}"
                    if old_key in state_dict:
                        state_dict[f"{prefix}{3 * index}.{kind}"] = state_dict.pop(old_key)
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys,
                                      unexpected_keys, error_msgs)


class EncoderBlock(nn.Module):
    """Pre-norm self-attention and MLP, each with a residual connection."""

    def __init__(self, num_heads, hidden_dim, mlp_dim, dropout, attention_dropout,
                 norm_layer=partial(nn.LayerNorm, eps=1e-6)):
        super().__init__()
        self.num_heads = num_heads
        self.ln_1 = norm_layer(hidden_dim)
        self.self_attention = nn.MultiheadAttention(hidden_dim, num_heads,
                                                    dropout=attention_dropout, batch_first=True)
        self.dropout = nn.Dropout(dropout)
        self.ln_2 = norm_layer(hidden_dim)
        self.mlp = MLPBlock(hidden_dim, mlp_dim, dropout)

    def forward(self, input):
        _check(input.dim() == 3,
               f"Expected (batch_size, seq_length, hidden_dim) got {input.shape}")
        x = self.ln_1(input)
        x, _ = self.self_attention(x, x, x, need_weights=False)
        x = self.dropout(x) + input
        return x + self.mlp(self.ln_2(x))


class Encoder(nn.Module):
    """Learned position embedding, dropout, the encoder blocks, a final LayerNorm."""

    def __init__(self, seq_length, num_layers, num_heads, hidden_dim, mlp_dim, dropout,
                 attention_dropout, norm_layer=partial(nn.LayerNorm, eps=1e-6)):
        super().__init__()
        self.pos_embedding = nn.Parameter(empty(1, seq_length, hidden_dim).normal_(std=0.02))
        self.dropout = nn.Dropout(dropout)
        self.layers = nn.Sequential(OrderedDict(
            (f"encoder_layer_{index}", EncoderBlock(num_heads, hidden_dim, mlp_dim, dropout,
                                                    attention_dropout, norm_layer))
            for index in range(num_layers)))
        self.ln = norm_layer(hidden_dim)

    def forward(self, input):
        _check(input.dim() == 3,
               f"Expected (batch_size, seq_length, hidden_dim) got {input.shape}")
        return self.ln(self.layers(self.dropout(input + self.pos_embedding)))


class VisionTransformer(nn.Module):
    """Patches embedded by a strided convolution (or a convolutional stem), a class token,
    the transformer encoder, a linear head on the class token (zero-initialised)."""

    def __init__(self, image_size, patch_size, num_layers, num_heads, hidden_dim, mlp_dim,
                 dropout=0.0, attention_dropout=0.0, num_classes=1000, representation_size=None,
                 norm_layer=partial(nn.LayerNorm, eps=1e-6), conv_stem_configs=None):
        super().__init__()
        _check(image_size % patch_size == 0, "Input shape indivisible by patch size!")
        self.image_size = image_size
        self.patch_size = patch_size
        self.hidden_dim = hidden_dim
        self.mlp_dim = mlp_dim
        self.attention_dropout = attention_dropout
        self.dropout = dropout
        self.num_classes = num_classes
        self.representation_size = representation_size
        self.norm_layer = norm_layer
        if conv_stem_configs is not None:
            stem = nn.Sequential()
            channels = 3
            for index, config in enumerate(conv_stem_configs):
                stem.add_module(f"conv_bn_relu_{index}", Conv2dNormActivation(
                    in_channels=channels, out_channels=config.out_channels,
                    kernel_size=config.kernel_size, stride=config.stride,
                    norm_layer=config.norm_layer, activation_layer=config.activation_layer))
                channels = config.out_channels
            stem.add_module("conv_last", nn.Conv2d(in_channels=channels, out_channels=hidden_dim,
                                                   kernel_size=1))
            self.conv_proj = stem
        else:
            self.conv_proj = nn.Conv2d(in_channels=3, out_channels=hidden_dim,
                                       kernel_size=patch_size, stride=patch_size)
        seq_length = (image_size // patch_size) ** 2 + 1  # the patches and the class token
        self.class_token = nn.Parameter(zeros(1, 1, hidden_dim))
        self.encoder = Encoder(seq_length, num_layers, num_heads, hidden_dim, mlp_dim, dropout,
                               attention_dropout, norm_layer)
        self.seq_length = seq_length
        heads = OrderedDict()
        if representation_size is None:
            heads["head"] = nn.Linear(hidden_dim, num_classes)
        else:
            heads["pre_logits"] = nn.Linear(hidden_dim, representation_size)
            heads["act"] = nn.Tanh()
            heads["head"] = nn.Linear(representation_size, num_classes)
        self.heads = nn.Sequential(heads)

        if isinstance(self.conv_proj, nn.Conv2d):
            fan_in = self.conv_proj.in_channels * self.conv_proj.kernel_size[0] * \
                self.conv_proj.kernel_size[1]
            nn.init.trunc_normal_(self.conv_proj.weight, std=math.sqrt(1 / fan_in))
            if self.conv_proj.bias is not None:
                nn.init.zeros_(self.conv_proj.bias)
        elif isinstance(getattr(self.conv_proj, "conv_last", None), nn.Conv2d):
            conv_last = self.conv_proj.conv_last
            nn.init.normal_(conv_last.weight, mean=0.0,
                            std=math.sqrt(2.0 / conv_last.out_channels))
            if conv_last.bias is not None:
                nn.init.zeros_(conv_last.bias)
        if isinstance(getattr(self.heads, "pre_logits", None), nn.Linear):
            fan_in = self.heads.pre_logits.in_features
            nn.init.trunc_normal_(self.heads.pre_logits.weight, std=math.sqrt(1 / fan_in))
            nn.init.zeros_(self.heads.pre_logits.bias)
        if isinstance(self.heads.head, nn.Linear):
            nn.init.zeros_(self.heads.head.weight)
            nn.init.zeros_(self.heads.head.bias)

    def _process_input(self, x):
        """(n, 3, h, w) images -> (n, patches, hidden_dim) embeddings."""
        n, _, h, w = x.shape
        _check(h == self.image_size,
               f"Wrong image height! Expected {self.image_size} but got {h}!")
        _check(w == self.image_size,
               f"Wrong image width! Expected {self.image_size} but got {w}!")
        patches = (h // self.patch_size) * (w // self.patch_size)
        return self.conv_proj(x).reshape(n, self.hidden_dim, patches).permute(0, 2, 1)

    def forward(self, x):
        x = self._process_input(x)
        x = cat([self.class_token.expand(x.shape[0], -1, -1), x], dim=1)
        return self.heads(self.encoder(x)[:, 0])


def _vision_transformer(name, patch_size, num_layers, num_heads, hidden_dim, mlp_dim, weights,
                        pretrained, kwargs):
    model = VisionTransformer(image_size=kwargs.pop("image_size", 224), patch_size=patch_size,
                              num_layers=num_layers, num_heads=num_heads, hidden_dim=hidden_dim,
                              mlp_dim=mlp_dim, **kwargs)
    return load_weights(model, name, weights, pretrained)


def vit_b_16(*, weights=None, progress=True, pretrained=False, **kwargs):
    """ViT-B/16 (86,567,656 parameters at 224x224)."""
    return _vision_transformer("vit_b_16", 16, 12, 12, 768, 3072, weights, pretrained, kwargs)


def vit_b_32(*, weights=None, progress=True, pretrained=False, **kwargs):
    """ViT-B/32 (88,224,232 parameters)."""
    return _vision_transformer("vit_b_32", 32, 12, 12, 768, 3072, weights, pretrained, kwargs)


def vit_l_16(*, weights=None, progress=True, pretrained=False, **kwargs):
    """ViT-L/16 (304,326,632 parameters)."""
    return _vision_transformer("vit_l_16", 16, 24, 16, 1024, 4096, weights, pretrained, kwargs)


def vit_l_32(*, weights=None, progress=True, pretrained=False, **kwargs):
    """ViT-L/32 (306,535,400 parameters)."""
    return _vision_transformer("vit_l_32", 32, 24, 16, 1024, 4096, weights, pretrained, kwargs)


def vit_h_14(*, weights=None, progress=True, pretrained=False, **kwargs):
    """ViT-H/14 (632,045,800 parameters at 224x224)."""
    return _vision_transformer("vit_h_14", 14, 32, 16, 1280, 5120, weights, pretrained, kwargs)
