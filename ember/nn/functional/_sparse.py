"""Sparse functions: embedding (one kernel node), embedding_bag (a composite) and one_hot."""
import warnings

import numpy as np


from ..._dtype import repr_prefix, tensor_type_name
from ...autograd import function as function_module
from ...autograd.function import forward_ad_unsupported, torch_named, without_double_backward
from ...autograd.views import nothing_recorded
from ...ops.index import indices_within
from ...ops.reduce import vector_norm
from ...tensor import Tensor
from .._kernels.sparse import BagSum, Embedding, untracked_embedding

__all__ = ["embedding", "embedding_bag", "one_hot"]


def _type_repr(value):
    """repr of a value's type as PyTorch's shows it: Tensor as torch.Tensor (here ember.Tensor)."""
    if isinstance(value, Tensor):
        return f"<class '{repr_prefix()}.Tensor'>"
    return repr(type(value))


def embedding(input, weight, padding_idx=None, max_norm=None, norm_type=2.0,
              scale_grad_by_freq=False, sparse=False):
    """Rows of ``weight`` picked by the integer ``input``; ``padding_idx``'s row gets no gradient
    and ``max_norm`` renormalises the looked-up rows of ``weight`` in place. With ``sparse`` the
    weight's ``.grad`` is a sparse COO tensor of the looked-up rows."""
    if input._data.dtype not in _INDEX_DTYPES:
        type_name = tensor_type_name(input._data.dtype)
        raise RuntimeError(f"Expected tensor for argument #1 'indices' to have one of the "
                           f"following scalar types: Long, Int; but got {type_name} instead "
                           f"(while checking arguments for embedding)")
    if weight._data.ndim != 2:
        raise RuntimeError("'weight' must be 2-D")
    num_embeddings = weight.shape[0]
    if padding_idx is not None:
        if padding_idx > 0 and padding_idx >= num_embeddings:
            raise AssertionError("Padding_idx must be within num_embeddings")
        if padding_idx < 0:
            if padding_idx < -num_embeddings:
                raise AssertionError("Padding_idx must be within num_embeddings")
            padding_idx = num_embeddings + padding_idx
    indices = input._data
    # (a vmap batch of indices is checked by its batching rule's lookup)
    if type(indices) is np.ndarray and indices.size and not indices_within(indices,
                                                                            num_embeddings):
        raise IndexError("index out of range in self")
    if max_norm is not None:
        _embedding_renorm(weight, indices, max_norm, norm_type)
    if (type(input) is Tensor and function_module._tracer is None
            and nothing_recorded(weight)):
        rows = untracked_embedding(indices, weight._data)
        if rows is not None:
            return Tensor._wrap(rows)
    return Embedding.apply(input, weight, padding_idx, scale_grad_by_freq, bool(sparse))


_INDEX_DTYPES = (np.dtype(np.int64), np.dtype(np.int32))


def _embedding_renorm(weight, indices, max_norm, norm_type):
    """Scale the rows of ``weight`` used by ``indices`` whose norm exceeds ``max_norm`` (in place,
    untracked, like PyTorch's embedding_renorm_)."""
    rows = np.unique(indices)
    values = weight._data[rows]
    # each row's norm as torch.norm computes it, then (as PyTorch's kernel does) in float64
    norms = vector_norm(Tensor._wrap(values), norm_type, dim=1)._data.astype(np.float64)
    too_large = norms > max_norm
    if np.any(too_large):
        scale = (max_norm / (norms[too_large] + 1e-7)).astype(weight._data.dtype)
        weight._data[rows[too_large]] = values[too_large] * scale[:, None]
        weight._bump_version()


def one_hot(input, num_classes=-1):
    """int64 tensor with a trailing dimension of ``num_classes``, 1 at each index."""
    indices = input._data
    if indices.dtype != np.int64:
        raise RuntimeError("one_hot is only applicable to index tensor of type LongTensor.")
    if type(indices) is not np.ndarray:
        # batched by ember.func.vmap: a comparison with each class, as PyTorch's vmap rule
        # (which checks no range)
        if num_classes < 0:
            error = RuntimeError("When vmap-ing torch.nn.functional.one_hot, please provide an "
                                 "explicit positive num_classes argument.")
            error.vmap_refusal = True  # raised, not run once per sample
            raise error
        classes = type(input)._wrap(np.arange(num_classes, dtype=np.int64))
        return (input.unsqueeze(-1) == classes).long()
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
    return type(input)._wrap(result)


_EMBEDDING_BAG_FORWARD_AD = forward_ad_unsupported("_embedding_bag")


def embedding_bag(input, weight, offsets=None, max_norm=None, norm_type=2, scale_grad_by_freq=False,
                  mode="mean", sparse=False, per_sample_weights=None, include_last_offset=False,
                  padding_idx=None):
    """Sum, mean or max of the embeddings of each bag (a row of a 2-D input, or a run of a 1-D
    input starting at each offset); ``padding_idx`` entries are left out (composite: one lookup,
    then a segment sum over each bag's run of rows, or a gather at each bag's argmax)."""
    # PyTorch's checks, in its order: the argument swap, the weights' shape, the weight's rank,
    # the input's rank and offsets, the mode, max_norm's renorm, then per_sample_weights' mode
    if weight._data.dtype == np.int64 and input.is_floating_point():
        warnings.warn("Argument order of nn.functional.embedding_bag was changed. Usage "
                      "`embedding_bag(weight, input, ...)` is deprecated, and should now be "
                      "`embedding_bag(input, weight, ...)`.", stacklevel=2)
        weight, input = input, weight
    if per_sample_weights is not None and input.shape != per_sample_weights.shape:
        raise ValueError(f"embedding_bag: If per_sample_weights ({per_sample_weights.shape}) is "
                         f"not None, then it must have the same shape as the input "
                         f"({input.shape})")
    if weight.dim() != 2:
        raise ValueError(f"weight has to be a 2D Tensor, but got Tensor of dimension "
                         f"{weight.dim()}")
    if input.dim() == 2:
        if offsets is not None:
            raise ValueError(f"if input is 2D, then offsets has to be None, as input is treated "
                             f"is a mini-batch of fixed length sequences. However, found offsets "
                             f"of type {_type_repr(offsets)}")
        bags, length = input.shape
        offsets_array = np.arange(bags, dtype=np.int64) * length
        include_last_offset = False
        input = input.reshape(-1)
        if per_sample_weights is not None:
            per_sample_weights = per_sample_weights.reshape(-1)
    elif input.dim() == 1:
        if offsets is None:
            raise ValueError("offsets has to be a 1D Tensor but got None")
        if offsets.dim() != 1:
            raise ValueError("offsets has to be a 1D Tensor")
        offsets_array = None
    else:
        raise ValueError(f"input has to be 1D or 2D Tensor, but got Tensor of dimension "
                         f"{input.dim()}")
    if mode == "max":
        if scale_grad_by_freq:
            raise ValueError("max mode does not support scaling the gradient by the frequency")
        if sparse:
            raise ValueError("max mode does not support sparse weights")
    elif mode not in ("sum", "mean"):
        raise ValueError("mode has to be one of sum, mean or max")
    if max_norm is not None:
        _embedding_renorm(weight, input._data, max_norm, norm_type)
        max_norm = None
    if per_sample_weights is not None and mode != "sum":
        raise NotImplementedError(f"embedding_bag: per_sample_weights was not None. "
                                  f"per_sample_weights is only supported for mode='sum' (got "
                                  f"mode='{mode}'). Please open a feature request on GitHub.")
    starts = _checked_bag_starts(input, weight, offsets, offsets_array, include_last_offset)
    indices = input._data
    count = weight.shape[0]
    bad = np.flatnonzero((indices < 0) | (indices >= count))
    if bad.size:
        raise RuntimeError(f"Index {bad[0]} of input takes value {indices[bad[0]]} which is not "
                           f"in the valid range [0, {count})")
    if padding_idx is not None and padding_idx < 0:
        padding_idx += count
    scale = None
    if per_sample_weights is not None:
        # Made before the lookup, so that under create_graph its gradient's node is the last
        # made: differentiating both gradients raises per_sample_weights' error first, as
        # PyTorch's (whose weight gradient node, made first, raises its own error alone).
        scale = without_double_backward(
            per_sample_weights.unsqueeze(1), RuntimeError, "derivative for "
            "aten::_embedding_bag_per_sample_weights_backward is not implemented",
            _EMBEDDING_BAG_FORWARD_AD)
    # sparse: padding entries are left out of the gradient (dense: the membership drops them).
    rows = embedding(input, weight, padding_idx if sparse else None, max_norm, norm_type,
                     scale_grad_by_freq, sparse)
    # PyTorch's embedding_bag is one op whose backward has no derivative of its own (and whose
    # weight gradient depends on grad_output and per_sample_weights, not on the weight).
    rows = without_double_backward(rows, NotImplementedError, "the derivative for "
                                   "'_embedding_bag_backward' is not implemented.",
                                   _EMBEDDING_BAG_FORWARD_AD, takes_inputs=False)
    bag_of = np.searchsorted(starts, np.arange(indices.size), side="right") - 1
    kept = np.ones(indices.size, dtype=bool) if padding_idx is None else indices != padding_idx
    dtype = weight._data.dtype
    if mode == "max":
        return torch_named(_bag_max(rows, bag_of, kept, starts.size, dtype),
                           "EmbeddingBagBackward0")
    row_scale = None if padding_idx is None else kept.astype(dtype)
    divisor = None
    if mode == "mean":
        divisor = np.maximum(np.bincount(bag_of[kept], minlength=starts.size), 1).astype(dtype)
    if scale is not None:
        rows = rows * scale
    # PyTorch's one node for the whole bag reduction
    return torch_named(BagSum.apply(rows, bag_of, row_scale, divisor, starts.size),
                       "EmbeddingBagBackward0")


def _checked_bag_starts(input, weight, offsets, offsets_array, include_last_offset):
    """Each bag's first position in the flat ``input``, after the checks of PyTorch's
    embedding_bag kernel (index and weight dtypes, offsets[0] == 0, offsets[-1] within the
    input)."""
    if input._data.dtype not in _INDEX_DTYPES:
        raise RuntimeError(f"Expected tensor for argument #1 'indices' to have one of the "
                           f"following scalar types: Long, Int; but got "
                           f"{tensor_type_name(input._data.dtype)} instead (while checking "
                           f"arguments for embedding_bag)")
    if offsets_array is None:
        if offsets._data.dtype not in _INDEX_DTYPES:
            raise RuntimeError(f"Expected tensor for argument #1 'offsets' to have one of the "
                               f"following scalar types: Long, Int; but got "
                               f"{tensor_type_name(offsets._data.dtype)} instead (while "
                               f"checking arguments for embedding_bag)")
        offsets_dtype = offsets._data.dtype
        offsets_array = offsets._data.astype(np.int64)
    else:
        offsets_dtype = input._data.dtype
    if not weight.is_floating_point() or weight.is_complex():
        raise RuntimeError(f"Expected tensor for argument #1 'weight' to have one of the "
                           f"following scalar types: Half, BFloat16, Float, Double; but got "
                           f"{tensor_type_name(weight._data.dtype)} instead (while checking "
                           f"arguments for embedding_bag)")
    if offsets_array.size:
        if offsets_array[0] != 0:
            raise RuntimeError(f"offsets[0] has to be 0, i.e., the first sequence in the "
                               f"mini-batch has to start from position 0. However, got "
                               f"{offsets_array[0]}\n[ {tensor_type_name(offsets_dtype)}{{}} ]")
        if offsets_array[-1] > input.shape[0]:
            raise RuntimeError(f"offsets[-1] can not be greater than input's length "
                               f"{input.shape[0]} but got offsets[-1] of {offsets_array[-1]}")
    if include_last_offset:
        if not offsets_array.size:
            raise RuntimeError("include_last_offset: number of offset should be at least 1")
        return offsets_array[:-1]
    return offsets_array


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
