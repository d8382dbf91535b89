"""PyTorch-style aliases: ``ember.utils.data`` is ``ember.data``."""
from . import data  # noqa: F401
