"""Checkpoints (safetensors + JSON metadata, atomic, no pickle) and PyTorch weight interchange."""
from .checkpoint import CheckpointError, load, read_header, save  # noqa: F401
from .torch_weights import load_torch_state_dict, to_torch_state_dict  # noqa: F401
