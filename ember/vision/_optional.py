"""The optional dependencies of ember.vision (pillow, scipy, safetensors), imported on first
use."""
import importlib
import sys

from .._extras import install_hint


def require(module, what):
    """Import ``module`` for ``what`` (e.g. 'ember.vision.datasets.ImageFolder'), or raise an
    ImportError of one line naming the ``vision`` extra."""
    try:
        return importlib.import_module(module)
    except ImportError:
        package = {"PIL": "pillow", "scipy": "scipy", "safetensors": "safetensors"}[
            module.split(".")[0]]
        raise ImportError(f"{what} needs {package}: {install_hint('vision')}") from None


def pil_image():
    """PIL.Image, which every PIL code path needs."""
    return require("PIL.Image", "ember.vision (PIL images)")


def is_pil_image(value):
    """True for a PIL image; never imports pillow (a value can only be one if pillow is loaded)."""
    image_module = sys.modules.get("PIL.Image")
    return image_module is not None and isinstance(value, image_module.Image)
