"""Normalisation kernels: BatchNorm (one fused Function) and Standardize (layer_norm and
group_norm's rows to zero mean and unit variance).

Statistics accumulate in float64 and are rounded back to the input's dtype, so float32 results
stay close to PyTorch's for large reductions; outputs and gradients keep the input's dtype.
"""
import numpy as np

from ...autograd.function import Op


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


def _blend(target, batch_value, factor):
    """target <- (1 - factor) * target + factor * batch_value, in place (a running buffer)."""
    blended = target * (1.0 - factor) + np.asarray(batch_value, np.float64) * factor
    np.copyto(target, blended, casting="unsafe")
