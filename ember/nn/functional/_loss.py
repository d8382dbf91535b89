"""Loss functions. cross_entropy/nll_loss and binary_cross_entropy(_with_logits) are fused
kernels (numerical stability and the training hot path); the others are composites of ember.ops.
Every loss takes ``reduction`` ('none', 'mean', 'sum') or the legacy size_average/reduce pair."""
import math
import warnings

import numpy as np

from ... import ops as _ops
from ..._dtype import is_floating, promote_types, scalar_type_name
from ...ops._broadcast import mismatch_error
from ...ops.index import indices_within
from ...ops.elementwise.casting import autocast_op
from ...autograd.function import (forward_ad_unsupported, keep_input_in_gradient, torch_named,
                                  without_double_backward)
from ...autograd.grad_mode import is_grad_enabled, no_grad
from ...tensor import Size, Tensor
from .._kernels.activation import LogSigmoid
from .._kernels.loss import (
    BinaryCrossEntropy, BinaryCrossEntropyWithLogits, ClassificationLoss, CTCLoss, MseLoss,
    RobustLoss)
from ._distance import pairwise_distance
from ._linear import linear
from ._reduction import (
    REDUCTIONS, apply_reduction, check_reduction, from_legacy, legacy_reduction, reduction_from)

__all__ = ["binary_cross_entropy", "binary_cross_entropy_with_logits", "cosine_embedding_loss",
           "cross_entropy", "ctc_loss", "gaussian_nll_loss", "hinge_embedding_loss", "huber_loss", "kl_div",
           "l1_loss", "margin_ranking_loss", "mse_loss", "multi_margin_loss",
           "multilabel_margin_loss", "multilabel_soft_margin_loss", "nll_loss", "poisson_nll_loss",
           "smooth_l1_loss", "soft_margin_loss", "triplet_margin_loss", "linear_cross_entropy",
           "triplet_margin_with_distance_loss"]


def _check_targets(array, target_array, classes, ignore_index, probabilities, from_logits):
    """The target checks of cross_entropy and nll_loss, in PyTorch's order: floating class
    probabilities (cross_entropy only), or integer class indices of the right shape, in range."""
    if probabilities and from_logits:
        if not is_floating(target_array.dtype):
            raise RuntimeError(f"Expected floating point type for target with class "
                               f"probabilities, got {scalar_type_name(target_array.dtype)}")
        if ignore_index != -100:
            raise RuntimeError("ignore_index is not supported for floating point target")
        return
    if not from_logits and target_array.ndim != array.ndim - 1 and array.ndim > 2:
        raise RuntimeError(f"size mismatch (got input: {list(array.shape)} , target: "
                           f"{list(target_array.shape)}")
    if target_array.ndim or array.ndim >= 2:
        # a 0-d target of a batched input counts as a batch of 0, as in PyTorch's message
        target_batch = target_array.shape[0] if target_array.ndim else 0
        if target_batch != array.shape[0]:
            raise ValueError(f"Expected input batch_size ({array.shape[0]}) to match target "
                             f"batch_size ({target_batch}).")
    if array.ndim == 2 and target_array.ndim != 1:
        raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")
    if target_array.dtype.kind not in "iu":
        raise RuntimeError(f"expected target dtype to be Long or Byte, but got "
                           f"{scalar_type_name(target_array.dtype)}")
    expected = array.shape[:1] + array.shape[2:]
    if tuple(target_array.shape) != expected:
        raise RuntimeError(f"Expected target size {list(expected)}, got "
                           f"{list(target_array.shape)}")
    if target_array.dtype != np.int64 and target_array.dtype != np.uint8:
        raise RuntimeError(f"expected target dtype to be Long or Byte, but got "
                           f"{scalar_type_name(target_array.dtype)}")
    if target_array.dtype == np.uint8 and array.ndim > 2:
        raise RuntimeError("expected scalar type Long but found Byte")  # nll_loss2d's check
    if target_array.size and indices_within(target_array, classes):
        return  # the common case, in one reduction
    bad = (target_array != ignore_index) & ((target_array < 0) | (target_array >= classes))
    if bad.any():
        raise IndexError(f"Target {int(target_array[bad].flat[0])} is out of bounds.")


def _refuse_gradient(tensor, function, argument, input):
    """PyTorch's refusal, under grad mode, of a tensor argument its kernel has no derivative
    for (a class weight, pos_weight). Not under ember.func.vmap (a batched input or argument):
    torch.func decomposes these losses into differentiable ops there."""
    if (tensor is not None and tensor.requires_grad and is_grad_enabled()
            and type(tensor._data) is np.ndarray and type(input._data) is np.ndarray):
        raise RuntimeError(f"The function '{function}' is not differentiable with respect to "
                           f"argument '{argument}'. This input cannot have requires_grad True.")


def _cross_entropy_with_learned_weight(input, target, weight, smoothing, reduction):
    """Cross entropy against class probabilities with a class weight that requires grad, from
    recorded ops: the fused kernel takes the weight as a constant, PyTorch differentiates it."""
    class_dim = 1 if input.dim() > 1 else 0
    classes = input.shape[class_dim]
    if weight.shape != (classes,):
        raise RuntimeError(f"weight tensor should be defined either for all {classes} classes "
                           f"or no classes but got weight tensor of shape: {list(weight.shape)}")
    if smoothing > 0:
        target = target * (1 - smoothing) + smoothing / classes
    shape = [1] * input.dim()
    shape[class_dim] = classes
    weighted = input.log_softmax(class_dim) * target * weight.reshape(shape)
    return apply_reduction(-weighted.sum(class_dim), reduction)


def _classification(input, target, weight, ignore_index, reduction, smoothing, from_logits,
                    operation):
    check_reduction(reduction)
    if smoothing > 1.0:  # PyTorch lets a negative smoothing through
        raise RuntimeError(f"label_smoothing must be between 0.0 and 1.0. Got: {smoothing:g}")
    array = input._data
    target_array = target._data
    if not is_floating(array.dtype):
        kernel = "log_softmax_lastdim_kernel_impl" if from_logits else "nll_loss_out_frame"
        raise NotImplementedError(f'"{kernel}" not implemented for '
                                  f"'{scalar_type_name(array.dtype)}'")
    if array.ndim == 0:
        # PyTorch: nll_loss_nd's check; cross_entropy takes a 0-D target as probabilities,
        # then fails at the class dim 1
        if not from_logits:
            raise ValueError("Expected 1 or more dimensions (got 0)")
        if target_array.ndim != 0:
            raise IndexError("Dimension out of range (expected to be in range of [-1, 0], but "
                             "got 1)")
        if not is_floating(target_array.dtype):
            raise RuntimeError(f"Expected floating point type for target with class "
                               f"probabilities, got {scalar_type_name(target_array.dtype)}")
        raise IndexError("Dimension specified as 1 but tensor has no dimensions")
    unbatched = array.ndim == 1
    probabilities = tuple(array.shape) == tuple(target_array.shape)
    if not probabilities:
        # PyTorch's nll_loss_nd runs inputs of 3 or more dims through nll_loss2d
        kernel = "nll_loss_forward" if array.ndim <= 2 else "nll_loss2d_forward"
        _refuse_gradient(weight, kernel, "weight", input)
    elif from_logits and weight is not None and weight.requires_grad and is_grad_enabled():
        return _cross_entropy_with_learned_weight(input, target, weight, smoothing, reduction)
    if unbatched:
        if target_array.ndim == 1 and not probabilities:
            # PyTorch takes a one-element target for one unbatched sample
            if target_array.shape[0] != 1:
                raise ValueError(f"For 1D input, 1D target must have size 1, but got target "
                                 f"size: {target_array.shape[0]}")
            target = target.reshape(())
        input = input.unsqueeze(0)
        target = target.unsqueeze(0)
        array = input._data
        target_array = target._data
    classes = array.shape[1]
    if type(target_array) is np.ndarray:  # (under ember.func.vmap the batching rule checks)
        _check_targets(array, target_array, classes, ignore_index, probabilities, from_logits)
    weight_array = None
    if weight is not None:
        weight_array = weight._data
        if weight_array.shape != (classes,):
            raise RuntimeError(f"weight tensor should be defined either for all {classes} classes "
                               f"or no classes but got weight tensor of shape: "
                               f"{list(weight_array.shape)}")
        if not probabilities and weight_array.dtype != array.dtype:
            # PyTorch's nll_loss kernel takes the input's dtype only (probabilities mix freely)
            raise RuntimeError(f"expected scalar type {scalar_type_name(array.dtype)} but found "
                               f"{scalar_type_name(weight_array.dtype)}")
        weight_array = weight_array.astype(array.dtype, copy=False)
    loss = ClassificationLoss.apply(input, target, weight_array, ignore_index, float(smoothing),
                                    reduction, from_logits)
    torch_named(loss, _classification_name(probabilities, smoothing, reduction, array.ndim))
    if not from_logits:
        # PyTorch's nll_loss_backward keeps its input (derivative 0) under create_graph.
        keep_input_in_gradient(loss)
    if unbatched and reduction == "none":
        loss = loss.squeeze(0)
    return loss


def _classification_name(probabilities, smoothing, reduction, ndim):
    """PyTorch's grad_fn name for cross_entropy/nll_loss, which it composes differently by
    target kind, smoothing, reduction and input dims."""
    if probabilities:
        return "DivBackward1" if reduction == "mean" else "NegBackward0"
    if smoothing:
        return "AddBackward0"
    return "NllLossBackward0" if ndim <= 2 else "NllLoss2DBackward0"


def linear_cross_entropy(input, linear_weight, target, *, linear_bias=None, weight=None,
                         reduction="mean", ignore_index=None, label_smoothing=0.0, options=None):
    """cross_entropy(linear(input, linear_weight, linear_bias), target): logits of shape
    (N, C, d_1, ..., d_K) from a (C, d_1, ..., d_K, in_features) weight. ``options``
    (LinearCrossEntropyOptions) is checked and resolved as PyTorch does; ember computes the
    reference path, whose values PyTorch's chunked path reproduces."""
    if input.dim() < 1 or input.dim() > 2:
        raise RuntimeError(f"expected input with dimensionality 1 or 2, got {input.dim()}")
    if linear_weight.dim() < 2:
        raise RuntimeError(f"expected linear_weight with dimensionality at least 2, got "
                           f"{linear_weight.dim()}")
    batches = tuple(input.shape[:-1])
    in_features = input.shape[-1]
    if in_features != linear_weight.shape[-1]:
        raise RuntimeError(f"expected equal input and linear_weight last dimensions "
                           f"(in_features), got {input.shape[-1]} and {linear_weight.shape[-1]}, "
                           f"respectively")
    classes = linear_weight.shape[0]
    out_features = tuple(linear_weight.shape[1:-1])
    if linear_bias is not None and tuple(linear_bias.shape) != (classes, *out_features):
        raise RuntimeError(f"expected linear_bias shape {(classes, *out_features)}, got "
                           f"{tuple(linear_bias.shape)}")
    if out_features and not batches:
        raise RuntimeError(f"K-dimensional loss defined by linear_weight shape "
                           f"{tuple(linear_weight.shape)} requires batched input, (N, "
                           f"{in_features}), got unbatched input with shape {tuple(input.shape)}")
    logits_shape = (*batches, classes, *out_features)
    if tuple(target.shape) == logits_shape and ignore_index is not None:
        raise RuntimeError("ignore_index cannot be specified when target contains probabilities")
    ignore_index = -100 if ignore_index is None else ignore_index
    if options is not None:
        chunked = (reduction in {"mean", "sum", "none"} and label_smoothing == 0.0
                   and target._data.dtype == np.int64 and not out_features)
        if chunked:
            # PyTorch's checks of the resolved options (a chunk size the method contradicts)
            options._adjust(num_batches=batches[0] if batches else 1, in_features=in_features,
                            num_classes=classes, dtype=input.dtype, device=input.device)
        else:
            bias_shape = tuple(linear_bias.shape) if linear_bias is not None else None
            warnings.warn(
                f"linear_cross_entropy: ``options`` ignored; chunked path needs reduction in "
                f"{{'mean','sum','none'}}, label_smoothing == 0, target.dtype == int64, "
                f"out_features == (). Got reduction={reduction!r}, "
                f"label_smoothing={label_smoothing}, target.dtype={target.dtype}, "
                f"out_features={out_features}, tracing=False, linear_bias.shape={bias_shape}.",
                stacklevel=2)
    if out_features:
        flat = math.prod(out_features, start=classes)
        linear_weight = linear_weight.reshape((flat, in_features))
        if linear_bias is not None:
            linear_bias = linear_bias.reshape(flat)
    logits = linear(input, linear_weight, linear_bias).reshape(logits_shape)
    return cross_entropy(logits, target, weight=weight, reduction=reduction,
                         ignore_index=ignore_index, label_smoothing=label_smoothing)


@autocast_op("cross_entropy")
def cross_entropy(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,
                  reduction="mean", label_smoothing=0.0):
    """Cross entropy of logits (N, C, ...) against class indices (N, ...) or probabilities."""
    reduction = legacy_reduction(size_average, reduce, reduction)
    return _classification(input, target, weight, ignore_index, reduction, label_smoothing, True,
                           "cross_entropy")


@autocast_op("nll_loss")
def nll_loss(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,
             reduction="mean"):
    """Negative log-likelihood of log-probabilities (N, C, ...) at class indices (N, ...)."""
    reduction = legacy_reduction(size_average, reduce, reduction)
    return _classification(input, target, weight, ignore_index, reduction, 0.0, False,
                           "nll_loss")


def _check_floating_loss(input, operation):
    """PyTorch's error for a loss kernel given integer (or bool) input."""
    if not is_floating(input._data.dtype):
        raise NotImplementedError(f'"{operation}" not implemented for '
                                  f"'{scalar_type_name(input._data.dtype)}'")


def _check_broadcastable(tensor, input, name):
    """PyTorch's RuntimeError when ``tensor`` (pos_weight, or a loss's weight) cannot broadcast
    to the input's shape, raised before any work."""
    if tensor is None:
        return
    shape, expected = tuple(tensor._data.shape), tuple(input._data.shape)
    if name == "pos_weight":
        error = mismatch_error(shape, expected)
        if error is not None:
            raise error
        return
    for offset in range(1, len(shape) + 1):
        if offset > len(expected) or shape[-offset] not in (1, expected[-offset]):
            raise RuntimeError(f"Attempting to broadcast a dimension of length {shape[-offset]} "
                               f"at {-offset}! Mismatching argument at index 1 had "
                               f"{Size(shape)!r}; but expected shape should be broadcastable to "
                               f"{list(expected)}")


@autocast_op("binary_cross_entropy")
def binary_cross_entropy(input, target, weight=None, size_average=None, reduce=None,
                         reduction="mean"):
    """Binary cross entropy of probabilities ``input`` in [0, 1] against ``target``."""
    reduction = legacy_reduction(size_average, reduce, reduction)
    check_reduction(reduction)
    if tuple(target._data.shape) != tuple(input._data.shape):
        raise ValueError(f"Using a target size ({Size(target._data.shape)!r}) that is different "
                         f"to the input size ({Size(input._data.shape)!r}) is deprecated. Please "
                         f"ensure they have the same size.")
    _check_floating_loss(input, "binary_cross_entropy")
    if target._data.dtype != input._data.dtype:
        raise RuntimeError(f"Found dtype {scalar_type_name(target._data.dtype)} but expected "
                           f"{scalar_type_name(input._data.dtype)}")
    for name, values in (("input", input._data), ("target", target._data)):
        # (a vmap batch is checked by the batching rule)
        if type(values) is np.ndarray and np.any((values < 0) | (values > 1)):
            raise RuntimeError(f"all elements of {name} should be between 0 and 1")
    _refuse_gradient(weight, "binary_cross_entropy", "weight", input)
    _check_broadcastable(weight, input, "weight")
    loss = BinaryCrossEntropy.apply(input, target)
    if weight is not None:
        loss = loss * weight
    return torch_named(apply_reduction(loss, reduction), "BinaryCrossEntropyBackward0")


@autocast_op("binary_cross_entropy_with_logits")
def binary_cross_entropy_with_logits(input, target, weight=None, size_average=None, reduce=None,
                                     reduction="mean", pos_weight=None):
    """Sigmoid + binary cross entropy in one stable op; ``pos_weight`` weighs positive targets."""
    reduction = legacy_reduction(size_average, reduce, reduction)
    check_reduction(reduction)
    if tuple(target._data.shape) != tuple(input._data.shape):
        raise ValueError(f"Target size ({Size(target._data.shape)!r}) must be the same as input "
                         f"size ({Size(input._data.shape)!r})")
    _check_floating_loss(input, "log_sigmoid_cpu")  # PyTorch takes log_sigmoid(input) first
    if target._data.dtype == np.bool_:  # PyTorch computes 1 - target first
        raise RuntimeError("Subtraction, the `-` operator, with two bool tensors is not "
                           "supported. Use the `^` or `logical_xor()` operator instead.")
    if not is_floating(target._data.dtype):  # ... and multiplies it by the input in place
        raise RuntimeError(f"result type {scalar_type_name(input._data.dtype)} can't be cast to "
                           f"the desired output type {scalar_type_name(target._data.dtype)}")
    _refuse_gradient(weight, "binary_cross_entropy_with_logits", "weight", input)
    _refuse_gradient(pos_weight, "binary_cross_entropy_with_logits", "pos_weight",
                     input)
    _check_broadcastable(pos_weight, input, "pos_weight")
    _check_broadcastable(weight, input, "weight")
    if target._data.dtype != input._data.dtype:
        # PyTorch's kernel works in place on a tensor made from the target: the target's dtype
        common = promote_types(input.dtype, target.dtype)
        loss = BinaryCrossEntropyWithLogits.apply(input.to(common), target.to(common),
                                                  pos_weight).to(target.dtype)
    else:
        loss = BinaryCrossEntropyWithLogits.apply(input, target, pos_weight)
    if weight is not None:
        loss = loss * weight
    return torch_named(apply_reduction(loss, reduction), "BinaryCrossEntropyWithLogitsBackward0")


# ---- regression losses and KL divergence (composites) --------------------------------------------
def _check_sizes(input, target, stacklevel=4):
    """PyTorch's broadcasting warning, shown at the loss's caller (the frames up to it: this
    check, the loss, its autocast wrapper; one more where a helper calls the check)."""
    if tuple(target._data.shape) != tuple(input._data.shape):
        warnings.warn(f"Using a target size ({Size(target._data.shape)!r}) that is different to "
                      f"the input size ({Size(input._data.shape)!r}). This will likely lead to "
                      f"incorrect results due to broadcasting. Please ensure they have the same "
                      f"size.", stacklevel=stacklevel)


@autocast_op("mse_loss")
def mse_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    """Mean squared error; ``weight`` (optional) scales each element's squared error."""
    _check_floating_loss(input, "mse_cpu")
    if weight is None and _one_node(input, target):
        # the common case as PyTorch's one node (its graph, its backward)
        reduction = legacy_reduction(size_average, reduce, reduction)
        check_reduction(reduction)
        return MseLoss.apply(input, target, reduction)
    loss = _elementwise_loss(_ops.square, input, target, size_average, reduce, reduction, weight)
    return loss if weight is not None else torch_named(loss, "MseLossBackward0")


@autocast_op("l1_loss")
def l1_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    """Mean absolute error."""
    return _elementwise_loss(_ops.abs, input, target, size_average, reduce, reduction, weight)


def _elementwise_loss(penalty, input, target, size_average, reduce, reduction, weight):
    """reduce(weight * penalty(input - target)): mse_loss (square) and l1_loss (abs)."""
    reduction = legacy_reduction(size_average, reduce, reduction)
    check_reduction(reduction)
    _check_sizes(input, target, stacklevel=5)
    _check_loss_weight(weight, input)
    loss = penalty(input - target)
    if weight is None:
        return apply_reduction(loss, reduction)
    loss = loss * weight
    if reduction == "mean":  # PyTorch's weighted mean: by the total weight
        return _ops.sum(loss) / _ops.sum(weight)
    return apply_reduction(loss, reduction)


def _one_node(input, target):
    """Whether a loss of ``input`` and ``target`` runs as PyTorch's one fused node: float
    tensors of one dtype and shape (others take the composite, with its promotion and
    broadcasting)."""
    return (isinstance(target, Tensor) and is_floating(input._data.dtype)
            and input._data.dtype == target._data.dtype
            and input._data.shape == target._data.shape)


def _check_loss_weight(weight, input):
    """PyTorch's check of the elementwise ``weight`` of mse, l1 and huber losses."""
    if weight is not None and tuple(weight.shape) != tuple(input.shape):
        raise ValueError("Weights and input must have the same size.")


@autocast_op("smooth_l1_loss")
def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction="mean", beta=1.0):
    """Quadratic 0.5 d^2 / beta below ``beta``, linear |d| - 0.5 beta above (L1 when beta == 0)."""
    reduction = legacy_reduction(size_average, reduce, reduction)
    check_reduction(reduction)
    if beta < 0:
        raise RuntimeError("smooth_l1_loss does not support negative values for beta.")
    _check_floating_loss(input, "smooth_l1_cpu")
    _check_sizes(input, target)
    if beta > 0 and _one_node(input, target):
        return RobustLoss.apply(input, target, reduction, float(beta), False)
    difference = input - target
    distance = _ops.abs(difference)
    if beta == 0:
        return apply_reduction(distance, reduction)
    loss = _ops.where(distance < beta, difference * difference * (0.5 / beta),
                             distance - 0.5 * beta)
    return torch_named(apply_reduction(loss, reduction), "SmoothL1LossBackward0")


@autocast_op("huber_loss")
def huber_loss(input, target, reduction="mean", delta=1.0, weight=None):
    """Quadratic 0.5 d^2 below ``delta``, linear delta (|d| - 0.5 delta) above."""
    check_reduction(reduction)
    if delta <= 0:
        raise RuntimeError("huber_loss does not support non-positive values for delta.")
    _check_floating_loss(input, "huber_cpu")
    _check_sizes(input, target)
    _check_loss_weight(weight, input)
    if weight is None and _one_node(input, target):
        return RobustLoss.apply(input, target, reduction, float(delta), True)
    difference = input - target
    distance = _ops.abs(difference)
    loss = _ops.where(distance < delta, difference * difference * 0.5,
                             (distance - 0.5 * delta) * delta)
    if loss._data.dtype != input._data.dtype and is_floating(target._data.dtype):
        loss = loss.to(input.dtype)  # PyTorch's kernel writes into the input's dtype
    if weight is not None:
        loss = loss * weight
        return apply_reduction(loss, reduction)
    return torch_named(apply_reduction(loss, reduction), "HuberLossBackward0")


_KL_MEAN_WARNING = (
    "reduction: 'mean' divides the total loss by both the batch size and the support size."
    "'batchmean' divides only by the batch size, and aligns with the KL div math definition."
    "'mean' will be changed to behave the same as 'batchmean' in the next major release.")


@autocast_op("kl_div")
def kl_div(input, target, size_average=None, reduce=None, reduction="mean", log_target=False):
    """KL divergence with ``input`` as log-probabilities; 'batchmean' is the mathematical KL."""
    if input._data.dtype.kind in "iub" or target._data.dtype.kind in "iub":
        raise RuntimeError("kl_div: Integral inputs not supported.")
    if size_average is not None or reduce is not None:
        reduction = legacy_reduction(size_average, reduce)
    elif reduction == "mean":
        warnings.warn(_KL_MEAN_WARNING, stacklevel=3)  # the caller of the autocast wrapper
    if reduction == "batchmean":
        reduced = "sum"
    else:
        check_reduction(reduction)
        reduced = reduction
    if log_target:
        loss = _ops.exp(target) * (target - input)
    else:
        # PyTorch's xlogy(t, t) - t * input: 0 log 0 = 0, NaN for t < 0, and xlogy's
        # gradient for the target (NaN at t = 0, from its t / t)
        loss = _ops.xlogy(target, target) - target * input
    loss = apply_reduction(loss, reduced)
    if reduction == "batchmean" and input._data.ndim != 0:
        loss = loss / input._data.shape[0]
    return loss


@autocast_op("margin_ranking_loss")
def margin_ranking_loss(input1, input2, target, margin=0, size_average=None, reduce=None,
                        reduction="mean"):
    """max(0, -target * (input1 - input2) + margin): input1 should rank above input2 when
    target is 1."""
    reduction = reduction_from(size_average, reduce, reduction)
    if input1.dim() != input2.dim() or input1.dim() != target.dim():
        raise RuntimeError(f"margin_ranking_loss : All input tensors should have same dimension "
                           f"but got sizes: input1: {input1.shape}, input2: {input2.shape}, "
                           f"target: {target.shape} ")
    # PyTorch's ATen evaluates the difference first (its error for bool inputs), and its margin
    # is a double: integer inputs give a float loss.
    difference = input1 - input2
    loss = _ops.clamp(-target * difference + float(margin), min=0)
    return apply_reduction(loss, reduction)


@autocast_op("soft_margin_loss")
def soft_margin_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    """log(1 + exp(-target * input)), the logistic loss for targets in {-1, 1}."""
    reduction = reduction_from(size_average, reduce, reduction)
    _refuse_gradient(target, "soft_margin_loss", "target", input)
    kind = input._data.dtype.kind
    if kind in "iu":  # PyTorch computes in place in the input's dtype: exp_ cannot
        raise RuntimeError(f"result type Float can't be cast to the desired output type "
                           f"{scalar_type_name(input._data.dtype)}")
    loss = _ops.log1p(_ops.exp(-input * target))
    if loss._data.dtype != input._data.dtype and is_floating(input._data.dtype):
        loss = loss.to(input.dtype)  # PyTorch's kernel writes into the input's dtype
    return torch_named(apply_reduction(loss, reduction), "SoftMarginLossBackward0")


@autocast_op("hinge_embedding_loss")
def hinge_embedding_loss(input, target, margin=1.0, size_average=None, reduce=None,
                         reduction="mean"):
    """input where target is 1, max(0, margin - input) where target is -1."""
    reduction = reduction_from(size_average, reduce, reduction)
    zeros = input.new_zeros(input.shape)
    if input._data.dtype.kind in "biu":
        # PyTorch's margin - input fills a tensor of the input's dtype with the margin first
        # (truncated for integers; bool minus bool is refused)
        margin_minus_input = input.new_full(input.shape, margin) - input
    else:
        margin_minus_input = margin - input
    margin_part = _ops.where(target != 1, _ops.clamp(margin_minus_input, min=0), zeros)
    self_part = _ops.where(target != -1, input, zeros)
    return apply_reduction(margin_part + self_part, reduction)


# PyTorch's cosine_embedding_loss adds this to both squared magnitudes.
_COSINE_EMBEDDING_EPSILON = 1e-12


@autocast_op("cosine_embedding_loss")
def cosine_embedding_loss(input1, input2, target, margin=0, size_average=None, reduce=None,
                          reduction="mean"):
    """1 - cos(x1, x2) where target is 1, max(0, cos(x1, x2) - margin) where target is -1."""
    reduction = reduction_from(size_average, reduce, reduction)
    target_dim = target.dim()
    if target_dim not in (0, 1):
        raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")
    if target_dim == 1 and (input1.dim() != 2 or input2.dim() != 2):
        raise RuntimeError(f"1D target tensor expects 2D input tensors, but found inputs with "
                           f"sizes {list(input1.shape)} and {list(input2.shape)}.")
    if target_dim == 0 and (input1.dim() != 1 or input2.dim() != 1):
        raise RuntimeError(f"0D target tensor expects 1D input tensors, but found inputs with "
                           f"sizes {list(input1.shape)} and {list(input2.shape)}.")
    product_sum = (input1 * input2).sum(target_dim)
    magnitude1 = (input1 * input1).sum(target_dim) + _COSINE_EMBEDDING_EPSILON
    magnitude2 = (input2 * input2).sum(target_dim) + _COSINE_EMBEDDING_EPSILON
    cosine = product_sum / _ops.sqrt(magnitude1 * magnitude2)
    zeros = cosine.new_zeros(cosine.shape)
    positive = _ops.where(target == 1, 1 - cosine, zeros)
    negative = _ops.where(target == -1, _ops.clamp(cosine - margin, min=0), zeros)
    return apply_reduction(positive + negative, reduction)


@autocast_op("poisson_nll_loss")
def poisson_nll_loss(input, target, log_input=True, full=False, size_average=None, eps=1e-8,
                     reduce=None, reduction="mean"):
    """Negative log-likelihood of ``target`` under Poisson(rate), rate = exp(input) when
    ``log_input``; ``full`` adds Stirling's approximation of log(target!) for targets above 1."""
    if size_average is not None or reduce is not None:
        reduction = from_legacy(size_average, reduce)
    if reduction not in REDUCTIONS:
        raise ValueError(f"{reduction} is not a valid value for reduction")
    if log_input:
        loss = _ops.exp(input) - target * input
    else:
        loss = input - target * _ops.log(input + eps)
    if full:
        stirling = (target * _ops.log(target) - target
                    + 0.5 * _ops.log(2 * np.pi * target))
        loss = loss + stirling.masked_fill(target <= 1, 0)
    return apply_reduction(loss, reduction)


def gaussian_nll_loss(input, target, var, full=False, eps=1e-6, reduction="mean"):
    """0.5 (log var + (input - target)^2 / var), var clamped at ``eps`` without stopping its
    gradient (as PyTorch does); ``var`` may omit the last dimension or have size 1 in one."""
    if isinstance(var, float):
        if var < 0:
            raise ValueError("var has negative entry/entries")
        var = input.new_full(input.shape, var)
    elif bool(np.any(var._data < 0)):
        raise ValueError("var has negative entry/entries")
    input_shape = tuple(input.shape)
    var_shape = tuple(var.shape)
    if var_shape != input_shape:
        if input_shape[:-1] == var_shape:
            var = var.unsqueeze(-1)
        elif len(input_shape) == len(var_shape) and sum(
                size for input_size, size in zip(input_shape, var_shape)
                if input_size != size) == 1:
            pass  # heteroscedastic: one dimension of size 1, broadcast
        else:
            raise ValueError("var is of incorrect size")
    if reduction not in REDUCTIONS:
        raise ValueError(reduction + " is not valid")
    var = var.clone()
    with no_grad():
        var.clamp_(min=eps)
    loss = 0.5 * (_ops.log(var) + (input - target) ** 2 / var)
    if full:
        loss = loss + 0.5 * float(np.log(2 * np.pi))
    return apply_reduction(loss, reduction)


def multilabel_soft_margin_loss(input, target, weight=None, size_average=None, reduce=None,
                                reduction="mean"):
    """Per-class binary logistic loss, averaged over the classes (the last dimension)."""
    if size_average is not None or reduce is not None:
        reduction = from_legacy(size_average, reduce)
    loss = -(target * LogSigmoid.apply(input) + (1 - target) * LogSigmoid.apply(-input))
    if weight is not None:
        loss = loss * weight
    class_dim = input.dim() - 1
    loss = loss.sum(class_dim) / input.shape[class_dim]
    if reduction not in REDUCTIONS:
        raise ValueError(reduction + " is not valid")
    return apply_reduction(loss, reduction)


def _strict_hinge(value, kernel, forward_kernel):
    """max(0, value) whose gradient is zero at 0 (PyTorch's margin kernels test z > 0). PyTorch's
    backward of the ``kernel`` these hinges make has no derivative: a second grad raises; its
    ``forward_kernel`` has no forward mode."""
    return without_double_backward(_ops.where(value > 0, value, value.new_zeros(())),
                                   RuntimeError,
                                   f"derivative for aten::{kernel}_backward is not implemented",
                                   forward_ad_unsupported(forward_kernel))


@autocast_op("multi_margin_loss")
def multi_margin_loss(input, target, p=1, margin=1.0, weight=None, size_average=None,
                      reduce=None, reduction="mean"):
    """sum over i != y of max(0, margin - x[y] + x[i])^p (times weight[y]), divided by C."""
    reduction = reduction_from(size_average, reduce, reduction)
    if p not in (1, 2):
        raise ValueError("only p == 1 and p == 2 supported")
    if weight is not None and weight.dim() != 1:
        raise ValueError("weight must be one-dimensional")
    _refuse_gradient(weight, "multi_margin_loss", "weight", input)
    _check_margin_input(input)
    unbatched = input.dim() <= 1
    scores = input.reshape(1, -1) if unbatched else input
    classes = scores.shape[1]
    labels = target._data.reshape(-1)
    if labels.shape[0] != scores.shape[0]:
        raise RuntimeError(f"multi_margin_loss: target tensor should be 1-D with size equal to "
                           f"the number of input samples (batch size). Expected target size "
                           f"[{scores.shape[0]}], but got {list(target.shape)}. Input has shape "
                           f"{list(input.shape)}.")
    if weight is not None and weight.numel() != classes:
        raise RuntimeError(f"inconsistent weight size, expected {classes} but got "
                           f"{list(weight.shape)}")
    # then PyTorch's kernel: float32/float64 input, int64 target, a weight of the input's dtype
    _check_margin_kernel(input, target, "multi_margin_loss_cpu_kernel")
    if weight is not None and weight._data.dtype != input._data.dtype:
        raise RuntimeError(f"expected scalar type {scalar_type_name(input._data.dtype)} but "
                           f"found {scalar_type_name(weight._data.dtype)}")
    if labels.size and (labels.min() < 0 or labels.max() >= classes):
        raise RuntimeError("target out of range")
    label_index = type(input)._wrap(labels.reshape(-1, 1).astype(np.int64))
    chosen = scores.gather(1, label_index)
    hinge = _strict_hinge(margin - chosen + scores, "multi_margin_loss", "multi_margin_loss")
    if p == 2:
        hinge = hinge * hinge
    if weight is not None:
        hinge = hinge * weight.reshape(-1)[label_index.reshape(-1)].reshape(-1, 1)
    others = np.ones(scores.shape, dtype=scores._data.dtype)
    others[np.arange(labels.shape[0]), labels] = 0
    loss = (hinge * type(input)._wrap(others)).sum(1) / classes
    if unbatched:
        loss = loss.reshape(())
    return apply_reduction(loss, reduction)


def _check_margin_input(input):
    """PyTorch's shape check of the margin losses' input: a non-empty vector, a matrix with
    non-empty rows, or a scalar."""
    shape = tuple(input.shape)
    if not ((len(shape) == 2 and shape[1] != 0) or (len(shape) == 1 and shape[0] != 0)
            or not shape):
        raise RuntimeError(f"Expected non-empty vector or matrix with optional 0-dim batch "
                           f"size, but got: {list(shape)}")


def _check_margin_kernel(input, target, kernel):
    """The margin losses' CPU kernels: float32 or float64 input, int64 target."""
    dtype = input._data.dtype
    if dtype not in (np.float32, np.float64):
        raise NotImplementedError(f'"{kernel}" not implemented for \'{scalar_type_name(dtype)}\'')
    if target._data.dtype != np.int64:
        raise RuntimeError(f"expected scalar type Long but found "
                           f"{scalar_type_name(target._data.dtype)}")


@autocast_op("multilabel_margin_loss")
def multilabel_margin_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    """sum over target classes j (up to the first -1) and non-target classes i of
    max(0, 1 - (x[j] - x[i])), divided by C."""
    reduction = reduction_from(size_average, reduce, reduction)
    _check_margin_input(input)
    unbatched = input.dim() <= 1
    scores = input.reshape(1, -1) if unbatched else input
    labels = target._data.reshape(scores.shape) if unbatched and target._data.size == \
        scores._data.size else target._data
    if tuple(labels.shape) != tuple(scores.shape):
        raise RuntimeError(f"inconsistent target size: {list(target.shape)} for input of size: "
                           f"{list(input.shape)}")
    classes = scores.shape[1]
    if labels.size and (labels.min() < -1 or labels.max() >= classes):  # before the dtypes
        raise RuntimeError("argument #2 'target' is out of range")
    _check_margin_kernel(input, target, "multilabel_margin_loss_forward_out_frame")
    # Targets are read up to the first -1 of each row.
    valid = np.cumprod(labels >= 0, axis=1).astype(bool)
    safe_labels = np.where(valid, labels, 0).astype(np.int64)
    is_target = np.zeros(scores.shape, dtype=bool)
    rows = np.nonzero(valid)[0]
    is_target[rows, safe_labels[valid]] = True
    dtype = scores._data.dtype
    chosen = scores.gather(1, type(input)._wrap(safe_labels))
    hinge = _strict_hinge(1 - chosen.unsqueeze(2) + scores.unsqueeze(1),
                          "multilabel_margin_loss", "multilabel_margin_loss_forward")
    pair_mask = valid[:, :, None] & ~is_target[:, None, :]
    loss = (hinge * type(input)._wrap(pair_mask.astype(dtype))).sum((1, 2)) / classes
    if unbatched:
        loss = loss.reshape(())
    return apply_reduction(loss, reduction)


@autocast_op("triplet_margin_loss")
def triplet_margin_loss(anchor, positive, negative, margin=1.0, p=2, eps=1e-6, swap=False,
                        size_average=None, reduce=None, reduction="mean"):
    """max(0, margin + d(anchor, positive) - d(anchor, negative)) with pairwise p-distances;
    ``swap`` uses d(positive, negative) when it is the smaller negative distance."""
    reduction = reduction_from(size_average, reduce, reduction)
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
    return apply_reduction(loss, reduction)


def triplet_margin_with_distance_loss(anchor, positive, negative, *, distance_function=None,
                                      margin=1.0, swap=False, reduction="mean"):
    """Triplet margin loss with any distance (pairwise_distance when None)."""
    check_reduction(reduction)
    if margin <= 0:
        raise ValueError(f"margin must be greater than 0, got {margin}")
    distance = distance_function if distance_function is not None else pairwise_distance
    positive_distance = distance(anchor, positive)
    negative_distance = distance(anchor, negative)
    if swap:
        negative_distance = _ops.minimum(negative_distance, distance(positive, negative))
    loss = (positive_distance - negative_distance + margin).clamp(min=0)
    return apply_reduction(loss, reduction)


def _lengths(lengths, name):
    """ctc_loss's input or target lengths (a tensor or a sequence of ints) as an int64 array."""
    array = np.asarray(lengths._data if isinstance(lengths, Tensor) else lengths)
    if array.dtype.kind not in "iu":
        raise RuntimeError(f"ctc_loss: {name} must be integers, got dtype {array.dtype}")
    return array.astype(np.int64).reshape(-1)


@autocast_op("ctc_loss")
def ctc_loss(log_probs, targets, input_lengths, target_lengths, blank=0, reduction="mean",
             zero_infinity=False):
    """The CTC loss of (T, N, C) (or unbatched (T, C)) log-probabilities against targets
    padded to (N, S) or concatenated into one 1-D tensor; 'mean' divides each sample's loss by
    its target length before averaging."""
    check_reduction(reduction)
    if log_probs.dim() not in (2, 3):
        raise RuntimeError(f"ctc_loss: expected log_probs to be 2-D (unbatched) or 3-D, got "
                           f"{log_probs.dim()}-D")
    unbatched = log_probs.dim() == 2
    if unbatched:
        log_probs = log_probs.unsqueeze(1)
        targets = targets.unsqueeze(0) if targets.dim() == 1 else targets
    steps, batch, classes = log_probs.shape
    as_tensors = [isinstance(lengths, Tensor) for lengths in (input_lengths, target_lengths)]
    as_sequences = [isinstance(lengths, (list, tuple)) for lengths in (input_lengths,
                                                                        target_lengths)]
    if not (all(as_tensors) or all(as_sequences)):
        raise TypeError(f"ctc_loss(): input_lengths and target_lengths must both be Tensors or "
                        f"both tuples of ints, got {type(input_lengths).__name__} and "
                        f"{type(target_lengths).__name__}")
    input_array = _lengths(input_lengths, "input_lengths")
    target_array = _lengths(target_lengths, "target_lengths")
    if input_array.shape[0] != batch:
        raise RuntimeError("input_lengths must be of size batch_size")
    if target_array.shape[0] != batch:
        raise RuntimeError("target_lengths must be of size batch_size")
    if log_probs._data.dtype not in (np.float32, np.float64):
        raise NotImplementedError(f'"ctc_loss_cpu" not implemented for '
                                  f"'{scalar_type_name(log_probs._data.dtype)}'")
    if not 0 <= blank < classes:
        raise RuntimeError("blank must be in label range")
    if input_array.size and input_array.max() > steps:
        raise RuntimeError(f"Expected input_lengths to have value at most {steps}, but got "
                           f"value {input_array.max()} (while checking arguments for "
                           f"ctc_loss_allocate_outputs)")
    label_array = targets._data.astype(np.int64)
    if label_array.ndim == 1:
        expected = int(target_array.sum())
        if label_array.shape[0] != expected:
            raise RuntimeError(f"Expected tensor to have size {expected} at dimension 0, but got "
                               f"size {label_array.shape[0]} for argument #2 'targets' (while "
                               f"checking arguments for ctc_loss_allocate_outputs)")
        # concatenated targets: padded into rows of the longest
        longest = int(target_array.max()) if target_array.size else 0
        padded = np.full((batch, longest), blank, dtype=np.int64)
        offsets = np.concatenate([[0], np.cumsum(target_array)[:-1]])
        for row, (offset, length) in enumerate(zip(offsets, target_array)):
            padded[row, :length] = label_array[offset:offset + length]
        label_array = padded
    elif target_array.size and target_array.max() > label_array.shape[1]:
        raise RuntimeError(f"Expected tensor to have size at least {target_array.max()} at "
                           f"dimension 1, but got size {label_array.shape[1]} for argument #2 "
                           f"'targets' (while checking arguments for ctc_loss_allocate_outputs)")
    losses = CTCLoss.apply(log_probs, label_array, input_array, target_array, int(blank),
                           bool(zero_infinity))
    if reduction == "mean":
        lengths = np.maximum(target_array, 1).astype(log_probs._data.dtype)
        return (losses / type(losses)._wrap(lengths)).mean()
    if reduction == "sum":
        return losses.sum()
    return losses.squeeze(0) if unbatched else losses
