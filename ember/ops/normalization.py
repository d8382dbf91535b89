"""Normalisation: batch_norm (one fused Function), layer_norm and group_norm.

Statistics accumulate in float64 and are rounded back to the input's dtype, so float32 results
stay close to PyTorch's for large reductions; outputs and gradients keep the input's dtype.
"""
import math

import numpy as np

from ..autograd.function import Function
from ..tensor import Size, Tensor


class BatchNorm(Function):
    """Fused batch normalisation (memory and speed): ``(x - mean) * invstd * weight + bias``.

    ``mean`` and ``invstd`` arrive as plain arrays; with ``batch_statistics`` they are the
    batch's own statistics and backward differentiates through them (the standard fused formula).
    Saves the input (usually alive anyway) and per-channel vectors, never the normalised input.
    """

    array_io = True

    @staticmethod
    def forward(ctx, input, weight, bias, mean, invstd, batch_statistics):
        shape = (1, input.shape[1]) + (1,) * (input.ndim - 2)
        output = input - mean.reshape(shape)
        output *= invstd.reshape(shape)
        if weight is not None:
            output *= weight.reshape(shape)
        if bias is not None:
            output += bias.reshape(shape)
        needs_input, needs_weight = ctx.needs_input_grad[:2]
        if needs_input or needs_weight:
            ctx.save_for_backward(input, weight, mean, invstd)
        ctx.batch_statistics = batch_statistics
        return output

    @staticmethod
    def backward(ctx, grad):
        input, weight, mean, invstd = ctx.saved_tensors
        needs_input, needs_weight, needs_bias = ctx.needs_input_grad[:3]
        channels = input.shape[1]
        shape = (1, channels) + (1,) * (input.ndim - 2)
        axes = (0,) + tuple(range(2, input.ndim))
        count = input.size // channels if channels else 0
        normalized = input - mean.reshape(shape)
        normalized *= invstd.reshape(shape)
        grad_sum = grad.sum(axis=axes)
        grad_dot = None
        if needs_weight or (needs_input and ctx.batch_statistics):
            grad_dot = np.einsum("ncl,ncl->c", grad.reshape(grad.shape[0], channels, -1),
                                 normalized.reshape(grad.shape[0], channels, -1))
        grad_input = None
        if needs_input:
            scale = invstd if weight is None else invstd * weight
            if ctx.batch_statistics:
                one_over_count = grad.dtype.type(1.0 / count)
                grad_input = normalized
                grad_input *= (grad_dot * one_over_count).reshape(shape)
                grad_input += (grad_sum * one_over_count).reshape(shape)
                np.subtract(grad, grad_input, out=grad_input)
                grad_input *= scale.reshape(shape)
            else:
                grad_input = grad * scale.reshape(shape)
        grad_weight = grad_dot if needs_weight else None
        grad_bias = grad_sum if needs_bias else None
        return grad_input, grad_weight, grad_bias, None, None, None


class Standardize(Function):
    """Rows of a (M, K) array to zero mean, unit (biased) variance; fused for memory and speed."""

    array_io = True

    @staticmethod
    def forward(ctx, input, eps):
        mean = input.mean(axis=1, keepdims=True, dtype=np.float64).astype(input.dtype)
        centered = input - mean
        variance = np.mean(np.square(centered), axis=1, keepdims=True, dtype=np.float64)
        invstd = (1.0 / np.sqrt(variance + eps)).astype(input.dtype)
        centered *= invstd
        ctx.save_for_backward(centered, invstd)
        return centered

    @staticmethod
    def backward(ctx, grad):
        normalized, invstd = ctx.saved_tensors
        grad_mean = grad.mean(axis=1, keepdims=True)
        grad_dot = np.einsum("mk,mk->m", grad, normalized)[:, None]
        grad_dot *= grad.dtype.type(1.0 / normalized.shape[1]) if normalized.shape[1] else 0
        grad_input = normalized * grad_dot
        np.subtract(grad, grad_input, out=grad_input)
        grad_input -= grad_mean
        grad_input *= invstd
        return grad_input, None


# ---- functional API ------------------------------------------------------------------------------
def _batch_statistics(array, eps):
    """Batch mean and biased variance per channel (float64 accumulation), and 1/sqrt(var+eps)."""
    axes = (0,) + tuple(range(2, array.ndim))
    shape = (1, array.shape[1]) + (1,) * (array.ndim - 2)
    mean = array.mean(axis=axes, dtype=np.float64).astype(array.dtype)
    centered = array - mean.reshape(shape)
    rows = centered.reshape(array.shape[0], array.shape[1], -1)
    variance = np.einsum("ncl,ncl->c", rows, rows, dtype=np.float64)
    variance /= max(array.size // max(array.shape[1], 1), 1)
    invstd = (1.0 / np.sqrt(variance + eps)).astype(array.dtype)
    return mean, variance, invstd


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False,
               momentum=0.1, eps=1e-5):
    """Batch normalisation over every dim but 1 (channels).

    In training the batch statistics are used, and given running buffers are updated in place
    (whatever the grad mode) with ``momentum`` and the unbiased batch variance; otherwise the
    running statistics are used (still differentiable with respect to input, weight and bias).
    """
    array = input._data
    if array.ndim < 2:
        raise ValueError(f"batch_norm: expected 2D or higher input (got {array.ndim}D input)")
    channels = array.shape[1]
    for name, tensor in (("running_mean", running_mean), ("running_var", running_var),
                         ("weight", weight), ("bias", bias)):
        if tensor is not None and tuple(tensor._data.shape) != (channels,):
            raise RuntimeError(f"batch_norm: expected {name} to have {channels} elements "
                               f"(the input's channels), but got {name} of shape "
                               f"{list(tensor._data.shape)}")
    if training:
        count = array.size // channels if channels else 0
        if count == 1:
            raise ValueError(f"Expected more than 1 value per channel when training, got input "
                             f"size {Size(array.shape)!r}")
        mean, variance, invstd = _batch_statistics(array, eps)
        if running_mean is not None or running_var is not None:
            factor = 0.0 if momentum is None else float(momentum)
            if running_mean is not None:
                _blend(running_mean, mean, factor)
            if running_var is not None:
                unbiased = variance * (count / (count - 1)) if count > 1 else variance * np.nan
                _blend(running_var, unbiased, factor)
    else:
        if running_mean is None or running_var is None:
            raise RuntimeError("running_mean and running_var must be defined in evaluation mode")
        mean = running_mean._data.astype(array.dtype, copy=False)
        invstd = (1.0 / np.sqrt(running_var._data.astype(np.float64) + eps)).astype(array.dtype)
    return BatchNorm.apply(input, weight, bias, mean, invstd, bool(training))


def _blend(buffer, batch_value, factor):
    """buffer <- (1 - factor) * buffer + factor * batch_value, in place, outside autograd."""
    target = buffer._data
    blended = target * (1.0 - factor) + batch_value.astype(np.float64) * factor
    np.copyto(target, blended, casting="unsafe")
    buffer._bump_version()


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    """Normalise over the trailing ``normalized_shape`` dims (biased variance), then affine."""
    if isinstance(normalized_shape, (int, np.integer)):
        normalized_shape = (int(normalized_shape),)
    normalized_shape = tuple(int(size) for size in normalized_shape)
    shape = tuple(input._data.shape)
    count = len(normalized_shape)
    if count == 0 or len(shape) < count or shape[len(shape) - count:] != normalized_shape:
        raise RuntimeError(f"Given normalized_shape={list(normalized_shape)}, expected input "
                           f"with shape [*, {', '.join(str(size) for size in normalized_shape)}]"
                           f", but got input of size{list(shape)}")
    for name, tensor in (("weight", weight), ("bias", bias)):
        if tensor is not None and tuple(tensor._data.shape) != normalized_shape:
            raise RuntimeError(f"Expected {name} to be of same shape as normalized_shape, but got "
                               f"{name} of shape {list(tensor._data.shape)} and normalized_shape "
                               f"= {list(normalized_shape)}")
    rows = input.reshape(-1, math.prod(normalized_shape)) if input._data.size else \
        input.reshape(math.prod(shape[:len(shape) - count]), math.prod(normalized_shape))
    output = Standardize.apply(rows, eps).reshape(shape)
    if weight is not None:
        output = output * weight
    if bias is not None:
        output = output + bias
    return output


def group_norm(input, num_groups, weight=None, bias=None, eps=1e-5):
    """Normalise each sample over groups of ``C / num_groups`` channels, then per-channel affine."""
    shape = tuple(input._data.shape)
    if len(shape) < 2:
        raise RuntimeError(f"Expected at least 2 dimensions for input tensor but received "
                           f"{len(shape)}")
    channels = shape[1]
    if num_groups <= 0 or channels % num_groups:
        raise RuntimeError(f"Expected number of channels in input to be divisible by num_groups, "
                           f"but got input of shape {list(shape)} and num_groups={num_groups}")
    for name, tensor in (("weight", weight), ("bias", bias)):
        if tensor is not None and (tensor._data.ndim != 1 or tensor._data.shape[0] != channels):
            raise RuntimeError(f"Expected {name} to be a vector of size equal to the number of "
                               f"channels in input, but got {name} of shape "
                               f"{list(tensor._data.shape)} and input of shape {list(shape)}")
    batch = shape[0]
    rows = input.reshape(batch * num_groups, math.prod(shape[1:]) // num_groups)
    output = Standardize.apply(rows, eps).reshape(shape)
    affine_shape = (channels,) + (1,) * (len(shape) - 2)
    if weight is not None:
        output = output * weight.reshape(affine_shape)
    if bias is not None:
        output = output + bias.reshape(affine_shape)
    return output
