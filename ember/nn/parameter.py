"""Parameter: a Tensor that a Module registers as learnable when assigned as an attribute."""
import numpy as np

from .._dtype import get_default_dtype
from ..tensor import Tensor, _init


class Parameter(Tensor):
    """A leaf tensor that requires grad by default and shares the storage of the tensor it wraps."""

    __slots__ = ()

    def __init__(self, data=None, requires_grad=True):
        if data is None:
            array = np.empty((0,), dtype=get_default_dtype().numpy)
        elif isinstance(data, Tensor):
            array = data._data
        else:
            raise TypeError(f"Parameter: expected an ember.Tensor or None as data, got "
                            f"{type(data).__name__}")
        _init(self, array)
        if requires_grad:
            self.requires_grad_(True)

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()
