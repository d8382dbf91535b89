"""Copies and casts as ops: cast (Tensor.to), clone, copy_into (Tensor.copy_), fill_like, and the
autocast of an op's arguments."""
import contextlib
import functools

import numpy as np

from ... import _halfcast
from ..._autocast_state import (
    AUTOCAST_POLICY, DEFAULT_DTYPES, KERNEL, LOWER_PRECISION, _autocast_state)
from ..._dtype import accumulation_dtype, float32, from_numpy_dtype, is_floating
from ..._layout import arrange, check_memory_format, preserve_format
from .complex import real_part_for
from ...autograd.function import Op
from ...tensor import Tensor
from ._operands import _grad_for, _not_tensor, _shape_dtype

# cast, copy_into and fill_like back Tensor.to, Tensor.copy_ and Tensor.fill_ only.
__all__ = ["clone"]


class Cast(Op):
    _next_order = (0,)  # PyTorch lists the one tensor input, not the options
    _torch_name = "ToCopyBackward0"

    differentiable_backward = True

    @staticmethod
    def forward(ctx, x, target):
        ctx.source = x.dtype
        return _halfcast.astype(x, target.numpy)

    @staticmethod
    def backward(ctx, grad):
        if not is_floating(ctx.source) and ctx.source.kind != "c":
            return None, None
        if ctx.source.kind != "c":
            grad = real_part_for(grad, ctx.source)  # a real input's part of a complex gradient
        return ctx.xp.astype(grad, ctx.source), None


def cast(input, dtype):
    return Cast.apply(input, dtype)


class Clone(Op):
    _next_order = (0,)  # PyTorch lists the one tensor input, not the options
    differentiable_backward = True

    @staticmethod
    def forward(ctx, x, memory_format=preserve_format):
        if memory_format is preserve_format or not isinstance(x, np.ndarray):
            # order "K": a dense input's layout is kept (a sparse storage copies itself).
            return x.copy(order="K") if isinstance(x, np.ndarray) else x.copy()
        arranged = arrange(x, memory_format)
        return arranged.copy(order="C") if arranged is x else arranged

    @staticmethod
    def backward(ctx, grad):
        return grad, None


def clone(input, *, memory_format=preserve_format):
    """A copy of ``input`` that records a graph; its memory layout follows ``memory_format`` (by
    default the input's own, as PyTorch's preserve_format)."""
    if not isinstance(input, Tensor):
        raise _not_tensor("clone", input)
    if memory_format is not preserve_format:
        check_memory_format("clone", memory_format)
    return Clone.apply(input, memory_format)


class CopyInto(Op):
    """``dst.copy_(src)`` as an op: the result is src broadcast and cast to dst's shape and dtype."""

    differentiable_backward = True

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
        return (ctx.xp.zeros_like(grad) if needs_destination else None,
                _grad_for(grad, *ctx.source_meta) if needs_source else None)


def copy_into(destination, source):
    return CopyInto.apply(destination, source)


class FillLike(Op):
    differentiable_backward = True

    @staticmethod
    def forward(ctx, x, value):
        return np.full_like(x, value)

    @staticmethod
    def backward(ctx, grad):
        xp = ctx.xp
        return xp.zeros_like(grad), (xp.sum(grad) if ctx.needs_input_grad[1] else None)


def fill_like(input, value):
    return FillLike.apply(input, value)


def autocast_argument(value, target):
    """``value`` cast to ``target`` if it is a floating tensor other than float64 (PyTorch's
    rule for which arguments autocast casts), else ``value``."""
    if not isinstance(value, Tensor):
        return value
    source = value._data.dtype
    if not is_floating(source) or source == np.float64 or source == target.numpy:
        return value
    return cast(value, target)


@contextlib.contextmanager
def cpu_autocast_off():
    """CPU autocast off inside the block: a layer that has cast its own arguments runs its parts
    in the dtypes it chose."""
    state = _autocast_state.get()
    token = _autocast_state.set(state._replace(enabled=state.enabled - {"cpu"}))
    try:
        yield
    finally:
        _autocast_state.reset(token)


def autocast_op(name):
    """Decorate the public function of op ``name`` (a key of ``AUTOCAST_POLICY``): under CPU
    autocast its tensor arguments are cast by the op's policy and its body runs with autocast
    off, so that the ops it is built from are not cast again."""
    policy = AUTOCAST_POLICY[name]

    def decorate(function):
        @functools.wraps(function)
        def autocast_wrapper(*args, **kwargs):
            state = _autocast_state.get()
            if "cpu" not in state.enabled:
                return function(*args, **kwargs)
            if policy != KERNEL:
                if policy == LOWER_PRECISION:
                    target = state.dtypes.get("cpu", DEFAULT_DTYPES["cpu"])
                else:
                    target = float32
                args = [autocast_argument(value, target) for value in args]
                kwargs = {key: autocast_argument(value, target) for key, value in kwargs.items()}
            # cpu_autocast_off inline: this wrapper runs on every op under autocast
            token = _autocast_state.set(state._replace(enabled=state.enabled - {"cpu"}))
            try:
                return function(*args, **kwargs)
            finally:
                _autocast_state.reset(token)

        autocast_wrapper.autocast_op = name
        return autocast_wrapper

    return decorate


def computed_in_float32(function):
    """Decorate an op whose PyTorch CPU kernel computes bfloat16 and float16 inputs in float32
    and rounds its result once (convolutions, the add-matmuls, attention): half-precision
    tensor arguments go up to float32 and the result comes back down. Arguments of mixed
    dtypes are passed as given, so that the op's own dtype check reports them."""

    @functools.wraps(function)
    def half_precision_wrapper(*args, **kwargs):
        if not (_any_half(args) or (kwargs and _any_half(kwargs.values()))):
            return function(*args, **kwargs)  # the common case, without building the set
        floating = {value._data.dtype for value in (*args, *kwargs.values())
                    if isinstance(value, Tensor) and is_floating(value._data.dtype)}
        if len(floating) != 1:
            return function(*args, **kwargs)
        (source,) = floating
        if accumulation_dtype(source) == source:
            return function(*args, **kwargs)
        args = [_upcast(value, source) for value in args]
        kwargs = {key: _upcast(value, source) for key, value in kwargs.items()}
        return cast(function(*args, **kwargs), from_numpy_dtype(source))

    return half_precision_wrapper


def _any_half(values):
    """Whether a float16 or bfloat16 tensor is among ``values``."""
    for value in values:
        if isinstance(value, Tensor) and value._data.dtype.itemsize == 2 and is_floating(
                value._data.dtype):
            return True
    return False


def _upcast(value, source):
    if isinstance(value, Tensor) and value._data.dtype == source:
        return cast(value, float32)
    return value
