"""PyTorch-style aliases: ``ember.utils.data`` is ``ember.data``; ``ember.utils.checkpoint`` is
activation checkpointing (torch.utils.checkpoint)."""
from . import benchmark, checkpoint, data  # noqa: F401
