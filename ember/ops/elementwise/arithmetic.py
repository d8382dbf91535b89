"""Arithmetic: add, sub, mul, div, floor_divide, remainder, fmod, pow, neg, abs, sign and the
composites built on them (square, reciprocal, addcmul, addcdiv, lerp, ...)."""
import builtins

import math
import warnings

import numpy as np

from ... import _halfcast, _jit, _threads
from ..._dtype import (
    cpp_type_name, from_numpy_dtype, get_default_dtype, is_floating, overflow_error,
    scalar_overflows, scalar_type_name, _repr_prefix)
from ..._layout import LayoutStorage, unary_layout
from ...autograd.function import NOT_IMPLEMENTED, Op, torch_named
from ...tensor import Tensor
from .._return_types import _Frexp
from .complex import conj_of
from ._operands import (
    _Binary, _binary_math, _cast, _floating, _floating_pair, _grad_for, _log, _not_implemented,
    _not_tensor, _OfOutput, _operands, _plain_binary, _promote, _promote_unrounded,
    _PYTHON_NUMBERS, _quietly, _reduced_result, _result_dtype, _shape_dtype, _shape_error,
    _tensors_only, _to_operand, _unary, _widened)

__all__ = ["abs", "absolute", "add", "angle", "addcdiv", "addcmul", "copysign", "div", "divide",
           "float_power", "floor_divide", "fmod", "frexp", "ldexp", "lerp", "mul", "multiply",
           "neg", "negative", "nextafter", "positive", "pow", "reciprocal", "remainder", "sgn", "sign", "square",
           "sub", "subtract", "true_divide"]


class Add(_Binary):
    differentiable_backward = True

    @staticmethod
    def forward(ctx, a, b):
        _Binary._remember(ctx, a, b)
        a, b = _promote(a, b)
        if type(a) is np.ndarray:
            if a.dtype.itemsize == 2:
                return _half_binary(np.add, a, b)
            if a.size >= _threads.ELEMENT_GRAIN:
                return _threads.binary(np.add, a, b)
        elif type(b) is np.ndarray and b.dtype.itemsize == 2:
            return _half_binary(np.add, a, b)
        return np.add(a, b)

    @staticmethod
    def backward(ctx, grad):
        needs_a, needs_b = ctx.needs_input_grad
        return (_grad_for(grad, *ctx.a_meta) if needs_a else None,
                _grad_for(grad, *ctx.b_meta) if needs_b else None)


class AddScaled(_Binary):
    """a + alpha * b for two float32 tensors with one rounding, as PyTorch's CPU add/sub with
    alpha (a fused multiply-add): the float32 product is exact in float64, the sum rounded
    once. Other dtypes go through mul and add."""

    differentiable_backward = True

    @staticmethod
    def forward(ctx, a, b, alpha):
        _Binary._remember(ctx, a, b)
        ctx.alpha = alpha
        return fused_add_scaled(a, b, alpha)

    @staticmethod
    def backward(ctx, grad):
        needs_a, needs_b = ctx.needs_input_grad[:2]
        return (_grad_for(grad, *ctx.a_meta) if needs_a else None,
                _grad_for(grad * ctx.alpha, *ctx.b_meta) if needs_b else None, None)


def fused_add_scaled(a, b, alpha, out=None):
    """a + alpha * b (float32 arrays, alpha rounded to float32) rounded once, into ``out`` if
    given (which may be ``a``): one compiled pass where the arrays are alike and contiguous,
    else NumPy in float64; the same values either way."""
    scale = np.float64(np.float32(alpha))
    if (type(a) is np.ndarray and type(b) is np.ndarray and a.shape == b.shape
            and a.flags.c_contiguous and b.flags.c_contiguous
            and (out is None or out.flags.c_contiguous and out.shape == a.shape)):
        if out is a:  # in place: the kernel that knows it (LLVM vectorises it, not the other)
            compiled = _scaled_add_float32.compiled()
            if compiled is not None:
                compiled(a.reshape(-1), b.reshape(-1), scale)
                return a
        else:
            compiled = _scaled_sum_float32.compiled()
            if compiled is not None:
                if out is None:
                    out = np.empty(a.shape, np.float32)
                compiled(out.reshape(-1), a.reshape(-1), b.reshape(-1), scale)
                return out
    product = np.multiply(b, scale, dtype=np.float64)
    total = np.add(a, product, dtype=np.float64)
    if out is None:
        return total.astype(np.float32)
    out[...] = total
    return out


@_jit.kernel
def _scaled_sum_float32(out, a, b, scale):
    # the float32 product is exact in float64: the float64 sum, then float32, as NumPy's passes
    for index in range(out.shape[0]):
        out[index] = a[index] + scale * b[index]


@_jit.kernel
def _scaled_add_float32(target, values, scale):
    # _scaled_sum_float32 into its first operand
    for index in range(target.shape[0]):
        target[index] = target[index] + scale * values[index]


def _half_binary(ufunc, a, b):
    """``ufunc(a, b)``; float16/bfloat16 arrays through ember's compiled conversions to float32
    and back (_halfcast.binary: the same values, 10-50x faster than NumPy's own loops)."""
    if type(a) is np.ndarray and a.dtype.itemsize == 2 or \
            type(b) is np.ndarray and b.dtype.itemsize == 2:
        result = _halfcast.binary(ufunc, a, b)
        if result is not None:
            return result
    return ufunc(a, b)


def _fusable(input, other):
    return (isinstance(input, Tensor) and isinstance(other, Tensor)
            and input._data.dtype == np.float32 and other._data.dtype == np.float32)


def add(input, other, alpha=1):
    try:
        if alpha == 1 and alpha is not True:  # (of the bools only True equals 1)
            out = _plain_binary(np.add, input, other)
            if out is not None:
                return out
        elif _fusable(input, other):
            _scaled(input, other, alpha, "add", check_only=True)
            return torch_named(AddScaled.apply(input, other, alpha), "AddBackward0")
        else:
            other = _scaled(input, other, alpha, "add")
        if type(input) is not Tensor or type(other) is not Tensor:
            input, other = _operands(input, other, "add")
        return Add.apply(input, other)
    except ValueError as error:
        raise _shape_error(error, input, other) from None
    except NotImplementedError:
        if isinstance(other, Tensor) and isinstance(other._data, LayoutStorage) and \
                isinstance(input, Tensor) and not isinstance(input._data, LayoutStorage):
            return other._data.dense_plus(input, other, alpha)
        raise
    except (TypeError, RuntimeError):
        # alpha, a tensor, failed its checks: PyTorch's deprecated add(Number alpha, Tensor other)?
        if scalar_first(other, alpha):
            return add(input, alpha, alpha=scalar_first_overload("add", other))
        raise


class Sub(_Binary):
    differentiable_backward = True

    @staticmethod
    def forward(ctx, a, b):
        _Binary._remember(ctx, a, b)
        if (a.dtype.kind == "b" if type(a) is np.ndarray else type(a) is bool) or \
                (b.dtype.kind == "b" if type(b) is np.ndarray else type(b) is bool):
            bools = _is_bool(a) + _is_bool(b)
            raise RuntimeError(
                "Subtraction, the `-` operator, with two bool tensors is not supported. Use the "
                "`^` or `logical_xor()` operator instead." if bools == 2 else
                "Subtraction, the `-` operator, with a bool tensor is not supported. If you are "
                "trying to invert a mask, use the `~` or `logical_not()` operator instead.")
        if type(a) is not np.ndarray:
            ctx._torch_name = "RsubBackward1"  # number - tensor
            ctx._next_order = (1,)  # which lists the tensor only
        a, b = _promote(a, b)
        if type(a) is np.ndarray:
            if a.dtype.itemsize == 2:
                return _half_binary(np.subtract, a, b)
            if a.size >= _threads.ELEMENT_GRAIN:
                return _threads.binary(np.subtract, a, b)
        elif type(b) is np.ndarray and b.dtype.itemsize == 2:
            return _half_binary(np.subtract, a, b)
        return np.subtract(a, b)

    @staticmethod
    def backward(ctx, grad):
        needs_a, needs_b = ctx.needs_input_grad
        return (_grad_for(grad, *ctx.a_meta) if needs_a else None,
                _grad_for(-grad, *ctx.b_meta) if needs_b else None)


def _is_bool(operand):
    return operand.dtype == np.bool_ if type(operand) is np.ndarray else type(operand) is bool


def sub(input, other, alpha=1):
    try:
        if alpha == 1 and alpha is not True:  # (of the bools only True equals 1)
            out = _plain_binary(np.subtract, input, other)
            if out is not None:
                return out
        elif _fusable(input, other):
            _scaled(input, other, alpha, "sub", check_only=True)
            return torch_named(AddScaled.apply(input, other, -alpha), "SubBackward0")
        else:
            other = _scaled(input, other, alpha, "sub")
        if type(input) is not Tensor or type(other) is not Tensor:
            input, other = _operands(input, other, "sub")
        return Sub.apply(input, other)
    except ValueError as error:
        raise _shape_error(error, input, other) from None
    except NotImplementedError:
        if isinstance(other, Tensor) and isinstance(other._data, LayoutStorage) and \
                isinstance(input, Tensor) and not isinstance(input._data, LayoutStorage):
            return other._data.dense_plus(input, other, -alpha)
        raise
    except (TypeError, RuntimeError):
        # alpha, a tensor, failed its checks: PyTorch's deprecated sub(Number alpha, Tensor other)?
        if scalar_first(other, alpha):
            return sub(input, alpha, alpha=scalar_first_overload("sub", other))
        raise


subtract = sub


def _scaled(input, other, alpha, operation, check_only=False):
    """alpha * other for add/sub, after PyTorch's checks of alpha (a number; not a float when
    both operands are integral); only the checks with ``check_only``."""
    if type(alpha) is bool:
        if not (_is_bool_operand(input) and _is_bool_operand(other)):
            raise RuntimeError("Boolean alpha only supported for Boolean results.")
    elif isinstance(alpha, complex):
        if not (_is_complex_operand(input) or _is_complex_operand(other)):
            raise RuntimeError("For non-complex input tensors, argument alpha must not be a "
                               "complex number.")
        return None if check_only else mul(other, alpha)
    elif not isinstance(alpha, _PYTHON_NUMBERS):
        raise TypeError(f"{operation}(): argument 'alpha' must be Number, not "
                        f"{type(alpha).__name__}")
    if isinstance(alpha, float) and not _is_floating(input) and not _is_floating(other):
        raise RuntimeError("For integral input tensors, argument alpha must not be a floating "
                           "point number.")
    return None if check_only else mul(other, alpha)


def _is_bool_operand(operand):
    return _is_bool(operand._data if isinstance(operand, Tensor) else operand)


def _is_complex_operand(operand):
    if isinstance(operand, Tensor):
        return operand._data.dtype.kind == "c"
    return isinstance(operand, complex)


def _is_floating(operand):
    if isinstance(operand, Tensor):
        return is_floating(operand._data.dtype)
    return isinstance(operand, float)


class Mul(_Binary):
    differentiable_backward = True
    _saved_names = ("other", "self")

    @staticmethod
    def forward(ctx, a, b):
        _Binary._remember(ctx, a, b)
        needs_a, needs_b = ctx.needs_input_grad
        ctx.save_for_backward(b if needs_a else None, a if needs_b else None)
        a, b = _promote_unrounded(a, b)
        if type(a) is np.ndarray:
            if a.dtype.itemsize == 2:
                return _reduced_result(_half_binary(np.multiply, a, b), a, b)
            if a.size >= _threads.ELEMENT_GRAIN:
                return _threads.binary(np.multiply, a, b)
        elif type(b) is np.ndarray and b.dtype.itemsize == 2:
            return _reduced_result(_half_binary(np.multiply, a, b), a, b)
        return _reduced_result(np.multiply(a, b), a, b)

    @staticmethod
    def backward(ctx, grad):
        b, a = ctx.saved_tensors
        needs_a, needs_b = ctx.needs_input_grad
        return (_grad_for(grad * conj_of(b), *ctx.a_meta) if needs_a else None,
                _grad_for(grad * conj_of(a), *ctx.b_meta) if needs_b else None)


def mul(input, other):
    try:
        out = _plain_binary(np.multiply, input, other)
        if out is not None:
            return out
        if type(input) is not Tensor or type(other) is not Tensor:
            input, other = _operands(input, other, "mul")
        return Mul.apply(input, other)
    except ValueError as error:
        raise _shape_error(error, input, other) from None


multiply = mul


def square(input):
    if not isinstance(input, Tensor):
        raise _not_tensor("square", input)
    if input._data.dtype == np.bool_:
        input = input.to(from_numpy_dtype(np.dtype(np.int64)))
    return torch_named(Mul.apply(input, input), "PowBackward0")


class Div(_Binary):
    differentiable_backward = True
    _saved_names = ("other", "self")

    @staticmethod
    def forward(ctx, a, b):
        _Binary._remember(ctx, a, b)
        given_a, given_b = a, b
        a, b = _promote_unrounded(a, b, False)
        if isinstance(a, np.ndarray) and a.dtype.kind in "biu" or not isinstance(
                a, np.ndarray) and isinstance(b, np.ndarray) and b.dtype.kind in "biu":
            # True division of integers gives the default float dtype.
            target = get_default_dtype().numpy
            a, b = _cast(a, target), _cast(b, target)
        elif not isinstance(a, np.ndarray) and not isinstance(b, np.ndarray):
            a = np.asarray(a, dtype=get_default_dtype().numpy)
        # A real operand made complex is saved as given: under create_graph the gradients must
        # stay linked to it (z / x with a real x that requires grad), as PyTorch's saved operands
        ctx.save_for_backward(_as_given(given_b, b),
                              _as_given(given_a, a) if ctx.needs_input_grad[1] else None)
        if _divides_quietly(b):
            return _reduced_result(_half_binary(np.true_divide, a, b), a, b)
        return _reduced_result(_quietly(_half_binary, np.true_divide, a, b), a, b)

    @staticmethod
    def backward(ctx, grad):
        return _quietly(_div_gradients, ctx, grad)


def _as_given(given, promoted):
    """The operand as given where promotion only made a real array complex, else as promoted."""
    if (type(given) is np.ndarray and given.dtype.kind == "f" and type(promoted) is np.ndarray
            and promoted.dtype.kind == "c"):
        return given
    return promoted


def _div_gradients(ctx, grad):
    """Div's backward, run quietly (x / 0 gives inf there as in the forward)."""
    b, a = ctx.saved_tensors
    needs_a, needs_b = ctx.needs_input_grad
    b_bar = conj_of(b)
    grad_a = _grad_for(grad / b_bar, *ctx.a_meta) if needs_a else None
    grad_b = _grad_for(-grad * conj_of(a) / (b_bar * b_bar), *ctx.b_meta) if needs_b else None
    return grad_a, grad_b


def div(input, other, rounding_mode=None):
    if rounding_mode is not None:
        if not isinstance(rounding_mode, str):
            raise TypeError(f"div(): argument 'rounding_mode' must be str or None, not "
                            f"{type(rounding_mode).__name__}")
        if rounding_mode not in ("floor", "trunc"):
            raise RuntimeError(f"div expected rounding_mode to be one of None, 'trunc', or "
                               f"'floor' but found '{rounding_mode}'")
        try:
            return RoundedDiv.apply(*_operands(input, other, "div"), rounding_mode)
        except ValueError as error:
            raise _shape_error(error, input, other) from None
    try:
        if _divides_quietly(other):
            out = _plain_binary(np.true_divide, input, other)
        else:
            out = _quietly(_plain_binary, np.true_divide, input, other)
        if out is not None:
            return out
        return Div.apply(*_operands(input, other, "div"))
    except ValueError as error:
        raise _shape_error(error, input, other) from None


true_divide = div
divide = div


def _divides_quietly(divisor):
    """Whether a division by ``divisor`` cannot raise NumPy's divide or invalid warnings: a
    finite non-zero number (x / 0 and inf / inf need a zero or infinite divisor), which spares
    the common ``x / scale`` an np.errstate (about a microsecond)."""
    if type(divisor) is int:
        return divisor != 0
    return type(divisor) in _FLOAT_TYPES and divisor != 0 and math.isfinite(divisor)


_FLOAT_TYPES = (float, np.float32, np.float64)


class Reciprocal(_OfOutput):
    """1 / x; saves its output, as PyTorch's (so x may change in place before backward)."""

    function = staticmethod(lambda x: np.divide(x.dtype.type(1), x))
    gradient = staticmethod(lambda xp, grad, out: -grad * (out * out))
    quiet = True


reciprocal = _unary(Reciprocal, "reciprocal")


def _rounded_quotient(a, b, rounding_mode):
    """a / b rounded down (``floor``, Python's ``//``) or toward zero (``trunc``), in the
    operands' promoted dtype; integer division by zero is PyTorch's RuntimeError."""
    a, b = _promote(a, b)
    a_kind = a.dtype.kind if type(a) is np.ndarray else np.asarray(a).dtype.kind
    b_kind = b.dtype.kind if type(b) is np.ndarray else np.asarray(b).dtype.kind
    if a_kind == "b" and b_kind == "b":
        raise _not_implemented(f"div_{rounding_mode}_cpu", np.dtype(np.bool_))
    integral = b_kind in "iu" and a_kind in "biu"
    if integral:
        # nonzero divisor: integer division neither warns nor needs the error state below
        if (b == 0 if type(b) is not np.ndarray else not b.all()):
            raise RuntimeError("ZeroDivisionError")
        if rounding_mode == "floor":
            return np.asarray(np.floor_divide(a, b))
        return np.asarray((a - np.fmod(a, b)) // b)  # exact, where float division is not
    with np.errstate(divide="ignore", invalid="ignore"):
        if rounding_mode == "floor":
            return np.asarray(np.floor_divide(a, b))
        return np.asarray(np.trunc(np.true_divide(a, b)))


class FloorDivide(_Binary):
    _torch_name = NOT_IMPLEMENTED
    differentiable_backward = True  # it only raises PyTorch's error, under create_graph too

    @staticmethod
    def forward(ctx, a, b):
        return _rounded_quotient(a, b, "floor")

    @staticmethod
    def backward(ctx, grad):
        raise RuntimeError("derivative for aten::floor_divide is not implemented")


def floor_divide(input, other):
    return _binary_math(FloorDivide, input, other, "floor_divide", numbers_alone=True)


class RoundedDiv(_Binary):
    """div with a rounding mode: piecewise constant, so the gradients are zero (PyTorch's too;
    floor_divide, which gives the same values, refuses to be differentiated instead)."""

    differentiable_backward = True

    @staticmethod
    def forward(ctx, a, b, rounding_mode):
        _Binary._remember(ctx, a, b)
        return _rounded_quotient(a, b, rounding_mode)

    @staticmethod
    def backward(ctx, grad):
        needs_a, needs_b, _ = ctx.needs_input_grad
        zeros = ctx.xp.zeros_like(grad)
        return (_grad_for(zeros, *ctx.a_meta) if needs_a else None,
                _grad_for(zeros, *ctx.b_meta) if needs_b else None, None)


class Remainder(_Binary):
    differentiable_backward = True

    @staticmethod
    def forward(ctx, a, b):
        _Binary._remember(ctx, a, b)
        if type(b) is not np.ndarray:
            ctx._next_order = (0,)  # PyTorch's node of tensor op number lists the tensor only
        a, b = _promote(a, b)
        _refuse_bool(a, b, "remainder_cpu")
        if isinstance(b, np.ndarray) and b.dtype.kind in "iu" and np.any(b == 0) or \
                type(b) is int and b == 0 and not (isinstance(a, np.ndarray)
                                                   and is_floating(a.dtype)):
            raise RuntimeError("ZeroDivisionError")
        if ctx.needs_input_grad[1]:
            ctx.save_for_backward(a, b)
        with np.errstate(divide="ignore", invalid="ignore"):
            out = np.asarray(np.remainder(a, b))
            if out.dtype.kind in "fV":
                # PyTorch's zero keeps fmod's sign (the dividend's), NumPy's the divisor's
                zeros = out == 0
                if zeros.any():
                    np.copyto(out, np.fmod(a, b), where=zeros)
            return out

    @staticmethod
    def backward(ctx, grad):
        needs_a, needs_b = ctx.needs_input_grad
        grad_a = _grad_for(grad, *ctx.a_meta) if needs_a else None
        grad_b = None
        if needs_b:
            a, b = ctx.saved_tensors
            with np.errstate(divide="ignore", invalid="ignore"):
                grad_b = _grad_for(-grad * ctx.xp.floor_divide(a, b), *ctx.b_meta)
        return grad_a, grad_b


def remainder(input, other):
    _refuse_complex_operand(input, other, "remainder_cpu")
    return _binary_math(Remainder, input, other, "remainder")


def _refuse_complex_operand(input, other, kernel):
    """PyTorch's error for ops with no complex kernel (a Python complex number counts)."""
    for value in (input, other):
        if (value._data.dtype.kind == "c" if isinstance(value, Tensor)
                else isinstance(value, complex)):
            dtype = value._data.dtype if isinstance(value, Tensor) else np.dtype(np.complex64)
            raise _not_implemented(kernel, dtype)


def _refuse_bool(a, b, kernel):
    """PyTorch's error for bool operands of ops without a bool kernel (promoted dtypes)."""
    if np.result_type(a, b) == np.bool_:
        raise _not_implemented(kernel, np.dtype(np.bool_))


class Fmod(_Binary):
    """The C remainder: the sign of the dividend (``remainder`` takes the divisor's)."""

    differentiable_backward = True

    @staticmethod
    def forward(ctx, a, b):
        _Binary._remember(ctx, a, b)
        if type(b) is not np.ndarray:
            ctx._next_order = (0,)  # PyTorch's node of tensor op number lists the tensor only
        a, b = _promote(a, b)
        _refuse_bool(a, b, "fmod_cpu")
        if ctx.needs_input_grad[1]:
            ctx.save_for_backward(a, b)
        if np.result_type(a, b).kind in "iu" and np.any(np.asarray(b) == 0):
            raise RuntimeError("ZeroDivisionError")
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.asarray(np.fmod(a, b))

    @staticmethod
    def backward(ctx, grad):
        needs_a, needs_b = ctx.needs_input_grad
        grad_b = None
        if needs_b:
            a, b = ctx.saved_tensors
            with np.errstate(divide="ignore", invalid="ignore"):
                grad_b = _grad_for(-grad * ctx.xp.trunc(a / b), *ctx.b_meta)
        return (_grad_for(grad, *ctx.a_meta) if needs_a else None), grad_b


def fmod(input, other):
    _refuse_complex_operand(input, other, "fmod_cpu")
    return _binary_math(Fmod, input, other, "fmod", number_input=False)


class Pow(_Binary):
    differentiable_backward = True
    _saved_names = ("self", "exponent", "result")

    @staticmethod
    def forward(ctx, base, exponent):
        _Binary._remember(ctx, base, exponent)
        if (type(exponent) is int or type(exponent) is float) and (
                exponent == 2 or exponent == 3) and type(base) is np.ndarray:
            # x ** 2 and x ** 3 of a float array: products, which neither overflow checks nor
            # promotion concern (the common case, without the checks below)
            out = _special_power(base, exponent)
            if out is not None:
                if ctx._recording:
                    ctx._next_order = (0,)
                    ctx.save_for_backward(base, exponent, None)
                return out
        if type(exponent) is int and exponent < 0 and isinstance(base, np.ndarray) and \
                base.dtype.kind in "biu":
            raise RuntimeError("Integers to negative integer powers are not allowed.")
        if type(exponent) in (int, float) and type(base) is np.ndarray and \
                (base.dtype.kind in "fV" or type(exponent) is int) and \
                scalar_overflows(exponent, base.dtype):
            raise overflow_error(base.dtype)  # PyTorch converts the exponent to base's dtype
        if type(exponent) is np.ndarray:
            # tensor ** number, tensor ** tensor, number ** tensor
            ctx._torch_name = "PowBackward1" if type(base) is np.ndarray else "PowBackward2"
        if ctx._recording and (type(base) is not np.ndarray or type(exponent) is not np.ndarray):
            # PyTorch's node of tensor ** number (number ** tensor) lists the tensor only
            ctx._next_order = (0,) if type(base) is np.ndarray else (1,)
        given_base, given_exponent = base, exponent
        base, exponent = _promote(base, exponent)
        _refuse_bool(base, exponent, "pow")
        if isinstance(exponent, np.ndarray) and exponent.dtype.kind in "iu" and \
                np.asarray(base).dtype.kind in "iu":
            out = _integer_power(base, exponent)
        else:
            with np.errstate(divide="ignore", invalid="ignore"):
                out = _special_power(base, exponent)
                if out is None:
                    out = np.power(base, exponent)
        if not isinstance(out, np.ndarray):
            out = np.asarray(out)
        needs_base, needs_exponent = ctx.needs_input_grad
        if needs_base or needs_exponent:
            # a real operand made complex is saved as given (see _as_given) and made complex
            # again in backward, by a cast that create_graph records, as PyTorch's pow_backward
            saved_base = _as_given(given_base, base)
            saved_exponent = _as_given(given_exponent, exponent)
            if saved_base is not base or saved_exponent is not exponent:
                ctx.complex_dtype = out.dtype
            ctx.save_for_backward(saved_base, saved_exponent, out if needs_exponent else None)
        else:
            ctx.save_for_backward(None, None, None)
        return out

    complex_dtype = None  # the result's dtype where a real operand was saved as given

    @staticmethod
    def backward(ctx, grad):
        base, exponent, out = ctx.saved_tensors
        needs_base, needs_exponent = ctx.needs_input_grad
        xp = ctx.xp
        if ctx.complex_dtype is not None:
            base = _as_complex(xp, base, ctx.complex_dtype)
            exponent = _as_complex(xp, exponent, ctx.complex_dtype)
        grad_base = grad_exponent = None
        number_exponent = isinstance(exponent, _PYTHON_NUMBERS)
        with np.errstate(divide="ignore", invalid="ignore"):
            if needs_base:
                # PyTorch: d/dx x**0 is 0, even at x == 0.
                if number_exponent and exponent == 0:
                    grad_base = xp.zeros_like(grad)
                else:
                    power = None
                    if xp is np and number_exponent:
                        # x ** 1 is x itself (PyTorch's pow by 1 copies it)
                        power = base if exponent == 2 else _special_power(base, exponent - 1)
                    if power is None:
                        power = base ** (exponent - 1)
                    grad_base = grad * conj_of(exponent * power)
                    if not number_exponent:
                        grad_base = xp.where(exponent == 0, 0, grad_base)
                grad_base = _grad_for(grad_base, *ctx.a_meta)
            if needs_exponent:
                # d/dy x**y = x**y * log(x), taken as 0 where x == 0 and y >= 0 (PyTorch; a
                # complex y counts when it is real)
                local = out * _log(xp, base)
                if isinstance(base, _PYTHON_NUMBERS):
                    if base == 0:
                        local = xp.where(_real_nonnegative(xp, exponent), 0, local)
                else:
                    local = xp.where((base == 0) & _real_nonnegative(xp, exponent), 0, local)
                grad_exponent = _grad_for(grad * conj_of(local), *ctx.b_meta)
        return grad_base, grad_exponent


def _as_complex(xp, value, dtype):
    """A saved real operand (array or Tensor) as the complex ``dtype``; others as they are."""
    if type(value) is np.ndarray:
        return value.astype(dtype) if value.dtype.kind != "c" else value
    if isinstance(value, Tensor) and not value.is_complex():
        return xp.astype(value, dtype)
    return value


def _real_nonnegative(xp, exponent):
    """exponent >= 0, where a complex exponent must also have no imaginary part."""
    if (exponent.dtype.kind != "c") if xp is np else not exponent.is_complex():
        return exponent >= 0
    return (xp.imag(exponent) == 0) & (xp.real(exponent) >= 0)


_SPECIAL_EXPONENTS = (2, 3, 0.5, -0.5, -1, -2)


def _special_power(base, exponent):
    """PyTorch's pow of a float32/float64 array by 2, 3, 0.5, -0.5, -1 or -2: products, square
    roots and reciprocals (its pow_tensor_scalar_optimized), which np.power leaves to pow() per
    element (x ** 3 on 1M float32: 61 ms, against 0.6 ms as x * x * x); None otherwise."""
    if (type(exponent) is not int and type(exponent) is not float) or not (
            isinstance(base, np.ndarray) and (base.dtype == np.float32
                                              or base.dtype == np.float64)):
        return None
    if exponent not in _SPECIAL_EXPONENTS:
        if base.dtype == np.float32 and 4 <= exponent <= 16 and exponent == int(exponent):
            return _float32_integer_power(base, int(exponent))
        return None
    out = np.empty(base.shape, base.dtype)  # an array even for 0-d (ufuncs give scalars)
    if exponent == -1:
        return np.reciprocal(base, out=out)
    if exponent == 0.5 or exponent == -0.5:
        np.sqrt(base, out=out)
    else:  # 2, 3, -2
        np.multiply(base, base, out=out)
        if exponent == 3:
            np.multiply(out, base, out=out)
    if exponent < 0:
        np.reciprocal(out, out=out)
    return out


def _float32_integer_power(base, exponent):
    """float32 ``base ** exponent`` for an integer 4..16 by squaring in float64, rounded once to
    float32: within an ulp where NumPy's float32 pow calls powf per element (x ** 4 on 100k
    elements: 0.1 ms, against 4.6 ms), and nearer PyTorch's vectorised pow (1.8% of elements
    differ, against 11% for np.power)."""
    factor = base.astype(np.float64)
    result = None
    while exponent:
        if exponent & 1:
            result = factor.copy() if result is None else result * factor
        exponent >>= 1
        if exponent:
            factor = factor * factor
    with np.errstate(over="ignore", invalid="ignore"):
        return np.asarray(result.astype(np.float32))


def _integer_power(base, exponent):
    """Integer powers with tensor exponents; a negative exponent gives the truncated reciprocal
    (1 for 1, +-1 for -1, else 0) as PyTorch does, where NumPy would raise."""
    negative = exponent < 0
    if not np.any(negative):
        return np.power(base, exponent)
    out = np.power(base, np.where(negative, 0, exponent).astype(exponent.dtype))
    base = np.broadcast_to(base, out.shape)
    odd = np.broadcast_to(exponent % 2 == 1, out.shape)
    reciprocal = np.where(base == 1, 1, np.where(base == -1, np.where(odd, -1, 1), 0))
    return np.where(negative, reciprocal, out).astype(out.dtype)


def pow(input, exponent):
    return _binary_math(Pow, input, exponent, "pow")


def float_power(input, exponent):
    """pow computed in float64 (PyTorch's float_power), differentiable through pow."""
    for name, position, value in (("input", 1, input), ("exponent", 2, exponent)):
        if not isinstance(value, (Tensor, int, float)):
            raise _not_tensor("float_power", value, name, position)
    if not isinstance(input, Tensor) and not isinstance(exponent, Tensor):
        raise _not_tensor("float_power", input)
    wide = from_numpy_dtype(np.dtype(np.float64))
    base = input.to(wide) if isinstance(input, Tensor) else float(input)
    power = exponent.to(wide) if isinstance(exponent, Tensor) else float(exponent)
    if not isinstance(base, Tensor):
        base = Tensor._wrap(np.asarray(base))
    return pow(base, power)


def ldexp(input, other):
    """input * 2 ** other, in the floating dtype of both (PyTorch's promotion)."""
    if not isinstance(input, Tensor) or not isinstance(other, Tensor):
        wrong = ("input", 1, input) if not isinstance(input, Tensor) else ("other", 2, other)
        raise TypeError(f"ldexp(): argument '{wrong[0]}' (position {wrong[1]}) must be Tensor, "
                        f"not {type(wrong[2]).__name__}")
    target = _result_dtype(input._data, other._data)
    if not target.is_floating_point:
        target = get_default_dtype()
    return mul(input, pow(2.0, other.to(target)))


class Frexp(Op):
    """(mantissa, exponent) with input = mantissa * 2 ** exponent, mantissa in [0.5, 1); the
    mantissa's gradient is grad / 2 ** exponent (the exponent is an integer output)."""

    differentiable_backward = True

    @staticmethod
    def forward(ctx, x):
        mantissa, exponent = np.frexp(x)
        if ctx.needs_input_grad[0]:
            ctx.dtype = x.dtype
            # 2 ** exponent in float64, where it cannot overflow for float32 or float16 inputs.
            ctx.save_for_backward(np.ldexp(1.0, exponent))
        return mantissa, exponent.astype(np.int32)

    @staticmethod
    def backward(ctx, grad_mantissa, grad_exponent):
        (scale,) = ctx.saved_tensors
        return ctx.xp.astype(grad_mantissa / scale, ctx.dtype, copy=False)


def frexp(input):
    """Mantissa in [0.5, 1) and integer exponent with input = mantissa * 2 ** exponent."""
    if not isinstance(input, Tensor):
        raise _not_tensor("frexp", input)
    if not is_floating(input._data.dtype):
        raise RuntimeError("torch.frexp() only supports floating-point dtypes")
    return _Frexp(Frexp.apply(input))


class Neg(Op):
    output_layout = staticmethod(unary_layout)
    differentiable_backward = True

    @staticmethod
    def forward(ctx, x):
        if x.dtype == np.bool_:
            raise RuntimeError("Negation, the `-` operator, on a bool tensor is not supported. If "
                               "you are trying to invert a mask, use the `~` or `logical_not()` "
                               "operator instead.")
        return np.negative(x)

    @staticmethod
    def backward(ctx, grad):
        return -grad


neg = _unary(Neg, "neg")


negative = neg


def positive(input):
    """The input itself (PyTorch's unary plus); refused for bool, as PyTorch does."""
    if not isinstance(input, Tensor):
        raise _not_tensor("positive", input)
    if input._data.dtype == np.bool_:
        raise RuntimeError("The `+` operator, on a bool tensor is not supported.")
    return input


class Abs(Op):
    output_layout = staticmethod(unary_layout)
    differentiable_backward = True

    @staticmethod
    def forward(ctx, x):
        if x.dtype == np.bool_:
            raise _not_implemented("abs_cpu", x.dtype)
        ctx.save_for_backward(x)
        return np.abs(x)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        xp = ctx.xp
        if xp is np and x.dtype.kind == "c":
            # the gradient of |z| is grad * z / |z| (0 at 0)
            magnitude = np.abs(x)
            with np.errstate(divide="ignore", invalid="ignore"):
                direction = np.where(magnitude == 0, 0, x / magnitude)
            return grad * direction
        if xp is not np and x.is_complex():
            magnitude = xp.abs(x)
            return grad * xp.where(magnitude == 0, 0, x / xp.where(magnitude == 0, 1, magnitude))
        if xp is np:
            return grad * Sign.forward(None, x)  # PyTorch's sgn: 0 at NaN, as at 0
        return grad * xp.sign(x)


abs = _unary(Abs, "abs")


absolute = abs


class Sign(Op):
    output_layout = staticmethod(unary_layout)
    differentiable_backward = True

    @staticmethod
    def forward(ctx, x):
        if x.dtype.kind == "c":
            ctx.save_for_backward(x)
            with np.errstate(divide="ignore", invalid="ignore"):
                magnitude = np.abs(x)
                return np.where(magnitude == 0, 0, x / magnitude).astype(x.dtype)
        if x.dtype == np.bool_:
            return x.copy()  # the sign of True is True
        compiled = _jit.compiled_float32(_sign_float32, x)
        if compiled is not None:
            out = np.empty(x.shape, np.float32)
            compiled(x.reshape(-1), out.reshape(-1))
            return out
        out = np.asarray(np.sign(x))
        if x.dtype.kind not in "iu":
            # PyTorch's (0 < x) - (x < 0): NaN gives 0, and every zero is +0
            unsigned = np.isnan(out)
            unsigned |= out == 0
            out[unsigned] = 0
        return out

    @staticmethod
    def backward(ctx, grad):
        x = ctx.saved_tensors[0] if ctx.saved_tensors else None
        if x is not None and ctx.xp is np:
            # sgn(z) = z / |z|: the gradient (grad - s Re(grad conj(s))) / |z|, 0 at z = 0
            magnitude = np.abs(x)
            with np.errstate(divide="ignore", invalid="ignore"):
                unit = x / magnitude
                result = (grad - unit * (grad * unit.conj()).real) / magnitude
            return np.where(magnitude == 0, 0, result).astype(x.dtype)
        if x is not None:  # create_graph: the same formula, recorded
            xp = ctx.xp
            magnitude = xp.abs(x)
            unit = x / magnitude
            result = (grad - unit * xp.real(grad * xp.conj(unit))) / magnitude
            return xp.where(magnitude == 0, 0, result)
        return ctx.xp.zeros_like(grad)


@_jit.kernel
def _sign_float32(x, out):
    """(0 < x) - (x < 0) of a flat float32 array in one pass (NumPy's sign and the fixes for
    NaN and -0 took four: (256, 1024) 127 -> 20 us)."""
    for index in range(x.size):
        value = x[index]
        out[index] = np.float32(1.0) if value > 0 else (
            np.float32(-1.0) if value < 0 else np.float32(0.0))


_sign = _unary(Sign, "sign")
sgn = _unary(Sign, "sgn")


def sign(input):
    if isinstance(input, Tensor) and input._data.dtype.kind == "c":
        name = _repr_prefix[0]
        raise NotImplementedError(f"Unlike NumPy, {name}.sign is not intended to support "
                                  f"complex numbers. Please use {name}.sgn instead.")
    return _sign(input)


class Angle(Op):
    """The argument of a real number: pi for negatives, 0 otherwise, NaN for NaN; integers in
    the default float dtype (PyTorch's angle on real tensors). Its gradient is zero."""

    output_layout = staticmethod(unary_layout)
    differentiable_backward = True

    @staticmethod
    def forward(ctx, x):
        if x.dtype.kind == "c":
            ctx.save_for_backward(x)
            return np.angle(x)
        ctx.save_for_backward(None)
        x = _floating(x)
        out = np.where(x < 0, x.dtype.type(np.pi), x.dtype.type(0))
        out[np.isnan(x)] = np.nan
        return out

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        if x is None:
            return ctx.xp.zeros_like(grad)
        # d angle / d(re, im) = (-im, re) / |z|^2: the gradient grad * i z / |z|^2 (0 at 0)
        xp = ctx.xp
        squared = x.real ** 2 + x.imag ** 2 if xp is np else xp.real(x) ** 2 + xp.imag(x) ** 2
        if xp is np:
            with np.errstate(divide="ignore", invalid="ignore"):
                return np.where(squared == 0, 0, grad * 1j * x / squared).astype(x.dtype)
        return xp.where(squared == 0, 0, grad * 1j * x / xp.where(squared == 0, 1, squared))


angle = _unary(Angle, "angle")


class Copysign(_Binary):
    """|input| with the sign of ``other``; ``other`` gets a zero gradient (PyTorch's too)."""

    differentiable_backward = True

    @staticmethod
    def forward(ctx, a, b):
        _Binary._remember(ctx, a, b)
        a, b = _floating_pair(a, b)
        out = np.asarray(np.copysign(a, b))
        ctx.save_for_backward(a, out)
        return out

    @staticmethod
    def backward(ctx, grad):
        a, out = ctx.saved_tensors
        needs_a, needs_b = ctx.needs_input_grad
        xp = ctx.xp
        grad_a = None
        if needs_a:
            with np.errstate(divide="ignore", invalid="ignore"):
                ratio = xp.where(a == 0, 0, out / a)
            grad_a = _grad_for(grad * ratio, *ctx.a_meta)
        grad_b = _grad_for(xp.zeros_like(grad), *ctx.b_meta) if needs_b else None
        return grad_a, grad_b


def copysign(input, other):
    return _binary_math(Copysign, input, other, "copysign", number_input=False)


class Nextafter(_Binary):
    """The next representable value after ``input`` towards ``other``; PyTorch's gradients:
    the identity for ``input`` and zero for ``other``."""

    differentiable_backward = True

    @staticmethod
    def forward(ctx, a, b):
        _Binary._remember(ctx, a, b)
        a, b = _promote(a, b)
        if not is_floating(a.dtype):
            raise NotImplementedError(f'"nextafter_cpu" not implemented for '
                                      f"'{scalar_type_name(a.dtype)}'")
        return np.asarray(np.nextafter(a, b))

    @staticmethod
    def backward(ctx, grad):
        needs_a, needs_b = ctx.needs_input_grad
        return (_grad_for(grad, *ctx.a_meta) if needs_a else None,
                _grad_for(ctx.xp.zeros_like(grad), *ctx.b_meta) if needs_b else None)


def nextafter(input, other):
    if not isinstance(other, Tensor):
        raise TypeError(f"nextafter(): argument 'other' (position 2) must be Tensor, not "
                        f"{type(other).__name__}")
    return _binary_math(Nextafter, input, other, "nextafter", number_input=False)


class Lerp(Op):
    """input + weight * (end - input), in PyTorch's two-sided form (exact at weight 0 and 1)."""

    output_layout = staticmethod(unary_layout)
    _next_order = (0, 1)  # LerpBackward0 lists start and end; a tensor weight adds itself
    differentiable_backward = True

    @staticmethod
    def forward(ctx, start, end, weight):
        ctx.metas = [_shape_dtype(value) for value in (start, end, weight)]
        needs_start, needs_end, needs_weight = ctx.needs_input_grad
        ctx.save_for_backward(weight if needs_start or needs_end else None,
                              start if needs_weight else None, end if needs_weight else None)
        dtype = start.dtype
        if dtype == np.float32:
            return _fused_lerp(start, end, weight)
        start = _widened(start)
        end = _widened(end)
        difference = end - start
        if type(weight) is not np.ndarray:
            if builtins.abs(weight) < 0.5:
                out = start + weight * difference
            else:
                out = end - difference * (1 - weight)
        else:
            weight = _widened(weight.astype(dtype, copy=False))
            with np.errstate(invalid="ignore"):
                out = np.where(np.abs(weight) < 0.5, start + weight * difference,
                               end - difference * (1 - weight))
        return np.asarray(out).astype(dtype, copy=False)

    @staticmethod
    def backward(ctx, grad):
        weight, start, end = ctx.saved_tensors
        needs_start, needs_end, needs_weight = ctx.needs_input_grad
        start_meta, end_meta, weight_meta = ctx.metas
        # (conjugated factors for complex operands: PyTorch's convention)
        grad_start = (_grad_for(grad * conj_of(1 - weight), *start_meta) if needs_start
                      else None)
        grad_end = _grad_for(grad * conj_of(weight), *end_meta) if needs_end else None
        grad_weight = (_grad_for(grad * conj_of(end - start), *weight_meta) if needs_weight
                       else None)
        return grad_start, grad_end, grad_weight


def _fused_lerp(start, end, weight):
    """float32 lerp rounded as PyTorch's vectorised CPU kernel: the difference rounded, then one
    fused multiply-add, ``start + weight * difference`` for |weight| < 0.5, else
    ``end + (weight - 1) * difference`` (the float32 product is exact in float64)."""
    scalar = type(weight) is not np.ndarray
    compiled = _jit.compiled_float32(_lerp_float32, start, end, *(() if scalar else (weight,)))
    if compiled is not None:
        out = np.empty(start.shape, np.float32)
        compiled(start.reshape(-1), end.reshape(-1), np.float32(weight) if scalar else
                 np.float32(0), start.reshape(-1) if scalar else weight.reshape(-1), scalar,
                 out.reshape(-1))
        return out
    difference = (end - start).astype(np.float64)
    weight = np.float32(weight) if type(weight) is not np.ndarray else weight
    with np.errstate(invalid="ignore"):
        small = np.abs(weight) < 0.5
        coefficient = np.where(small, weight, weight - np.float32(1)).astype(np.float64)
        base = np.where(small, start, end).astype(np.float64)
        return np.asarray(base + coefficient * difference).astype(np.float32)


# One compiled pass each for float32 lerp and addcmul, with the NumPy passes' float64 steps in
# their order (the same bits): (256, 1024) lerp 385 -> 40 us, addcmul 264 -> 30 (PyTorch 50,
# 19).
@_jit.kernel
def _lerp_float32(start, end, weight, weights, scalar, out):
    one = np.float32(1.0)
    for index in range(out.size):
        value = weight if scalar else weights[index]
        difference = np.float64(end[index] - start[index])
        if -0.5 < value < 0.5:  # (this module's abs is the tensor op)
            out[index] = np.float32(np.float64(start[index]) + np.float64(value) * difference)
        else:
            out[index] = np.float32(np.float64(end[index])
                                    + np.float64(value - one) * difference)


@_jit.kernel
def _addcmul_float32(input, tensor1, tensor2, value, out):
    for index in range(out.size):
        scaled = tensor1[index] * value
        out[index] = np.float32(np.float64(input[index])
                                + np.float64(scaled) * np.float64(tensor2[index]))


def lerp(input, end, weight):
    _tensors_only("lerp", input, end)
    if not isinstance(weight, (Tensor, int, float)):
        raise _not_tensor("lerp", weight, "weight", 3)
    if not is_floating(input._data.dtype) and input._data.dtype.kind != "c":
        kernel = "lerp_kernel_tensor" if isinstance(weight, Tensor) else "lerp_kernel_scalar"
        raise NotImplementedError(f'"{kernel}" not implemented for '
                                  f"'{scalar_type_name(input._data.dtype)}'")
    if end._data.dtype != input._data.dtype:
        raise RuntimeError(f"expected dtype {cpp_type_name(input._data.dtype)} for `end` but "
                           f"got dtype {cpp_type_name(end._data.dtype)}")
    if isinstance(weight, Tensor) and weight._data.dtype != input._data.dtype:
        raise RuntimeError(f"expected dtype {cpp_type_name(input._data.dtype)} for `weight` "
                           f"but got dtype {cpp_type_name(weight._data.dtype)}")
    if not isinstance(weight, Tensor):
        weight = _to_operand(weight, "lerp")
    try:
        output = Lerp.apply(input, end, weight)
        if isinstance(weight, Tensor) and output.grad_fn is not None:
            output.grad_fn._next_order = None
            torch_named(output, "LerpBackward1")
        return output
    except ValueError as error:
        raise _shape_error(error, input, end, weight) from None


class Addcmul(Op):
    """float32 input + value * tensor1 * tensor2 rounded as PyTorch's CPU kernel: value *
    tensor1 rounded, then one fused multiply-add with tensor2 onto input (through float64,
    where the product of two float32 values is exact)."""
    _next_order = (0, 1, 2)  # PyTorch lists the tensors, not the value

    output_layout = staticmethod(unary_layout)
    differentiable_backward = True
    _torch_name = "AddcmulBackward0"

    @staticmethod
    def forward(ctx, input, tensor1, tensor2, value):
        ctx.metas = (_shape_dtype(input), _shape_dtype(tensor1), _shape_dtype(tensor2))
        needs_input, needs_first, needs_second = ctx.needs_input_grad[:3]
        ctx.save_for_backward(tensor1 if needs_second else None,
                              tensor2 if needs_first else None)
        ctx.value = value
        compiled = _jit.compiled_float32(_addcmul_float32, input, tensor1, tensor2)
        if compiled is not None:
            out = np.empty(input.shape, np.float32)
            compiled(input.reshape(-1), tensor1.reshape(-1), tensor2.reshape(-1),
                     np.float32(value), out.reshape(-1))
            return out
        scaled = tensor1 * np.float32(value)
        return np.add(input, np.multiply(scaled, tensor2, dtype=np.float64)).astype(np.float32)

    @staticmethod
    def backward(ctx, grad):
        tensor1, tensor2 = ctx.saved_tensors
        needs_input, needs_first, needs_second = ctx.needs_input_grad[:3]
        input_meta, first_meta, second_meta = ctx.metas
        value = ctx.value
        return (_grad_for(grad, *input_meta) if needs_input else None,
                _grad_for(grad * tensor2 * value, *first_meta) if needs_first else None,
                _grad_for(grad * tensor1 * value, *second_meta) if needs_second else None,
                None)


def addcmul(input, tensor1, tensor2, *deprecated, value=1):
    """input + value * tensor1 * tensor2 (in the tensors' promoted dtype, whatever value is);
    also PyTorch's deprecated ``addcmul(input, value, tensor1, tensor2)``."""
    if deprecated:
        value, tensor1, tensor2 = scalar_first_addc("addcmul", tensor1, tensor2, deprecated)
    _check_addc("addcmul", input, tensor1, tensor2, value)
    result_type = np.result_type(input._data, tensor1._data, tensor2._data)
    if result_type == np.bool_:
        raise _not_implemented("addcmul_cpu_out", np.dtype(np.bool_))
    if result_type.kind in "iu":
        value = int(value)  # PyTorch's integer kernel truncates the scalar: no float promotion
    if (result_type == np.float32 and input._data.dtype == tensor1._data.dtype
            == tensor2._data.dtype and not isinstance(value, complex)):
        try:
            return Addcmul.apply(input, tensor1, tensor2, float(value))
        except ValueError as error:
            raise _shape_error(error, input, tensor1, tensor2) from None
    product = mul(tensor1, tensor2)
    return torch_named(add(input, product if value == 1 else mul(product, value)),
                       "AddcmulBackward0")


def addcdiv(input, tensor1, tensor2, *deprecated, value=1):
    """input + value * tensor1 / tensor2 (integer division is refused, as in PyTorch); also
    PyTorch's deprecated ``addcdiv(input, value, tensor1, tensor2)``."""
    if deprecated:
        value, tensor1, tensor2 = scalar_first_addc("addcdiv", tensor1, tensor2, deprecated)
    _check_addc("addcdiv", input, tensor1, tensor2, value)
    if tensor1._data.dtype.kind in "biu" and tensor2._data.dtype.kind in "biu":
        raise RuntimeError("Integer division with addcdiv is no longer supported, and in a future "
                           " release addcdiv will perform a true division of tensor1 and tensor2. "
                           "The historic addcdiv behavior can be implemented as (input + value * "
                           "torch.trunc(tensor1 / tensor2)).to(input.dtype) for integer inputs "
                           "and as (input + value * tensor1 / tensor2) for float inputs. The "
                           "future addcdiv behavior is just the latter implementation: (input + "
                           "value * tensor1 / tensor2), for all dtypes.")
    # PyTorch's kernel: input + (value * tensor1) / tensor2, in this order
    quotient = div(tensor1 if value == 1 else mul(tensor1, value), tensor2)
    return torch_named(add(input, quotient), "AddcdivBackward0")


_SCALAR_FIRST = {  # the signatures PyTorch's deprecation warning names
    "add": ("Number alpha, Tensor other", "Tensor other, *, Number alpha = 1"),
    "sub": ("Number alpha, Tensor other", "Tensor other, *, Number alpha = 1"),
    "addcmul": ("Number value, Tensor tensor1, Tensor tensor2",
                "Tensor tensor1, Tensor tensor2, *, Number value = 1"),
    "addcdiv": ("Number value, Tensor tensor1, Tensor tensor2",
                "Tensor tensor1, Tensor tensor2, *, Number value = 1"),
}
_scalar_first_warned = [False]


def scalar_first(other, alpha):
    """Whether ``add(input, other, alpha)`` was PyTorch's ``add(input, Number alpha, Tensor
    other)``: a tensor where the number goes, a number (or 0-dim tensor) before it."""
    return isinstance(alpha, Tensor) and (
        isinstance(other, _PYTHON_NUMBERS) or (isinstance(other, Tensor) and other.dim() == 0))


def scalar_first_overload(name, scalar):
    """``scalar``, after PyTorch's one warning per process (for whichever comes first) about
    the overloads with the scalar first (``p.data.add_(-lr, grad)``, ``addcmul_(1 - beta2, g,
    g)``) that optimizers written for PyTorch 0.x use; ``name`` may end in ``_``."""
    if not _scalar_first_warned[0]:
        _scalar_first_warned[0] = True
        old, new = _SCALAR_FIRST[name.rstrip("_")]
        warnings.warn(f"This overload of {name} is deprecated:\n\t{name}({old})\nConsider "
                      f"using one of the following signatures instead:\n\t{name}({new})",
                      UserWarning, stacklevel=3)
    return scalar.item() if isinstance(scalar, Tensor) else scalar


def scalar_first_addc(name, value, tensor1, extra):
    """(value, tensor1, tensor2) of a call ``name(input, value, tensor1, tensor2)``; any other
    extra positional argument is PyTorch's TypeError."""
    if len(extra) != 1 or not isinstance(extra[0], Tensor) or not scalar_first(value, tensor1):
        raise TypeError(f"{name.rstrip('_')}() takes 3 positional arguments but "
                        f"{3 + len(extra)} were given")
    return scalar_first_overload(name, value), tensor1, extra[0]


# the operands of the add* products, as PyTorch's signatures name them
_PRODUCT_OPERANDS = {"addmm": ("mat1", "mat2"), "addmv": ("mat", "vec"), "addr": ("vec1", "vec2"),
                     "baddbmm": ("batch1", "batch2"), "addbmm": ("batch1", "batch2")}


def scalar_first_product(name, input, first, second, extra):
    """(input, operand1, operand2, beta, alpha) of PyTorch's deprecated factor-first overloads
    of the add* products, ``input.addmm_(beta, [alpha,] mat1, mat2)`` (the center loss's
    ``distmat.addmm_(1, -2, x, centers.t())``) and ``addmm(beta, input, [alpha,] mat1, mat2)``;
    they share the one warning a process with the other scalar-first overloads."""
    arguments = (input, first, second, *extra)
    method = isinstance(input, Tensor)
    if method:
        factors, operands = arguments[1:-2], arguments[-2:]
    else:
        input = arguments[1]
        factors, operands = (arguments[0],) + arguments[2:-2], arguments[-2:]
    if (len(factors) > 2 or not isinstance(input, Tensor)
            or not all(isinstance(factor, _PYTHON_NUMBERS) or isinstance(factor, Tensor)
                       and factor.dim() == 0 for factor in factors)
            or not all(isinstance(operand, Tensor) for operand in operands)):
        raise TypeError(f"{name.rstrip('_')}() takes 3 positional arguments but "
                        f"{len(arguments)} were given")
    if not _scalar_first_warned[0]:
        _scalar_first_warned[0] = True
        first_name, second_name = _PRODUCT_OPERANDS[name.rstrip("_")]
        alpha = ", Number alpha" if len(factors) == 2 else ""
        if method:
            old = f"Number beta{alpha}, Tensor {first_name}, Tensor {second_name}"
            new = f"Tensor {first_name}, Tensor {second_name}, *, Number beta = 1, Number alpha = 1"
            usage = f"\n\t{name}({new})"
        else:
            old = (f"Number beta, Tensor input{alpha}, Tensor {first_name}, Tensor {second_name}, "
                   f"*, Tensor out = None")
            usage = (f"\n\t{name}(Tensor input, Tensor {first_name}, Tensor {second_name}, *, "
                     f"Number beta = 1, Number alpha = 1, Tensor out = None)")
            if name == "addmm":
                usage += ("\n\taddmm(Tensor input, Tensor mat1, Tensor mat2, torch.dtype "
                          "out_dtype, *, Number beta = 1, Number alpha = 1, Tensor out = None)")
        warnings.warn(f"This overload of {name} is deprecated:\n\t{name}({old})\nConsider "
                      f"using one of the following signatures instead:{usage}", UserWarning,
                      stacklevel=3)
    factors = [factor.item() if isinstance(factor, Tensor) else factor for factor in factors]
    beta, alpha = (factors + [1])[:2]
    return input, operands[0], operands[1], beta, alpha


def _check_addc(operation, input, tensor1, tensor2, value):
    for name, position, tensor in (("input", 1, input), ("tensor1", 2, tensor1),
                                   ("tensor2", 3, tensor2)):
        if not isinstance(tensor, Tensor):
            raise _not_tensor(operation, tensor, name, position)
    if not isinstance(value, _PYTHON_NUMBERS):
        raise TypeError(f"{operation}(): argument 'value' must be Number, not "
                        f"{type(value).__name__}")
