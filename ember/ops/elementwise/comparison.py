"""Comparisons, logical ops and predicates (isnan, isclose, ...): results that record no graph."""
import numpy as np

from ...tensor import Tensor
from ._operands import _raw, _unrecorded_binary

# greater, greater_equal, less and less_equal are Tensor methods only (not top-level in ember).
__all__ = ["allclose", "eq", "equal", "ge", "gt", "heaviside", "isclose", "isfinite", "isinf",
           "isnan", "isneginf", "isposinf", "isreal", "le", "logical_and", "logical_not",
           "logical_or", "logical_xor", "lt", "ne", "not_equal", "signbit"]


def _compare(ufunc, name):
    return _unrecorded_binary(
        ufunc, name, f"Elementwise ``{name}``, returning a bool tensor (not differentiable).")


eq = _compare(np.equal, "eq")
ne = _compare(np.not_equal, "ne")
lt = _compare(np.less, "lt")
le = _compare(np.less_equal, "le")
gt = _compare(np.greater, "gt")
ge = _compare(np.greater_equal, "ge")
greater, greater_equal, less, less_equal, not_equal = gt, ge, lt, le, ne
logical_and = _compare(np.logical_and, "logical_and")
logical_or = _compare(np.logical_or, "logical_or")
logical_xor = _compare(np.logical_xor, "logical_xor")


def logical_not(input):
    return Tensor._result(np.logical_not(input._data))


def isnan(input):
    return Tensor._result(np.isnan(input._data))


def isinf(input):
    return Tensor._result(np.isinf(input._data))


def isfinite(input):
    return Tensor._result(np.isfinite(input._data))


def isposinf(input):
    return Tensor._result(np.isposinf(input._data) if input._data.dtype.kind == "f"
                          else np.zeros(input._data.shape, np.bool_))


def isneginf(input):
    return Tensor._result(np.isneginf(input._data) if input._data.dtype.kind == "f"
                          else np.zeros(input._data.shape, np.bool_))


def isreal(input):
    return Tensor._result(np.ones(input._data.shape, np.bool_))


def signbit(input):
    return Tensor._result(np.signbit(input._data))


def heaviside(input, values):
    """The step function: 0 below zero, 1 above, ``values`` at zero (not differentiable)."""
    if not isinstance(values, Tensor):
        raise TypeError(f"heaviside(): argument 'values' (position 2) must be Tensor, not "
                        f"{type(values).__name__}")
    if values._data.dtype != input._data.dtype:
        raise RuntimeError("heaviside is not yet implemented for tensors with different dtypes")
    data = input._data
    return Tensor._result(np.asarray(np.where(data == 0, values._data, (data > 0).astype(
        data.dtype))).astype(data.dtype, copy=False))


def equal(input, other):
    """True when both have the same shape and elements."""
    return input._data.shape == other._data.shape and bool(np.array_equal(input._data, other._data))


def allclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    return bool(np.allclose(input._data, other._data, rtol=rtol, atol=atol, equal_nan=equal_nan))


def isclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    return Tensor._result(np.isclose(input._data, _raw(other), rtol=rtol, atol=atol,
                                   equal_nan=equal_nan))
