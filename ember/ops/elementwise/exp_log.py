"""Exponentials and logarithms: exp, exp2, expm1, log, log1p, log2, log10, logaddexp(2), xlogy,
sqrt, rsqrt, sigmoid and logit."""
import numpy as np

from ... import _jit
from ..._layout import unary_layout
from ...autograd.function import Op
from ...tensor import Tensor
from ._operands import (
    _Binary, _binary_math, _floating, _floating_pair, _grad_for, _log, _not_tensor, _OfOperands,
    _PYTHON_NUMBERS,
    _OfInput, _OfInputAnd, _OfOutput, _is_reduced, _refuse_integral, _tensors_only, _unary,
    _widened)

__all__ = ["exp", "exp2", "expm1", "log", "log10", "log1p", "log2", "logaddexp", "logaddexp2",
           "logit", "rsqrt", "sigmoid", "sqrt", "xlogy"]


_LN2 = 0.6931471805599453
_LN10 = 2.302585092994046


class Exp(_OfOutput):
    function = staticmethod(np.exp)
    gradient = staticmethod(lambda xp, grad, out: grad * out)


exp = _unary(Exp, "exp")


class Exp2(_OfOutput):
    function = staticmethod(np.exp2)
    gradient = staticmethod(lambda xp, grad, out: grad * out * _LN2)


exp2 = _unary(Exp2, "exp2")


class Expm1(_OfOutput):
    function = staticmethod(np.expm1)
    gradient = staticmethod(lambda xp, grad, out: grad * (out + 1))


expm1 = _unary(Expm1, "expm1")


class Log(_OfInput):
    function = staticmethod(np.log)
    gradient = staticmethod(lambda xp, grad, x: grad / x)
    quiet = True


log = _unary(Log, "log")


class Log1p(_OfInput):
    _torch_name = "Log1PBackward0"

    function = staticmethod(np.log1p)
    gradient = staticmethod(lambda xp, grad, x: grad / (1 + x))
    quiet = True


log1p = _unary(Log1p, "log1p")


class Log2(_OfInput):
    function = staticmethod(np.log2)
    gradient = staticmethod(lambda xp, grad, x: grad / (x * _LN2))
    quiet = True


log2 = _unary(Log2, "log2")


class Log10(_OfInput):
    function = staticmethod(np.log10)
    gradient = staticmethod(lambda xp, grad, x: grad / (x * _LN10))
    quiet = True


log10 = _unary(Log10, "log10")


class LogAddExp(_Binary):
    """log(e^a + e^b) (``base_power`` = exp); LogAddExp2 is the base-2 form. The gradient of
    each side is 1 / (1 + base^(other - side)), from the inputs as PyTorch's (the output may
    then change in place before backward)."""

    function = staticmethod(np.logaddexp)
    base_power = staticmethod(lambda xp, x: xp.exp(x))
    kernel = "logaddexp_cpu"
    differentiable_backward = True

    @classmethod
    def forward(cls, ctx, a, b):
        _Binary._remember(ctx, a, b)
        _refuse_integral(a, b, cls.kernel)
        a, b = _floating_pair(a, b)
        ctx.save_for_backward(a, b)
        return np.asarray(cls.function(a, b))

    @classmethod
    def backward(cls, ctx, grad):
        a, b = ctx.saved_tensors
        needs_a, needs_b = ctx.needs_input_grad
        xp = ctx.xp
        grad_a = grad / (1 + cls.base_power(xp, b - a)) if needs_a else None
        grad_b = grad / (1 + cls.base_power(xp, a - b)) if needs_b else None
        return (_grad_for(grad_a, *ctx.a_meta) if needs_a else None,
                _grad_for(grad_b, *ctx.b_meta) if needs_b else None)


def logaddexp(input, other):
    _tensors_only("logaddexp", input, other)
    return _binary_math(LogAddExp, input, other, "logaddexp")


class LogAddExp2(LogAddExp):
    function = staticmethod(np.logaddexp2)
    base_power = staticmethod(lambda xp, x: xp.exp2(x))
    kernel = "logaddexp2_cpu"


def logaddexp2(input, other):
    _tensors_only("logaddexp2", input, other)
    return _binary_math(LogAddExp2, input, other, "logaddexp2")


def _x_times_log(a, b, log):
    """x * log(y) (log being np.log or np.log1p), 0 where x == 0 unless y is NaN; float16
    computed in float32."""
    dtype = np.result_type(a, b)
    wide_a = _widened(a) if type(a) is np.ndarray else a
    wide_b = _widened(b) if type(b) is np.ndarray else b
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(wide_a == 0, 0, wide_a * log(wide_b))
    return np.where(np.isnan(wide_b), np.nan, out).astype(dtype, copy=False)


def _xlogy(a, b):
    return _x_times_log(a, b, np.log)


def _xlog1py(a, b):
    return _x_times_log(a, b, np.log1p)


def _log1p(xp, value):
    """log1p of a backward operand, a plain float for a Python number (as ``_log``)."""
    if isinstance(value, _PYTHON_NUMBERS):
        with np.errstate(divide="ignore", invalid="ignore"):
            return float(np.log1p(value))
    return xp.log1p(value)


class XLogY(_OfOperands):
    """x * log(y), defined as 0 where x == 0 (unless y is NaN): the entropy-style product."""

    function = staticmethod(_xlogy)
    _torch_name = "XlogyBackward0"
    log = staticmethod(_log)
    pole = 0  # log(y - pole) of the backward: y where log is -inf (and NaN below)

    @classmethod
    def forward(cls, ctx, a, b):
        if type(a) is not np.ndarray or type(b) is not np.ndarray:
            # PyTorch's nodes with a number operand list the tensor only
            stem = cls._torch_name[:-1]
            ctx._torch_name = stem + ("2" if type(a) is np.ndarray else "1")
            ctx._next_order = (0,) if type(a) is np.ndarray else (1,)
        return super().forward(ctx, a, b)

    @classmethod
    def backward(cls, ctx, grad):
        a, b = ctx.saved_tensors
        needs_a, needs_b = ctx.needs_input_grad
        xp = ctx.xp
        grad_a = grad_b = None
        with np.errstate(divide="ignore", invalid="ignore"):
            if needs_a:
                # log(y), but 0 where x == 0 and y is at or below the pole (PyTorch's convention).
                grad_a = _grad_for(xp.where((a == 0) & (b <= cls.pole), 0,
                                            grad * cls.log(xp, b)), *ctx.a_meta)
            if needs_b:
                grad_b = _grad_for(grad * a / (b - cls.pole), *ctx.b_meta)
        return grad_a, grad_b


def xlogy(input, other):
    return _binary_math(XLogY, input, other, "xlogy")


class XLog1PY(XLogY):
    """x * log1p(y), 0 where x == 0 (unless y is NaN), y = inf included."""

    function = staticmethod(_xlog1py)
    _torch_name = "SpecialXlog1PyBackward0"
    log = staticmethod(_log1p)
    pole = -1


def xlog1py(input, other):
    return _binary_math(XLog1PY, input, other, "xlog1py")


def _entr(x):
    """-x log x above 0, 0 at 0, -inf below (NaN kept)."""
    inside = -x * np.log(x)
    outside = np.where(x == 0, 0.0, np.where(np.isnan(x), x, -np.inf))
    return np.where(x > 0, inside, outside).astype(x.dtype, copy=False)


class Entr(_OfInput):
    """torch.special.entr as one op: PyTorch's gradient is -(1 + log x) everywhere (inf at 0,
    NaN below), which a composition masked with where would zero."""

    _torch_name = "SpecialEntrBackward0"
    function = staticmethod(_entr)
    gradient = staticmethod(lambda xp, grad, x: grad * -(1 + xp.log(x)))
    quiet = True


def _reciprocal_sqrt(x):
    return (1 / np.sqrt(_widened(x))).astype(x.dtype, copy=False)


class Sqrt(_OfOutput):
    function = staticmethod(np.sqrt)
    gradient = staticmethod(lambda xp, grad, out: grad / (2 * out))
    quiet = True


sqrt = _unary(Sqrt, "sqrt")


class Rsqrt(_OfOutput):
    function = staticmethod(_reciprocal_sqrt)
    gradient = staticmethod(lambda xp, grad, out: grad * (-0.5 * out * out * out))
    quiet = True


rsqrt = _unary(Rsqrt, "rsqrt")


_ONE_32 = np.float32(1.0)


@_jit.kernel
def _sigmoid_float32_kernel(x, out):
    """1 / (1 + exp(-x)) of a flat float32 array in one pass, exp being ember._jit.exp_float32
    (within 2 ulp of NumPy's exp, so within a few ulp of the NumPy passes)."""
    for index in range(x.size):
        out[index] = _ONE_32 / (_ONE_32 + _jit.exp_float32(-x[index]))


@_jit.kernel
def _sigmoid_float32_in_place(x):
    """``_sigmoid_float32_kernel`` with ``out`` being ``x``: one array, so that the loop
    vectorises (for two arrays that overlap, LLVM's runtime check picks its scalar loop, 5x
    slower)."""
    for index in range(x.size):
        x[index] = _ONE_32 / (_ONE_32 + _jit.exp_float32(-x[index]))


def sigmoid_array(x, out=None):
    """1 / (1 + exp(-x)) on a floating array (PyTorch's CPU formula) into ``out`` (a new buffer
    if None; may be ``x``): one compiled pass for float32, else four NumPy passes without
    temporaries. exp(-x) overflows to inf below about -88 in float32, which gives the right
    0."""
    if out is None:
        out = np.empty(x.shape, x.dtype)
    if out is x:
        compiled = _jit.compiled_float32(_sigmoid_float32_in_place, x)
        if compiled is not None:
            compiled(x.reshape(-1))
            return x
    else:
        compiled = _jit.compiled_float32(_sigmoid_float32_kernel, x, out)
        if compiled is not None:
            compiled(x.reshape(-1), out.reshape(-1))
            return out
    return np.reciprocal(one_plus_exp_negated(x, out), out=out)


def one_plus_exp_negated(x, out):
    """1 + exp(-x) into ``out`` (may be ``x``) in three NumPy passes: the denominator of
    sigmoid and SiLU. exp(-x) overflows to inf below about -88 in float32, harmlessly."""
    # (np.negative in place miscomputes strided float32 in NumPy 2.4: times -1 there)
    np.multiply(x, -1, out=out) if out is x else np.negative(x, out=out)
    with np.errstate(over="ignore"):
        np.exp(out, out=out)
    out += 1
    return out


class Sigmoid(Op):
    output_layout = staticmethod(unary_layout)
    differentiable_backward = True
    _saved_names = ("result",)

    @staticmethod
    def forward(ctx, x):
        x = _floating(x)
        out = sigmoid_array(_widened(x)).astype(x.dtype, copy=False)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        if ctx.xp is np and _is_reduced(grad):
            # float16 and bfloat16 in float32, rounded once (PyTorch's sigmoid_backward)
            wide = _widened(out)
            return (_widened(grad) * wide * (1 - wide)).astype(grad.dtype)
        if ctx.xp is np and out.dtype.kind == "c":
            return grad * np.conj(out * (1 - out))
        if ctx.xp is not np and out.is_complex():
            return grad * ctx.xp.conj(out * (1 - out))
        return grad * out * (1 - out)


sigmoid = _unary(Sigmoid, "sigmoid")


def _logit(x, eps):
    wide = _widened(x)
    clamped = wide if eps is None else np.clip(wide, eps, 1 - eps)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.log(clamped / (1 - clamped)).astype(x.dtype, copy=False)


def _logit_gradient(xp, grad, x, eps):
    with np.errstate(divide="ignore", invalid="ignore"):
        derivative = grad / (x * (1 - x))
    if eps is None:
        return xp.where((x < 0) | (x > 1), np.nan, derivative)
    return xp.where((x >= eps) & (x <= 1 - eps), derivative, 0)


class Logit(_OfInputAnd):
    """log(p / (1 - p)); its derivative is NaN outside [0, 1] (and 0 outside [eps, 1 - eps] when
    eps clamps), as PyTorch's, which the chain rule through log and div would not give."""

    function = staticmethod(_logit)
    gradient = staticmethod(_logit_gradient)


def logit(input, eps=None):
    """log(p / (1 - p)), with p clamped to [eps, 1 - eps] when eps is given."""
    if not isinstance(input, Tensor):
        raise _not_tensor("logit", input)
    if eps is not None and not isinstance(eps, (int, float)):
        raise TypeError(f"logit(): argument 'eps' must be float, not {type(eps).__name__}")
    return Logit.apply(input, eps)
