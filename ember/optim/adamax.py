"""Adamax: Adam with the infinity norm of past gradients in the denominator."""
import numpy as np

from .adam import _lerp_, _zeros_like
from .optimizer import (
    Optimizer, _call_closure, _check_betas, _check_non_negative, _check_unsupported, _gradients,
    _new_step)

__all__ = ["Adamax"]


class Adamax(Optimizer):
    """Adamax with PyTorch's update: ``exp_inf = max(beta2 * exp_inf, |grad| + eps)``."""

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 foreach=None, *, maximize=False, differentiable=False, capturable=False):
        _check_non_negative(lr=lr, eps=eps)
        _check_betas(betas)
        _check_non_negative(weight_decay=weight_decay)
        _check_unsupported("Adamax", differentiable=differentiable)
        defaults = {"lr": lr, "betas": tuple(betas), "eps": eps, "weight_decay": weight_decay,
                    "foreach": foreach, "maximize": maximize, "differentiable": differentiable,
                    "capturable": capturable}
        super().__init__(params, defaults)

    def step(self, closure=None):
        """One update of every parameter that has a gradient; returns the closure's loss."""
        loss = _call_closure(closure)
        for group in self.param_groups:
            lr = float(group["lr"])
            beta1 = float(group["betas"][0])
            beta2 = float(group["betas"][1])
            eps = float(group["eps"])
            weight_decay = float(group["weight_decay"])
            for param, data, grad in _gradients(group):
                param_state = self.state[param]
                if len(param_state) == 0:
                    param_state["step"] = _new_step()
                    param_state["exp_avg"] = _zeros_like(data)
                    param_state["exp_inf"] = _zeros_like(data)
                step_array = param_state["step"]._data
                step_array += 1
                if weight_decay != 0:
                    grad = grad + data * weight_decay
                exp_avg = param_state["exp_avg"]._data
                exp_inf = param_state["exp_inf"]._data
                _lerp_(exp_avg, grad, 1 - beta1)
                exp_inf *= beta2
                magnitude = np.abs(grad)
                magnitude += eps
                np.maximum(exp_inf, magnitude, out=exp_inf)
                step_size = lr / (1 - beta1 ** float(step_array))
                update = exp_avg * -step_size
                update /= exp_inf
                data += update
                param._bump_version()
        return loss
