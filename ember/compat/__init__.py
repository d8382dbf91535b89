"""Run PyTorch code on ember unchanged: ``import torch`` (and ``torchvision``) resolved to ember.

``install()`` puts a finder first on ``sys.meta_path`` for this process; ``uninstall()`` takes it
away and puts ``sys.modules`` back as it was. ``ember run script.py`` does both around a script.
A real PyTorch is never shadowed unless asked (``install(force=True)``).
"""
import importlib.util
import sys

from .._dtype import set_repr_prefix
from ._aliases import TOP_LEVEL, TorchFinder, loaded_alias_names, restore_class_modules

__all__ = ["install", "is_installed", "uninstall"]

_finder = None
_saved_modules = {}


def is_installed():
    """Whether ``import torch`` resolves to ember in this process."""
    return _finder is not None


def _real_module(name):
    """Where a real ``name`` (torch or torchvision) is imported or importable from, else None."""
    module = sys.modules.get(name)
    if module is not None:
        return getattr(module, "__file__", None) or name
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    return None if spec is None else (spec.origin or name)


def install(force=False):
    """Resolve ``import torch``, ``torch.*``, ``torchvision`` and ``torchvision.*`` to ember in
    this process. A real torch (or torchvision) that is importable or imported is a
    RuntimeError unless ``force=True``, which hides it until ``uninstall()``. Installing twice
    does nothing."""
    global _finder
    if _finder is not None:
        return
    if not force:
        for name in TOP_LEVEL:
            found = _real_module(name)
            if found is not None:
                raise RuntimeError(
                    f"ember.compat.install(): a real {name} is importable ({found}); "
                    f"ember.compat.install(force=True) resolves 'import {name}' to ember "
                    f"anyway (in this process only, until ember.compat.uninstall())")
    _saved_modules.clear()
    for name in loaded_alias_names():
        _saved_modules[name] = sys.modules.pop(name)
    _finder = TorchFinder()
    sys.meta_path.insert(0, _finder)
    set_repr_prefix("torch")


def uninstall():
    """Undo ``install()``: the finder leaves ``sys.meta_path``, the torch names imported since
    leave ``sys.modules`` and whatever those names held before comes back. Without an install,
    nothing happens."""
    global _finder
    if _finder is None:
        return
    if _finder in sys.meta_path:
        sys.meta_path.remove(_finder)
    _finder = None
    set_repr_prefix("ember")
    restore_class_modules()
    for name in loaded_alias_names():
        del sys.modules[name]
    sys.modules.update(_saved_modules)
    _saved_modules.clear()
