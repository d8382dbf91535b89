"""torch's top-level spellings of its native functions that nn.functional wraps (``torch.embedding``
takes the weight first, ``torch.batch_norm`` every argument, the losses an int ``reduction``), and
the ``*_copy`` forms of view ops: each is the ember function it stands for, arguments reordered."""
import numpy as np

from . import _dtype, _factories, ops
from ._layout import sparse_coo
from .autograd.grad_mode import no_grad
from .tensor import Tensor
from .nn import functional as F
from .nn.modules.rnn import run_on_weights

__all__ = [
    "alpha_dropout_", "batch_norm", "binary_cross_entropy_with_logits", "constant_pad_nd",
    "convolution", "cosine_embedding_loss", "dropout_", "embedding", "feature_alpha_dropout_",
    "feature_dropout", "feature_dropout_", "fill", "frobenius_norm", "gru_cell",
    "hinge_embedding_loss", "instance_norm", "kl_div", "lstm_cell", "margin_ranking_loss",
    "max_pool1d_with_indices", "poisson_nll_loss", "rnn_relu_cell", "rnn_tanh_cell",
    "triplet_margin_loss", "native_layer_norm", "native_batch_norm", "native_group_norm",
    "native_dropout", "native_norm", "batch_norm_update_stats", "batch_norm_stats",
    "batch_norm_elemt", "batch_norm_gather_stats", "batch_norm_gather_stats_with_counts",
    "batch_norm_backward_reduce", "batch_norm_backward_elemt", "ctc_loss", "embedding_bag",
    "embedding_renorm_", "grid_sampler", "grid_sampler_2d", "grid_sampler_3d",
    "affine_grid_generator", "lstm", "gru", "rnn_tanh", "rnn_relu", "view_as_real_copy",
    "view_as_complex_copy", "values_copy", "indices_copy", "crow_indices_copy",
    "col_indices_copy",
    "alias_copy", "as_strided_copy", "detach_copy", "diagonal_copy", "expand_copy", "narrow_copy", "permute_copy",
    "select_copy", "slice_copy", "split_copy", "split_with_sizes_copy", "squeeze_copy",
    "t_copy", "transpose_copy", "unbind_copy", "unfold_copy", "unsqueeze_copy", "view_copy"]

# ATen's int reduction codes (torch.nn._reduction): 0 none, 1 mean, 2 sum. The top-level
# functions default to 0 (PyTorch's argument parser reads the schema's "Mean" default as 0).
_REDUCTIONS = ("none", "mean", "sum")


def _reduction(code):
    return code if isinstance(code, str) else _REDUCTIONS[code]


def embedding(weight, indices, padding_idx=-1, scale_grad_by_freq=False, sparse=False):
    return F.embedding(indices, weight, None if padding_idx == -1 else padding_idx,
                       scale_grad_by_freq=scale_grad_by_freq, sparse=sparse)


def batch_norm(input, weight, bias, running_mean, running_var, training, momentum, eps,
               cudnn_enabled=True):
    return F.batch_norm(input, running_mean, running_var, weight, bias, training, momentum, eps)


def instance_norm(input, weight, bias, running_mean, running_var, use_input_stats, momentum,
                  eps, cudnn_enabled=True):
    return F.instance_norm(input, running_mean, running_var, weight, bias, use_input_stats,
                           momentum, eps)


def kl_div(input, target, reduction=0, *, log_target=False):
    return F.kl_div(input, target, reduction=_reduction(reduction), log_target=log_target)


def binary_cross_entropy_with_logits(input, target, weight=None, pos_weight=None, reduction=0):
    return F.binary_cross_entropy_with_logits(input, target, weight,
                                              reduction=_reduction(reduction),
                                              pos_weight=pos_weight)


def cosine_embedding_loss(input1, input2, target, margin=0.0, reduction=0):
    return F.cosine_embedding_loss(input1, input2, target, margin,
                                   reduction=_reduction(reduction))


def hinge_embedding_loss(input, target, margin=1.0, reduction=0):
    return F.hinge_embedding_loss(input, target, margin, reduction=_reduction(reduction))


def margin_ranking_loss(input1, input2, target, margin=0.0, reduction=0):
    return F.margin_ranking_loss(input1, input2, target, margin,
                                 reduction=_reduction(reduction))


def poisson_nll_loss(input, target, log_input, full, eps, reduction):
    return F.poisson_nll_loss(input, target, log_input, full, eps=eps,
                              reduction=_reduction(reduction))


def triplet_margin_loss(anchor, positive, negative, margin=1.0, p=2.0, eps=1e-6, swap=False,
                        reduction=0):
    return F.triplet_margin_loss(anchor, positive, negative, margin, p, eps, swap,
                                 reduction=_reduction(reduction))


def dropout_(input, p, train):
    return F.dropout(input, p, train, inplace=True)


def feature_dropout(input, p, train):
    return F.dropout2d(input, p, train) if input.dim() == 4 else F.dropout1d(input, p, train) \
        if input.dim() == 3 else F.dropout3d(input, p, train)


def feature_dropout_(input, p, train):
    return input.copy_(feature_dropout(input, p, train)) if train and p else input


def alpha_dropout_(input, p, train):
    return F.alpha_dropout(input, p, train, inplace=True)


def feature_alpha_dropout_(input, p, train):
    return F.feature_alpha_dropout(input, p, train, inplace=True)


def constant_pad_nd(input, pad, value=0):
    return F.pad(input, tuple(pad), "constant", value)


def convolution(input, weight, bias, stride, padding, dilation, transposed, output_padding,
                groups):
    """The convolution of ``input.dim() - 2`` spatial dims, transposed or not."""
    dims = input.dim() - 2
    if transposed:
        function = (F.conv_transpose1d, F.conv_transpose2d, F.conv_transpose3d)[dims - 1]
        return function(input, weight, bias, tuple(stride), tuple(padding),
                        tuple(output_padding), groups, tuple(dilation))
    function = (F.conv1d, F.conv2d, F.conv3d)[dims - 1]
    return function(input, weight, bias, tuple(stride), tuple(padding), tuple(dilation), groups)


def max_pool1d_with_indices(input, kernel_size, stride=(), padding=0, dilation=1,
                            ceil_mode=False):
    return F.max_pool1d(input, kernel_size, tuple(stride) or None, padding, dilation,
                        ceil_mode=ceil_mode, return_indices=True)


def fill(input, value):
    """A new tensor of ``input``'s shape and dtype holding ``value`` (a number or 0-d tensor)."""
    return ops.clone(input).fill_(value)


def frobenius_norm(input, dim=(), keepdim=False):
    return ops.vector_norm(input, 2, tuple(dim) or None, keepdim)


def rnn_tanh_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    return ops.tanh(_gates(input, hx, w_ih, w_hh, b_ih, b_hh))


def rnn_relu_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    return ops.relu(_gates(input, hx, w_ih, w_hh, b_ih, b_hh))


def _gates(input, hx, w_ih, w_hh, b_ih, b_hh):
    return F.linear(input, w_ih, b_ih) + F.linear(hx, w_hh, b_hh)


def lstm_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    """One LSTM step on (h, c): gates i, f, g, o in PyTorch's order."""
    hidden, cell = hx
    gates = _gates(input, hidden, w_ih, w_hh, b_ih, b_hh)
    in_gate, forget_gate, cell_gate, out_gate = gates.chunk(4, 1)
    cell = ops.sigmoid(forget_gate) * cell + ops.sigmoid(in_gate) * ops.tanh(cell_gate)
    return ops.sigmoid(out_gate) * ops.tanh(cell), cell


def gru_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    """One GRU step: r, z, n in PyTorch's order, the reset gate on the hidden part of n."""
    input_reset, input_update, input_new = F.linear(input, w_ih, b_ih).chunk(3, 1)
    hidden_reset, hidden_update, hidden_new = F.linear(hx, w_hh, b_hh).chunk(3, 1)
    reset = ops.sigmoid(input_reset + hidden_reset)
    update = ops.sigmoid(input_update + hidden_update)
    new = ops.tanh(input_new + reset * hidden_new)
    return (1 - update) * new + update * hx


def ctc_loss(log_probs, targets, input_lengths, target_lengths, blank=0, reduction=0,
             zero_infinity=False):
    return F.ctc_loss(log_probs, targets, input_lengths, target_lengths, blank,
                      _reduction(reduction), zero_infinity)


_BAG_MODES = ("sum", "mean", "max")


def embedding_bag(weight, indices, offsets, scale_grad_by_freq=False, mode=0, sparse=False,
                  per_sample_weights=None, include_last_offset=False, padding_idx=None):
    """``(output, offset2bag, bag_size, max_indices)``: F.embedding_bag's output (``mode`` 0
    sum, 1 mean, 2 max) and PyTorch's bookkeeping beside it: each index's bag (empty for sum),
    each bag's size and, for max, the row that gave each maximum (the sizes again for mean,
    zeros for sum)."""
    output = F.embedding_bag(indices, weight, offsets, None, 2, scale_grad_by_freq,
                             _BAG_MODES[mode], sparse, per_sample_weights, include_last_offset,
                             padding_idx)
    flat = indices._data.reshape(-1).astype(np.int64)
    starts = offsets._data.astype(np.int64)
    if include_last_offset:
        starts = starts[:-1]
    bags = output.shape[0]
    if mode == 0:
        zeros = _factories.zeros(bags, dtype=_dtype.int64)
        return output, _factories.zeros(0, dtype=_dtype.int64), zeros, zeros.clone()
    bag_of = np.searchsorted(starts, np.arange(flat.size), side="right") - 1
    kept = np.ones(flat.size, bool) if padding_idx is None else \
        flat != padding_idx % weight.shape[0]
    sizes = np.bincount(bag_of[kept], minlength=bags).astype(np.int64)
    offset2bag = _factories.tensor(bag_of)
    if mode == 1:
        return output, offset2bag, _factories.tensor(sizes), _factories.tensor(sizes)
    return output, offset2bag, _factories.tensor(sizes), _bag_argmax(weight._data, flat, bag_of, kept,
                                                              bags)


def _bag_argmax(weight, flat, bag_of, kept, bags):
    """For each bag and column, the first row among the bag's indices holding the maximum
    (0 for an empty bag)."""
    values = weight[flat[kept]]
    owners = bag_of[kept]
    maxima = np.full((bags, weight.shape[1]), -np.inf, values.dtype)
    np.maximum.at(maxima, owners, values)
    position = np.where(values == maxima[owners], np.arange(values.shape[0])[:, None],
                        values.shape[0])
    first = np.full((bags, weight.shape[1]), values.shape[0], np.int64)
    np.minimum.at(first, owners, position)
    rows = np.append(flat[kept], 0)
    return _factories.tensor(rows[first])


def embedding_renorm_(input, indices, max_norm, norm_type):
    """Scale, in place, the rows of ``input`` that ``indices`` names whose ``norm_type``-norm
    exceeds ``max_norm`` down to it."""
    F._sparse._embedding_renorm(input, indices._data, max_norm, norm_type)
    return input


_INTERPOLATIONS = ("bilinear", "nearest", "bicubic")
_PADDINGS = ("zeros", "border", "reflection")


def grid_sampler(input, grid, interpolation_mode, padding_mode, align_corners):
    """F.grid_sample with the modes as ATen's codes (0 bilinear, 1 nearest, 2 bicubic; 0 zeros,
    1 border, 2 reflection)."""
    return F.grid_sample(input, grid, _INTERPOLATIONS[interpolation_mode],
                         _PADDINGS[padding_mode], align_corners)


def _grid_sampler_of(dims):
    def function(input, grid, interpolation_mode, padding_mode, align_corners):
        if input.dim() != dims + 2 or grid.dim() != dims + 2:
            raise RuntimeError(f"grid_sampler(): expected {dims + 2}D input and grid with same "
                               f"number of dimensions, but got input with sizes "
                               f"{list(input.shape)} and grid with sizes {list(grid.shape)}")
        return grid_sampler(input, grid, interpolation_mode, padding_mode, align_corners)
    function.__name__ = function.__qualname__ = f"grid_sampler_{dims}d"
    function.__doc__ = f"``grid_sampler`` of a {dims + 2}-D input."
    return function


grid_sampler_2d = _grid_sampler_of(2)
grid_sampler_3d = _grid_sampler_of(3)


def affine_grid_generator(theta, size, align_corners):
    return F.affine_grid(theta, list(size), align_corners)


def _statistics(input, dims, eps):
    """The mean and 1 / sqrt(biased variance + eps) over ``dims`` (kept), without history: the
    statistics that PyTorch's native norms return beside their output."""
    with no_grad():
        detached = input.detach()
        mean = detached.mean(dims, keepdim=True)
        variance = detached.var(dims, unbiased=False, keepdim=True)
        return mean, ops.rsqrt(variance + eps)


def native_layer_norm(input, normalized_shape, weight, bias, eps):
    """``(layer_norm(...), mean, rstd)``, the statistics of shape ``input.shape[:-k] + (1,) * k``
    for the ``k`` normalized dims."""
    output = F.layer_norm(input, list(normalized_shape), weight, bias, eps)
    trailing = tuple(range(input.dim() - len(normalized_shape), input.dim()))
    mean, rstd = _statistics(input, trailing, eps)
    return output, mean, rstd


def native_batch_norm(input, weight, bias, running_mean, running_var, training, momentum, eps):
    """``(batch_norm(...), save_mean, save_invstd)``: the batch's per-channel statistics when
    ``training`` (the running ones updated), empty tensors otherwise."""
    if not training and (running_mean is None or running_var is None):
        raise RuntimeError("native_batch_norm: running_mean and running_var are required when "
                           "training is False")
    output = F.batch_norm(input, running_mean, running_var, weight, bias, training, momentum, eps)
    if not training:
        empty = _factories.empty(0, dtype=input.dtype)
        return output, empty, empty.clone()
    reduced = (0,) + tuple(range(2, input.dim()))
    mean, invstd = _statistics(input, reduced, eps)
    return output, mean.reshape(-1), invstd.reshape(-1)


def native_group_norm(input, weight, bias, N, C, HxW, group, eps):
    """``(group_norm(...), mean, rstd)``, the statistics of shape ``(N, group)``."""
    output = F.group_norm(input, group, weight, bias, eps)
    grouped = input.reshape(N, group, -1)
    mean, rstd = _statistics(grouped, (2,), eps)
    return output, mean.reshape(N, group), rstd.reshape(N, group)


def native_dropout(input, p, train):
    """``(output, mask)``: when ``train``, a bool mask drawn with keep probability ``1 - p``
    and the input scaled by it and ``1 / (1 - p)``; otherwise a copy of the input and an
    all-True mask."""
    if not train:
        return ops.clone(input), _factories.ones(input.shape, dtype=_dtype.bool_)
    mask = _factories.empty(input.shape, dtype=_dtype.bool_).bernoulli_(1 - p)
    scale = 1.0 / (1.0 - p) if p < 1 else 0.0
    return input * mask * scale, mask


def batch_norm_update_stats(input, running_mean, running_var, momentum):
    """The per-channel mean and biased variance of ``input``, with the running statistics (when
    given) moved toward them by ``momentum`` (the running variance toward the unbiased one)."""
    reduced = (0,) + tuple(range(2, input.dim()))
    with no_grad():
        detached = input.detach()
        mean = detached.mean(reduced)
        variance = detached.var(reduced, unbiased=False)
        count = detached.numel() // detached.size(1)
        if running_mean is not None:
            running_mean.mul_(1 - momentum).add_(mean, alpha=momentum)
        if running_var is not None:
            unbiased = variance * (count / max(count - 1, 1))
            running_var.mul_(1 - momentum).add_(unbiased, alpha=momentum)
    return mean, variance


def _without_cpu_kernel(name, backends):
    """An ATen function that PyTorch's CPU build has no kernel for (the CUDA kernels of
    SyncBatchNorm, sparse-only norms): it raises PyTorch's NotImplementedError."""
    def function(*args, **kwargs):
        raise NotImplementedError(
            f"Could not run 'aten::{name}' with arguments from the 'CPU' backend. This could be "
            f"because the operator doesn't exist for this backend, or was omitted during the "
            f"selective/custom build process (if using custom build). 'aten::{name}' has kernels "
            f"for {backends} only.")
    function.__name__ = function.__qualname__ = name
    function.__doc__ = f"PyTorch's ``{name}``, which has no CPU kernel ({backends} only)."
    return function


native_norm = _without_cpu_kernel("native_norm", "sparse tensors")
batch_norm_stats = _without_cpu_kernel("batch_norm_stats", "CUDA")
batch_norm_elemt = _without_cpu_kernel("batch_norm_elemt", "CUDA")
batch_norm_gather_stats = _without_cpu_kernel("batch_norm_gather_stats", "CUDA")
batch_norm_gather_stats_with_counts = _without_cpu_kernel("batch_norm_gather_stats_with_counts",
                                                          "CUDA")
batch_norm_backward_reduce = _without_cpu_kernel("batch_norm_backward_reduce", "CUDA")
batch_norm_backward_elemt = _without_cpu_kernel("batch_norm_backward_elemt", "CUDA")


def lstm(input, *args):
    """``torch.lstm(input, hx, params, has_biases, num_layers, dropout, train, bidirectional,
    batch_first)`` or, packed, ``torch.lstm(data, batch_sizes, hx, params, has_biases,
    num_layers, dropout, train, bidirectional)``: ``(output, h_n, c_n)``."""
    if isinstance(args[0], Tensor):
        batch_sizes, hx, params, *options = args
        output, (hidden, cell) = run_on_weights("LSTM", input, tuple(hx), params, *options,
                                                batch_sizes=batch_sizes)
    else:
        hx, params, *options = args
        output, (hidden, cell) = run_on_weights("LSTM", input, tuple(hx), params, *options)
    return output, hidden, cell


def _single_state(mode):
    def function(input, *args):
        if isinstance(args[1], Tensor):  # (data, batch_sizes, hx, params, ...): packed
            batch_sizes, hx, params, *options = args
            return run_on_weights(mode, input, hx, params, *options, batch_sizes=batch_sizes)
        hx, params, *options = args
        return run_on_weights(mode, input, hx, params, *options)
    name = mode.lower()
    function.__name__ = function.__qualname__ = name
    function.__doc__ = (f"``torch.{name}(input, hx, params, has_biases, num_layers, dropout, "
                        f"train, bidirectional, batch_first)`` or its packed form ``(data, "
                        f"batch_sizes, hx, params, ...)``: ``(output, h_n)``.")
    return function


gru = _single_state("GRU")
rnn_tanh = _single_state("RNN_TANH")
rnn_relu = _single_state("RNN_RELU")


def _copy_form(name):
    """``torch.name_copy(input, ...)``: ``input.name(...)`` as a new tensor, not a view."""
    def function(input, *args, **kwargs):
        result = getattr(input, name)(*args, **kwargs)
        if isinstance(result, (tuple, list)):
            return type(result)(ops.clone(item) for item in result)
        return ops.clone(result)
    function.__name__ = function.__qualname__ = name + "_copy"
    function.__doc__ = f"``{name}`` as a copy (PyTorch's ``{name}_copy``)."
    return function


def _slice(input, dim=0, start=None, end=None, step=1):
    return ops.getitem(input, (slice(None),) * (dim % input.dim()) + (slice(start, end, step),))


as_strided_copy = _copy_form("as_strided")
detach_copy = _copy_form("detach")
diagonal_copy = _copy_form("diagonal")
expand_copy = _copy_form("expand")
narrow_copy = ops.narrow_copy  # also a Tensor method, so an op of its own
permute_copy = _copy_form("permute")
select_copy = _copy_form("select")
split_copy = _copy_form("split")
split_with_sizes_copy = _copy_form("split_with_sizes")
squeeze_copy = _copy_form("squeeze")
t_copy = _copy_form("t")
transpose_copy = _copy_form("transpose")
unbind_copy = _copy_form("unbind")
unfold_copy = _copy_form("unfold")
unsqueeze_copy = _copy_form("unsqueeze")
view_copy = _copy_form("view")


def _not_for_coo(name):
    """The ``*_copy`` of a sparse accessor that PyTorch's SparseCPU backend has no kernel for
    (COO tensors); a CSR tensor's values are copied."""
    copy = _copy_form(name)

    def function(input):
        if input.layout is sparse_coo:
            raise NotImplementedError(
                f"Could not run 'aten::{name}_copy' with arguments from the 'SparseCPU' backend. "
                f"This could be because the operator doesn't exist for this backend.")
        return copy(input)
    function.__name__ = function.__qualname__ = name + "_copy"
    function.__doc__ = copy.__doc__
    return function


values_copy = _not_for_coo("values")
indices_copy = _not_for_coo("indices")
crow_indices_copy = _copy_form("crow_indices")
col_indices_copy = _copy_form("col_indices")


def view_as_real_copy(input):
    return ops.clone(ops.view_as_real(input))


def view_as_complex_copy(input):
    return ops.clone(ops.view_as_complex(input))


def slice_copy(input, dim=0, start=None, end=None, step=1):
    return ops.clone(_slice(input, dim, start, end, step))


def alias_copy(input):
    return ops.clone(input)
