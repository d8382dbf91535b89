"""The embedding lookup: rows of the weight picked by index (a one-hot product, by indexing)."""
import numpy as np

from ...autograd.function import Op


class Embedding(Op):
    """weight[indices]; the backward scatters rows back, skipping ``padding_idx`` and optionally
    dividing by how often each index occurs in the batch (``scale_grad_by_freq``)."""

    @staticmethod
    def forward(ctx, indices, weight, padding_idx, scale_grad_by_freq):
        ctx.save_for_backward(indices)
        ctx.settings = (weight.shape, padding_idx, scale_grad_by_freq)
        return weight[indices]

    @staticmethod
    def backward(ctx, grad):
        (indices,) = ctx.saved_tensors
        weight_shape, padding_idx, scale_grad_by_freq = ctx.settings
        flat_indices = indices.reshape(-1)
        flat_grad = grad.reshape(flat_indices.size, weight_shape[1])
        if scale_grad_by_freq:
            counts = np.bincount(flat_indices, minlength=weight_shape[0])
            flat_grad = flat_grad / counts[flat_indices][:, None].astype(grad.dtype)
        grad_weight = np.zeros(weight_shape, dtype=grad.dtype)
        np.add.at(grad_weight, flat_indices, flat_grad)
        if padding_idx is not None:
            grad_weight[padding_idx] = 0
        return None, grad_weight, None, None
