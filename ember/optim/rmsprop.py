"""RMSprop with centering, momentum, weight decay and maximize."""
import numpy as np

from ._foreach import add_product_, add_scaled_
from .adam import _lerp_, _square_average_, _start_state, _zeros_like
from .optimizer import Optimizer, _check_non_negative, _check_unsupported

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    """RMSprop with PyTorch's update (eps added after the square root)."""

    _loaded_group_defaults = {"momentum": 0, "centered": False, "foreach": None, "maximize": False,
                              "differentiable": False, "capturable": False}

    _foreach_update = True

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0,
                 centered=False, capturable=False, foreach=None, maximize=False,
                 differentiable=False):
        _check_non_negative(lr=lr, eps=eps, momentum=momentum, weight_decay=weight_decay,
                            alpha=alpha)
        _check_unsupported("RMSprop", differentiable=differentiable)
        defaults = {"lr": lr, "momentum": momentum, "alpha": alpha, "eps": eps,
                    "centered": centered, "weight_decay": weight_decay, "capturable": capturable,
                    "foreach": foreach, "maximize": maximize, "differentiable": differentiable}
        super().__init__(params, defaults)

    def _init_state(self, state, data, options):
        _start_state(state, data, "square_avg")
        if options.momentum > 0:
            state["momentum_buffer"] = _zeros_like(data)
        if options.centered:
            state["grad_avg"] = _zeros_like(data)

    def _update(self, data, grad, state, options):
        alpha = options.alpha
        square_avg = state["square_avg"]._data
        _square_average_(square_avg, grad, alpha)
        if options.centered:
            grad_avg = state["grad_avg"]._data
            _lerp_(grad_avg, grad, 1 - alpha)
            # PyTorch's square_avg.addcmul(grad_avg, grad_avg, value=-1): one rounding
            average = add_product_(square_avg.copy(), -grad_avg, grad_avg)
            np.sqrt(average, out=average)
        else:
            average = np.sqrt(square_avg, out=np.empty_like(data))
        average += options.eps
        if options.momentum > 0:
            buffer = state["momentum_buffer"]._data
            buffer *= options.momentum
            np.divide(grad, average, out=average)
            buffer += average
            add_scaled_(data, buffer, -options.lr)
        else:
            # PyTorch's addcdiv_(grad, avg, value=-lr): (value * grad) / avg
            update = np.multiply(grad, -options.lr, dtype=data.dtype)
            update /= average
            data += update
