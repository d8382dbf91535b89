"""MobileNetV3 small and large (Howard et al. 2019) with torchvision's layout, initialisation and
keys."""
from functools import partial

from ... import nn
from ...ops import flatten
from ..ops.misc import Conv2dNormActivation, SqueezeExcitation
from ._api import MobileNet_V3_Large_Weights, MobileNet_V3_Small_Weights  # noqa: F401
from ._utils import _init_weights, load_weights, make_divisible

__all__ = ["MobileNetV3", "mobilenet_v3_large", "mobilenet_v3_small"]


class InvertedResidualConfig:
    """One block's settings; channel counts scaled by ``width_mult`` and rounded to 8."""

    def __init__(self, input_channels, kernel, expanded_channels, out_channels, use_se,
                 activation, stride, dilation, width_mult):
        self.input_channels = self.adjust_channels(input_channels, width_mult)
        self.kernel = kernel
        self.expanded_channels = self.adjust_channels(expanded_channels, width_mult)
        self.out_channels = self.adjust_channels(out_channels, width_mult)
        self.use_se = use_se
        self.use_hs = activation == "HS"
        self.stride = stride
        self.dilation = dilation

    @staticmethod
    def adjust_channels(channels, width_mult):
        return make_divisible(channels * width_mult, 8)


class InvertedResidual(nn.Module):
    """1x1 expand, depthwise kxk, optional squeeze-excitation (hard sigmoid gate), linear 1x1
    projection; ReLU or hard swish; a shortcut when the shape is unchanged."""

    def __init__(self, cnf, norm_layer,
                 se_layer=partial(SqueezeExcitation, scale_activation=nn.Hardsigmoid)):
        super().__init__()
        if not 1 <= cnf.stride <= 2:
            raise ValueError("illegal stride value")
        self.use_res_connect = cnf.stride == 1 and cnf.input_channels == cnf.out_channels
        activation_layer = nn.Hardswish if cnf.use_hs else nn.ReLU
        layers = []
        if cnf.expanded_channels != cnf.input_channels:
            layers.append(Conv2dNormActivation(cnf.input_channels, cnf.expanded_channels,
                                               kernel_size=1, norm_layer=norm_layer,
                                               activation_layer=activation_layer))
        layers.append(Conv2dNormActivation(
            cnf.expanded_channels, cnf.expanded_channels, kernel_size=cnf.kernel,
            stride=1 if cnf.dilation > 1 else cnf.stride, dilation=cnf.dilation,
            groups=cnf.expanded_channels, norm_layer=norm_layer,
            activation_layer=activation_layer))
        if cnf.use_se:
            squeeze_channels = make_divisible(cnf.expanded_channels // 4, 8)
            layers.append(se_layer(cnf.expanded_channels, squeeze_channels))
        layers.append(Conv2dNormActivation(cnf.expanded_channels, cnf.out_channels,
                                           kernel_size=1, norm_layer=norm_layer,
                                           activation_layer=None))
        self.block = nn.Sequential(*layers)
        self.out_channels = cnf.out_channels
        self._is_cn = cnf.stride > 1

    def forward(self, input):
        result = self.block(input)
        if self.use_res_connect:
            result = result + input
        return result


class MobileNetV3(nn.Module):
    """Hard-swish stem, the inverted residual blocks, a 1x1 conv to six times the last width,
    global pool, a two-layer classifier."""

    def __init__(self, inverted_residual_setting, last_channel, num_classes=1000, block=None,
                 norm_layer=None, dropout=0.2, **kwargs):
        super().__init__()
        if not inverted_residual_setting:
            raise ValueError("The inverted_residual_setting should not be empty")
        if not (isinstance(inverted_residual_setting, (list, tuple)) and
                all(isinstance(cnf, InvertedResidualConfig)
                    for cnf in inverted_residual_setting)):
            raise TypeError("The inverted_residual_setting should be List[InvertedResidualConfig]")
        block = InvertedResidual if block is None else block
        if norm_layer is None:
            norm_layer = partial(nn.BatchNorm2d, eps=0.001, momentum=0.01)
        first_channels = inverted_residual_setting[0].input_channels
        layers = [Conv2dNormActivation(3, first_channels, kernel_size=3, stride=2,
                                       norm_layer=norm_layer, activation_layer=nn.Hardswish)]
        layers += [block(cnf, norm_layer) for cnf in inverted_residual_setting]
        last_input = inverted_residual_setting[-1].out_channels
        last_output = 6 * last_input
        layers.append(Conv2dNormActivation(last_input, last_output, kernel_size=1,
                                           norm_layer=norm_layer, activation_layer=nn.Hardswish))
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(
            nn.Linear(last_output, last_channel), nn.Hardswish(inplace=True),
            nn.Dropout(p=dropout, inplace=True), nn.Linear(last_channel, num_classes))
        _init_weights(self)

    def forward(self, x):
        return self.classifier(flatten(self.avgpool(self.features(x)), 1))


def _mobilenet_v3_conf(arch, width_mult=1.0, reduced_tail=False, dilated=False):
    """The block settings of ``arch`` (kernel, expansion, width, SE, activation, stride) and
    the classifier's hidden width; ``reduced_tail`` halves the last stage (detection)."""
    divider = 2 if reduced_tail else 1
    dilation = 2 if dilated else 1
    conf = partial(InvertedResidualConfig, width_mult=width_mult)
    if arch == "mobilenet_v3_large":
        setting = [
            conf(16, 3, 16, 16, False, "RE", 1, 1), conf(16, 3, 64, 24, False, "RE", 2, 1),
            conf(24, 3, 72, 24, False, "RE", 1, 1), conf(24, 5, 72, 40, True, "RE", 2, 1),
            conf(40, 5, 120, 40, True, "RE", 1, 1), conf(40, 5, 120, 40, True, "RE", 1, 1),
            conf(40, 3, 240, 80, False, "HS", 2, 1), conf(80, 3, 200, 80, False, "HS", 1, 1),
            conf(80, 3, 184, 80, False, "HS", 1, 1), conf(80, 3, 184, 80, False, "HS", 1, 1),
            conf(80, 3, 480, 112, True, "HS", 1, 1), conf(112, 3, 672, 112, True, "HS", 1, 1),
            conf(112, 5, 672, 160 // divider, True, "HS", 2, dilation),
            conf(160 // divider, 5, 960 // divider, 160 // divider, True, "HS", 1, dilation),
            conf(160 // divider, 5, 960 // divider, 160 // divider, True, "HS", 1, dilation)]
        last_channel = InvertedResidualConfig.adjust_channels(1280 // divider, width_mult)
    elif arch == "mobilenet_v3_small":
        setting = [
            conf(16, 3, 16, 16, True, "RE", 2, 1), conf(16, 3, 72, 24, False, "RE", 2, 1),
            conf(24, 3, 88, 24, False, "RE", 1, 1), conf(24, 5, 96, 40, True, "HS", 2, 1),
            conf(40, 5, 240, 40, True, "HS", 1, 1), conf(40, 5, 240, 40, True, "HS", 1, 1),
            conf(40, 5, 120, 48, True, "HS", 1, 1), conf(48, 5, 144, 48, True, "HS", 1, 1),
            conf(48, 5, 288, 96 // divider, True, "HS", 2, dilation),
            conf(96 // divider, 5, 576 // divider, 96 // divider, True, "HS", 1, dilation),
            conf(96 // divider, 5, 576 // divider, 96 // divider, True, "HS", 1, dilation)]
        last_channel = InvertedResidualConfig.adjust_channels(1024 // divider, width_mult)
    else:
        raise ValueError(f"Unsupported model type {arch}")
    return setting, last_channel


def _mobilenet_v3(name, weights, pretrained, kwargs):
    options = {key: kwargs.pop(key) for key in ("width_mult", "reduced_tail", "dilated")
               if key in kwargs}
    setting, last_channel = _mobilenet_v3_conf(name, **options)
    model = MobileNetV3(setting, last_channel, **kwargs)
    return load_weights(model, name, weights, pretrained)


def mobilenet_v3_large(*, weights=None, progress=True, pretrained=False, **kwargs):
    """MobileNetV3-Large (5,483,032 parameters)."""
    return _mobilenet_v3("mobilenet_v3_large", weights, pretrained, kwargs)


def mobilenet_v3_small(*, weights=None, progress=True, pretrained=False, **kwargs):
    """MobileNetV3-Small (2,542,856 parameters)."""
    return _mobilenet_v3("mobilenet_v3_small", weights, pretrained, kwargs)
