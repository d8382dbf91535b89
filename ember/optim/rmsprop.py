"""RMSprop with centering, momentum, weight decay and maximize."""
import numpy as np

from ..tensor import Tensor
from .adam import _lerp_
from .optimizer import (
    Optimizer, _call_closure, _check_non_negative, _check_unsupported, _gradients, _new_step)

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    """RMSprop with PyTorch's update (eps added after the square root)."""

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0,
                 centered=False, capturable=False, foreach=None, maximize=False,
                 differentiable=False):
        _check_non_negative(lr=lr, eps=eps, momentum=momentum, weight_decay=weight_decay, alpha=alpha)
        _check_unsupported("RMSprop", differentiable=differentiable)
        defaults = {"lr": lr, "momentum": momentum, "alpha": alpha, "eps": eps,
                    "centered": centered, "weight_decay": weight_decay, "capturable": capturable,
                    "foreach": foreach, "maximize": maximize, "differentiable": differentiable}
        super().__init__(params, defaults)

    def step(self, closure=None):
        """One update of every parameter that has a gradient; returns the closure's loss."""
        loss = _call_closure(closure)
        state = self.state
        for group in self.param_groups:
            lr = float(group["lr"])
            alpha = float(group["alpha"])
            eps = float(group["eps"])
            weight_decay = float(group["weight_decay"])
            momentum = float(group["momentum"])
            centered = group["centered"]
            for param, data, grad in _gradients(group):
                param_state = state[param]
                if len(param_state) == 0:
                    param_state["step"] = _new_step()
                    param_state["square_avg"] = Tensor._wrap(np.zeros_like(data))
                    if momentum > 0:
                        param_state["momentum_buffer"] = Tensor._wrap(np.zeros_like(data))
                    if centered:
                        param_state["grad_avg"] = Tensor._wrap(np.zeros_like(data))
                param_state["step"]._data += 1
                if weight_decay != 0:
                    grad = grad + data * weight_decay
                square_avg = param_state["square_avg"]._data
                square_avg *= alpha
                squared = grad * (1 - alpha)
                squared *= grad
                square_avg += squared
                if centered:
                    grad_avg = param_state["grad_avg"]._data
                    _lerp_(grad_avg, grad, 1 - alpha)
                    average = np.multiply(grad_avg, grad_avg, out=np.empty_like(data))
                    np.subtract(square_avg, average, out=average)
                    np.sqrt(average, out=average)
                else:
                    average = np.sqrt(square_avg, out=np.empty_like(data))
                average += eps
                if momentum > 0:
                    buffer = param_state["momentum_buffer"]._data
                    buffer *= momentum
                    np.divide(grad, average, out=average)
                    buffer += average
                    data -= buffer * lr
                else:
                    np.divide(grad, average, out=average)
                    average *= -lr
                    data += average
                param._bump_version()
        return loss
