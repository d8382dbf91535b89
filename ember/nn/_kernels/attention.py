"""Fused scaled dot-product attention (speed and memory): two batched GEMMs forward, the softmax
in place on the scores, masks applied in place (a causal mask is never a float tensor).

Like flash attention, forward keeps the rows' log-sum-exp instead of the (L, S) weights, and
backward recomputes the weights with one GEMM: memory stays that of q, k, v and the output.
"""
import functools
import math
import threading

import numpy as np

from ... import _jit, _random, _threads
from ...autograd.function import Op
from ...ops._broadcast import unbroadcast
from . import all_finite


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
# Small temporaries (decoding: a few queries) come faster from the allocator's free lists than
# from the per-thread lookup.
_SCRATCH_SMALL_BYTES = 1 << 14


def _scratch(slot, shape, dtype):
    """An uninitialised array of ``shape`` for one temporary, reused across calls in this
    thread; ``slot`` names the temporary so two live ones never share memory."""
    dtype = np.dtype(dtype)
    size = math.prod(shape)
    nbytes = size * dtype.itemsize
    if nbytes > _SCRATCH_LIMIT_BYTES or nbytes <= _SCRATCH_SMALL_BYTES:
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
    mask drawn from the generator ``stream``; the mask is a constant of backward.
    """

    _next_order = (0, 1, 2)  # query, key, value (a mask that needs a gradient adds itself)
    differentiable_backward = True

    @staticmethod
    def forward(ctx, query, key, value, float_mask, blocked, scale, dropout_p, stream):
        if ctx.needs_input_grad[3]:
            ctx._next_order = (0, 1, 2, 3)
        dtype = query.dtype
        work_query, work_key, work_value = _compute_dtype(query, key, value)
        keep = None
        if dropout_p > 0.0:
            # at::dropout's bernoulli_(1 - p) over the weights
            keep = _random.bernoulli(stream, 1.0 - dropout_p, _scores_shape(work_query, work_key))
        scores_shape = _scores_shape(work_query, work_key)
        batch = scores_shape[:-2]
        if work_value.shape[:-2] != batch:
            batch = np.broadcast_shapes(batch, work_value.shape[:-2])
        output_shape = batch + (scores_shape[-2], work_value.shape[-1])
        if dropout_p == 0.0 and _heads_last(query):
            output = _heads_last_output(output_shape, work_query.dtype)
        else:
            output = np.empty(output_shape, work_query.dtype)
        axis, ranges = _batch_ranges(work_query, work_key, work_value)
        if len(ranges) == 1:
            log_normalizer = _attend(work_query, work_key, work_value, float_mask, blocked, keep,
                                     scale, dropout_p, output)
        else:
            log_normalizer = np.empty(scores_shape[:-1] + (1,), work_query.dtype)

            def attend(start, stop):
                part, key = _batch_part(work_query, axis, start, stop)
                log_normalizer[key] = _attend(
                    *part(work_query, work_key, work_value, float_mask, blocked, keep), scale,
                    dropout_p, output[key])

            _threads.run(attend, ranges)
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
        needs = ctx.needs_input_grad[:4]
        if xp is not np:
            return _attention_grads(xp, query, key, value, float_mask, blocked, output,
                                    log_normalizer, keep, grad_output, scale, dropout_p,
                                    needs) + (None,) * 4
        dtype = query.dtype
        query, key, value, grad_output, output = _compute_dtype(query, key, value, grad_output,
                                                                output)
        axis, ranges = (0, _WHOLE) if needs[3] else _batch_ranges(query, key, value)
        if len(ranges) == 1:
            grads = list(_attention_grads(np, query, key, value, float_mask, blocked, output,
                                          log_normalizer, keep, grad_output, scale, dropout_p,
                                          needs))
        else:
            grads = [np.empty(array.shape, array.dtype) if need else None
                     for array, need in zip((query, key, value), needs[:3])] + [None]

            def differentiate(start, stop):
                part, index = _batch_part(query, axis, start, stop)
                computed = _attention_grads(
                    np, *part(query, key, value, float_mask, blocked, output, log_normalizer,
                              keep, grad_output), scale, dropout_p, needs)
                for grad, part_grad in zip(grads, computed):
                    if grad is not None:
                        grad[index] = part_grad

            _threads.run(differentiate, ranges)
        return tuple(None if grad is None else grad.astype(dtype, copy=False)
                     for grad in grads) + (None,) * 4


_FLOAT32 = np.dtype(np.float32)
_FLOAT64 = np.dtype(np.float64)


def untracked_attention(query, key, value, causal, scale):
    """ScaledDotProductAttention.forward's output where nothing is recorded, without a mask or
    dropout (``scale`` None: 1 / sqrt(E)), for float32/float64 arrays of one dtype, at least 2
    dims and equal leading dims, that one thread computes (no node, no checks); None for
    anything else, which the node's path checks and computes."""
    if type(query) is not np.ndarray or type(key) is not np.ndarray \
            or type(value) is not np.ndarray:
        return None
    dtype = query.dtype
    shape = query.shape
    if ((dtype is not _FLOAT32 and dtype is not _FLOAT64) or key.dtype is not dtype
            or value.dtype is not dtype or len(shape) < 2 or key.shape[:-2] != shape[:-2]
            or value.shape[:-2] != shape[:-2] or key.shape[-1] != shape[-1]
            or value.shape[-2] != key.shape[-2] or len(_batch_ranges(query, key, value)[1]) != 1):
        return None
    if scale is None:
        scale = 1.0 / math.sqrt(shape[-1])
    output_shape = shape[:-1] + value.shape[-1:]
    if _heads_last(query):
        output = _heads_last_output(output_shape, dtype)
    else:
        output = np.empty(output_shape, dtype)
    blocked = causal_blocked(shape[-2], key.shape[-2]) if causal else None
    _attend(query, key, value, None, blocked, None, scale, 0.0, output)
    return output


def _attend(query, key, value, float_mask, blocked, keep, scale, dropout_p, output):
    """Attention on arrays, written into ``output``; returns each score row's log-sum-exp."""
    compiled = _compiled_softmax(query, key, float_mask, blocked)
    blocks = _causal_blocks(query, key, value, blocked, keep, compiled, (value,))
    if blocks is not None:
        return _attend_blocks(query, key, value, scale, output, compiled, blocks)
    scores = _scores(np, query, key, None if compiled is not None else scale, float_mask,
                     None if compiled is not None else blocked,
                     out=_scratch("scores", _scores_shape(query, key), query.dtype))
    if compiled is not None:
        total, log_normalizer = _softmax_rows_in_place(compiled, scores, blocked is not None,
                                                       scale=scale)
    else:
        # a row can lose every key only to a float mask or to a bool one that removes key 0
        may_empty = float_mask is not None or (blocked is not None and blocked.shape[-1] > 0
                                               and bool(blocked[..., 0].any()))
        total, log_normalizer = _exp_in_place(scores, may_empty)
    if keep is not None:
        scores *= keep
        if dropout_p < 1.0:  # at 1 every weight is dropped and the output stays 0
            total *= total.dtype.type(1.0 - dropout_p)
    # Normalised after the product: (e @ v) / total divides L x Ev values, not L x S.
    np.matmul(scores, value, out=output)
    output /= total
    return log_normalizer


def _attention_grads(xp, query, key, value, float_mask, blocked, output, log_normalizer, keep,
                     grad_output, scale, dropout_p, needs):
    """The gradients of query, key, value and the float mask (None where not needed)."""
    if xp is np:
        compiled = _compiled_softmax(query, key, float_mask, blocked)
        blocks = _causal_blocks(query, key, value, blocked, keep, compiled,
                                (value, grad_output))
        if blocks is not None:
            return _attention_grads_blocks(query, key, value, log_normalizer, grad_output,
                                           output, scale, needs, compiled, blocks)
    needs_query, needs_key, needs_value, needs_mask = needs
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
            grad_weights = np.matmul(grad_output, _transposed_copy(value, grad_output.shape[-2]),
                                     out=_scratch("grad_weights", weights_shape, weights.dtype))
        else:
            grad_weights = xp.matmul(grad_output, xp.matrix_transpose(value))
        if keep is not None:
            grad_weights = xp.where(keep, grad_weights * _kept_scale(dropout_p), 0.0)
        # d softmax: weights * (grad_weights - sum(grad_weights * weights)); that row sum
        # equals sum(grad_output * output) per query, a far smaller product.
        row_dot = _row_dot(xp, grad_output, output)
        grad_scores = _softmax_backward(xp, weights, grad_weights, row_dot)
        if needs_query:
            grad_query = xp.matmul(grad_scores, key) * scale
        if needs_key:
            grad_key = xp.matmul(xp.matrix_transpose(grad_scores), query) * scale
        if needs_mask:
            grad_mask = unbroadcast(grad_scores, float_mask.shape)
            if xp is np and np.shares_memory(grad_mask, grad_scores):
                grad_mask = grad_mask.copy()  # grad_scores is a scratch array
    return grad_query, grad_key, grad_value, grad_mask


def _batch_ranges(query, key, value):
    """(axis, ranges) of a batch dim for ember's threads: the leading dim, or the heads' when
    the leading one is too short (generation: batch 1); one range unless query, key and value
    share their leading dims and the products are large."""
    if (not _threads.pool_enabled() or query.ndim < 3
            or not (query.shape[:-2] == key.shape[:-2] == value.shape[:-2])):
        return 0, _WHOLE
    work = math.prod(query.shape[:-1]) * key.shape[-2] * (query.shape[-1] + value.shape[-1])
    count = _threads.chunk_count(work, _threads.GEMM_GRAIN)
    axis = 1 if query.shape[0] < count and query.ndim > 3 else 0
    rows = query.shape[axis]
    return axis, _threads.row_ranges(rows, min(count, rows))


_WHOLE = [(0, None)]


def _batch_part(query, axis, start, stop):
    """(part, key): ``part`` gives each array's indices start:stop of batch dim ``axis`` (the
    arrays that broadcast along it, with fewer dims or a 1 there, and None pass whole), ``key``
    indexes those of the full outputs."""
    if stop is None:
        return (lambda *arrays: arrays), ...
    ndim, rows = query.ndim, query.shape[axis]
    key = (slice(None),) * axis + (slice(start, stop),)

    def part(*arrays):
        return [array[key]
                if array is not None and array.ndim == ndim and array.shape[axis] == rows
                else array for array in arrays]
    return part, key


def _kept_scale(dropout_p):
    """1 / (1 - p) for the weights dropout keeps; none is kept at p = 1."""
    return 0.0 if dropout_p >= 1.0 else 1.0 / (1.0 - dropout_p)


def _heads_last(query):
    """Whether a 4-D ``query`` lies in memory as (N, L, heads, E), as ``view(N, L, heads, E)
    .transpose(1, 2)`` leaves it (one query too): PyTorch's CPU kernel then returns its output in
    that layout too; a (N, heads, L, E)-contiguous query, other ranks and dropout give a
    row-major output."""
    strides = query.strides
    return query.ndim == 4 and strides[-3] < strides[-2]


def _heads_last_output(shape, dtype):
    """An array of (..., heads, L, Ev) ``shape`` whose memory is laid out as (..., L, heads, Ev):
    the usual merge of the heads (``transpose(1, 2).contiguous()``) then copies nothing."""
    if len(shape) < 4:
        return np.empty(shape, dtype)
    memory = np.empty(shape[:-3] + (shape[-2], shape[-3], shape[-1]), dtype=dtype)
    return memory.swapaxes(-3, -2)


def _row_dot(xp, grad_output, output):
    """Each query's sum of grad_output * output, as (..., L, 1): one einsum on arrays (no
    product temporary; three times faster on strided heads), recorded on Tensors."""
    if xp is np:
        return np.einsum("...d,...d->...", grad_output, output)[..., None]
    return xp.sum(grad_output * output, axis=-1, keepdims=True)


def _softmax_backward(xp, weights, grad_weights, row_dot):
    """weights * (grad_weights - row_dot), in place on arrays (grad_weights is fresh there)."""
    if xp is not np:
        return weights * (grad_weights - row_dot)
    grad_weights -= row_dot
    grad_weights *= weights
    return grad_weights


# Rows of the left-hand side from which a transposed right-hand side is copied first.
_COPY_FOR_ROWS = 64


def _transposed_copy(array, rows=_COPY_FOR_ROWS):
    """The last two axes of ``array`` swapped, as a contiguous copy when the product it enters
    has ``rows`` rows or more: OpenBLAS's batched products of these small matrices are slower
    with a transposed right-hand side than the copy costs ((64, 128, 32) @ (64, 32, 128): 0.84
    -> 0.64 ms with it), but a few query rows (decoding with a cache: one) do not repay copying
    every key (4 heads, 512 keys: 36 us with the copy, 4.4 us without); a view there."""
    swapped = array.swapaxes(-1, -2)  # the method: np.swapaxes wraps it in Python
    return np.ascontiguousarray(swapped) if rows >= _COPY_FOR_ROWS else swapped


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
    """(query key^T) * scale with the masks applied: in place on arrays (into ``out`` if given;
    ``scale`` None leaves the scaling to the compiled softmax), recorded on Tensors. The scale
    multiplies the product, as in PyTorch's flash attention kernel."""
    if xp is np:
        scores = np.matmul(query, _transposed_copy(key, query.shape[-2]), out=out)
        if scale is not None:
            scores *= scale
        if blocked is not None:
            np.copyto(scores, -np.inf, where=blocked)
        if float_mask is not None:
            scores += float_mask
        return scores
    scores = xp.matmul(query, xp.matrix_transpose(key)) * scale
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
    # any size (not compiled_float32's minimum): ember's threads call this on parts of the
    # scores, and each part must round as the whole does
    compiled = (_exp_rows_float32.compiled() if _jit.uniform_arrays((scores,), (_FLOAT32,))
                else None)
    if compiled is not None:
        total = np.empty(scores.shape[:-1] + (1,), scores.dtype)
        log_normalizer = np.empty_like(total)
        compiled(scores.reshape(-1, scores.shape[-1]), masked, total.reshape(-1),
                 log_normalizer.reshape(-1))
        return total, log_normalizer
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


# NumPy's max and sum over short rows, and its exp where -inf keys meet a large shift (the
# subnormal results), cost (32, 4, 40, 40) padding-masked scores 0.85 ms; this kernel 0.1 ms.
@_jit.kernel(reassociate=True)
def _exp_rows_float32(rows, masked, total, log_normalizer):
    """_exp_in_place on float32 (R, S) rows, one row at a time: the max (a NaN row gives NaN
    through exp), the exponentials (ember._jit.exp_float32, within 2 ulp of NumPy's) and their
    sum; a ``masked`` row without keys (all -inf) gets zeros, a total of 1 and 0."""
    for index in range(rows.shape[0]):
        row = rows[index]
        shift = _jit.row_max_float32(row)
        if masked and shift == -np.inf:
            shift = _ZERO
        row_total = _ZERO
        for column in range(row.shape[0]):
            value = _jit.exp_float32(row[column] - shift)
            row[column] = value
            row_total += value
        if masked and row_total == _ZERO:
            row_total = np.float32(1.0)
        total[index] = row_total
        log_normalizer[index] = np.log(row_total) + shift


def _weights(xp, query, key, scale, float_mask, blocked, log_normalizer):
    """The attention weights again, from the saved log-sum-exp: exp(scores - lse) in place on
    arrays; on Tensors a softmax shifted by that constant (the shift cancels in its gradient)."""
    if xp is np:
        compiled = _compiled_softmax(query, key, float_mask, blocked)
        scores = _scores(np, query, key, None if compiled is not None else scale, float_mask,
                         None if compiled is not None else blocked,
                         out=_scratch("scores", _scores_shape(query, key), query.dtype))
        if compiled is not None:
            _softmax_rows_in_place(compiled, scores, blocked is not None, log_normalizer,
                                   scale=scale)
            return scores
        scores -= log_normalizer
        return np.exp(scores, out=scores)
    scores = _scores(xp, query, key, scale, float_mask, blocked)
    shifted = xp.exp(scores - log_normalizer)
    total = xp.sum(shifted, axis=-1, keepdims=True)
    return shifted / xp.where(total == 0, 1.0, total)


# ---- the compiled softmax (float32, no mask or the causal one) -------------------------------
# Three passes over each row in one kernel: its max, exp(score * scale - max) for the keys the
# causal mask leaves and 0 for the others, the sum of those numerators (backward recomputes the
# weights with the second pass alone, from the saved log-sum-exps). The exponential is ember._jit.exp_float32 (within 2 ulp of exp; NumPy's exp would also run over
# the removed keys, and numba's is a scalar call per element), so that the loop vectorises.
_ZERO = np.float32(0.0)
_VECTOR = 16  # float32 lanes of an AVX-512 register: a row's loop runs to a multiple of it


@_jit.kernel
def _softmax_rows(scores, causal, total, log_normalizer, first_query, scale):
    """Each row of ``scores`` (R, L, S; float32) to the softmax numerators exp(score * scale -
    row max), 0 at the keys a ``causal`` mask removes (row l is query first_query + l); the
    row sums into ``total`` and log(sum) + max into ``log_normalizer``, both (R, L). One row
    at a time through the three passes, while it is in cache."""
    length = scores.shape[2]
    for batch in range(scores.shape[0]):
        for query in range(scores.shape[1]):
            row = scores[batch, query]
            limit = min(first_query + query + 1, length) if causal else length
            # four running maxima, so that the comparisons overlap
            first_max = second_max = third_max = fourth_max = row[0] * scale
            whole = limit - limit % 4
            for column in range(0, whole, 4):
                first = row[column] * scale
                second = row[column + 1] * scale
                third = row[column + 2] * scale
                fourth = row[column + 3] * scale
                if first > first_max:
                    first_max = first
                if second > second_max:
                    second_max = second
                if third > third_max:
                    third_max = third
                if fourth > fourth_max:
                    fourth_max = fourth
            for column in range(whole, limit):
                value = row[column] * scale
                if value > first_max:
                    first_max = value
            shift = max(max(first_max, second_max), max(third_max, fourth_max))
            # up to a whole number of vectors: no scalar remainder loop for most rows
            stop = min(length, (limit + _VECTOR - 1) // _VECTOR * _VECTOR)
            for column in range(stop):
                result = _jit.exp_float32(row[column] * scale - shift)
                row[column] = _ZERO if column >= limit else result
            row[stop:] = _ZERO
            # four independent partial sums: the additions overlap instead of waiting in one
            # chain
            first_sum = second_sum = third_sum = fourth_sum = _ZERO
            for column in range(0, whole, 4):
                first_sum += row[column]
                second_sum += row[column + 1]
                third_sum += row[column + 2]
                fourth_sum += row[column + 3]
            row_total = (first_sum + second_sum) + (third_sum + fourth_sum)
            for column in range(whole, limit):
                row_total += row[column]
            total[batch, query] = row_total
            log_normalizer[batch, query] = np.log(row_total) + shift


@_jit.kernel
def _exp_shifted_rows(scores, causal, shifts, first_query, scale):
    """Each row of ``scores`` (R, L, S; float32) to exp(score * scale - shift), the shift from
    ``shifts`` (R, L), and to 0 at the keys a ``causal`` mask removes. Each product is rounded
    before the subtraction, as NumPy's two passes round it; NaN stays NaN."""
    length = scores.shape[2]
    for batch in range(scores.shape[0]):
        for query in range(scores.shape[1]):
            row = scores[batch, query]
            limit = min(first_query + query + 1, length) if causal else length
            shift = shifts[batch, query]
            # up to a whole number of vectors: no scalar remainder loop for most rows
            stop = min(length, (limit + _VECTOR - 1) // _VECTOR * _VECTOR)
            for column in range(stop):
                result = _jit.exp_float32(row[column] * scale - shift)
                row[column] = _ZERO if column >= limit else result
            row[stop:] = _ZERO


@_jit.kernel
def _scaled_softmax_gradient(weights, grad_weights, row_dot, scale):
    """grad_weights (R, L, S; float32) becomes weights * (grad_weights - row_dot) * scale in
    place, row_dot (R, L) being each row's sum of grad_output * output: the gradient of the
    scaled scores in one pass (NumPy's ``-=`` and ``*=`` and the products' scaling)."""
    for batch in range(weights.shape[0]):
        for query in range(weights.shape[1]):
            shift = row_dot[batch, query]
            weight_row = weights[batch, query]
            grad_row = grad_weights[batch, query]
            for column in range(weight_row.shape[0]):
                grad_row[column] = (weight_row[column] * (grad_row[column] - shift)) * scale


def _compiled_softmax(query, key, float_mask, blocked):
    """The compiled softmax kernels (whole softmax, exponentials, scaled gradient) where they
    apply (float32 scores without a mask or with the causal one), else None."""
    if (query.dtype != np.float32 or float_mask is not None or key.shape[-2] == 0
            or query.shape[-2] == 0):
        return None
    if blocked is not None and (blocked.ndim != 2
                                or blocked is not causal_blocked(*blocked.shape)):
        return None
    softmax_rows = _softmax_rows.compiled()
    if softmax_rows is None:
        return None
    return softmax_rows, _exp_shifted_rows.compiled(), _scaled_softmax_gradient.compiled()


def _softmax_rows_in_place(compiled, scores, causal, log_normalizer=None, first_query=0,
                           scale=1.0):
    """The kernels on a contiguous (..., L, S) ``scores`` (unscaled products) whose row l is
    query first_query + l: without ``log_normalizer``, the numerators of softmax(scores * scale)
    in place and (row totals, log-sum-exps) as (..., L, 1) arrays; with it (contiguous), the
    weights exp(scores * scale - log_normalizer)."""
    softmax_rows, exp_shifted_rows = compiled[:2]
    length, source = scores.shape[-2:]
    rows = scores.reshape(-1, length, source)
    scale = np.float32(scale)
    if log_normalizer is not None:
        exp_shifted_rows(rows, causal, log_normalizer.reshape(-1, length), first_query, scale)
        return None
    total = np.empty(scores.shape[:-1] + (1,), scores.dtype)
    log_normalizer = np.empty_like(total)
    softmax_rows(rows, causal, total.reshape(-1, length), log_normalizer.reshape(-1, length),
                 first_query, scale)
    return total, log_normalizer


# ---- causal attention in blocks of queries (float32, the compiled softmax) -------------------
# Queries first:last see keys 0:last only: each block's products stop there, so the scores a
# causal mask removes are mostly never computed. 4 blocks of L = 128 compute 62.5% of the
# full products; PyTorch's flash kernel skips masked blocks in the same way.
_BLOCK_ROWS = 32
_MAX_BLOCKS = 8
# Below this many scores a block's calls cost what it saves (generation: batch 1, 4 heads).
_BLOCKED_SCORES = 1 << 18


def _causal_blocks(query, key, value, blocked, keep, compiled, finite=()):
    """The query ranges for the blocked path, or None where the whole-matrix path runs (not
    causal, no compiled softmax, dropout, broadcast leading dims, few scores, fewer than two
    blocks, or a non-finite value in the ``finite`` arrays: the whole product multiplies a
    masked key's inf value (or a masked query's inf output gradient) by a zero weight into NaN,
    as PyTorch does, which the blocks would skip)."""
    if compiled is None or blocked is None or keep is not None:
        return None
    length = query.shape[-2]
    if math.prod(query.shape[:-2]) * length * key.shape[-2] < _BLOCKED_SCORES:
        return None
    if not (query.shape[:-2] == key.shape[:-2] == value.shape[:-2]):
        return None
    count = min(_MAX_BLOCKS, length // _BLOCK_ROWS)
    if count < 2 or not all_finite(*finite):
        return None
    return _threads.row_ranges(length, count)


def _block_scores(query, key, blocks):
    """(first, last, keys, scores) for each block of queries first:last: keys = the keys they
    see (0:keys), scores = their (unscaled) products with those keys, in the scratch array."""
    source = key.shape[-2]
    key_columns = _transposed_copy(key)
    for first, last in blocks:
        keys = min(last, source)
        scores = np.matmul(query[..., first:last, :], key_columns[..., :keys],
                           out=_scratch("scores", query.shape[:-2] + (last - first, keys),
                                        query.dtype))
        yield first, last, keys, scores


def _attend_blocks(query, key, value, scale, output, compiled, blocks):
    """``_attend`` of causal float32 attention block by block; returns the log-sum-exps."""
    log_normalizer = np.empty(query.shape[:-1] + (1,), query.dtype)
    for first, last, keys, scores in _block_scores(query, key, blocks):
        total, log_normalizer[..., first:last, :] = _softmax_rows_in_place(
            compiled, scores, True, first_query=first, scale=scale)
        part = output[..., first:last, :]
        np.matmul(scores, value[..., :keys, :], out=part)
        part /= total
    return log_normalizer


def _attention_grads_blocks(query, key, value, log_normalizer, grad_output, output, scale,
                            needs, compiled, blocks):
    """``_attention_grads`` of causal float32 attention block by block: each block's weights
    recomputed from the saved log-sum-exps, its key and value gradients added to keys 0:last;
    the scale multiplies the scores' gradient, so the query and key gradients need no pass of
    their own."""
    needs_query, needs_key, needs_value = needs[:3]
    scaled_gradient = compiled[2]
    scale = np.float32(scale)
    value_columns = _transposed_copy(value)
    length = query.shape[-2]
    row_dot = _row_dot(np, grad_output, output).reshape(-1, length)
    # The gradients in the memory order of the inputs (heads split from one projection: the
    # heads-last layout), so that the head merge's backward copies nothing. The last block sees
    # every key: it writes the key and value gradients, the others add to them.
    source = key.shape[-2]
    grad_query = np.empty_like(query) if needs_query else None
    grad_key = _gradient_buffer(key, blocks[-1][1] < source) if needs_key else None
    grad_value = _gradient_buffer(value, blocks[-1][1] < source) if needs_value else None
    written = blocks[-1][1] < source  # keys no block sees keep their zero gradient
    for first, last, keys, weights in _block_scores(query, key, blocks[::-1]):
        _softmax_rows_in_place(compiled, weights, True,
                               np.ascontiguousarray(log_normalizer[..., first:last, :]), first,
                               scale)
        block_grad = grad_output[..., first:last, :]
        if needs_value:
            _add_product(grad_value[..., :keys, :], np.swapaxes(weights, -1, -2), block_grad,
                         written)
        if needs_query or needs_key:
            grad_scores = np.matmul(block_grad, value_columns[..., :keys],
                                    out=_scratch("grad_weights", weights.shape, query.dtype))
            rows = last - first
            scaled_gradient(weights.reshape(-1, rows, keys), grad_scores.reshape(-1, rows, keys),
                            row_dot[:, first:last], scale)
            if needs_query:
                np.matmul(grad_scores, key[..., :keys, :], out=grad_query[..., first:last, :])
            if needs_key:
                _add_product(grad_key[..., :keys, :], np.swapaxes(grad_scores, -1, -2),
                             query[..., first:last, :], written)
        written = True
    return grad_query, grad_key, grad_value, None


def _gradient_buffer(like, zeroed):
    """An uninitialised (or ``zeroed``) array in the memory order of ``like``."""
    return np.zeros_like(like) if zeroed else np.empty_like(like)


def _add_product(target, a, b, add):
    """target += a @ b, or target = a @ b when ``add`` is False."""
    if add:
        target += np.matmul(a, b)
    else:
        np.matmul(a, b, out=target)
