"""``ember.save`` and ``ember.load`` (torch.serialization's place): checkpoints from ``ember.io``,
with ``nn.Parameter`` entries marked on save and rebuilt as Parameters on load.

``ember.io`` sits below ``nn`` and takes the Parameter class from its caller; this module is that
caller for the public functions.
"""
from .io import checkpoint
from .nn.parameter import Parameter


def save(obj, path):
    """Write ``obj`` (tensors, dicts, lists, tuples, JSON-able values; no pickle) to ``path``
    atomically, through symlinks, keeping an existing file's permissions."""
    checkpoint.save(obj, path, parameter_type=Parameter)


def load(path):
    """Read a checkpoint written by ``save`` or any safetensors file (a flat ``state_dict``);
    a missing, non-regular or malformed file raises ``ember.io.CheckpointError``."""
    return checkpoint.load(path, parameter_type=Parameter)
