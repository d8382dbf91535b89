"""PyTorch's ``out=`` argument of its top-level functions (``torch.matmul(a, b, out=c)``, the
Tensors tutorial's first page): the result is computed as usual, then written into ``out`` (a
tensor, or a tuple of them for functions that return several), which is resized to the result's
shape (with PyTorch's deprecation warning when it held elements) and returned. As in PyTorch,
the result must cast to ``out``'s dtype, and ``out=`` refuses inputs that require grad."""
import functools
import warnings

from . import _dtype
from .autograd.grad_mode import is_grad_enabled, no_grad
from .tensor import Tensor

__all__ = ["accepting_out"]

# torch 2.13's top-level functions that take ``out=`` and that ember provides (from their
# signatures, documentation and calls; the factories take it themselves).
OUT_NAMES = (
    "abs acos acosh add addbmm addcdiv addcmul addmm addmv addr all amax amin aminmax angle any "
    "asin asinh atan atan2 atanh baddbmm bernoulli bitwise_and bitwise_left_shift bitwise_not "
    "bitwise_or bitwise_right_shift bitwise_xor bmm bucketize cat ceil chain_matmul cholesky "
    "cholesky_inverse cholesky_solve clamp clip column_stack complex concat concatenate "
    "conj_physical copysign cos cosh cross cummax cummin cumprod cumsum deg2rad diag diff "
    "digamma div divide dot dstack eq erf erfc erfinv exp exp2 expm1 fix float_power floor "
    "floor_divide fmax fmin fmod frac frexp gather gcd ge geqrf ger greater greater_equal gt "
    "heaviside histc histogram hstack hypot i0 igamma igammac index_select inner inverse "
    "isneginf isposinf kron kthvalue lcm ldexp le lerp less less_equal lgamma log log10 log1p "
    "log2 logaddexp logaddexp2 logcumsumexp logical_and logical_not logical_or logical_xor logit "
    "logsumexp lt lu lu_solve lu_unpack masked_select matmul matrix_power max maximum mean median "
    "min minimum mm mode msort mul multinomial multiply mv mvlgamma nan_to_num nanmean nanmedian "
    "nanquantile narrow_copy ne neg negative nextafter nonzero norm not_equal outer polar "
    "polygamma pow qr quantile rad2deg reciprocal remainder renorm round row_stack rsqrt "
    "searchsorted sgn sigmoid sign signbit sin sinc sinh sort sqrt square stack std std_mean sub "
    "subtract svd take_along_dim tan tanh topk triangular_solve tril triu trunc var var_mean vdot "
    "vstack where xlogy sum prod argmax argmin clamp_min clamp_max true_divide isin softmax "
    "log_softmax tensordot index_add").split()


# The functions among them that PyTorch gives no derivative: their out= takes inputs that
# require grad (the rest refuse them).
NOT_DIFFERENTIABLE = frozenset((
    "all any argmax argmin bucketize eq floor_divide ge greater greater_equal gt heaviside histc "
    "histogram isin isneginf isposinf le less less_equal logical_and logical_not logical_or "
    "logical_xor lt multinomial ne nonzero not_equal searchsorted signbit").split())

# the names PyTorch's refusal gives where a function runs through another
_REFUSAL_NAMES = {"fix": "trunc", "msort": "sort"}

# ops whose kernel refuses an out= it cannot cast to with a TypeError of its own
_CAST_REFUSALS = {"cat": "cat", "concat": "cat", "concatenate": "cat", "stack": "cat"}


def _structured(value, out, name):
    return (f"Expected out tensor to have dtype {_dtype.cpp_type_name(value.dtype.numpy)}, but "
            f"got {_dtype.cpp_type_name(out.dtype.numpy)} instead")


def _same_scalar_type(value, out, name):
    return f"{name}(): self and result must have the same scalar type"


def _named(template):
    def message(value, out, name):
        return template.format(value=_dtype.scalar_type_name(value.dtype.numpy),
                               out=_dtype.scalar_type_name(out.dtype.numpy))
    return message


# ops whose kernels take only an out= of the result's very dtype, each with its own words
_EXACT_OUT = {
    "gather": _structured, "mm": _structured, "bmm": _structured, "addmm": _structured,
    "topk": _structured, "sort": _structured, "max": _structured, "min": _structured,
    "index_select": _same_scalar_type, "masked_select": _same_scalar_type,
    "take": _named("take(): self and out expected to have the same dtype, but got self.dtype = "
                   "{value} and out.dtype = {out}"),
    "where": _named("Expected out type to be {value} but got {out}"),
    "amax": _named("Expected the dtype for input and out to match, but got {value} for input's "
                   "dtype and {out} for out's dtype."),
    "amin": _named("Expected the dtype for input and out to match, but got {value} for input's "
                   "dtype and {out} for out's dtype."),
    "dot": _named("result dtype {out} does not match input dtype {value}"),
}

# reductions that compute in out='s dtype when no dtype is given (the input cast to it first),
# with the number of positional arguments before their dtype
_OUT_DTYPE_REDUCTIONS = {"sum": 3, "prod": 3, "cumsum": 2, "cumprod": 2}


def accepting_out(function, name):
    """``function`` taking PyTorch's keyword ``out=`` as well."""
    differentiable = name not in NOT_DIFFERENTIABLE

    @functools.wraps(function)
    def with_out(*args, out=None, **kwargs):
        if out is None:
            return function(*args, **kwargs)
        if (name in _OUT_DTYPE_REDUCTIONS and isinstance(out, Tensor)
                and kwargs.get("dtype") is None and len(args) <= _OUT_DTYPE_REDUCTIONS[name]):
            kwargs["dtype"] = out.dtype
        if differentiable and is_grad_enabled() and _any_requires_grad(args, kwargs):
            raise RuntimeError(f"{_REFUSAL_NAMES.get(name, name)}(): functions with out=... "
                               f"arguments don't support automatic differentiation, but one of "
                               f"the arguments requires grad.")
        result = function(*args, **kwargs)
        if isinstance(result, tuple):
            if not isinstance(out, (tuple, list)) or len(out) != len(result):
                raise TypeError(f"{name}(): argument 'out' must be a tuple of {len(result)} "
                                f"Tensors")
            if name in _EXACT_OUT:  # every output checked before any is written
                for target, value in zip(out, result):
                    if isinstance(target, Tensor) and target.dtype is not value.dtype:
                        raise RuntimeError(_EXACT_OUT[name](value, target, name))
            for target, value in zip(out, result):
                _write(target, value, name)
            return type(result)(out)  # a named result tuple keeps its type
        if not isinstance(out, Tensor):
            raise TypeError(f"{name}(): argument 'out' must be Tensor, not {type(out).__name__}")
        _write(out, result, name)
        return out

    return with_out


def _any_requires_grad(args, kwargs):
    for value in list(args) + list(kwargs.values()):
        if isinstance(value, Tensor) and value.requires_grad:
            return True
        if isinstance(value, (list, tuple)) and any(
                isinstance(item, Tensor) and item.requires_grad for item in value):
            return True
    return False


def _write(out, value, name=None):
    """``value`` into ``out``: cast-checked, ``out`` resized to its shape, then copied."""
    if not isinstance(value, Tensor):
        raise TypeError(f"out=: the result is a {type(value).__name__}, not a Tensor")
    source, target = value.dtype, out.dtype
    if source is not target and name in _EXACT_OUT:
        raise RuntimeError(_EXACT_OUT[name](value, out, name))
    if not _can_cast(source, target):
        if name in _CAST_REFUSALS:
            raise TypeError(f"{_dtype.repr_prefix()}.{_CAST_REFUSALS[name]}(): input types can't "
                            f"be cast to the desired output type "
                            f"{_dtype.scalar_type_name(target.numpy)}")
        raise RuntimeError(f"result type {_dtype.scalar_type_name(source.numpy)} can't be cast "
                           f"to the desired output type "
                           f"{_dtype.scalar_type_name(target.numpy)}")
    if tuple(out.shape) != tuple(value.shape):
        if out.numel() != 0:
            warnings.warn(f"An output with one or more elements was resized since it had shape "
                          f"{list(out.shape)}, which does not match the required output shape "
                          f"{list(value.shape)}. This behavior is deprecated, and in a future "
                          f"PyTorch release outputs will not be resized unless they have zero "
                          f"elements. You can explicitly reuse an out tensor t by resizing it, "
                          f"inplace, to zero elements with t.resize_(0).", UserWarning,
                          stacklevel=4)
        out.resize_(tuple(value.shape))
    with no_grad():
        out.copy_(value)


def _can_cast(source, target):
    """PyTorch's canCast: no demotion across categories (complex to real, float to integer,
    anything but bool to bool)."""
    return source._category <= target._category
