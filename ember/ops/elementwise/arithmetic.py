"""Arithmetic: add, sub, mul, div, floor_divide, remainder, fmod, pow, neg, abs, sign and the
composites built on them (square, reciprocal, addcmul, addcdiv, lerp, ...)."""
import builtins

import numpy as np

from ..._dtype import from_numpy_dtype, get_default_dtype, is_floating, scalar_type_name
from ...autograd.function import Op
from ...tensor import Tensor
from ._operands import (
    _Binary, _bfloat16_result, _binary_math, _cast, _floating_pair, _grad_for, _operands,
    _plain_binary, _promote, _promote_unrounded, _raw, _result_dtype, _shape_dtype, _shape_error,
    _to_operand)

__all__ = ["abs", "absolute", "add", "addcdiv", "addcmul", "copysign", "div", "divide",
           "float_power", "floor_divide", "fmod", "frexp", "ldexp", "lerp", "mul", "multiply",
           "neg", "negative", "pow", "reciprocal", "remainder", "sgn", "sign", "square", "sub",
           "subtract", "true_divide"]


class Add(_Binary):
    differentiable_backward = True

    @staticmethod
    def forward(ctx, a, b):
        _Binary._remember(ctx, a, b)
        a, b = _promote(a, b)
        return np.add(a, b)

    @staticmethod
    def backward(ctx, grad):
        needs_a, needs_b = ctx.needs_input_grad
        return (_grad_for(grad, *ctx.a_meta) if needs_a else None,
                _grad_for(grad, *ctx.b_meta) if needs_b else None)


def add(input, other, alpha=1):
    try:
        if alpha == 1:
            out = _plain_binary(np.add, input, other)
            if out is not None:
                return out
        else:
            other = mul(other, alpha)
        if type(input) is not Tensor or type(other) is not Tensor:
            input, other = _operands(input, other, "add")
        return Add.apply(input, other)
    except ValueError as error:
        raise _shape_error(error, input, other) from None


class Sub(_Binary):
    differentiable_backward = True

    @staticmethod
    def forward(ctx, a, b):
        _Binary._remember(ctx, a, b)
        a, b = _promote(a, b)
        if isinstance(a, np.ndarray) and a.dtype == np.bool_ or isinstance(b, np.ndarray) and \
                b.dtype == np.bool_:
            raise RuntimeError("Subtraction, the `-` operator, with two bool tensors is not "
                               "supported. Use the `^` or `logical_xor()` operator instead.")
        return np.subtract(a, b)

    @staticmethod
    def backward(ctx, grad):
        needs_a, needs_b = ctx.needs_input_grad
        return (_grad_for(grad, *ctx.a_meta) if needs_a else None,
                _grad_for(-grad, *ctx.b_meta) if needs_b else None)


def sub(input, other, alpha=1):
    try:
        if alpha == 1:
            out = _plain_binary(np.subtract, input, other)
            if out is not None:
                return out
        else:
            other = mul(other, alpha)
        return Sub.apply(*_operands(input, other, "sub"))
    except ValueError as error:
        raise _shape_error(error, input, other) from None


subtract = sub


class Mul(_Binary):
    differentiable_backward = True

    @staticmethod
    def forward(ctx, a, b):
        _Binary._remember(ctx, a, b)
        needs_a, needs_b = ctx.needs_input_grad
        ctx.save_for_backward(b if needs_a else None, a if needs_b else None)
        a, b = _promote_unrounded(a, b)
        return _bfloat16_result(np.multiply(a, b), a, b)

    @staticmethod
    def backward(ctx, grad):
        b, a = ctx.saved_tensors
        needs_a, needs_b = ctx.needs_input_grad
        return (_grad_for(grad * b, *ctx.a_meta) if needs_a else None,
                _grad_for(grad * a, *ctx.b_meta) if needs_b else None)


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
    return Mul.apply(input, input)


class Div(_Binary):
    differentiable_backward = True

    @staticmethod
    def forward(ctx, a, b):
        _Binary._remember(ctx, a, b)
        a, b = _promote_unrounded(a, b)
        if isinstance(a, np.ndarray) and not is_floating(a.dtype) or not isinstance(
                a, np.ndarray) and isinstance(b, np.ndarray) and not is_floating(b.dtype):
            # True division of integers gives the default float dtype.
            target = get_default_dtype().numpy
            a, b = _cast(a, target), _cast(b, target)
        elif not isinstance(a, np.ndarray) and not isinstance(b, np.ndarray):
            a = np.asarray(a, dtype=get_default_dtype().numpy)
        ctx.save_for_backward(b, a if ctx.needs_input_grad[1] else None)
        with np.errstate(divide="ignore", invalid="ignore"):
            return _bfloat16_result(np.true_divide(a, b), a, b)

    @staticmethod
    def backward(ctx, grad):
        b, a = ctx.saved_tensors
        needs_a, needs_b = ctx.needs_input_grad
        with np.errstate(divide="ignore", invalid="ignore"):
            grad_a = _grad_for(grad / b, *ctx.a_meta) if needs_a else None
            grad_b = _grad_for(-grad * a / (b * b), *ctx.b_meta) if needs_b else None
        return grad_a, grad_b


def div(input, other, rounding_mode=None):
    if rounding_mode == "floor":
        return floor_divide(input, other)
    if rounding_mode == "trunc":
        quotient = Div.apply(_to_operand(input, "div"), _to_operand(other, "div"))
        return Tensor._result(np.trunc(quotient._data).astype(
            _result_dtype(*(_raw(v) for v in (input, other))).numpy))
    if rounding_mode is not None:
        raise RuntimeError(f"div expected rounding_mode to be one of None, 'trunc', or 'floor' "
                           f"but found '{rounding_mode}'")
    try:
        with np.errstate(divide="ignore", invalid="ignore"):
            out = _plain_binary(np.true_divide, input, other)
        if out is not None:
            return out
        return Div.apply(*_operands(input, other, "div"))
    except ValueError as error:
        raise _shape_error(error, input, other) from None


true_divide = div
divide = div


def reciprocal(input):
    return div(1.0, input)


class FloorDivide(_Binary):
    @staticmethod
    def forward(ctx, a, b):
        _Binary._remember(ctx, a, b)
        a, b = _promote(a, b)
        if isinstance(b, np.ndarray) and b.dtype.kind in "iu" and np.any(b == 0) or \
                type(b) is int and b == 0:
            raise RuntimeError("ZeroDivisionError")
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.asarray(np.floor_divide(a, b))

    @staticmethod
    def backward(ctx, grad):
        raise RuntimeError("derivative for aten::floor_divide is not implemented")


def floor_divide(input, other):
    return _binary_math(FloorDivide, input, other, "floor_divide")


class Remainder(_Binary):
    @staticmethod
    def forward(ctx, a, b):
        _Binary._remember(ctx, a, b)
        a, b = _promote(a, b)
        if isinstance(b, np.ndarray) and b.dtype.kind in "iu" and np.any(b == 0) or \
                type(b) is int and b == 0 and not (isinstance(a, np.ndarray)
                                                   and a.dtype.kind == "f"):
            raise RuntimeError("ZeroDivisionError")
        if ctx.needs_input_grad[1]:
            ctx.save_for_backward(a, b)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.asarray(np.remainder(a, b))

    @staticmethod
    def backward(ctx, grad):
        needs_a, needs_b = ctx.needs_input_grad
        grad_a = _grad_for(grad, *ctx.a_meta) if needs_a else None
        grad_b = None
        if needs_b:
            a, b = ctx.saved_tensors
            grad_b = _grad_for(-grad * np.floor_divide(a, b), *ctx.b_meta)
        return grad_a, grad_b


def remainder(input, other):
    return _binary_math(Remainder, input, other, "remainder")


class Fmod(_Binary):
    """The C remainder: the sign of the dividend (``remainder`` takes the divisor's)."""

    @staticmethod
    def forward(ctx, a, b):
        _Binary._remember(ctx, a, b)
        a, b = _promote(a, b)
        if ctx.needs_input_grad[1]:
            ctx.save_for_backward(a, b)
        with np.errstate(divide="ignore", invalid="ignore"):
            if isinstance(b, np.ndarray) and b.dtype.kind in "iu" and (b == 0).any():
                raise RuntimeError("ZeroDivisionError")
            return np.asarray(np.fmod(a, b))

    @staticmethod
    def backward(ctx, grad):
        needs_a, needs_b = ctx.needs_input_grad
        grad_b = None
        if needs_b:
            a, b = ctx.saved_tensors
            with np.errstate(divide="ignore", invalid="ignore"):
                grad_b = _grad_for(-grad * np.trunc(a / b), *ctx.b_meta)
        return (_grad_for(grad, *ctx.a_meta) if needs_a else None), grad_b


def fmod(input, other):
    return _binary_math(Fmod, input, other, "fmod")


class Pow(_Binary):
    @staticmethod
    def forward(ctx, base, exponent):
        _Binary._remember(ctx, base, exponent)
        base, exponent = _promote(base, exponent)
        if type(exponent) is int and exponent < 0 and isinstance(base, np.ndarray) and \
                base.dtype.kind in "iu":
            raise RuntimeError("Integers to negative integer powers are not allowed.")
        if isinstance(exponent, np.ndarray) and exponent.dtype.kind in "iu" and \
                np.asarray(base).dtype.kind in "iu":
            out = _integer_power(base, exponent)
        else:
            with np.errstate(divide="ignore", invalid="ignore"):
                out = np.power(base, exponent)
        needs_base, needs_exponent = ctx.needs_input_grad
        ctx.save_for_backward(base if needs_base or needs_exponent else None,
                              exponent if needs_base or needs_exponent else None,
                              out if needs_exponent else None)
        if not isinstance(out, np.ndarray):
            out = np.asarray(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        base, exponent, out = ctx.saved_tensors
        needs_base, needs_exponent = ctx.needs_input_grad
        grad_base = grad_exponent = None
        with np.errstate(divide="ignore", invalid="ignore"):
            if needs_base:
                if isinstance(exponent, (int, float)) and exponent == 0:
                    local = np.zeros_like(grad)
                else:
                    local = exponent * np.power(base, exponent - 1)
                    # PyTorch: d/dx x**0 is 0 even where x == 0.
                    local = np.where(np.asarray(exponent) == 0, 0, local)
                grad_base = _grad_for(grad * local, *ctx.a_meta)
            if needs_exponent:
                # d/dy x**y = x**y * log(x), taken as 0 where x == 0 and y >= 0 (PyTorch).
                log_base = np.log(base)
                local = out * log_base
                local = np.where((np.asarray(base) == 0) & (np.asarray(exponent) >= 0), 0, local)
                grad_exponent = _grad_for(grad * local, *ctx.b_meta)
        return grad_base, grad_exponent


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
    wide = from_numpy_dtype(np.dtype(np.float64))
    base = input.to(wide) if isinstance(input, Tensor) else float(input)
    power = exponent.to(wide) if isinstance(exponent, Tensor) else float(exponent)
    if not isinstance(base, Tensor):
        base = Tensor._wrap(np.asarray(base))
    return pow(base, power)


def ldexp(input, other):
    """input * 2 ** other."""
    return mul(input, pow(2.0, other if isinstance(other, Tensor) else float(other)))


def frexp(input):
    """Mantissa in [0.5, 1) and integer exponent with input = mantissa * 2 ** exponent."""
    if input._data.dtype.kind != "f":
        raise RuntimeError("torch.frexp() only supports floating-point dtypes")
    mantissa, exponent = np.frexp(input._data)
    return _Frexp((Tensor._result(mantissa), Tensor._result(exponent.astype(np.int32))))


class _Frexp(tuple):
    """(mantissa, exponent) with attribute access, like torch.return_types.frexp."""

    @property
    def mantissa(self):
        return self[0]

    @property
    def exponent(self):
        return self[1]


class Neg(Op):
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


def neg(input):
    return Neg.apply(input)


negative = neg


class Abs(Op):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return np.abs(x)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * np.sign(x).astype(grad.dtype, copy=False)


def abs(input):
    return Abs.apply(input)


absolute = abs


class Sign(Op):
    @staticmethod
    def forward(ctx, x):
        return np.sign(x)

    @staticmethod
    def backward(ctx, grad):
        return np.zeros_like(grad)


def sign(input):
    return Sign.apply(input)


def sgn(input):
    return sign(input)


class Copysign(_Binary):
    """|input| with the sign of ``other``; ``other`` gets a zero gradient (PyTorch's too)."""

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
        grad_a = None
        if needs_a:
            with np.errstate(divide="ignore", invalid="ignore"):
                ratio = np.where(a == 0, 0, out / a)
            grad_a = _grad_for(grad * ratio, *ctx.a_meta)
        grad_b = _grad_for(np.zeros_like(grad), *ctx.b_meta) if needs_b else None
        return grad_a, grad_b


def copysign(input, other):
    return _binary_math(Copysign, input, other, "copysign")


class Lerp(Op):
    """input + weight * (end - input), in PyTorch's two-sided form (exact at weight 0 and 1)."""

    @staticmethod
    def forward(ctx, start, end, weight):
        ctx.metas = [_shape_dtype(value) for value in (start, end, weight)]
        needs_start, needs_end, needs_weight = ctx.needs_input_grad
        ctx.save_for_backward(weight if needs_start or needs_end else None,
                              start if needs_weight else None, end if needs_weight else None)
        difference = end - start
        if type(weight) is not np.ndarray:
            if builtins.abs(weight) < 0.5:
                return start + weight * difference
            return end - difference * (1 - weight)
        weight = weight.astype(start.dtype, copy=False)
        with np.errstate(invalid="ignore"):
            return np.where(np.abs(weight) < 0.5, start + weight * difference,
                            end - difference * (1 - weight))

    @staticmethod
    def backward(ctx, grad):
        weight, start, end = ctx.saved_tensors
        needs_start, needs_end, needs_weight = ctx.needs_input_grad
        start_meta, end_meta, weight_meta = ctx.metas
        grad_start = _grad_for(grad * (1 - weight), *start_meta) if needs_start else None
        grad_end = _grad_for(grad * weight, *end_meta) if needs_end else None
        grad_weight = _grad_for(grad * (end - start), *weight_meta) if needs_weight else None
        return grad_start, grad_end, grad_weight


def lerp(input, end, weight):
    if not isinstance(input, Tensor) or not isinstance(end, Tensor):
        raise TypeError(f"lerp(): argument 'end' (position 2) must be Tensor, not "
                        f"{type(end).__name__}")
    if input._data.dtype.kind != "f":
        kernel = "lerp_kernel_tensor" if isinstance(weight, Tensor) else "lerp_kernel_scalar"
        raise NotImplementedError(f'"{kernel}" not implemented for '
                                  f"'{scalar_type_name(input._data.dtype)}'")
    if end._data.dtype != input._data.dtype:
        raise RuntimeError(f"lerp(): expected dtype {input.dtype} for `end` but got dtype "
                           f"{end.dtype}")
    if isinstance(weight, Tensor) and weight._data.dtype != input._data.dtype:
        raise RuntimeError(f"lerp(): expected dtype {input.dtype} for `weight` but got dtype "
                           f"{weight.dtype}")
    if not isinstance(weight, Tensor):
        weight = _to_operand(weight, "lerp")
    try:
        return Lerp.apply(input, end, weight)
    except ValueError as error:
        raise _shape_error(error, input, end, weight) from None


def addcmul(input, tensor1, tensor2, *, value=1):
    """input + value * tensor1 * tensor2."""
    product = mul(tensor1, tensor2)
    return add(input, product if value == 1 else mul(product, value))


def addcdiv(input, tensor1, tensor2, *, value=1):
    """input + value * tensor1 / tensor2 (integer division is refused, as in PyTorch)."""
    if tensor1._data.dtype.kind in "biu" and tensor2._data.dtype.kind in "biu":
        raise RuntimeError("Integer division with addcdiv is no longer supported, and in a future "
                           "release addcdiv will perform a true division of tensor1 and tensor2. "
                           "The historic addcdiv behavior can be implemented as (input + value * "
                           "torch.trunc(tensor1 / tensor2)).to(input.dtype) for integer inputs "
                           "and as (input + value * tensor1 / tensor2) for float inputs. The "
                           "future addcdiv behavior is just the latter implementation: (input + "
                           "value * tensor1 / tensor2), for all dtypes.")
    quotient = div(tensor1, tensor2)
    return add(input, quotient if value == 1 else mul(quotient, value))
