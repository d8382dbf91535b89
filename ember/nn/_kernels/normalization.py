"""Normalisation kernels: BatchNorm, LayerNorm and RMSNorm, each one fused Op (speed and memory),
and CrossMapLRN2d, PyTorch's legacy Function.

BatchNorm's statistics accumulate in float64 and are rounded back to the input's dtype, so
float32 results stay close to PyTorch's for large reductions; outputs and gradients keep the
input's dtype. Both backwards are differentiable (create_graph): there the batch statistics are
recomputed from the saved input with ``ctx.xp``, so their dependence on the input is recorded.
With the ``jit`` extra, BatchNorm on float32/float64 arrays runs as compiled passes: statistics
(both sums per channel while it is in cache), one affine pass, and in backward the two gradient
sums and one pass for the input's gradient.
"""
import math

import numpy as np

from ... import _jit, _threads
from ..._dtype import accumulation_dtype
from ..._layout import spatial_layout
from ..._grad_state import _grad_state
from ...autograd.function import Function, Op
from ...ops.elementwise.exp_log import _reciprocal_sqrt
from ...ops.reduce import _sum_array
from ...tensor import Tensor


class BatchNorm(Op):
    """Fused batch normalisation (memory and speed): ``(x - mean) * invstd * weight + bias``.

    In training the batch statistics are computed here and the given running buffers' arrays are
    updated in place; backward differentiates through the batch statistics with the standard
    fused formula. Saves the input (usually alive anyway) and per-channel vectors, never a
    normalised copy.

    ``reduce`` (None for one process) makes the statistics the global batch's: a callable
    ``reduce(array, what)`` that sums a float64 array in place over every rank (``what`` names
    it for cross-rank error messages), with a ``world_size``. It is called once in
    forward, on the per-channel sums of x and x^2 and the count, and once in backward, on the
    per-channel sums of grad and grad * (x - mean); weight and bias gradients stay local.
    """

    _next_order = (0, 1, 2)  # input, weight, bias
    output_layout = staticmethod(spatial_layout)
    _torch_name = "NativeBatchNormBackward0"
    differentiable_backward = True
    backward_is_one_node = True

    @staticmethod
    def forward(ctx, input, weight, bias, running_mean, running_var, training, momentum, eps,
                reduce):
        shape = (1, input.shape[1]) + (1,) * (input.ndim - 2)
        dtype = input.dtype
        count = 0
        if training:
            with np.errstate(divide="ignore", invalid="ignore"):
                if reduce is None:
                    mean, variance, count, output = _local_statistics(input, shape)
                else:
                    mean, variance, count = _global_statistics(input, reduce)
                    output = input - mean.astype(dtype).reshape(shape)
                invstd = (1.0 / np.sqrt(variance + eps)).astype(dtype)
                if running_mean is not None:
                    _blend(running_mean, mean, momentum)
                if running_var is not None:
                    _blend(running_var, variance * (count / (count - 1)) if count > 1
                           else variance * np.nan, momentum)
            mean = mean.astype(dtype, copy=False)
            scale = invstd if weight is None else invstd * weight
            if output is None:
                shift = np.zeros_like(scale) if bias is None else bias
                output = _compiled_affine(input, mean, scale, shift)
            else:
                output *= scale.reshape(shape)
                if bias is not None:
                    output += bias.reshape(shape)
        else:
            mean = running_mean.astype(dtype, copy=False)
            invstd = (1.0 / np.sqrt(running_var.astype(np.float64) + eps)).astype(dtype)
            # y = x * scale + shift with scale = invstd * weight, shift = bias - mean * scale.
            scale = invstd if weight is None else invstd * weight
            shift = -mean * scale
            if bias is not None:
                shift += bias
            output = _compiled_affine(input, np.zeros_like(scale), scale, shift)
            if output is None:
                output = input * scale.reshape(shape)
                output += shift.reshape(shape)
        needs_input, needs_weight = ctx.needs_input_grad[:2]
        if needs_input or needs_weight:
            ctx.save_for_backward(input, weight, mean, invstd)
        ctx.training = training
        ctx.count = count
        ctx.reduce = reduce
        ctx.eps = eps
        return output

    @staticmethod
    def backward(ctx, grad):
        if ctx.xp is not np:
            return _batch_norm_backward_recorded(ctx, grad)
        input, weight, mean, invstd = ctx.saved_tensors
        needs_input, needs_weight, needs_bias = ctx.needs_input_grad[:3]
        batch, channels = input.shape[:2]
        shape = (1, channels) + (1,) * (input.ndim - 2)
        scale = invstd if weight is None else invstd * weight
        grad_input = grad_weight = None
        compiled = _compiled_forms(_channel_sums) if _compiles(input, grad) else None
        if compiled is not None:
            sums = np.empty((2, channels), np.float64)
            _split_channels(compiled, _rows(grad), np.zeros_like(mean), _rows(input), mean,
                            sums[0], sums[1])
            grad_sum, grad_dot = sums.astype(grad.dtype)
            centered = None
        else:
            grad_rows = grad.reshape(batch, channels, -1)
            grad_sum = grad_rows.sum(axis=2).sum(axis=0)
        if needs_weight or (needs_input and ctx.training):
            if compiled is None:
                centered = input - mean.reshape(shape)
                # sum(grad * (x - mean)) per channel; times invstd it is sum(grad * x_hat).
                grad_dot = np.einsum("ncl,ncl->nc", grad_rows,
                                     centered.reshape(batch, channels, -1)).sum(axis=0)
            if needs_weight:
                grad_weight = grad_dot * invstd
            if needs_input and ctx.training:
                grad_input = _training_grad_input(ctx, grad, input, mean, centered, grad_sum,
                                                  grad_dot, scale, invstd, shape)
        if needs_input and not ctx.training:
            grad_input = grad * scale.reshape(shape)
        grad_bias = grad_sum if needs_bias else None
        return grad_input, grad_weight, grad_bias, None, None, None, None, None, None


def _local_statistics(input, shape):
    """Per-channel mean (rounded to the input's dtype), biased variance (float64), count, and
    the input centred by that mean (None from the compiled kernel, which makes no centred
    copy): per-row float32 sums combined in float64, two passes."""
    batch, channels = input.shape[:2]
    count = input.size // channels if channels else 0
    compiled = _compiled_forms(_channel_sums) if _compiles(input) else None
    if compiled is not None:
        rows = _rows(input)
        sums = np.empty(channels, np.float64)
        squares = np.empty(channels, np.float64)
        zeros = np.zeros(channels, input.dtype)
        _split_channels(compiled, rows, zeros, rows, zeros, sums, squares)
        mean = (sums / count).astype(input.dtype)
        _split_channels(compiled, rows, mean, rows, mean, sums, squares)
        return mean, squares / count, count, None
    rows = input.reshape(batch, channels, -1)
    mean = (rows.sum(axis=2).sum(axis=0, dtype=np.float64) / count).astype(input.dtype)
    centered = input - mean.reshape(shape)
    centered_rows = centered.reshape(batch, channels, -1)
    variance = np.einsum("ncl,ncl->nc", centered_rows, centered_rows).sum(
        axis=0, dtype=np.float64) / count
    return mean, variance, count, centered


def _global_statistics(input, reduce):
    """Per-channel mean, biased variance (both float64) and count over every rank's batch: one
    reduction of the sums of x and x^2 and the count, in float64 (E[x^2] - E[x]^2 loses too much
    in float32)."""
    batch, channels = input.shape[:2]
    packed = np.empty(2 * channels + 1, dtype=np.float64)
    packed[:channels] = input.sum(axis=(0,) + tuple(range(2, input.ndim)), dtype=np.float64)
    rows = input.reshape(batch, channels, -1)
    packed[channels:2 * channels] = np.einsum("ncl,ncl->c", rows, rows, dtype=np.float64)
    packed[-1] = input.size // channels
    reduce(packed, f"statistics, {channels} channels")
    count = int(packed[-1])
    if count <= 1:
        raise ValueError(f"Expected more than 1 value per channel when training, got input size "
                         f"{list(input.shape)} on each of {reduce.world_size} ranks")
    mean = packed[:channels] / count
    variance = np.maximum(packed[channels:2 * channels] / count - mean * mean, 0.0)
    return mean, variance, count


def _training_grad_input(ctx, grad, input, mean, centered, grad_sum, grad_dot, scale, invstd,
                         shape):
    """dx = scale * (g - mean(g) - x_hat * mean(g * x_hat)), the means over the (global) batch,
    written as g * scale + (x - mean) * coefficient + offset, one vectorised pass each (one
    compiled pass when ``centered`` is None)."""
    if ctx.reduce is not None:
        sums = np.concatenate([grad_sum, grad_dot]).astype(np.float64)
        ctx.reduce(sums, f"gradient sums, {grad_sum.size} channels")
        grad_sum, grad_dot = sums[:grad_sum.size], sums[grad_sum.size:]
    with np.errstate(divide="ignore", invalid="ignore"):
        inverse_count = np.float64(1.0 / ctx.count) if ctx.count else np.float64(np.nan)
    coefficient = (-(scale.astype(np.float64) * invstd * invstd * grad_dot)
                   * inverse_count).astype(grad.dtype)
    offset = (-(scale.astype(np.float64) * grad_sum) * inverse_count).astype(grad.dtype)
    compiled = _compiled_forms(_batch_norm_grad_input) if centered is None else None
    if compiled is not None:
        grad_input = np.empty(input.shape, grad.dtype)
        _split_planes(compiled, _rows(grad), _rows(input), mean, coefficient, offset, scale,
                      _rows(grad_input))
        return grad_input
    if centered is None:  # the kernels were switched off (_jit.disabled) since the sums
        centered = input - mean.reshape(shape)
    grad_input = centered
    grad_input *= coefficient.reshape(shape)
    grad_input += offset.reshape(shape)
    grad_input += grad * scale.reshape(shape)
    return grad_input


def apply_batch_norm(input, running_mean, running_var, weight, bias, training, momentum, eps,
                     reduce=None):
    """The BatchNorm node, then the running buffers it updated in place marked as changed
    (F.batch_norm after its checks; SyncBatchNorm with its all-reduce as ``reduce``)."""
    output = BatchNorm.apply(input, weight, bias, running_mean, running_var, bool(training),
                             float(momentum), eps, reduce)
    if training:
        for buffer in (running_mean, running_var):
            if buffer is not None:
                buffer._bump_version()
    return output


def _batch_norm_backward_recorded(ctx, grad):
    """BatchNorm's backward under create_graph: the first-order formulas on Tensors, with the
    training statistics recomputed from the input so that they are differentiated too."""
    xp = ctx.xp
    if ctx.reduce is not None:
        raise RuntimeError("SyncBatchNorm: double backward (create_graph=True) is not "
                           "supported; its statistics are summed over ranks outside autograd")
    input, weight, mean, invstd = ctx.saved_tensors
    needs_input, needs_weight, needs_bias = ctx.needs_input_grad[:3]
    shape = (1, input.shape[1]) + (1,) * (input.ndim - 2)
    axes = (0,) + tuple(range(2, input.ndim))
    if ctx.training:
        mean = xp.mean(input, axis=axes, keepdims=True)
        centered = input - mean
        invstd = 1 / xp.sqrt(xp.mean(centered * centered, axis=axes, keepdims=True) + ctx.eps)
    else:
        centered = input - xp.reshape(mean, shape)
        invstd = xp.reshape(invstd, shape)
    normalized = centered * invstd
    scale = invstd if weight is None else invstd * xp.reshape(weight, shape)
    grad_input = grad_weight = grad_bias = None
    if needs_input and ctx.training:
        grad_mean = xp.mean(grad, axis=axes, keepdims=True)
        grad_dot_mean = xp.mean(grad * normalized, axis=axes, keepdims=True)
        grad_input = scale * (grad - grad_mean - normalized * grad_dot_mean)
    elif needs_input:
        grad_input = grad * scale
    if needs_weight:
        grad_weight = xp.sum(grad * normalized, axis=axes)
    if needs_bias:
        grad_bias = xp.sum(grad, axis=axes)
    return grad_input, grad_weight, grad_bias, None, None, None, None, None, None


# ---- compiled BatchNorm passes (the jit extra) ----------------------------------------------------
def _compiles(*arrays):
    """Whether the compiled BatchNorm kernels serve these arrays (float32/float64, one dtype,
    not empty)."""
    dtype = arrays[0].dtype
    return (dtype in (np.float32, np.float64) and arrays[0].size > 0
            and all(array.dtype == dtype for array in arrays))


def _rows(array):
    """(N, C, L) C-contiguous view of (N, C, *spatial) for the kernels."""
    return np.ascontiguousarray(array).reshape(array.shape[0], array.shape[1], -1)


def _compiled_affine(input, center, scale, shift):
    """(input - center) * scale + shift per channel, in one compiled pass; None when the kernel
    is unavailable (then the caller's NumPy passes compute the same)."""
    compiled = (_compiled_forms(_batch_norm_affine) if _compiles(input, center, scale, shift)
                else None)
    if compiled is None:
        return None
    output = np.empty(input.shape, input.dtype)
    _split_planes(compiled, _rows(input), center, scale, shift, _rows(output))
    return output


def _compiled_forms(kernel):
    """(the kernel's dispatcher, its (N, C) row form's), fetched together so that a path once
    chosen runs whole; None when compiled kernels are off."""
    compiled = kernel.compiled()
    row_form = _ROW_FORMS[kernel].compiled() if compiled is not None else None
    return None if row_form is None else (compiled, row_form)


def _split_planes(forms, rows, *arguments):
    """A per-(item, channel) kernel (``forms`` from _compiled_forms) over (N, C, L) ``rows``,
    its planes cut into ranges (the kernel's last two arguments) over ember's threads. With
    L == 1 (BatchNorm1d on (N, C)) the row form runs instead: the same arithmetic per element,
    vectorised along C."""
    compiled, row_form = forms
    if rows.shape[2] == 1:
        flat = [argument.reshape(argument.shape[:2]) if argument.ndim == 3 else argument
                for argument in (rows,) + arguments]
        _threads.split(rows.shape[0], rows.size,
                       lambda start, stop: row_form(*flat, start, stop))
        return
    planes = rows.shape[0] * rows.shape[1]
    _threads.split(planes, rows.size,
                   lambda start, stop: compiled(rows, *arguments, start, stop))


def _split_channels(forms, values, value_center, rows, center, sums, dots):
    """``_channel_sums`` (``forms`` from _compiled_forms), channels cut into ranges over
    ember's threads (each channel's sum keeps one thread's order). With L == 1 the row form
    adds item after item along C."""
    compiled, row_form = forms
    if rows.shape[2] == 1:
        values, rows = values.reshape(values.shape[:2]), rows.reshape(rows.shape[:2])
        _threads.split(rows.shape[1], rows.size,
                       lambda start, stop: row_form(values, value_center, rows, center, sums,
                                                    dots, start, stop))
        return
    _threads.split(rows.shape[1], rows.size,
                   lambda start, stop: compiled(values, value_center, rows, center, sums, dots,
                                                start, stop))


@_jit.kernel
def _batch_norm_affine(rows, center, scale, shift, output, first_task, last_task):
    """output = (rows - center) * scale + shift, per channel of (N, C, L), on the (item,
    channel) planes numbered first_task to last_task (item * C + channel)."""
    channels, length = rows.shape[1:]
    for task in range(first_task, last_task):
        item = task // channels
        channel = task % channels
        for position in range(length):
            output[item, channel, position] = ((rows[item, channel, position] - center[channel])
                                               * scale[channel] + shift[channel])


@_jit.kernel(reassociate=True)
def _channel_sums(values, value_center, rows, center, sums, dots, first_channel, last_channel):
    """Per channel first_channel to last_channel of (N, C, L) arrays, in float64: sums =
    sum(values) and dots = sum((values - value_center) * (rows - center)), both centres per
    channel. The additions may be reordered, so that each row's sum runs in vector lanes (3.6x
    faster than one strict chain on cnn_train's 64x32x784)."""
    batch, length = rows.shape[0], rows.shape[2]
    for channel in range(first_channel, last_channel):
        middle = center[channel]
        shift = value_center[channel]
        total = 0.0
        dot = 0.0
        for item in range(batch):
            for position in range(length):
                value = values[item, channel, position]
                total += value
                dot += (value - shift) * (rows[item, channel, position] - middle)
        sums[channel] = total
        dots[channel] = dot


@_jit.kernel
def _batch_norm_grad_input(grad, rows, mean, coefficient, offset, scale, grad_input,
                           first_task, last_task):
    """grad_input = (x - mean) * coefficient + offset + grad * scale, per channel, on the
    planes first_task to last_task as in ``_batch_norm_affine``."""
    channels, length = rows.shape[1:]
    for task in range(first_task, last_task):
        item = task // channels
        channel = task % channels
        for position in range(length):
            grad_input[item, channel, position] = (
                (rows[item, channel, position] - mean[channel]) * coefficient[channel]
                + offset[channel] + grad[item, channel, position] * scale[channel])


@_jit.kernel
def _channel_sums_rows(values, value_center, rows, center, sums, dots, first_channel,
                       last_channel):
    """``_channel_sums`` for (N, C) arrays: float64 sums over the items in order, channels
    first_channel to last_channel side by side (contiguous, so the loop vectorises). The sums
    build in the kernel's own arrays over 1-D row slices: summed straight into ``sums`` and
    ``dots`` beside four other arrays, the loop stayed scalar (BatchNorm1d of (256, 512):
    137 -> 21 us a call, the same sums in the same order)."""
    count = last_channel - first_channel
    totals = np.zeros(count, np.float64)
    products = np.zeros(count, np.float64)
    value_centers = value_center[first_channel:last_channel]
    centers = center[first_channel:last_channel]
    for item in range(rows.shape[0]):
        value_row = values[item, first_channel:last_channel]
        row = rows[item, first_channel:last_channel]
        for index in range(count):
            value = value_row[index]
            totals[index] += value
            products[index] += (value - value_centers[index]) * (row[index] - centers[index])
    for index in range(count):
        sums[first_channel + index] = totals[index]
        dots[first_channel + index] = products[index]


@_jit.kernel
def _batch_norm_affine_rows(rows, center, scale, shift, output, first_item, last_item):
    """``_batch_norm_affine`` for (N, C) arrays, items first_item to last_item."""
    for item in range(first_item, last_item):
        for channel in range(rows.shape[1]):
            output[item, channel] = ((rows[item, channel] - center[channel]) * scale[channel]
                                     + shift[channel])


@_jit.kernel
def _batch_norm_grad_input_rows(grad, rows, mean, coefficient, offset, scale, grad_input,
                                first_item, last_item):
    """``_batch_norm_grad_input`` for (N, C) arrays, items first_item to last_item."""
    for item in range(first_item, last_item):
        for channel in range(rows.shape[1]):
            grad_input[item, channel] = (
                (rows[item, channel] - mean[channel]) * coefficient[channel]
                + offset[channel] + grad[item, channel] * scale[channel])


_ROW_FORMS = {_batch_norm_affine: _batch_norm_affine_rows,
              _batch_norm_grad_input: _batch_norm_grad_input_rows,
              _channel_sums: _channel_sums_rows}


class LayerNorm(Op):
    """Each row of the trailing ``normalized_ndim`` dims to zero mean and unit (biased)
    variance, then ``* weight + bias`` (layer_norm; group_norm without the affine part).

    Saves the input and the per-row mean and 1/std, never a normalised copy; backward
    recomputes x_hat in one pass, as PyTorch's kernel does.
    """
    _next_order = (0, 1, 2)  # input, weight, bias

    _torch_name = "NativeLayerNormBackward0"

    differentiable_backward = True
    backward_is_one_node = True

    @staticmethod
    def forward(ctx, input, weight, bias, normalized_ndim, eps):
        dtype = input.dtype
        layout = _row_layout(input.shape, normalized_ndim)
        count = layout[1]
        rows = input.reshape(layout)
        compiled = _layer_norm_forward.compiled() if accumulation_dtype(dtype) == dtype else None
        if compiled is not None:
            rows = np.ascontiguousarray(rows)
            output = np.empty_like(rows)
            mean = np.empty((layout[0], 1), dtype)
            invstd = np.empty((layout[0], 1), dtype)
            affine = _affine_arrays(weight, bias, rows)

            chunks = _threads.chunk_count(rows.size, rows=layout[0])
            if chunks == 1:
                compiled(rows, *affine, eps, output, mean, invstd)
            else:
                def normalize(start, stop):
                    compiled(rows[start:stop], *affine, eps, output[start:stop],
                             mean[start:stop], invstd[start:stop])

                _threads.run(normalize, _threads.row_ranges(layout[0], chunks))
            if ctx._recording:
                ctx.save_for_backward(input, weight, mean, invstd)
                ctx.options = (layout, eps, None if bias is None else bias.shape)
            return output.reshape(input.shape)
        work = rows.astype(accumulation_dtype(dtype), copy=False)
        mean = work.mean(axis=1, keepdims=True)
        normalized = work - mean
        with np.errstate(divide="ignore", invalid="ignore"):
            variance = np.einsum("mk,mk->m", normalized, normalized)[:, None] / count
            invstd = 1 / np.sqrt(variance + eps)
        normalized *= invstd
        if weight is not None:
            normalized *= weight.reshape(-1)
        if bias is not None:
            normalized += bias.reshape(-1)
        if ctx._recording:
            ctx.save_for_backward(input, weight, mean, invstd)
            ctx.options = (layout, eps, None if bias is None else bias.shape)
        return normalized.astype(dtype, copy=False).reshape(input.shape)

    @staticmethod
    def backward(ctx, grad):
        xp = ctx.xp
        input, weight, mean, invstd = ctx.saved_tensors
        layout, eps, bias_shape = ctx.options
        count = layout[1]
        needs_input, needs_weight, needs_bias = ctx.needs_input_grad[:3]
        dtype = input.dtype
        input_rows = xp.reshape(input, layout)
        grad_rows = xp.reshape(grad, layout)
        compiled = None
        if xp is np and accumulation_dtype(dtype) == dtype:
            compiled = _layer_norm_backward.compiled()
        if compiled is not None:
            return _layer_norm_backward_compiled(compiled, input_rows, grad_rows, weight, mean,
                                                 invstd, ctx.needs_input_grad[:3], bias_shape,
                                                 input.shape)
        low_precision = xp is np and accumulation_dtype(dtype) != dtype
        if low_precision:
            input_rows = input_rows.astype(np.float32)
            grad_rows = grad_rows.astype(np.float32)
        if xp is not np:  # the statistics depend on the input: recompute them on Tensors
            mean = xp.mean(input_rows, axis=1, keepdims=True)
            centered = input_rows - mean
            invstd = 1 / xp.sqrt(xp.mean(centered * centered, axis=1, keepdims=True) + eps)
        normalized = (input_rows - mean) * invstd
        grad_input = grad_weight = grad_bias = None
        if needs_weight:
            grad_weight = xp.reshape(_dot(xp, grad_rows, normalized, 0), weight.shape)
        if needs_bias:
            grad_bias = xp.reshape(xp.sum(grad_rows, axis=0), bias_shape)
        if needs_input:
            if weight is not None:
                grad_rows = grad_rows * xp.reshape(weight, (count,))
            grad_mean = xp.mean(grad_rows, axis=1, keepdims=True)
            grad_dot_mean = xp.expand_dims(_dot(xp, grad_rows, normalized, 1), 1) / count
            grad_input = xp.reshape(_layer_norm_grad(xp, grad_rows, grad_mean, normalized,
                                                     grad_dot_mean, invstd), input.shape)
        if low_precision:
            grad_input, grad_weight, grad_bias = [
                None if value is None else value.astype(dtype)
                for value in (grad_input, grad_weight, grad_bias)]
        return grad_input, grad_weight, grad_bias, None, None


def untracked_layer_norm(input, weight, bias, normalized_ndim, eps):
    """LayerNorm.forward's output where nothing is recorded (no statistics kept), for a
    float32/float64 input whose weight and bias (or None) match it, when the compiled kernel runs
    on one thread; None where the node's path computes it."""
    if type(input) is not np.ndarray or (input.dtype is not _FLOAT32
                                         and input.dtype is not _FLOAT64):
        return None
    compiled = _layer_norm_forward.compiled()
    if compiled is None:
        return None
    dtype = input.dtype
    shape = input.shape
    if normalized_ndim == 1 and shape[-1]:  # the usual LayerNorm(features)
        layout = (input.size // shape[-1], shape[-1])
    else:
        layout = _row_layout(shape, normalized_ndim)
    if _threads.pool_enabled() and _threads.chunk_count(input.size, rows=layout[0]) != 1:
        return None
    stand_in = None
    for parameter in (weight, bias):
        if parameter is None:
            if stand_in is None:
                stand_in = np.empty(0, dtype)
        elif type(parameter) is not np.ndarray or not parameter.flags.c_contiguous:
            return None
    output = np.empty(layout, dtype)
    statistics = np.empty((2, layout[0], 1), dtype)
    compiled(np.ascontiguousarray(input.reshape(layout)),
             stand_in if weight is None else weight.reshape(-1),
             stand_in if bias is None else bias.reshape(-1), weight is not None,
             bias is not None, eps, output, statistics[0], statistics[1])
    return output.reshape(shape)


_FLOAT32 = np.dtype(np.float32)
_FLOAT64 = np.dtype(np.float64)


def _affine_arrays(weight, bias, rows):
    """(weight, bias, has_weight, has_bias) for the kernels: absent ones as unused stand-ins."""
    stand_in = np.empty(0, rows.dtype)
    return (stand_in if weight is None else np.ascontiguousarray(weight).reshape(-1),
            stand_in if bias is None else np.ascontiguousarray(bias).reshape(-1),
            weight is not None, bias is not None)


@_jit.kernel(reassociate=True)
def _layer_norm_forward(rows, weight, bias, has_weight, has_bias, eps, out, mean, invstd):
    """LayerNorm of each row of ``rows`` (M, K) into ``out``, with its mean and 1/std. The
    statistics sum in float64, reordered into vector lanes (a strict chain of 128 float64 adds
    per row made this 1.5x slower); the row is normalised in its dtype with the rounded
    statistics."""
    count = rows.shape[1]
    for row in range(rows.shape[0]):
        total = 0.0
        for column in range(count):
            total += rows[row, column]
        row_mean = total / count
        squares = 0.0
        for column in range(count):
            centered = rows[row, column] - row_mean
            squares += centered * centered
        mean[row, 0] = row_mean
        invstd[row, 0] = 1.0 / math.sqrt(squares / count + eps)
        shift = mean[row, 0]
        scale = invstd[row, 0]
        for column in range(count):
            value = (rows[row, column] - shift) * scale
            if has_weight:
                value = value * weight[column]
            if has_bias:
                value = value + bias[column]
            out[row, column] = value


@_jit.kernel(reassociate=True)
def _layer_norm_backward(rows, grad, weight, has_weight, mean, invstd, grad_input,
                         grad_weight, grad_bias, with_sums):
    """LayerNorm's gradients in two passes per row: x_hat recomputed, the row sums of g and
    g * x_hat, then (g - mean(g) - x_hat * mean(g * x_hat)) * invstd; with ``with_sums``, the
    column sums for weight and bias accumulate in the float64 ``grad_weight`` and
    ``grad_bias``. The row sums are reordered into vector lanes; each column sum adds the rows
    in order."""
    count = rows.shape[1]
    for row in range(rows.shape[0]):
        shift = mean[row, 0]
        scale = invstd[row, 0]
        grad_total = 0.0
        grad_dot = 0.0
        for column in range(count):
            normalized = (rows[row, column] - shift) * scale
            grad_value = grad[row, column]
            if with_sums:
                grad_weight[column] += grad_value * normalized
                grad_bias[column] += grad_value
            if has_weight:
                grad_value = grad_value * weight[column]
            grad_total += grad_value
            grad_dot += grad_value * normalized
        # the two means rounded to the rows' dtype (through memory), as the NumPy path has them
        grad_input[row, 0] = grad_total / count
        grad_mean = grad_input[row, 0]
        grad_input[row, 0] = grad_dot / count
        grad_dot_mean = grad_input[row, 0]
        for column in range(count):
            normalized = (rows[row, column] - shift) * scale
            grad_value = grad[row, column]
            if has_weight:
                grad_value = grad_value * weight[column]
            grad_input[row, column] = (normalized * -grad_dot_mean + grad_value
                                       - grad_mean) * scale


@_jit.kernel
def _layer_norm_column_sums(rows, grad, mean, invstd, first, last, grad_weight, grad_bias):
    """The weight and bias gradients of columns first:last, summed over the rows in order in
    float64, exactly as _layer_norm_backward's ``with_sums`` does them."""
    for row in range(rows.shape[0]):
        shift = mean[row, 0]
        scale = invstd[row, 0]
        for column in range(first, last):
            grad_value = grad[row, column]
            grad_weight[column] += grad_value * ((rows[row, column] - shift) * scale)
            grad_bias[column] += grad_value


def _layer_norm_backward_compiled(compiled, input_rows, grad_rows, weight, mean, invstd,
                                  needs, bias_shape, input_shape):
    """LayerNorm's backward on arrays through the compiled kernel. On several threads the rows
    are split for grad_input, and the columns for the weight and bias sums (a second pass),
    so each sum still runs over the rows in order: the same values as one thread."""
    needs_input, needs_weight, needs_bias = needs
    input_rows = np.ascontiguousarray(input_rows)
    grad_rows = np.ascontiguousarray(grad_rows)
    rows, count = input_rows.shape
    grad_input = np.empty_like(input_rows)
    grad_weight = np.zeros(count, np.float64)
    grad_bias = np.zeros(count, np.float64)
    weight_array, _, has_weight, _ = _affine_arrays(weight, None, input_rows)
    chunks = _threads.chunk_count(input_rows.size, rows=rows)
    if chunks == 1:
        compiled(input_rows, grad_rows, weight_array, has_weight, mean, invstd, grad_input,
                 grad_weight, grad_bias, True)
    else:
        def differentiate(start, stop):
            # with_sums on, into sums of its own that are dropped: the row loop then compiles
            # to the same code as one thread's (without the sums LLVM vectorises the row sums
            # in another order on some CPUs)
            compiled(input_rows[start:stop], grad_rows[start:stop], weight_array, has_weight,
                     mean[start:stop], invstd[start:stop], grad_input[start:stop],
                     np.zeros(count, np.float64), np.zeros(count, np.float64), True)

        _threads.run(differentiate, _threads.row_ranges(rows, chunks))
        if needs_weight or needs_bias:
            column_sums = _layer_norm_column_sums.compiled()
            _threads.run(lambda start, stop: column_sums(input_rows, grad_rows, mean, invstd,
                                                         start, stop, grad_weight, grad_bias),
                         _threads.row_ranges(count, min(chunks, count)))
    dtype = input_rows.dtype
    return (grad_input.reshape(input_shape) if needs_input else None,
            grad_weight.astype(dtype).reshape(weight.shape) if needs_weight else None,
            grad_bias.astype(dtype).reshape(bias_shape) if needs_bias else None,
            None, None)


def _dot(xp, a, b, axis):
    """sum(a * b) over ``axis`` of two (M, K) arrays: one einsum without a temporary on arrays."""
    if xp is np:
        return np.einsum("mk,mk->k" if axis == 0 else "mk,mk->m", a, b)
    return xp.sum(a * b, axis=axis)


def _layer_norm_grad(xp, grad_rows, grad_mean, normalized, grad_dot_mean, invstd):
    """(g - mean(g) - x_hat * mean(g * x_hat)) * invstd; in place on arrays, where ``normalized``
    is this backward's own temporary."""
    if xp is not np:
        return (grad_rows - grad_mean - normalized * grad_dot_mean) * invstd
    normalized *= -grad_dot_mean
    normalized += grad_rows
    normalized -= grad_mean
    normalized *= invstd
    return normalized


def _row_layout(shape, normalized_ndim):
    """(rows, count): the leading dims flattened, the trailing ``normalized_ndim`` flattened."""
    split = len(shape) - normalized_ndim
    return math.prod(shape[:split]), math.prod(shape[split:])


def _blend(target, batch_value, factor):
    """target <- (1 - factor) * target + factor * batch_value, in place (a running buffer)."""
    blended = target * (1.0 - factor) + np.asarray(batch_value, np.float64) * factor
    np.copyto(target, blended, casting="unsafe")


class RMSNorm(Op):
    """x * rsqrt(mean(x^2 over the trailing ``normalized_ndim`` dims) + eps) (* weight) for a
    float32 or float64 input and a weight of its dtype: one node instead of five (pow, mean,
    add, rsqrt, mul), as PyTorch fuses it. The forward takes the composite's steps in its order,
    so the values are the composite's; saves the input and the per-row 1/rms."""
    _next_order = (0, 1)  # input, weight

    _torch_name = "MulBackward0"  # PyTorch runs its composite when autograd records

    differentiable_backward = True

    @staticmethod
    def forward(ctx, input, weight, normalized_ndim, eps):
        axes = tuple(range(input.ndim - normalized_ndim, input.ndim))
        count = math.prod(input.shape[input.ndim - normalized_ndim:])
        squares = input * input
        mean_square = np.asarray(_sum_array(squares, axes, True, input.dtype) /
                                 input.dtype.type(count), dtype=input.dtype)
        mean_square += input.dtype.type(eps)
        inverse_rms = _reciprocal_sqrt(mean_square)
        output = squares
        np.multiply(input, inverse_rms, out=output)
        if weight is not None:
            output *= weight
        ctx.save_for_backward(input, weight, inverse_rms)
        ctx.options = (axes, count, eps)
        return output

    @staticmethod
    def backward(ctx, grad):
        xp = ctx.xp
        input, weight, inverse_rms = ctx.saved_tensors
        axes, count, eps = ctx.options
        if xp is not np:  # 1/rms depends on the input: recomputed on Tensors, recorded
            inverse_rms = 1 / xp.sqrt(xp.mean(input * input, axis=axes, keepdims=True) + eps)
        scaled = grad if weight is None else grad * weight
        grad_input = grad_weight = None
        if ctx.needs_input_grad[0]:
            # d/dx of x r: r g - x r^3 mean(g x), the mean over the normalised dims
            projection = xp.sum(scaled * input, axis=axes, keepdims=True) / count
            grad_input = inverse_rms * scaled - input * (inverse_rms * inverse_rms * inverse_rms
                                                         * projection)
        if weight is not None and ctx.needs_input_grad[1]:
            leading = tuple(range(input.ndim - len(axes)))
            grad_weight = xp.sum(grad * (input * inverse_rms), axis=leading)
        return grad_input, grad_weight, None, None


class CrossMapLRN2d(Function):
    """Lua Torch's cross-channel response normalisation of (N, C, H, W) inputs as PyTorch keeps
    it: a legacy Function (no setup_context: refused by the func transforms) whose hand-written
    backward is not this forward's derivative, and which refuses create_graph (its out= ops)."""

    @staticmethod
    def forward(ctx, input, size, alpha, beta, k):
        ctx.size, ctx.alpha, ctx.beta = size, alpha, beta
        values = input.detach().numpy()
        channels = values.shape[1]
        # channel c's window sums the squares of channels c - h .. c + h (clipped) and, as
        # PyTorch's running sum never drops it, channel 0's square
        reach = int((size - 1) / 2 + 1)
        squares = values * values
        running = np.cumsum(squares, axis=1)
        last = np.minimum(np.arange(channels) + reach - 1, channels - 1)
        before_first = np.maximum(1, np.arange(channels) - reach + 1) - 1
        window = squares[:, :1] + running[:, last] - running[:, before_first]
        ctx.scale = (k + alpha / size * window).astype(values.dtype, copy=False)
        output = Tensor._wrap(values * ctx.scale ** -beta)
        ctx.save_for_backward(input, output)
        return output

    @staticmethod
    def backward(ctx, grad_output):
        input, output = ctx.saved_tensors
        if _grad_state.get()[0] and input.shape[0]:
            raise RuntimeError("mul(): functions with out=... arguments don't support automatic "
                               "differentiation, but one of the arguments requires grad.")
        grad = grad_output.detach().numpy()
        size, scale = ctx.size, ctx.scale
        channels = grad.shape[1]
        # PyTorch's: scale^-beta g - 2 alpha beta / size * x * (sum over a window of size
        # channels, starting size - (size - 1) / 2 before c, of g * output / scale)
        ratio = grad * output.detach().numpy() / scale
        padded = np.zeros((grad.shape[0], channels + size) + grad.shape[2:], grad.dtype)
        before = int(size - (size - 1) / 2)
        if before > size - 1:  # size 1: PyTorch's narrow of its padded ratios fails
            raise RuntimeError(f"start ({before}) + length ({channels}) exceeds dimension size "
                               f"({channels + size - 1}).")
        padded[:, 1 + before:1 + before + channels] = ratio
        totals = np.cumsum(padded, axis=1)
        windows = totals[:, size:size + channels] - totals[:, :channels]
        grad_input = scale ** -ctx.beta * grad - \
            (2 * ctx.alpha * ctx.beta / size) * input.detach().numpy() * windows
        return Tensor._wrap(grad_input.astype(grad.dtype, copy=False)), None, None, None, None
