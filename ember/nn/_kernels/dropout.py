"""Fused dropout kernel: out = x * mask (+ shift), saving only the pre-scaled mask for backward."""
import math

import numpy as np

from ... import _random
from ..._dtype import is_floating
from ...autograd.function import Op


class Dropout(Op):
    """``x * scaled_mask + shift``: the mask (possibly broadcast per channel) already holds
    1/(1-p) or AlphaDropout's ``a``; ``shift`` is AlphaDropout's constant term (else None).
    The mask is a constant of the backward, which is therefore differentiable as written."""
    _next_order = (0, 1)  # PyTorch's mul lists input and mask

    _torch_name = "MulBackward0"

    differentiable_backward = True

    @staticmethod
    def forward(ctx, x, scaled_mask, shift):
        out = x * scaled_mask
        if shift is not None:
            out += shift
        ctx.save_for_backward(scaled_mask)
        return out

    @staticmethod
    def backward(ctx, grad):
        (scaled_mask,) = ctx.saved_tensors
        return grad * scaled_mask, None, None


def dropout_masks(x, p, generator, feature, alpha):
    """(scaled_mask, shift) for dropout of ``x`` (an array) with probability ``p`` in (0, 1).

    ``feature`` draws one value per (sample, channel) (shape (N, C, 1, ...)); ``alpha`` gives
    AlphaDropout's affine correction that keeps zero mean and unit variance.
    """
    if feature:
        if x.ndim < 2:
            raise RuntimeError("Feature dropout requires at least 2 dimensions in the input")
        shape = x.shape[:2] + (1,) * (x.ndim - 2)
    else:
        shape = x.shape
    dtype = x.dtype if is_floating(x.dtype) else np.dtype(np.float32)
    keep = _random.bernoulli(generator, 1.0 - p, shape)  # PyTorch's bernoulli_(1 - p)
    if not feature:
        # PyTorch's noise is empty_like(x): laid out as x is, filled in memory order
        keep = _random.in_memory_order(x, keep)
    if not alpha:
        # PyTorch divides the 0/1 noise by (1 - p) in the input's dtype: 0, or 1 / (1 - p)
        # rounded once, which one product of the booleans writes in a single pass.
        return np.multiply(keep, dtype.type(1) / dtype.type(1 - p), dtype=dtype), None
    mask = keep.astype(dtype)
    alpha_prime = 1.7580993408473766  # -SELU's negative saturation value, lambda * alpha
    a = 1.0 / math.sqrt((alpha_prime * alpha_prime * p + 1) * (1 - p))
    shift = (mask - 1) * (alpha_prime * a) + alpha_prime * a * p
    mask *= dtype.type(a)
    return mask, shift.astype(dtype, copy=False)
