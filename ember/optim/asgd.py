"""ASGD: SGD with a decaying step size and a running (Polyak) average of the iterates."""
import numpy as np

from ..tensor import Tensor
from ._foreach import add_scaled_
from .adam import _zeros_like
from .optimizer import Optimizer, _check_non_negative, _check_unsupported, _new_step

__all__ = ["ASGD"]


class ASGD(Optimizer):
    """Averaged SGD with PyTorch's update; ``eta`` and ``mu`` are float32 scalars in the state,
    the average of the iterates is ``state['ax']``."""

    _loaded_group_defaults = {"foreach": None, "maximize": False, "differentiable": False,
                              "capturable": False}

    def __init__(self, params, lr=1e-2, lambd=1e-4, alpha=0.75, t0=1e6, weight_decay=0,
                 foreach=None, maximize=False, differentiable=False, capturable=False):
        _check_non_negative(lr=lr, weight_decay=weight_decay)
        _check_unsupported("ASGD", differentiable=differentiable)
        defaults = {"lr": lr, "lambd": lambd, "alpha": alpha, "t0": t0,
                    "weight_decay": weight_decay, "foreach": foreach, "maximize": maximize,
                    "differentiable": differentiable, "capturable": capturable}
        super().__init__(params, defaults)

    def _init_state(self, state, data, options):
        state["step"] = _new_step()
        state["eta"] = Tensor._wrap(np.array(options.lr, dtype=np.float32))
        state["mu"] = Tensor._wrap(np.ones((), dtype=np.float32))
        state["ax"] = _zeros_like(data)

    def _update(self, data, grad, state, options):
        lr = options.lr
        lambd = options.lambd
        eta = float(state["eta"]._data)
        data *= 1 - lambd * eta
        add_scaled_(data, grad, -eta)  # PyTorch's add_(grad, alpha=-eta): one rounding
        average = state["ax"]._data
        mu = state["mu"]._data
        if float(mu) != 1:
            difference = data - average
            difference *= mu
            average += difference
        else:
            average[...] = data
        step = float(state["step"]._data)
        state["eta"]._data[...] = lr / ((1 + lambd * lr * step) ** options.alpha)
        state["mu"]._data[...] = 1 / max(1, step - options.t0)
