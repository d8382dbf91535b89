"""Fused scaled dot-product attention (speed and memory): two batched GEMMs forward, the softmax
in place on the scores, masks applied in place (a causal mask is never a float tensor).

Like flash attention, forward keeps the rows' log-sum-exp instead of the (L, S) weights, and
backward recomputes the weights with one GEMM: memory stays that of q, k, v and the output.
"""
import functools
import math
import threading

import numpy as np

from ... import _jit
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
        compiled = _compiled_softmax(work_query, work_key, float_mask, blocked)
        scores = _scores(np, work_query, work_key, scale, float_mask,
                         None if compiled is not None else blocked,
                         out=_scratch("scores", _scores_shape(work_query, work_key),
                                      work_query.dtype))
        if compiled is not None:
            total, log_normalizer = _softmax_rows_in_place(compiled, scores, blocked is not None)
        else:
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
    if query.shape[:-2] == key.shape[:-2]:
        return query.shape[:-1] + key.shape[-2:-1]
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
        compiled = _compiled_softmax(query, key, float_mask, blocked)
        scores = _scores(np, query, key, scale, float_mask,
                         None if compiled is not None else blocked,
                         out=_scratch("scores", _scores_shape(query, key), query.dtype))
        if compiled is not None:
            _softmax_rows_in_place(compiled, scores, blocked is not None, log_normalizer)
            return scores
        scores -= log_normalizer
        return np.exp(scores, out=scores)
    scores = _scores(xp, query, key, scale, float_mask, blocked)
    shifted = xp.exp(scores - log_normalizer)
    total = xp.sum(shifted, axis=-1, keepdims=True)
    return shifted / xp.where(total == 0, 1.0, total)


# ---- the compiled softmax (float32, no mask or the causal one) -------------------------------
# exp(x) = 2^k * exp(r), r = x - k ln 2 in [-ln 2 / 2, ln 2 / 2] (ln 2 in two parts), exp(r) by
# Cephes' expf polynomial: within 2 ulp of NumPy's exp. numba's own exp is a scalar call per
# element; this one vectorises. 2^k is built from its bits, in two factors so that results in
# the subnormal range keep their precision.
_LOG2_E = np.float32(1.4426950408889634)
_LN2_HIGH = np.float32(0.693359375)
_LN2_LOW = np.float32(-2.12194440e-4)
_EXP_POLYNOMIAL = tuple(np.float32(value) for value in (
    1.9875691500e-4, 1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2, 1.6666665459e-1,
    5.0000001201e-1))
_EXP_LOWEST = np.float32(-103.9)  # below it exp rounds to 0 in float32
_EXP_HIGHEST = np.float32(88.72283)  # the largest float32 whose exp is finite
_ROUNDING_OFFSET = np.float32(256.5)
_INTEGER_OFFSET = np.int32(256)
_ZERO = np.float32(0.0)
_INFINITY = np.float32(np.inf)
_ONE = np.float32(1.0)
_EXPONENT_BIAS = np.int32(127)
_EXPONENT_SHIFT = np.int32(23)


@_jit.kernel
def _softmax_rows(scores, causal, given, log_normalizer, total):
    """Each row of ``scores`` (R, L, S; float32) to exp(score - shift) in place, with key j
    removed from query i > j when ``causal`` (written as 0). The shift is the row max, and the
    row totals and log-sum-exps are written to ``total`` and ``log_normalizer`` (R, L); or, with
    ``given``, the shift is the log-sum-exp already in ``log_normalizer``."""
    length = scores.shape[2]
    for batch in range(scores.shape[0]):
        for query in range(scores.shape[1]):
            row = scores[batch, query]
            limit = min(query + 1, length) if causal else length
            if given:
                shift = log_normalizer[batch, query]
            else:
                shift = row[0]
                for column in range(1, limit):
                    if row[column] > shift:
                        shift = row[column]
            for column in range(limit):
                value = row[column] - shift
                clamped = value
                if clamped != clamped:
                    clamped = _ZERO  # NaN: keep the integer conversion below defined
                if clamped < _EXP_LOWEST:
                    clamped = _EXP_LOWEST
                if clamped > _EXP_HIGHEST:
                    clamped = _EXP_HIGHEST
                # k = floor(x log2 e + 1/2) by truncation, of a value made positive first
                whole = np.int32(clamped * _LOG2_E + _ROUNDING_OFFSET) - _INTEGER_OFFSET
                power = np.float32(whole)
                reduced = clamped - power * _LN2_HIGH
                reduced = reduced - power * _LN2_LOW
                result = _EXP_POLYNOMIAL[0] * reduced + _EXP_POLYNOMIAL[1]
                result = result * reduced + _EXP_POLYNOMIAL[2]
                result = result * reduced + _EXP_POLYNOMIAL[3]
                result = result * reduced + _EXP_POLYNOMIAL[4]
                result = result * reduced + _EXP_POLYNOMIAL[5]
                result = result * (reduced * reduced) + reduced + _ONE
                half = whole >> 1
                result *= np.int32((half + _EXPONENT_BIAS) << _EXPONENT_SHIFT).view(np.float32)
                result *= np.int32((whole - half + _EXPONENT_BIAS)
                                   << _EXPONENT_SHIFT).view(np.float32)
                if value < _EXP_LOWEST:
                    result = _ZERO
                if value > _EXP_HIGHEST:
                    result = _INFINITY
                if value != value:
                    result = value
                row[column] = result
            for column in range(limit, length):
                row[column] = 0.0
            if not given:
                # four independent partial sums: the additions overlap instead of waiting in
                # one chain
                first = second = third = fourth = np.float32(0.0)
                full = limit - limit % 4
                for start in range(0, full, 4):
                    first += row[start]
                    second += row[start + 1]
                    third += row[start + 2]
                    fourth += row[start + 3]
                row_total = (first + second) + (third + fourth)
                for column in range(full, limit):
                    row_total += row[column]
                total[batch, query] = row_total
                log_normalizer[batch, query] = np.log(row_total) + shift


def _compiled_softmax(query, key, float_mask, blocked):
    """The compiled softmax kernel where it applies (float32 scores without a mask or with the
    causal one), else None."""
    if query.dtype != np.float32 or float_mask is not None or key.shape[-2] == 0:
        return None
    if blocked is not None and (blocked.ndim != 2
                                or blocked is not causal_blocked(*blocked.shape)):
        return None
    return _softmax_rows.compiled()


def _softmax_rows_in_place(compiled, scores, causal, log_normalizer=None):
    """The kernel on a contiguous (..., L, S) ``scores``: without ``log_normalizer``, the
    softmax numerators in place and (row totals, log-sum-exps) as (..., L, 1) arrays; with it,
    the weights exp(scores - log_normalizer)."""
    length, source = scores.shape[-2:]
    rows = scores.reshape(-1, length, source)
    if log_normalizer is not None:
        shifts = log_normalizer.reshape(-1, length)
        compiled(rows, causal, True, shifts, shifts)  # the totals are not written
        return None
    total = np.empty(scores.shape[:-1] + (1,), scores.dtype)
    log_normalizer = np.empty_like(total)
    compiled(rows, causal, False, log_normalizer.reshape(-1, length), total.reshape(-1, length))
    return total, log_normalizer
