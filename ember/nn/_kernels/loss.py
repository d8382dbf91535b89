"""Fused loss kernels (numerical stability and the training hot path): cross_entropy/nll_loss as
one ClassificationLoss, binary_cross_entropy and binary_cross_entropy_with_logits; ctc_loss's
dynamic programme.
"""
import functools
import math

import numpy as np

from ... import _jit, _threads
from ..._layout import pointwise_layout
from ...autograd.function import Op, forward_ad_unsupported
from ...ops import reduce as reduce_ops
from ...ops._broadcast import unbroadcast
from .activation import softplus_of, stable_sigmoid


# Elements per slice of dim 0 in the (N, C, ...) kernels below: each slice's passes (max,
# shift, exp, sum) run while it is in cache, so a large-vocabulary input is read from memory once.
_SLICE_ELEMENTS = 1 << 18


def _row_slices(array):
    """Slices of dim 0 of about _SLICE_ELEMENTS elements each (at least one row)."""
    rows = array.shape[0]
    per_row = array.size // rows if rows else 1
    step = max(1, _SLICE_ELEMENTS // max(1, per_row))
    return [slice(start, start + step) for start in range(0, rows, step)]


def _over_slices(input, compute):
    """``compute(slices)`` for runs of ``_row_slices(input)``, the runs cut over ember's threads
    (each slice's passes are the same whoever runs them)."""
    slices = _row_slices(input)
    _threads.split(len(slices), input.size,
                   lambda first, last: compute(slices[first:last]))


# Up to this many elements a (N, C) input's log-sum-exp and softmax gradient run as one compiled
# pass per row, where NumPy's passes would cost 1-3 us each; above it NumPy's vectorised exp wins
# (numba's exp is scalar: forward and backward of (64, 65) took 104 us compiled, 91 us NumPy).
_COMPILED_ELEMENTS = 1 << 12


def _compiled_rows(input):
    """Whether ``input`` is a small (N, C) float32/float64 array for the row kernels below."""
    return (input.ndim == 2 and input.size <= _COMPILED_ELEMENTS
            and (input.dtype == np.float32 or input.dtype == np.float64))


@_jit.kernel
def _log_sum_exp_rows(input, shift, log_total, target, ignore_index, loss):
    # The NumPy path's steps per row: the row's maximum as the shift, the log of the sum of
    # exp(input - shift). A NaN (or an infinite maximum) reaches the sum as NaN through exp.
    # Given class indices (``target`` not empty), also each sample's loss
    # log_total - (input[target] - shift), rounded as the NumPy path rounds it; False (nothing
    # written) when a target is the ignore_index or out of range: the general path handles those.
    classes = input.shape[1]
    for sample in range(target.shape[0]):
        if target[sample] == ignore_index or target[sample] < 0 or target[sample] >= classes:
            return False
    for row in range(input.shape[0]):
        log_total[row, 0] = 0
        peak = input[row, 0]
        for column in range(1, classes):
            if input[row, column] > peak:
                peak = input[row, column]
        for column in range(classes):
            log_total[row, 0] += np.exp(input[row, column] - peak)
        log_total[row, 0] = np.log(log_total[row, 0])
        shift[row, 0] = peak
        if target.shape[0]:
            loss[row] = log_total[row, 0] - (input[row, target[row]] - peak)
    return True


# The row kernel's stand-ins for "no class indices" and "no losses wanted".
_NO_TARGETS = np.empty(0, np.int64)


@_jit.kernel
def _softmax_gradient_rows(input, shift, log_total, target, scale, scale_step, out):
    # exp((input - shift) - log_total) * scale, then scale taken off at each row's target
    for row in range(input.shape[0]):
        factor = scale[row * scale_step]
        for column in range(input.shape[1]):
            out[row, column] = np.exp((input[row, column] - shift[row, 0])
                                      - log_total[row, 0]) * factor
        out[row, target[row]] -= factor


@_jit.kernel
def _log_sum_exp_planes(input, shift, total):
    # input (N, C, S) float32: per (n, s) the maximum over C (NaN sticks, as np.max) and the
    # sum over C, in class order as NumPy's sum over dim 1, of exp(input - maximum) by the
    # vectorisable exp_float32 (within 2 ulp of NumPy's), the spatial positions as the lanes
    batch, classes, positions = input.shape
    for sample in range(batch):
        peak = shift[sample, 0]
        for position in range(positions):
            peak[position] = input[sample, 0, position]
        for label in range(1, classes):
            row = input[sample, label]
            for position in range(positions):
                value = row[position]
                current = peak[position]
                peak[position] = current if (current >= value or current != current) else value
        summed = total[sample, 0]
        for position in range(positions):
            summed[position] = np.float32(0.0)
        for label in range(classes):
            row = input[sample, label]
            for position in range(positions):
                summed[position] += _jit.exp_float32(row[position] - peak[position])


def _compiled_planes(input):
    """(shift, total) of an (N, C, ...) float32 input by _log_sum_exp_planes, or None."""
    if input.ndim < 3 or input.dtype != np.float32 or not input.size:
        return None
    kernel = _log_sum_exp_planes.compiled()
    if kernel is None:
        return None
    planes = np.ascontiguousarray(input).reshape(input.shape[0], input.shape[1], -1)
    shift = np.empty((planes.shape[0], 1, planes.shape[2]), np.float32)
    total = np.empty_like(shift)
    kernel(planes, shift, total)
    shape = input.shape[:1] + (1,) + input.shape[2:]
    return shift.reshape(shape), total.reshape(shape)


# Larger C-contiguous float32 (N, C) inputs take these: exp is
# ember._jit.exp_float32 (vectorised, within 2 ulp of NumPy's) and the row sums are
# reassociated into lanes; (256, 1000) cross-entropy forward 220 -> 132 us, with backward
# 475 -> 271.
@_jit.kernel(reassociate=True)
def _log_sum_exp_rows_float32(input, shift, log_total):
    """Each row's maximum into ``shift`` and the log of the sum of exp(input - shift) into
    ``log_total`` ((N, 1) each); NaN reaches the sum through exp, as in the NumPy path."""
    classes = input.shape[1]
    for row in range(input.shape[0]):
        values = input[row]
        peak = _jit.row_max_float32(values)
        total = np.float32(0.0)
        for column in range(classes):
            total += _jit.exp_float32(values[column] - peak)
        shift[row, 0] = peak
        log_total[row, 0] = np.log(total)


@_jit.kernel
def _softmax_gradient_rows_float32(input, shift, log_total, target, scale, scale_step, out):
    """``_softmax_gradient_rows`` with the vectorised exp."""
    for row in range(input.shape[0]):
        factor = scale[row * scale_step]
        offset = shift[row, 0]
        normalizer = log_total[row, 0]
        values = input[row]
        result = out[row]
        for column in range(values.shape[0]):
            result[column] = _jit.exp_float32((values[column] - offset) - normalizer) * factor
        result[target[row]] -= factor


def _wide_rows(input):
    """Whether ``input`` is a float32 (N, C) array past the scalar kernels' size, for the
    vectorised row kernels (given a C-contiguous copy: strided rows would not vectorise)."""
    return input.ndim == 2 and input.dtype == np.float32 and input.size > _COMPILED_ELEMENTS


def _log_sum_exp(input):
    """(shift, log of the total) over dim 1, each with a size-1 dim: log-softmax is then
    (input - shift) - log_total, in PyTorch's order of operations (adding the two first would
    lose the total's digits next to a large shift). Slice by slice of dim 0, with one
    slice-sized temporary per thread."""
    shape = input.shape[:1] + (1,) + input.shape[2:]
    if input.shape[1] == 0:
        return np.zeros(shape, input.dtype), np.full(shape, -np.inf, input.dtype)
    shift = np.empty(shape, input.dtype)
    log_total = np.empty(shape, input.dtype)
    if _compiled_rows(input):
        compiled = _log_sum_exp_rows.compiled()
        if compiled is not None:
            compiled(input, shift, log_total, _NO_TARGETS, 0, log_total[:0, 0])
            return shift, log_total
    elif _wide_rows(input):
        compiled = _log_sum_exp_rows_float32.compiled()
        if compiled is not None:
            compiled(np.ascontiguousarray(input), shift, log_total)
            return shift, log_total
    planes = _compiled_planes(input)
    if planes is not None:
        shift, log_total = planes
        np.log(log_total, out=log_total)
        return shift, log_total

    def compute(slices):
        shifted_memory = None
        for rows in slices:
            part = input[rows]
            # PyTorch's log_softmax shifts by an infinite maximum too: that row gives NaN
            row_max = np.max(part, axis=1, keepdims=True, out=shift[rows])
            if shifted_memory is None:
                shifted_memory = np.empty(part.size, part.dtype)
            shifted = np.subtract(part, row_max,
                                  out=shifted_memory[:part.size].reshape(part.shape))
            np.exp(shifted, out=shifted)
            target = log_total[rows]
            np.sum(shifted, axis=1, keepdims=True, out=target)
            np.log(target, out=target)
    _over_slices(input, compute)
    return shift, log_total


# ---- cross entropy / nll -------------------------------------------------------------------------
class _Targets:
    """What a class-index or class-probability target contributes to the loss.

    Per sample, loss = -sum_c coefficient[c] * log_probability[c]; ``denominator`` is what
    reduction='mean' divides the summed loss by (PyTorch: the summed weights of the non-ignored
    targets, or the number of samples for probability targets). Class-index coefficients are
    never made dense on the first-order path: a main weight at the target plus an even spread
    (label smoothing).
    """

    def __init__(self, target, weight, ignore_index, smoothing, classes, dtype):
        self.target = target
        self.weight = weight
        self.smoothing = smoothing
        self.classes = classes
        self.dtype = dtype
        self.indices = target.dtype.kind in "iub"
        # plain: class indices, none ignored, no class weights or smoothing. Every coefficient
        # is then 1 at the target, and the loss and its gradient skip the products by 1.
        self.plain = False
        if self.indices:
            self.valid = target != ignore_index
            self.all_valid = bool(self.valid.all())
            self.plain = self.all_valid and weight is None and not smoothing
            if self.all_valid:
                self.safe_target = target.astype(np.int64, copy=False)
            else:
                self.safe_target = np.where(self.valid, target, 0).astype(np.int64, copy=False)
            if self.plain:
                # chosen_weight and main (ones) are made only if a path asks for them
                self.denominator = float(target.size)
            else:
                chosen = (weight[self.safe_target] if weight is not None
                          else np.ones(target.shape, dtype))
                self.chosen_weight = np.where(self.valid, chosen, 0).astype(dtype, copy=False)
                self.denominator = self.chosen_weight.sum(dtype=np.float64)
                self.main = (self.chosen_weight * dtype.type(1.0 - smoothing) if smoothing
                             else self.chosen_weight)
        else:
            self.denominator = float(target.size // classes) if classes else 0.0

    @classmethod
    def plain_indices(cls, target, ignore_index, classes, dtype):
        """The targets of ``_Targets(target, None, ignore_index, 0.0, classes, dtype)`` for
        int64 class indices known to be in range with none ignored, made without a pass over
        them."""
        targets = cls.__new__(cls)
        targets.target = targets.safe_target = target
        targets.weight = None
        targets.smoothing = 0.0
        targets.classes = classes
        targets.dtype = dtype
        targets.indices = targets.plain = targets.all_valid = True
        targets.denominator = float(target.size)
        return targets

    @functools.cached_property
    def valid(self):
        """Which samples count (plain targets: every one)."""
        return np.ones(self.target.shape, np.bool_)

    # Made on first use: the plain case's loss and gradient kernels need none of them.
    @functools.cached_property
    def chosen_weight(self):
        """Each sample's class weight (plain targets: all ones)."""
        return np.ones(self.target.shape, self.dtype)

    @functools.cached_property
    def main(self):
        """Each sample's coefficient at its target (plain targets: the chosen weights)."""
        return self.chosen_weight

    @functools.cached_property
    def index(self):
        """Each sample's (sample, target class, positions...) in an (N, C, ...) array."""
        if self.target.ndim == 1:
            return (np.arange(self.target.shape[0]), self.safe_target)
        grids = np.indices(self.target.shape, sparse=True)
        return (grids[0], self.safe_target) + tuple(grids[1:])

    @functools.cached_property
    def flat_positions(self):
        """``index`` as positions in a C-ordered (N, C, ...) array, shaped as the target."""
        samples = self.target.shape[0]
        spatial = self.target[0].size if samples else 0
        positions = (np.arange(samples)[:, None] * (self.classes * spatial)
                     + self.safe_target.reshape(samples, spatial) * spatial
                     + np.arange(spatial)[None, :])
        return positions.reshape(self.target.shape)

    def _class_weight(self, ndim):
        shape = (1, self.classes) + (1,) * (ndim - 2)
        return self.weight.reshape(shape)

    def _spread(self, ndim):
        """The smoothing part of class-index coefficients, (N, 1 or C, ...)."""
        spread = self.valid[:, None].astype(self.dtype) * self.dtype.type(
            self.smoothing / self.classes)
        return spread * self._class_weight(ndim) if self.weight is not None else spread

    def dense(self, xp, target, ndim):
        """Dense coefficients (N, C, ...): a constant for class indices, recorded from the
        target for class probabilities (they may require grad)."""
        if self.indices:
            shape = (self.target.shape[0], self.classes) + self.target.shape[1:]
            coefficients = np.zeros(shape, self.dtype)
            self.subtract_from(coefficients, -1)
            return coefficients if xp is np else xp.asarray(coefficients)
        coefficients = target
        if self.smoothing:
            coefficients = coefficients * (1.0 - self.smoothing) + self.smoothing / self.classes
        if self.weight is not None:
            coefficients = coefficients * self._class_weight(ndim)
        return coefficients

    def row_total(self, ndim):
        """sum_c coefficient[c] per sample, with a size-1 class dim."""
        if self.indices:
            total = self.main[:, None]
            if self.smoothing:
                spread = self._spread(ndim)
                total = total + (spread.sum(axis=1, keepdims=True) if self.weight is not None
                                 else spread * self.dtype.type(self.classes))
            return total
        return self.dense(np, self.target, ndim).sum(axis=1, keepdims=True)

    def row_dot(self, values, shift=None, unweighted=False):
        """sum_c coefficient[c] * (values[c] - shift) per sample (N, ...); ``shift`` (N, 1,
        ...) is subtracted before the products, where it cancels without rounding.
        ``unweighted``: class indices' values[target] - shift alone."""
        if self.indices:
            if values.ndim > 2 and values.flags.c_contiguous:
                # flat positions and np.take: indexing by the broadcast grids costs ~2x
                picked = np.take(values, self.flat_positions)
            else:
                picked = values[self.index]
            if shift is not None:
                picked = picked - shift[:, 0]
            if self.plain or unweighted:
                return picked
            dot = picked * self.main
            if self.smoothing:
                shifted = values if shift is None else values - shift
                dot = dot + (shifted * self._spread(values.ndim)).sum(axis=1)
            return dot
        shifted = values if shift is None else values - shift
        coefficients = self.dense(np, self.target, values.ndim)
        if shifted.dtype.kind != "f":  # bfloat16: np.einsum has no loop for it; sum in float32
            products = coefficients.astype(np.float32) * shifted.astype(np.float32)
            return products.sum(axis=1).astype(shifted.dtype)
        return np.einsum("nc...,nc...->n...", coefficients, shifted)

    def subtract_from(self, array, factor):
        """array -= coefficients * factor, in place (factor broadcasts like (N, 1, ...))."""
        if not self.indices:
            array -= self.dense(np, self.target, array.ndim) * factor
            return
        factor = np.asarray(factor)
        array[self.index] -= self.main * (factor[:, 0] if factor.ndim else factor)
        if self.smoothing:
            array -= self._spread(array.ndim) * factor


def _nll_reduction(loss, targets, reduction):
    """The sum or mean of per-sample losses (N,) of class-index targets, summed as PyTorch's
    nll_loss sums them: in the input's dtype, by cascaded partial sums (16 samples a level),
    ignored samples skipped; the mean divides by the count (or the summed weights) of the
    others."""
    weights = targets.main if not targets.plain else _NONE_WEIGHED
    valid = targets.valid if not targets.all_valid else _NONE_CHECKED
    totals = np.empty(2, loss.dtype)
    kernel = _cascaded_sums.compiled() or _cascaded_sums.python
    kernel(loss, valid, weights, totals)
    if reduction == "sum":
        return totals[0:1].reshape(())
    if targets.plain or targets.weight is None:
        count = int(targets.valid.sum()) if not targets.all_valid else loss.shape[0]
        denominator = loss.dtype.type(count)
    else:
        denominator = totals[1]
    if not denominator:
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.asarray(totals[0] / denominator)
    return np.asarray(totals[0] / denominator)


# The kernel's stand-ins for "no weights" and "every sample counts".
_NONE_WEIGHED = np.empty(0, np.float32)
_NONE_CHECKED = np.empty(0, np.bool_)


@_jit.kernel
def _cascaded_sums(loss, valid, weights, totals):
    # PyTorch's nll_loss_out_frame: 8 levels of partial sums; after sample b the levels below
    # j + 1 are flushed up while b is a multiple of 16^(j + 1) (16 = 2^max(4, ceil(log2 N) / 8));
    # an ignored sample is skipped, flushes included. totals = (loss sum, weight sum).
    count = loss.shape[0]
    bits = 0
    while (1 << bits) < count:
        bits += 1
    power = max(4, bits // 8)
    mask = (1 << power) - 1
    partial = np.zeros(8, loss.dtype)
    weight_partial = np.zeros(8, loss.dtype)
    check = valid.shape[0] > 0
    weighted = weights.shape[0] > 0
    for sample in range(count):
        if check and not valid[sample]:
            continue
        partial[0] += loss[sample]
        if weighted:
            weight_partial[0] += weights[sample]
        for level in range(7):
            if sample & (mask << (level * power)):
                break
            partial[level + 1] += partial[level]
            weight_partial[level + 1] += weight_partial[level]
            partial[level] = 0
            weight_partial[level] = 0
    total = loss.dtype.type(0)
    weight_total = loss.dtype.type(0)
    for level in range(8):
        total += partial[level]
        weight_total += weight_partial[level]
    totals[0] = total
    totals[1] = weight_total


class ClassificationLoss(Op):
    """Fused (log_softmax +) negative log-likelihood over dim 1 of (N, C, ...).

    ``from_logits`` adds the log_softmax: for stability and because it is on every training step's
    hot path. Forward keeps the input and each row's log-sum-exp, never the (N, C) log
    probabilities; backward is ``softmax * sum(coefficients) - coefficients`` (scaled), built in
    place in the one (N, C) array it returns.
    """
    _next_order = (0,)  # PyTorch lists the input only

    differentiable_backward = True

    @staticmethod
    def forward(ctx, input, target, weight, ignore_index, smoothing, reduction, from_logits):
        dtype = input.dtype
        if (from_logits and weight is None and not smoothing and reduction != "none"
                and target.ndim == 1 and target.dtype == np.int64 and _compiled_rows(input)
                and input.shape[0] and input.shape[1]):
            loss = _plain_forward(ctx, input, target, ignore_index, reduction)
            if loss is not None:
                return loss
        targets = _Targets(target, weight, ignore_index, smoothing, input.shape[1], dtype)
        with np.errstate(invalid="ignore"):
            if from_logits:
                # -sum_c coefficient[c] * log p[c], log p = (input - shift) - log_total
                shift, log_total = _log_sum_exp(input)
                if targets.indices and not smoothing:
                    # -log p[target] (times its weight), rounded as PyTorch's nll_loss of the
                    # log_softmax rounds it
                    loss = log_total[:, 0] - targets.row_dot(input, shift, unweighted=True)
                    if not targets.plain:
                        loss = loss * targets.main
                else:
                    loss = targets.row_dot(input, shift)
                    loss = targets.row_total(input.ndim)[:, 0] * log_total[:, 0] - loss
            else:
                shift = log_total = None
                loss = -targets.row_dot(input)
        loss = np.asarray(loss, dtype)
        if (reduction != "none" and loss.ndim == 1 and targets.indices and not smoothing
                and (dtype == np.float32 or dtype == np.float64)):
            loss = _nll_reduction(loss, targets, reduction)
        elif reduction == "sum":
            loss = np.asarray(loss.sum(dtype=dtype))
        elif reduction == "mean":
            summed = loss.sum(dtype=np.float64)
            if targets.denominator:
                loss = np.asarray(summed / targets.denominator, dtype=dtype)
            else:
                with np.errstate(divide="ignore", invalid="ignore"):
                    loss = np.asarray(summed / targets.denominator, dtype=dtype)
        if ctx._recording:
            ctx.save_for_backward(input if from_logits or ctx.needs_input_grad[1] else None,
                                  target, weight, shift, log_total)
            ctx.options = (ignore_index, smoothing, reduction, from_logits, input.shape)
            ctx.targets = targets
        return loss

    @staticmethod
    def backward(ctx, grad):
        xp = ctx.xp
        input, target, weight, shift, log_total = ctx.saved_tensors
        ignore_index, smoothing, reduction, from_logits, shape = ctx.options
        targets = ctx.targets
        ndim = len(shape)
        if reduction == "none":
            scale = grad[:, None]
        elif reduction == "mean":
            # a NaN factor raises no floating-point warning
            scale = grad * float(1.0 / targets.denominator if targets.denominator else np.nan)
        else:
            scale = grad
        if targets.indices and not targets.all_valid:
            # ignored samples get exactly 0, as PyTorch's nll backward leaves them, even when
            # the incoming gradient is NaN or inf (0 * NaN would be NaN)
            scale = xp.where(targets.valid[:, None], scale, 0)
        if xp is np:
            return _classification_grads(ctx, input, shift, log_total, scale)
        if from_logits:
            # log_softmax recorded from the input, shifted by the saved (constant) maximum
            shifted = input - shift
            log_probabilities = shifted - xp.log(xp.sum(xp.exp(shifted), axis=1, keepdims=True))
        else:
            log_probabilities = input
        grad_input = grad_target = None
        if ctx.needs_input_grad[0]:
            coefficients = targets.dense(xp, target, ndim)
            if from_logits:
                grad_input = (xp.exp(log_probabilities) * xp.sum(coefficients, axis=1,
                                                                 keepdims=True)
                              - coefficients) * scale
            else:
                grad_input = -coefficients * scale
        if ctx.needs_input_grad[1] and not targets.indices:
            grad_target = _probability_target_grad(targets, log_probabilities, scale, ndim)
        return grad_input, grad_target, None, None, None, None, None


def _plain_forward(ctx, input, target, ignore_index, reduction):
    """ClassificationLoss.forward for the commonest call, cross_entropy of a small batch of
    logits and class indices with the defaults: the row kernel makes the per-sample losses too
    and the cascade sums them (the general path's values, without its half-dozen array passes);
    None where the kernel does not apply."""
    kernel = _log_sum_exp_rows.compiled()
    if kernel is None:
        return None
    dtype = input.dtype
    rows = input.shape[0]
    shift = np.empty((rows, 1), dtype)
    log_total = np.empty((rows, 1), dtype)
    losses = np.empty(rows, dtype)
    if not kernel(input, shift, log_total, target, ignore_index, losses):
        return None
    totals = np.empty(2, dtype)
    _cascaded_sums.compiled()(losses, _NONE_CHECKED, _NONE_WEIGHED, totals)
    loss = totals[0:1].reshape(()) if reduction == "sum" else np.asarray(totals[0] / dtype.type(rows))
    if ctx._recording:
        ctx.save_for_backward(input, target, None, shift, log_total)
        ctx.options = (ignore_index, 0.0, reduction, True, input.shape)
        ctx.targets = _Targets.plain_indices(target, ignore_index, input.shape[1], dtype)
    return loss


def _classification_grads(ctx, input, shift, log_total, scale):
    """First-order gradients of ClassificationLoss on arrays, in place in one (N, C) array."""
    targets = ctx.targets
    dtype = targets.dtype
    ndim = len(ctx.options[4])
    from_logits = ctx.options[3]
    grad_input = grad_target = None
    if ctx.needs_input_grad[0]:
        compiled = None
        if from_logits and targets.plain:
            if _compiled_rows(input):
                compiled = _softmax_gradient_rows.compiled()
            elif _wide_rows(input):
                compiled = _softmax_gradient_rows_float32.compiled()
                input = np.ascontiguousarray(input)
        if compiled is not None:
            grad_input = np.empty(input.shape, dtype)
            scale = np.asarray(scale, dtype).reshape(-1)  # one per row, or one for all
            compiled(input, shift, log_total, targets.safe_target, scale, int(scale.size > 1),
                     grad_input)
            return grad_input, None, None, None, None, None, None
        if from_logits:
            # softmax * row total * scale, slice by slice while each slice is in cache
            grad_input = np.empty(input.shape, dtype)
            factor = targets.row_total(ndim) * scale  # (N, 1, ...) or (1, 1, ...)
            if factor.shape[0] != input.shape[0]:
                factor = np.broadcast_to(factor, input.shape[:1] + factor.shape[1:])

            def compute(slices):
                for rows in slices:
                    part = np.subtract(input[rows], shift[rows], dtype=dtype,
                                       out=grad_input[rows])
                    part -= log_total[rows]
                    np.exp(part, out=part)
                    part *= factor[rows]
            _over_slices(input, compute)
        else:
            grad_input = np.zeros(ctx.options[4], dtype)
        targets.subtract_from(grad_input, scale)
    if ctx.needs_input_grad[1] and not targets.indices:
        log_probabilities = (input - shift) - log_total if from_logits else input
        grad_target = _probability_target_grad(targets, log_probabilities, scale, ndim)
    return grad_input, grad_target, None, None, None, None, None


def _probability_target_grad(targets, log_probabilities, scale, ndim):
    """d loss / d target for class probabilities: -(1 - smoothing) * weight * log p * scale."""
    grad_target = log_probabilities * (-(1.0 - targets.smoothing))
    if targets.weight is not None:
        grad_target = grad_target * targets._class_weight(ndim)
    return grad_target * scale


# ---- binary cross entropy ------------------------------------------------------------------------
class BinaryCrossEntropy(Op):
    """Elementwise -(t log x + (1 - t) log(1 - x)), each log clamped at -100 (PyTorch's rule)."""

    differentiable_backward = True

    @staticmethod
    def forward(ctx, input, target):
        with np.errstate(divide="ignore"):
            log_input = np.maximum(np.log(input), -100)
            log_complement = np.maximum(np.log1p(-input), -100)
        loss = -(target * log_input + (1 - target) * log_complement)
        ctx.save_for_backward(input, target)
        return loss.astype(input.dtype, copy=False)

    @staticmethod
    def backward(ctx, grad):
        xp = ctx.xp
        input, target = ctx.saved_tensors
        grad_input = grad_target = None
        if ctx.needs_input_grad[0]:
            # PyTorch's gradient: (x - t) / max(x (1 - x), 1e-12).
            grad_input = grad * (input - target) / xp.maximum(input * (1 - input), 1e-12)
        if ctx.needs_input_grad[1]:
            # PyTorch leaves these logs unclamped: infinite at input 0 or 1.
            with np.errstate(divide="ignore", invalid="ignore"):
                grad_target = grad * (xp.log1p(-input) - xp.log(input))
        return grad_input, grad_target


class BinaryCrossEntropyWithLogits(Op):
    """Elementwise (1 - t) x + (1 + (p - 1) t) softplus(-x), softplus(-x) computed stably."""

    differentiable_backward = True

    @staticmethod
    def output_layout(loss, arrays):
        """reduction='none' lays the loss out as the target: PyTorch computes it in place on
        ``1 - target``."""
        return pointwise_layout(loss, arrays[1:2])

    @staticmethod
    def forward(ctx, input, target, pos_weight):
        softplus = softplus_of(np, -input).astype(input.dtype, copy=False)
        if pos_weight is None:
            loss = (1 - target) * input + softplus
        else:
            loss = (1 - target) * input + (1 + (pos_weight - 1) * target) * softplus
        ctx.save_for_backward(input, target, pos_weight)
        return loss.astype(input.dtype, copy=False)

    @staticmethod
    def backward(ctx, grad):
        xp = ctx.xp
        input, target, pos_weight = ctx.saved_tensors
        grad_input = grad_target = grad_pos_weight = None
        if ctx.needs_input_grad[0]:
            sigmoid = stable_sigmoid(xp, input)
            if pos_weight is None:
                grad_input = grad * (sigmoid - target)
            else:
                log_weight = 1 + (pos_weight - 1) * target
                grad_input = grad * (log_weight * sigmoid - pos_weight * target)
            grad_input = unbroadcast(grad_input, input.shape)
        if ctx.needs_input_grad[1] or ctx.needs_input_grad[2]:
            softplus = softplus_of(xp, -input)
            if ctx.needs_input_grad[1]:
                if pos_weight is None:
                    grad_target = grad * -input
                else:
                    grad_target = grad * (-input + (pos_weight - 1) * softplus)
                grad_target = unbroadcast(grad_target, target.shape)
            if ctx.needs_input_grad[2]:
                grad_pos_weight = unbroadcast(grad * target * softplus, pos_weight.shape)
        return grad_input, grad_target, grad_pos_weight


def _log_add3(first, second, third):
    """log(exp(a) + exp(b) + exp(c)) elementwise, -inf where all three are -inf."""
    return np.logaddexp(np.logaddexp(first, second), third)


def _shifted(values, by):
    """``values`` moved ``by`` positions right along the last axis, -inf shifted in."""
    out = np.full_like(values, -np.inf)
    out[..., by:] = values[..., :values.shape[-1] - by]
    return out


_LOG_TWO = np.log(2.0)


@_jit.kernel
def _ctc_recursion(emit, skip, table, backward, ends, start):
    # table[t] from table[t - 1] (forward; table[0] given) or table[t + 1] (backward):
    # log(exp(a) + exp(b) + exp(c)) + emit[t], a the same label position, b the one before
    # (after, backward), c two before (after) where ``skip`` allows it, summed as
    # np.logaddexp(np.logaddexp(a, b), c) sums them (-inf for a missing neighbour). Backward:
    # a sample's row is start + emit at its last step ``ends[b]``, and -inf after it.
    steps, batch, extended = emit.shape
    negative_infinity = table.dtype.type(-np.inf)
    log_two = table.dtype.type(_LOG_TWO)
    for count in range(steps):
        step = steps - 1 - count if backward else count
        if not backward and step == 0:
            continue
        for sample in range(batch):
            if backward and step >= ends[sample]:
                for position in range(extended):
                    table[step, sample, position] = (start[sample, position]
                                                     + emit[step, sample, position]
                                                     if step == ends[sample]
                                                     else negative_infinity)
                continue
            neighbour = step + 1 if backward else step - 1
            for position in range(extended):
                total = table[neighbour, sample, position]
                for term in range(2):
                    other = negative_infinity
                    if backward:
                        ahead = position + 1 + term
                        if ahead < extended and (term == 0 or skip[sample, ahead]):
                            other = table[neighbour, sample, ahead]
                    else:
                        behind = position - 1 - term
                        if behind >= 0 and (term == 0 or skip[sample, position]):
                            other = table[neighbour, sample, behind]
                    # NumPy's logaddexp, step by step
                    if total == other:
                        total = total + log_two
                    else:
                        difference = total - other
                        if difference > 0:
                            total = total + math.log1p(math.exp(-difference))
                        elif difference <= 0:
                            total = other + math.log1p(math.exp(difference))
                        else:
                            total = difference
                table[step, sample, position] = total + emit[step, sample, position]


_CTC_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
_NO_ENDS = np.empty(0, np.int64)


class CTCLoss(Op):
    """Connectionist temporal classification: the negative log-likelihood of each target over
    all alignments of the (T, N, C) log-probabilities, by the forward (alpha) recursion over
    the target with blanks between and around its labels (Graves et al. 2006); the gradient
    from alpha and the backward (beta) recursion. Batch and label positions are vectorised;
    time is the recursion's loop. The gradient is PyTorch's: exp(log_probs) minus the
    alignment posteriors, the gradient through a log_softmax that produced log_probs."""

    double_backward_error = (RuntimeError,
                             "derivative for aten::_ctc_loss_backward is not implemented")
    forward_ad_error = forward_ad_unsupported("_ctc_loss")

    @staticmethod
    def forward(ctx, log_probs, targets, input_lengths, target_lengths, blank, zero_infinity):
        steps, batch, _ = log_probs.shape
        extended = 2 * targets.shape[1] + 1
        labels = np.full((batch, extended), blank, dtype=np.int64)
        labels[:, 1::2] = targets
        valid = np.arange(extended)[None, :] < (2 * target_lengths + 1)[:, None]
        # a label may follow the one two back (skipping the blank between) unless they repeat
        skip = np.zeros((batch, extended), dtype=bool)
        skip[:, 2:] = (labels[:, 2:] != blank) & (labels[:, 2:] != labels[:, :-2])
        emit = log_probs[:, np.arange(batch)[:, None], labels]
        emit = np.where(valid[None], emit, -np.inf).astype(log_probs.dtype, copy=False)
        alpha = np.full((steps, batch, extended), -np.inf, dtype=log_probs.dtype)
        if steps:
            alpha[0, :, :2] = emit[0, :, :2]
        kernel = _ctc_recursion.compiled() if alpha.dtype in _CTC_DTYPES else None
        if kernel is not None:
            # the time loop compiled (one NumPy pass per step costs ~10 calls per step)
            kernel(np.ascontiguousarray(emit), skip, alpha, False, _NO_ENDS, alpha[0])
        else:
            for step in range(1, steps):
                previous = alpha[step - 1]
                skipped = np.where(skip, _shifted(previous, 2), -np.inf)
                alpha[step] = _log_add3(previous, _shifted(previous, 1), skipped) + emit[step]
        samples = np.arange(batch)
        last_step = np.maximum(input_lengths - 1, 0)
        final = alpha[last_step, samples] if steps else np.full((batch, extended), -np.inf)
        last_label = 2 * target_lengths
        with_blank = final[samples, last_label]
        without_blank = np.where(target_lengths > 0,
                                 final[samples, np.maximum(last_label - 1, 0)], -np.inf)
        nll = -np.logaddexp(with_blank, without_blank).astype(log_probs.dtype)
        # no time steps: only the empty target has an alignment
        nll = np.where(input_lengths == 0, np.where(target_lengths == 0, 0, np.inf), nll)
        nll = nll.astype(log_probs.dtype, copy=False)
        ctx.save_for_backward(log_probs)
        ctx.recursion = (alpha, emit, labels, valid, skip, nll, input_lengths, target_lengths)
        ctx.zero_infinity = zero_infinity
        if zero_infinity:
            return np.where(np.isinf(nll), 0, nll).astype(log_probs.dtype, copy=False)
        return nll

    @staticmethod
    def backward(ctx, grad):
        (log_probs,) = ctx.saved_tensors
        alpha, emit, labels, valid, skip, nll, input_lengths, target_lengths = ctx.recursion
        steps, batch, classes = log_probs.shape
        samples = np.arange(batch)
        last_label = 2 * target_lengths
        beta = np.full_like(alpha, -np.inf)
        # the alignment ends on the last label or the blank after it (set last: with an empty
        # target both indices are 0)
        start = np.full(alpha.shape[1:], -np.inf, dtype=alpha.dtype)
        start[samples, np.maximum(last_label - 1, 0)] = np.where(target_lengths > 0, 0, -np.inf)
        start[samples, last_label] = 0
        following = np.full(alpha.shape[1:], -np.inf, dtype=alpha.dtype)
        kernel = _ctc_recursion.compiled() if alpha.dtype in _CTC_DTYPES else None
        if kernel is not None:
            kernel(np.ascontiguousarray(emit), skip, beta, True,
                   (input_lengths - 1).astype(np.int64), start)
            steps_left = ()
        else:
            steps_left = range(steps - 1, -1, -1)
        for step in steps_left:
            ahead = np.full_like(following, -np.inf)
            ahead[:, :-2] = np.where(skip[:, 2:], following[:, 2:], -np.inf)
            behind = np.full_like(following, -np.inf)
            behind[:, :-1] = following[:, 1:]
            recursion = _log_add3(following, behind, ahead) + emit[step]
            ends_here = (step == input_lengths - 1)[:, None]
            before_end = (step < input_lengths - 1)[:, None]
            current = np.where(ends_here, start + emit[step],
                               np.where(before_end, recursion, -np.inf))
            beta[step] = current
            following = current
        # posterior of label position s at step t, divided by exp(log_probs) of its label
        with np.errstate(invalid="ignore"):
            exponent = alpha + beta + nll[None, :, None] - emit
            terms = np.where(valid[None], np.exp(exponent), 0).astype(log_probs.dtype)
        one_hot = np.zeros((batch, labels.shape[1], classes), dtype=log_probs.dtype)
        one_hot[samples[:, None], np.arange(labels.shape[1])[None, :], labels] = 1
        posteriors = np.matmul(terms.transpose(1, 0, 2), one_hot).transpose(1, 0, 2)
        grad_input = (np.exp(log_probs) - posteriors) * grad[None, :, None]
        active = np.arange(steps)[:, None] < input_lengths[None, :]
        if ctx.zero_infinity:
            active = active & ~np.isinf(nll)[None, :]
        grad_input = np.where(active[:, :, None], grad_input, 0).astype(log_probs.dtype)
        return grad_input, None, None, None, None, None


class MseLoss(Op):
    """mean/sum/none of (input - target)^2 as one node, PyTorch's MseLossBackward0: its edges
    are the input's and the target's (what a walk of the graph meets), and its backward is
    PyTorch's (2 / n) * (input - target) * grad, recorded under create_graph."""

    differentiable_backward = True
    _torch_name = "MseLossBackward0"
    _next_order = (0, 1)  # input and target; not the reduction

    @staticmethod
    def forward(ctx, input, target, reduction):
        ctx.metas = (_shape_dtype(input), _shape_dtype(target))
        ctx.save_for_backward(input, target)
        difference = np.subtract(input, target)
        squared = np.multiply(difference, difference, out=difference)
        ctx.reduction = reduction
        ctx.count = squared.size
        if reduction == "none":
            return squared
        axes = tuple(range(squared.ndim))
        total = reduce_ops._sum_array(squared, axes, False, squared.dtype)
        if reduction == "sum":
            return total
        accumulator = reduce_ops._accumulator(squared.dtype)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.asarray(np.asarray(total, accumulator) / accumulator.type(squared.size),
                              dtype=squared.dtype)

    @staticmethod
    def backward(ctx, grad):
        input, target = ctx.saved_tensors
        needs_input, needs_target = ctx.needs_input_grad[:2]
        norm = 2.0 / ctx.count if ctx.reduction == "mean" and ctx.count else (
            np.nan if ctx.reduction == "mean" else 2.0)
        gradient = (input - target) * norm * grad
        input_meta, target_meta = ctx.metas
        return (unbroadcast(gradient, input_meta[0]) if needs_input else None,
                unbroadcast(-gradient, target_meta[0]) if needs_target else None, None)


class RobustLoss(Op):
    """smooth_l1_loss (``huber`` False) or huber_loss as one node, with PyTorch's formulas and
    their order of operations (its vectorised CPU kernels): per element, with z = |x - t| and
    b = beta or delta, 0.5 z z / b or z - 0.5 b for smooth L1, 0.5 z z or b (z - 0.5 b) for
    Huber; the gradient deriv * norm * grad, deriv being x - t over b (smooth L1) or x - t
    (Huber) inside b, else its sign (times b for Huber); norm 1 / n for the mean."""

    differentiable_backward = True
    _next_order = (0, 1)  # input and target; not the options

    @staticmethod
    def forward(ctx, input, target, reduction, bound, huber):
        ctx._torch_name = "HuberLossBackward0" if huber else "SmoothL1LossBackward0"
        ctx.metas = (_shape_dtype(input), _shape_dtype(target))
        ctx.save_for_backward(input, target)
        ctx.options = (reduction, bound, huber)
        dtype = input.dtype
        bound = dtype.type(bound)
        half = dtype.type(0.5)
        compiled = _jit.compiled_float32(_robust_loss_float32, input, target)
        if compiled is not None:
            loss = np.empty(input.shape, dtype)
            compiled(input.reshape(-1), target.reshape(-1), bound, huber, False, bound,
                     input.reshape(-1), False, loss.reshape(-1))
        else:
            distance = np.abs(input - target)
            if huber:
                loss = np.where(distance < bound, half * distance * distance,
                                bound * (distance - half * bound))
            else:
                loss = np.where(distance < bound, half * distance * distance / bound,
                                distance - half * bound)
        ctx.count = loss.size
        if reduction == "none":
            return loss
        total = reduce_ops._sum_array(loss, tuple(range(loss.ndim)), False, dtype)
        if reduction == "sum":
            return total
        accumulator = reduce_ops._accumulator(dtype)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.asarray(np.asarray(total, accumulator) / accumulator.type(loss.size),
                              dtype=dtype)

    @staticmethod
    def backward(ctx, grad):
        input, target = ctx.saved_tensors
        reduction, bound, huber = ctx.options
        needs_input, needs_target = ctx.needs_input_grad[:2]
        xp = ctx.xp
        dtype = ctx.metas[0][1]
        with np.errstate(divide="ignore"):
            norm = dtype.type(1.0 / ctx.count if ctx.count else np.inf) \
                if reduction == "mean" else dtype.type(1.0)
        bound = dtype.type(bound)
        compiled = _jit.compiled_float32(_robust_loss_float32, input, target) \
            if xp is np else None
        if compiled is not None and (grad.ndim == 0 or grad.shape == input.shape):
            gradient = np.empty(input.shape, dtype)
            compiled(input.reshape(-1), target.reshape(-1), bound, huber, True, norm,
                     np.ascontiguousarray(grad, dtype).reshape(-1), grad.ndim == 0,
                     gradient.reshape(-1))
        else:
            difference = input - target
            # 0-d arrays of the input's dtype: two Python scalars would make a default-dtype
            # sign under create_graph, rounding Huber's delta to float32
            sign = xp.where(difference > 0, xp.asarray(1, dtype), xp.asarray(-1, dtype))
            outside = xp.abs(difference) >= bound
            if huber:
                derivative = xp.where(outside, sign * bound, difference)
            else:
                derivative = xp.where(outside, sign, difference / bound)
            gradient = derivative * norm * grad
        input_meta, target_meta = ctx.metas
        return (unbroadcast(gradient, input_meta[0]) if needs_input else None,
                unbroadcast(-gradient, target_meta[0]) if needs_target else None,
                None, None, None)


@_jit.kernel
def _robust_loss_float32(input, target, bound, huber, backward, norm, grad, grad_is_scalar,
                         out):
    """RobustLoss's elementwise loss, or with ``backward`` its gradient (``grad`` one value
    when ``grad_is_scalar``), in one pass with the NumPy path's operations in its order."""
    half = np.float32(0.5)
    one = np.float32(1.0)
    for index in range(out.size):
        difference = input[index] - target[index]
        distance = abs(difference)
        if backward:
            if distance >= bound:
                sign = one if difference > 0 else -one
                derivative = sign * bound if huber else sign
            else:
                derivative = difference if huber else difference / bound
            out[index] = derivative * norm * (grad[0] if grad_is_scalar else grad[index])
        elif huber:
            out[index] = half * distance * distance if distance < bound else \
                bound * (distance - half * bound)
        else:
            out[index] = half * distance * distance / bound if distance < bound else \
                distance - half * bound


def _shape_dtype(value):
    return (np.shape(value), getattr(value, "dtype", None))
