"""Fused loss kernels (numerical stability and the training hot path): cross_entropy/nll_loss as
one ClassificationLoss, binary_cross_entropy and binary_cross_entropy_with_logits.
"""
import numpy as np

from ...autograd.function import Op
from ...ops._broadcast import unbroadcast


def _log_softmax(array, axis):
    shifted = array - np.max(array, axis=axis, keepdims=True) if array.size else array.copy()
    shifted -= np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))
    return shifted


# ---- cross entropy / nll -------------------------------------------------------------------------
class _Targets:
    """What a class-index or class-probability target contributes to the loss.

    Per sample, loss = -sum_c coefficient[c] * log_probability[c]; ``denominator`` is what
    reduction='mean' divides the summed loss by (PyTorch: the summed weights of the non-ignored
    targets, or the number of samples for probability targets).
    """

    def __init__(self, target, weight, ignore_index, smoothing, classes, dtype):
        self.target = target
        self.weight = weight
        self.smoothing = smoothing
        self.classes = classes
        self.dtype = dtype
        self.indices = target.dtype.kind in "iub"
        if self.indices:
            valid = target != ignore_index
            self.safe_target = np.where(valid, target, 0).astype(np.int64, copy=False)
            chosen = (weight[self.safe_target] if weight is not None
                      else np.ones(target.shape, dtype))
            self.chosen_weight = np.where(valid, chosen, 0).astype(dtype, copy=False)
            self.valid = valid
            self.denominator = self.chosen_weight.sum(dtype=np.float64)
        else:
            self.denominator = float(target.size // classes) if classes else 0.0

    def _class_weight(self, ndim):
        shape = (1, self.classes) + (1,) * (ndim - 2)
        return self.weight.reshape(shape)

    def coefficients(self, ndim):
        """Dense coefficients (N, C, ...), the negated gradient of the per-sample loss."""
        if self.indices:
            shape = (self.target.shape[0], self.classes) + self.target.shape[1:]
            coefficients = np.zeros(shape, self.dtype)
            main = self.chosen_weight * self.dtype.type(1.0 - self.smoothing)
            np.put_along_axis(coefficients, self.safe_target[:, None], main[:, None], axis=1)
            if self.smoothing:
                spread = self.valid[:, None].astype(self.dtype) * self.dtype.type(
                    self.smoothing / self.classes)
                if self.weight is not None:
                    spread = spread * self._class_weight(ndim)
                coefficients += spread
            return coefficients
        coefficients = self.smoothed_target()
        if self.weight is not None:
            coefficients = coefficients * self._class_weight(ndim)
        return coefficients

    def smoothed_target(self):
        target = self.target.astype(self.dtype, copy=False)
        if not self.smoothing:
            return target
        return (target * self.dtype.type(1.0 - self.smoothing)
                + self.dtype.type(self.smoothing / self.classes))

    def per_sample_loss(self, log_probabilities):
        if self.indices:
            picked = np.take_along_axis(log_probabilities, self.safe_target[:, None], axis=1)[:, 0]
            loss = -(picked * self.chosen_weight)
            if self.smoothing:
                if self.weight is not None:
                    weighted = log_probabilities * self._class_weight(log_probabilities.ndim)
                else:
                    weighted = log_probabilities
                spread = -weighted.sum(axis=1) * self.valid
                loss = (loss * self.dtype.type(1.0 - self.smoothing)
                        + spread * self.dtype.type(self.smoothing / self.classes))
            return loss
        return -np.sum(self.coefficients(log_probabilities.ndim) * log_probabilities, axis=1)


class ClassificationLoss(Op):
    """Fused (log_softmax +) negative log-likelihood over dim 1 of (N, C, ...).

    ``from_logits`` adds the log_softmax: for stability and because it is on every training step's
    hot path; backward then is ``softmax * sum(coefficients) - coefficients`` (scaled).
    """

    @staticmethod
    def forward(ctx, input, target, weight, ignore_index, smoothing, reduction, from_logits):
        log_probabilities = _log_softmax(input, 1) if from_logits else input
        targets = _Targets(target, weight, ignore_index, smoothing, input.shape[1], input.dtype)
        loss = targets.per_sample_loss(log_probabilities)
        if reduction == "sum":
            loss = np.asarray(loss.sum(dtype=input.dtype))
        elif reduction == "mean":
            with np.errstate(divide="ignore", invalid="ignore"):
                loss = np.asarray(loss.sum(dtype=np.float64) / targets.denominator,
                                  dtype=input.dtype)
        ctx.save_for_backward(log_probabilities if from_logits or ctx.needs_input_grad[1]
                              else None, target, weight)
        ctx.options = (ignore_index, smoothing, reduction, from_logits, input.shape)
        return loss.astype(input.dtype, copy=False)

    @staticmethod
    def backward(ctx, grad):
        log_probabilities, target, weight = ctx.saved_tensors
        ignore_index, smoothing, reduction, from_logits, shape = ctx.options
        dtype = grad.dtype
        targets = _Targets(target, weight, ignore_index, smoothing, shape[1], dtype)
        if reduction == "none":
            scale = grad[:, None]
        else:
            scale = grad
            if reduction == "mean":
                with np.errstate(divide="ignore", invalid="ignore"):
                    scale = grad / dtype.type(targets.denominator)
        grad_input = grad_target = None
        if ctx.needs_input_grad[0]:
            coefficients = targets.coefficients(len(shape))
            if from_logits:
                grad_input = np.exp(log_probabilities)
                grad_input *= coefficients.sum(axis=1, keepdims=True)
                grad_input -= coefficients
            else:
                grad_input = np.negative(coefficients)
            grad_input *= scale
        if ctx.needs_input_grad[1] and not targets.indices:
            factor = dtype.type(-(1.0 - smoothing))
            grad_target = log_probabilities * factor
            if weight is not None:
                grad_target = grad_target * targets._class_weight(len(shape))
            grad_target = grad_target * scale
        return grad_input, grad_target, None, None, None, None, None


# ---- binary cross entropy ------------------------------------------------------------------------
class BinaryCrossEntropy(Op):
    """Elementwise -(t log x + (1 - t) log(1 - x)), each log clamped at -100 (PyTorch's rule)."""

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
        input, target = ctx.saved_tensors
        grad_input = grad_target = None
        if ctx.needs_input_grad[0]:
            # PyTorch's gradient: (x - t) / max(x (1 - x), 1e-12).
            denominator = np.maximum(input * (1 - input), input.dtype.type(1e-12))
            grad_input = grad * (input - target) / denominator
        if ctx.needs_input_grad[1]:
            # PyTorch leaves these logs unclamped: infinite at input 0 or 1.
            with np.errstate(divide="ignore", invalid="ignore"):
                grad_target = grad * (np.log1p(-input) - np.log(input))
        return grad_input, grad_target


class BinaryCrossEntropyWithLogits(Op):
    """Elementwise (1 - t) x + (1 + (p - 1) t) softplus(-x), softplus(-x) computed stably."""

    @staticmethod
    def forward(ctx, input, target, pos_weight):
        softplus = np.logaddexp(0, -input).astype(input.dtype, copy=False)
        if pos_weight is None:
            loss = (1 - target) * input + softplus
        else:
            loss = (1 - target) * input + (1 + (pos_weight - 1) * target) * softplus
        ctx.save_for_backward(input, target, pos_weight)
        return loss.astype(input.dtype, copy=False)

    @staticmethod
    def backward(ctx, grad):
        input, target, pos_weight = ctx.saved_tensors
        dtype = input.dtype
        grad_input = grad_target = grad_pos_weight = None
        sigmoid = (1 / (1 + np.exp(-input))).astype(dtype, copy=False)
        if ctx.needs_input_grad[0]:
            if pos_weight is None:
                grad_input = grad * (sigmoid - target)
            else:
                log_weight = 1 + (pos_weight - 1) * target
                grad_input = grad * (log_weight * sigmoid - pos_weight * target)
            grad_input = unbroadcast(grad_input, input.shape)
        if ctx.needs_input_grad[1] or ctx.needs_input_grad[2]:
            softplus = np.logaddexp(0, -input).astype(dtype, copy=False)
            if ctx.needs_input_grad[1]:
                if pos_weight is None:
                    grad_target = grad * -input
                else:
                    grad_target = grad * (-input + (pos_weight - 1) * softplus)
                grad_target = unbroadcast(grad_target, target.shape)
            if ctx.needs_input_grad[2]:
                grad_pos_weight = unbroadcast(grad * target * softplus, pos_weight.shape)
        return grad_input, grad_target, grad_pos_weight
