"""torchvision's API on ember: datasets, transforms, models, utils and ops (the ``vision`` extra).

Module paths mirror torchvision's (``ember.vision.transforms.functional`` is
``torchvision.transforms.functional``). pillow and scipy are imported on first use, never by
``import ember`` or ``import ember.vision``.
"""
from . import datasets, models, ops, transforms, utils  # noqa: F401

__all__ = ["datasets", "models", "ops", "transforms", "utils"]
