"""The embedding lookup: rows of the weight picked by index."""
import numpy as np

from ... import _jit
from ...autograd import engine
from ...autograd.function import Op, forward_mode_active, transposing_for_forward_mode
from ...ops.index import add_rows_in_order
from ...sparse._coo import accumulate_sparse_grad
from ...tensor import Tensor


class Embedding(Op):
    """weight[indices]; the backward sums the gradient rows of equal indices into the weight's
    rows, skipping ``padding_idx`` and optionally dividing by how often each index occurs in
    the batch (``scale_grad_by_freq``)."""
    _next_order = (1,)  # PyTorch lists the weight, not the indices

    differentiable_backward = True

    @staticmethod
    def forward(ctx, indices, weight, padding_idx, scale_grad_by_freq, sparse=False):
        ctx.save_for_backward(indices)
        ctx.settings = (weight.shape, padding_idx, scale_grad_by_freq, sparse)
        return weight[indices]

    @staticmethod
    def backward(ctx, grad):
        xp = ctx.xp
        (indices,) = ctx.saved_tensors
        weight_shape, padding_idx, scale_grad_by_freq, sparse = ctx.settings
        if sparse:
            if scale_grad_by_freq:
                raise RuntimeError("embedding_backward: scale_grad_by_freq not supported with "
                                   "sparse gradients")
            if xp is np and _accumulate_sparse(ctx, grad, indices, weight_shape, padding_idx):
                return None, None, None, None, None
        if xp is not np:
            # The scatter-sum as a product with a constant (rows, lookups) selection matrix.
            flat_indices = indices._data.reshape(-1)
            selection = np.zeros((weight_shape[0], flat_indices.size), grad._data.dtype)
            selection[flat_indices, np.arange(flat_indices.size)] = 1
            if transposing_for_forward_mode():
                # this backward stands for the lookup's forward derivative: PyTorch's jvp of
                # embedding is the tangent's rows, unscaled, padding_idx's included
                flat_grad = xp.reshape(grad, (flat_indices.size, weight_shape[1]))
                return None, xp.matmul(xp.asarray(selection), flat_grad), None, None, None
            if padding_idx is not None:
                selection[padding_idx] = 0
            counts = np.maximum(selection.sum(axis=1, keepdims=True), 1)
            if scale_grad_by_freq and forward_mode_active():
                selection /= counts  # PyTorch's jvp of embedding_dense_backward: linear, scaled
            flat_grad = xp.reshape(grad, (flat_indices.size, weight_shape[1]))
            grad_weight = xp.matmul(xp.asarray(selection), flat_grad)
            if scale_grad_by_freq and not forward_mode_active():
                # PyTorch's double backward of embedding_dense_backward picks the rows of its
                # gradient unscaled: the division by the counts adds a term with no derivative
                grad_weight = grad_weight + xp.matmul(xp.asarray(selection / counts - selection),
                                                      flat_grad.detach())
            return None, grad_weight, None, None, None
        return None, _sum_rows_by_index(grad, indices.reshape(-1), weight_shape, padding_idx,
                                        scale_grad_by_freq), None, None, None


def untracked_embedding(indices, weight):
    """Embedding.forward's rows where nothing is recorded, for in-range indices into a
    row-major table (``take``: a third of the fancy index's cost); None elsewhere."""
    if type(indices) is not np.ndarray or type(weight) is not np.ndarray \
            or not weight.flags.c_contiguous:
        return None
    return weight.take(indices, axis=0)


def _accumulate_sparse(ctx, grad, indices, weight_shape, padding_idx):
    """``sparse=True``: the weight's gradient as a sparse COO tensor (one entry per looked-up
    index, padding entries left out, duplicates kept, as PyTorch's embedding_sparse_backward),
    accumulated into the weight's ``.grad`` here, since the engine carries dense arrays only.
    Done for a weight that is a leaf without tensor hooks in a ``backward()`` sweep; otherwise
    (a computed weight, ``autograd.grad``, ``backward(inputs=...)``) False, and the caller
    returns the dense gradient."""
    edge = ctx.next_edges[1]
    if edge is None or not isinstance(edge[0], Tensor):
        return False
    weight = edge[0]
    if weight._hooks or not engine._is_checkpoint_valid():  # grad()/inputs= capture the sweep
        return False
    flat_indices = indices.reshape(-1)
    flat_grad = grad.reshape(flat_indices.size, weight_shape[1])
    if padding_idx is not None:
        kept = flat_indices != padding_idx
        flat_indices = flat_indices[kept]
        flat_grad = flat_grad[kept]
    accumulate_sparse_grad(weight, flat_indices.astype(np.int64)[None, :],
                           np.array(flat_grad, copy=True))
    engine.run_post_accumulate_hooks(weight)
    return True


def _sum_rows_by_index(grad, flat_indices, weight_shape, padding_idx, scale_grad_by_freq):
    """grad_weight[i] = sum of the gradient rows whose index is i: a compiled loop adding each
    row into its place (a (16, 128) batch of 256-wide rows: 2.7 -> 0.4 ms), else one stable sort
    and one np.add.reduceat over the runs of equal indices (no np.add.at, which is
    unbuffered)."""
    flat_grad = grad.reshape(flat_indices.size, weight_shape[1])
    grad_weight = np.zeros(weight_shape, dtype=grad.dtype)
    if flat_indices.size == 0:
        return grad_weight
    rows = flat_grad
    if scale_grad_by_freq:
        # PyTorch's 1 / count in the gradient's dtype times each row, then added
        counts = np.bincount(flat_indices, minlength=weight_shape[0])
        scales = grad.dtype.type(1) / np.maximum(counts, 1).astype(grad.dtype)
        rows = flat_grad * scales[flat_indices][:, None]
    # each index's rows added in lookup order, as PyTorch's CPU backward adds them
    if add_rows_in_order(grad_weight, 0, flat_indices, rows):
        if padding_idx is not None:
            grad_weight[padding_idx] = 0
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


@_jit.kernel
def _segment_sums(rows, run_starts, sizes, out):
    # out[b] = rows[run_starts[b]] + rows[run_starts[b] + 1] + ..., row after row (the same
    # sums as np.add.reduceat's to float32 rounding; reduceat takes ~6x longer on short rows)
    for bag in range(sizes.size):
        if sizes[bag] == 0:
            continue
        first = run_starts[bag]
        for column in range(rows.shape[1]):
            out[bag, column] = rows[first, column]
        for row in range(first + 1, first + sizes[bag]):
            for column in range(rows.shape[1]):
                out[bag, column] += rows[row, column]


_SEGMENT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


class BagSum(Op):
    """Sums of the bags of embedding_bag: ``rows`` (lookups, features) falls into runs of
    consecutive rows, ``bag_of`` (non-decreasing) giving each row's bag; each row is scaled by
    ``row_scale`` (0 for padding entries; None: 1) and each bag's sum divided by ``divisor``
    (the mean's counts; None: 1). One segment sum, where a dense (bags, lookups) membership
    matrix and a matmul cost bags times as much."""

    differentiable_backward = True

    @staticmethod
    def forward(ctx, rows, bag_of, row_scale, divisor, bags):
        ctx.bag_of = bag_of
        ctx.row_scale = row_scale
        ctx.divisor = divisor
        out = np.zeros((bags, rows.shape[1]), rows.dtype)
        if not rows.shape[0]:
            return out
        if row_scale is not None:
            rows = rows * row_scale[:, None]
        sizes = np.bincount(bag_of, minlength=bags)
        run_starts = np.cumsum(sizes) - sizes
        kernel = _segment_sums.compiled() if rows.dtype in _SEGMENT_DTYPES else None
        if kernel is not None:
            kernel(np.ascontiguousarray(rows), run_starts, sizes, out)
        else:
            filled = np.flatnonzero(sizes)
            # runs of empty bags have no rows: the filled bags' starts cover every row once
            out[filled] = np.add.reduceat(rows, run_starts[filled], axis=0)
        if divisor is not None:
            out /= divisor[:, None]
        return out

    @staticmethod
    def backward(ctx, grad):
        xp = ctx.xp
        if ctx.divisor is not None:
            grad = grad / xp.asarray(ctx.divisor[:, None])
        grad_rows = grad[ctx.bag_of]
        if ctx.row_scale is not None:
            grad_rows = grad_rows * xp.asarray(ctx.row_scale[:, None])
        return grad_rows, None, None, None, None

