"""PyTorch-style aliases: ``ember.utils.data`` is ``ember.data``; ``ember.utils.checkpoint`` is
activation checkpointing (torch.utils.checkpoint)."""
from . import benchmark, checkpoint, data  # noqa: F401
from ..tensor import swap_tensors  # noqa: F401

__all__ = ["set_module", "swap_tensors"]


def set_module(obj, mod):
    """Give ``obj`` the ``__module__`` ``mod`` (where its public name lives)."""
    if not isinstance(mod, str):
        raise TypeError("The mod argument should be a string")
    obj.__module__ = mod
