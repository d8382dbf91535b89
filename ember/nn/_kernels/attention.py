"""Fused scaled dot-product attention (speed and memory): two batched GEMMs forward, the softmax
in place on the scores, masks applied in place (a causal mask is never a float tensor).

Like flash attention, forward keeps the rows' log-sum-exp instead of the (L, S) weights, and
backward recomputes the weights with one GEMM: memory stays that of q, k, v and the output.
"""
import functools
import math
import threading

import numpy as np

from ...autograd.function import Op
from ...ops._broadcast import unbroadcast


@functools.lru_cache(maxsize=256)
def causal_blocked(target_length, source_length):
    """The positions a causal mask removes: key j > query i (upper-left aligned, as PyTorch)."""
    blocked = np.triu(np.ones((target_length, source_length), dtype=np.bool_), 1)
    blocked.flags.writeable = False
    return blocked


# Per-thread arrays for the (..., L, S) temporaries that never leave a kernel call (scores,
# weights, their gradient). Writing a product into a fresh array of that size costs more than
# the GEMM: gpt_train's (16, 4, 128, 128) float32 Q K^T took 4.6 ms into a fresh array and
# 1.4 ms into a reused one. Larger temporaries are not kept, so a long sequence does not pin
# its memory.
_SCRATCH = threading.local()
_SCRATCH_LIMIT_BYTES = 1 << 26


def _scratch(slot, shape, dtype):
    """An uninitialised array of ``shape`` for one temporary, reused across calls in this
    thread; ``slot`` names the temporary so two live ones never share memory."""
    dtype = np.dtype(dtype)
    size = math.prod(shape)
    if size * dtype.itemsize > _SCRATCH_LIMIT_BYTES:
        return np.empty(shape, dtype)
    buffers = _SCRATCH.__dict__
    buffer = buffers.get((slot, dtype))
    if buffer is None or buffer.size < size:
        buffer = np.empty(size, dtype)
        buffers[(slot, dtype)] = buffer
    return buffer[:size].reshape(shape)


class ScaledDotProductAttention(Op):
    """softmax(query key^T * scale + mask) @ value on query (..., L, E), key (..., S, E) and value
    (..., S, Ev) with equal leading dims.

    ``float_mask`` (broadcast to (..., L, S)) is added to the scores and gets their gradient;
    ``blocked`` (bool, broadcast) removes keys. A row whose keys are all removed gives zero
    weights (PyTorch's safe softmax). With ``dropout_p`` > 0 the weights are dropped out with a
    mask drawn from ``stream``; the mask is a constant of backward.
    """

    differentiable_backward = True

    @staticmethod
    def forward(ctx, query, key, value, float_mask, blocked, scale, dropout_p, stream):
        dtype = query.dtype
        work_query, work_key, work_value = _compute_dtype(query, key, value)
        scores = _scores(np, work_query, work_key, scale, float_mask, blocked,
                         out=_scratch("scores", _scores_shape(work_query, work_key),
                                      work_query.dtype))
        # a row can lose every key only to a float mask or to a bool one that removes key 0
        may_empty = float_mask is not None or (blocked is not None
                                               and bool(blocked[..., 0].any()))
        total, log_normalizer = _exp_in_place(scores, may_empty)
        keep = None
        if dropout_p > 0.0:
            keep = stream.random(scores.shape, dtype=np.float32) >= dropout_p
            scores *= keep
            if dropout_p < 1.0:  # at 1 every weight is dropped and the output stays 0
                total *= total.dtype.type(1.0 - dropout_p)
        # Normalised after the product: (e @ v) / total divides L x Ev values, not L x S.
        output = _matmul_heads_last(scores, work_value)
        output /= total
        if output.dtype != dtype:
            output = output.astype(dtype)
        if ctx._recording:
            ctx.save_for_backward(query, key, value, float_mask, blocked, output,
                                  log_normalizer, keep)
            ctx.options = (scale, dropout_p)
        return output

    @staticmethod
    def backward(ctx, grad_output):
        xp = ctx.xp
        query, key, value, float_mask, blocked, output, log_normalizer, keep = ctx.saved_tensors
        scale, dropout_p = ctx.options
        dtype = query.dtype
        needs_query, needs_key, needs_value, needs_mask = ctx.needs_input_grad[:4]
        if xp is np:
            query, key, value, grad_output, output = _compute_dtype(query, key, value,
                                                                    grad_output, output)
        weights = _weights(xp, query, key, scale, float_mask, blocked, log_normalizer)
        weights_shape = tuple(weights.shape)
        dropped = weights
        if keep is not None:
            dropped = xp.where(keep, weights * _kept_scale(dropout_p), 0.0)
        grad_query = grad_key = grad_value = grad_mask = None
        if needs_value:
            grad_value = xp.matmul(xp.matrix_transpose(dropped), grad_output)
        if needs_query or needs_key or needs_mask:
            if xp is np:
                grad_weights = np.matmul(grad_output, np.swapaxes(value, -1, -2),
                                         out=_scratch("grad_weights", weights_shape,
                                                      weights.dtype))
            else:
                grad_weights = xp.matmul(grad_output, xp.matrix_transpose(value))
            if keep is not None:
                grad_weights = xp.where(keep, grad_weights * _kept_scale(dropout_p), 0.0)
            # d softmax: weights * (grad_weights - sum(grad_weights * weights)); that row sum
            # equals sum(grad_output * output) per query, a far smaller product.
            row_dot = xp.sum(grad_output * output, axis=-1, keepdims=True)
            grad_scores = _softmax_backward(xp, weights, grad_weights, row_dot)
            if needs_query:
                grad_query = xp.matmul(grad_scores, key) * scale
            if needs_key:
                grad_key = xp.matmul(xp.matrix_transpose(grad_scores), query) * scale
            if needs_mask:
                grad_mask = unbroadcast(grad_scores, float_mask.shape)
                if xp is np and np.shares_memory(grad_mask, grad_scores):
                    grad_mask = grad_mask.copy()  # grad_scores is a scratch array
        if xp is np:
            grad_query, grad_key, grad_value, grad_mask = [
                None if grad is None else grad.astype(dtype, copy=False)
                for grad in (grad_query, grad_key, grad_value, grad_mask)]
        return grad_query, grad_key, grad_value, grad_mask, None, None, None, None


def _kept_scale(dropout_p):
    """1 / (1 - p) for the weights dropout keeps; none is kept at p = 1."""
    return 0.0 if dropout_p >= 1.0 else 1.0 / (1.0 - dropout_p)


def _matmul_heads_last(weights, value):
    """weights @ value for (..., heads, L, S) @ (..., heads, S, Ev), written into memory laid out
    as (..., L, heads, Ev) and returned as a (..., heads, L, Ev) view: the usual merge of the
    heads (``transpose(1, 2).contiguous()``) then copies nothing."""
    if weights.ndim < 4:
        return np.matmul(weights, value)
    shape = weights.shape[:-1] + value.shape[-1:]
    memory = np.empty(shape[:-3] + (shape[-2], shape[-3], shape[-1]), dtype=weights.dtype)
    output = np.swapaxes(memory, -3, -2)
    np.matmul(weights, value, out=output)
    return output


def _softmax_backward(xp, weights, grad_weights, row_dot):
    """weights * (grad_weights - row_dot), in place on arrays (grad_weights is fresh there)."""
    if xp is not np:
        return weights * (grad_weights - row_dot)
    grad_weights -= row_dot
    grad_weights *= weights
    return grad_weights


def _compute_dtype(*arrays):
    """float16 computes in float32 (BLAS has no half GEMM; PyTorch accumulates in float too)."""
    if arrays[0].dtype != np.float16:
        return arrays
    return [array.astype(np.float32) for array in arrays]


def _scores_shape(query, key):
    """The shape of query @ key^T."""
    return np.broadcast_shapes(query.shape[:-2], key.shape[:-2]) + (query.shape[-2],
                                                                     key.shape[-2])


def _scores(xp, query, key, scale, float_mask, blocked, out=None):
    """query key^T * scale with the masks applied: in place on arrays (into ``out`` if given),
    recorded on Tensors."""
    if xp is np:
        scores = np.matmul(query * scale, np.swapaxes(key, -1, -2), out=out)
        if blocked is not None:
            np.copyto(scores, -np.inf, where=blocked)
        if float_mask is not None:
            scores += float_mask
        return scores
    scores = xp.matmul(query * scale, xp.matrix_transpose(key))
    if blocked is not None:
        scores = xp.where(blocked, -np.inf, scores)
    if float_mask is not None:
        scores = scores + float_mask
    return scores


def _exp_in_place(scores, masked):
    """The rows of ``scores`` to exp(scores - row max), in place: softmax weights but for the
    division by the returned row totals; also returns each row's log-sum-exp. A row without
    any key left (all -inf) gets zero weights, a total of 1 and a log-sum-exp of 0."""
    if scores.shape[-1] == 0:
        return (np.ones(scores.shape[:-1] + (1,), scores.dtype),
                np.zeros(scores.shape[:-1] + (1,), scores.dtype))
    row_max = scores.max(axis=-1, keepdims=True)
    if masked:
        empty = np.isneginf(row_max)
        if empty.any():
            row_max[empty] = 0.0
    scores -= row_max
    np.exp(scores, out=scores)
    total = scores.sum(axis=-1, keepdims=True)
    if masked:
        total[total == 0] = 1.0
    log_normalizer = np.log(total)
    log_normalizer += row_max
    return total, log_normalizer


def _weights(xp, query, key, scale, float_mask, blocked, log_normalizer):
    """The attention weights again, from the saved log-sum-exp: exp(scores - lse) in place on
    arrays; on Tensors a softmax shifted by that constant (the shift cancels in its gradient)."""
    if xp is np:
        scores = _scores(np, query, key, scale, float_mask, blocked,
                         out=_scratch("scores", _scores_shape(query, key), query.dtype))
        scores -= log_normalizer
        return np.exp(scores, out=scores)
    scores = _scores(xp, query, key, scale, float_mask, blocked)
    shifted = xp.exp(scores - log_normalizer)
    total = xp.sum(shifted, axis=-1, keepdims=True)
    return shifted / xp.where(total == 0, 1.0, total)
