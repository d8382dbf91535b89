"""torch's top-level spellings of its native functions that nn.functional wraps (``torch.embedding``
takes the weight first, ``torch.batch_norm`` every argument, the losses an int ``reduction``), and
the ``*_copy`` forms of view ops: each is the ember function it stands for, arguments reordered."""
from . import ops
from .nn import functional as F

__all__ = [
    "alpha_dropout_", "batch_norm", "binary_cross_entropy_with_logits", "constant_pad_nd",
    "convolution", "cosine_embedding_loss", "dropout_", "embedding", "feature_alpha_dropout_",
    "feature_dropout", "feature_dropout_", "fill", "frobenius_norm", "gru_cell",
    "hinge_embedding_loss", "instance_norm", "kl_div", "lstm_cell", "margin_ranking_loss",
    "max_pool1d_with_indices", "poisson_nll_loss", "rnn_relu_cell", "rnn_tanh_cell",
    "triplet_margin_loss",
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


def slice_copy(input, dim=0, start=None, end=None, step=1):
    return ops.clone(_slice(input, dim, start, end, step))


def alias_copy(input):
    return ops.clone(input)
