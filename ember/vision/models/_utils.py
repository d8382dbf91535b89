"""Loading torchvision's weights into ember's models: from a local safetensors file only."""
import os

from ... import nn
from ..._factories import from_numpy
from .._optional import require
from ._api import MODEL_WEIGHTS, WeightsEnum


def _init_weights(model, init_linear=None):
    """MobileNet's and EfficientNet's initialisation: Kaiming-normal (fan_out) convolutions,
    unit-weight norms, zero biases, and Linear weights by ``init_linear(module)`` (None:
    N(0, 0.01))."""
    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            nn.init.kaiming_normal_(module.weight, mode="fan_out")
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, (nn.BatchNorm2d, nn.GroupNorm)):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Linear):
            if init_linear is None:
                nn.init.normal_(module.weight, 0, 0.01)
            else:
                init_linear(module)
            nn.init.zeros_(module.bias)


def _init_truncated_normal(model, std_of):
    """GoogLeNet's and Inception v3's initialisation: convolution and Linear weights from a
    normal of standard deviation ``std_of(module)`` truncated to [-2, 2], unit-weight and
    zero-bias BatchNorms."""
    for module in model.modules():
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            nn.init.trunc_normal_(module.weight, mean=0.0, std=std_of(module), a=-2, b=2)
        elif isinstance(module, nn.BatchNorm2d):
            nn.init.constant_(module.weight, 1)
            nn.init.constant_(module.bias, 0)


def make_divisible(value, divisor, min_value=None):
    """The nearest multiple of ``divisor`` to ``value``, never below 90% of it (MobileNet's
    channel rounding)."""
    if min_value is None:
        min_value = divisor
    rounded = max(min_value, int(value + divisor / 2) // divisor * divisor)
    if rounded < 0.9 * value:
        rounded += divisor
    return rounded


def overwrite_named_param(kwargs, param, new_value):
    """Set ``kwargs[param]`` to the value a builder fixes (ResNeXt's groups), refusing a
    different value the caller passed, as torchvision does."""
    if param in kwargs:
        if kwargs[param] != new_value:
            raise ValueError(f"The parameter '{param}' expected value {new_value} but got "
                             f"{kwargs[param]} instead.")
    else:
        kwargs[param] = new_value


def _named_weights(name, weights):
    """The ``<Model>_Weights`` entry that ``weights`` names (a member, or a name such as
    'DEFAULT' that is not a file), checked against the model as torchvision checks it; else
    None."""
    if isinstance(weights, WeightsEnum):
        return MODEL_WEIGHTS[name].verify(weights)
    if isinstance(weights, str) and not os.path.isfile(weights):
        try:
            return MODEL_WEIGHTS[name].verify(weights)
        except KeyError:
            return None
    return None


def load_weights(model, name, weights, pretrained):
    """Load ``weights`` (a path to a safetensors file of torchvision's state_dict) into
    ``model``; ember downloads no weights, so ``pretrained=True`` without a file is an error."""
    if weights is None:
        if pretrained:
            raise RuntimeError(
                f"ember.vision.models.{name}: pretrained=True needs torchvision's weights as a "
                f"local file; convert them once (docs/vision.md) and pass "
                f"weights='{name}.safetensors'")
        return model
    named = _named_weights(name, weights)
    if named is not None:
        raise RuntimeError(
            f"ember.vision.models.{name}: weights={named!r} are torchvision's download "
            f"({named.url}); ember downloads no weights: convert them once (docs/vision.md) and "
            f"pass weights='{name}.safetensors'")
    path = os.fspath(weights)
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"ember.vision.models.{name}: weights={path!r} is not a file; pass the path of "
            f"torchvision's state_dict saved with safetensors (docs/vision.md)")
    safetensors_numpy = require("safetensors.numpy", f"ember.vision.models.{name}(weights=...)")
    arrays = safetensors_numpy.load_file(path)
    model.load_state_dict({key: from_numpy(array) for key, array in arrays.items()})
    return model
