"""Bitwise and integer ops on integer or bool tensors: and, or, xor, not, shifts, gcd, lcm (not
differentiable)."""
import numpy as np

from ...tensor import Tensor
from ._operands import _not_implemented, _not_tensor, _unrecorded_binary

__all__ = ["bitwise_and", "bitwise_left_shift", "bitwise_not", "bitwise_or", "bitwise_right_shift",
           "bitwise_xor", "gcd", "lcm"]


# PyTorch's CPU kernel names, as its errors print them; shifts, gcd and lcm refuse bool too.
_KERNELS = {"bitwise_left_shift": "lshift_cpu", "bitwise_right_shift": "rshift_cpu",
            "gcd": "gcd_cpu", "lcm": "lcm_cpu"}


def _check_integral(dtype, name):
    """Integer (or, for and/or/xor/not, bool) operands only; dtype is the promoted one."""
    if dtype.kind not in "biu" or dtype.kind == "b" and name in _KERNELS:
        raise _not_implemented(_KERNELS.get(name, f"{name}_cpu"), dtype)


def _bitwise(ufunc, name, number_input=True):
    return _unrecorded_binary(ufunc, name, f"Elementwise ``{name}`` of integer or bool tensors.",
                              _check_integral, number_input=number_input,
                              number_other=number_input)


bitwise_and = _bitwise(np.bitwise_and, "bitwise_and")
bitwise_or = _bitwise(np.bitwise_or, "bitwise_or")
bitwise_xor = _bitwise(np.bitwise_xor, "bitwise_xor")
bitwise_left_shift = _bitwise(np.left_shift, "bitwise_left_shift")
bitwise_right_shift = _bitwise(np.right_shift, "bitwise_right_shift")
gcd = _bitwise(np.gcd, "gcd", number_input=False)
lcm = _bitwise(np.lcm, "lcm", number_input=False)


def bitwise_not(input):
    if not isinstance(input, Tensor):
        raise _not_tensor("bitwise_not", input)
    if input._data.dtype.kind == "f":
        raise _not_implemented("bitwise_not_cpu", input._data.dtype)
    return Tensor._result(np.invert(input._data))
