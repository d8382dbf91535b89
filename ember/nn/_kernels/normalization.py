"""Normalisation: batch_norm (one fused Function), layer_norm and group_norm.

Statistics accumulate in float64 and are rounded back to the input's dtype, so float32 results
stay close to PyTorch's for large reductions; outputs and gradients keep the input's dtype.
"""
import math

import numpy as np

from ..autograd.function import Op
from ..tensor import Size


class BatchNorm(Op):
    """Fused batch normalisation (memory and speed): ``(x - mean) * invstd * weight + bias``.

    In training the batch statistics are computed here (per-row float32 sums, combined in
    float64) and the given running buffers' arrays are updated in place; backward differentiates
    through the batch statistics with the standard fused formula. Saves the input (usually alive
    anyway) and per-channel vectors, never a normalised copy.
    """

    @staticmethod
    def forward(ctx, input, weight, bias, running_mean, running_var, training, momentum, eps):
        batch, channels = input.shape[:2]
        shape = (1, channels) + (1,) * (input.ndim - 2)
        dtype = input.dtype
        if training:
            count = input.size // channels if channels else 0
            rows = input.reshape(batch, channels, -1)
            with np.errstate(divide="ignore", invalid="ignore"):
                mean = (rows.sum(axis=2).sum(axis=0, dtype=np.float64) / count).astype(dtype)
                output = input - mean.reshape(shape)
                centered = output.reshape(batch, channels, -1)
                variance = np.einsum("ncl,ncl->nc", centered, centered).sum(
                    axis=0, dtype=np.float64) / count
                invstd = (1.0 / np.sqrt(variance + eps)).astype(dtype)
                if running_mean is not None:
                    _blend(running_mean, mean, momentum)
                if running_var is not None:
                    _blend(running_var, variance * (count / (count - 1)) if count > 1
                           else variance * np.nan, momentum)
            scale = invstd if weight is None else invstd * weight
            output *= scale.reshape(shape)
            if bias is not None:
                output += bias.reshape(shape)
        else:
            mean = running_mean.astype(dtype, copy=False)
            invstd = (1.0 / np.sqrt(running_var.astype(np.float64) + eps)).astype(dtype)
            # y = x * scale + shift with scale = invstd * weight, shift = bias - mean * scale.
            scale = invstd if weight is None else invstd * weight
            shift = -mean * scale
            if bias is not None:
                shift += bias
            output = input * scale.reshape(shape)
            output += shift.reshape(shape)
        needs_input, needs_weight = ctx.needs_input_grad[:2]
        if needs_input or needs_weight:
            ctx.save_for_backward(input, weight, mean, invstd)
        ctx.training = training
        return output

    @staticmethod
    def backward(ctx, grad):
        input, weight, mean, invstd = ctx.saved_tensors
        needs_input, needs_weight, needs_bias = ctx.needs_input_grad[:3]
        batch, channels = input.shape[:2]
        shape = (1, channels) + (1,) * (input.ndim - 2)
        count = input.size // channels if channels else 0
        grad_rows = grad.reshape(batch, channels, -1)
        grad_sum = grad_rows.sum(axis=2).sum(axis=0)
        scale = invstd if weight is None else invstd * weight
        grad_input = grad_weight = None
        if needs_weight or (needs_input and ctx.training):
            centered = input - mean.reshape(shape)
            # sum(grad * (x - mean)) per channel; times invstd it is sum(grad * x_hat).
            grad_dot = np.einsum("ncl,ncl->nc", grad_rows,
                                 centered.reshape(batch, channels, -1)).sum(axis=0)
            if needs_weight:
                grad_weight = grad_dot * invstd
            if needs_input and ctx.training:
                # dx = scale * (g - mean(g) - x_hat * mean(g * x_hat)), written as
                # g * scale + (x - mean) * coefficient + offset, one vectorised pass each.
                with np.errstate(divide="ignore", invalid="ignore"):
                    inverse_count = np.float64(1.0 / count) if count else np.float64(np.nan)
                coefficient = (-(scale.astype(np.float64) * invstd * invstd * grad_dot)
                               * inverse_count).astype(grad.dtype)
                offset = (-(scale.astype(np.float64) * grad_sum) * inverse_count).astype(
                    grad.dtype)
                grad_input = centered
                grad_input *= coefficient.reshape(shape)
                grad_input += offset.reshape(shape)
                grad_input += grad * scale.reshape(shape)
        if needs_input and not ctx.training:
            grad_input = grad * scale.reshape(shape)
        grad_bias = grad_sum if needs_bias else None
        return grad_input, grad_weight, grad_bias, None, None, None, None, None


class Standardize(Op):
    """Rows of a (M, K) array to zero mean, unit (biased) variance; fused for memory and speed."""

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
    if momentum is None or isinstance(momentum, bool):
        raise TypeError(f"batch_norm(): argument 'momentum' (position 7) must be float, not "
                        f"{type(momentum).__name__}")
    for name, tensor in (("running_mean", running_mean), ("running_var", running_var),
                         ("weight", weight), ("bias", bias)):
        if tensor is not None and tensor._data.size != channels:
            raise RuntimeError(f"{name} should contain {channels} elements not "
                               f"{tensor._data.size}")
    if weight is not None and weight._data.ndim != 1:
        weight = weight.reshape(-1)
    if bias is not None and bias._data.ndim != 1:
        bias = bias.reshape(-1)
    if training:
        if channels and array.size // channels == 1:
            raise ValueError(f"Expected more than 1 value per channel when training, got input "
                             f"size {Size(array.shape)!r}")
    elif running_mean is None:
        raise RuntimeError("running_mean must be defined in evaluation mode")
    elif running_var is None:
        raise RuntimeError("running_var must be defined in evaluation mode")
    output = BatchNorm.apply(input, weight, bias, running_mean, running_var, bool(training),
                             float(momentum), eps)
    if training:
        for buffer in (running_mean, running_var):
            if buffer is not None:
                buffer._bump_version()
    return output


def _blend(target, batch_value, factor):
    """target <- (1 - factor) * target + factor * batch_value, in place (a running buffer)."""
    blended = target * (1.0 - factor) + np.asarray(batch_value, np.float64) * factor
    np.copyto(target, blended, casting="unsafe")


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


def instance_norm(input, running_mean=None, running_var=None, weight=None, bias=None,
                  use_input_stats=True, momentum=0.1, eps=1e-5):
    """Normalise each (sample, channel) over its spatial positions: batch_norm on the input
    seen as one sample of N * C channels; running statistics are averaged over the samples."""
    from ..autograd.grad_mode import no_grad
    from ..tensor import Tensor
    shape = tuple(input.shape)
    if use_input_stats and math.prod(shape[2:]) == 1:
        raise ValueError(f"Expected more than 1 spatial element when training, got input size "
                         f"{Size(shape)!r}")
    if not use_input_stats and (running_mean is None or running_var is None):
        raise RuntimeError("Expected running_mean and running_var to be defined when "
                           "use_input_stats is false")
    batch, channels = shape[0], shape[1]
    folded = input.reshape((1, batch * channels) + shape[2:])
    repeated = []
    for tensor in (weight, bias):
        repeated.append(tensor.repeat(batch) if tensor is not None else None)
    running = []
    for buffer in (running_mean, running_var):
        running.append(Tensor._wrap(np.tile(buffer._data, batch)) if buffer is not None else None)
    output = batch_norm(folded, running[0], running[1], repeated[0], repeated[1],
                        use_input_stats, momentum, eps)
    with no_grad():
        for buffer, tiled in zip((running_mean, running_var), running):
            if buffer is not None:
                buffer.copy_(tiled.reshape(batch, channels).mean(0))
    return output.reshape(shape)
