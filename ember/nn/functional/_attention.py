"""Scaled dot-product attention (one fused node, ember.nn._kernels.attention) and multi-head
attention around it: projections, head split (views) and merge (one copy), masks.

Bool masks stay bool constants down to the fused node; float masks are added to the scores and
carry a gradient when the caller's mask requires one.
"""
import math
import warnings

import numpy as np

from ..._dtype import cpp_type_name, is_floating
from ...autograd import function as function_module
from ...autograd.function import forward_ad_unsupported, without_double_backward
from ...autograd.views import nothing_recorded
from ...backends.cuda import flash_sdp_enabled
from ...ops._broadcast import mismatch_error
from ...ops.linalg import matmul_shape_error
from ...ops import cat, chunk, expand, matmul, mean, reshape, softmax, squeeze, transpose, unsqueeze
from ...tensor import Tensor
from .._kernels.attention import ScaledDotProductAttention, causal_blocked, untracked_attention
from ...ops.elementwise.casting import autocast_op, computed_in_float32
from ._dropout import _drop
from ._linear import linear

__all__ = ["multi_head_attention_forward", "scaled_dot_product_attention"]


@autocast_op("scaled_dot_product_attention")
def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0,
                                 is_causal=False, scale=None, enable_gqa=False):
    """softmax(query @ key^T * scale + mask) @ value over the last two dims (one fused node).

    A bool ``attn_mask`` marks the positions that take part (True); a float one is added to the
    scores (and gets their gradient). ``is_causal`` masks keys after each query (upper-left
    aligned). Dropout is applied to the weights whenever ``dropout_p > 0``, drawn from the
    default generator (``ember.manual_seed`` makes it repeatable). ``is_causal`` with an
    ``attn_mask`` applies both where PyTorch's CPU flash kernel takes the call, and is refused
    where its math kernel would.
    """
    if (attn_mask is None and not dropout_p and not enable_gqa and type(query) is Tensor
            and type(key) is Tensor and type(value) is Tensor
            and (scale is None or type(scale) is float) and function_module._tracer is None
            and nothing_recorded(query, key, value)):
        # generation and evaluation: the node's forward without the node (float32/float64)
        output = untracked_attention(query._data, key._data, value._data, is_causal, scale)
        if output is not None:
            return Tensor._wrap(output)
    return _attention(query, key, value, attn_mask, dropout_p, is_causal, scale, enable_gqa)


@computed_in_float32
def _attention(query, key, value, attn_mask, dropout_p, is_causal, scale, enable_gqa):
    """scaled_dot_product_attention's checks and node (half precision computed in float32)."""
    if is_causal and attn_mask is not None and not _flash_kernel_runs(query, key, value, attn_mask,
                                                                       dropout_p, enable_gqa):
        raise RuntimeError("_scaled_dot_product_attention: Explicit attn_mask should not be set "
                           "when is_causal=True")
    _check_attention_inputs(query, key, value, attn_mask, dropout_p)
    original = (query, key, value)  # PyTorch picks its kernel before repeating heads
    if enable_gqa:
        heads, key_heads = query.shape[-3], key.shape[-3]
        if heads % key_heads != 0 or heads % value.shape[-3] != 0:
            raise RuntimeError(f"scaled_dot_product_attention: number of heads in key and value "
                               f"must divide the number of heads in query, got {key_heads}, "
                               f"{value.shape[-3]} and {heads}")
        key = _repeat_heads(key, heads // key_heads)
        value = _repeat_heads(value, heads // value.shape[-3])
    query, key, value = _common_batch(query, key, value)
    target_length, source_length = query._data.shape[-2], key._data.shape[-2]
    if attn_mask is not None:
        # PyTorch adds the mask to the scores: its broadcasting error, not NumPy's ValueError.
        error = mismatch_error(tuple(query._data.shape[:-1]) + (source_length,),
                               attn_mask._data.shape)
        if error is not None:
            raise error
    scale_factor = 1.0 / math.sqrt(query._data.shape[-1]) if scale is None else float(scale)
    float_mask = blocked = None
    if attn_mask is not None and attn_mask._data.dtype == np.bool_:
        blocked = ~attn_mask._data
    elif attn_mask is not None:
        float_mask = attn_mask
    if is_causal:
        causal = causal_blocked(target_length, source_length)
        blocked = causal if blocked is None else blocked | causal
    stream = None  # the default generator, drawn from when dropout_p > 0
    output = ScaledDotProductAttention.apply(query, key, value, float_mask, blocked,
                                             scale_factor, float(dropout_p), stream)
    if output.grad_fn is not None and _flash_kernel_runs(original[0], original[1], original[2],
                                                         attn_mask, dropout_p, enable_gqa):
        # PyTorch's CPU flash kernel has no double backward
        without_double_backward(output, RuntimeError, "derivative for aten::_scaled_dot_product_"
                                "flash_attention_for_cpu_backward is not implemented",
                                forward_ad_unsupported(
                                    "_scaled_dot_product_flash_attention_for_cpu"))
    return output


def _flash_kernel_runs(query, key, value, attn_mask, dropout_p, enable_gqa):
    """Whether PyTorch's CPU flash kernel would run this call (its gates in sdp_utils_cpp.cpp):
    that kernel applies an explicit mask and is_causal together, the math kernel refuses; its
    backward has no derivative."""
    shapes = [tensor._data.shape for tensor in (query, key, value)]
    if not flash_sdp_enabled() or dropout_p > 0.0 or any(len(shape) != 4 for shape in shapes):
        return False
    batch, heads, target_length, head_size = shapes[0]
    source_length = shapes[1][2]
    if any(shape[0] != batch or shape[3] != head_size for shape in shapes):
        return False
    if any(shape[1] != heads for shape in shapes) and not enable_gqa:
        return False
    if target_length == 0 or source_length == 0:
        return False
    if any(tensor.stride(-1) != 1 for tensor in (query, key, value)):
        return False
    if attn_mask is None:
        return True
    mask_shape = attn_mask._data.shape
    if attn_mask.requires_grad or len(mask_shape) not in (2, 4):
        return False
    if mask_shape[-2] not in (target_length, 1) or mask_shape[-1] not in (source_length, 1):
        return False
    return len(mask_shape) == 2 or (mask_shape[0] in (batch, 1) and mask_shape[1] in (heads, 1))


def _check_attention_inputs(query, key, value, attn_mask, dropout_p):
    """PyTorch's errors for inputs the attention cannot take (before any work)."""
    query_shape, key_shape, value_shape = query._data.shape, key._data.shape, value._data.shape
    if not query._data.dtype == key._data.dtype == value._data.dtype:
        names = [cpp_type_name(tensor._data.dtype) for tensor in (query, key, value)]
        raise RuntimeError(f"Expected query, key, and value to have the same dtype, but got "
                           f"query.dtype: {names[0]} key.dtype: {names[1]} and value.dtype: "
                           f"{names[2]} instead.")
    if not is_floating(query._data.dtype):
        raise RuntimeError(f"scaled_dot_product_attention: expected floating query, key and "
                           f"value, got {query.dtype}")
    if min(len(query_shape), len(key_shape), len(value_shape)) < 2:
        raise RuntimeError(f"Expected query, key, and value to all be  at least 2 dimensional, "
                           f"but got query.dim: {query._data.ndim} key.dim: {key._data.ndim} "
                           f"and value.dim: {value._data.ndim} instead.")
    if query_shape[-1] != key_shape[-1] or key_shape[-2] != value_shape[-2]:
        if not _flash_kernel_runs(query, key, value, None, 0.0, True):
            raise _math_kernel_shape_error(query, key, value)
        # PyTorch's flash kernel takes keys and values of different lengths and reads past them
        raise RuntimeError(f"scaled_dot_product_attention: shapes of query {list(query.shape)}, "
                           f"key {list(key.shape)} and value {list(value.shape)} do not match")
    if attn_mask is not None:
        kind = attn_mask._data.dtype
        if kind not in (np.bool_, np.float32, query._data.dtype):
            raise RuntimeError(f"Expected attn_mask dtype to be bool or float or to match query "
                               f"dtype, but got attn_mask.dtype: {cpp_type_name(kind)} and  "
                               f"query.dtype: {cpp_type_name(query._data.dtype)} instead.")
    if not 0.0 <= dropout_p <= 1.0:  # a RuntimeError here, unlike F.dropout's ValueError (PyTorch)
        raise RuntimeError(f"dropout probability has to be between 0 and 1, but got {dropout_p}")


def _math_kernel_shape_error(query, key, value):
    """The error of PyTorch's math kernel for shapes that do not fit: the matmul of query by the
    transposed key fails, or that of the weights by value. Both operands of the first are fresh
    products by the scale, the first row-major, the second the key's transposed layout; the
    weights are row-major."""
    q, k, v = query._data.shape, key._data.shape, value._data.shape
    key_t = k[:-2] + (k[-1], k[-2])
    # ATen's should_fold for row-major operands: a 3-D-or-more left operand folds onto a
    # matrix; a matrix on the left folds only when it requires grad.
    if q[-1] != key_t[-2] or mismatch_error(q[:-2], key_t[:-2]) is not None:
        folds = len(q) >= 3 and len(k) <= 2 or len(q) <= 2 and query.requires_grad
        return matmul_shape_error(q, key_t, folds)
    weights = tuple(np.broadcast_shapes(q[:-2], k[:-2])) + (q[-2], k[-2])
    folds = len(weights) >= 3 and len(v) <= 2 or \
        len(weights) <= 2 and (query.requires_grad or key.requires_grad)
    return matmul_shape_error(weights, v, folds)


def _common_batch(query, key, value):
    """query, key and value expanded to one shape of their leading (batch) dims."""
    if query._data.shape[:-2] == key._data.shape[:-2] == value._data.shape[:-2]:
        return query, key, value
    try:
        batch = np.broadcast_shapes(tuple(query.shape[:-2]), tuple(key.shape[:-2]),
                                    tuple(value.shape[:-2]))
    except ValueError:
        raise _math_kernel_shape_error(query, key, value) from None
    expanded = []
    for tensor in (query, key, value):
        if tuple(tensor.shape[:-2]) != batch:
            tensor = expand(tensor, *batch, *tensor.shape[-2:])
        expanded.append(tensor)
    return expanded


def _repeat_heads(tensor, repeats):
    """Each head ``repeats`` times in a row along dim -3 (grouped-query attention)."""
    if repeats == 1:
        return tensor
    shape = tuple(tensor.shape)
    expanded = expand(unsqueeze(tensor, -3), *shape[:-3], shape[-3], repeats, *shape[-2:])
    return reshape(expanded, *shape[:-3], shape[-3] * repeats, *shape[-2:])


# ---- multi-head attention --------------------------------------------------------------------
def _canonical_mask(mask, mask_name, other_type, other_name, target_type, check_other=True):
    """A bool mask (True = ignore) as 0 / -inf floats of dtype ``target_type``; float masks as
    given. ``other_type``: the dtype of the other mask, to warn about mixed kinds (PyTorch)."""
    if mask is None:
        return None
    kind = mask._data.dtype
    if kind != np.bool_ and not is_floating(kind):
        raise AssertionError(f"only bool and floating types of {mask_name} are supported")
    if check_other and other_type is not None and mask.dtype != other_type:
        warnings.warn(f"Support for mismatched {mask_name} and {other_name} is deprecated. Use "
                      f"same type for both instead.", stacklevel=3)
    if kind == np.bool_:
        return Tensor._wrap(np.where(mask._data, -np.inf, 0.0).astype(target_type.numpy))
    return mask


def _none_or_dtype(input):
    """The dtype of a tensor, or None."""
    if input is None:
        return None
    if isinstance(input, Tensor):
        return input.dtype
    raise RuntimeError("input to _none_or_dtype() must be None or ember.Tensor")


def _mha_shape_check(query, key, value, key_padding_mask, attn_mask, num_heads):
    """Whether the input is batched; AssertionError (as PyTorch) for inconsistent dims."""
    rank = query.dim()
    if rank not in (2, 3):
        raise AssertionError(f"query should be unbatched 2D or batched 3D tensor but received "
                             f"{rank}-D query tensor")
    prefix = "For batched (3-D) `query`" if rank == 3 else "For unbatched (2-D) `query`"
    if key.dim() != rank or value.dim() != rank:
        raise AssertionError(f"{prefix}, expected `key` and `value` to be {rank}-D but found "
                             f"{key.dim()}-D and {value.dim()}-D tensors respectively")
    if key_padding_mask is not None and key_padding_mask.dim() != rank - 1:
        raise AssertionError(f"{prefix}, expected `key_padding_mask` to be `None` or "
                             f"{rank - 1}-D but found {key_padding_mask.dim()}-D tensor instead")
    if attn_mask is not None and attn_mask.dim() not in (2, 3):
        raise AssertionError(f"{prefix}, expected `attn_mask` to be `None`, 2-D or 3-D but found "
                             f"{attn_mask.dim()}-D tensor instead")
    if rank == 2 and attn_mask is not None and attn_mask.dim() == 3:
        expected = (num_heads, query.shape[0], key.shape[0])
        if tuple(attn_mask.shape) != expected:
            raise AssertionError(f"Expected `attn_mask` shape to be {expected} but got "
                                 f"{attn_mask.shape}")
    return rank == 3


def _in_projection(query, key, value, embed_dim, in_proj_weight, in_proj_bias,
                   q_proj_weight, k_proj_weight, v_proj_weight):
    """q, k, v projections; self-attention (query is key is value) takes one matmul."""
    if in_proj_weight is not None and query is key and key is value:
        return chunk(linear(query, in_proj_weight, in_proj_bias), 3, -1)
    if in_proj_weight is not None:
        q_proj_weight = in_proj_weight[:embed_dim]
        k_proj_weight = in_proj_weight[embed_dim:2 * embed_dim]
        v_proj_weight = in_proj_weight[2 * embed_dim:]
    biases = (None, None, None)
    if in_proj_bias is not None:
        biases = (in_proj_bias[:embed_dim], in_proj_bias[embed_dim:2 * embed_dim],
                  in_proj_bias[2 * embed_dim:])
    if in_proj_weight is None:  # PyTorch's _in_projection asserts the separate weights' shapes
        size = query.shape[-1]
        for name, tensor, weight in (("query", query, q_proj_weight), ("key", key, k_proj_weight),
                                     ("value", value, v_proj_weight)):
            expected = (size, tensor.shape[-1])
            if tuple(weight.shape) != expected:
                raise AssertionError(f"expecting {name} weights shape of {expected}, but got "
                                     f"{weight.shape}")
        for name, bias in zip(("query", "key", "value"), biases):
            if bias is not None and tuple(bias.shape) != (size,):
                raise AssertionError(f"expecting {name} bias shape of {(size,)}, but got "
                                     f"{bias.shape}")
    return (linear(query, q_proj_weight, biases[0]),
            linear(key, k_proj_weight, biases[1]),
            linear(value, v_proj_weight, biases[2]))


def _pad_last(mask):
    """One more column of zeros (an always-visible key) on a float mask's last dim."""
    zeros = Tensor._wrap(np.zeros(tuple(mask.shape[:-1]) + (1,), dtype=mask._data.dtype))
    return cat([mask, zeros], -1)


def multi_head_attention_forward(query, key, value, embed_dim_to_check, num_heads,
                                 in_proj_weight, in_proj_bias, bias_k, bias_v, add_zero_attn,
                                 dropout_p, out_proj_weight, out_proj_bias, training=True,
                                 key_padding_mask=None, need_weights=True, attn_mask=None,
                                 use_separate_proj_weight=False, q_proj_weight=None,
                                 k_proj_weight=None, v_proj_weight=None, static_k=None,
                                 static_v=None, average_attn_weights=True, is_causal=False):
    """Multi-head attention on (L, N, E) query and (S, N, E_k/E_v) key/value (or unbatched).

    Returns ``(output, weights)``: weights (N, L, S) averaged over heads, (N, heads, L, S) when
    not ``average_attn_weights``, None when not ``need_weights`` (then the fused attention node
    runs, the weights never materialised). Masks: True or -inf = ignore.
    """
    batched = _mha_shape_check(query, key, value, key_padding_mask, attn_mask, num_heads)
    if not batched:
        query, key, value = unsqueeze(query, 1), unsqueeze(key, 1), unsqueeze(value, 1)
        if key_padding_mask is not None:
            key_padding_mask = unsqueeze(key_padding_mask, 0)
    target_length, batch_size, embed_dim = query.shape
    key_padding_mask, attn_mask, is_causal = _mha_masks(
        query, key_padding_mask, attn_mask, is_causal, need_weights)
    head_dim = _check_embedding(query, key, value, embed_dim_to_check, num_heads,
                                use_separate_proj_weight, in_proj_weight, q_proj_weight,
                                k_proj_weight, v_proj_weight)
    if use_separate_proj_weight:
        in_proj_weight = None
    q, k, v = _in_projection(query, key, value, embed_dim, in_proj_weight, in_proj_bias,
                             q_proj_weight, k_proj_weight, v_proj_weight)
    attn_mask = _batched_attn_mask(attn_mask, target_length, key.shape[0], batch_size * num_heads)
    k, v, attn_mask, key_padding_mask = _add_bias_kv(k, v, bias_k, bias_v, static_k, static_v,
                                                     attn_mask, key_padding_mask)
    heads = batch_size * num_heads
    # (L, N, E) -> (N * heads, L, head_dim): a view, as PyTorch's
    q = transpose(reshape(q, target_length, heads, head_dim), 0, 1)
    k = _heads(k, static_k, heads, head_dim, "static_k")
    v = _heads(v, static_v, heads, head_dim, "static_v")
    if add_zero_attn:
        k, v, attn_mask, key_padding_mask = _add_zero_attention(k, v, attn_mask,
                                                                key_padding_mask)
    attn_mask = _merge_key_padding(attn_mask, key_padding_mask, batch_size, num_heads,
                                   k.shape[1])
    if not training:
        dropout_p = 0.0
    if need_weights:
        output, weights = _attention_with_weights(q, k, v, attn_mask, dropout_p)
    else:
        output, weights = _fused_attention(q, k, v, attn_mask, dropout_p, is_causal,
                                           batch_size, num_heads), None
    output = _out_projection(output, out_proj_weight, out_proj_bias, batch_size, num_heads,
                             target_length)
    if weights is not None:
        weights = reshape(weights, batch_size, num_heads, target_length, k.shape[1])
        weights = mean(weights, 1) if average_attn_weights else weights
    if not batched:
        return squeeze(output, 1), None if weights is None else squeeze(weights, 0)
    return output, weights


def _mha_masks(query, key_padding_mask, attn_mask, is_causal, need_weights):
    """The masks as 0 / -inf floats, and whether the causal hint alone drives the attention."""
    key_padding_mask = _canonical_mask(key_padding_mask, "key_padding_mask",
                                       _none_or_dtype(attn_mask), "attn_mask", query.dtype)
    if is_causal and attn_mask is None:
        raise RuntimeError("Need attn_mask if specifying the is_causal hint. You may use the "
                           "Transformer module method `generate_square_subsequent_mask` to "
                           "create this mask.")
    if is_causal and key_padding_mask is None and not need_weights:
        return None, None, True  # the hint alone drives the fused attention's causal mask
    attn_mask = _canonical_mask(attn_mask, "attn_mask", None, "", query.dtype, check_other=False)
    if key_padding_mask is not None:
        is_causal = False
    return key_padding_mask, attn_mask, is_causal


def _check_embedding(query, key, value, embed_dim_to_check, num_heads, use_separate_proj_weight,
                     in_proj_weight, q_proj_weight, k_proj_weight, v_proj_weight):
    """PyTorch's assertions on the embedding sizes and projections; returns the head size."""
    embed_dim = query.shape[2]
    if embed_dim != embed_dim_to_check:
        raise AssertionError(f"was expecting embedding dimension of {embed_dim_to_check}, but "
                             f"got {embed_dim}")
    head_dim = embed_dim // num_heads
    if head_dim * num_heads != embed_dim:
        raise AssertionError(f"embed_dim {embed_dim} not divisible by num_heads {num_heads}")
    if use_separate_proj_weight:
        if tuple(key.shape[:2]) != tuple(value.shape[:2]):
            raise AssertionError(f"key's sequence and batch dims {key.shape[:2]} do not match "
                                 f"value's {value.shape[:2]}")
        if q_proj_weight is None or k_proj_weight is None or v_proj_weight is None:
            raise AssertionError("use_separate_proj_weight is True but q_proj_weight, "
                                 "k_proj_weight or v_proj_weight is None")
    else:
        if tuple(key.shape) != tuple(value.shape):
            raise AssertionError(f"key shape {key.shape} does not match value shape "
                                 f"{value.shape}")
        if in_proj_weight is None:
            raise AssertionError("use_separate_proj_weight is False but in_proj_weight is None")
    return head_dim


def _batched_attn_mask(attn_mask, target_length, source_length, heads):
    """A 2-D mask as (1, L, S); a 3-D one checked against (N * heads, L, S)."""
    if attn_mask is None:
        return None
    if attn_mask.dim() == 2:
        expected = (target_length, source_length)
        if tuple(attn_mask.shape) != expected:
            raise RuntimeError(f"The shape of the 2D attn_mask is {attn_mask.shape}, but should "
                               f"be {expected}.")
        return unsqueeze(attn_mask, 0)
    if attn_mask.dim() == 3:
        expected = (heads, target_length, source_length)
        if tuple(attn_mask.shape) != expected:
            raise RuntimeError(f"The shape of the 3D attn_mask is {attn_mask.shape}, but should "
                               f"be {expected}.")
        return attn_mask
    raise RuntimeError(f"attn_mask's dimension {attn_mask.dim()} is not supported")


def _add_bias_kv(k, v, bias_k, bias_v, static_k, static_v, attn_mask, key_padding_mask):
    """bias_k / bias_v appended as one more key and value (and a visible mask column)."""
    if bias_k is None and bias_v is None:
        return k, v, attn_mask, key_padding_mask
    if bias_k is None or bias_v is None:
        raise AssertionError("bias_k and bias_v must both be given or both be None")
    if static_k is not None or static_v is not None:
        raise AssertionError("bias cannot be added to static key/value.")
    batch_size, embed_dim = k.shape[1], k.shape[2]
    k = cat([k, expand(bias_k, 1, batch_size, embed_dim)], 0)
    v = cat([v, expand(bias_v, 1, batch_size, embed_dim)], 0)
    if attn_mask is not None:
        attn_mask = _pad_last(attn_mask)
    if key_padding_mask is not None:
        key_padding_mask = _pad_last(key_padding_mask)
    return k, v, attn_mask, key_padding_mask


def _add_zero_attention(k, v, attn_mask, key_padding_mask):
    """One more all-zero key and value per head (add_zero_attn), visible to every query."""
    heads, _, head_dim = k.shape
    zeros = Tensor._wrap(np.zeros((heads, 1, head_dim), dtype=k._data.dtype))
    k = cat([k, zeros], 1)
    v = cat([v, zeros], 1)
    if attn_mask is not None:
        attn_mask = _pad_last(attn_mask)
    if key_padding_mask is not None:
        key_padding_mask = _pad_last(key_padding_mask)
    return k, v, attn_mask, key_padding_mask


def _merge_key_padding(attn_mask, key_padding_mask, batch_size, num_heads, source_length):
    """The key padding mask (N, S) added to the attention mask as (N * heads, 1, S)."""
    if key_padding_mask is None:
        return attn_mask
    for dim, expected in enumerate((batch_size, source_length)):
        if key_padding_mask.shape[dim] != expected:
            raise AssertionError(f"Expected key_padded_mask.shape[{dim}] to be {expected}, but "
                                 f"got {key_padding_mask.shape[dim]}")
    padding = reshape(expand(reshape(key_padding_mask, batch_size, 1, 1, source_length),
                             batch_size, num_heads, 1, source_length),
                      batch_size * num_heads, 1, source_length)
    return padding if attn_mask is None else attn_mask + padding


def _attention_with_weights(q, k, v, attn_mask, dropout_p):
    """The composite path that also returns the (N * heads, L, S) weights."""
    scores = matmul(q * math.sqrt(1.0 / q.shape[-1]), transpose(k, -2, -1))
    if attn_mask is not None:
        scores = scores + attn_mask
    # like PyTorch on this path: a fully masked row gives NaN weights, silently
    with np.errstate(invalid="ignore"):
        weights = softmax(scores, -1)
    if dropout_p > 0.0:
        weights = _drop(weights, dropout_p)
    return matmul(weights, v), weights


def _fused_attention(q, k, v, attn_mask, dropout_p, is_causal, batch_size, num_heads):
    """scaled_dot_product_attention on (N, heads, L, head_dim) views of the heads."""
    target_length, source_length, head_dim = q.shape[1], k.shape[1], q.shape[2]
    if attn_mask is not None:
        if attn_mask.shape[0] == 1 and attn_mask.dim() == 3:
            attn_mask = unsqueeze(attn_mask, 0)
        else:
            attn_mask = reshape(attn_mask, batch_size, num_heads, -1, source_length)
    q = reshape(q, batch_size, num_heads, target_length, head_dim)
    k = reshape(k, batch_size, num_heads, source_length, head_dim)
    v = reshape(v, batch_size, num_heads, source_length, head_dim)
    return scaled_dot_product_attention(q, k, v, attn_mask, dropout_p, is_causal)


def _out_projection(output, out_proj_weight, out_proj_bias, batch_size, num_heads,
                    target_length):
    """Heads merged back to (L, N, E) (the one copy of the path), then the output projection."""
    embed_dim = output.shape[-1] * num_heads
    if output.dim() == 3:  # (N * heads, L, head_dim)
        output = reshape(output, batch_size, num_heads, target_length, -1)
    output = reshape(output.permute(2, 0, 1, 3), target_length * batch_size, embed_dim)
    output = linear(output, out_proj_weight, out_proj_bias)
    return reshape(output, target_length, batch_size, output.shape[-1])


def _heads(projected, static, heads, head_dim, name):
    """(S, N, E) -> (N * heads, S, head_dim), or the given static key/value after checks."""
    if static is None:
        return transpose(reshape(projected, projected.shape[0], heads, head_dim), 0, 1)
    if static.shape[0] != heads:
        raise AssertionError(f"expecting {name}.size(0) of {heads}, but got {static.shape[0]}")
    if static.shape[2] != head_dim:
        raise AssertionError(f"expecting {name}.size(2) of {head_dim}, but got "
                             f"{static.shape[2]}")
    return static
