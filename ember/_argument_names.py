"""NumPy's argument names on ember's functions, as PyTorch's argument parser accepts them:
``x.sum(axis=-1, keepdims=True)`` is ``x.sum(dim=-1, keepdim=True)``. A module of its own,
outside the op packages, so that the wrapper is never mistaken for an op (vmap's messages name
the op a frame below it)."""
import functools
import inspect

_NUMPY_NAMES = {"axis": "dim", "keepdims": "keepdim"}


def _accepting_numpy_names(function):
    """``function`` that also takes ``axis`` for ``dim`` and ``keepdims`` for ``keepdim``."""
    @functools.wraps(function)
    def accepting(*args, **kwargs):
        if "axis" in kwargs or "keepdims" in kwargs:
            for numpy_name, name in _NUMPY_NAMES.items():
                if numpy_name not in kwargs:
                    continue
                if name in kwargs:
                    raise TypeError(f"{function.__name__}() got multiple values for argument "
                                    f"'{name}'")
                kwargs[name] = kwargs.pop(numpy_name)
        return function(*args, **kwargs)
    return accepting


def accept_numpy_names(namespace, names):
    """Rebind each of ``names`` in ``namespace`` (a module's globals) that has a ``dim`` or
    ``keepdim`` parameter (and no ``axis`` of its own) to also accept NumPy's names."""
    for name in names:
        parameters = inspect.signature(namespace[name]).parameters
        if ("dim" in parameters or "keepdim" in parameters) and "axis" not in parameters:
            namespace[name] = _accepting_numpy_names(namespace[name])
