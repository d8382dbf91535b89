"""PyTorch-style aliases: ``ember.utils.data`` is ``ember.data``; ``ember.utils.checkpoint`` is
activation checkpointing (torch.utils.checkpoint)."""
from . import benchmark, checkpoint, data  # noqa: F401
import weakref as _weakref  # noqa: E402

from ..tensor import _STATE as _TENSOR_STATE, Tensor as _Tensor  # noqa: E402

__all__ = ["set_module", "swap_tensors"]


def set_module(obj, mod):
    """Give ``obj`` the ``__module__`` ``mod`` (where its public name lives)."""
    if not isinstance(mod, str):
        raise TypeError("The mod argument should be a string")
    obj.__module__ = mod


def swap_tensors(t1, t2):
    """Swap everything two tensors hold, their type and attributes included, so each Python
    object now is the other tensor (``module._apply`` with swapping does this)."""
    for name, tensor in (("t1", t1), ("t2", t2)):
        if not isinstance(tensor, _Tensor):
            raise AttributeError(f"'{type(tensor).__name__}' object has no attribute "
                                 f"'_use_count'")
        if _weakref.getweakrefcount(tensor):
            raise RuntimeError(f"Cannot swap {name} because it has weakref associated with it")
    first_type, second_type = type(t1), type(t2)
    first_dict, second_dict = getattr(t1, "__dict__", {}), getattr(t2, "__dict__", {})
    states = [[getattr(tensor, name) for name in _TENSOR_STATE] for tensor in (t1, t2)]
    t1.__class__, t2.__class__ = second_type, first_type
    for tensor, state, attributes in ((t1, states[1], second_dict), (t2, states[0], first_dict)):
        for name, value in zip(_TENSOR_STATE, state):
            object.__setattr__(tensor, name, value)
        tensor.__dict__ = dict(attributes)
