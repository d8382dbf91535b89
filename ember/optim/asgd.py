"""ASGD: SGD with a decaying step size and a running (Polyak) average of the iterates."""
import numpy as np

from ..tensor import Tensor
from .adam import _zeros_like
from .optimizer import (
    Optimizer, _call_closure, _check_non_negative, _check_unsupported, _gradients, _new_step)

__all__ = ["ASGD"]


class ASGD(Optimizer):
    """Averaged SGD with PyTorch's update; ``eta`` and ``mu`` are float32 scalars in the state,
    the average of the iterates is ``state['ax']``."""

    def __init__(self, params, lr=1e-2, lambd=1e-4, alpha=0.75, t0=1e6, weight_decay=0,
                 foreach=None, maximize=False, differentiable=False, capturable=False):
        _check_non_negative(lr=lr, weight_decay=weight_decay)
        _check_unsupported("ASGD", differentiable=differentiable)
        defaults = {"lr": lr, "lambd": lambd, "alpha": alpha, "t0": t0,
                    "weight_decay": weight_decay, "foreach": foreach, "maximize": maximize,
                    "differentiable": differentiable, "capturable": capturable}
        super().__init__(params, defaults)

    def step(self, closure=None):
        """One update of every parameter that has a gradient; returns the closure's loss."""
        loss = _call_closure(closure)
        for group in self.param_groups:
            lr = float(group["lr"])
            lambd = float(group["lambd"])
            alpha = float(group["alpha"])
            t0 = float(group["t0"])
            weight_decay = float(group["weight_decay"])
            for param, data, grad in _gradients(group):
                param_state = self.state[param]
                if len(param_state) == 0:
                    param_state["step"] = _new_step()
                    param_state["eta"] = Tensor._wrap(np.array(lr, dtype=np.float32))
                    param_state["mu"] = Tensor._wrap(np.ones((), dtype=np.float32))
                    param_state["ax"] = _zeros_like(data)
                step_array = param_state["step"]._data
                step_array += 1
                if weight_decay != 0:
                    grad = grad + data * weight_decay
                eta = float(param_state["eta"]._data)
                data *= 1 - lambd * eta
                data -= grad * eta
                average = param_state["ax"]._data
                mu = param_state["mu"]._data
                if float(mu) != 1:
                    difference = data - average
                    difference *= mu
                    average += difference
                else:
                    average[...] = data
                step = float(step_array)
                param_state["eta"]._data[...] = lr / ((1 + lambd * lr * step) ** alpha)
                param_state["mu"]._data[...] = 1 / max(1, step - t0)
                param._bump_version()
        return loss
