"""RAdam: Adam whose adaptive step is switched on once its variance is tractable."""
import numpy as np

from .adam import _lerp_, _zeros_like
from .optimizer import (
    Optimizer, _call_closure, _check_betas, _check_non_negative, _check_unsupported, _gradients,
    _new_step)

__all__ = ["RAdam"]


class RAdam(Optimizer):
    """Rectified Adam with PyTorch's update: plain momentum SGD while ``rho_t <= 5``."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 decoupled_weight_decay=False, *, foreach=None, maximize=False,
                 capturable=False, differentiable=False):
        _check_non_negative(lr=lr, eps=eps)
        _check_betas(betas)
        _check_non_negative(weight_decay=weight_decay)
        _check_unsupported("RAdam", differentiable=differentiable)
        defaults = {"lr": lr, "betas": tuple(betas), "eps": eps, "weight_decay": weight_decay,
                    "maximize": maximize, "foreach": foreach, "capturable": capturable,
                    "decoupled_weight_decay": decoupled_weight_decay,
                    "differentiable": differentiable}
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
                    param_state["exp_avg_sq"] = _zeros_like(data)
                step_array = param_state["step"]._data
                step_array += 1
                step = float(step_array)
                if weight_decay != 0:
                    if group["decoupled_weight_decay"]:
                        data *= 1 - lr * weight_decay
                    else:
                        grad = grad + data * weight_decay
                exp_avg = param_state["exp_avg"]._data
                exp_avg_sq = param_state["exp_avg_sq"]._data
                _lerp_(exp_avg, grad, 1 - beta1)
                exp_avg_sq *= beta2
                squared = grad * (1 - beta2)
                squared *= grad
                exp_avg_sq += squared
                bias_correction1 = 1 - beta1 ** step
                bias_correction2 = 1 - beta2 ** step
                update = exp_avg / bias_correction1
                update *= lr
                # Length of the approximated simple moving average (Liu et al., 2019, eq. 7).
                rho_inf = 2 / (1 - beta2) - 1
                rho_t = rho_inf - 2 * step * (beta2 ** step) / bias_correction2
                if rho_t > 5.0:
                    root = np.sqrt(exp_avg_sq)
                    root += eps
                    adaptive_lr = np.divide(bias_correction2 ** 0.5, root, dtype=data.dtype)
                    rectification = ((rho_t - 4) * (rho_t - 2) * rho_inf
                                     / ((rho_inf - 4) * (rho_inf - 2) * rho_t)) ** 0.5
                    update *= adaptive_lr
                    update *= rectification
                data -= update
                param._bump_version()
        return loss
