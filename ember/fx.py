"""``torch.fx``: only ``wrap``, which libraries (timm) apply at import time to keep a function
whole in symbolic traces. ember traces nothing, so ``wrap`` checks its argument and place as
PyTorch does and returns it; the rest of torch.fx is not provided."""
import inspect

__all__ = ["wrap"]


def wrap(fn_or_name):
    """Mark a module-level function (or its name) as a leaf of symbolic tracing; returns it."""
    if not callable(fn_or_name) and not isinstance(fn_or_name, str):
        raise RuntimeError("Unsupported type for global function! Must be either a callable or "
                           "string name")
    caller = inspect.currentframe().f_back
    if caller.f_code.co_name != "<module>":
        raise NotImplementedError("wrap must be called at the top level of a module")
    return fn_or_name
