"""Adam and AdamW (decoupled weight decay), with amsgrad and maximize."""
import numpy as np

from .optimizer import (
    Optimizer, _call_closure, _check_betas, _check_non_negative, _check_unsupported, _gradients,
    _new_step)

__all__ = ["Adam", "AdamW"]


class Adam(Optimizer):
    """Adam with PyTorch's update: bias corrections go into the step size and the denominator."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 amsgrad=False, *, foreach=None, maximize=False, capturable=False,
                 differentiable=False, fused=None, decoupled_weight_decay=False):
        _check_non_negative(lr=lr, eps=eps)
        _check_betas(betas)
        _check_non_negative(weight_decay=weight_decay)
        _check_unsupported(type(self).__name__, differentiable=differentiable, fused=fused)
        defaults = {"lr": lr, "betas": tuple(betas), "eps": eps, "weight_decay": weight_decay,
                    "amsgrad": amsgrad, "maximize": maximize, "foreach": foreach,
                    "capturable": capturable, "differentiable": differentiable, "fused": fused,
                    "decoupled_weight_decay": decoupled_weight_decay}
        super().__init__(params, defaults)

    def step(self, closure=None):
        """One update of every parameter that has a gradient; returns the closure's loss."""
        loss = _call_closure(closure)
        state = self.state
        for group in self.param_groups:
            lr = float(group["lr"])
            beta1 = float(group["betas"][0])
            beta2 = float(group["betas"][1])
            eps = float(group["eps"])
            weight_decay = float(group["weight_decay"])
            amsgrad = group["amsgrad"]
            decoupled = group.get("decoupled_weight_decay", False)
            for param, data, grad in _gradients(group):
                param_state = state[param]
                if len(param_state) == 0:
                    param_state["step"] = _new_step()
                    param_state["exp_avg"] = _zeros_like(data)
                    param_state["exp_avg_sq"] = _zeros_like(data)
                    if amsgrad:
                        param_state["max_exp_avg_sq"] = _zeros_like(data)
                step_array = param_state["step"]._data
                step_array += 1
                if weight_decay != 0:
                    if decoupled:
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
                step = float(step_array)
                bias_correction1 = 1 - beta1 ** step
                bias_correction2 = 1 - beta2 ** step
                step_size = lr / bias_correction1
                bias_correction2_sqrt = bias_correction2 ** 0.5
                if amsgrad:
                    max_exp_avg_sq = param_state["max_exp_avg_sq"]._data
                    np.maximum(max_exp_avg_sq, exp_avg_sq, out=max_exp_avg_sq)
                    denominator = np.sqrt(max_exp_avg_sq, out=np.empty_like(data))
                else:
                    denominator = np.sqrt(exp_avg_sq, out=np.empty_like(data))
                denominator /= bias_correction2_sqrt
                denominator += eps
                np.divide(exp_avg, denominator, out=denominator)
                denominator *= -step_size
                data += denominator
                param._bump_version()
        return loss


class AdamW(Adam):
    """Adam with decoupled weight decay: ``param *= 1 - lr * weight_decay`` before the Adam step."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2,
                 amsgrad=False, *, maximize=False, foreach=None, capturable=False,
                 differentiable=False, fused=None):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, foreach=foreach,
                         maximize=maximize, capturable=capturable, differentiable=differentiable,
                         fused=fused, decoupled_weight_decay=True)


def _zeros_like(array):
    from ..tensor import Tensor
    return Tensor._wrap(np.zeros_like(array))


def _lerp_(start, end, weight):
    """``start += weight * (end - start)`` in place, rounded like PyTorch's lerp kernel."""
    difference = end - start
    if weight < 0.5:
        difference *= weight
        start += difference
    else:
        difference *= 1 - weight
        np.subtract(end, difference, out=start)
