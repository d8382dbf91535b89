"""``Variable``, PyTorch's pre-0.4 wrapper that old scripts still import: since tensors carry
autograd themselves, ``Variable(t)`` is ``t`` detached (sharing its data) and every tensor is a
Variable."""
import warnings

from ..tensor import Tensor

__all__ = ["Variable"]


class VariableMeta(type):
    """Makes ``isinstance(tensor, Variable)`` true for every tensor, as in PyTorch."""

    def __instancecheck__(cls, instance):
        return isinstance(instance, Tensor)


class Variable(metaclass=VariableMeta):
    """``Variable(data, requires_grad=False, volatile=False)``: a new leaf sharing ``data``'s
    values, requiring grad as asked; ``volatile`` only warns (``no_grad`` replaced it)."""

    def __new__(cls, data=None, requires_grad=False, volatile=False):
        if data is None:
            return Tensor()
        if not isinstance(data, Tensor):
            raise TypeError(f"Variable data has to be a tensor, but got {type(data).__name__}")
        if volatile:
            warnings.warn("volatile was removed and now has no effect. Use `with torch.no_grad():` "
                          "instead.", UserWarning, stacklevel=2)
        return data.detach().requires_grad_(requires_grad)
