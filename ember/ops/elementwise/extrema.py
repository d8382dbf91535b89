"""Extremes and clamping: maximum, minimum, fmax, fmin, clamp and relu (a clamp at zero)."""
import numpy as np

from ... import _jit, _threads
from ..._dtype import overflow_error, scalar_overflows, wrapped_int
from ..._layout import memory_order, unary_layout
from ...autograd.function import Op, linked_to_input
from ...tensor import Tensor
from .._select import where
from ._operands import (
    _Binary, _binary_math, _cast, _common_float, _grad_for, _not_implemented, _not_tensor,
    _OfOperands, _promote, _result_dtype, _shape_dtype, _shape_error, _tensors_only, _unary)

__all__ = ["clamp", "clamp_max", "clamp_min", "clip", "fmax", "fmin", "maximum", "minimum", "relu"]


class _Extreme(_OfOperands):
    """maximum/minimum: ``function`` picks; ``loses(a, b)`` says where ``a`` is not picked. The
    gradient goes to the picked operand, split evenly on ties; where a NaN makes neither lose,
    both get it (PyTorch)."""

    promote = staticmethod(_promote)
    loses = None

    @classmethod
    def backward(cls, ctx, grad):
        a, b = ctx.saved_tensors
        needs_a, needs_b = ctx.needs_input_grad
        xp = ctx.xp
        shared = where(xp, a == b, grad * 0.5, grad)
        grad_a = _grad_for(where(xp, cls.loses(a, b), 0, shared), *ctx.a_meta) if needs_a else None
        grad_b = _grad_for(where(xp, cls.loses(b, a), 0, shared), *ctx.b_meta) if needs_b else None
        return grad_a, grad_b


class Maximum(_Extreme):
    function = staticmethod(np.maximum)
    loses = staticmethod(lambda a, b: a < b)


def maximum(input, other):
    return _extreme(Maximum, input, other, "maximum")


class Minimum(_Extreme):
    function = staticmethod(np.minimum)
    loses = staticmethod(lambda a, b: a > b)


def minimum(input, other):
    return _extreme(Minimum, input, other, "minimum")


def _refuse_complex_pair(input, other, name):
    if input._data.dtype.kind == "c" or other._data.dtype.kind == "c":
        raise RuntimeError(f"{name} not implemented for complex tensors.")


def _extreme(cls, input, other, name):
    """maximum/minimum of two tensors (PyTorch refuses a number here)."""
    try:
        if not isinstance(input, Tensor) or not isinstance(other, Tensor):
            raise TypeError(f"{name}(): argument 'other' (position 2) must be Tensor, not "
                            f"{type(other if isinstance(input, Tensor) else input).__name__}")
        if input._data.dtype.kind == "c" or other._data.dtype.kind == "c":
            raise RuntimeError(f"{name} not implemented for complex tensors.")
        return cls.apply(*_common_float(input, other))
    except ValueError as error:
        raise _shape_error(error, input, other) from None


class _NanIgnoringExtreme(_Binary):
    """fmax/fmin: like maximum/minimum but a NaN loses to a number; the gradient goes to the
    chosen operand (to ``input`` on ties, as PyTorch)."""

    ufunc = None
    keeps_input = None
    differentiable_backward = True

    @classmethod
    def forward(cls, ctx, a, b):
        _Binary._remember(ctx, a, b)
        a, b = _promote(a, b)
        ctx.save_for_backward(np.asarray(cls.keeps_input(a, b) | np.isnan(b)))
        return np.asarray(cls.ufunc(a, b))

    @staticmethod
    def backward(ctx, grad):
        (input_chosen,) = ctx.saved_tensors
        needs_a, needs_b = ctx.needs_input_grad
        xp = ctx.xp
        return (_grad_for(where(xp, input_chosen, grad, 0), *ctx.a_meta) if needs_a else None,
                _grad_for(where(xp, input_chosen, 0, grad), *ctx.b_meta) if needs_b else None)


class Fmax(_NanIgnoringExtreme):
    ufunc = staticmethod(np.fmax)
    keeps_input = staticmethod(np.greater_equal)


class Fmin(_NanIgnoringExtreme):
    ufunc = staticmethod(np.fmin)
    keeps_input = staticmethod(np.less_equal)


def fmax(input, other):
    _tensors_only("fmax", input, other)
    _refuse_complex_pair(input, other, "fmax")
    return _binary_math(Fmax, input, other, "fmax")


def fmin(input, other):
    _tensors_only("fmin", input, other)
    _refuse_complex_pair(input, other, "fmin")
    return _binary_math(Fmin, input, other, "fmin")


_FLOAT32 = np.dtype(np.float32)
_FLOAT64 = np.dtype(np.float64)
_INF = float("inf")
try:
    # NumPy's clip ufunc itself: np.clip's Python wrappers cost ~0.9 us a call
    from numpy._core.umath import clip as _clip
except ImportError:  # another NumPy layout
    _clip = np.clip


def _plain_bound(bound):
    """None, or a Python number that float32 holds (no conversion check needed)."""
    return bound is None or (type(bound) is float or type(bound) is int) and \
        -3.4e38 < bound < 3.4e38


class Clamp(Op):
    """min(max(x, low), high); bounds may be numbers or tensors (which get gradients too). The
    result has the dtype of x and tensor bounds together (PyTorch's promotion)."""

    output_layout = staticmethod(unary_layout)
    _next_order = (0,)  # number bounds: PyTorch lists the input only
    differentiable_backward = True

    @staticmethod
    def forward(ctx, x, low, high):
        if (x.dtype == _FLOAT32 or x.dtype == _FLOAT64) and _plain_bound(low) and \
                _plain_bound(high):
            # the common call, number bounds on a float32/float64 tensor: NumPy's clip has vector
            # loops for number bounds, which maximum and minimum with a scalar lack (16k
            # float32: 3 us against 11); an infinite bound for a missing one leaves the same
            # values, NaN and signed zeros included (PyTorch's too)
            target = x.dtype
            ctx._torch_name = "ClampBackward1"  # number bounds (ClampBackward0: tensors)
            out = _clip(x, -_INF if low is None else low, _INF if high is None else high)
        else:
            target = _result_dtype(x, low, high).numpy
            if target == np.bool_:
                _refuse_bool_clamp(low, high)
            if target.kind == "c":
                raise NotImplementedError("clamp is not supported for complex types")
            low, high = _number_bound(low, target), _number_bound(high, target)
            if type(low) is not np.ndarray and type(high) is not np.ndarray:
                ctx._torch_name = "ClampBackward1"  # number bounds (ClampBackward0: tensors)
            else:
                ctx._next_order = None  # ClampBackward0 lists the input and both bounds
            out = _cast(x, target)
            if low is not None:
                out = np.maximum(out, _cast(low, target) if isinstance(low, np.ndarray) else low)
            if high is not None:
                out = np.minimum(out, _cast(high, target) if isinstance(high, np.ndarray)
                                 else high)
            if out.dtype != target:
                out = out.astype(target)
        needs_x, needs_low, needs_high = ctx.needs_input_grad
        ctx.metas = (_shape_dtype(x), _shape_dtype(low), _shape_dtype(high))
        if needs_low or needs_high:
            ctx.save_for_backward(x, low, high)
        elif needs_x:
            # Number bounds: a boolean mask is all backward needs (a quarter of x's bytes).
            ctx.save_for_backward(np.asarray(_clamp_inside(x, low, high)))
        return out

    @staticmethod
    def backward(ctx, grad):
        needs_x, needs_low, needs_high = ctx.needs_input_grad
        x_meta, low_meta, high_meta = ctx.metas
        xp = ctx.xp
        if not (needs_low or needs_high):
            (inside,) = ctx.saved_tensors
            return _grad_for(where(xp, inside, grad, 0), *x_meta), None, None
        x, low, high = ctx.saved_tensors
        grad_x = grad_low = grad_high = None
        if needs_x:
            grad_x = _grad_for(where(xp, _clamp_inside(x, low, high), grad, 0), *x_meta)
        if needs_low:
            # PyTorch: where the bounds cross (low > high) the result is high.
            below = x < low if high is None else (x < low) & (low < high)
            grad_low = _grad_for(where(xp, below, grad, 0), *low_meta)
        if needs_high:
            above = x > high if low is None else (x > high) | (low > high)
            grad_high = _grad_for(where(xp, above, grad, 0), *high_meta)
        return grad_x, grad_low, grad_high


def _refuse_bool_clamp(low, high):
    """PyTorch clamps bool tensors by one tensor bound only; its errors otherwise."""
    if isinstance(low, np.ndarray) and isinstance(high, np.ndarray):
        kernel = "clamp_cpu"
    elif isinstance(low, np.ndarray) or isinstance(high, np.ndarray):
        return
    else:
        kernel = "clamp_scalar_cpu" if low is not None and high is not None else \
            "clamp_min_scalar_cpu" if high is None else "clamp_max_scalar_cpu"
    raise _not_implemented(kernel, np.dtype(np.bool_))


def _clamp_inside(x, low, high):
    if low is None:
        return x <= high
    if high is None:
        return x >= low
    return (x >= low) & (x <= high)


def _number_bound(bound, target):
    """A number bound in the result dtype as PyTorch converts it: RuntimeError where it does not
    fit, an integer wrapped (uint8 takes -1 as 255)."""
    if type(bound) is float and target.kind == "f" and target.itemsize >= 4 and \
            -3.4e38 < bound < 3.4e38:
        return bound  # the common case: fits float32 and float64
    if type(bound) is not int and type(bound) is not float:
        return bound
    if scalar_overflows(bound, target):
        raise overflow_error(target)
    return wrapped_int(bound, target) if type(bound) is int and target.kind in "iu" else bound


def clamp(input, min=None, max=None):
    return _clamp("clamp", input, min, max)


def _clamp(operation, input, min, max):
    """clamp's checks, PyTorch's: a tensor input, bounds that are both numbers or both tensors
    (or None, not both), shapes that broadcast."""
    if not isinstance(input, Tensor):
        raise _not_tensor(operation, input)
    min = min.item() if isinstance(min, np.generic) else min  # NumPy scalars are numbers
    max = max.item() if isinstance(max, np.generic) else max
    for name, bound in (("min", min), ("max", max)):
        if bound is not None and not isinstance(bound, (Tensor, int, float)):
            raise TypeError(f"{operation}(): argument '{name}' must be Tensor or Number, not "
                            f"{type(bound).__name__}")
    if min is None and max is None:
        raise RuntimeError("torch.clamp: At least one of 'min' or 'max' must not be None")
    if min is not None and max is not None and isinstance(min, Tensor) != isinstance(max, Tensor):
        raise TypeError(f"{operation}(): 'min' and 'max' must both be Tensors or both be "
                        f"numbers, got {type(min).__name__} and {type(max).__name__}")
    try:
        return Clamp.apply(input, min, max)
    except ValueError as error:
        raise _shape_error(error, input, min, max) from None


clip = clamp


def clamp_min(input, min):
    if min is None:
        raise TypeError("clamp_min(): argument 'min' must be Tensor or Number, not NoneType")
    return _clamp("clamp_min", input, min, None)


def clamp_max(input, max):
    if max is None:
        raise TypeError("clamp_max(): argument 'max' must be Tensor or Number, not NoneType")
    return _clamp("clamp_max", input, None, max)


class Relu(Op):
    output_layout = staticmethod(unary_layout)
    differentiable_backward = True
    _saved_names = ("result",)

    @staticmethod
    def forward(ctx, x):
        if x.dtype == np.bool_:
            raise RuntimeError("Boolean inputs not supported for relu")
        if x.dtype.kind == "f" and x.ndim and x.flags.c_contiguous:
            # a large pass cut over ember's threads (a non-contiguous input keeps NumPy's layout)
            out = _threads.elementwise(_relu_into, np.empty(x.shape, x.dtype), x)
        elif x.dtype.kind == "f":
            # strided (channels_last): clip's vector loop in memory order, the input's layout
            out = np.asarray(_clip(x, 0.0, _INF))
        else:
            if x.dtype.kind == "c":
                raise NotImplementedError("clamp is not supported for complex types")
            out = np.maximum(x, 0)
            if type(out) is not np.ndarray:  # a ufunc's NumPy scalar for a 0-d input
                out = np.asarray(out)
        ctx.save_for_backward(out)  # the output itself, so in-place changes to it are seen
        return out

    @staticmethod
    def backward(ctx, grad):
        # PyTorch's threshold_backward: exactly 0 where the output is <= 0, else grad (a NaN or
        # negative grad there gives 0, not NaN or -0 as grad * mask would; a NaN output passes
        # grad)
        (out,) = ctx.saved_tensors
        xp = ctx.xp
        if xp is not np:
            # PyTorch's threshold_backward takes the result (derivative 0): under create_graph
            # the gradient depends on relu's output, so a further grad runs relu's backward again
            return linked_to_input(xp.where(out <= 0, 0, grad), (ctx, 0), None)
        if (grad.shape == out.shape and grad.dtype == out.dtype and grad.ndim
                and (grad.dtype == np.float32 or grad.dtype == np.float64)):
            compiled = _relu_grad_kernel.compiled()
            if compiled is not None and grad.flags.c_contiguous and out.flags.c_contiguous:
                zero = grad.dtype.type(0)
                return _threads.elementwise(
                    lambda grad, out_values, out: compiled(
                        grad.reshape(-1), out_values.reshape(-1), zero, out.reshape(-1)),
                    np.empty(grad.shape, grad.dtype), grad, out)
            order = memory_order(out)
            if compiled is not None and order is not None and grad.strides == out.strides:
                # one dense layout (channels_last): the kernel over both in memory order
                memory = np.empty(out.transpose(order).shape, out.dtype)
                compiled(grad.transpose(order).reshape(-1), out.transpose(order).reshape(-1),
                         grad.dtype.type(0), memory.reshape(-1))
                return memory.transpose(np.argsort(order))
        return np.where(out <= 0, grad.dtype.type(0), grad)


def _relu_into(x, out):
    # clip, not maximum: NumPy's maximum with a scalar has no vector loop (1M float32: 314 us
    # against 97); clip also keeps -0.0 and NaN as PyTorch's relu does
    _clip(x, 0.0, _INF, out=out)


@_jit.kernel
def _relu_grad_kernel(grad, relu_out, zero, out):
    """out = ``zero`` where relu_out <= 0, else grad (a NaN output passes grad), in one
    vectorised pass over flat arrays (twice as fast as NumPy's where or a multiply by a mask)."""
    for index in range(grad.size):
        out[index] = zero if relu_out[index] <= 0 else grad[index]


relu = _unary(Relu, "relu")
