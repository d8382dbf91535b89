"""Fused scaled dot-product attention (speed and memory): two batched GEMMs forward, the softmax
in place on the scores, masks applied in place (a causal mask is never a float tensor).

Like flash attention, forward keeps the rows' log-sum-exp instead of the (L, S) weights, and
backward recomputes the weights with one GEMM: memory stays that of q, k, v and the output.
"""
import functools

import numpy as np

from ...autograd.function import Op
from ...ops._broadcast import unbroadcast


@functools.lru_cache(maxsize=256)
def causal_blocked(target_length, source_length):
    """The positions a causal mask removes: key j > query i (upper-left aligned, as PyTorch)."""
    blocked = np.triu(np.ones((target_length, source_length), dtype=np.bool_), 1)
    blocked.flags.writeable = False
    return blocked


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
        scores = _scores(np, work_query, work_key, scale, float_mask, blocked)
        # a row can lose every key only to a float mask or to a bool one that removes key 0
        may_empty = float_mask is not None or (blocked is not None
                                               and bool(blocked[..., 0].any()))
        log_normalizer = _softmax_in_place(scores, may_empty)
        keep = None
        if dropout_p > 0.0:
            keep = stream.random(scores.shape, dtype=np.float32) >= dropout_p
            scores *= keep
            scores *= scores.dtype.type(1.0 / (1.0 - dropout_p))
        output = _matmul_heads_last(scores, work_value)
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
        dropped = weights
        if keep is not None:
            dropped = xp.where(keep, weights * (1.0 / (1.0 - dropout_p)), 0.0)
        grad_query = grad_key = grad_value = grad_mask = None
        if needs_value:
            grad_value = xp.matmul(xp.matrix_transpose(dropped), grad_output)
        if needs_query or needs_key or needs_mask:
            grad_weights = xp.matmul(grad_output, xp.matrix_transpose(value))
            if keep is not None:
                grad_weights = xp.where(keep, grad_weights * (1.0 / (1.0 - dropout_p)), 0.0)
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
        if xp is np:
            grad_query, grad_key, grad_value, grad_mask = [
                None if grad is None else grad.astype(dtype, copy=False)
                for grad in (grad_query, grad_key, grad_value, grad_mask)]
        return grad_query, grad_key, grad_value, grad_mask, None, None, None, None


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


def _scores(xp, query, key, scale, float_mask, blocked):
    """query key^T * scale with the masks applied: in place on arrays, recorded on Tensors."""
    scores = xp.matmul(query * scale, xp.matrix_transpose(key))
    if xp is np:
        if blocked is not None:
            np.copyto(scores, -np.inf, where=blocked)
        if float_mask is not None:
            scores += float_mask
        return scores
    if blocked is not None:
        scores = xp.where(blocked, -np.inf, scores)
    if float_mask is not None:
        scores = scores + float_mask
    return scores


def _softmax_in_place(scores, masked):
    """The rows of ``scores`` to softmax weights, in place; returns each row's log-sum-exp. A row
    without any key left (all -inf) gets zero weights and a log-sum-exp of 0."""
    if scores.shape[-1] == 0:
        return np.zeros(scores.shape[:-1] + (1,), scores.dtype)
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
    scores /= total
    np.log(total, out=total)
    total += row_max
    return total


def _weights(xp, query, key, scale, float_mask, blocked, log_normalizer):
    """The attention weights again, from the saved log-sum-exp: exp(scores - lse) in place on
    arrays; on Tensors a softmax shifted by that constant (the shift cancels in its gradient)."""
    scores = _scores(xp, query, key, scale, float_mask, blocked)
    if xp is np:
        scores -= log_normalizer
        return np.exp(scores, out=scores)
    shifted = xp.exp(scores - log_normalizer)
    total = xp.sum(shifted, axis=-1, keepdims=True)
    return shifted / xp.where(total == 0, 1.0, total)
