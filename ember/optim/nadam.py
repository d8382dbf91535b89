"""NAdam: Adam with Nesterov momentum and a momentum-decay schedule (Dozat, 2016)."""
import numpy as np

from ..tensor import Tensor
from .adam import _update_moments, _zeros_like
from .optimizer import (
    Optimizer, _check_adam_options, _check_non_negative, _check_unsupported, _new_step)

__all__ = ["NAdam"]


class NAdam(Optimizer):
    """NAdam with PyTorch's update; ``mu_product`` is kept as a float32 scalar like PyTorch's."""

    _loaded_group_defaults = {"maximize": False, "foreach": None, "capturable": False,
                              "differentiable": False, "decoupled_weight_decay": False}

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 momentum_decay=4e-3, decoupled_weight_decay=False, *, foreach=None,
                 maximize=False, capturable=False, differentiable=False):
        _check_adam_options(lr, eps, betas, weight_decay)
        _check_non_negative(momentum_decay=momentum_decay)
        _check_unsupported("NAdam", differentiable=differentiable)
        defaults = {"lr": lr, "betas": tuple(betas), "eps": eps, "weight_decay": weight_decay,
                    "momentum_decay": momentum_decay,
                    "decoupled_weight_decay": decoupled_weight_decay, "maximize": maximize,
                    "foreach": foreach, "capturable": capturable,
                    "differentiable": differentiable}
        super().__init__(params, defaults)

    def _init_state(self, state, data, options):
        state["step"] = _new_step()
        state["mu_product"] = Tensor._wrap(np.ones((), dtype=np.float32))
        state["exp_avg"] = _zeros_like(data)
        state["exp_avg_sq"] = _zeros_like(data)

    def _update(self, data, grad, state, options):
        lr = options.lr
        beta1, beta2 = options.betas
        step = float(state["step"]._data)
        bias_correction2 = 1 - beta2 ** step
        mu = beta1 * (1.0 - 0.5 * (0.96 ** (step * options.momentum_decay)))
        mu_next = beta1 * (1.0 - 0.5 * (0.96 ** ((step + 1) * options.momentum_decay)))
        mu_product_array = state["mu_product"]._data
        mu_product_array *= mu
        mu_product = float(mu_product_array)
        exp_avg, exp_avg_sq = _update_moments(state, grad, beta1, beta2)
        denominator = np.divide(exp_avg_sq, bias_correction2, out=np.empty_like(data))
        np.sqrt(denominator, out=denominator)
        denominator += options.eps
        gradient_step = grad * (-lr * (1.0 - mu) / (1.0 - mu_product))
        gradient_step /= denominator
        data += gradient_step
        momentum_step = exp_avg * ((-lr * mu_next) / (1.0 - mu_product * mu_next))
        momentum_step /= denominator
        data += momentum_step
