"""Scaled dot-product and multi-head attention, composed of matmul, softmax, dropout and linear.

These are composites of existing differentiable ops (no Function of their own): masks become
additive float arrays (0 or -inf) that carry no gradient unless the caller passes a float mask
that requires one.
"""
import math
import warnings

import numpy as np

from ...ops import (
    cat, chunk, expand, masked_fill, matmul, mean, reshape, softmax, squeeze, transpose, unsqueeze)
from ...tensor import Tensor
from ...ops.elementwise.casting import autocast_op, computed_in_float32
from ._dropout import _drop
from ._linear import linear

__all__ = ["multi_head_attention_forward", "scaled_dot_product_attention"]


def _additive_mask(mask, dtype):
    """A bool "take part" mask (True attends) as 0 / -inf in ``dtype``; float masks as given."""
    if mask._data.dtype == np.bool_:
        return Tensor._wrap(np.where(mask._data, 0.0, -np.inf).astype(dtype))
    return mask


def _safe_softmax(scores, additive_mask_array):
    """softmax over the last dim, with rows that the mask removes entirely set to 0 (PyTorch's
    math attention does the same) and no NaN leaking into the gradient of those rows."""
    if additive_mask_array is None:
        return softmax(scores, -1)
    fully_masked = np.all(np.isneginf(additive_mask_array), axis=-1, keepdims=True)
    if not fully_masked.any():
        return softmax(scores, -1)
    rows = Tensor._wrap(np.broadcast_to(fully_masked, scores.shape))
    return masked_fill(softmax(masked_fill(scores, rows, 0.0), -1), rows, 0.0)


@autocast_op("scaled_dot_product_attention")
@computed_in_float32
def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0,
                                 is_causal=False, scale=None, enable_gqa=False):
    """softmax(query @ key^T * scale + mask) @ value over the last two dims.

    A bool ``attn_mask`` marks the positions that take part (True); a float one is added to the
    scores. ``is_causal`` masks keys after each query (upper-left aligned). Dropout is applied to
    the weights whenever ``dropout_p > 0``.
    """
    if is_causal and attn_mask is not None:
        raise RuntimeError("_scaled_dot_product_attention: Explicit attn_mask should not be set "
                           "when is_causal=True")
    dtype = query._data.dtype
    if enable_gqa:
        heads, key_heads = query.shape[-3], key.shape[-3]
        if heads % key_heads != 0 or heads % value.shape[-3] != 0:
            raise RuntimeError(f"scaled_dot_product_attention: number of heads in key and value "
                               f"must divide the number of heads in query, got {key_heads}, "
                               f"{value.shape[-3]} and {heads}")
        key = _repeat_heads(key, heads // key_heads)
        value = _repeat_heads(value, heads // value.shape[-3])
    target_length, source_length = query.shape[-2], key.shape[-2]
    scale_factor = 1.0 / math.sqrt(query.shape[-1]) if scale is None else scale
    scores = matmul(query * scale_factor, transpose(key, -2, -1))
    mask = None
    if is_causal:
        lower = np.tril(np.ones((target_length, source_length), dtype=np.bool_))
        mask = Tensor._wrap(np.where(lower, 0.0, -np.inf).astype(dtype))
    elif attn_mask is not None:
        mask = _additive_mask(attn_mask, dtype)
    if mask is not None:
        scores = scores + mask
    weights = _safe_softmax(scores, None if mask is None else mask._data)
    if dropout_p > 0.0:
        weights = _drop(weights, dropout_p)
    return matmul(weights, value)


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
    if kind != np.bool_ and kind.kind != "f":
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
    not ``average_attn_weights``, None when not ``need_weights``. Masks: True or -inf = ignore.
    """
    batched = _mha_shape_check(query, key, value, key_padding_mask, attn_mask, num_heads)
    if not batched:
        query = unsqueeze(query, 1)
        key = unsqueeze(key, 1)
        value = unsqueeze(value, 1)
        if key_padding_mask is not None:
            key_padding_mask = unsqueeze(key_padding_mask, 0)
    target_length, batch_size, embed_dim = query.shape
    dtype = query._data.dtype
    key_padding_mask = _canonical_mask(key_padding_mask, "key_padding_mask",
                                       _none_or_dtype(attn_mask), "attn_mask", query.dtype)
    if is_causal and attn_mask is None:
        raise RuntimeError("Need attn_mask if specifying the is_causal hint. You may use the "
                           "Transformer module method `generate_square_subsequent_mask` to "
                           "create this mask.")
    if is_causal and key_padding_mask is None and not need_weights:
        # the hint alone drives scaled_dot_product_attention's causal mask
        attn_mask = None
    else:
        attn_mask = _canonical_mask(attn_mask, "attn_mask", None, "", query.dtype,
                                    check_other=False)
        if key_padding_mask is not None:
            is_causal = False
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
        in_proj_weight = None
    else:
        if tuple(key.shape) != tuple(value.shape):
            raise AssertionError(f"key shape {key.shape} does not match value shape "
                                 f"{value.shape}")
        if in_proj_weight is None:
            raise AssertionError("use_separate_proj_weight is False but in_proj_weight is None")
    q, k, v = _in_projection(query, key, value, embed_dim, in_proj_weight, in_proj_bias,
                             q_proj_weight, k_proj_weight, v_proj_weight)

    source_length = key.shape[0]
    if attn_mask is not None:
        if attn_mask.dim() == 2:
            expected = (target_length, source_length)
            if tuple(attn_mask.shape) != expected:
                raise RuntimeError(f"The shape of the 2D attn_mask is {attn_mask.shape}, but "
                                   f"should be {expected}.")
            attn_mask = unsqueeze(attn_mask, 0)
        elif attn_mask.dim() == 3:
            expected = (batch_size * num_heads, target_length, source_length)
            if tuple(attn_mask.shape) != expected:
                raise RuntimeError(f"The shape of the 3D attn_mask is {attn_mask.shape}, but "
                                   f"should be {expected}.")
        else:
            raise RuntimeError(f"attn_mask's dimension {attn_mask.dim()} is not supported")

    if bias_k is not None and bias_v is not None:
        if static_k is not None or static_v is not None:
            raise AssertionError("bias cannot be added to static key/value.")
        k = cat([k, expand(bias_k, 1, batch_size, embed_dim)], 0)
        v = cat([v, expand(bias_v, 1, batch_size, embed_dim)], 0)
        if attn_mask is not None:
            attn_mask = _pad_last(attn_mask)
        if key_padding_mask is not None:
            key_padding_mask = _pad_last(key_padding_mask)
    elif bias_k is not None or bias_v is not None:
        raise AssertionError("bias_k and bias_v must both be given or both be None")

    heads = batch_size * num_heads
    # (L, N, E) -> (N * heads, L, head_dim)
    q = transpose(reshape(q, target_length, heads, head_dim), 0, 1)
    k = _heads(k, static_k, heads, head_dim, "static_k")
    v = _heads(v, static_v, heads, head_dim, "static_v")
    if add_zero_attn:
        zeros = Tensor._wrap(np.zeros((heads, 1, head_dim), dtype=dtype))
        k = cat([k, zeros], 1)
        v = cat([v, zeros], 1)
        if attn_mask is not None:
            attn_mask = _pad_last(attn_mask)
        if key_padding_mask is not None:
            key_padding_mask = _pad_last(key_padding_mask)
    source_length = k.shape[1]

    if key_padding_mask is not None:
        for dim, expected in enumerate((batch_size, source_length)):
            if key_padding_mask.shape[dim] != expected:
                raise AssertionError(f"Expected key_padded_mask.shape[{dim}] to be {expected}, "
                                     f"but got {key_padding_mask.shape[dim]}")
        padding = reshape(expand(reshape(key_padding_mask, batch_size, 1, 1, source_length),
                                 batch_size, num_heads, 1, source_length),
                          heads, 1, source_length)
        attn_mask = padding if attn_mask is None else attn_mask + padding
    if not training:
        dropout_p = 0.0

    if need_weights:
        scores = matmul(q * math.sqrt(1.0 / head_dim), transpose(k, -2, -1))
        if attn_mask is not None:
            scores = scores + attn_mask
        # like PyTorch on this path: a fully masked row gives NaN weights, silently
        with np.errstate(invalid="ignore"):
            weights = softmax(scores, -1)
        if dropout_p > 0.0:
            weights = _drop(weights, dropout_p)
        output = matmul(weights, v)
        output = reshape(transpose(output, 0, 1), target_length * batch_size, embed_dim)
        output = linear(output, out_proj_weight, out_proj_bias)
        output = reshape(output, target_length, batch_size, output.shape[-1])
        weights = reshape(weights, batch_size, num_heads, target_length, source_length)
        if average_attn_weights:
            weights = mean(weights, 1)
        if not batched:
            return squeeze(output, 1), squeeze(weights, 0)
        return output, weights

    if attn_mask is not None:
        if attn_mask.shape[0] == 1 and attn_mask.dim() == 3:
            attn_mask = unsqueeze(attn_mask, 0)
        else:
            attn_mask = reshape(attn_mask, batch_size, num_heads, -1, source_length)
    q = reshape(q, batch_size, num_heads, target_length, head_dim)
    k = reshape(k, batch_size, num_heads, source_length, head_dim)
    v = reshape(v, batch_size, num_heads, source_length, head_dim)
    output = scaled_dot_product_attention(q, k, v, attn_mask, dropout_p, is_causal)
    output = reshape(output.permute(2, 0, 1, 3), batch_size * target_length, embed_dim)
    output = linear(output, out_proj_weight, out_proj_bias)
    output = reshape(output, target_length, batch_size, output.shape[-1])
    if not batched:
        output = squeeze(output, 1)
    return output, None


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
