"""``torch.fx``: only what libraries touch at import time. ``wrap`` (timm) keeps a function whole
in symbolic traces: ember traces nothing, so it checks its argument and place as PyTorch does
and returns it. ``GraphModule`` (Lightning's annotations, isinstance checks) is a module class
that no model is an instance of. The rest of torch.fx is not provided."""
import inspect

__all__ = ["GraphModule", "wrap"]

_graph_module = []  # the GraphModule class, made on first use (nn stands above this module)


def __getattr__(name):
    if name != "GraphModule":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    if not _graph_module:
        from .nn import Module  # nn stands above this module

        def __init__(self, root, graph, class_name="GraphModule"):
            raise NotImplementedError("torch.fx.GraphModule: ember has no torch.fx graphs "
                                      "(symbolic_trace is not provided)")

        _graph_module.append(type("GraphModule", (Module,), {
            "__module__": __name__, "__qualname__": "GraphModule", "__init__": __init__,
            "__doc__": "The result of a symbolic trace, which ember never produces."}))
    return _graph_module[0]


def wrap(fn_or_name):
    """Mark a module-level function (or its name) as a leaf of symbolic tracing; returns it."""
    if not callable(fn_or_name) and not isinstance(fn_or_name, str):
        raise RuntimeError("Unsupported type for global function! Must be either a callable or "
                           "string name")
    caller = inspect.currentframe().f_back
    if caller.f_code.co_name != "<module>":
        raise NotImplementedError("wrap must be called at the top level of a module")
    return fn_or_name
