"""Adadelta: step sizes from running averages of squared gradients and squared updates."""
import numpy as np

from .adam import _zeros_like
from .optimizer import (
    Optimizer, _call_closure, _check_non_negative, _check_unsupported, _gradients, _new_step)

__all__ = ["Adadelta"]


class Adadelta(Optimizer):
    """Adadelta with PyTorch's update (eps inside both square roots, scaled by ``lr``)."""

    def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, foreach=None, *,
                 capturable=False, maximize=False, differentiable=False):
        _check_non_negative(lr=lr)
        if not 0.0 <= rho <= 1.0:
            raise ValueError(f"Invalid rho value: {rho}")
        _check_non_negative(eps=eps, weight_decay=weight_decay)
        _check_unsupported("Adadelta", differentiable=differentiable)
        defaults = {"lr": lr, "rho": rho, "eps": eps, "weight_decay": weight_decay,
                    "maximize": maximize, "capturable": capturable, "foreach": foreach,
                    "differentiable": differentiable}
        super().__init__(params, defaults)

    def step(self, closure=None):
        """One update of every parameter that has a gradient; returns the closure's loss."""
        loss = _call_closure(closure)
        for group in self.param_groups:
            lr = float(group["lr"])
            rho = float(group["rho"])
            eps = float(group["eps"])
            weight_decay = float(group["weight_decay"])
            for param, data, grad in _gradients(group):
                param_state = self.state[param]
                if len(param_state) == 0:
                    param_state["step"] = _new_step()
                    param_state["square_avg"] = _zeros_like(data)
                    param_state["acc_delta"] = _zeros_like(data)
                param_state["step"]._data += 1
                if weight_decay != 0:
                    grad = grad + data * weight_decay
                square_avg = param_state["square_avg"]._data
                acc_delta = param_state["acc_delta"]._data
                square_avg *= rho
                squared = grad * (1 - rho)
                squared *= grad
                square_avg += squared
                std = np.add(square_avg, eps, out=np.empty_like(data))
                np.sqrt(std, out=std)
                delta = np.add(acc_delta, eps, out=np.empty_like(data))
                np.sqrt(delta, out=delta)
                delta /= std
                delta *= grad
                acc_delta *= rho
                squared = delta * (1 - rho)
                squared *= delta
                acc_delta += squared
                delta *= -lr
                data += delta
                param._bump_version()
        return loss
