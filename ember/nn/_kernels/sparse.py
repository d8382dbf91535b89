"""The embedding lookup: rows of the weight picked by index."""
import numpy as np

from ...autograd.function import Op


class Embedding(Op):
    """weight[indices]; the backward sums the gradient rows of equal indices into the weight's
    rows, skipping ``padding_idx`` and optionally dividing by how often each index occurs in
    the batch (``scale_grad_by_freq``)."""

    differentiable_backward = True

    @staticmethod
    def forward(ctx, indices, weight, padding_idx, scale_grad_by_freq):
        ctx.save_for_backward(indices)
        ctx.settings = (weight.shape, padding_idx, scale_grad_by_freq)
        return weight[indices]

    @staticmethod
    def backward(ctx, grad):
        xp = ctx.xp
        (indices,) = ctx.saved_tensors
        weight_shape, padding_idx, scale_grad_by_freq = ctx.settings
        if xp is not np:
            # The scatter-sum as a product with a constant (rows, lookups) selection matrix.
            flat_indices = indices._data.reshape(-1)
            selection = np.zeros((weight_shape[0], flat_indices.size), grad._data.dtype)
            selection[flat_indices, np.arange(flat_indices.size)] = 1
            if scale_grad_by_freq:
                selection /= np.maximum(selection.sum(axis=1, keepdims=True), 1)
            if padding_idx is not None:
                selection[padding_idx] = 0
            flat_grad = xp.reshape(grad, (flat_indices.size, weight_shape[1]))
            return None, xp.matmul(xp.asarray(selection), flat_grad), None, None
        return None, _sum_rows_by_index(grad, indices.reshape(-1), weight_shape, padding_idx,
                                        scale_grad_by_freq), None, None


def _sum_rows_by_index(grad, flat_indices, weight_shape, padding_idx, scale_grad_by_freq):
    """grad_weight[i] = sum of the gradient rows whose index is i: one stable sort, then one
    np.add.reduceat over the runs of equal indices (no np.add.at, which is unbuffered)."""
    flat_grad = grad.reshape(flat_indices.size, weight_shape[1])
    grad_weight = np.zeros(weight_shape, dtype=grad.dtype)
    if flat_indices.size == 0:
        return grad_weight
    order = np.argsort(flat_indices, kind="stable")
    sorted_indices = flat_indices[order]
    starts = np.flatnonzero(np.concatenate(([True], sorted_indices[1:] != sorted_indices[:-1])))
    rows = sorted_indices[starts]
    sums = np.add.reduceat(flat_grad[order], starts, axis=0)
    if scale_grad_by_freq:
        counts = np.diff(np.append(starts, flat_indices.size))
        sums /= counts[:, None].astype(grad.dtype)
    grad_weight[rows] = sums
    if padding_idx is not None:
        grad_weight[padding_idx] = 0
    return grad_weight
