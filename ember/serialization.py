"""``ember.save`` and ``ember.load`` (torch.serialization's place), with torch's signatures:
checkpoints from ``ember.io``, with ``nn.Parameter`` entries marked on save and rebuilt as
Parameters on load.

``ember.io`` sits below ``nn`` and takes the Parameter class from its caller; this module is that
caller for the public functions. ``add_safe_globals``, ``safe_globals``, ``get_safe_globals`` and
``clear_safe_globals`` are torch.serialization's allowlist for torch.save files.
"""
import warnings

from .io import checkpoint
from .io.torch_files import (add_safe_globals, clear_safe_globals, get_safe_globals,  # noqa: F401
                             safe_globals)
from .nn.modules.module import Module
from .nn.parameter import Parameter


def save(obj, f, pickle_module=None, pickle_protocol=2, _use_new_zipfile_serialization=True,
         _disable_byteorder_record=False):
    """Write ``obj`` (tensors, NumPy arrays and plain Python values in dicts, lists, tuples and
    sets) to ``f``, a path (atomically, through symlinks, keeping the file's permissions) or a
    binary file object. ember writes safetensors, never a pickle: the pickle arguments of
    torch.save are accepted and have no effect. A whole module (``torch.save(model)``) is stored
    as its class's import path and its attributes; ``load(..., weights_only=False)`` rebuilds it,
    as torch.load does."""
    checkpoint.save(obj, f, parameter_type=Parameter, module_type=Module)


def load(f, map_location=None, pickle_module=None, *, weights_only=None, mmap=None,
         **pickle_load_args):
    """Read a checkpoint from ``f`` (a path or a seekable binary file object): one written by
    ``save``, any safetensors file, or a torch.save file, whose pickle is read by a restricted
    unpickler that rebuilds only tensors and plain values and never runs code, whatever
    ``weights_only`` says; whole modules saved by ``save`` are rebuilt only with
    ``weights_only=False`` (their classes are imported by name, never called: the module is made
    without __init__ and given its saved attributes), as torch.load requires.
    ``map_location`` is torch.load's (only the CPU exists here). A missing, non-regular or
    malformed file raises ``ember.io.CheckpointError``."""
    if weights_only and pickle_module is not None:
        raise RuntimeError("Can not safely load weights when explicit pickle_module is specified")
    unexpected = set(pickle_load_args) - {"encoding"}
    if unexpected:
        raise TypeError(f"load() got an unexpected keyword argument '{sorted(unexpected)[0]}'")
    if pickle_load_args and (weights_only or (weights_only is None and pickle_module is None)):
        warnings.warn("pickle_load_args only works if `weights_only=False`.", stacklevel=2)
    encoding = pickle_load_args.get("encoding", "utf-8")
    if not isinstance(encoding, str):
        raise TypeError(f"load(): encoding must be a str, got {type(encoding).__name__}")
    return checkpoint.load(f, parameter_type=Parameter, map_location=map_location,
                           memory_map=bool(mmap), encoding=encoding,
                           module_type=Module if weights_only is False else None,
                           weights_only=weights_only is not False)
