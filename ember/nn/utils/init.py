"""torch.nn.utils.skip_init: make a module without running its parameter initialisation."""
import inspect

from ..._random import get_rng_state, set_rng_state
from ..modules.module import Module

__all__ = ["skip_init"]


def skip_init(module_cls, *args, **kwargs):
    """``module_cls(*args, **kwargs)`` for a module class that takes a ``device`` argument, as
    PyTorch requires. PyTorch leaves the parameters uninitialised (built on the meta device);
    ember has no meta device and gives them their usual initial values, which a program that
    skips initialisation overwrites anyway, drawn without advancing the random state (PyTorch
    draws nothing, so the program's later draws are the same)."""
    if not (isinstance(module_cls, type) and issubclass(module_cls, Module)):
        raise RuntimeError(f"Expected a Module; got {module_cls}")
    if "device" not in inspect.signature(module_cls).parameters:
        raise RuntimeError("Module must support a 'device' arg to skip initialization")
    kwargs["device"] = kwargs.pop("device", "cpu")
    state = get_rng_state()
    try:
        return module_cls(*args, **kwargs)
    finally:
        set_rng_state(state)
