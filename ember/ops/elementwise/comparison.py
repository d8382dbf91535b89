"""Comparisons, logical ops and predicates (isnan, isclose, ...): results that record no graph."""
import numpy as np

from ..._dtype import is_floating, scalar_type_name
from ...tensor import Tensor
from .._broadcast import mismatch_error
from ._operands import (_shape_error, _tensor_input, _tensors_only, _unrecorded_binary,
                        recorded_without_derivative)

# greater, greater_equal, less and less_equal are Tensor methods only (not top-level in ember).
__all__ = ["allclose", "eq", "equal", "ge", "gt", "heaviside", "isclose", "isfinite", "isinf",
           "isnan", "isneginf", "isposinf", "isreal", "le", "logical_and", "logical_not",
           "logical_or", "logical_xor", "lt", "ne", "not_equal", "signbit"]


def _compare(ufunc, name, number_other=True, ordering=False):
    return _unrecorded_binary(
        ufunc, name, f"Elementwise ``{name}``, returning a bool tensor (not differentiable).",
        number_other=number_other, ordering=ordering)


eq = _compare(np.equal, "eq")
ne = _compare(np.not_equal, "ne")
# Ordering has no meaning for complex numbers: PyTorch has no complex kernel for these four.
lt = _compare(np.less, "lt", ordering=True)
le = _compare(np.less_equal, "le", ordering=True)
gt = _compare(np.greater, "gt", ordering=True)
ge = _compare(np.greater_equal, "ge", ordering=True)
greater, greater_equal, less, less_equal, not_equal = gt, ge, lt, le, ne
logical_and = _compare(np.logical_and, "logical_and", number_other=False)
logical_or = _compare(np.logical_or, "logical_or", number_other=False)
logical_xor = _compare(np.logical_xor, "logical_xor", number_other=False)


def logical_not(input):
    return Tensor._result(np.logical_not(_tensor_input("logical_not", input)))


def isnan(input):
    return Tensor._result(np.isnan(_tensor_input("isnan", input)))


def isinf(input):
    return Tensor._result(np.isinf(_tensor_input("isinf", input)))


def isfinite(input):
    return Tensor._result(np.isfinite(_tensor_input("isfinite", input)))


def isposinf(input):
    data = _tensor_input("isposinf", input)
    return Tensor._result(np.isposinf(data) if is_floating(data.dtype)
                          else np.zeros(data.shape, np.bool_))


def isneginf(input):
    data = _tensor_input("isneginf", input)
    return Tensor._result(np.isneginf(data) if is_floating(data.dtype)
                          else np.zeros(data.shape, np.bool_))


def isreal(input):
    data = _tensor_input("isreal", input)
    if data.dtype.kind == "c":
        return Tensor._result(np.asarray(data.imag == 0))
    return Tensor._result(np.ones(data.shape, np.bool_))


def signbit(input):
    data = _tensor_input("signbit", input)
    return Tensor._result(np.signbit(data) if is_floating(data.dtype)
                          else np.asarray(data < 0))


def heaviside(input, values):
    """The step function: 0 below zero, 1 above, ``values`` at zero (not differentiable)."""
    _tensors_only("aten::heaviside", input, values)
    if values._data.dtype != input._data.dtype:
        raise RuntimeError("heaviside is not yet implemented for tensors with different dtypes")
    if input._data.dtype.kind == "c":
        raise RuntimeError("heaviside is not yet implemented for complex tensors.")
    data = input._data
    try:
        out = np.where(data == 0, values._data, (data > 0).astype(data.dtype))
    except ValueError as error:
        raise _shape_error(error, input, values) from None
    result = Tensor._result(np.asarray(out).astype(data.dtype, copy=False))
    return recorded_without_derivative(result, "aten::heaviside", input, values)


def equal(input, other):
    """True when both have the same shape and elements (of any dtypes)."""
    _tensors_only("equal", input, other)
    return input._data.shape == other._data.shape and bool(np.array_equal(input._data, other._data))


def _close(operation, input, other, rtol, atol, equal_nan):
    """|input - other| <= atol + rtol * |other| elementwise, after PyTorch's checks: two tensors
    of one dtype whose shapes broadcast, and non-negative float tolerances."""
    _tensors_only(operation, input, other)
    for name, value in (("rtol", rtol), ("atol", atol)):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError(f"{operation}(): argument '{name}' must be float, not "
                            f"{type(value).__name__}")
        if value < 0:
            raise RuntimeError(f"{name} must be greater than or equal to zero, but got {value}")
    if input._data.dtype != other._data.dtype:
        raise RuntimeError(f"{scalar_type_name(input._data.dtype)} did not match "
                           f"{scalar_type_name(other._data.dtype)}")
    mismatch = mismatch_error(input._data.shape, other._data.shape)
    if mismatch is not None:
        raise mismatch
    return np.isclose(input._data, other._data, rtol=rtol, atol=atol, equal_nan=equal_nan)


def allclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    return bool(np.all(_close("allclose", input, other, rtol, atol, equal_nan)))


def isclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    return Tensor._result(np.asarray(_close("isclose", input, other, rtol, atol, equal_nan)))
