"""PyTorch-style aliases: ``ember.utils.data`` is ``ember.data``; ``ember.utils.checkpoint`` is
activation checkpointing (torch.utils.checkpoint)."""
from . import checkpoint, data  # noqa: F401
