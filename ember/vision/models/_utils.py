"""Loading torchvision's weights into ember's models: from a local safetensors file only."""
import os

from ..._factories import from_numpy
from .._optional import require


def make_divisible(value, divisor, min_value=None):
    """The nearest multiple of ``divisor`` to ``value``, never below 90% of it (MobileNet's
    channel rounding)."""
    if min_value is None:
        min_value = divisor
    rounded = max(min_value, int(value + divisor / 2) // divisor * divisor)
    if rounded < 0.9 * value:
        rounded += divisor
    return rounded


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
    path = os.fspath(weights)
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"ember.vision.models.{name}: weights={path!r} is not a file; pass the path of "
            f"torchvision's state_dict saved with safetensors (docs/vision.md)")
    safetensors_numpy = require("safetensors.numpy", f"ember.vision.models.{name}(weights=...)")
    arrays = safetensors_numpy.load_file(path)
    model.load_state_dict({key: from_numpy(array) for key, array in arrays.items()})
    return model
