"""The layers' kernels: linear, matmul, embedding, convolution, normalisation, dropout, and the
functions translated whole (pooling, padding, attention, attention masks)."""
import math

import numpy as np

from ..errors import UnsupportedOperatorError
from . import rule, static


def _parameter_array(g, value):
    """The array of a Value the graph holds as a constant (None when it is a graph input)."""
    if value.kind == "constant" or value.kind == "parameter" and not g.parameters_as_inputs:
        return value.array
    return None


def transposed(g, value):
    """A 2-D Value transposed: a new initializer for constants and parameters, else a node."""
    array = _parameter_array(g, value)
    if array is not None:
        name = f"{value.name}.T" if value.name else None
        return g.initializer(np.ascontiguousarray(array.T), name)
    return g.op("Transpose", g.name_of(value), perm=[1, 0])


@rule("op", "Linear")
def linear(g, event):
    x, weight, bias = event.args
    if len(x.shape) == 2:
        return g.op("Gemm", g.name_of(x), g.name_of(weight),
                    g.name_of(bias) if bias is not None else "", transB=1)
    output = g.op("MatMul", g.name_of(x), transposed(g, weight))
    return g.op("Add", output, g.name_of(bias)) if bias is not None else output


@rule("op", "MatMul")
def matmul(g, event):
    left, right = event.args
    return g.op("MatMul", g.name_of(left), g.name_of(right))


@rule("op", "Embedding")
def embedding(g, event):
    indices, weight = event.args[:2]
    return g.op("Gather", g.name_of(weight), g.name_of(indices), axis=0)


@rule("op", "ConvNd")
def convolution(g, event):
    x, weight, bias, geometry = event.args[:4]
    pads = [static(before, "a padding") for before, _ in geometry.padding] + [
        static(after, "a padding") for _, after in geometry.padding]
    return g.op("Conv", g.name_of(x), g.name_of(weight),
                g.name_of(bias) if bias is not None else "",
                kernel_shape=[static(size, "the kernel size") for size in weight.shape[2:]],
                strides=list(geometry.stride), pads=pads, dilations=list(geometry.dilation),
                group=geometry.groups)


@rule("op", "ConvTransposeNd")
def transposed_convolution(g, event):
    # The geometry is the convolution this one transposes: its in_size is this output's size.
    x, weight, bias, geometry = event.args[:4]
    padding = [before for before, _ in geometry.padding]
    output_padding = [
        size - ((steps - 1) * stride - 2 * pad + dilation * (kernel - 1) + 1)
        for size, steps, stride, pad, dilation, kernel in zip(
            geometry.in_size, geometry.out_size, geometry.stride, padding, geometry.dilation,
            geometry.kernel_size)]
    return g.op("ConvTranspose", g.name_of(x), g.name_of(weight),
                g.name_of(bias) if bias is not None else "",
                kernel_shape=[static(size, "the kernel size") for size in weight.shape[2:]],
                strides=list(geometry.stride), pads=padding * 2,
                output_padding=output_padding, dilations=list(geometry.dilation),
                group=geometry.groups)


@rule("op", "BatchNorm")
def batch_norm(g, event):
    x, weight, bias, running_mean, running_var, training, _, eps = event.args[:8]
    if training and len(event.args) > 8 and event.args[8] is not None:
        raise UnsupportedOperatorError("'BatchNormBackward0'/'BatchNorm'", g.opset,
                                       "statistics over several processes (SyncBatchNorm)")
    channels = static(x.shape[1], "the number of channels")
    dtype = x.dtype
    scale = g.operand(weight, dtype) if weight is not None else g.constant(
        np.ones(channels, dtype))
    shift = g.operand(bias, dtype) if bias is not None else g.constant(
        np.zeros(channels, dtype))
    if not training:
        return g.op("BatchNormalization", g.name_of(x), scale, shift,
                    g.operand(running_mean, dtype), g.operand(running_var, dtype),
                    epsilon=float(eps))
    # Batch statistics, spelled out: ONNX Runtime runs BatchNormalization(training_mode=1)
    # with running statistics unless its running-statistics outputs are used.
    normalized = _standardized(g, g.name_of(x), [0] + list(range(2, len(x.shape))), eps,
                               dtype)
    affine_shape = [channels] + [1] * (len(x.shape) - 2)
    return g.op("Add", g.op("Mul", normalized, g.op("Reshape", scale, g.int64s(affine_shape))),
                g.op("Reshape", shift, g.int64s(affine_shape)))


@rule("op", "LayerNorm")
def layer_norm(g, event):
    # The trailing normalized_ndim dims to zero mean and unit variance, then * weight + bias
    # (layer_norm; group_norm reshapes into rows and passes no affine part).
    x, weight, bias, normalized_ndim, eps = event.args
    name = g.name_of(x)
    if g.opset >= 17:
        normalized_shape = [static(size, "the normalised size")
                            for size in x.shape[len(x.shape) - normalized_ndim:]]
        scale = (g.name_of(weight) if weight is not None
                 else g.constant(np.ones(normalized_shape, x.dtype)))
        shift = [g.name_of(bias)] if bias is not None else []
        return g.op("LayerNormalization", name, scale, *shift, axis=-normalized_ndim,
                    epsilon=float(eps))
    axes = list(range(len(x.shape) - normalized_ndim, len(x.shape)))
    output = _standardized(g, name, axes, eps, x.dtype)
    if weight is not None:
        output = g.op("Mul", output, g.name_of(weight))
    return output if bias is None else g.op("Add", output, g.name_of(bias))


def _standardized(g, name, axes, eps, dtype):
    """(x - mean) / sqrt(biased variance + eps) over ``axes``."""
    centered = g.op("Sub", name, g.reduce("ReduceMean", name, axes, True))
    variance = g.reduce("ReduceMean", g.op("Mul", centered, centered), axes, True)
    return g.op("Div", centered, g.op("Sqrt", g.op("Add", variance, g.scalar(eps, dtype))))


@rule("op", "Dropout", volatile=(1, 2))
def dropout(g, event):
    # Only training-mode exports run dropout: ONNX's Dropout draws its own mask at run time.
    x, mask, shift = event.args
    if shift is not None or mask.array.shape != tuple(g.example(size) for size in x.shape):
        raise UnsupportedOperatorError(
            "'DropoutBackward0'/'Dropout'", g.opset,
            "only elementwise dropout exports in training mode (not alpha or channel dropout)")
    keep_scale = float(mask.array.max()) if mask.array.size else 1.0
    ratio = 1.0 - 1.0 / keep_scale if keep_scale else 1.0
    return g.op("Dropout", g.name_of(x), g.scalar(ratio, x.dtype),
                g.constant(np.asarray(True)))


# ---- functions translated whole ------------------------------------------------------------------
def _spatial(value, count):
    """``value`` (an int or a sequence) as ``count`` ints, as the pooling functions read it."""
    if isinstance(value, int):
        return [value] * count
    value = [int(item) for item in value]
    return value * count if len(value) == 1 else value


def _pool_geometry(g, arguments, spatial_dims, with_dilation):
    x = arguments["input"]
    kernel = _spatial(arguments["kernel_size"], spatial_dims)
    stride = arguments["stride"]
    stride = kernel if stride is None or stride == [] or stride == () else _spatial(
        stride, spatial_dims)
    padding = _spatial(arguments["padding"], spatial_dims)
    dilation = _spatial(arguments["dilation"], spatial_dims) if with_dilation \
        else [1] * spatial_dims
    return x, kernel, stride, padding, dilation


def _batched(g, x, spatial_dims):
    """(name of x with a batch dim, whether one was added)."""
    if len(x.shape) == spatial_dims + 1:
        return g.unsqueeze(g.name_of(x), [0]), True
    return g.name_of(x), False


def _unbatched(g, name, added):
    return g.squeeze(name, [0]) if added else name


def _pool_claims(name, arguments):
    return not arguments.get("return_indices", False)


def _spatial_count(name):
    """1, 2 or 3, from a function name such as max_pool2d."""
    return int(name[-2])


@rule("function", "max_pool1d", "max_pool2d", "max_pool3d", "avg_pool1d", "avg_pool2d",
      "avg_pool3d", intercept=_pool_claims)
def pooling(g, event):
    arguments = event.kwargs
    spatial_dims = _spatial_count(event.name)
    maximum = event.name.startswith("max")
    x, kernel, stride, padding, dilation = _pool_geometry(g, arguments, spatial_dims, maximum)
    name, added = _batched(g, x, spatial_dims)
    ceil_mode = bool(arguments["ceil_mode"])
    attributes = {"kernel_shape": kernel, "strides": stride, "pads": padding * 2,
                  "ceil_mode": int(ceil_mode)}
    if maximum:
        pooled = g.op("MaxPool", name, dilations=dilation, **attributes)
    elif arguments.get("divisor_override") is None:
        pooled = g.op("AveragePool", name, **attributes,
                      count_include_pad=int(bool(arguments["count_include_pad"])))
    else:
        if ceil_mode:
            raise UnsupportedOperatorError(f"'{event.name}'", g.opset,
                                           "divisor_override together with ceil_mode")
        # The window sums (padding counted as zeros), divided by the override.
        averaged = g.op("AveragePool", name, **attributes, count_include_pad=1)
        factor = g.scalar(math.prod(kernel) / arguments["divisor_override"], x.dtype)
        pooled = g.op("Mul", averaged, factor)
    if ceil_mode:
        pooled = _drop_outside_windows(g, pooled, x, event.outputs[0], kernel, stride, padding,
                                       dilation)
    return _unbatched(g, pooled, added)


def _drop_outside_windows(g, pooled, x, output, kernel, stride, padding, dilation):
    """ONNX's ceil_mode keeps a last window that starts in the right padding; PyTorch drops it
    (ONNX Runtime does too, but the graph's shapes must say so): slice to PyTorch's sizes."""
    spatial_dims = len(kernel)
    sizes = x.shape[-spatial_dims:]
    wanted = output.shape[-spatial_dims:]
    extra = False
    for size, count, window, step, pad, gap in zip(sizes, wanted, kernel, stride, padding,
                                                     dilation):
        span = g.example(size) + 2 * pad - gap * (window - 1) - 1
        extra = extra or -(-span // step) + 1 != g.example(count)
    if not extra:
        return pooled
    axes = list(range(2, 2 + spatial_dims))
    return g.op("Slice", pooled, g.int64s([0] * spatial_dims), g.dims(wanted), g.int64s(axes))


def _adaptive_counts(sizes, output_size):
    """The output size per spatial dim (None keeps the input's size)."""
    if isinstance(output_size, int) or output_size is None:
        output_size = (output_size,) * len(sizes)
    return [size if count is None else int(count) for size, count in zip(sizes, output_size)]


def _adaptive_claims(name, arguments):
    """Translated whole when the windows are the whole input or equal tiles of it."""
    if arguments.get("return_indices", False):
        return False
    sizes = tuple(arguments["input"].shape)[-_spatial_count(name):]
    counts = _adaptive_counts(sizes, arguments["output_size"])
    return all(count == 1 for count in counts) or all(
        count and size % count == 0 for size, count in zip(sizes, counts))


@rule("function", "adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_avg_pool3d",
      "adaptive_max_pool1d", "adaptive_max_pool2d", intercept=_adaptive_claims)
def adaptive_pooling(g, event):
    spatial_dims = _spatial_count(event.name)
    x = event.kwargs["input"]
    name, added = _batched(g, x, spatial_dims)
    sizes = x.shape[-spatial_dims:]
    counts = _adaptive_counts(sizes, event.kwargs["output_size"])
    average = event.name.startswith("adaptive_avg")
    if all(count == 1 for count in counts):
        pooled = g.op("GlobalAveragePool" if average else "GlobalMaxPool", name)
    else:
        kernel = [static(size, "an adaptively pooled size") // static(count, "an output size")
                  for size, count in zip(sizes, counts)]
        pooled = g.op("AveragePool" if average else "MaxPool", name, kernel_shape=kernel,
                      strides=kernel)
    return _unbatched(g, pooled, added)


@rule("op", "GatherAxes")
def gather_axes(g, event):
    # F.pad, interpolate and uneven adaptive average pooling: per axis, a Gather by an index
    # map (-1: the fill value) or a MatMul by an (out, in) matrix, in order.
    x, maps, fill = event.args
    name = g.name_of(x)
    rank = len(x.shape)
    for axis, operator in maps:
        operator = operator.array
        if operator.ndim == 2:
            order = [dim for dim in range(rank) if dim != axis] + [axis]
            moved = g.op("Transpose", name, perm=order)
            product = g.op("MatMul", moved, g.constant(operator.T.astype(x.dtype)))
            name = g.op("Transpose", product, perm=[int(dim) for dim in np.argsort(order)])
            continue
        name = g.op("Gather", name, g.int64s(np.maximum(operator, 0)), axis=axis)
        outside = operator < 0
        if outside.any():
            mask_shape = [1] * rank
            mask_shape[axis] = outside.size
            name = g.op("Where", g.constant(outside.reshape(mask_shape)), g.scalar(fill, x.dtype),
                        name)
    return name


_PAD_MODES = {"constant": "constant", "reflect": "reflect", "replicate": "edge",
              "circular": "wrap"}


@rule("function", "pad", intercept=lambda name, arguments: True)
def pad(g, event):
    x = event.kwargs["input"]
    widths = [int(width) for width in event.kwargs["pad"]]
    mode = event.kwargs["mode"]
    if mode == "circular" and g.opset < 19:
        raise UnsupportedOperatorError("'pad'", g.opset, "circular padding needs opset 19")
    rank = len(x.shape)
    begins = [0] * rank
    ends = [0] * rank
    for number in range(len(widths) // 2):
        begins[rank - 1 - number] = widths[2 * number]
        ends[rank - 1 - number] = widths[2 * number + 1]
    fill = event.kwargs["value"]
    value = g.scalar(0 if fill is None else fill, x.dtype) if mode == "constant" else ""
    return g.op("Pad", g.name_of(x), g.int64s(begins + ends), value, mode=_PAD_MODES[mode])


@rule("function", "_canonical_mask")
def canonical_mask(g, event):
    # A bool attention mask (True: ignore) as 0 / -inf of the target dtype; float masks as given.
    mask = event.kwargs["mask"]
    target = event.outputs[0].dtype
    if np.dtype(mask.dtype) != np.bool_:
        return g.op("Identity", g.name_of(mask))
    return g.op("Where", g.name_of(mask), g.scalar(-np.inf, target), g.scalar(0.0, target))


@rule("function", "scaled_dot_product_attention",
      intercept=lambda name, arguments: not arguments["enable_gqa"])
def scaled_dot_product_attention(g, event):
    arguments = event.kwargs
    query, key, value = arguments["query"], arguments["key"], arguments["value"]
    dtype = query.dtype
    head_size = static(query.shape[-1], "the head size")
    scale = arguments["scale"]
    scale = 1.0 / math.sqrt(head_size) if scale is None else scale
    rank = len(key.shape)
    order = list(range(rank - 2)) + [rank - 1, rank - 2]
    scores = g.op("MatMul", g.op("Mul", g.name_of(query), g.scalar(scale, dtype)),
                  g.op("Transpose", g.name_of(key), perm=order))
    mask = arguments["attn_mask"]
    additive = None
    if arguments["is_causal"]:
        # keys after each query are masked (upper-left aligned)
        lengths = [query.shape[-2], key.shape[-2]]
        if all(isinstance(size, int) for size in lengths):
            lower = g.constant(np.tril(np.ones(lengths, np.bool_)))
        else:
            lower = g.op("Trilu", g.filled(lengths, True, np.bool_), upper=0)
        additive = g.op("Where", lower, g.scalar(0.0, dtype), g.scalar(-np.inf, dtype))
    elif mask is not None:
        if np.dtype(mask.dtype) == np.bool_:
            additive = g.op("Where", g.name_of(mask), g.scalar(0.0, dtype),
                            g.scalar(-np.inf, dtype))
        else:
            additive = g.operand(mask, dtype)
    if additive is not None:
        scores = g.op("Add", scores, additive)
    weights = g.op("Softmax", scores, axis=-1)
    if additive is not None:
        # rows the mask removes entirely give 0, not NaN (ember's and PyTorch's math kernel)
        weights = g.op("Where", g.op("IsNaN", weights), g.scalar(0.0, dtype), weights)
    if arguments["dropout_p"] > 0:
        weights = g.op("Dropout", weights, g.scalar(arguments["dropout_p"], dtype),
                       g.constant(np.asarray(True)))
    return g.op("MatMul", weights, g.name_of(value))

