"""Distance functions: pairwise_distance, pdist and cosine_similarity (composites of ember.ops)."""
import numpy as np

from ...autograd.function import forward_ad_unsupported, torch_named, without_double_backward
from ...ops import vector_norm
from ...ops._broadcast import mismatch_error
from .._kernels.distance import EuclideanPdist, euclidean_pdist_applies

__all__ = ["cosine_similarity", "pairwise_distance", "pdist"]


def _broadcast_pair(x1, x2):
    """Both tensors expanded to their broadcast shape (PyTorch's error when there is none)."""
    try:
        shape = np.broadcast_shapes(tuple(x1.shape), tuple(x2.shape))
    except ValueError:
        raise mismatch_error(tuple(x1.shape), tuple(x2.shape)) from None
    return x1.expand(shape), x2.expand(shape)


def cosine_similarity(x1, x2, dim=1, eps=1e-8):
    """sum(x1 * x2) / (max(||x1||, eps) * max(||x2||, eps)) over ``dim``.

    As in PyTorch, each vector is divided by its norm first, and the eps clamp does not stop the
    gradient (it acts as a constant shift of the norm)."""
    x1, x2 = _broadcast_pair(x1, x2)
    norm1 = vector_norm(x1, 2, dim, keepdim=True)
    norm2 = vector_norm(x2, 2, dim, keepdim=True)
    norm1 = norm1 + (norm1.detach().clamp(min=eps) - norm1.detach())
    norm2 = norm2 + (norm2.detach().clamp(min=eps) - norm2.detach())
    return ((x1 / norm1) * (x2 / norm2)).sum(dim)


def pairwise_distance(x1, x2, p=2.0, eps=1e-6, keepdim=False):
    """||x1 - x2 + eps||_p over the last dimension."""
    difference = x1 - x2 + eps
    dim = max(x1.dim(), x2.dim()) - 1
    return torch_named(vector_norm(difference, p, max(dim, 0), keepdim), "NormBackward1")


def pdist(input, p=2):
    """The p-norm distances between every pair of rows i < j of an (N, M) tensor, in row-major
    order of the pairs (the upper triangle of cdist, flattened)."""
    if input.dim() != 2:
        raise RuntimeError(f"pdist only supports 2D tensors, got: {input.dim()}D")
    if p < 0:
        raise RuntimeError("pdist only supports non-negative p values")
    if p == 2 and euclidean_pdist_applies(input._data):
        return EuclideanPdist.apply(input)
    first, second = np.triu_indices(input.shape[0], k=1)
    difference = input[first] - input[second]
    distances = without_double_backward(vector_norm(difference, p, 1), NotImplementedError,
                                        "the derivative for '_pdist_backward' is not implemented.",
                                        forward_ad_unsupported("_pdist_forward"))
    return torch_named(distances, "PdistBackward0")
