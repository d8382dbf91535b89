"""Adadelta: step sizes from running averages of squared gradients and squared updates."""
import numpy as np

from ._foreach import add_scaled_
from .adam import _square_average_, _start_state
from .optimizer import Optimizer, _check_non_negative, _check_unsupported

__all__ = ["Adadelta"]


class Adadelta(Optimizer):
    """Adadelta with PyTorch's update (eps inside both square roots, scaled by ``lr``)."""

    _loaded_group_defaults = {"foreach": None, "maximize": False, "differentiable": False,
                              "capturable": False}

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

    def _init_state(self, state, data, options):
        _start_state(state, data, "square_avg", "acc_delta")

    def _update(self, data, grad, state, options):
        rho = options.rho
        eps = options.eps
        square_avg = state["square_avg"]._data
        acc_delta = state["acc_delta"]._data
        _square_average_(square_avg, grad, rho)
        std = np.add(square_avg, eps, out=np.empty_like(data))
        np.sqrt(std, out=std)
        delta = np.add(acc_delta, eps, out=np.empty_like(data))
        np.sqrt(delta, out=delta)
        delta /= std
        delta *= grad
        _square_average_(acc_delta, delta, rho)
        add_scaled_(data, delta, -options.lr)
