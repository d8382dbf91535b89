"""The functional forms of ember.nn's layers (PyTorch's torch.nn.functional, imported as F).

Mode-dependent functions take ``training`` as an argument and never read a global mode.
"""
import warnings

import numpy as np

from .. import ops as _ops
from .._random import numpy_generator
from ..ops import activation as _activation
from ..ops import dropout as _dropout_ops
from ..ops import nn_linear as _nn_linear
from ..ops.reduce import log_softmax as _log_softmax
from ..ops.reduce import softmax as _softmax
from ..tensor import _type_name

# ---- conv, pooling, normalization, losses (ember/ops/...) ----
from ..ops.conv import (  # noqa: F401,E402
    conv1d, conv2d, conv3d, conv_transpose1d, conv_transpose2d, conv_transpose3d)
from ..ops.loss import (  # noqa: F401,E402
    binary_cross_entropy, binary_cross_entropy_with_logits, cross_entropy, huber_loss, kl_div,
    l1_loss, mse_loss, nll_loss, smooth_l1_loss)
from ..ops.normalization import batch_norm, group_norm, layer_norm  # noqa: F401,E402
from ..ops.attention import (  # noqa: F401,E402
    _canonical_mask, _none_or_dtype, multi_head_attention_forward, scaled_dot_product_attention)
from ..ops.pooling import (  # noqa: F401,E402
    adaptive_avg_pool1d, adaptive_avg_pool2d, adaptive_avg_pool3d, adaptive_max_pool1d,
    adaptive_max_pool2d, avg_pool1d, avg_pool2d, avg_pool3d, max_pool1d, max_pool2d, max_pool3d)


def _apply(input, inplace, name, compute):
    """``compute()``, or the same written into ``input`` in place when ``inplace``."""
    if inplace:
        return input._inplace(name, compute)
    return compute()


# ---- linear ----------------------------------------------------------------------------------
def linear(input, weight, bias=None):
    """input @ weight.T + bias, as one fused node."""
    return _nn_linear.Linear.apply(input, weight, bias)


def bilinear(input1, input2, weight, bias=None):
    """y[..., o] = sum_ij input1[..., i] weight[o, i, j] input2[..., j] + bias[o] (composite)."""
    if input1.dim() != input2.dim():
        raise RuntimeError(f"bilinear(): input dimensions do not match: got {input1.dim()} and "
                           f"{input2.dim()}")
    if input1.shape[:-1] != input2.shape[:-1]:
        raise RuntimeError(f"bilinear(): input batch dimensions do not match: got "
                           f"{list(input1.shape[:-1])} and {list(input2.shape[:-1])}")
    if weight.dim() != 3:
        raise RuntimeError(f"bilinear(): weight must be three-dimensional, got {weight.dim()}")
    out_features, in1_features, in2_features = weight.shape
    if input1.shape[-1] != in1_features:
        raise RuntimeError(f"bilinear(): input1 size does not match weight size: got "
                           f"{input1.shape[-1]} but expected {in1_features}")
    if input2.shape[-1] != in2_features:
        raise RuntimeError(f"bilinear(): input2 size does not match weight size: got "
                           f"{input2.shape[-1]} but expected {in2_features}")
    batch_shape = tuple(input1.shape[:-1])
    left = input1.reshape(-1, in1_features)
    right = input2.reshape(-1, in2_features)
    # (B, in1) @ (in1, out * in2) -> (B, out, in2), then contract in2 against input2.
    mixed = left.matmul(weight.permute(1, 0, 2).reshape(in1_features, -1))
    out = (mixed.reshape(-1, out_features, in2_features) * right.unsqueeze(1)).sum(-1)
    if bias is not None:
        out = out + bias
    return out.reshape(batch_shape + (out_features,))


def embedding(input, weight, padding_idx=None, max_norm=None, norm_type=2.0,
              scale_grad_by_freq=False, sparse=False):
    """Rows of ``weight`` picked by the integer ``input``; ``padding_idx``'s row gets no gradient
    and ``max_norm`` renormalises the looked-up rows of ``weight`` in place."""
    if input._data.dtype.kind not in "iu":
        type_name = _type_name(input._data.dtype)
        raise RuntimeError(f"Expected tensor for argument #1 'indices' to have one of the "
                           f"following scalar types: Long, Int; but got {type_name} instead "
                           f"(while checking arguments for embedding)")
    if sparse:
        raise NotImplementedError("embedding: ember has no sparse gradients; use sparse=False")
    num_embeddings = weight.shape[0]
    if padding_idx is not None:
        if padding_idx > 0 and padding_idx >= num_embeddings:
            raise ValueError("Padding_idx must be within num_embeddings")
        if padding_idx < 0:
            if padding_idx < -num_embeddings:
                raise ValueError("Padding_idx must be within num_embeddings")
            padding_idx = num_embeddings + padding_idx
    indices = input._data
    if indices.size and (indices.min() < 0 or indices.max() >= num_embeddings):
        raise IndexError("index out of range in self")
    if max_norm is not None:
        _embedding_renorm(weight, indices, max_norm, norm_type)
    return _nn_linear.Embedding.apply(input, weight, padding_idx, scale_grad_by_freq)


def _embedding_renorm(weight, indices, max_norm, norm_type):
    """Scale the rows of ``weight`` used by ``indices`` whose norm exceeds ``max_norm`` (in place,
    untracked, like PyTorch's embedding_renorm_)."""
    rows = np.unique(indices)
    values = weight._data[rows]
    norms = np.sum(np.abs(values) ** norm_type, axis=1) ** (1.0 / norm_type)
    too_large = norms > max_norm
    if np.any(too_large):
        scale = (max_norm / (norms[too_large] + 1e-7)).astype(weight._data.dtype)
        weight._data[rows[too_large]] = values[too_large] * scale[:, None]
        weight._bump_version()


# ---- activations -----------------------------------------------------------------------------
def relu(input, inplace=False):
    if inplace:
        return input.relu_()
    return _ops.relu(input)


def hardtanh(input, min_val=-1.0, max_val=1.0, inplace=False):
    if min_val > max_val:
        raise ValueError("min_val cannot be greater than max_val")
    return _apply(input, inplace, "hardtanh_",
                  lambda: _activation.Hardtanh.apply(input, min_val, max_val))


def relu6(input, inplace=False):
    return hardtanh(input, 0.0, 6.0, inplace)


def leaky_relu(input, negative_slope=0.01, inplace=False):
    return _apply(input, inplace, "leaky_relu_",
                  lambda: _activation.LeakyRelu.apply(input, negative_slope))


def elu(input, alpha=1.0, inplace=False):
    return _apply(input, inplace, "elu_", lambda: _activation.Elu.apply(input, alpha, 1.0))


def selu(input, inplace=False):
    return _apply(input, inplace, "selu_", lambda: _activation.Elu.apply(
        input, _activation.SELU_ALPHA, _activation.SELU_SCALE))


def gelu(input, approximate="none"):
    if approximate not in ("none", "tanh"):
        raise RuntimeError("approximate argument must be either none or tanh.")
    return _activation.Gelu.apply(input, approximate)


def silu(input, inplace=False):
    return _apply(input, inplace, "silu_", lambda: _activation.Silu.apply(input))


def mish(input, inplace=False):
    return _apply(input, inplace, "mish_", lambda: _activation.Mish.apply(input))


def softplus(input, beta=1.0, threshold=20.0):
    return _activation.Softplus.apply(input, beta, threshold)


def sigmoid(input):
    return _ops.sigmoid(input)


def tanh(input):
    return _ops.tanh(input)


def _implicit_softmax_dim(name, ndim):
    warnings.warn(f"Implicit dimension choice for {name} has been deprecated. Change the call to "
                  f"include dim=X as an argument.", stacklevel=3)
    return 0 if ndim in (0, 1, 3) else 1


def softmax(input, dim=None, _stacklevel=3, dtype=None):
    if dim is None:
        dim = _implicit_softmax_dim("softmax", input.dim())
    return _softmax(input, dim, dtype=dtype)


def log_softmax(input, dim=None, _stacklevel=3, dtype=None):
    if dim is None:
        dim = _implicit_softmax_dim("log_softmax", input.dim())
    return _log_softmax(input, dim, dtype=dtype)


# ---- dropout ---------------------------------------------------------------------------------
def _check_probability(p):
    if p < 0.0 or p > 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")


def _dropout(input, p, training, inplace, feature, alpha, generator=None):
    """The shared dropout rule: the input itself when not training, p == 0 or empty; zeros
    (``x * 0``) when p == 1; otherwise one fused node with a freshly drawn mask."""
    _check_probability(p)
    if not training or p == 0 or input.numel() == 0:
        return input
    if p == 1:
        return _apply(input, inplace, "mul_", lambda: input * 0)
    scaled_mask, shift = _dropout_ops.dropout_masks(input._data, p, numpy_generator(generator),
                                                feature, alpha)
    return _apply(input, inplace, "dropout_",
                  lambda: _dropout_ops.Dropout.apply(input, scaled_mask, shift))


def dropout(input, p=0.5, training=True, inplace=False, generator=None):
    """Zero each element with probability p and scale the rest by 1/(1-p) when ``training``."""
    return _dropout(input, p, training, inplace, False, False, generator)


def alpha_dropout(input, p=0.5, training=False, inplace=False, generator=None):
    """Dropout for SELU networks: dropped values go to SELU's saturation and an affine correction
    keeps zero mean and unit variance. Off unless ``training=True`` (PyTorch's default)."""
    return _dropout(input, p, training, inplace, False, True, generator)


def feature_alpha_dropout(input, p=0.5, training=False, inplace=False, generator=None):
    """AlphaDropout of whole channels (one draw per sample and channel)."""
    return _dropout(input, p, training, inplace, True, True, generator)


def dropout1d(input, p=0.5, training=True, inplace=False, generator=None):
    """Channel dropout for (N, C, L) or (C, L) inputs."""
    _check_probability(p)
    dims = input.dim()
    if dims not in (2, 3):
        raise RuntimeError(
            f"dropout1d: Expected 2D or 3D input, but received a {dims}D input. Note that "
            f"dropout1d exists to provide channel-wise dropout on inputs with 1 spatial "
            f"dimension, a channel dimension, and an optional batch dimension (i.e. 2D or 3D "
            f"inputs).")
    if dims == 3:
        return _dropout(input, p, training, inplace, True, False, generator)
    return _unbatched_channel_dropout(input, p, training, inplace, generator)


def _unbatched_channel_dropout(input, p, training, inplace, generator):
    """Channel dropout of one sample: add a batch dimension, drop, remove it again."""
    batched = input.unsqueeze(0)
    result = _dropout(batched, p, training, False, True, False, generator)
    if result is batched:
        return input
    if inplace:
        return input.copy_(result.squeeze(0))
    return result.squeeze(0)


def dropout2d(input, p=0.5, training=True, inplace=False, generator=None):
    """Channel dropout for (N, C, H, W) inputs; a 3-D input is taken as (N, C, L), as in PyTorch."""
    _check_probability(p)
    dims = input.dim()
    if dims not in (3, 4):
        warnings.warn(
            f"dropout2d: Received a {dims}-D input to dropout2d, which is deprecated and will "
            f"result in an error in a future release. To retain the behavior and silence this "
            f"warning, please use dropout instead. Note that dropout2d exists to provide "
            f"channel-wise dropout on inputs with 2 spatial dimensions, a channel dimension, and "
            f"an optional batch dimension (i.e. 3D or 4D inputs).", stacklevel=2)
    if dims == 3:
        warnings.warn(
            "dropout2d: Received a 3D input to dropout2d and assuming that channel-wise 1D "
            "dropout behavior is desired - input is interpreted as shape (N, C, L), where C is "
            "the channel dim. This behavior will change in a future release to interpret the "
            "input as one without a batch dimension, i.e. shape (C, H, W). To maintain the 1D "
            "channel-wise dropout behavior, please switch to using dropout1d instead.",
            stacklevel=2)
    return _dropout(input, p, training, inplace, True, False, generator)


def dropout3d(input, p=0.5, training=True, inplace=False, generator=None):
    """Channel dropout for (N, C, D, H, W) or (C, D, H, W) inputs."""
    _check_probability(p)
    dims = input.dim()
    if dims not in (4, 5):
        warnings.warn(
            f"dropout3d: Received a {dims}-D input to dropout3d, which is deprecated and will "
            f"result in an error in a future release. To retain the behavior and silence this "
            f"warning, please use dropout instead. Note that dropout3d exists to provide "
            f"channel-wise dropout on inputs with 3 spatial dimensions, a channel dimension, and "
            f"an optional batch dimension (i.e. 4D or 5D inputs).", stacklevel=2)
    if dims == 5:
        return _dropout(input, p, training, inplace, True, False, generator)
    return _unbatched_channel_dropout(input, p, training, inplace, generator)


# ---- more activations (ember/ops/activation.py kernels and composites) -----------------------
def logsigmoid(input):
    """log(sigmoid(x)), computed without overflow."""
    return _activation.LogSigmoid.apply(input)


def hardsigmoid(input, inplace=False):
    return _apply(input, inplace, "hardsigmoid_", lambda: _activation.Hardsigmoid.apply(input))


def hardswish(input, inplace=False):
    return _apply(input, inplace, "hardswish_", lambda: _activation.Hardswish.apply(input))


def softsign(input):
    """x / (1 + |x|) (composite)."""
    return input / (input.abs() + 1)


def tanhshrink(input):
    """x - tanh(x) (composite)."""
    return input - input.tanh()


def softmin(input, dim=None, _stacklevel=3, dtype=None):
    """softmax(-x): weights that favour the smallest entries."""
    if dim is None:
        dim = _implicit_softmax_dim("softmin", input.dim())
    if dtype is not None:
        input = input.to(dtype)
    return _softmax(-input, dim)


def celu(input, alpha=1.0, inplace=False):
    if alpha == 0:
        raise RuntimeError("ZeroDivisionError: alpha cannot be 0 for CELU")
    return _apply(input, inplace, "celu_", lambda: _activation.Celu.apply(input, alpha))


def threshold(input, threshold, value, inplace=False):
    """x where x > threshold, otherwise ``value``."""
    return _apply(input, inplace, "threshold_",
                  lambda: _activation.Threshold.apply(input, threshold, value))


def glu(input, dim=-1):
    """Gated linear unit: first half of ``dim`` times sigmoid of the second half (composite)."""
    if input.dim() == 0:
        raise RuntimeError("glu does not support scalars because halving size must be even")
    axis = dim % input.dim() if -input.dim() <= dim < input.dim() else dim
    size = input.shape[axis]
    if size % 2 != 0:
        raise RuntimeError(f"Halving dimension must be even, but dimension {axis} is size {size}")
    first, second = input.split(size // 2, dim)
    return first * second.sigmoid()


def prelu(input, weight):
    """max(0, x) + weight * min(0, x), one weight per channel (dimension 1) or one shared."""
    channels = input.shape[1] if input.dim() >= 2 else 1
    count = weight.numel()
    if count != 1:
        if count != channels:
            raise RuntimeError(f"Mismatch of parameter numbers and input channel size. Found "
                               f"parameter numbers = {count} and channel size = {channels}.")
        weight = weight.reshape((channels,) + (1,) * (input.dim() - 2))
    elif weight.dim() > 0:
        weight = weight.reshape(())
    return _ops.where(input > 0, input, weight * input)


# ---- distances and normalisation of vectors --------------------------------------------------
def normalize(input, p=2.0, dim=1, eps=1e-12, out=None):
    """input / max(||input||_p over ``dim``, eps)."""
    if out is not None:
        raise NotImplementedError("normalize: ember does not support out=")
    norm = _vector_norm(input, p, dim, keepdim=True).clamp(min=eps)
    return input / norm.expand_as(input)


def _broadcast_pair(x1, x2):
    """Both tensors expanded to their broadcast shape (PyTorch's error when there is none)."""
    try:
        shape = np.broadcast_shapes(tuple(x1.shape), tuple(x2.shape))
    except ValueError:
        raise RuntimeError(_size_mismatch_message(x1.shape, x2.shape)) from None
    return x1.expand(shape), x2.expand(shape)


def _size_mismatch_message(shape1, shape2):
    """PyTorch's broadcast error, naming the first mismatching dimension from the right."""
    for offset in range(1, min(len(shape1), len(shape2)) + 1):
        size1 = shape1[-offset]
        size2 = shape2[-offset]
        if size1 != size2 and size1 != 1 and size2 != 1:
            axis = max(len(shape1), len(shape2)) - offset
            return (f"The size of tensor a ({size1}) must match the size of tensor b ({size2}) "
                    f"at non-singleton dimension {axis}")
    return "shapes cannot be broadcast"


def cosine_similarity(x1, x2, dim=1, eps=1e-8):
    """sum(x1 * x2) / (max(||x1||, eps) * max(||x2||, eps)) over ``dim``.

    As in PyTorch, each vector is divided by its norm first, and the eps clamp does not stop the
    gradient (it acts as a constant shift of the norm)."""
    x1, x2 = _broadcast_pair(x1, x2)
    norm1 = _vector_norm(x1, 2, dim, keepdim=True)
    norm2 = _vector_norm(x2, 2, dim, keepdim=True)
    norm1 = norm1 + (norm1.detach().clamp(min=eps) - norm1.detach())
    norm2 = norm2 + (norm2.detach().clamp(min=eps) - norm2.detach())
    return ((x1 / norm1) * (x2 / norm2)).sum(dim)


def pairwise_distance(x1, x2, p=2.0, eps=1e-6, keepdim=False):
    """||x1 - x2 + eps||_p over the last dimension."""
    difference = x1 - x2 + eps
    dim = max(x1.dim(), x2.dim()) - 1
    if dim < 0:
        return _vector_norm(difference, p, 0, keepdim)
    return _vector_norm(difference, p, dim, keepdim)


def _vector_norm(input, p, dim, keepdim):
    from ..ops.reduce import vector_norm
    return vector_norm(input, p, dim, keepdim)


# ---- indices and pixels ----------------------------------------------------------------------
def one_hot(tensor, num_classes=-1):
    """int64 tensor with a trailing dimension of ``num_classes``, 1 at each index."""
    indices = tensor._data
    if indices.dtype != np.int64:
        raise RuntimeError("one_hot is only applicable to index tensor of type LongTensor.")
    if num_classes == -1:
        if indices.size == 0:
            raise RuntimeError("Can not infer total number of classes from empty tensor.")
        num_classes = int(indices.max()) + 1
    if indices.size:
        if indices.min() < 0:
            raise RuntimeError("Class values must be non-negative.")
        if indices.max() >= num_classes:
            raise RuntimeError("Class values must be smaller than num_classes.")
    result = np.zeros(indices.shape + (num_classes,), dtype=np.int64)
    np.put_along_axis(result, indices[..., None], 1, axis=-1)
    return type(tensor)._wrap(result)


def pixel_shuffle(input, upscale_factor):
    """(*, C r^2, H, W) -> (*, C, H r, W r), by reshapes and one permute."""
    if input.dim() < 3:
        raise RuntimeError(f"pixel_shuffle expects input to have at least 3 dimensions, but got "
                           f"input with {input.dim()} dimension(s)")
    if upscale_factor <= 0:
        raise RuntimeError(f"pixel_shuffle expects a positive upscale_factor, but got "
                           f"{upscale_factor}")
    *batch, channels, height, width = input.shape
    factor = upscale_factor
    if channels % (factor * factor) != 0:
        raise RuntimeError(f"pixel_shuffle expects its input's 'channel' dimension to be "
                           f"divisible by the square of upscale_factor, but "
                           f"input.size(-3)={channels} is not divisible by {factor * factor}")
    out_channels = channels // (factor * factor)
    split = input.reshape(-1, out_channels, factor, factor, height, width)
    shuffled = split.permute(0, 1, 4, 2, 5, 3)
    return shuffled.reshape(tuple(batch) + (out_channels, height * factor, width * factor))


def pixel_unshuffle(input, downscale_factor):
    """(*, C, H r, W r) -> (*, C r^2, H, W), the inverse of pixel_shuffle."""
    if input.dim() < 3:
        raise RuntimeError(f"pixel_unshuffle expects input to have at least 3 dimensions, but "
                           f"got input with {input.dim()} dimension(s)")
    if downscale_factor <= 0:
        raise RuntimeError(f"pixel_unshuffle expects a positive downscale_factor, but got "
                           f"{downscale_factor}")
    *batch, channels, height, width = input.shape
    factor = downscale_factor
    if height % factor != 0:
        raise RuntimeError(f"pixel_unshuffle expects height to be divisible by "
                           f"downscale_factor, but input.size(-2)={height} is not divisible by "
                           f"{factor}")
    if width % factor != 0:
        raise RuntimeError(f"pixel_unshuffle expects width to be divisible by downscale_factor, "
                           f"but input.size(-1)={width} is not divisible by {factor}")
    split = input.reshape(-1, channels, height // factor, factor, width // factor, factor)
    shuffled = split.permute(0, 1, 3, 5, 2, 4)
    return shuffled.reshape(tuple(batch) + (channels * factor * factor, height // factor,
                                            width // factor))


# ---- margin, embedding and likelihood losses (ember/ops/loss.py) -----------------------------
from ..ops.loss import (  # noqa: F401,E402
    cosine_embedding_loss, gaussian_nll_loss, hinge_embedding_loss, margin_ranking_loss,
    multilabel_soft_margin_loss, poisson_nll_loss, soft_margin_loss)


def triplet_margin_loss(anchor, positive, negative, margin=1.0, p=2, eps=1e-6, swap=False,
                        size_average=None, reduce=None, reduction="mean"):
    """max(0, margin + d(anchor, positive) - d(anchor, negative)) with pairwise p-distances;
    ``swap`` uses d(positive, negative) when it is the smaller negative distance."""
    from ..ops.loss import _reduce, _reduction_from
    reduction = _reduction_from(size_average, reduce, reduction)
    if margin <= 0:
        raise ValueError(f"margin must be greater than 0, got {margin}")
    dims = (anchor.dim(), positive.dim(), negative.dim())
    if len(set(dims)) != 1:
        raise RuntimeError(f"The anchor, positive, and negative tensors are expected to have the "
                           f"same number of dimensions, but got: anchor {dims[0]}D, positive "
                           f"{dims[1]}D, and negative {dims[2]}D inputs")
    positive_distance = pairwise_distance(anchor, positive, p, eps)
    negative_distance = pairwise_distance(anchor, negative, p, eps)
    if swap:
        swap_distance = pairwise_distance(positive, negative, p, eps)
        negative_distance = _ops.minimum(negative_distance, swap_distance)
    loss = (positive_distance - negative_distance + margin).clamp(min=0)
    return _reduce(loss, reduction)


# ---- padding and resampling ------------------------------------------------------------------
from ..ops.padding import pad  # noqa: F401,E402
from ..ops.sampling import interpolate  # noqa: F401,E402
from ..ops.normalization import instance_norm  # noqa: F401,E402


def hardshrink(input, lambd=0.5):
    """x where |x| > lambd, else 0 (composite)."""
    return _ops.where(input.abs() > lambd, input, input.new_zeros(()))


def softshrink(input, lambd=0.5):
    """x - lambd above lambd, x + lambd below -lambd, 0 between (composite)."""
    if lambd < 0:
        raise RuntimeError(f"lambda must be in range [0, 3.40282e+38] for input dtype Float, but "
                           f"found {lambd:g}")
    zero = input.new_zeros(())
    return _ops.where(input > lambd, input - lambd,
                      _ops.where(input < -lambd, input + lambd, zero))


def channel_shuffle(input, groups):
    """Interleave the channels of ``groups`` groups: (N, g * k, *) -> (N, k * g, *)."""
    if input.dim() <= 2:
        raise RuntimeError(f"channel_shuffle expects input with > 2 dims, but got input with "
                           f"sizes {list(input.shape)}")
    if groups <= 0:
        raise RuntimeError(f"Number of groups to divide channels in must be positive. Value of "
                           f"groups:{groups}")
    channels = input.shape[1]
    if channels % groups != 0:
        raise RuntimeError(f"Number of channels must be divisible by groups. Got {channels} "
                           f"channels and {groups} groups.")
    shape = tuple(input.shape)
    grouped = input.reshape((shape[0], groups, channels // groups) + shape[2:])
    return grouped.transpose(1, 2).reshape(shape)
from ..ops.fold import fold, unfold  # noqa: F401,E402
from ..ops.loss import multi_margin_loss, multilabel_margin_loss  # noqa: F401,E402


def triplet_margin_with_distance_loss(anchor, positive, negative, *, distance_function=None,
                                      margin=1.0, swap=False, reduction="mean"):
    """Triplet margin loss with any distance (pairwise_distance when None)."""
    from ..ops.loss import _check_reduction, _reduce
    _check_reduction(reduction)
    if margin <= 0:
        raise ValueError(f"margin must be greater than 0, got {margin}")
    distance = distance_function if distance_function is not None else pairwise_distance
    positive_distance = distance(anchor, positive)
    negative_distance = distance(anchor, negative)
    if swap:
        negative_distance = _ops.minimum(negative_distance, distance(positive, negative))
    loss = (positive_distance - negative_distance + margin).clamp(min=0)
    return _reduce(loss, reduction)
from ..ops.sampling import affine_grid, grid_sample  # noqa: F401,E402


def local_response_norm(input, size, alpha=1e-4, beta=0.75, k=1.0):
    """x / (k + alpha * mean of x^2 over ``size`` neighbouring channels)^beta (composite)."""
    dims = input.dim()
    if dims < 3:
        # PyTorch's message, including the run of spaces left by its line continuation.
        raise ValueError(f"Expected 3D or higher dimensionality{' ' * 26}input (got {dims} "
                         f"dimensions)")
    if input.numel() == 0:
        return input
    squared = (input * input).unsqueeze(1)
    if dims == 3:
        squared = pad(squared, (0, 0, size // 2, (size - 1) // 2))
        average = avg_pool2d(squared, (size, 1), stride=1).squeeze(1)
    else:
        shape = tuple(input.shape)
        squared = squared.reshape(shape[0], 1, shape[1], shape[2], -1)
        squared = pad(squared, (0, 0, 0, 0, size // 2, (size - 1) // 2))
        average = avg_pool3d(squared, (size, 1, 1), stride=1).squeeze(1).reshape(shape)
    return input / (average * alpha + k).pow(beta)


def rrelu(input, lower=1.0 / 8, upper=1.0 / 3, training=False, inplace=False):
    """Leaky ReLU with slopes drawn from U(lower, upper) per element in training, and their mean
    in evaluation."""
    if not training:
        return leaky_relu(input, (lower + upper) / 2, inplace)
    draws = numpy_generator(None).uniform(lower, upper, size=tuple(input.shape))
    slopes = np.where(input._data <= 0, draws, 1).astype(input._data.dtype)
    noise = type(input)._wrap(slopes)
    return _apply(input, inplace, "rrelu_", lambda: input * noise)


def embedding_bag(input, weight, offsets=None, max_norm=None, norm_type=2, scale_grad_by_freq=False,
                  mode="mean", sparse=False, per_sample_weights=None, include_last_offset=False,
                  padding_idx=None):
    """Sum, mean or max of the embeddings of each bag (a row of a 2-D input, or a run of a 1-D
    input starting at each offset); ``padding_idx`` entries are left out (composite: one lookup,
    then a (bags, indices) weight matrix product, or a gather at each bag's argmax)."""
    if input.dim() == 2:
        if offsets is not None:
            raise ValueError(f"if input is 2D, then offsets has to be None, as input is treated "
                             f"is a mini-batch of fixed length sequences. However, found offsets "
                             f"of type {type(offsets)}")
        bags, length = input.shape
        starts = np.arange(bags, dtype=np.int64) * length
        input = input.reshape(-1)
        if per_sample_weights is not None:
            per_sample_weights = per_sample_weights.reshape(-1)
    elif input.dim() == 1:
        if offsets is None:
            raise ValueError("offsets has to be a 1D Tensor but got None")
        if offsets.dim() != 1:
            raise ValueError("offsets has to be a 1D Tensor")
        starts = offsets._data.astype(np.int64)
        if include_last_offset:
            starts = starts[:-1]
        if starts.size and starts[0] != 0:
            raise RuntimeError(f"offsets[0] has to be 0, i.e., the first sequence in the "
                               f"mini-batch has to start from position 0. However, got "
                               f"{starts[0]}")
    else:
        raise ValueError(f"input has to be 1D or 2D Tensor, but got Tensor of dimension "
                         f"{input.dim()}")
    if mode not in ("sum", "mean", "max"):
        raise ValueError("mode has to be one of sum, mean or max")
    if per_sample_weights is not None and mode != "sum":
        raise NotImplementedError(f"embedding_bag: per_sample_weights was not None. "
                                  f"per_sample_weights is only supported for mode='sum' (got "
                                  f"mode='{mode}'). Please open a feature request on GitHub.")
    indices = input._data
    count = weight.shape[0]
    bad = np.flatnonzero((indices < 0) | (indices >= count))
    if bad.size:
        raise RuntimeError(f"Index {bad[0]} of input takes value {indices[bad[0]]} which is not "
                           f"in the valid range [0, {count})")
    if padding_idx is not None and padding_idx < 0:
        padding_idx += count
    rows = embedding(input, weight, None, max_norm, norm_type, scale_grad_by_freq)
    bag_of = np.searchsorted(starts, np.arange(indices.size), side="right") - 1
    kept = np.ones(indices.size, dtype=bool) if padding_idx is None else indices != padding_idx
    dtype = weight._data.dtype
    if mode == "max":
        return _bag_max(rows, bag_of, kept, starts.size, dtype)
    membership = np.zeros((starts.size, indices.size), dtype=dtype)
    membership[bag_of[kept], np.flatnonzero(kept)] = 1
    if mode == "mean":
        sizes = membership.sum(axis=1, keepdims=True)
        membership /= np.maximum(sizes, 1)
    if per_sample_weights is not None:
        rows = rows * per_sample_weights.unsqueeze(1)
    return type(weight)._wrap(membership).matmul(rows)


def _bag_max(rows, bag_of, kept, bags, dtype):
    """Per-bag, per-feature maximum as a gather at the argmax rows (empty bags give zeros)."""
    values = rows._data
    features = values.shape[1]
    best = np.full((bags, features), -np.inf, dtype=dtype)
    positions = np.flatnonzero(kept)
    np.maximum.at(best, bag_of[positions], values[positions])
    # The first row reaching each maximum supplies it (and receives its gradient).
    is_best = values[positions] == best[bag_of[positions]]
    unused = values.shape[0]
    choice = np.full((bags, features), unused, dtype=np.int64)
    shape = is_best.shape
    np.minimum.at(choice, (np.broadcast_to(bag_of[positions][:, None], shape),
                           np.broadcast_to(np.arange(features), shape)),
                  np.where(is_best, positions[:, None], unused))
    empty = choice == unused
    gathered = rows.gather(0, type(rows)._wrap(np.where(empty, 0, choice)))
    if np.any(empty):
        gathered = gathered * type(rows)._wrap((~empty).astype(dtype))
    return gathered


def _lp_pool(input, norm_type, kernel_size, stride, ceil_mode, pool, window):
    """(window * avg_pool(x^p))^(1/p), with the sign/relu guard PyTorch applies (composite)."""
    powered = input.pow(norm_type)
    if stride is not None:
        pooled = pool(powered, kernel_size, stride, 0, ceil_mode)
    else:
        pooled = pool(powered, kernel_size, padding=0, ceil_mode=ceil_mode)
    return (pooled.sign() * relu(pooled.abs())).mul(window).pow(1.0 / norm_type)


def lp_pool1d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    """Power-average pooling over 1-D windows: (sum of x^p over the window)^(1/p)."""
    return _lp_pool(input, norm_type, kernel_size, stride, ceil_mode, avg_pool1d, kernel_size)


def lp_pool2d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    """Power-average pooling over 2-D windows: (sum of x^p over the window)^(1/p)."""
    height, width = (kernel_size, kernel_size) if isinstance(kernel_size, int) else kernel_size
    return _lp_pool(input, norm_type, kernel_size, stride, ceil_mode, avg_pool2d,
                    height * width)


def gumbel_softmax(logits, tau=1, hard=False, eps=1e-10, dim=-1):
    """softmax((logits + Gumbel noise) / tau); with ``hard`` the one-hot argmax in the forward
    pass and the soft sample's gradient (straight-through)."""
    noise = numpy_generator(None).exponential(1.0, size=tuple(logits.shape))
    gumbels = type(logits)._wrap(-np.log(noise).astype(logits._data.dtype))
    soft = _softmax((logits + gumbels) / tau, dim)
    if not hard:
        return soft
    winners = np.argmax(soft._data, axis=dim)
    one_hot_array = np.zeros_like(soft._data)
    np.put_along_axis(one_hot_array, np.expand_dims(winners, dim), 1, axis=dim)
    return type(logits)._wrap(one_hot_array) - soft.detach() + soft


# ---- in-place forms and deprecated resampling aliases ----------------------------------------
def relu_(input):
    return relu(input, inplace=True)


def elu_(input, alpha=1.0):
    return elu(input, alpha, inplace=True)


def selu_(input):
    return selu(input, inplace=True)


def celu_(input, alpha=1.0):
    return celu(input, alpha, inplace=True)


def leaky_relu_(input, negative_slope=0.01):
    return leaky_relu(input, negative_slope, inplace=True)


def hardtanh_(input, min_val=-1.0, max_val=1.0):
    return hardtanh(input, min_val, max_val, inplace=True)


def threshold_(input, threshold, value):
    return _apply(input, True, "threshold_",
                  lambda: _activation.Threshold.apply(input, threshold, value))


def rrelu_(input, lower=1.0 / 8, upper=1.0 / 3, training=False):
    return rrelu(input, lower, upper, training, inplace=True)


def upsample(input, size=None, scale_factor=None, mode="nearest", align_corners=None):
    """Deprecated alias of interpolate (PyTorch warns the same way)."""
    warnings.warn("`nn.functional.upsample` is deprecated. Use `nn.functional.interpolate` "
                  "instead.", stacklevel=2)
    return interpolate(input, size, scale_factor, mode, align_corners)


def upsample_nearest(input, size=None, scale_factor=None):
    """Deprecated: interpolate(..., mode='nearest')."""
    warnings.warn("`nn.functional.upsample_nearest` is deprecated. Use "
                  "`nn.functional.interpolate` instead.", stacklevel=2)
    return interpolate(input, size, scale_factor, mode="nearest")


def upsample_bilinear(input, size=None, scale_factor=None):
    """Deprecated: interpolate(..., mode='bilinear', align_corners=True)."""
    warnings.warn("`nn.functional.upsample_bilinear` is deprecated. Use "
                  "`nn.functional.interpolate` instead.", stacklevel=2)
    return interpolate(input, size, scale_factor, mode="bilinear", align_corners=True)
