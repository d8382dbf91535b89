"""Elementwise ops: arithmetic, unary math, comparisons, where, clamp; forward and backward together."""
import builtins
import math

import numpy as np

from .._dtype import _FROM_NUMPY, from_numpy_dtype, get_default_dtype, result_type
from ..autograd.function import Op
from ..autograd.grad_mode import _grad_state
from ..tensor import Tensor
from ._broadcast import unbroadcast

_PYTHON_NUMBERS = (int, float, bool)


# ---- type promotion for binary ops -------------------------------------------------------------
def _promote(a, b):
    """Bring two operands (arrays or Python numbers) to PyTorch's result dtype.

    Python numbers stay Python numbers when NumPy's weak-scalar rule already gives PyTorch's
    answer, so ``float32 * 2.0`` stays float32 without a cast.
    """
    a_is_array = isinstance(a, np.ndarray)
    b_is_array = isinstance(b, np.ndarray)
    if a_is_array and b_is_array:
        if a.dtype == b.dtype:
            return a, b
    elif a_is_array and type(b) in (int, float):
        if a.dtype.kind == "f" or (type(b) is int and a.dtype.kind in "iu"):
            return a, b
    elif b_is_array and type(a) in (int, float):
        if b.dtype.kind == "f" or (type(a) is int and b.dtype.kind in "iu"):
            return a, b
    target = _result_dtype(a, b).numpy
    return _cast(a, target), _cast(b, target)


def _result_dtype(*operands):
    tensors = []
    zero_dim = []
    numbers = []
    for operand in operands:
        if isinstance(operand, np.ndarray):
            (tensors if operand.ndim else zero_dim).append(_FROM_NUMPY[operand.dtype])
        elif operand is not None:
            numbers.append(operand)
    return result_type(tensors, zero_dim, numbers)


def _cast(value, numpy_dtype):
    if isinstance(value, np.ndarray):
        return value if value.dtype == numpy_dtype else value.astype(numpy_dtype)
    if isinstance(value, (bool, np.bool_)) and numpy_dtype.kind == "b":
        return np.bool_(value)
    return np.asarray(value, dtype=numpy_dtype)


def _to_operand(value, operation):
    if isinstance(value, Tensor):
        return value
    if isinstance(value, _PYTHON_NUMBERS):
        return value
    if isinstance(value, np.ndarray):
        return Tensor._wrap(value)
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"{operation}(): expected a Tensor or a number, got {type(value).__name__}")


# PyTorch's scalar type names, as its error messages print them.
_TORCH_NAMES = {"float32": "Float", "float64": "Double", "float16": "Half", "int64": "Long",
                "int32": "Int", "int16": "Short", "int8": "Char", "uint8": "Byte",
                "bool": "Bool"}


def _operands(input, other, operation):
    """Both operands of a binary op as Tensors or numbers. A NumPy array operand makes the pair
    follow NumPy's promotion, as ``torch_tensor + ndarray`` does (NumPy computes it there)."""
    if type(input) is np.ndarray or type(other) is np.ndarray:
        arrays = [_raw(value) for value in (input, other) if not isinstance(value, _PYTHON_NUMBERS)]
        target = np.result_type(*arrays)
        if operation == "div" and target.kind in "biu":
            target = np.dtype(np.float64)  # NumPy's true division of integers
        input, other = [_numpy_cast(value, target, operation) for value in (input, other)]
    return _to_operand(input, operation), _to_operand(other, operation)


def _numpy_cast(value, target, operation):
    if isinstance(value, Tensor):
        if value._data.dtype == target:
            return value
        return value.to(from_numpy_dtype(target))  # TypeError for dtypes ember lacks
    if isinstance(value, np.ndarray) and value.dtype != target:
        return value.astype(target)
    return value


def _grad_for(grad, shape, dtype):
    """Undo broadcasting and return the gradient in the input's dtype."""
    grad = unbroadcast(grad, shape)
    if grad.dtype != dtype:
        grad = grad.astype(dtype)
    return grad


def _shape_dtype(value):
    if isinstance(value, np.ndarray):
        return value.shape, value.dtype
    return (), None


class _Binary(Op):
    """Remembers operand shapes and dtypes so backward can unbroadcast and cast."""

    @staticmethod
    def _remember(ctx, a, b):
        ctx.a_meta = (a.shape, a.dtype) if type(a) is np.ndarray else ((), None)
        ctx.b_meta = (b.shape, b.dtype) if type(b) is np.ndarray else ((), None)


def _plain_binary(ufunc, a, b):
    """No-graph fast path for float tensors of one dtype, or a float tensor and a Python number:
    the ufunc straight on the arrays, skipping Function bookkeeping. None when it doesn't apply."""
    grad_enabled, inference = _grad_state.get()
    if isinstance(a, Tensor):
        if a._requires_grad and grad_enabled and not inference:
            return None
        x = a._data
    elif type(a) is float or type(a) is int:
        x = a
    else:
        return None
    if isinstance(b, Tensor):
        if b._requires_grad and grad_enabled and not inference:
            return None
        y = b._data
    elif type(b) is float or type(b) is int:
        y = b
    else:
        return None
    if type(x) is np.ndarray:
        if x.dtype.kind != "f" or type(y) is np.ndarray and y.dtype != x.dtype:
            return None
    elif type(y) is not np.ndarray or y.dtype.kind != "f":
        return None
    result = ufunc(x, y)
    if type(result) is not np.ndarray:  # ufuncs return NumPy scalars for 0-d operands
        result = np.array(result)
    out = Tensor._wrap(result)
    if inference:
        out._is_inference = True
    return out


# ---- arithmetic ----------------------------------------------------------------------------------
class Add(_Binary):
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


class Sub(_Binary):
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


class Mul(_Binary):
    @staticmethod
    def forward(ctx, a, b):
        _Binary._remember(ctx, a, b)
        needs_a, needs_b = ctx.needs_input_grad
        ctx.save_for_backward(b if needs_a else None, a if needs_b else None)
        a, b = _promote(a, b)
        return np.multiply(a, b)

    @staticmethod
    def backward(ctx, grad):
        b, a = ctx.saved_tensors
        needs_a, needs_b = ctx.needs_input_grad
        return (_grad_for(grad * b, *ctx.a_meta) if needs_a else None,
                _grad_for(grad * a, *ctx.b_meta) if needs_b else None)


class Div(_Binary):
    @staticmethod
    def forward(ctx, a, b):
        _Binary._remember(ctx, a, b)
        a, b = _promote(a, b)
        if isinstance(a, np.ndarray) and a.dtype.kind != "f" or not isinstance(a, np.ndarray) \
                and isinstance(b, np.ndarray) and b.dtype.kind != "f":
            # True division of integers gives the default float dtype.
            target = get_default_dtype().numpy
            a, b = _cast(a, target), _cast(b, target)
        elif not isinstance(a, np.ndarray) and not isinstance(b, np.ndarray):
            a = np.asarray(a, dtype=get_default_dtype().numpy)
        ctx.save_for_backward(b, a if ctx.needs_input_grad[1] else None)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.true_divide(a, b)

    @staticmethod
    def backward(ctx, grad):
        b, a = ctx.saved_tensors
        needs_a, needs_b = ctx.needs_input_grad
        with np.errstate(divide="ignore", invalid="ignore"):
            grad_a = _grad_for(grad / b, *ctx.a_meta) if needs_a else None
            grad_b = _grad_for(-grad * a / (b * b), *ctx.b_meta) if needs_b else None
        return grad_a, grad_b


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


class Maximum(_Binary):
    @staticmethod
    def forward(ctx, a, b):
        _Binary._remember(ctx, a, b)
        a, b = _promote(a, b)
        ctx.save_for_backward(a, b)
        return np.maximum(a, b)

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        return _select_grads(ctx, grad, a > b, a == b)


class Minimum(_Binary):
    @staticmethod
    def forward(ctx, a, b):
        _Binary._remember(ctx, a, b)
        a, b = _promote(a, b)
        ctx.save_for_backward(a, b)
        return np.minimum(a, b)

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        return _select_grads(ctx, grad, a < b, a == b)


def _select_grads(ctx, grad, a_wins, tie):
    """maximum/minimum backward: the winner gets the gradient, ties split it evenly (PyTorch)."""
    needs_a, needs_b = ctx.needs_input_grad
    share = np.where(tie, 0.5, a_wins.astype(grad.dtype)).astype(grad.dtype, copy=False)
    grad_a = _grad_for(grad * share, *ctx.a_meta) if needs_a else None
    grad_b = _grad_for(grad * (1 - share), *ctx.b_meta) if needs_b else None
    return grad_a, grad_b


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


# ---- unary ---------------------------------------------------------------------------------------
def _floating(x):
    """Unary math on integer tensors computes in the default float dtype (PyTorch)."""
    if x.dtype.kind != "f":
        return x.astype(get_default_dtype().numpy)
    return x


class _OfInput(Op):
    """y = function(x), backward ``gradient(grad, x)`` from the saved input. ``quiet`` ops return
    inf/nan at the edges of their domain without NumPy warnings, as PyTorch does (opt-in:
    np.errstate costs about a microsecond)."""

    quiet = False

    @classmethod
    def forward(cls, ctx, x):
        ctx.save_for_backward(x)
        if cls.quiet:
            with np.errstate(divide="ignore", invalid="ignore"):
                return cls.function(_floating(x))
        return cls.function(_floating(x))

    @classmethod
    def backward(cls, ctx, grad):
        (x,) = ctx.saved_tensors
        if cls.quiet:
            with np.errstate(divide="ignore", invalid="ignore"):
                return cls.gradient(grad, x)
        return cls.gradient(grad, x)


class _OfOutput(Op):
    """y = function(x), backward ``gradient(grad, y)`` from the saved output: kept instead of the
    input where the derivative is cheaper from y (exp, tanh, sqrt)."""

    quiet = False

    @classmethod
    def forward(cls, ctx, x):
        if cls.quiet:
            with np.errstate(divide="ignore", invalid="ignore"):
                out = cls.function(_floating(x))
        else:
            out = cls.function(_floating(x))
        ctx.save_for_backward(out)
        return out

    @classmethod
    def backward(cls, ctx, grad):
        (out,) = ctx.saved_tensors
        if cls.quiet:
            with np.errstate(divide="ignore", invalid="ignore"):
                return cls.gradient(grad, out)
        return cls.gradient(grad, out)


def _reciprocal_sqrt(x):
    return 1 / np.sqrt(x)


class Neg(Op):
    @staticmethod
    def forward(ctx, x):
        if x.dtype == np.bool_:
            raise RuntimeError("Negation, the `-` operator, on a bool tensor is not supported. If "
                               "you are trying to invert a mask, use the `~` or `logical_not()` "
                               "operator instead.")
        return np.negative(x)

    @staticmethod
    def backward(ctx, grad):
        return np.negative(grad)


class Exp(_OfOutput):
    function = staticmethod(np.exp)
    gradient = staticmethod(lambda grad, out: grad * out)


class Log(_OfInput):
    function = staticmethod(np.log)
    gradient = staticmethod(lambda grad, x: grad / x)
    quiet = True


class Log1p(_OfInput):
    function = staticmethod(np.log1p)
    gradient = staticmethod(lambda grad, x: grad / (1 + x))
    quiet = True


class Sqrt(_OfOutput):
    function = staticmethod(np.sqrt)
    gradient = staticmethod(lambda grad, out: grad / (2 * out))
    quiet = True


class Rsqrt(_OfOutput):
    function = staticmethod(_reciprocal_sqrt)
    gradient = staticmethod(lambda grad, out: grad * (-0.5 * out * out * out))
    quiet = True


class Sin(_OfInput):
    function = staticmethod(np.sin)
    gradient = staticmethod(lambda grad, x: grad * np.cos(x))


class Cos(_OfInput):
    function = staticmethod(np.cos)
    gradient = staticmethod(lambda grad, x: -grad * np.sin(x))


class Tanh(_OfOutput):
    function = staticmethod(np.tanh)
    gradient = staticmethod(lambda grad, out: grad * (1 - out * out))


class Sigmoid(Op):
    @staticmethod
    def forward(ctx, x):
        x = _floating(x)
        # Split by sign so exp never overflows: sigmoid(x) = e^x / (1 + e^x) for x < 0.
        exp_neg_abs = np.exp(-np.abs(x))
        out = np.where(x >= 0, 1 / (1 + exp_neg_abs), exp_neg_abs / (1 + exp_neg_abs))
        out = out.astype(x.dtype, copy=False)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        return grad * out * (1 - out)


class Relu(Op):
    @staticmethod
    def forward(ctx, x):
        if x.dtype == np.bool_:
            raise RuntimeError('"clamp_min_scalar_cpu" not implemented for \'Bool\'')
        out = np.maximum(x, 0)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        return grad * (out > 0)


class Abs(Op):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return np.abs(x)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * np.sign(x).astype(grad.dtype, copy=False)


class Sign(Op):
    @staticmethod
    def forward(ctx, x):
        return np.sign(x)

    @staticmethod
    def backward(ctx, grad):
        return np.zeros_like(grad)


class Clamp(Op):
    """min(max(x, low), high); bounds may be numbers or tensors (which get gradients too)."""

    @staticmethod
    def forward(ctx, x, low, high):
        out = x
        if low is not None:
            out = np.maximum(out, _cast(low, x.dtype) if isinstance(low, np.ndarray) else low)
        if high is not None:
            out = np.minimum(out, _cast(high, x.dtype) if isinstance(high, np.ndarray) else high)
        if out is x:
            out = x.copy()
        target = _result_dtype(x, low if not isinstance(low, np.ndarray) else None,
                               high if not isinstance(high, np.ndarray) else None).numpy
        if out.dtype != target:
            out = out.astype(target)
        needs_x, needs_low, needs_high = ctx.needs_input_grad
        if needs_low or needs_high:
            ctx.save_for_backward(x, low, high)
            ctx.metas = (_shape_dtype(x), _shape_dtype(low), _shape_dtype(high))
        elif needs_x:
            # Number bounds: a boolean mask is all backward needs (a quarter of x's bytes).
            ctx.save_for_backward(_clamp_inside(x, low, high))
        return out

    @staticmethod
    def backward(ctx, grad):
        needs_x, needs_low, needs_high = ctx.needs_input_grad
        if not (needs_low or needs_high):
            (inside,) = ctx.saved_tensors
            return grad * inside, None, None
        x, low, high = ctx.saved_tensors
        x_meta, low_meta, high_meta = ctx.metas
        zero = np.zeros((), dtype=grad.dtype)
        grad_x = grad_low = grad_high = None
        if needs_x:
            grad_x = _grad_for(np.where(_clamp_inside(x, low, high), grad, zero), *x_meta)
        if needs_low:
            # PyTorch: where the bounds cross (low > high) the result is high.
            below = x < low if high is None else (x < low) & (low < high)
            grad_low = _grad_for(np.where(below, grad, zero), *low_meta)
        if needs_high:
            above = x > high if low is None else (x > high) | (low > high)
            grad_high = _grad_for(np.where(above, grad, zero), *high_meta)
        return grad_x, grad_low, grad_high


def _clamp_inside(x, low, high):
    inside = np.ones(x.shape, dtype=bool)
    if low is not None:
        inside = inside & (x >= low)
    if high is not None:
        inside = inside & (x <= high)
    return inside


class Where(Op):
    @staticmethod
    def forward(ctx, condition, a, b):
        if not isinstance(condition, np.ndarray) or condition.dtype != np.bool_:
            kind = getattr(condition, "dtype", None)
            name = _TORCH_NAMES.get(kind.name, kind.name) if kind is not None else \
                type(condition).__name__
            raise RuntimeError(f"where expected condition to be a boolean tensor, but got a "
                               f"tensor with dtype {name}")
        ctx.a_meta = _shape_dtype(a)
        ctx.b_meta = _shape_dtype(b)
        a, b = _promote(a, b)
        if any(ctx.needs_input_grad[1:]):
            ctx.save_for_backward(condition)
        return np.where(condition, a, b)

    @staticmethod
    def backward(ctx, grad):
        (condition,) = ctx.saved_tensors
        _, needs_a, needs_b = ctx.needs_input_grad
        zero = np.zeros((), dtype=grad.dtype)
        return (None,
                _grad_for(np.where(condition, grad, zero), *ctx.a_meta) if needs_a else None,
                _grad_for(np.where(condition, zero, grad), *ctx.b_meta) if needs_b else None)


class Cast(Op):
    @staticmethod
    def forward(ctx, x, target):
        ctx.source = x.dtype
        return x.astype(target.numpy)

    @staticmethod
    def backward(ctx, grad):
        if ctx.source.kind != "f":
            return None, None
        return grad.astype(ctx.source), None


class Clone(Op):
    @staticmethod
    def forward(ctx, x):
        return x.copy()

    @staticmethod
    def backward(ctx, grad):
        return grad


class CopyInto(Op):
    """``dst.copy_(src)`` as an op: the result is src broadcast and cast to dst's shape and dtype."""

    @staticmethod
    def forward(ctx, destination, source):
        ctx.source_meta = _shape_dtype(source)
        try:
            out = np.broadcast_to(source, destination.shape)
        except ValueError:
            raise RuntimeError(f"copy_: the size of tensor a ({list(destination.shape)}) must "
                               f"match the size of tensor b ({list(source.shape)})") from None
        return out.astype(destination.dtype, copy=True)

    @staticmethod
    def backward(ctx, grad):
        needs_destination, needs_source = ctx.needs_input_grad
        return (np.zeros_like(grad) if needs_destination else None,
                _grad_for(grad, *ctx.source_meta) if needs_source else None)


class FillLike(Op):
    @staticmethod
    def forward(ctx, x, value):
        return np.full_like(x, value)

    @staticmethod
    def backward(ctx, grad):
        return np.zeros_like(grad), (grad.sum() if ctx.needs_input_grad[1] else None)


# ---- functional API ------------------------------------------------------------------------------
def _shape_error(error, *operands):
    """PyTorch's RuntimeError for operands whose shapes do not broadcast (NumPy raises
    ValueError); any other ValueError is returned unchanged."""
    shapes = [np.shape(_raw(operand)) for operand in operands if operand is not None]
    for first in range(len(shapes)):
        for second in range(first + 1, len(shapes)):
            shape_a, shape_b = shapes[first], shapes[second]
            rank = builtins.max(len(shape_a), len(shape_b))
            for offset in range(1, rank + 1):
                size_a = shape_a[-offset] if offset <= len(shape_a) else 1
                size_b = shape_b[-offset] if offset <= len(shape_b) else 1
                if size_a != size_b and size_a != 1 and size_b != 1:
                    return RuntimeError(f"The size of tensor a ({size_a}) must match the size of "
                                        f"tensor b ({size_b}) at non-singleton dimension "
                                        f"{rank - offset}")
    return error


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


def _raw(value):
    return value._data if isinstance(value, Tensor) else value


true_divide = div


def floor_divide(input, other):
    try:
        return FloorDivide.apply(*_operands(input, other, "floor_divide"))
    except ValueError as error:
        raise _shape_error(error, input, other) from None


def remainder(input, other):
    try:
        return Remainder.apply(*_operands(input, other, "remainder"))
    except ValueError as error:
        raise _shape_error(error, input, other) from None


def pow(input, exponent):
    try:
        return Pow.apply(*_operands(input, exponent, "pow"))
    except ValueError as error:
        raise _shape_error(error, input, exponent) from None


def maximum(input, other):
    try:
        if not isinstance(input, Tensor) or not isinstance(other, Tensor):
            raise TypeError(f"maximum(): argument 'other' (position 2) must be Tensor, not "
                            f"{type(other if isinstance(input, Tensor) else input).__name__}")
        return Maximum.apply(input, other)
    except ValueError as error:
        raise _shape_error(error, input, other) from None


def minimum(input, other):
    try:
        if not isinstance(input, Tensor) or not isinstance(other, Tensor):
            raise TypeError(f"minimum(): argument 'other' (position 2) must be Tensor, not "
                            f"{type(other if isinstance(input, Tensor) else input).__name__}")
        return Minimum.apply(input, other)
    except ValueError as error:
        raise _shape_error(error, input, other) from None


def neg(input):
    return Neg.apply(input)


negative = neg


def exp(input):
    return Exp.apply(input)


def log(input):
    return Log.apply(input)


def log1p(input):
    return Log1p.apply(input)


def sqrt(input):
    return Sqrt.apply(input)


def rsqrt(input):
    return Rsqrt.apply(input)


def sin(input):
    return Sin.apply(input)


def cos(input):
    return Cos.apply(input)


def tanh(input):
    return Tanh.apply(input)


def sigmoid(input):
    return Sigmoid.apply(input)


def relu(input):
    return Relu.apply(input)


def abs(input):
    return Abs.apply(input)


def sign(input):
    return Sign.apply(input)


def square(input):
    return Mul.apply(input, input)


def clamp(input, min=None, max=None):
    if min is None and max is None:
        raise RuntimeError("torch.clamp: At least one of 'min' or 'max' must not be None")
    low = _to_operand(min, "clamp") if min is not None else None
    high = _to_operand(max, "clamp") if max is not None else None
    return Clamp.apply(input, low, high)


clip = clamp


def where(condition, input=None, other=None):
    try:
        if input is None and other is None:
            from .index import nonzero
            return nonzero(condition, as_tuple=True)
        return Where.apply(_to_operand(condition, "where"), _to_operand(input, "where"),
                           _to_operand(other, "where"))
    except ValueError as error:
        raise _shape_error(error, condition, input, other) from None


def clone(input):
    return Clone.apply(input)


def cast(input, dtype):
    return Cast.apply(input, dtype)


def copy_into(destination, source):
    return CopyInto.apply(destination, source)


def fill_like(input, value):
    return FillLike.apply(input, value)


# ---- comparisons and logic (not differentiable) ------------------------------------------------------
def _unrecorded_operands(input, other, name):
    """Both operands as arrays (or Python numbers), promoted, for ops that record nothing."""
    a = _to_operand(input, name)
    b = _to_operand(other, name)
    return _promote(a._data if isinstance(a, Tensor) else a,
                    b._data if isinstance(b, Tensor) else b)


def _compare(ufunc, name):
    def compare(input, other):
        a, b = _unrecorded_operands(input, other, name)
        return Tensor._result(np.asarray(ufunc(a, b)))
    compare.__name__ = name
    compare.__doc__ = f"Elementwise ``{name}``, returning a bool tensor (not differentiable)."
    return compare


eq = _compare(np.equal, "eq")
ne = _compare(np.not_equal, "ne")
lt = _compare(np.less, "lt")
le = _compare(np.less_equal, "le")
gt = _compare(np.greater, "gt")
ge = _compare(np.greater_equal, "ge")
logical_and = _compare(np.logical_and, "logical_and")
logical_or = _compare(np.logical_or, "logical_or")
logical_xor = _compare(np.logical_xor, "logical_xor")
greater, greater_equal, less, less_equal, not_equal = gt, ge, lt, le, ne


def logical_not(input):
    return Tensor._result(np.logical_not(input._data))


def bitwise_not(input):
    if input._data.dtype.kind == "f":
        raise RuntimeError("\"bitwise_not_cpu\" not implemented for 'Float'")
    return Tensor._result(np.invert(input._data))


def isnan(input):
    return Tensor._result(np.isnan(input._data))


def isinf(input):
    return Tensor._result(np.isinf(input._data))


def isfinite(input):
    return Tensor._result(np.isfinite(input._data))


def equal(input, other):
    """True when both have the same shape and elements."""
    return input._data.shape == other._data.shape and bool(np.array_equal(input._data, other._data))


def allclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    return bool(np.allclose(input._data, other._data, rtol=rtol, atol=atol, equal_nan=equal_nan))


def isclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    return Tensor._result(np.isclose(input._data, _raw(other), rtol=rtol, atol=atol,
                                   equal_nan=equal_nan))


class _Stepwise(Op):
    """Piecewise-constant rounding: the gradient is zero almost everywhere (PyTorch's too)."""

    ufunc = None

    @classmethod
    def forward(cls, ctx, x, decimals):
        if x.dtype.kind != "f":
            return x.copy()  # integers are already whole
        if decimals:
            return np.asarray(np.round(x, decimals))
        return np.asarray(cls.ufunc(x))

    @staticmethod
    def backward(ctx, grad):
        return np.zeros_like(grad), None


class Floor(_Stepwise):
    ufunc = staticmethod(np.floor)


class Ceil(_Stepwise):
    ufunc = staticmethod(np.ceil)


class Round(_Stepwise):
    ufunc = staticmethod(np.round)  # half to even, as PyTorch


class Trunc(_Stepwise):
    ufunc = staticmethod(np.trunc)


def floor(input):
    return Floor.apply(input, 0)


def ceil(input):
    return Ceil.apply(input, 0)


def round(input, decimals=0):
    return Round.apply(input, decimals)


def trunc(input):
    return Trunc.apply(input, 0)


def reciprocal(input):
    return div(1.0, input)



# ---- more unary and binary math ------------------------------------------------------------------
_LN2 = 0.6931471805599453
_LN10 = 2.302585092994046
_TWO_OVER_SQRT_PI = 1.1283791670955126


class Exp2(_OfOutput):
    function = staticmethod(np.exp2)
    gradient = staticmethod(lambda grad, out: grad * out * _LN2)


class Log2(_OfInput):
    function = staticmethod(np.log2)
    gradient = staticmethod(lambda grad, x: grad / (x * _LN2))
    quiet = True


class Log10(_OfInput):
    function = staticmethod(np.log10)
    gradient = staticmethod(lambda grad, x: grad / (x * _LN10))
    quiet = True


class Sinh(_OfInput):
    function = staticmethod(np.sinh)
    gradient = staticmethod(lambda grad, x: grad * np.cosh(x))


class Cosh(_OfInput):
    function = staticmethod(np.cosh)
    gradient = staticmethod(lambda grad, x: grad * np.sinh(x))


class Tan(_OfOutput):
    function = staticmethod(np.tan)
    gradient = staticmethod(lambda grad, out: grad * (1 + out * out))


class Asin(_OfInput):
    function = staticmethod(np.arcsin)
    gradient = staticmethod(lambda grad, x: grad / np.sqrt(1 - x * x))
    quiet = True


class Acos(_OfInput):
    function = staticmethod(np.arccos)
    gradient = staticmethod(lambda grad, x: -grad / np.sqrt(1 - x * x))
    quiet = True


class Atan(_OfInput):
    function = staticmethod(np.arctan)
    gradient = staticmethod(lambda grad, x: grad / (1 + x * x))


# ---- erf -----------------------------------------------------------------------------------------
# NumPy has no erf. Float64: the Maclaurin series below |x| = 2.5 (about 1e-15 absolute) and
# the Laplace continued fraction of erfc above it; float32: Numerical Recipes' Chebyshev fit of
# erfc (fractional error < 1.2e-7), evaluated in float64 and rounded to float32.
_SERIES_LIMIT = 2.5
_SERIES_TERMS = 40
_FRACTION_TERMS = 60
_ERFC_FIT = (-1.26551223, 1.00002368, 0.37409196, 0.09678418, -0.18628806, 0.27886807,
             -1.13520398, 1.48851587, -0.82215223, 0.17087277)


def _erf_series(x):
    # erf(x) = 2/sqrt(pi) * sum_n (-1)^n x^(2n+1) / (n! (2n+1))
    square = x * x
    term = x.copy()
    total = x.copy()
    for n in range(1, _SERIES_TERMS):
        term *= -square / n
        total += term / (2 * n + 1)
    return total * (2.0 / math.sqrt(math.pi))


def _erfc_fraction(x):
    # erfc(x) = exp(-x^2)/sqrt(pi) / (x + (1/2)/(x + 1/(x + (3/2)/(x + ...)))), for x > 0
    tail = np.zeros_like(x)
    for k in range(_FRACTION_TERMS, 0, -1):
        tail = (k / 2.0) / (x + tail)
    return np.exp(-x * x) / math.sqrt(math.pi) / (x + tail)


def erf_array(x):
    """The error function of an array, elementwise, in the array's floating dtype."""
    if x.dtype == np.float64:
        magnitude = np.abs(x)
        small = magnitude <= _SERIES_LIMIT
        out = np.empty_like(x)
        out[small] = _erf_series(x[small])
        large = magnitude[~small]
        out[~small] = np.sign(x[~small]) * (1.0 - _erfc_fraction(large))
        return out
    wide = np.abs(x.astype(np.float64))
    t = 1.0 / (1.0 + 0.5 * wide)
    polynomial = np.full_like(t, _ERFC_FIT[-1])
    for coefficient in reversed(_ERFC_FIT[:-1]):
        polynomial = polynomial * t + coefficient
    erfc = t * np.exp(-wide * wide + polynomial)
    return (np.sign(x) * (1.0 - erfc)).astype(x.dtype)


class Erf(Op):
    @staticmethod
    def forward(ctx, x):
        x = _floating(x)
        ctx.save_for_backward(x)
        if x.dtype == np.float64:
            return erf_array(x)
        # The float64 kernel, rounded: the float32 fit is 1 - erfc, which loses relative
        # precision near 0 (5e-4 there); torch.erf is correct to an ulp.
        return erf_array(x.astype(np.float64)).astype(x.dtype)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * (np.exp(-x * x) * _TWO_OVER_SQRT_PI)


def _floating_pair(a, b):
    """Promote a binary op's operands, then lift integers to the default float dtype."""
    a, b = _promote(a, b)
    if type(a) is not np.ndarray or type(b) is not np.ndarray:  # a Python number stays one
        return (_floating(a) if type(a) is np.ndarray else float(a),
                _floating(b) if type(b) is np.ndarray else float(b))
    return _floating(a), _floating(b)


class Atan2(_Binary):
    @staticmethod
    def forward(ctx, a, b):
        _Binary._remember(ctx, a, b)
        a, b = _floating_pair(a, b)
        ctx.save_for_backward(a, b)
        return np.arctan2(a, b)

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        needs_a, needs_b = ctx.needs_input_grad
        scale = grad / (a * a + b * b)
        return (_grad_for(scale * b, *ctx.a_meta) if needs_a else None,
                _grad_for(-scale * a, *ctx.b_meta) if needs_b else None)


class Hypot(_Binary):
    @staticmethod
    def forward(ctx, a, b):
        _Binary._remember(ctx, a, b)
        a, b = _floating_pair(a, b)
        out = np.hypot(a, b)
        ctx.save_for_backward(a, b, out)
        return out

    @staticmethod
    def backward(ctx, grad):
        a, b, out = ctx.saved_tensors
        needs_a, needs_b = ctx.needs_input_grad
        with np.errstate(divide="ignore", invalid="ignore"):
            scale = grad / out
        return (_grad_for(scale * a, *ctx.a_meta) if needs_a else None,
                _grad_for(scale * b, *ctx.b_meta) if needs_b else None)


class LogAddExp(_Binary):
    """log(e^a + e^b) (``base_power`` = exp); LogAddExp2 is the base-2 form. The gradient of
    each side is base^(side - out)."""

    function = staticmethod(np.logaddexp)
    base_power = staticmethod(np.exp)

    @classmethod
    def forward(cls, ctx, a, b):
        _Binary._remember(ctx, a, b)
        a, b = _floating_pair(a, b)
        out = cls.function(a, b)
        ctx.save_for_backward(a, b, out)
        return out

    @classmethod
    def backward(cls, ctx, grad):
        a, b, out = ctx.saved_tensors
        needs_a, needs_b = ctx.needs_input_grad
        return (_grad_for(grad * cls.base_power(a - out), *ctx.a_meta) if needs_a else None,
                _grad_for(grad * cls.base_power(b - out), *ctx.b_meta) if needs_b else None)


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


def exp2(input):
    return Exp2.apply(input)


def log2(input):
    return Log2.apply(input)


def log10(input):
    return Log10.apply(input)


def sinh(input):
    return Sinh.apply(input)


def cosh(input):
    return Cosh.apply(input)


def tan(input):
    return Tan.apply(input)


def asin(input):
    return Asin.apply(input)


def acos(input):
    return Acos.apply(input)


def atan(input):
    return Atan.apply(input)


arcsin, arccos, arctan = asin, acos, atan


def erf(input):
    return Erf.apply(input)


def _binary_math(cls, input, other, operation):
    try:
        return cls.apply(*_operands(input, other, operation))
    except ValueError as error:
        raise _shape_error(error, input, other) from None


def atan2(input, other):
    return _binary_math(Atan2, input, other, "atan2")


arctan2 = atan2


def hypot(input, other):
    return _binary_math(Hypot, input, other, "hypot")


def logaddexp(input, other):
    return _binary_math(LogAddExp, input, other, "logaddexp")


def lerp(input, end, weight):
    if not isinstance(input, Tensor) or not isinstance(end, Tensor):
        raise TypeError(f"lerp(): argument 'end' (position 2) must be Tensor, not "
                        f"{type(end).__name__}")
    if input._data.dtype.kind != "f":
        kernel = "lerp_kernel_tensor" if isinstance(weight, Tensor) else "lerp_kernel_scalar"
        raise NotImplementedError(f'"{kernel}" not implemented for '
                                  f"'{_TORCH_NAMES.get(input._data.dtype.name)}'")
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


def clamp_min(input, min):
    return clamp(input, min=min)


def clamp_max(input, max):
    return clamp(input, max=max)


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


class Expm1(_OfOutput):
    function = staticmethod(np.expm1)
    gradient = staticmethod(lambda grad, out: grad * (out + 1))


class Asinh(_OfInput):
    function = staticmethod(np.arcsinh)
    gradient = staticmethod(lambda grad, x: grad / np.sqrt(x * x + 1))


class Acosh(_OfInput):
    function = staticmethod(np.arccosh)
    gradient = staticmethod(lambda grad, x: grad / np.sqrt(x * x - 1))
    quiet = True


class Atanh(_OfInput):
    function = staticmethod(np.arctanh)
    gradient = staticmethod(lambda grad, x: grad / (1 - x * x))
    quiet = True


class NanToNum(Op):
    """NaN and infinities replaced by numbers; the gradient flows only through finite entries."""

    @staticmethod
    def forward(ctx, x, nan, posinf, neginf):
        if x.dtype.kind != "f":
            return x.copy()
        ctx.save_for_backward(np.isfinite(x))
        info = np.finfo(x.dtype)
        return np.nan_to_num(x, nan=nan, posinf=info.max if posinf is None else posinf,
                             neginf=info.min if neginf is None else neginf)

    @staticmethod
    def backward(ctx, grad):
        (finite,) = ctx.saved_tensors
        return grad * finite, None, None, None


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


def expm1(input):
    return Expm1.apply(input)


def asinh(input):
    return Asinh.apply(input)


def acosh(input):
    return Acosh.apply(input)


def atanh(input):
    return Atanh.apply(input)


arcsinh, arccosh, arctanh = asinh, acosh, atanh


def nan_to_num(input, nan=0.0, posinf=None, neginf=None):
    return NanToNum.apply(input, nan, posinf, neginf)


def fmod(input, other):
    return _binary_math(Fmod, input, other, "fmod")


def frac(input):
    """x - trunc(x), keeping the sign of x."""
    if input._data.dtype.kind != "f":
        raise NotImplementedError(f"\"frac_cpu\" not implemented for "
                           f"'{_TORCH_NAMES.get(input._data.dtype.name)}'")
    return sub(input, trunc(input))


class Logit(Op):
    """log(p / (1 - p)); its derivative is NaN outside [0, 1] (and 0 outside [eps, 1 - eps] when
    eps clamps), as PyTorch's, which the chain rule through log and div would not give."""

    @staticmethod
    def forward(ctx, x, eps):
        x = _floating(x)
        ctx.eps = eps
        ctx.save_for_backward(x)
        clamped = x if eps is None else np.clip(x, eps, 1 - eps)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.log(clamped / (1 - clamped))

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        with np.errstate(divide="ignore", invalid="ignore"):
            derivative = grad / (x * (1 - x))
        if ctx.eps is None:
            return np.where((x < 0) | (x > 1), np.nan, derivative).astype(grad.dtype), None
        inside = (x >= ctx.eps) & (x <= 1 - ctx.eps)
        return np.where(inside, derivative, 0).astype(grad.dtype), None


def logit(input, eps=None):
    """log(p / (1 - p)), with p clamped to [eps, 1 - eps] when eps is given."""
    return Logit.apply(input, eps)


def deg2rad(input):
    return mul(input, 0.017453292519943295)


def rad2deg(input):
    return mul(input, 57.29577951308232)


def sgn(input):
    return sign(input)


def signbit(input):
    return Tensor._result(np.signbit(input._data))


absolute = abs
multiply = mul
subtract = sub
divide = div


class XLogY(_Binary):
    """x * log(y), defined as 0 where x == 0 (unless y is NaN): the entropy-style product."""

    @staticmethod
    def forward(ctx, a, b):
        _Binary._remember(ctx, a, b)
        a, b = _floating_pair(a, b)
        ctx.save_for_backward(a, b)
        with np.errstate(divide="ignore", invalid="ignore"):
            out = np.where(a == 0, 0, a * np.log(b))
        return np.where(np.isnan(b), np.nan, out).astype(np.result_type(a, b), copy=False)

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        needs_a, needs_b = ctx.needs_input_grad
        with np.errstate(divide="ignore", invalid="ignore"):
            # log(y), but 0 where x == 0 and y <= 0 (PyTorch's convention there).
            grad_a = np.where((a == 0) & (b <= 0), 0, grad * np.log(b)) if needs_a else None
            grad_b = grad * a / b if needs_b else None
        return (_grad_for(grad_a, *ctx.a_meta) if needs_a else None,
                _grad_for(grad_b, *ctx.b_meta) if needs_b else None)


class LogAddExp2(LogAddExp):
    function = staticmethod(np.logaddexp2)
    base_power = staticmethod(np.exp2)


class _NanIgnoringExtreme(_Binary):
    """fmax/fmin: like maximum/minimum but a NaN loses to a number; the gradient goes to the
    chosen operand (to ``input`` on ties, as PyTorch)."""

    ufunc = None
    keeps_input = None

    @classmethod
    def forward(cls, ctx, a, b):
        _Binary._remember(ctx, a, b)
        a, b = _promote(a, b)
        ctx.save_for_backward(cls.keeps_input(a, b) | np.isnan(b))
        return np.asarray(cls.ufunc(a, b))

    @staticmethod
    def backward(ctx, grad):
        (input_chosen,) = ctx.saved_tensors
        needs_a, needs_b = ctx.needs_input_grad
        return (_grad_for(np.where(input_chosen, grad, 0), *ctx.a_meta) if needs_a else None,
                _grad_for(np.where(input_chosen, 0, grad), *ctx.b_meta) if needs_b else None)


class Fmax(_NanIgnoringExtreme):
    ufunc = staticmethod(np.fmax)
    keeps_input = staticmethod(np.greater_equal)


class Fmin(_NanIgnoringExtreme):
    ufunc = staticmethod(np.fmin)
    keeps_input = staticmethod(np.less_equal)


def xlogy(input, other):
    return _binary_math(XLogY, input, other, "xlogy")


def logaddexp2(input, other):
    return _binary_math(LogAddExp2, input, other, "logaddexp2")


def fmax(input, other):
    return _binary_math(Fmax, input, other, "fmax")


def fmin(input, other):
    return _binary_math(Fmin, input, other, "fmin")


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


def _erfc_float64(x):
    """erfc in float64: 1 - erf where that keeps its digits, the continued fraction beyond 2.5."""
    out = np.empty_like(x)
    far = x > 2.5
    out[far] = _erfc_fraction(x[far])
    out[~far] = 1.0 - erf_array(x[~far])
    return out


class Erfc(Op):
    @staticmethod
    def forward(ctx, x):
        x = _floating(x)
        ctx.save_for_backward(x)
        return _erfc_float64(x.astype(np.float64)).astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * (np.exp(-x * x) * -_TWO_OVER_SQRT_PI)


_WINITZKI = 0.147  # Winitzki's constant for a closed-form erfinv approximation (~2e-3 relative)


def _erfinv_float64(x):
    with np.errstate(divide="ignore", invalid="ignore"):
        log_term = np.log((1.0 - x) * (1.0 + x))
        first = 2.0 / (np.pi * _WINITZKI) + 0.5 * log_term
        guess = np.sign(x) * np.sqrt(np.sqrt(first * first - log_term / _WINITZKI) - first)
        inside = np.abs(x) < 1
        y = np.where(inside, guess, 0.0)
        for _ in range(4):  # Newton on erf(y) = x: quadratic, from ~1e-3 to float64 precision
            y = y - (erf_array(y) - x) / (_TWO_OVER_SQRT_PI * np.exp(-y * y))
            y = np.where(inside, y, 0.0)
        out = np.where(np.abs(x) == 1, np.sign(x) * np.inf, y)
        return np.where((np.abs(x) > 1) | np.isnan(x), np.nan, out)


class Erfinv(Op):
    @staticmethod
    def forward(ctx, x):
        x = _floating(x)
        out = _erfinv_float64(x.astype(np.float64)).astype(x.dtype, copy=False)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        return grad * (np.exp(out * out) / _TWO_OVER_SQRT_PI)


def erfc(input):
    return Erfc.apply(input)


def erfinv(input):
    return Erfinv.apply(input)


def isposinf(input):
    return Tensor._result(np.isposinf(input._data) if input._data.dtype.kind == "f"
                          else np.zeros(input._data.shape, np.bool_))


def isneginf(input):
    return Tensor._result(np.isneginf(input._data) if input._data.dtype.kind == "f"
                          else np.zeros(input._data.shape, np.bool_))


def isreal(input):
    return Tensor._result(np.ones(input._data.shape, np.bool_))


def float_power(input, exponent):
    """pow computed in float64 (PyTorch's float_power), differentiable through pow."""
    wide = from_numpy_dtype(np.dtype(np.float64))
    base = input.to(wide) if isinstance(input, Tensor) else float(input)
    power = exponent.to(wide) if isinstance(exponent, Tensor) else float(exponent)
    if not isinstance(base, Tensor):
        base = Tensor._wrap(np.asarray(base))
    return pow(base, power)


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


# ---- bitwise and integer ops (not differentiable) ------------------------------------------------
def _bitwise(ufunc, name):
    def operation(input, other):
        a, b = _unrecorded_operands(input, other, name)
        for operand in (a, b):
            kind = np.asarray(operand).dtype.kind
            if kind not in "biu":
                raise NotImplementedError(f'"{name}_cpu" not implemented for '
                                          f"'{_TORCH_NAMES.get(np.asarray(operand).dtype.name)}'")
        return Tensor._result(np.asarray(ufunc(a, b)))
    operation.__name__ = name
    operation.__doc__ = f"Elementwise ``{name}`` of integer or bool tensors."
    return operation


bitwise_and = _bitwise(np.bitwise_and, "bitwise_and")
bitwise_or = _bitwise(np.bitwise_or, "bitwise_or")
bitwise_xor = _bitwise(np.bitwise_xor, "bitwise_xor")
bitwise_left_shift = _bitwise(np.left_shift, "bitwise_left_shift")
bitwise_right_shift = _bitwise(np.right_shift, "bitwise_right_shift")
gcd = _bitwise(np.gcd, "gcd")
lcm = _bitwise(np.lcm, "lcm")


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


class Sinc(Op):
    """sin(pi x) / (pi x), 1 at 0 (a primitive: the quotient's derivative is 0/0 there)."""

    @staticmethod
    def forward(ctx, x):
        x = _floating(x)
        ctx.save_for_backward(x)
        return np.sinc(x)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        angle = np.pi * x
        with np.errstate(divide="ignore", invalid="ignore"):
            derivative = (np.cos(angle) * angle - np.sin(angle)) / (angle * x)
        return grad * np.where(x == 0, 0, derivative).astype(grad.dtype, copy=False)


def sinc(input):
    return Sinc.apply(input)
