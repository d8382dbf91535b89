"""Checkpoints (safetensors + JSON metadata, atomic, no pickle), torch.save files read without
running their pickles, and PyTorch weight interchange.

This package sits just above tensors: ``ember.save``/``ember.load`` (ember/serialization.py) add
what the layers above know, the ``nn.Parameter`` class."""
from .checkpoint import list_tensors, read_header  # noqa: F401
from .files import CheckpointError, UnsafeCheckpointError  # noqa: F401
from .locations import Storage  # noqa: F401
from .torch_weights import load_torch_state_dict, to_torch_state_dict  # noqa: F401
