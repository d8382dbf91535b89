"""NAdam: Adam with Nesterov momentum and a momentum-decay schedule (Dozat, 2016)."""
import numpy as np

from ..tensor import Tensor
from .adam import _lerp_, _zeros_like
from .optimizer import (
    Optimizer, _call_closure, _check_betas, _check_non_negative, _check_unsupported, _gradients,
    _new_step)

__all__ = ["NAdam"]


class NAdam(Optimizer):
    """NAdam with PyTorch's update; ``mu_product`` is kept as a float32 scalar like PyTorch's."""

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 momentum_decay=4e-3, decoupled_weight_decay=False, *, foreach=None,
                 maximize=False, capturable=False, differentiable=False):
        _check_non_negative(lr=lr, eps=eps)
        _check_betas(betas)
        _check_non_negative(weight_decay=weight_decay, momentum_decay=momentum_decay)
        _check_unsupported("NAdam", differentiable=differentiable)
        defaults = {"lr": lr, "betas": tuple(betas), "eps": eps, "weight_decay": weight_decay,
                    "momentum_decay": momentum_decay,
                    "decoupled_weight_decay": decoupled_weight_decay, "maximize": maximize,
                    "foreach": foreach, "capturable": capturable,
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
            momentum_decay = float(group["momentum_decay"])
            for param, data, grad in _gradients(group):
                param_state = self.state[param]
                if len(param_state) == 0:
                    param_state["step"] = _new_step()
                    param_state["mu_product"] = Tensor._wrap(np.ones((), dtype=np.float32))
                    param_state["exp_avg"] = _zeros_like(data)
                    param_state["exp_avg_sq"] = _zeros_like(data)
                step_array = param_state["step"]._data
                step_array += 1
                step = float(step_array)
                bias_correction2 = 1 - beta2 ** step
                if weight_decay != 0:
                    if group["decoupled_weight_decay"]:
                        data *= 1 - lr * weight_decay
                    else:
                        grad = grad + data * weight_decay
                mu = beta1 * (1.0 - 0.5 * (0.96 ** (step * momentum_decay)))
                mu_next = beta1 * (1.0 - 0.5 * (0.96 ** ((step + 1) * momentum_decay)))
                mu_product_array = param_state["mu_product"]._data
                mu_product_array *= mu
                mu_product = float(mu_product_array)
                exp_avg = param_state["exp_avg"]._data
                exp_avg_sq = param_state["exp_avg_sq"]._data
                _lerp_(exp_avg, grad, 1 - beta1)
                exp_avg_sq *= beta2
                squared = grad * (1 - beta2)
                squared *= grad
                exp_avg_sq += squared
                denominator = np.divide(exp_avg_sq, bias_correction2, out=np.empty_like(data))
                np.sqrt(denominator, out=denominator)
                denominator += eps
                gradient_step = grad * (-lr * (1.0 - mu) / (1.0 - mu_product))
                gradient_step /= denominator
                data += gradient_step
                momentum_step = exp_avg * ((-lr * mu_next) / (1.0 - mu_product * mu_next))
                momentum_step /= denominator
                data += momentum_step
                param._bump_version()
        return loss
