"""Adamax: Adam with the infinity norm of past gradients in the denominator."""
import numpy as np

from .adam import _lerp_, _start_state
from .optimizer import Optimizer, _check_adam_options, _check_unsupported

__all__ = ["Adamax"]


class Adamax(Optimizer):
    """Adamax with PyTorch's update: ``exp_inf = max(beta2 * exp_inf, |grad| + eps)``."""

    _loaded_group_defaults = {"foreach": None, "maximize": False, "differentiable": False,
                              "capturable": False}

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 foreach=None, *, maximize=False, differentiable=False, capturable=False):
        _check_adam_options(lr, eps, betas, weight_decay)
        _check_unsupported("Adamax", differentiable=differentiable)
        defaults = {"lr": lr, "betas": tuple(betas), "eps": eps, "weight_decay": weight_decay,
                    "foreach": foreach, "maximize": maximize, "differentiable": differentiable,
                    "capturable": capturable}
        super().__init__(params, defaults)

    def _init_state(self, state, data, options):
        _start_state(state, data, "exp_avg", "exp_inf")

    def _update(self, data, grad, state, options):
        beta1, beta2 = options.betas
        exp_avg = state["exp_avg"]._data
        exp_inf = state["exp_inf"]._data
        _lerp_(exp_avg, grad, 1 - beta1)
        exp_inf *= beta2
        magnitude = np.abs(grad)
        magnitude += options.eps
        np.maximum(exp_inf, magnitude, out=exp_inf)
        step_size = options.lr / (1 - beta1 ** float(state["step"]._data))
        update = exp_avg * -step_size
        update /= exp_inf
        data += update
