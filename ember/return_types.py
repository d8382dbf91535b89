"""``torch.return_types``: the named result tuples of max, sort, topk, svd, ... by their
PyTorch names, for ``isinstance`` checks (``ember.return_types.max``)."""
from .ops._return_types import _RETURN_TYPES


def __getattr__(name):
    try:
        return _RETURN_TYPES[name]
    except KeyError:
        raise AttributeError(f"module 'ember.return_types' has no attribute {name!r}") from None


def __dir__():
    return sorted(_RETURN_TYPES)
