"""PyTorch's ``torch._foreach_*`` functions (custom optimizers and EMA updates call them): each
op applied to every tensor of a list, with a number, a list of numbers, one tensor or a list of
tensors as the other operand. The ``_`` forms work in place and return the list they were given;
the others return a tuple and are differentiable, being ember's ops tensor by tensor."""
import numbers

from . import ops
from .tensor import Tensor

_UNARY = ("abs", "acos", "asin", "atan", "ceil", "cos", "cosh", "erf", "erfc", "exp", "expm1",
          "floor", "frac", "lgamma", "log", "log10", "log1p", "log2", "neg", "reciprocal",
          "round", "rsqrt", "sigmoid", "sign", "sin", "sinh", "sqrt", "tan", "tanh", "trunc")
_BINARY = ("add", "sub", "mul", "div", "maximum", "minimum", "clamp_min", "clamp_max", "pow")


def _tensor_list(tensors, name):
    if isinstance(tensors, Tensor) or not isinstance(tensors, (list, tuple)):
        raise TypeError(f"{name}(): argument 'self' must be tuple of Tensors, not "
                        f"{type(tensors).__name__}")
    if not tensors:
        raise RuntimeError("Tensor list must have at least one tensor.")
    return tensors


def _others(tensors, other, name):
    """``other`` as one operand per tensor: a number or one tensor repeated, or the list."""
    if isinstance(other, (numbers.Number, Tensor)):
        return [other] * len(tensors)
    if not isinstance(other, (list, tuple)):
        raise TypeError(f"{name}(): expected a number, a Tensor or a list of either as the "
                        f"other operand, got {type(other).__name__}")
    if len(other) != len(tensors):
        if other and isinstance(other[0], Tensor):
            raise RuntimeError(f"Tensor lists must have the same number of tensors, got "
                               f"{len(tensors)} and {len(other)}")
        raise RuntimeError("Tensor list must have same number of elements as scalar list.")
    return list(other)


def _out_of_place(op):
    def function(self, other, **kwargs):
        name = f"_foreach_{op.__name__}"
        tensors = _tensor_list(self, name)
        return tuple(op(tensor, value, **kwargs)
                     for tensor, value in zip(tensors, _others(tensors, other, name)))
    return function


def _in_place(op):
    method_name = op.__name__ + "_"

    def function(self, other, **kwargs):
        name = f"_foreach_{method_name}"
        tensors = _tensor_list(self, name)
        for tensor, value in zip(tensors, _others(tensors, other, name)):
            method = getattr(tensor, method_name, None)
            if method is None:  # maximum and minimum have no in-place method
                tensor.copy_(op(tensor, value, **kwargs))
            else:
                method(value, **kwargs)
        return self
    return function


def _unary(name):
    op = getattr(ops, name)

    def out_of_place(self):
        return tuple(op(tensor) for tensor in _tensor_list(self, f"_foreach_{name}"))

    def in_place(self):
        for tensor in _tensor_list(self, f"_foreach_{name}_"):
            getattr(tensor, name + "_")()
        return self

    return out_of_place, in_place


def _named(function, name):
    function.__name__ = function.__qualname__ = name
    return function


__all__ = []
for _name in _UNARY:
    _forms = _unary(_name)
    globals()[f"_foreach_{_name}"] = _named(_forms[0], f"_foreach_{_name}")
    globals()[f"_foreach_{_name}_"] = _named(_forms[1], f"_foreach_{_name}_")
    __all__ += [f"_foreach_{_name}", f"_foreach_{_name}_"]
for _name in _BINARY:
    globals()[f"_foreach_{_name}"] = _named(_out_of_place(getattr(ops, _name)),
                                            f"_foreach_{_name}")
    globals()[f"_foreach_{_name}_"] = _named(_in_place(getattr(ops, _name)),
                                             f"_foreach_{_name}_")
    __all__ += [f"_foreach_{_name}", f"_foreach_{_name}_"]


def _foreach_pow(self, exponent):
    """Each tensor to a power (or, with a number first, that number to each tensor's power)."""
    if isinstance(self, numbers.Number):
        return tuple(ops.pow(self, tensor) for tensor in _tensor_list(exponent, "_foreach_pow"))
    tensors = _tensor_list(self, "_foreach_pow")
    return tuple(ops.pow(tensor, value)
                 for tensor, value in zip(tensors, _others(tensors, exponent, "_foreach_pow")))


def _ternary(op, method):
    """The out-of-place and in-place list forms of addcmul/addcdiv."""
    name = f"_foreach_{op.__name__}"

    def operands(tensors, tensor1, tensor2, value, label):
        return zip(tensors, _others(tensors, tensor1, label), _others(tensors, tensor2, label),
                   _scalars(tensors, value, label))

    def out_of_place(self, tensor1, tensor2, value=1):
        tensors = _tensor_list(self, name)
        return tuple(op(tensor, first, second, value=scale) for tensor, first, second, scale
                     in operands(tensors, tensor1, tensor2, value, name))

    def in_place(self, tensor1, tensor2, value=1):
        tensors = _tensor_list(self, name + "_")
        for tensor, first, second, scale in operands(tensors, tensor1, tensor2, value,
                                                     name + "_"):
            getattr(tensor, method)(first, second, value=scale)
        return self

    return _named(out_of_place, name), _named(in_place, name + "_")


_foreach_addcmul, _foreach_addcmul_ = _ternary(ops.addcmul, "addcmul_")
_foreach_addcdiv, _foreach_addcdiv_ = _ternary(ops.addcdiv, "addcdiv_")


def _scalars(tensors, value, name):
    """addcmul's and addcdiv's ``value``: a number, a list of numbers, or a 1-D tensor of them."""
    if isinstance(value, Tensor):
        value = value.tolist() if value.ndim else value.item()
    return _others(tensors, value, name)


def _foreach_lerp(self, tensors1, weight):
    tensors = _tensor_list(self, "_foreach_lerp")
    return tuple(ops.lerp(tensor, end, scale) for tensor, end, scale in
                 zip(tensors, _others(tensors, tensors1, "_foreach_lerp"),
                     _others(tensors, weight, "_foreach_lerp")))


def _foreach_lerp_(self, tensors1, weight):
    tensors = _tensor_list(self, "_foreach_lerp_")
    for tensor, end, scale in zip(tensors, _others(tensors, tensors1, "_foreach_lerp_"),
                                  _others(tensors, weight, "_foreach_lerp_")):
        tensor.lerp_(end, scale)
    return self


def _foreach_norm(self, ord=2, dtype=None):
    """Each tensor's vector norm (a 0-d tensor)."""
    return tuple(ops.linalg.vector_norm(tensor, ord, dtype=dtype)
                 for tensor in _tensor_list(self, "_foreach_norm"))


def _foreach_max(self):
    return tuple(ops.amax(tensor) for tensor in _tensor_list(self, "_foreach_max"))


def _foreach_clone(self):
    return tuple(tensor.clone() for tensor in _tensor_list(self, "_foreach_clone"))


def _foreach_zero_(self):
    for tensor in _tensor_list(self, "_foreach_zero_"):
        tensor.zero_()
    return self


def _foreach_copy_(self, src, non_blocking=False):
    tensors = _tensor_list(self, "_foreach_copy_")
    for tensor, source in zip(tensors, _others(tensors, src, "_foreach_copy_")):
        tensor.copy_(source)
    return self


__all__ += ["_foreach_addcdiv", "_foreach_addcdiv_", "_foreach_addcmul", "_foreach_addcmul_",
            "_foreach_clone", "_foreach_copy_", "_foreach_lerp", "_foreach_lerp_",
            "_foreach_max", "_foreach_norm", "_foreach_zero_"]
