"""Adafactor (Shazeer and Stern, 2018) as PyTorch 2.5+ implements it: the second moment of a
matrix gradient kept as row and column means of its square (factored over the last two dims),
a relative step size, and the update's RMS clipped to ``d``."""
import math

import numpy as np

from ..tensor import Tensor
from .optimizer import Optimizer, _new_step

__all__ = ["Adafactor"]


class Adafactor(Optimizer):
    """Adafactor with PyTorch's update and state (``step``, then ``row_var`` and ``col_var`` for
    a parameter of two or more dims, ``variance`` for a vector)."""

    _step_applies_weight_decay = False

    def __init__(self, params, lr=1e-2, beta2_decay=-0.8, eps=(None, 1e-3), d=1.0,
                 weight_decay=0.0, *, foreach=None, maximize=False):
        if isinstance(lr, Tensor) and lr.numel() != 1:
            raise ValueError("Tensor lr must be 1-element")
        if not 0.0 <= lr:
            raise ValueError(f"Learning rate should be >= 0 but is: {lr}")
        if not 0.0 >= beta2_decay:
            raise ValueError(f"beta2_decay should be <= 0 but is: {beta2_decay}")
        if eps[0] is not None and not 0.0 <= eps[0]:
            raise ValueError(f"epsilon1 should be >= 0 but is: {eps[0]}")
        if not 0.0 <= eps[1]:
            raise ValueError(f"epsilon2 should be >= 0 but is: {eps[1]}")
        if not 1.0 <= d:
            raise ValueError(f"Clipping threshold d should be >= 1 but is: {d}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"weight_decay should be >= 0 but is: {weight_decay}")
        defaults = {"lr": lr, "beta2_decay": beta2_decay, "eps": eps, "d": d,
                    "weight_decay": weight_decay, "foreach": foreach, "maximize": maximize}
        super().__init__(params, defaults)

    def _init_state(self, state, data, options):
        state["step"] = _new_step()
        if data.ndim > 1:
            for key in ("row_var", "col_var"):
                state[key] = Tensor._wrap(np.zeros(self._state_shape(key, data.shape),
                                                   data.dtype))
        else:
            state["variance"] = Tensor._wrap(np.zeros_like(data))

    @staticmethod
    def _state_shape(key, param_shape):
        if key == "row_var":
            return param_shape[:-1] + (1,)
        if key == "col_var":
            return param_shape[:-2] + (1,) + param_shape[-1:]
        return param_shape

    def _update(self, data, grad, state, options):
        dtype = data.dtype
        first_epsilon, second_epsilon = options.eps
        if first_epsilon is None:
            first_epsilon = float(np.finfo(dtype).eps)
        step = float(state["step"]._data)
        one_minus_beta2 = step ** options.beta2_decay
        relative_step = min(options.lr, 1 / step ** 0.5)
        alpha = max(second_epsilon, _norm(data) / data.size ** 0.5) * relative_step
        if options.weight_decay != 0:
            data *= 1 - options.lr * options.weight_decay
        if grad.ndim > 1:
            row_var = state["row_var"]._data
            col_var = state["col_var"]._data
            row_mean = _squared_norm(grad, -1) / dtype.type(grad.shape[-1])
            _lerp_into(row_var, row_mean, one_minus_beta2)
            col_mean = _squared_norm(grad, -2) / dtype.type(grad.shape[-2])
            _lerp_into(col_var, col_mean, one_minus_beta2)
            estimate = row_var @ col_var
            estimate /= np.maximum(row_var.mean(axis=-2, keepdims=True), dtype.type(first_epsilon))
        else:
            variance = state["variance"]._data
            _lerp_into(variance, grad * grad, one_minus_beta2)
            estimate = variance.copy()
        np.maximum(estimate, dtype.type(first_epsilon * first_epsilon), out=estimate)
        update = 1 / np.sqrt(estimate)
        update *= grad
        denominator = max(1.0, _norm(update) / (math.sqrt(update.size) * options.d))
        data += update * dtype.type(-alpha / denominator)


def _norm(array):
    """The 2-norm of all elements, in the array's dtype (summed in float64, rounded once), as a
    Python float (PyTorch's ``norm(2).item()``)."""
    wide = array.astype(np.float64)
    return float(array.dtype.type(np.sqrt(np.sum(wide * wide))))


def _squared_norm(array, axis):
    """The square of the 2-norm along ``axis`` (kept), in the array's dtype: PyTorch's
    ``norm(dim=axis, keepdim=True).square_()``."""
    wide = array.astype(np.float64)
    norm = np.sqrt(np.sum(wide * wide, axis=axis, keepdims=True)).astype(array.dtype)
    return norm * norm


def _lerp_into(target, end, weight):
    """``target.lerp_(end, weight)`` with PyTorch's two-sided formula (exact at 0 and 1)."""
    if weight < 0.5:
        target += (end - target) * target.dtype.type(weight)
    else:
        target[...] = end - (end - target) * target.dtype.type(1 - weight)
