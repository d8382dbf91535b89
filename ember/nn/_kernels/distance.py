"""pdist's Euclidean case as one op: the distances of all row pairs computed pair by pair, where
the composite gathers both rows of every pair first ((32, 256): 94 -> ~15 us)."""
import math

import numpy as np

from ... import _jit
from ...autograd.function import Op, forward_ad_unsupported


@_jit.kernel
def _pair_distances(rows, out):
    # out[pair] = ||rows[i] - rows[j]||_2 for i < j, pairs in row-major order of (i, j)
    count, width = rows.shape
    pair = 0
    for first in range(count):
        for second in range(first + 1, count):
            total = out.dtype.type(0)
            for column in range(width):
                difference = rows[first, column] - rows[second, column]
                total += difference * difference
            out[pair] = math.sqrt(total)
            pair += 1


@_jit.kernel
def _pair_distances_backward(rows, distances, grad, out):
    # out[i] += grad * (rows[i] - rows[j]) / distance, out[j] -= the same; 0 where the
    # distance is 0 (PyTorch's subgradient)
    count, width = rows.shape
    pair = 0
    for first in range(count):
        for second in range(first + 1, count):
            distance = distances[pair]
            if distance != 0:
                factor = grad[pair] / distance
                for column in range(width):
                    share = (rows[first, column] - rows[second, column]) * factor
                    out[first, column] += share
                    out[second, column] -= share
            pair += 1


_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def euclidean_pair_kernels():
    """(forward, backward) compiled kernels, or None without numba."""
    forward = _pair_distances.compiled()
    return None if forward is None else (forward, _pair_distances_backward.compiled())


def euclidean_pdist_applies(array):
    """Whether EuclideanPdist takes ``array``: float32/float64 with two rows or more, and the
    kernels available."""
    return (array.dtype in _DTYPES and array.shape[0] >= 2
            and euclidean_pair_kernels() is not None)


class EuclideanPdist(Op):
    """pdist(x, 2) of an (N, M) array; backward from the saved input and distances. PyTorch's
    backward has no derivative of its own, nor a forward mode."""

    _torch_name = "PdistBackward0"
    double_backward_error = (NotImplementedError,
                             "the derivative for '_pdist_backward' is not implemented.")
    double_backward_name = "PdistBackwardBackward0"
    forward_ad_error = forward_ad_unsupported("_pdist_forward")

    @staticmethod
    def forward(ctx, x):
        rows = np.ascontiguousarray(x)
        count = rows.shape[0]
        out = np.empty(count * (count - 1) // 2, rows.dtype)
        euclidean_pair_kernels()[0](rows, out)
        ctx.save_for_backward(rows, out)
        return out

    @staticmethod
    def backward(ctx, grad):
        rows, distances = ctx.saved_tensors
        out = np.zeros(rows.shape, rows.dtype)
        euclidean_pair_kernels()[1](rows, distances, np.ascontiguousarray(grad, rows.dtype), out)
        return out


class NonzeroCountRows(Op):
    """pdist's p = 0 distances: the count of nonzero differences in each row, with PyTorch's
    _pdist_backward gradient there, zeros (the 0-norm itself gives no gradient)."""

    @staticmethod
    def forward(ctx, difference):
        ctx.meta = (difference.shape, difference.dtype)
        return np.count_nonzero(difference, axis=1).astype(difference.dtype)

    @staticmethod
    def backward(ctx, grad):
        shape, dtype = ctx.meta
        return np.zeros(shape, dtype)
