"""Trigonometric and hyperbolic functions, their inverses, atan2, hypot, sinc and the
degree/radian conversions."""
import numpy as np

from ..._layout import unary_layout
from ...autograd.function import Op
from ...tensor import Tensor
from ._operands import (
    _apply_gradient, _Binary, _binary_math, _floating, _floating_pair, _grad_for,
    _not_implemented, _not_tensor, _OfOperands,
    _OfInput, _OfOutput, _is_reduced, _refuse_integral, _shape_dtype, _tensors_only, _unary,
    _widened)
from .arithmetic import mul

__all__ = ["acos", "acosh", "arccos", "arccosh", "arcsin", "arcsinh", "arctan", "arctan2",
           "arctanh", "asin", "asinh", "atan", "atan2", "atanh", "cos", "cosh", "deg2rad", "hypot",
           "rad2deg", "sin", "sinc", "sinh", "tan", "tanh"]


class Sin(_OfInput):
    function = staticmethod(np.sin)
    gradient = staticmethod(lambda xp, grad, x: grad * xp.cos(x))


sin = _unary(Sin, "sin")


class Cos(_OfInput):
    function = staticmethod(np.cos)
    gradient = staticmethod(lambda xp, grad, x: -grad * xp.sin(x))


cos = _unary(Cos, "cos")


class Tan(_OfOutput):
    function = staticmethod(np.tan)
    gradient = staticmethod(lambda xp, grad, out: grad * (1 + out * out))


tan = _unary(Tan, "tan")


class Asin(_OfInput):
    function = staticmethod(np.arcsin)
    gradient = staticmethod(lambda xp, grad, x: grad / xp.sqrt(1 - x * x))
    quiet = True


asin = _unary(Asin, "asin")


class Acos(_OfInput):
    function = staticmethod(np.arccos)
    gradient = staticmethod(lambda xp, grad, x: -grad / xp.sqrt(1 - x * x))
    quiet = True


acos = _unary(Acos, "acos")


class Atan(_OfInput):
    function = staticmethod(np.arctan)
    gradient = staticmethod(lambda xp, grad, x: grad / (1 + x * x))


atan = _unary(Atan, "atan")


arcsin, arccos, arctan = asin, acos, atan


class Atan2(_OfOperands):
    function = staticmethod(np.arctan2)

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        needs_a, needs_b = ctx.needs_input_grad
        squared_norm = a * a + b * b
        # PyTorch: at the origin, where atan2 has no derivative, both gradients are 0 (not NaN).
        with np.errstate(divide="ignore"):
            scale = grad * ctx.xp.where(squared_norm == 0, 0, 1 / squared_norm)
        return (_grad_for(scale * b, *ctx.a_meta) if needs_a else None,
                _grad_for(-scale * a, *ctx.b_meta) if needs_b else None)


def atan2(input, other):
    _tensors_only("atan2", input, other)
    for value in (input, other):
        if value._data.dtype.kind == "c":
            raise _not_implemented("atan2_cpu", value._data.dtype)
    return _binary_math(Atan2, input, other, "atan2")


arctan2 = atan2


class Hypot(_Binary):
    differentiable_backward = True

    @staticmethod
    def forward(ctx, a, b):
        _Binary._remember(ctx, a, b)
        _refuse_integral(a, b, "hypot_cpu")
        a, b = _floating_pair(a, b)
        out = np.asarray(np.hypot(a, b))
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


def hypot(input, other):
    _tensors_only("hypot", input, other)
    return _binary_math(Hypot, input, other, "hypot")


class Sinh(_OfInput):
    function = staticmethod(np.sinh)
    gradient = staticmethod(lambda xp, grad, x: grad * xp.cosh(x))


sinh = _unary(Sinh, "sinh")


class Cosh(_OfInput):
    function = staticmethod(np.cosh)
    gradient = staticmethod(lambda xp, grad, x: grad * xp.sinh(x))


cosh = _unary(Cosh, "cosh")


class Tanh(_OfOutput):
    function = staticmethod(np.tanh)
    gradient = staticmethod(lambda xp, grad, out: grad * (1 - out * out))

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        if ctx.xp is np:
            return _tanh_gradient_array(grad, out)
        if out.is_complex():  # grad * conj(1 - out^2), recorded as a composite
            return _apply_gradient(Tanh, ctx.xp, grad, out)
        if grad._data.shape != out._data.shape or grad._data.dtype != out._data.dtype:
            return Tanh.gradient(ctx.xp, grad, out)
        return TanhBackward.apply(grad, out)


def _tanh_gradient_array(grad, out):
    """``grad * (1 - out * out)`` on arrays: the same operations in one buffer, where the three
    temporaries of the expression would each allocate an activation-sized array."""
    if out.dtype.kind == "c":
        return grad * np.conj(1 - out * out)
    if grad.shape != out.shape or grad.dtype != out.dtype or not out.ndim:
        return Tanh.gradient(np, grad, out)
    if _is_reduced(grad):
        # float16 and bfloat16 in float32, rounded once (PyTorch's tanh_backward)
        return _tanh_gradient_array(_widened(grad), _widened(out)).astype(grad.dtype)
    result = np.multiply(out, out)
    np.subtract(1, result, out=result)
    return np.multiply(grad, result, out=result)


def _times_minus_two_array(grad_output, grad, out):
    """``grad_output * grad * out * -2.0`` on arrays, in one buffer (as above)."""
    if not (grad_output.shape == grad.shape == out.shape) or not out.ndim or not (
            grad_output.dtype == grad.dtype == out.dtype):
        return grad_output * grad * out * -2.0
    result = np.multiply(grad_output, grad)
    np.multiply(result, out, out=result)
    return np.multiply(result, -2.0, out=result)


class TanhBackward(_Binary):
    """grad * (1 - out^2), tanh's gradient from its output, as the one node a create_graph
    backward records (instead of three elementwise nodes); it is differentiable in turn."""

    differentiable_backward = True

    @staticmethod
    def forward(ctx, grad, out):
        _Binary._remember(ctx, grad, out)
        ctx.save_for_backward(grad if ctx.needs_input_grad[1] else None, out)
        return _tanh_gradient_array(grad, out)

    @staticmethod
    def backward(ctx, grad_output):
        grad, out = ctx.saved_tensors
        needs_grad, needs_out = ctx.needs_input_grad
        grad_grad = grad_out = None
        if needs_grad:
            xp = ctx.xp
            if xp is np:
                grad_grad = _tanh_gradient_array(grad_output, out)
            else:
                grad_grad = TanhBackward.apply(grad_output, out)
            grad_grad = _grad_for(grad_grad, *ctx.a_meta)
        if needs_out:
            # d/d(out) is -2 grad out. The three-node formula gives (-(g grad)) out twice and
            # sums them; (g grad out) * -2 is the same value, exactly.
            if ctx.xp is np:
                grad_out = _times_minus_two_array(grad_output, grad, out)
            else:
                grad_out = TanhBackwardOut.apply(grad_output, grad, out)
            grad_out = _grad_for(grad_out, *ctx.b_meta)
        return grad_grad, grad_out


class TanhBackwardOut(Op):
    """(g * grad * out) * -2, the gradient of TanhBackward with respect to ``out``, as the one
    node a create_graph backward records (instead of three products); differentiable in turn,
    with the rounding of the three products' own backward."""

    differentiable_backward = True

    @staticmethod
    def forward(ctx, grad_output, grad, out):
        ctx.metas = (_shape_dtype(grad_output), _shape_dtype(grad), _shape_dtype(out))
        ctx.save_for_backward(grad_output, grad, out)
        return _times_minus_two_array(grad_output, grad, out)

    @staticmethod
    def backward(ctx, grad):
        grad_output, gradient, out = ctx.saved_tensors
        needs = ctx.needs_input_grad
        metas = ctx.metas
        scaled = grad * -2.0
        outer = scaled * out if needs[0] or needs[1] else None
        return (_grad_for(outer * gradient, *metas[0]) if needs[0] else None,
                _grad_for(outer * grad_output, *metas[1]) if needs[1] else None,
                _grad_for(scaled * (grad_output * gradient), *metas[2]) if needs[2] else None)


tanh = _unary(Tanh, "tanh")


class Asinh(_OfInput):
    function = staticmethod(np.arcsinh)
    gradient = staticmethod(lambda xp, grad, x: grad / xp.sqrt(x * x + 1))


asinh = _unary(Asinh, "asinh")


def _acosh_gradient(xp, grad, x):
    """grad / sqrt(x^2 - 1) for real x (finite below -1, as PyTorch's); for complex z PyTorch's
    grad / (sqrt(z - 1) sqrt(z + 1)), the principal branch's derivative."""
    if (x.dtype.kind == "c") if xp is np else x.is_complex():
        return grad / (xp.sqrt(x - 1) * xp.sqrt(x + 1))
    return grad / xp.sqrt(x * x - 1)


class Acosh(_OfInput):
    function = staticmethod(np.arccosh)
    gradient = staticmethod(_acosh_gradient)
    quiet = True


acosh = _unary(Acosh, "acosh")


class Atanh(_OfInput):
    function = staticmethod(np.arctanh)
    gradient = staticmethod(lambda xp, grad, x: grad / (1 - x * x))
    quiet = True


atanh = _unary(Atanh, "atanh")


arcsinh, arccosh, arctanh = asinh, acosh, atanh


# Where sinc's derivative switches from its quotient, which cancels near 0 (relative error about
# eps / (pi x)^2), to its Taylor series, which is exact to the dtype's precision below there.
_SINC_SERIES_LIMIT = {np.dtype(np.float16): 0.5, np.dtype(np.float32): 0.3}
_SINC_SERIES_LIMIT_FLOAT64 = 0.01


class Sinc(Op):
    """sin(pi x) / (pi x), 1 at 0 (a primitive: the quotient's derivative is 0/0 there)."""

    output_layout = staticmethod(unary_layout)
    differentiable_backward = True

    @staticmethod
    def forward(ctx, x):
        x = _floating(x)
        ctx.save_for_backward(x)
        ctx.series_limit = _SINC_SERIES_LIMIT.get(x.dtype, _SINC_SERIES_LIMIT_FLOAT64)
        return np.sinc(_widened(x)).astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        xp = ctx.xp
        angle = np.pi * x
        small = abs(angle) < ctx.series_limit
        # The quotient on x moved away from 0 where the series is used, so that the branch not
        # taken stays finite, and so does its gradient.
        safe = xp.where(small, 1, x)
        safe_angle = np.pi * safe
        quotient = (xp.cos(safe_angle) * safe_angle - xp.sin(safe_angle)) / (safe_angle * safe)
        # pi (a cos a - sin a) / a^2 = pi a (-1/3 + a^2/30 - a^4/840 + ...), a = pi x.
        square = angle * angle
        series = np.pi * angle * (square * (1 / 30 - square / 840) - 1 / 3)
        return grad * xp.where(small, series, quotient)


sinc = _unary(Sinc, "sinc")


def deg2rad(input):
    if not isinstance(input, Tensor):
        raise _not_tensor("deg2rad", input)
    return mul(input, 0.017453292519943295)


def rad2deg(input):
    if not isinstance(input, Tensor):
        raise _not_tensor("rad2deg", input)
    return mul(input, 57.29577951308232)
