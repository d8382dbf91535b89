"""Distance functions: pairwise_distance, pdist and cosine_similarity (composites of ember.ops)."""
import numpy as np

from ..._dtype import is_floating, promote_types, scalar_type_name
from ...autograd.function import forward_ad_unsupported, torch_named, without_double_backward
from ...ops import vector_norm
from ...ops._broadcast import mismatch_error
from .._kernels.distance import EuclideanPdist, NonzeroCountRows, euclidean_pdist_applies

__all__ = ["cosine_similarity", "pairwise_distance", "pdist"]


def _broadcast_shape(x1, x2):
    """The two tensors' broadcast shape (PyTorch's error when there is none)."""
    try:
        return np.broadcast_shapes(tuple(x1.shape), tuple(x2.shape))
    except ValueError:
        raise mismatch_error(tuple(x1.shape), tuple(x2.shape)) from None


def cosine_similarity(x1, x2, dim=1, eps=1e-8):
    """sum(x1 * x2) / (max(||x1||, eps) * max(||x2||, eps)) over ``dim``.

    As in PyTorch, each vector is divided by its norm first, and the eps clamp does not stop the
    gradient (it acts as a constant shift of the norm)."""
    common = promote_types(x1.dtype, x2.dtype)
    if not common.is_floating_point:
        raise RuntimeError(f"expected common dtype to be floating point, yet common dtype is "
                           f"{common._scalar_type}")
    x1, x2 = x1.to(common), x2.to(common)
    shape = _broadcast_shape(x1, x2)
    rank = len(shape)
    if not rank or not -rank <= dim < rank:
        x1, x2 = x1.expand(shape), x2.expand(shape)  # vector_norm gives PyTorch's error
        return (_unit(x1, dim, eps) * _unit(x2, dim, eps)).sum(dim)
    axis = dim % rank
    # Each vector is normalised before broadcasting where its tensor is not broadcast along
    # ``dim`` (the same values: the division is elementwise and the norm sums the same
    # elements), so the pairwise pattern (N, 1, D) x (1, M, D) divides N + M vectors, not N M.
    return (_unit(_aligned(x1, shape, axis), axis, eps)
            * _unit(_aligned(x2, shape, axis), axis, eps)).sum(axis)


def _aligned(x, shape, axis):
    """``x`` with leading 1s up to ``shape``'s rank, expanded to ``shape`` only where it is
    broadcast along ``axis`` (its norm there sums the copies)."""
    if x.dim() < len(shape):
        x = x.reshape((1,) * (len(shape) - x.dim()) + tuple(x.shape))
    return x.expand(shape) if x.shape[axis] != shape[axis] else x


def _unit(x, dim, eps):
    """x over its 2-norm along ``dim``, the norm clamped to ``eps`` without the clamp stopping
    the gradient (PyTorch's no-grad clamp_min_ of the norm)."""
    norm = vector_norm(x, 2, dim, keepdim=True)
    return x / (norm + (norm.detach().clamp(min=eps) - norm.detach()))


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
    if not is_floating(input._data.dtype):
        raise RuntimeError("pdist only supports floating-point dtypes")
    if p < 0:
        raise RuntimeError("pdist only supports non-negative p values")
    if input._data.dtype.itemsize == 2:
        raise NotImplementedError(f'"pdist" not implemented for '
                                  f"'{scalar_type_name(input._data.dtype)}'")
    if p == 2 and euclidean_pdist_applies(input._data):
        return EuclideanPdist.apply(input)
    first, second = np.triu_indices(input.shape[0], k=1)
    difference = input[first] - input[second]
    counts = NonzeroCountRows.apply(difference) if p == 0 else vector_norm(difference, p, 1)
    distances = without_double_backward(counts, NotImplementedError,
                                        "the derivative for '_pdist_backward' is not implemented.",
                                        forward_ad_unsupported("_pdist_forward"))
    return torch_named(distances, "PdistBackward0")
