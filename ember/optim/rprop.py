"""Rprop: per-element step sizes grown or shrunk by the sign agreement of successive gradients."""
import numpy as np

from ..tensor import Tensor
from .adam import _start_state
from .optimizer import Optimizer, _check_non_negative, _check_unsupported

__all__ = ["Rprop"]


class Rprop(Optimizer):
    """Rprop with PyTorch's update: after a sign change the gradient is zeroed for that step."""

    _loaded_group_defaults = {"foreach": None, "maximize": False, "differentiable": False,
                              "capturable": False}

    # Rprop has no weight decay: a 'weight_decay' key in a param group is ignored, as in PyTorch.
    _step_applies_weight_decay = False

    def __init__(self, params, lr=1e-2, etas=(0.5, 1.2), step_sizes=(1e-6, 50), *,
                 capturable=False, foreach=None, maximize=False, differentiable=False):
        _check_non_negative(lr=lr)
        if not 0.0 < etas[0] < 1.0 < etas[1]:
            raise ValueError(f"Invalid eta values: {etas[0]}, {etas[1]}")
        _check_unsupported("Rprop", differentiable=differentiable)
        defaults = {"lr": lr, "etas": tuple(etas), "step_sizes": tuple(step_sizes),
                    "foreach": foreach, "maximize": maximize, "differentiable": differentiable,
                    "capturable": capturable}
        super().__init__(params, defaults)

    def _init_state(self, state, data, options):
        _start_state(state, data, "prev")
        state["step_size"] = Tensor._wrap(np.full_like(data, options.lr))

    def _update(self, data, grad, state, options):
        eta_minus, eta_plus = options.etas
        step_size_min, step_size_max = options.step_sizes
        prev = state["prev"]._data
        step_size = state["step_size"]._data
        agreement = np.sign(grad * prev)
        factor = np.where(agreement > 0, eta_plus,
                          np.where(agreement < 0, eta_minus, 1.0)).astype(data.dtype)
        step_size *= factor
        np.clip(step_size, step_size_min, step_size_max, out=step_size)
        grad = np.where(factor == np.asarray(eta_minus, data.dtype), 0, grad).astype(
            data.dtype, copy=False)
        data -= np.sign(grad) * step_size
        prev[...] = grad
