"""RAdam: Adam whose adaptive step is switched on once its variance is tractable."""
import numpy as np

from .adam import _bias_corrections, _start_state, _update_moments
from .optimizer import Optimizer, _check_adam_options, _check_unsupported

__all__ = ["RAdam"]


class RAdam(Optimizer):
    """Rectified Adam with PyTorch's update: plain momentum SGD while ``rho_t <= 5``."""

    _loaded_group_defaults = {"foreach": None, "maximize": False, "differentiable": False,
                              "decoupled_weight_decay": False, "capturable": False}

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 decoupled_weight_decay=False, *, foreach=None, maximize=False,
                 capturable=False, differentiable=False):
        _check_adam_options(lr, eps, betas, weight_decay)
        _check_unsupported("RAdam", differentiable=differentiable)
        defaults = {"lr": lr, "betas": tuple(betas), "eps": eps, "weight_decay": weight_decay,
                    "maximize": maximize, "foreach": foreach, "capturable": capturable,
                    "decoupled_weight_decay": decoupled_weight_decay,
                    "differentiable": differentiable}
        super().__init__(params, defaults)

    def _init_state(self, state, data, options):
        _start_state(state, data, "exp_avg", "exp_avg_sq")

    def _update(self, data, grad, state, options):
        beta1, beta2 = options.betas
        exp_avg, exp_avg_sq = _update_moments(state, grad, beta1, beta2)
        step, bias_correction1, bias_correction2 = _bias_corrections(state, beta1, beta2)
        update = exp_avg / bias_correction1
        update *= options.lr
        # Length of the approximated simple moving average (Liu et al., 2019, eq. 7).
        rho_inf = 2 / (1 - beta2) - 1
        rho_t = rho_inf - 2 * step * (beta2 ** step) / bias_correction2
        if rho_t > 5.0:
            root = np.sqrt(exp_avg_sq)
            root += options.eps
            adaptive_lr = np.divide(bias_correction2 ** 0.5, root, dtype=data.dtype)
            rectification = ((rho_t - 4) * (rho_t - 2) * rho_inf
                             / ((rho_inf - 4) * (rho_inf - 2) * rho_t)) ** 0.5
            update *= adaptive_lr
            update *= rectification
        data -= update
