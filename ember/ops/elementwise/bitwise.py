"""Bitwise and integer ops on integer or bool tensors: and, or, xor, not, shifts, gcd, lcm (not
differentiable)."""
import numpy as np

from ..._dtype import scalar_type_name
from ...tensor import Tensor
from ._operands import _unrecorded_binary

__all__ = ["bitwise_and", "bitwise_left_shift", "bitwise_not", "bitwise_or", "bitwise_right_shift",
           "bitwise_xor", "gcd", "lcm"]


def _check_integral(operand, name):
    dtype = np.asarray(operand).dtype
    if dtype.kind not in "biu":
        raise NotImplementedError(f'"{name}_cpu" not implemented for '
                                  f"'{scalar_type_name(dtype)}'")


def _bitwise(ufunc, name):
    return _unrecorded_binary(ufunc, name, f"Elementwise ``{name}`` of integer or bool tensors.",
                              _check_integral)


bitwise_and = _bitwise(np.bitwise_and, "bitwise_and")
bitwise_or = _bitwise(np.bitwise_or, "bitwise_or")
bitwise_xor = _bitwise(np.bitwise_xor, "bitwise_xor")
bitwise_left_shift = _bitwise(np.left_shift, "bitwise_left_shift")
bitwise_right_shift = _bitwise(np.right_shift, "bitwise_right_shift")
gcd = _bitwise(np.gcd, "gcd")
lcm = _bitwise(np.lcm, "lcm")


def bitwise_not(input):
    if input._data.dtype.kind == "f":
        raise RuntimeError("\"bitwise_not_cpu\" not implemented for 'Float'")
    return Tensor._result(np.invert(input._data))
